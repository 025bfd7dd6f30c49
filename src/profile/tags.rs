//! The tags stage: fact, psychological and behavioural tags from the pipeline's rules, each with
//! the rule that fired and the evidence behind it.

use crate::analysis::{Tag, TagCategory};
use crate::config::{BudgetBand, PipelineConfig, TagRule};
use crate::pipeline::{AnalyzeError, Context, Stage};

use super::condition::{evaluate, Facts};

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
            if let Some(mid) = b.midpoint() {
                for band in self
                    .bands
                    .iter()
                    .filter(|band| band.kind == b.kind && band.currency == b.currency)
                {
                    if mid >= band.min && mid < band.max {
                        cx.tags.push(Tag {
                            id: band.tag.clone(),
                            category: TagCategory::Fact,
                            rule: format!(
                                "budget_band {}–{} {}",
                                band.min, band.max, band.currency
                            ),
                            evidence: b.evidence.clone(),
                        });
                    }
                }
            }
        }
        let duration_s = cx.conversation.duration_s();
        // Rules run in file order, so a rule may build on a tag an earlier rule gave: each new
        // tag joins what later conditions can see.
        let mut present = cx.present();
        for rule in &self.rules {
            if present.contains_key(&rule.id) {
                continue;
            }
            let facts = Facts {
                present: &present,
                metrics: &cx.metrics,
                duration_s,
            };
            if let Some(evidence) = evaluate(&rule.when, &facts) {
                present.insert(rule.id.clone(), evidence.clone());
                cx.tags.push(Tag {
                    id: rule.id.clone(),
                    category: rule.category,
                    rule: rule.rule.clone().unwrap_or_else(|| rule.id.clone()),
                    evidence,
                });
            }
        }
        Ok(())
    }
}
