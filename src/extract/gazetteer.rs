//! Names from the pipeline's gazetteers (models, makes, colours, features, dealers) found in
//! text, however people spell them: "CR-V", "cr v", "RAV4", "荣放".

use aho_corasick::{AhoCorasick, MatchKind};

use crate::config::{ConfigError, Origin};

/// Lowercase, with hyphens, dots and underscores as spaces and runs of spaces collapsed, so
/// that "CR-V", "cr v" and "Cr V" compare equal.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().flat_map(char::to_lowercase) {
        let c = if matches!(c, '-' | '_' | '.' | '·' | '–') || c.is_whitespace() {
            ' '
        } else {
            c
        };
        if c == ' ' && (out.is_empty() || out.ends_with(' ')) {
            continue;
        }
        out.push(c);
    }
    if out.ends_with(' ') {
        out.pop();
    }
    out
}

/// `fold` applied to running text, keeping where each folded byte came from.
struct Folded {
    text: String,
    /// For each byte of `text`, the byte offset in the original.
    origin: Vec<usize>,
}

fn fold_with_offsets(s: &str) -> Folded {
    let mut text = String::with_capacity(s.len());
    let mut origin = Vec::with_capacity(s.len());
    for (i, ch) in s.char_indices() {
        for c in ch.to_lowercase() {
            let c = if matches!(c, '-' | '_' | '.' | '·' | '–') || c.is_whitespace() {
                ' '
            } else {
                c
            };
            if c == ' ' && text.ends_with(' ') {
                continue;
            }
            let before = text.len();
            text.push(c);
            origin.extend(std::iter::repeat_n(i, text.len() - before));
        }
    }
    origin.push(s.len());
    Folded { text, origin }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    /// Index of the entry in the list the gazetteer was built from.
    pub entry: usize,
    /// Byte range in the original text.
    pub start: usize,
    pub end: usize,
}

pub struct Gazetteer {
    matcher: Option<AhoCorasick>,
    /// For each pattern, the entry it names.
    entry_of: Vec<usize>,
}

impl Gazetteer {
    /// `entries` yields each entry's aliases; an alias may appear under one entry only.
    pub fn build<'a>(
        entries: impl IntoIterator<Item = (Vec<&'a str>, &'a Origin)>,
    ) -> Result<Self, ConfigError> {
        let mut patterns: Vec<String> = Vec::new();
        let mut entry_of = Vec::new();
        let mut seen: std::collections::HashMap<String, (usize, Origin)> =
            std::collections::HashMap::new();
        for (i, (aliases, origin)) in entries.into_iter().enumerate() {
            for alias in aliases {
                let folded = fold(alias);
                if folded.is_empty() {
                    continue;
                }
                if let Some((other, first)) = seen.get(&folded) {
                    if *other != i {
                        return Err(ConfigError::Invalid {
                            origin: origin.clone(),
                            reason: format!(
                                "alias `{alias}` already names another entry ({first})"
                            ),
                        });
                    }
                    continue;
                }
                seen.insert(folded.clone(), (i, origin.clone()));
                patterns.push(folded);
                entry_of.push(i);
            }
        }
        let matcher = if patterns.is_empty() {
            None
        } else {
            Some(
                AhoCorasick::builder()
                    .match_kind(MatchKind::LeftmostLongest)
                    .build(&patterns)
                    .map_err(|e| ConfigError::Invalid {
                        origin: Origin::default(),
                        reason: format!("gazetteer: {e}"),
                    })?,
            )
        };
        Ok(Gazetteer { matcher, entry_of })
    }

    /// Whole-word mentions (a Latin alias inside a longer word does not count).
    pub fn find(&self, text: &str) -> Vec<Hit> {
        let Some(matcher) = &self.matcher else {
            return Vec::new();
        };
        let folded = fold_with_offsets(text);
        let bytes = folded.text.as_bytes();
        let word = |b: u8| b.is_ascii_alphanumeric();
        matcher
            .find_iter(&folded.text)
            .filter(|m| {
                let first = bytes[m.start()];
                let last = bytes[m.end() - 1];
                let left_ok = m.start() == 0 || !word(first) || !word(bytes[m.start() - 1]);
                let right_ok = m.end() == bytes.len()
                    || !word(last)
                    || !word(bytes[m.end()])
                    || plural_s(bytes, m.end());
                left_ok && right_ok
            })
            .map(|m| Hit {
                entry: self.entry_of[m.pattern().as_usize()],
                start: folded.origin[m.start()],
                end: folded.origin[m.end()],
            })
            .collect()
    }
}

/// "Camrys", "RAV4s": a plural s ends the word too.
fn plural_s(bytes: &[u8], end: usize) -> bool {
    bytes[end] == b's' && (end + 1 == bytes.len() || !bytes[end + 1].is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_spelling_variants_and_whole_words() {
        let o = Origin::default();
        let g = Gazetteer::build(vec![
            (vec!["CR-V", "crv"], &o),
            (vec!["rav4", "rav 4", "荣放"], &o),
            (vec!["ram"], &o),
        ])
        .unwrap();
        let hits = g.find("Is the cr v or the RAV-4 better? 荣放呢? I'm cramped.");
        assert_eq!(
            hits.iter().map(|h| h.entry).collect::<Vec<_>>(),
            vec![0, 1, 1]
        );
        let text = "Is the cr v or the RAV-4 better?";
        assert_eq!(&text[hits[0].start..hits[0].end], "cr v");
        assert!(g.find("a cramped cabin").is_empty());
        assert_eq!(g.find("two Camrys and a crvs").len(), 1);
    }

    #[test]
    fn duplicate_alias_is_an_error() {
        let o = Origin::default();
        assert!(Gazetteer::build(vec![(vec!["golf"], &o), (vec!["Golf"], &o)]).is_err());
    }
}
