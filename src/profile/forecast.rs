//! The forecast stage: the opportunity's stage, the chance of a purchase within 30 days and
//! its expected value.

use crate::analysis::{BudgetKind, Forecast, Stage as DealStage};
use crate::config::{ForecastSection, Model, PipelineConfig};
use crate::pipeline::{AnalyzeError, Context, Stage};

use super::condition::{evaluate, Facts};

pub struct ForecastStage {
    section: ForecastSection,
    models: Vec<Model>,
    default_currency: std::collections::BTreeMap<String, String>,
}

impl ForecastStage {
    pub fn build(c: &PipelineConfig) -> Self {
        ForecastStage {
            section: c.forecast.clone(),
            models: c.models.clone(),
            default_currency: c.pipeline.default_currency.clone(),
        }
    }

    /// The deal's size: the budget, else the list price of the model wanted, else a default.
    fn deal_value(&self, cx: &Context) -> f64 {
        let f = &self.section;
        let currency = cx
            .budget
            .as_ref()
            .map(|b| b.currency.clone())
            .or_else(|| self.default_currency.get(cx.language.code()).cloned())
            .unwrap_or_else(|| "USD".into());
        if let Some(b) = &cx.budget {
            if let Some(mid) = b.midpoint() {
                match b.kind {
                    BudgetKind::Total => return mid,
                    BudgetKind::Monthly => return mid * f.months_for_monthly,
                    BudgetKind::Down => {}
                }
            }
        }
        let wanted = cx.detections.values("pref.model").find_map(|v| {
            let folded = crate::extract::gazetteer::fold(v);
            self.models.iter().find(|m| {
                crate::extract::gazetteer::fold(&m.name) == folded
                    || m.name_zh.as_deref().map(crate::extract::gazetteer::fold)
                        == Some(folded.clone())
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
}

impl Stage for ForecastStage {
    fn name(&self) -> &'static str {
        "forecast"
    }

    fn run(&self, cx: &mut Context) -> Result<(), AnalyzeError> {
        let f = &self.section;
        let present = cx.present();
        let facts = Facts {
            present: &present,
            metrics: &cx.metrics,
            duration_s: cx.conversation.duration_s(),
        };
        let stage = f
            .stages
            .iter()
            .find(|s| evaluate(&s.when, &facts).is_some())
            .map_or(DealStage::Browsing, |s| s.stage);
        let name = serde_json::to_value(stage)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let base = f.p30.get(&name).copied().unwrap_or(0.0);
        let score = cx.priority.as_ref().map_or(50.0, |p| p.score as f64);
        let p30 = (base * (1.0 + f.score_influence * (score - 50.0) / 50.0)).clamp(0.0, 0.99);
        let p30 = (p30 * 100.0).round() / 100.0;
        let expected_value = (self.deal_value(cx) * p30).round();
        cx.forecast = Some(Forecast {
            stage,
            p30,
            expected_value,
        });
        Ok(())
    }
}
