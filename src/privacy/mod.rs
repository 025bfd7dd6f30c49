//! Personal numbers out of stored text: phone numbers become `[phone]` and identity numbers
//! (Chinese resident ID, US social security number) become `[id]`, whether written as numerals
//! or spoken digit by digit the way transcription writes them ("five five five, one two three
//! four", "幺三八一二三四五六七八"). Prices, years, model names, mileage and budgets stay:
//! a spoken number with place values ("thirty-two thousand", "三十万") is not a digit string,
//! and written numerals are redacted only in the shapes of phone and ID numbers.

mod spoken;
mod written;

use std::borrow::Cow;

use crate::analysis::Analysis;

pub const PHONE: &str = "[phone]";
pub const ID: &str = "[id]";

/// What a personal number is, for its marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Phone,
    Id,
}

impl Kind {
    fn marker(self) -> &'static str {
        match self {
            Kind::Phone => PHONE,
            Kind::Id => ID,
        }
    }
}

/// A byte range of the text to replace.
struct Span {
    start: usize,
    end: usize,
    kind: Kind,
}

fn replace(text: &str, spans: &[Span]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for s in spans {
        out.push_str(&text[at..s.start]);
        out.push_str(s.kind.marker());
        at = s.end;
    }
    out.push_str(&text[at..]);
    out
}

/// One pass: written numbers, then spoken ones in what is left.
fn redact_once(text: &str) -> Option<String> {
    let written = written::find(text);
    let after_written = (!written.is_empty()).then(|| replace(text, &written));
    let current = after_written.as_deref().unwrap_or(text);
    let spoken = spoken::find(current);
    if spoken.is_empty() {
        after_written
    } else {
        Some(replace(current, &spoken))
    }
}

/// `text` with every phone and ID number replaced by its marker; borrowed when there was none.
/// Applying it again changes nothing.
pub fn redact(text: &str) -> Cow<'_, str> {
    let Some(mut out) = redact_once(text) else {
        return Cow::Borrowed(text);
    };
    // A replacement can join what was around it into a new number; every pass removes at least
    // seven digits, so this ends.
    while let Some(next) = redact_once(&out) {
        out = next;
    }
    Cow::Owned(out)
}

fn redact_in_place(s: &mut String) {
    if let Cow::Owned(r) = redact(s) {
        *s = r;
    }
}

fn redact_json(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::String(s) => redact_in_place(s),
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact_json),
        serde_json::Value::Object(map) => map.values_mut().for_each(redact_json),
        _ => {}
    }
}

/// Redacts every text an analysis stores: segment texts, signal values, facts, who a role is,
/// and the next action (which quotes names and values).
pub fn redact_analysis(analysis: &mut Analysis) {
    for seg in &mut analysis.segments {
        redact_in_place(&mut seg.text);
    }
    for signal in analysis
        .preferences
        .iter_mut()
        .chain(&mut analysis.objections)
        .chain(&mut analysis.intents)
    {
        if let Some(v) = &mut signal.value {
            redact_in_place(v);
        }
    }
    analysis.facts.values_mut().for_each(redact_json);
    for role in &mut analysis.roles {
        redact_in_place(&mut role.who);
    }
    redact_in_place(&mut analysis.priority.next_action);
    analysis
        .priority
        .reasons
        .iter_mut()
        .for_each(redact_in_place);
}

#[cfg(test)]
mod tests;
