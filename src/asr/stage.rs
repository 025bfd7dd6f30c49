//! The `transcribe` stage: an audio source becomes timed, attributed turns in
//! `Context::raw_turns`; any other source passes through untouched for the `transcript` stage.
//!
//! The Whisper model is loaded on the first audio file a pipeline sees (so transcript-only
//! runs never need a model) and then shared by every later analysis through an `Arc`. The
//! recording is decoded and transcribed in windows ([`WINDOW_SECS`]), so memory does not grow
//! with its length; the first window with speech fixes the language for the rest.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::attribution::Attributor;
use super::transcribe::{DecodeOptions, Engine, Segment};
use super::voice::VoiceEncoder;
use super::{audio, models, AsrError};
use crate::config::{AsrLanguage, AsrSection, PipelineConfig};
use crate::conversation::Language;
use crate::pipeline::context::Source;
use crate::pipeline::{AnalyzeError, Context, Stage};

/// A window whose RMS is under this (about -80 dBFS) is digital silence: not worth a model.
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
    /// The voice encoder and the file it came from, loaded with the first recording.
    voice: Mutex<Option<(PathBuf, Arc<VoiceEncoder>)>>,
}

impl TranscribeStage {
    pub fn build(c: &PipelineConfig) -> Self {
        TranscribeStage {
            settings: c.asr.clone(),
            attributor: Attributor::new(&c.asr.attribution),
            loaded: Mutex::new(None),
            voice: Mutex::new(None),
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

    /// The shared voice encoder, fetching and loading it on first use.
    fn voice_encoder(&self, opts: &AsrOptions) -> Result<Arc<VoiceEncoder>, AsrError> {
        let dir = models::models_dir(opts.models_dir.as_deref())?;
        let path = models::ensure("voice", &dir)?;
        let mut slot = self.voice.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, enc)) = slot.as_ref().filter(|(p, _)| *p == path) {
            return Ok(Arc::clone(enc));
        }
        let enc = Arc::new(
            VoiceEncoder::load(&path).map_err(|e| models::ModelError::Corrupt {
                path: path.display().to_string(),
                name: "voice".into(),
                reason: e.to_string(),
            })?,
        );
        *slot = Some((path, Arc::clone(&enc)));
        Ok(enc)
    }

    fn transcribe(
        &self,
        path: &Path,
        cx: &Context,
    ) -> Result<Vec<crate::transcript::RawTurn>, AsrError> {
        let name = path.display().to_string();
        let started = std::time::Instant::now();
        let mut stream = audio::AudioStream::open(path, self.settings.max_duration_s)?;
        let mut opts = DecodeOptions {
            language: cx.options.language.or(match self.settings.language {
                AsrLanguage::Auto => None,
                AsrLanguage::En => Some(Language::En),
                AsrLanguage::Zh => Some(Language::Zh),
            }),
            initial_prompt_zh: Some(self.settings.initial_prompt_zh.clone()),
            threads: self.threads(),
            max_fallbacks: self.settings.max_fallbacks,
        };
        let rate = audio::WHISPER_RATE as usize;
        let mut engine: Option<Arc<Engine>> = None;
        let mut encoder: Option<Arc<VoiceEncoder>> = None;
        let mut segments: Vec<Segment> = Vec::new();
        let mut voices: Vec<Option<Vec<f32>>> = Vec::new();
        let mut embed_secs = 0.0;
        let mut dropped = 0;
        // Samples before `window` on the recording's clock.
        let mut offset = 0usize;
        let mut window: Vec<f32> = Vec::new();
        loop {
            let wanted = WINDOW_SECS * rate - window.len();
            let more = stream.read(wanted)?;
            let at_end = more.len() < wanted;
            window.extend_from_slice(&more);
            drop(more);
            let cut = if at_end {
                window.len()
            } else {
                quiet_cut(&window, CUT_SEARCH_SECS * rate)
            };
            let rest = window.split_off(cut);
            // Digital silence is not worth a model (and needs none: a silent file never
            // loads one); a sliver shorter than a word is skipped too.
            if window.len() as f64 >= audio::MIN_SECS * rate as f64 && rms(&window) >= SILENCE_RMS {
                let engine = match &engine {
                    Some(e) => Arc::clone(e),
                    None => Arc::clone(engine.insert(self.engine(&cx.options.asr)?)),
                };
                let t = engine.transcribe(&window, &opts)?;
                // The first window with speech decides the language for the rest.
                opts.language.get_or_insert(t.language);
                dropped += t.dropped;
                let shift = offset as f64 / rate as f64;
                let mut shifted = t.segments;
                for (i, s) in shifted.iter_mut().enumerate() {
                    s.start += shift;
                    s.end += shift;
                    s.words.iter_mut().for_each(|w| {
                        w.start += shift;
                        w.end += shift;
                    });
                    if let (0, Some(prev)) = (i, segments.last()) {
                        s.pause_before = (s.start - prev.end).max(0.0);
                    }
                }
                if self.attributor.uses_voices() && encoder.is_none() && !shifted.is_empty() {
                    encoder = Some(self.voice_encoder(&cx.options.asr)?);
                }
                let embed_started = std::time::Instant::now();
                let (pieces, piece_voices) = self.attributor.split_and_embed(
                    shifted,
                    stream.energy().as_ref(),
                    encoder.as_deref(),
                    &window,
                    shift,
                );
                embed_secs += embed_started.elapsed().as_secs_f64();
                segments.extend(pieces);
                voices.extend(piece_voices);
            }
            offset += window.len();
            window = rest;
            if at_end && window.is_empty() {
                break;
            }
        }
        tracing::debug!(
            audio_s = offset as f64 / rate as f64,
            segments = segments.len(),
            dropped,
            language = opts.language.map(|l| l.code()),
            elapsed_ms = started.elapsed().as_secs_f64() * 1e3,
            split_and_embed_ms = embed_secs * 1e3,
            "transcribed"
        );
        for s in &segments {
            tracing::debug!(start = s.start, end = s.end, pause_before = s.pause_before, text = %s.text, "segment");
        }
        if segments.is_empty() {
            return Err(AsrError::NoSpeech(name));
        }
        Ok(self.attributor.attribute(
            &segments,
            stream.energy().as_ref(),
            encoder.is_some().then_some(voices.as_slice()),
        ))
    }
}

/// Audio is decoded and transcribed this many seconds at a time, so memory stays bounded
/// whatever the recording's length (about 20 MB of samples per window; whisper.cpp itself
/// works through each window in 30-s pieces).
const WINDOW_SECS: usize = 300;

/// A window ends at the quietest 100 ms of its last seconds, not in the middle of a word.
const CUT_SEARCH_SECS: usize = 10;

/// Where to end a window: the middle of its quietest 100-ms frame among the last
/// `search` samples.
fn quiet_cut(window: &[f32], search: usize) -> usize {
    let frame = audio::WHISPER_RATE as usize / 10;
    let from = window.len().saturating_sub(search);
    window[from..]
        .chunks_exact(frame)
        .enumerate()
        .min_by(|a, b| energy(a.1).total_cmp(&energy(b.1)))
        .map_or(window.len(), |(i, _)| from + i * frame + frame / 2)
}

fn energy(samples: &[f32]) -> f64 {
    samples.iter().map(|&x| f64::from(x) * f64::from(x)).sum()
}

fn rms(samples: &[f32]) -> f64 {
    (energy(samples) / samples.len().max(1) as f64).sqrt()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_end_in_the_quietest_spot_near_their_end() {
        let rate = audio::WHISPER_RATE as usize;
        let mut w = vec![0.3f32; 20 * rate];
        // A pause 4 s before the end, and a quieter one outside the search range.
        w[16 * rate..16 * rate + rate / 5].fill(0.01);
        w[2 * rate..3 * rate].fill(0.0);
        let cut = quiet_cut(&w, 10 * rate);
        assert!((16 * rate..16 * rate + rate / 5).contains(&cut), "{cut}");
        assert_eq!(
            quiet_cut(&w[..100], 10 * rate),
            100,
            "shorter than a frame: keep it whole"
        );
    }
}
