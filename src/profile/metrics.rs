//! Engagement metrics: how much the customer talks, asks and holds the floor.

use crate::analysis::Metrics;
use crate::conversation::{Conversation, Segment};
use crate::pipeline::{AnalyzeError, Context, Stage};

/// Metric names tag and priority conditions may test.
pub const METRIC_NAMES: &[&str] = &[
    "customer_talk_share",
    "customer_questions",
    "longest_customer_monologue_s",
    "turns",
    "duration_s",
];

pub fn value(metrics: &Metrics, duration_s: f64, name: &str) -> Option<f64> {
    Some(match name {
        "customer_talk_share" => metrics.customer_talk_share,
        "customer_questions" => metrics.customer_questions as f64,
        "longest_customer_monologue_s" => metrics.longest_customer_monologue_s,
        "turns" => metrics.turns as f64,
        "duration_s" => duration_s,
        _ => return None,
    })
}

const EN_QUESTION_STARTS: &[&str] = &[
    "what", "how", "when", "where", "why", "which", "who", "can", "could", "do", "does", "is",
    "are", "will", "would", "any",
];
const ZH_QUESTION_WORDS: &[&str] = &[
    "多少",
    "怎么",
    "什么",
    "哪",
    "几",
    "吗",
    "呢",
    "么",
    "是不是",
    "有没有",
    "能不能",
    "可不可以",
];

/// Questions in one turn: question marks, or, in unpunctuated speech-recognition text, a turn
/// that starts (English) or is built (Chinese) like a question.
fn questions(seg: &Segment) -> u32 {
    let marks = seg.text.matches(['?', '？']).count() as u32;
    if marks > 0 || seg.text.contains(['.', '。', '!', '！']) {
        return marks;
    }
    let lower = seg.text.to_lowercase();
    let first = lower.split_whitespace().next().unwrap_or("");
    let asks = EN_QUESTION_STARTS.contains(&first.trim_matches(|c: char| !c.is_alphanumeric()))
        || ZH_QUESTION_WORDS.iter().any(|w| seg.text.contains(w));
    u32::from(asks)
}

pub fn compute(c: &Conversation) -> Metrics {
    let weight = |s: &Segment| {
        if c.timed {
            (s.end - s.start).max(0.0)
        } else {
            s.text.chars().count() as f64
        }
    };
    let total: f64 = c.segments.iter().map(weight).sum();
    let customer: f64 = c
        .segments
        .iter()
        .filter(|s| s.speaker.is_customer_side())
        .map(weight)
        .sum();
    let mut longest = 0.0f64;
    let mut run_start: Option<f64> = None;
    for s in &c.segments {
        if s.speaker.is_customer_side() {
            let start = *run_start.get_or_insert(s.start);
            longest = longest.max(s.end - start);
        } else {
            run_start = None;
        }
    }
    Metrics {
        customer_talk_share: if total > 0.0 {
            (customer / total * 100.0).round() / 100.0
        } else {
            0.0
        },
        customer_questions: c
            .segments
            .iter()
            .filter(|s| s.speaker.is_customer_side())
            .map(questions)
            .sum(),
        longest_customer_monologue_s: (longest * 10.0).round() / 10.0,
        turns: c.segments.len() as u32,
    }
}

pub struct MetricsStage;

impl Stage for MetricsStage {
    fn name(&self) -> &'static str {
        "metrics"
    }

    fn run(&self, cx: &mut Context) -> Result<(), AnalyzeError> {
        cx.metrics = compute(&cx.conversation);
        Ok(())
    }
}
