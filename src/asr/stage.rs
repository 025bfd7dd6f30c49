//! The `transcribe` stage: an audio source becomes timed, attributed turns in
//! `Context::raw_turns`; any other source passes through untouched for the `transcript` stage.
//!
//! The Whisper model is loaded on the first audio file a pipeline sees (so transcript-only
//! runs never need a model) and then shared by every later analysis through an `Arc`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::attribution::Attributor;
use super::transcribe::{DecodeOptions, Engine};
use super::{audio, models, AsrError};
use crate::config::{AsrLanguage, AsrSection, PipelineConfig};
use crate::conversation::Language;
use crate::pipeline::context::Source;
use crate::pipeline::{AnalyzeError, Context, Stage};

/// Whole-recording RMS under this (about -80 dBFS) is digital silence: not worth a model.
const SILENCE_RMS: f64 = 1e-4;

/// Per-run choices from the command line that override `[asr]`.
#[derive(Debug, Clone, Default)]
pub struct AsrOptions {
    /// A model name or path, instead of `[asr] model`.
    pub model: Option<String>,
    /// The models directory, instead of `$DEALERSCOPE_MODELS` / the user data dir.
    pub models_dir: Option<PathBuf>,
}

/// The engine loaded for one (model, VAD) pair.
struct Loaded {
    model: PathBuf,
    vad: Option<PathBuf>,
    engine: Arc<Engine>,
}

pub struct TranscribeStage {
    settings: AsrSection,
    attributor: Attributor,
    loaded: Mutex<Option<Loaded>>,
}

impl TranscribeStage {
    pub fn build(c: &PipelineConfig) -> Self {
        TranscribeStage {
            settings: c.asr.clone(),
            attributor: Attributor::new(&c.asr.attribution),
            loaded: Mutex::new(None),
        }
    }

    fn threads(&self) -> u16 {
        self.settings.threads.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get().min(8) as u16)
                .unwrap_or(2)
        })
    }

    /// The shared engine for this run's model, fetching and loading it on first use.
    fn engine(&self, opts: &AsrOptions) -> Result<Arc<Engine>, AsrError> {
        let dir = models::models_dir(opts.models_dir.as_deref())?;
        let setting = opts.model.as_deref().unwrap_or(&self.settings.model);
        let model = models::ensure(setting, &dir)?;
        let vad = if self.settings.vad {
            Some(models::ensure("vad", &dir)?)
        } else {
            None
        };
        // A poisoned lock only means a panic elsewhere mid-load; the slot is still valid.
        let mut slot = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(l) = slot.as_ref().filter(|l| l.model == model && l.vad == vad) {
            return Ok(Arc::clone(&l.engine));
        }
        // whisper.cpp and ggml log every load step to stderr; route them to nothing so the
        // CLI keeps its one-line error contract (safe to call repeatedly).
        whisper_rs::install_logging_hooks();
        let started = std::time::Instant::now();
        let engine = Arc::new(Engine::load(&model, vad.as_deref(), self.threads())?);
        tracing::debug!(model = %model.display(), elapsed_ms = started.elapsed().as_secs_f64() * 1e3, "whisper model loaded");
        *slot = Some(Loaded {
            model,
            vad,
            engine: Arc::clone(&engine),
        });
        Ok(engine)
    }

    fn transcribe(
        &self,
        path: &Path,
        cx: &Context,
    ) -> Result<Vec<crate::transcript::RawTurn>, AsrError> {
        let name = path.display().to_string();
        let started = std::time::Instant::now();
        let audio = audio::load(path, self.settings.max_duration_s)?;
        if audio.rms() < SILENCE_RMS {
            return Err(AsrError::NoSpeech(name));
        }
        let engine = self.engine(&cx.options.asr)?;
        let language = cx.options.language.or(match self.settings.language {
            AsrLanguage::Auto => None,
            AsrLanguage::En => Some(Language::En),
            AsrLanguage::Zh => Some(Language::Zh),
        });
        let opts = DecodeOptions {
            language,
            initial_prompt_zh: Some(self.settings.initial_prompt_zh.clone()),
            threads: self.threads(),
            max_fallbacks: self.settings.max_fallbacks,
        };
        let transcript = engine.transcribe(&audio.samples, &opts)?;
        tracing::debug!(
            audio_s = audio.duration_secs(),
            segments = transcript.segments.len(),
            dropped = transcript.dropped,
            language = transcript.language.code(),
            elapsed_ms = started.elapsed().as_secs_f64() * 1e3,
            "transcribed"
        );
        for s in &transcript.segments {
            tracing::debug!(start = s.start, end = s.end, pause_before = s.pause_before, text = %s.text, "segment");
        }
        if transcript.segments.is_empty() {
            return Err(AsrError::NoSpeech(name));
        }
        Ok(self
            .attributor
            .attribute(&transcript.segments, audio.energy.as_ref()))
    }
}

impl Stage for TranscribeStage {
    fn name(&self) -> &'static str {
        "transcribe"
    }

    fn run(&self, cx: &mut Context) -> Result<(), AnalyzeError> {
        if !cx.raw_turns.is_empty() {
            return Ok(());
        }
        let path = match &cx.source {
            Source::File(p) if super::is_audio_path(p) => p.clone(),
            _ => return Ok(()), // a transcript: the `transcript` stage reads it
        };
        cx.raw_turns = self.transcribe(&path, cx)?;
        Ok(())
    }
}
