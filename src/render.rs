//! The human-readable profile `analyze` prints without `--json`.

use std::fmt::Write;

use crate::analysis::{Analysis, Signal};

fn quote(a: &Analysis, evidence: &[usize]) -> String {
    evidence
        .iter()
        .filter_map(|&id| a.segments.get(id))
        .filter(|s| s.speaker.is_customer_side())
        .take(1)
        .map(|s| {
            let text: String = s.text.chars().take(90).collect();
            let ellipsis = if s.text.chars().count() > 90 {
                "…"
            } else {
                ""
            };
            format!(
                "  [{:02}:{:02}] “{text}{ellipsis}”",
                (s.start / 60.0) as u64,
                (s.start % 60.0) as u64
            )
        })
        .collect()
}

fn list(out: &mut String, a: &Analysis, title: &str, signals: &[Signal]) {
    if signals.is_empty() {
        return;
    }
    let _ = writeln!(out, "{title}:");
    for s in signals {
        let value = s
            .value
            .as_deref()
            .map(|v| format!(" = {v}"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {}{value} ({:.0}%){}",
            s.id,
            s.confidence * 100.0,
            quote(a, &s.evidence)
        );
    }
}

pub fn summary(a: &Analysis) -> String {
    let mut out = String::new();
    let m = &a.metrics;
    let _ = writeln!(
        out,
        "Conversation: {} turns, {:.0} s, language {}; customer talk share {:.0}%, {} questions",
        m.turns,
        a.duration_s,
        a.language,
        m.customer_talk_share * 100.0,
        m.customer_questions
    );
    match &a.budget {
        Some(b) => {
            let range = match (b.min, b.max) {
                (Some(lo), Some(hi)) if lo == hi => format!("{lo}"),
                (Some(lo), Some(hi)) => format!("{lo}–{hi}"),
                (None, Some(hi)) => format!("up to {hi}"),
                (Some(lo), None) => format!("from {lo}"),
                (None, None) => "?".into(),
            };
            let _ = writeln!(
                out,
                "Budget: {range} {} ({:?}){}",
                b.currency,
                b.kind,
                quote(a, &b.evidence)
            );
        }
        None => out.push_str("Budget: not stated\n"),
    }
    list(&mut out, a, "Preferences", &a.preferences);
    list(&mut out, a, "Objections", &a.objections);
    list(&mut out, a, "Intents", &a.intents);
    if !a.facts.is_empty() {
        let facts: Vec<String> = a.facts.iter().map(|(k, v)| format!("{k} = {v}")).collect();
        let _ = writeln!(out, "Facts: {}", facts.join("; "));
    }
    for r in &a.roles {
        let _ = writeln!(out, "Role: {} — {}", r.id, r.who);
    }
    if !a.tags.is_empty() {
        let tags: Vec<&str> = a.tags.iter().map(|t| t.id.as_str()).collect();
        let _ = writeln!(out, "Tags: {}", tags.join(", "));
    }
    let p = &a.priority;
    let _ = writeln!(
        out,
        "Priority: {} ({:?}) — {}",
        p.score,
        p.tier,
        p.reasons.join(", ")
    );
    let _ = writeln!(out, "Next action: {} (due {})", p.next_action, p.due);
    let f = &a.forecast;
    let _ = write!(
        out,
        "Forecast: {:?}, p30 {:.0}%, expected value {:.0}",
        f.stage,
        f.p30 * 100.0,
        f.expected_value
    );
    out
}
