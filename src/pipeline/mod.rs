//! The pipeline: stages behind one trait, assembled in the order the pipeline file lists them.

pub(crate) mod context;
mod registry;

use std::path::Path;
use std::sync::Arc;

pub use context::{add_guessed_role, Context, Detections, Found};
pub use registry::STAGE_NAMES;

use crate::analysis::Analysis;
use crate::config::{ConfigError, PipelineConfig};
use crate::conversation::Language;
use crate::transcript::TranscriptError;

#[derive(Debug, thiserror::Error)]
pub enum AnalyzeError {
    #[error(transparent)]
    Transcript(#[from] TranscriptError),
    #[error("{0}")]
    Unsupported(String),
    #[error("{0} has no customer turn: nothing to profile (speakers must be written `Customer:` / `客户:`, see the pipeline's [speakers])")]
    NoCustomerTurn(String),
    #[error("{0}: no customer speech recognised: speaker attribution gave every segment to the salesperson (a one-sided recording? see [asr.attribution])")]
    NoCustomerInRecording(String),
    #[error(transparent)]
    Asr(#[from] crate::asr::AsrError),
    #[error(transparent)]
    Classify(#[from] crate::classify::ClassifyError),
    #[error("stage `{stage}` failed: {reason}")]
    Stage { stage: &'static str, reason: String },
}

/// One step of the analysis. Stages are built once from their pipeline section and shared.
pub trait Stage: Send + Sync {
    fn name(&self) -> &'static str;
    fn run(&self, cx: &mut Context) -> Result<(), AnalyzeError>;
}

/// What a caller knows about a conversation beyond its file.
#[derive(Debug, Clone, Default)]
pub struct AnalyzeOptions {
    pub language: Option<Language>,
    /// The day the conversation took place; next-action due dates count from it.
    pub date: Option<chrono::NaiveDate>,
    /// Model choices for audio sources.
    pub asr: crate::asr::stage::AsrOptions,
}

pub struct Pipeline {
    config: Arc<PipelineConfig>,
    stages: Vec<Box<dyn Stage>>,
}

impl Pipeline {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let started = std::time::Instant::now();
        let config = PipelineConfig::load(path)?;
        tracing::debug!(
            elapsed_ms = started.elapsed().as_secs_f64() * 1e3,
            "pipeline file read and validated"
        );
        Self::from_config(config)
    }

    pub fn from_config(config: PipelineConfig) -> Result<Self, ConfigError> {
        let config = Arc::new(config);
        let lexicons = crate::extract::lexicon::Lexicons::compile(&config)?;
        let stages = config
            .pipeline
            .stages
            .iter()
            .map(|name| {
                let started = std::time::Instant::now();
                let stage = registry::build(name, &config, &lexicons);
                tracing::debug!(stage = %name, elapsed_ms = started.elapsed().as_secs_f64() * 1e3, "stage built");
                stage
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Pipeline { config, stages })
    }

    pub fn config(&self) -> &PipelineConfig {
        &self.config
    }

    pub fn stage_names(&self) -> Vec<&'static str> {
        self.stages.iter().map(|s| s.name()).collect()
    }

    pub fn analyze_file(
        &self,
        path: &Path,
        options: &AnalyzeOptions,
    ) -> Result<Analysis, AnalyzeError> {
        self.run(Context::for_file(path, options))
    }

    /// Analyses a transcript already in memory (`name` decides the format by its extension).
    pub fn analyze_text(
        &self,
        name: &str,
        text: &str,
        options: &AnalyzeOptions,
    ) -> Result<Analysis, AnalyzeError> {
        self.run(Context::for_text(name, text, options))
    }

    fn run(&self, mut cx: Context) -> Result<Analysis, AnalyzeError> {
        for stage in &self.stages {
            let _span = tracing::debug_span!("stage", name = stage.name()).entered();
            stage.run(&mut cx)?;
        }
        Ok(cx.into_analysis(&self.config))
    }
}
