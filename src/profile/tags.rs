//! The tags stage: fact, psychological and behavioural tags from the pipeline's rules, each with
//! the rule that fired and the evidence behind it. [`budget_bands`] and [`apply_rules`] also
//! derive a customer profile's tags across visits.

use std::collections::HashMap;

use crate::analysis::{Budget, Metrics, Tag, TagCategory};
use crate::config::{BudgetBand, PipelineConfig, TagRule};
use crate::pipeline::{AnalyzeError, Context, Stage};

use super::condition::{evaluate, Facts};

/// The bands `budget` falls in, each with the rule text shown beside its tag.
pub fn budget_bands<'b>(
    bands: &'b [BudgetBand],
    budget: &Budget,
) -> impl Iterator<Item = (&'b BudgetBand, String)> {
    let mid = budget.midpoint();
    let (kind, currency) = (budget.kind, budget.currency.clone());
    bands
        .iter()
        .filter(move |band| {
            band.kind == kind
                && band.currency == currency
                && mid.is_some_and(|m| m >= band.min && m < band.max)
        })
        .map(|band| {
            let rule = format!("budget_band {}–{} {}", band.min, band.max, band.currency);
            (band, rule)
        })
}

/// Runs the tag rules in file order, so a rule may build on a tag an earlier rule gave: each new
/// tag joins `present`, and a rule whose tag is already there is skipped. Returns the rules that
/// fired with their evidence.
pub fn apply_rules<'r, E: Copy + Ord>(
    rules: &'r [TagRule],
    present: &mut HashMap<String, Vec<E>>,
    metrics: &Metrics,
    duration_s: f64,
) -> Vec<(&'r TagRule, Vec<E>)> {
    let mut fired = Vec::new();
    for rule in rules {
        if present.contains_key(&rule.id) {
            continue;
        }
        let facts = Facts {
            present,
            metrics,
            duration_s,
        };
        if let Some(evidence) = evaluate(&rule.when, &facts) {
            present.insert(rule.id.clone(), evidence.clone());
            fired.push((rule, evidence));
        }
    }
    fired
}

/// The name shown beside a rule's tag: its own, else the tag id.
pub fn rule_name(rule: &TagRule) -> String {
    rule.rule.clone().unwrap_or_else(|| rule.id.clone())
}

pub struct TagsStage {
    rules: Vec<TagRule>,
    bands: Vec<BudgetBand>,
}

impl TagsStage {
    pub fn build(c: &PipelineConfig) -> Self {
        TagsStage {
            rules: c.tags.clone(),
            bands: c.budget_bands.clone(),
        }
    }
}

impl Stage for TagsStage {
    fn name(&self) -> &'static str {
        "tags"
    }

    fn run(&self, cx: &mut Context) -> Result<(), AnalyzeError> {
        if let Some(b) = &cx.budget {
            for (band, rule) in budget_bands(&self.bands, b) {
                cx.tags.push(Tag {
                    id: band.tag.clone(),
                    category: TagCategory::Fact,
                    rule,
                    evidence: b.evidence.clone(),
                });
            }
        }
        let mut present = cx.present();
        let fired = apply_rules(
            &self.rules,
            &mut present,
            &cx.metrics,
            cx.conversation.duration_s(),
        );
        for (rule, evidence) in fired {
            cx.tags.push(Tag {
                id: rule.id.clone(),
                category: rule.category,
                rule: rule_name(rule),
                evidence,
            });
        }
        Ok(())
    }
}
