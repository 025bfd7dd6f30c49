//! The priority stage: a 0–100 follow-up score as a weighted sum of signals, its tier, the
//! reasons as signed contributions, and the next action with its due date.

use crate::analysis::{Priority, Tier};
use crate::config::{NextActionRule, PipelineConfig, PrioritySection};
use crate::conversation::Language;
use crate::pipeline::{AnalyzeError, Context, Stage};

use super::condition::{evaluate, Facts};

pub struct PriorityStage {
    section: PrioritySection,
    next_actions: Vec<NextActionRule>,
}

impl PriorityStage {
    pub fn build(c: &PipelineConfig) -> Self {
        PriorityStage {
            section: c.priority.clone(),
            next_actions: c.next_actions.clone(),
        }
    }
}

/// Fills `{who}`, `{model}`, `{competitor}` from the analysis; a missing value reads naturally.
fn fill(template: &str, cx: &Context) -> String {
    let zh = cx.language == Language::Zh;
    let first = |id: &str, en: &str, zh_text: &str| {
        cx.detections
            .values(id)
            .next()
            .map(str::to_string)
            .unwrap_or_else(|| if zh { zh_text } else { en }.to_string())
    };
    let who = cx
        .detections
        .values("obj.approval")
        .next()
        .map(str::to_string)
        .or_else(|| {
            cx.roles
                .iter()
                .find(|r| r.id == "role.decision_maker")
                .map(|r| r.who.clone())
        })
        .unwrap_or_else(|| if zh { "家人" } else { "the decision maker" }.to_string());
    template
        .replace("{who}", &who)
        .replace("{model}", &first("pref.model", "the car", "意向车型"))
        .replace(
            "{competitor}",
            &first("obj.competitor", "the competition", "竞品"),
        )
}

impl Stage for PriorityStage {
    fn name(&self) -> &'static str {
        "priority"
    }

    fn run(&self, cx: &mut Context) -> Result<(), AnalyzeError> {
        let p = &self.section;
        let present = cx.present();
        let facts = Facts {
            present: &present,
            metrics: &cx.metrics,
            duration_s: cx.conversation.duration_s(),
        };
        let zh = cx.language == Language::Zh;
        let mut score = p.base;
        let mut contributions: Vec<(f64, String)> = Vec::new();
        for w in &p.weights {
            if facts.has(&w.signal) {
                score += w.points;
                contributions.push((
                    w.points,
                    if zh {
                        w.reason_zh.clone()
                    } else {
                        w.reason_en.clone()
                    },
                ));
            }
        }
        let score = score.clamp(0.0, 100.0).round();
        let mut tier = if score >= p.hot_at {
            Tier::Hot
        } else if score >= p.warm_at {
            Tier::Warm
        } else {
            Tier::Cold
        };
        if let Some(rule) = p
            .tier_rules
            .iter()
            .find(|r| evaluate(&r.when, &facts).is_some())
        {
            tier = rule.tier;
        }
        contributions.sort_by(|a, b| b.0.abs().total_cmp(&a.0.abs()));
        let reasons = contributions
            .into_iter()
            .map(|(points, why)| format!("{points:+} {why}"))
            .collect();
        let action = self
            .next_actions
            .iter()
            .find(|a| evaluate(&a.when, &facts).is_some());
        let (next_action, due) = match action {
            Some(a) => (
                fill(if zh { &a.zh } else { &a.en }, cx),
                cx.today() + chrono::Duration::days(a.due_days),
            ),
            None => (String::new(), cx.today()),
        };
        cx.priority = Some(Priority {
            score: score as u32,
            tier,
            reasons,
            next_action,
            due: due.format("%Y-%m-%d").to_string(),
        });
        Ok(())
    }
}
