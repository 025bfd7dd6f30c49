//! Reading transcripts: `.txt` with one `Speaker: text` turn per line (optionally `[mm:ss]`
//! stamped) and `.json` with `{"segments": [...]}`.

use std::path::Path;

use serde::Deserialize;

use crate::conversation::{is_cjk, Conversation, Segment, Speaker};

/// Larger than any real transcript (a 3-hour visit is well under 1 MB); protects memory.
pub const MAX_TRANSCRIPT_BYTES: u64 = 32 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum TranscriptError {
    #[error("cannot read {path}: {source}")]
    Unreadable {
        path: String,
        source: std::io::Error,
    },
    #[error("{0} is empty")]
    Empty(String),
    #[error("{path} is {size} bytes, over the {MAX_TRANSCRIPT_BYTES}-byte limit for a transcript")]
    TooLarge { path: String, size: u64 },
    #[error("{0} is a binary file, not a transcript")]
    Binary(String),
    #[error("{0} is not UTF-8 text (convert it first, e.g. `iconv -f GB18030 -t UTF-8`)")]
    NotUtf8(String),
    #[error("{path}: not a valid transcript JSON document: {reason}")]
    BadJson { path: String, reason: String },
    #[error("{0} has no turns")]
    NoTurns(String),
}

/// A turn as the source wrote it, before speaker roles are assigned.
#[derive(Debug, Clone)]
pub struct RawTurn {
    pub start: Option<f64>,
    pub end: Option<f64>,
    pub speaker: String,
    pub text: String,
}

pub fn read_text_file(path: &Path) -> Result<String, TranscriptError> {
    let name = path.display().to_string();
    let unreadable = |source| TranscriptError::Unreadable {
        path: name.clone(),
        source,
    };
    let size = std::fs::metadata(path).map_err(unreadable)?.len();
    if size > MAX_TRANSCRIPT_BYTES {
        return Err(TranscriptError::TooLarge { path: name, size });
    }
    let bytes = std::fs::read(path).map_err(unreadable)?;
    decode_text(&bytes, &name)
}

/// UTF-8 (with or without BOM) and BOM-marked UTF-16, as saved by common editors.
pub fn decode_text(bytes: &[u8], name: &str) -> Result<String, TranscriptError> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(TranscriptError::Empty(name.to_string()));
    }
    let utf16 = |be: bool| {
        let units: Vec<u16> = bytes[2..]
            .chunks_exact(2)
            .map(|c| {
                if be {
                    u16::from_be_bytes([c[0], c[1]])
                } else {
                    u16::from_le_bytes([c[0], c[1]])
                }
            })
            .collect();
        String::from_utf16(&units).map_err(|_| TranscriptError::NotUtf8(name.to_string()))
    };
    let text = match bytes {
        [0xFF, 0xFE, ..] => utf16(false)?,
        [0xFE, 0xFF, ..] => utf16(true)?,
        _ => {
            if bytes.contains(&0) {
                return Err(TranscriptError::Binary(name.to_string()));
            }
            let body = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF][..]).unwrap_or(bytes);
            String::from_utf8(body.to_vec())
                .map_err(|_| TranscriptError::NotUtf8(name.to_string()))?
        }
    };
    let control = text
        .chars()
        .filter(|c| c.is_control() && !c.is_whitespace())
        .count();
    if control * 20 > text.chars().count() {
        return Err(TranscriptError::Binary(name.to_string()));
    }
    if text.trim().is_empty() {
        return Err(TranscriptError::Empty(name.to_string()));
    }
    Ok(text)
}

/// Parses `[mm:ss] Speaker: text` lines. A line with no speaker continues the turn before it.
pub fn parse_txt(text: &str) -> Vec<RawTurn> {
    let mut turns: Vec<RawTurn> = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let (stamp, rest) = split_stamp(line);
        match split_speaker(rest) {
            Some((speaker, said)) => turns.push(RawTurn {
                start: stamp,
                end: None,
                speaker: speaker.to_string(),
                text: said.to_string(),
            }),
            None => match turns.last_mut() {
                Some(last) => {
                    last.text.push(' ');
                    last.text.push_str(rest);
                }
                None => turns.push(RawTurn {
                    start: stamp,
                    end: None,
                    speaker: String::new(),
                    text: rest.to_string(),
                }),
            },
        }
    }
    turns.retain(|t| !t.text.trim().is_empty());
    turns
}

/// `[mm:ss]`, `[hh:mm:ss]` or `[mm:ss.s]` at the start of a line.
fn split_stamp(line: &str) -> (Option<f64>, &str) {
    let Some(inner_end) = line.strip_prefix('[').and_then(|r| r.find(']')) else {
        return (None, line);
    };
    let inner = &line[1..=inner_end];
    let mut seconds = 0.0;
    for part in inner.split(':') {
        match part.trim().parse::<f64>() {
            Ok(v) if v >= 0.0 && v.is_finite() => seconds = seconds * 60.0 + v,
            _ => return (None, line),
        }
    }
    if !inner.contains(':') {
        return (None, line);
    }
    (Some(seconds), line[inner_end + 2..].trim_start())
}

/// `Name: text` with an ASCII or full-width colon; a name is short and has no sentence in it.
fn split_speaker(line: &str) -> Option<(&str, &str)> {
    let (pos, colon_len) = line
        .char_indices()
        .find(|&(_, c)| c == ':' || c == '：')
        .map(|(i, c)| (i, c.len_utf8()))?;
    let name = line[..pos].trim();
    let width: usize = name.chars().map(|c| if is_cjk(c) { 2 } else { 1 }).sum();
    if name.is_empty() || width > 32 || name.chars().any(|c| ".?!,;。？！，；\"".contains(c)) {
        return None;
    }
    Some((name, line[pos + colon_len..].trim()))
}

#[derive(Deserialize)]
struct JsonTranscript {
    segments: Vec<JsonSegment>,
}

#[derive(Deserialize)]
struct JsonSegment {
    #[serde(default)]
    start: Option<f64>,
    #[serde(default)]
    end: Option<f64>,
    #[serde(default)]
    speaker: Option<String>,
    text: String,
}

pub fn parse_json(text: &str, name: &str) -> Result<Vec<RawTurn>, TranscriptError> {
    let doc: JsonTranscript = serde_json::from_str(text).map_err(|e| TranscriptError::BadJson {
        path: name.to_string(),
        reason: e.to_string(),
    })?;
    let valid = |t: Option<f64>| t.filter(|v| v.is_finite() && *v >= 0.0);
    Ok(doc
        .segments
        .into_iter()
        .filter(|s| !s.text.trim().is_empty())
        .map(|s| RawTurn {
            start: valid(s.start),
            end: valid(s.end),
            speaker: s.speaker.unwrap_or_default(),
            text: s.text.trim().to_string(),
        })
        .collect())
}

/// Speaking rate used to estimate times when the source has none (characters per second).
fn chars_per_second(text: &str) -> f64 {
    if text.chars().any(is_cjk) {
        4.5
    } else {
        15.0
    }
}

/// Builds segments with times: given stamps are kept, missing ends come from the next start
/// or from the text's length, and an unstamped source is laid out turn after turn.
pub fn to_conversation(turns: Vec<RawTurn>, role_of: impl Fn(&str) -> Speaker) -> Conversation {
    let timed = turns.iter().any(|t| t.start.is_some());
    let mut segments = Vec::with_capacity(turns.len());
    let mut clock = 0.0f64;
    for (i, turn) in turns.iter().enumerate() {
        let spoken = turn.text.chars().count() as f64 / chars_per_second(&turn.text);
        let start = turn
            .start
            .unwrap_or(clock)
            .max(if timed { 0.0 } else { clock });
        let next_start = turns[i + 1..]
            .iter()
            .find_map(|t| t.start)
            .filter(|&n| n > start);
        let end = match (turn.end.filter(|&e| e >= start), next_start) {
            (Some(e), _) => e,
            (None, Some(n)) => n.min(start + spoken.max(0.5)),
            (None, None) => start + spoken.max(0.5),
        };
        clock = end;
        segments.push(Segment {
            id: i,
            start: round2(start),
            end: round2(end),
            speaker: role_of(&turn.speaker),
            text: turn.text.clone(),
            speaker_label: turn.speaker.clone(),
        });
    }
    Conversation { segments, timed }
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_speakers_and_continuations() {
        let t = parse_txt("[00:04] Customer: Hi there.\nstill me\n[1:02:03] 销售：您好\nno speaker, but not first\n");
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].start, Some(4.0));
        assert_eq!(t[0].text, "Hi there. still me");
        assert_eq!(t[1].speaker, "销售");
        assert_eq!(t[1].start, Some(3723.0));
    }

    #[test]
    fn sentence_with_colon_is_not_a_speaker() {
        assert!(split_speaker("Well, here's the thing: it's pricey").is_none());
        assert_eq!(split_speaker("Wife: yes").map(|p| p.0), Some("Wife"));
    }

    #[test]
    fn decoding_rejects_binary_and_bad_utf8() {
        assert!(matches!(
            decode_text(b"\x00\x01\x02abc", "f"),
            Err(TranscriptError::Binary(_))
        ));
        assert!(matches!(
            decode_text(b"Customer: caf\xe9", "f"),
            Err(TranscriptError::NotUtf8(_))
        ));
        assert!(matches!(
            decode_text(b"  \n ", "f"),
            Err(TranscriptError::Empty(_))
        ));
        let utf16: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain("客户: 你好".encode_utf16().flat_map(|u| u.to_le_bytes()))
            .collect();
        assert_eq!(decode_text(&utf16, "f").unwrap(), "客户: 你好");
    }

    #[test]
    fn times_are_estimated_and_monotonic() {
        let turns = parse_txt("Customer: hello there friend\nSales: hi\n");
        let c = to_conversation(turns, |_| Speaker::Customer);
        assert!(!c.timed);
        assert!(c.segments[1].start >= c.segments[0].end);
    }
}
