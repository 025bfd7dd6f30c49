//! The conversation being analysed: who said what, and when.

use serde::{Deserialize, Serialize};

/// The side of the conversation a turn belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Speaker {
    Salesperson,
    Customer,
    Companion,
    Unknown,
}

impl Speaker {
    /// Customer-side turns are the only ones whose words become the customer's signals.
    pub fn is_customer_side(self) -> bool {
        matches!(self, Speaker::Customer | Speaker::Companion)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    En,
    Zh,
}

impl Language {
    pub fn code(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Zh => "zh",
        }
    }

    /// Mandarin if a meaningful share of the letters are CJK ideographs.
    pub fn detect<'a>(texts: impl IntoIterator<Item = &'a str>) -> Language {
        let (mut cjk, mut latin) = (0usize, 0usize);
        for text in texts {
            for c in text.chars() {
                if is_cjk(c) {
                    cjk += 1;
                } else if c.is_ascii_alphabetic() {
                    latin += 1;
                }
            }
        }
        // A Chinese character carries about as much as a short English word.
        if cjk > 0 && cjk * 4 >= latin {
            Language::Zh
        } else {
            Language::En
        }
    }
}

pub fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x4E00..=0x9FFF | 0x3400..=0x4DBF | 0xF900..=0xFAFF)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    pub id: usize,
    pub start: f64,
    pub end: f64,
    pub speaker: Speaker,
    pub text: String,
    /// The speaker as written in the source ("Wife", "客户妻子"); used to name companions.
    #[serde(skip)]
    pub speaker_label: String,
}

#[derive(Debug, Clone, Default)]
pub struct Conversation {
    pub segments: Vec<Segment>,
    /// False when the source had no time stamps and times were estimated from text length.
    pub timed: bool,
}

impl Conversation {
    pub fn duration_s(&self) -> f64 {
        let first = self.segments.first().map_or(0.0, |s| s.start);
        let last = self.segments.iter().map(|s| s.end).fold(0.0, f64::max);
        (last - first).max(0.0)
    }

    /// The salesperson turn that a customer-side turn answers: the latest salesperson turn
    /// before it, with at most one customer-side turn in between ("Want to drive it?" /
    /// "Dad, can we?" / "Yeah, let's").
    pub fn prompt_before(&self, index: usize) -> Option<&Segment> {
        let earlier = &self.segments[..index];
        let mut between = 0;
        for seg in earlier.iter().rev() {
            match seg.speaker {
                Speaker::Salesperson => return Some(seg),
                _ if between < 1 => between += 1,
                _ => return None,
            }
        }
        None
    }
}
