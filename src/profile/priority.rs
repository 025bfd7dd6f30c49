//! Follow-up priority: a 0–100 score as a weighted sum of signals, its tier, the reasons as
//! signed contributions, and the next action with its due date. [`PriorityRules`] is shared by
//! the per-conversation stage and the customer profile, which differ only in what is present.

use chrono::NaiveDate;

use crate::analysis::{Priority, Tier};
use crate::config::{NextActionRule, PipelineConfig, PrioritySection};
use crate::conversation::Language;
use crate::pipeline::{AnalyzeError, Context, Stage};

use super::condition::{evaluate, Facts};

/// What a next action's `{who}`, `{model}` and `{competitor}` become; a missing value reads
/// naturally ("the decision maker", "the car").
#[derive(Debug, Clone, Default)]
pub struct Mentions {
    pub who: Option<String>,
    pub model: Option<String>,
    pub competitor: Option<String>,
}

impl Mentions {
    fn fill(&self, template: &str, lang: Language) -> String {
        let zh = lang == Language::Zh;
        let or = |v: &Option<String>, en: &str, zh_text: &str| {
            v.clone()
                .unwrap_or_else(|| if zh { zh_text } else { en }.to_string())
        };
        template
            .replace("{who}", &or(&self.who, "the decision maker", "家人"))
            .replace("{model}", &or(&self.model, "the car", "意向车型"))
            .replace(
                "{competitor}",
                &or(&self.competitor, "the competition", "竞品"),
            )
    }
}

/// The pipeline's `[priority]` section and next-action rules.
#[derive(Debug, Clone, Copy)]
pub struct PriorityRules<'c> {
    section: &'c PrioritySection,
    next_actions: &'c [NextActionRule],
}

impl<'c> PriorityRules<'c> {
    pub fn new(c: &'c PipelineConfig) -> Self {
        PriorityRules {
            section: &c.priority,
            next_actions: &c.next_actions,
        }
    }

    /// The priority of whatever `facts` holds; the next action falls due its rule's number of
    /// days after `from`.
    pub fn compute<E: Copy + Ord>(
        &self,
        facts: &Facts<E>,
        lang: Language,
        mentions: &Mentions,
        from: NaiveDate,
    ) -> Priority {
        let p = self.section;
        let zh = lang == Language::Zh;
        let mut score = p.base;
        let mut contributions: Vec<(f64, String)> = Vec::new();
        for w in p.weights.iter().filter(|w| facts.has(&w.signal)) {
            score += w.points;
            let why = if zh { &w.reason_zh } else { &w.reason_en };
            contributions.push((w.points, why.clone()));
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
            .find(|r| evaluate(&r.when, facts).is_some())
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
            .find(|a| evaluate(&a.when, facts).is_some());
        let (next_action, due) = match action {
            Some(a) => (
                mentions.fill(if zh { &a.zh } else { &a.en }, lang),
                from + chrono::Duration::days(a.due_days),
            ),
            None => (String::new(), from),
        };
        Priority {
            score: score as u32,
            tier,
            reasons,
            next_action,
            due: due.format("%Y-%m-%d").to_string(),
        }
    }
}

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

/// The first value the conversation gave each placeholder; who must approve, else who decides.
fn mentions(cx: &Context) -> Mentions {
    let first = |id: &str| cx.detections.values(id).next().map(str::to_string);
    Mentions {
        who: first("obj.approval").or_else(|| {
            cx.roles
                .iter()
                .find(|r| r.id == "role.decision_maker")
                .map(|r| r.who.clone())
        }),
        model: first("pref.model"),
        competitor: first("obj.competitor"),
    }
}

impl Stage for PriorityStage {
    fn name(&self) -> &'static str {
        "priority"
    }

    fn run(&self, cx: &mut Context) -> Result<(), AnalyzeError> {
        let present = cx.present();
        let facts = Facts::of(cx, &present);
        let rules = PriorityRules {
            section: &self.section,
            next_actions: &self.next_actions,
        };
        let priority = rules.compute(&facts, cx.language, &mentions(cx), cx.today());
        cx.priority = Some(priority);
        Ok(())
    }
}
