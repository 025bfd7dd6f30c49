//! A language's compiled word lists: negation scope, yes/no answers, clause breaks.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use regex::Regex;

use crate::config::{ConfigError, LanguageLexicon, Origin, PipelineConfig};
use crate::conversation::Language;

/// An apostrophe in a pattern also matches the typographic one that editors and speech
/// recognisers write ("don’t"), and in n't, 's, 'm and 've it may be missing, as typed chats and
/// some transcripts drop it ("cant", "thats", "im", "ive"); not in 'll, 're and 'd, whose
/// spellings without it are words of their own ("well", "were", "id"). Word boundaries are ASCII
/// ones: Unicode `\b` would push every pattern off the fast DFA engines (measured: 6× slower on a
/// 900-turn visit), and ASCII is all an English word boundary needs; next to Chinese characters
/// it still marks a boundary.
pub fn source(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut chars = pattern.chars().peekable();
    let mut previous = None;
    while let Some(c) = chars.next() {
        if c == '\'' {
            let droppable = match chars.peek() {
                Some('t') => previous == Some('n'),
                Some('s' | 'm' | 'v') => true,
                _ => false,
            };
            out.push_str(if droppable { "['’]?" } else { "['’]" });
        } else {
            out.push(c);
        }
        previous = Some(c);
    }
    out.replace("\\b", "(?-u:\\b)")
}

/// Joins a list of regexes into one case-insensitive alternation; `None` for an empty list.
pub fn compile_any(patterns: &[String], origin: &Origin) -> Result<Option<Regex>, ConfigError> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let patterns: Vec<String> = patterns.iter().map(|p| source(p)).collect();
    let joined = format!("(?i)(?:{})", patterns.join(")|(?:"));
    // Compiling is most of a pipeline's load time: the patterns are compiled one at a time only
    // to name the bad one when the joined one fails.
    Regex::new(&joined).map(Some).map_err(|joined_error| {
        let reason = patterns
            .iter()
            .find_map(|p| {
                Regex::new(p)
                    .err()
                    .map(|e| format!("bad pattern `{p}`: {e}"))
            })
            .unwrap_or_else(|| format!("patterns do not combine: {joined_error}"));
        ConfigError::Invalid {
            origin: origin.clone(),
            reason,
        }
    })
}

/// [`compile_any`] with each pattern anchored at the end of the text it is matched against: for
/// words that must come right before something ("my " before a model, "anything but" before a
/// clause break).
pub fn compile_any_at_end(
    patterns: &[String],
    origin: &Origin,
) -> Result<Option<Regex>, ConfigError> {
    let anchored: Vec<String> = patterns.iter().map(|p| format!("(?:{p})$")).collect();
    compile_any(&anchored, origin)
}

/// `text` with every match of `re` turned into as many spaces as it had characters, so that
/// character windows around what is left still line up.
pub fn blank(re: &Option<Regex>, text: &str) -> String {
    match re {
        Some(r) => r
            .replace_all(text, |c: &regex::Captures| " ".repeat(c[0].chars().count()))
            .into_owned(),
        None => text.to_string(),
    }
}

/// Replaces `{name}` with `(?:alternation)` for each named word group (groups may use groups):
/// one list of kin words serves every role pattern instead of a copy in each. A `{name}` left
/// over names no group and is an error (`\p{Han}` and `{2,4}` are regex syntax, not names).
pub fn expand_each(
    patterns: &[String],
    words: &BTreeMap<String, String>,
    origin: &Origin,
) -> Result<Vec<String>, ConfigError> {
    patterns
        .iter()
        .map(|pattern| {
            let mut out = pattern.clone();
            for _ in 0..4 {
                let before = out.clone();
                for (name, alternation) in words {
                    out = out.replace(&format!("{{{name}}}"), &format!("(?:{alternation})"));
                }
                if out == before {
                    break;
                }
            }
            let left = out.match_indices('{').find_map(|(i, _)| {
                let name: String = out[i + 1..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                let is_name = name.starts_with(|c: char| c.is_ascii_alphabetic())
                    && out[i + 1 + name.len()..].starts_with('}');
                let class = out[..i].ends_with("\\p") || out[..i].ends_with("\\P");
                (is_name && !class).then_some(name)
            });
            match left {
                Some(name) => Err(ConfigError::Invalid {
                    origin: origin.clone(),
                    reason: format!(
                        "`{{{name}}}` in `{pattern}` is no word group (defined: {})",
                        words.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                }),
                None => Ok(out),
            }
        })
        .collect()
}

pub fn compile_each(patterns: &[String], origin: &Origin) -> Result<Vec<Regex>, ConfigError> {
    patterns
        .iter()
        .map(|p| {
            Regex::new(&format!("(?i){}", source(p))).map_err(|e| ConfigError::Invalid {
                origin: origin.clone(),
                reason: format!("bad pattern `{p}`: {e}"),
            })
        })
        .collect()
}

/// The sentence around a byte range: cues and remarks do not reach across a full stop.
pub fn sentence(text: &str, start: usize, end: usize) -> (usize, usize) {
    let stop = |c: char| matches!(c, '.' | '!' | '?' | '。' | '！' | '？');
    let from = text[..start]
        .char_indices()
        .rev()
        .find(|&(_, c)| stop(c))
        .map_or(0, |(i, c)| i + c.len_utf8());
    let to = text[end..].find(stop).map_or(text.len(), |i| end + i);
    (from, to)
}

pub struct Lexicon {
    pub language: Language,
    negation_before: Option<Regex>,
    negation_after: Option<Regex>,
    not_negation: Option<Regex>,
    window: usize,
    affirmation: Option<Regex>,
    rejection: Option<Regex>,
    complaint: Option<Regex>,
    clause_breaks: Regex,
    clause_joins: Option<Regex>,
    people: Option<Regex>,
    pronouns: Option<Regex>,
}

/// Each language's lexicon, compiled once per pipeline and shared by the stages that read text.
#[derive(Clone)]
pub struct Lexicons(HashMap<Language, Arc<Lexicon>>);

impl Lexicons {
    pub fn compile(c: &PipelineConfig) -> Result<Self, ConfigError> {
        let file = c.path.display().to_string();
        let mut map = HashMap::new();
        for language in [Language::En, Language::Zh] {
            map.insert(
                language,
                Arc::new(Lexicon::compile(language, c.lexicon(language), &file)?),
            );
        }
        Ok(Lexicons(map))
    }

    pub fn get(&self, language: Language) -> Arc<Lexicon> {
        // compile() fills both languages.
        Arc::clone(&self.0[&language])
    }
}

impl Lexicon {
    pub fn compile(
        language: Language,
        l: &LanguageLexicon,
        file: &str,
    ) -> Result<Self, ConfigError> {
        let at = |entry: &str| Origin {
            file: file.to_string(),
            entry: format!("language.{}.{entry}", language.code()),
        };
        let breaks = compile_any(&l.clause_breaks, &at("clause_breaks"))?;
        Ok(Lexicon {
            language,
            negation_before: compile_any(&l.negation_before, &at("negation_before"))?,
            negation_after: compile_any(&l.negation_after, &at("negation_after"))?,
            not_negation: compile_any(&l.not_negation, &at("not_negation"))?,
            window: l.negation_window,
            affirmation: compile_any(&l.affirmation, &at("affirmation"))?,
            rejection: compile_any(&l.rejection, &at("rejection"))?,
            complaint: compile_any(&l.complaint, &at("complaint"))?,
            clause_breaks: breaks
                .unwrap_or_else(|| Regex::new(r"[.!?;。！？；]").expect("literal regex")),
            clause_joins: compile_any_at_end(&l.clause_joins, &at("clause_joins"))?,
            people: compile_any(
                &expand_each(&l.people, &l.roles.words, &at("people"))?,
                &at("people"),
            )?,
            pronouns: compile_any(&l.pronouns, &at("pronouns"))?,
        })
    }

    /// The clause around `start..end`: negation and bound words do not reach past it.
    pub fn clause(&self, text: &str, start: usize, end: usize) -> (usize, usize) {
        let joined = |m: &regex::Match| {
            self.clause_joins
                .as_ref()
                .is_some_and(|j| j.is_match(&text[..m.end()]))
        };
        let from = self
            .clause_breaks
            .find_iter(&text[..start])
            .filter(|m| !joined(m))
            .last()
            .map_or(0, |m| m.end());
        let to = self
            .clause_breaks
            .find(&text[end..])
            .map_or(text.len(), |m| end + m.start());
        (from, to)
    }

    /// The few words (or characters) before a match, within its clause.
    pub fn before<'t>(&self, text: &'t str, start: usize) -> &'t str {
        self.before_within(text, start, self.window)
    }

    fn before_within<'t>(&self, text: &'t str, start: usize, window: usize) -> &'t str {
        let (from, _) = self.clause(text, start, start);
        let head = &text[from..start];
        let cut = match self.language {
            Language::En => head
                .char_indices()
                .rev()
                .filter(|&(_, c)| c.is_whitespace())
                .nth(window)
                .map_or(0, |(i, _)| i),
            Language::Zh => head
                .char_indices()
                .rev()
                .nth(window.saturating_sub(1))
                .map_or(0, |(i, _)| i),
        };
        &head[cut..]
    }

    pub fn is_negated(&self, text: &str, start: usize, end: usize) -> bool {
        self.is_negated_within(text, start, end, self.window)
    }

    /// [`Lexicon::is_negated`] with its own reach back (words, or characters in Chinese).
    pub fn is_negated_within(&self, text: &str, start: usize, end: usize, window: usize) -> bool {
        let before = self.blank_not_negations(self.before_within(text, start, window));
        if self
            .negation_before
            .as_ref()
            .is_some_and(|r| r.is_match(&before))
        {
            return true;
        }
        let (_, to) = self.clause(text, start, end);
        let after = &text[end..to];
        let near = self.blank_not_negations(&after.chars().take(12).collect::<String>());
        self.negation_after
            .as_ref()
            .is_some_and(|r| r.find(&near).is_some_and(|m| m.start() <= 4))
    }

    /// "有没有现车" asks; it does not deny. Such phrases are blanked before looking for negation.
    fn blank_not_negations(&self, text: &str) -> String {
        blank(&self.not_negation, text)
    }

    /// A reply that starts by saying no ("No, the other one", "不是").
    pub fn rejects(&self, head: &str) -> bool {
        self.rejection
            .as_ref()
            .and_then(|r| r.find(head))
            .is_some_and(|m| m.start() <= 4)
    }

    /// A reply that says yes to the question before it.
    pub fn affirms(&self, reply: &str) -> bool {
        let head: String = reply.trim_start().chars().take(40).collect();
        let yes = self
            .affirmation
            .as_ref()
            .and_then(|r| r.find(&head))
            .filter(|m| m.start() <= 6);
        let no = self.rejection.as_ref().and_then(|r| r.find(&head));
        match (yes, no) {
            (Some(y), Some(n)) => y.start() < n.start() && n.start() > 12,
            (Some(_), None) => true,
            _ => false,
        }
    }

    /// The first person a turn names ("my wife", "我老婆"): who a role or approval is when the
    /// pattern that found it does not say.
    pub fn person_named(&self, text: &str) -> Option<String> {
        self.people
            .as_ref()
            .and_then(|p| p.find(text))
            .map(|m| m.as_str().trim().to_string())
    }

    /// Every person a text names, in order.
    pub fn people_in<'a, 't: 'a>(
        &'a self,
        text: &'t str,
    ) -> impl Iterator<Item = regex::Match<'t>> + 'a {
        self.people.iter().flat_map(move |p| p.find_iter(text))
    }

    /// The turn refers back to someone named before ("she", "他").
    pub fn refers_back(&self, text: &str) -> bool {
        self.pronouns.as_ref().is_some_and(|p| p.is_match(text))
    }

    /// A reply that objects to what the salesperson just said.
    pub fn complains(&self, reply: &str) -> bool {
        let head: String = reply.trim_start().chars().take(60).collect();
        self.complaint.as_ref().is_some_and(|r| r.is_match(&head))
    }
}

#[cfg(test)]
mod tests {
    use super::source;
    use regex::Regex;

    fn matches(pattern: &str, text: &str) -> bool {
        Regex::new(&format!("(?i){}", source(pattern)))
            .unwrap()
            .is_match(text)
    }

    #[test]
    fn an_apostrophe_matches_its_typographic_twin_and_may_be_dropped_where_no_word_clashes() {
        assert!(matches(r"\bcan't afford\b", "I can’t afford it"));
        assert!(matches(r"\bcan't afford\b", "i cant afford it"));
        assert!(matches(r"\bthat's crazy\b", "thats crazy money"));
        assert!(matches(r"\bi'm (just )?looking\b", "im just looking"));
        assert!(matches(r"\bi've driven\b", "ive driven one"));
        // "well", "were" and "id" are words: 'll, 're and 'd keep their apostrophe.
        assert!(!matches(r"\bwe'll think\b", "well think about it"));
        assert!(!matches(r"\bwe're buying\b", "were buying"));
        assert!(!matches(r"\bi'd like\b", "id like"));
        assert!(matches(r"\bwe'll think\b", "we’ll think about it"));
    }
}
