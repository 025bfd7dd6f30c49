//! Numbers read out digit by digit, as transcription writes them: "five five five, one two three
//! four", "double oh seven", "幺三八 一二三四 五六七八", or mixed with numerals ("138 一二三四…").
//! Place values ("thirty", "thousand", "十", "万") are not digits, so amounts and years said as
//! numbers never form a run.

use super::{Kind, Span};

/// Fewer spoken digits than this in a row are not a personal number (a 7-digit local phone
/// number is the shortest; a year read digit by digit has four).
const MIN_DIGITS: usize = 7;
/// This many digits or more is an identity number (a Chinese resident ID has 18, 15 before 1999).
const MIN_ID_DIGITS: usize = 14;
/// A Chinese resident ID ends in a check character that may be X (spoken "X" or "叉").
const ID_DIGITS_BEFORE_X: usize = 17;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Token {
    /// `n` digits; `spoken` when written as a word or character rather than a numeral.
    Digits {
        n: usize,
        spoken: bool,
    },
    /// "double" / "triple": the next digit word counts this many times.
    Repeat(usize),
    /// "X" / "叉": an ID's check character, when it follows 17 digits.
    X,
    /// Between the digits of one number; `group` when it splits groups ("555, 12").
    Separator {
        group: bool,
    },
    Other,
}

fn word_token(word: &str) -> Token {
    let digit = |n| Token::Digits { n, spoken: true };
    match word.to_ascii_lowercase().as_str() {
        "zero" | "oh" | "o" | "one" | "two" | "three" | "four" | "five" | "six" | "seven"
        | "eight" | "nine" => digit(1),
        "double" => Token::Repeat(2),
        "triple" => Token::Repeat(3),
        "x" => Token::X,
        _ => Token::Other,
    }
}

fn char_token(c: char) -> Token {
    match c {
        '零' | '〇' | '一' | '二' | '三' | '四' | '五' | '六' | '七' | '八' | '九' | '幺'
        | '两' => Token::Digits { n: 1, spoken: true },
        '0'..='9' | '０'..='９' => Token::Digits {
            n: 1,
            spoken: false,
        },
        '叉' => Token::X,
        ' ' | '\t' => Token::Separator { group: false },
        ',' | '，' | '、' | '-' | '–' | '—' => Token::Separator { group: true },
        _ => Token::Other,
    }
}

/// Tokens with their byte ranges.
fn tokens(text: &str) -> Vec<(Token, usize, usize)> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        if c.is_ascii_alphabetic() {
            let mut end = start + 1;
            while let Some(&(i, next)) = chars.peek() {
                if !next.is_ascii_alphabetic() {
                    break;
                }
                end = i + 1;
                chars.next();
            }
            out.push((word_token(&text[start..end]), start, end));
        } else {
            out.push((char_token(c), start, start + c.len_utf8()));
        }
    }
    out
}

/// A run of digits being read.
#[derive(Default)]
struct Run {
    start: usize,
    end: usize,
    digits: usize,
    spoken: bool,
    has_x: bool,
    /// Digits per group, split at punctuation.
    groups: Vec<usize>,
}

impl Run {
    fn span(&self) -> Option<Span> {
        if !self.spoken || self.digits < MIN_DIGITS {
            return None;
        }
        let ssn = self.groups == [3, 2, 4];
        let kind = if self.has_x || ssn || self.digits >= MIN_ID_DIGITS {
            Kind::Id
        } else {
            Kind::Phone
        };
        Some(Span {
            start: self.start,
            end: self.end,
            kind,
        })
    }
}

pub(super) fn find(text: &str) -> Vec<Span> {
    let tokens = tokens(text);
    let mut spans = Vec::new();
    let mut run: Option<Run> = None;
    let mut close = |run: &mut Option<Run>| {
        if let Some(span) = run.take().and_then(|r| r.span()) {
            spans.push(span);
        }
    };
    let mut i = 0;
    while i < tokens.len() {
        let (token, start, end) = tokens[i];
        match token {
            Token::Digits { n, spoken } => {
                let r = run.get_or_insert_with(|| Run {
                    start,
                    groups: vec![0],
                    ..Run::default()
                });
                r.end = end;
                r.digits += n;
                r.spoken |= spoken;
                *r.groups.last_mut().expect("a run has a group") += n;
            }
            Token::Repeat(times) => {
                // "double five": a word's start with the next token's digit, many times.
                match tokens.get(i + 2) {
                    Some(&(Token::Digits { n: 1, spoken: true }, _, next_end))
                        if tokens[i + 1].0 == (Token::Separator { group: false }) =>
                    {
                        let r = run.get_or_insert_with(|| Run {
                            start,
                            groups: vec![0],
                            ..Run::default()
                        });
                        r.end = next_end;
                        r.digits += times;
                        r.spoken = true;
                        *r.groups.last_mut().expect("a run has a group") += times;
                        i += 2;
                    }
                    _ => close(&mut run),
                }
            }
            Token::X => match &mut run {
                Some(r) if r.digits == ID_DIGITS_BEFORE_X => {
                    r.end = end;
                    r.digits += 1;
                    r.has_x = true;
                    close(&mut run);
                }
                _ => close(&mut run),
            },
            Token::Separator { group } => {
                if let Some(r) = &mut run {
                    if group && r.groups.last() != Some(&0) {
                        r.groups.push(0);
                    }
                }
            }
            Token::Other => close(&mut run),
        }
        i += 1;
    }
    close(&mut run);
    spans
}
