//! Stage names as the pipeline file writes them, and how each is built from the configuration.

use super::Stage;
use crate::config::{ConfigError, Origin, PipelineConfig};
use crate::extract::lexicon::Lexicons;
use crate::extract::{
    budget::BudgetStage, entities::EntitiesStage, facts::FactsStage, roles::RolesStage,
    signals::SignalRulesStage,
};
use crate::profile::{
    forecast::ForecastStage, metrics::MetricsStage, priority::PriorityStage, tags::TagsStage,
};
use crate::speakers::{LanguageStage, SpeakerRolesStage, TranscriptStage};

pub const STAGE_NAMES: &[&str] = &[
    "transcribe",
    "transcript",
    "speaker_roles",
    "language",
    "metrics",
    "entities",
    "budget",
    "signals",
    "classifier",
    "facts",
    "roles",
    "tags",
    "priority",
    "forecast",
];

pub fn build(
    name: &str,
    c: &PipelineConfig,
    lexicons: &Lexicons,
) -> Result<Box<dyn Stage>, ConfigError> {
    Ok(match name {
        "transcribe" => Box::new(crate::asr::stage::TranscribeStage::build(c)),
        "transcript" => Box::new(TranscriptStage),
        "speaker_roles" => Box::new(SpeakerRolesStage::build(c)),
        "language" => Box::new(LanguageStage),
        "metrics" => Box::new(MetricsStage),
        "entities" => Box::new(EntitiesStage::build(c, lexicons)?),
        "budget" => Box::new(BudgetStage::build(c, lexicons)?),
        "signals" => Box::new(SignalRulesStage::build(c, lexicons)?),
        "classifier" => Box::new(crate::classify::stage::ClassifierStage::build(c, lexicons)?),
        "facts" => Box::new(FactsStage::build(c, lexicons)?),
        "roles" => Box::new(RolesStage::build(c, lexicons)?),
        "tags" => Box::new(TagsStage::build(c)),
        "priority" => Box::new(PriorityStage::build(c)),
        "forecast" => Box::new(ForecastStage::build(c)),
        other => {
            return Err(ConfigError::Invalid {
                origin: Origin {
                    file: c.path.display().to_string(),
                    entry: "pipeline.stages".into(),
                },
                reason: format!(
                    "unknown stage `{other}` (known: {})",
                    STAGE_NAMES.join(", ")
                ),
            })
        }
    })
}
