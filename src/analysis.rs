//! The analysis document: everything `analyze --json` prints, and the one serialised form
//! shared by the CLI, the API and the store.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::conversation::Segment;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Analysis {
    pub language: String,
    pub duration_s: f64,
    pub segments: Vec<Segment>,
    pub metrics: Metrics,
    pub budget: Option<Budget>,
    pub preferences: Vec<Signal>,
    pub objections: Vec<Signal>,
    pub intents: Vec<Signal>,
    pub facts: BTreeMap<String, serde_json::Value>,
    pub roles: Vec<Role>,
    pub tags: Vec<Tag>,
    pub priority: Priority,
    pub forecast: Forecast,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Metrics {
    pub customer_talk_share: f64,
    pub customer_questions: u32,
    pub longest_customer_monologue_s: f64,
    pub turns: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BudgetKind {
    Total,
    Monthly,
    Down,
}

impl BudgetKind {
    /// The name rules and the JSON use: `budget.total`, `"kind": "monthly"`.
    pub fn name(self) -> &'static str {
        match self {
            BudgetKind::Total => "total",
            BudgetKind::Monthly => "monthly",
            BudgetKind::Down => "down",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Budget {
    pub kind: BudgetKind,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub currency: String,
    pub confidence: f64,
    pub evidence: Vec<usize>,
}

impl Budget {
    /// One figure for the deal size: the middle of a range, else whichever bound exists.
    pub fn midpoint(&self) -> Option<f64> {
        match (self.min, self.max) {
            (Some(a), Some(b)) => Some((a + b) / 2.0),
            (a, b) => a.or(b),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Signal {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub value: Option<String>,
    pub confidence: f64,
    pub evidence: Vec<usize>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Role {
    pub id: String,
    pub who: String,
    pub evidence: Vec<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TagCategory {
    Fact,
    Psychological,
    Behavioral,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Tag {
    pub id: String,
    pub category: TagCategory,
    pub rule: String,
    pub evidence: Vec<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Hot,
    Warm,
    Cold,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Priority {
    pub score: u32,
    pub tier: Tier,
    pub reasons: Vec<String>,
    pub next_action: String,
    pub due: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Browsing,
    Considering,
    Negotiating,
    Committed,
    Won,
    Lost,
}

impl Stage {
    /// Every stage, in funnel order.
    pub const ALL: [Stage; 6] = [
        Stage::Browsing,
        Stage::Considering,
        Stage::Negotiating,
        Stage::Committed,
        Stage::Won,
        Stage::Lost,
    ];

    /// The name the JSON and the pipeline's `p30` table use.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Browsing => "browsing",
            Stage::Considering => "considering",
            Stage::Negotiating => "negotiating",
            Stage::Committed => "committed",
            Stage::Won => "won",
            Stage::Lost => "lost",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Forecast {
    pub stage: Stage,
    pub p30: f64,
    pub expected_value: f64,
}
