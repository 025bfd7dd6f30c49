//! The forecast: the opportunity's stage, the chance of a purchase within 30 days and its
//! expected value. [`ForecastRules`] is shared by the per-conversation stage and the customer
//! profile.

use std::collections::BTreeMap;

use crate::analysis::{Budget, BudgetKind, Forecast, Stage as DealStage};
use crate::config::{ForecastSection, Model, PipelineConfig};
use crate::conversation::Language;
use crate::extract::gazetteer::fold;
use crate::pipeline::{AnalyzeError, Context, Stage};

use super::condition::{evaluate, Facts};

/// The pipeline's `[forecast]` section, with the model prices and default currencies it needs.
#[derive(Debug, Clone, Copy)]
pub struct ForecastRules<'c> {
    section: &'c ForecastSection,
    models: &'c [Model],
    default_currency: &'c BTreeMap<String, String>,
}

impl<'c> ForecastRules<'c> {
    pub fn new(c: &'c PipelineConfig) -> Self {
        ForecastRules {
            section: &c.forecast,
            models: &c.models,
            default_currency: &c.pipeline.default_currency,
        }
    }

    /// The first stage rule that holds, else browsing.
    pub fn stage<E: Copy + Ord>(&self, facts: &Facts<E>) -> DealStage {
        self.section
            .stages
            .iter()
            .find(|s| evaluate(&s.when, facts).is_some())
            .map_or(DealStage::Browsing, |s| s.stage)
    }

    /// The deal's currency: the budget's, else the language's default.
    pub fn currency(&self, budget: Option<&Budget>, lang: Language) -> String {
        budget
            .map(|b| b.currency.clone())
            .or_else(|| self.default_currency.get(lang.code()).cloned())
            .unwrap_or_else(|| "USD".into())
    }

    /// The deal's size (in [`Self::currency`]): the budget, else the list price of the first wanted model the
    /// gazetteer prices in the deal's currency, else the pipeline's default.
    pub fn deal_value<'a>(
        &self,
        budget: Option<&Budget>,
        lang: Language,
        wanted_models: impl IntoIterator<Item = &'a str>,
    ) -> f64 {
        let f = self.section;
        let currency = self.currency(budget, lang);
        if let Some(b) = budget {
            if let Some(mid) = b.midpoint() {
                match b.kind {
                    BudgetKind::Total => return mid,
                    BudgetKind::Monthly => return mid * f.months_for_monthly,
                    BudgetKind::Down => {}
                }
            }
        }
        let wanted = wanted_models.into_iter().find_map(|v| {
            let folded = fold(v);
            self.models.iter().find(|m| {
                fold(&m.name) == folded || m.name_zh.as_deref().map(fold) == Some(folded.clone())
            })
        });
        if let Some((price, _)) = wanted
            .and_then(|m| m.price.zip(m.currency.as_ref()))
            .filter(|(_, c)| **c == currency)
        {
            return price;
        }
        f.default_deal_value.get(&currency).copied().unwrap_or(0.0)
    }

    /// The stage's 30-day probability, moved by the priority score (none counts as average);
    /// a settled outcome (won, lost) is a fact, not a likelihood, so the score does not move it.
    pub fn forecast(&self, stage: DealStage, score: Option<u32>, deal_value: f64) -> Forecast {
        let f = self.section;
        let base = f.p30.get(stage.name()).copied().unwrap_or(0.0);
        let p30 = if matches!(stage, DealStage::Won | DealStage::Lost) {
            base
        } else {
            let score = score.map_or(50.0, f64::from);
            (base * (1.0 + f.score_influence * (score - 50.0) / 50.0)).clamp(0.0, 0.99)
        };
        let p30 = (p30 * 100.0).round() / 100.0;
        Forecast {
            stage,
            p30,
            expected_value: (deal_value * p30).round(),
        }
    }
}

pub struct ForecastStage {
    section: ForecastSection,
    models: Vec<Model>,
    default_currency: BTreeMap<String, String>,
}

impl ForecastStage {
    pub fn build(c: &PipelineConfig) -> Self {
        ForecastStage {
            section: c.forecast.clone(),
            models: c.models.clone(),
            default_currency: c.pipeline.default_currency.clone(),
        }
    }
}

impl Stage for ForecastStage {
    fn name(&self) -> &'static str {
        "forecast"
    }

    fn run(&self, cx: &mut Context) -> Result<(), AnalyzeError> {
        let present = cx.present();
        let facts = Facts::of(cx, &present);
        let rules = ForecastRules {
            section: &self.section,
            models: &self.models,
            default_currency: &self.default_currency,
        };
        let stage = rules.stage(&facts);
        let value = rules.deal_value(
            cx.budget.as_ref(),
            cx.language,
            cx.detections.values("pref.model"),
        );
        let score = cx.priority.as_ref().map(|p| p.score);
        cx.forecast = Some(rules.forecast(stage, score, value));
        Ok(())
    }
}
