//! Local transcription with whisper.cpp (through whisper-rs), with Silero voice activity
//! detection in front of it and a filter for Whisper's known failure modes behind it.
//!
//! VAD is run here, not through `FullParams::enable_vad`: whisper-rs' `WhisperState::full`
//! calls `whisper_full_with_state`, and in whisper.cpp 1.8 only `whisper_full` (the
//! context-level entry point) applies the VAD settings, so the flag is silently ignored.
//! Speech spans are concatenated with short silent gaps (as whisper.cpp itself does) and
//! segment times are mapped back to the recording's timeline.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use whisper_rs::{
    FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters, WhisperVadContext,
    WhisperVadContextParams, WhisperVadParams,
};

use super::audio::WHISPER_RATE;
use crate::conversation::Language;

/// Errors raised while loading a model or transcribing.
#[derive(Debug, thiserror::Error)]
pub enum TranscribeError {
    #[error("whisper.cpp could not load {path}: {reason}")]
    Load { path: String, reason: String },
    #[error("transcription failed: {0}")]
    Whisper(#[from] whisper_rs::WhisperError),
    #[error("{0} must not contain NUL bytes")]
    Nul(&'static str),
    #[error("the model {0} is English-only and cannot transcribe Mandarin; use `model = \"base\"` in [asr] (or --model base)")]
    EnglishOnly(String),
    #[error("{0} samples is not a transcribable length")]
    Length(usize),
}

/// Decoding settings (from the pipeline's `[asr]` section and the command line).
#[derive(Debug, Clone)]
pub struct DecodeOptions {
    /// `None`: detect, choosing between English and Mandarin only.
    pub language: Option<Language>,
    /// Given to Whisper for Mandarin: without it, the multilingual models often write
    /// traditional characters.
    pub initial_prompt_zh: Option<String>,
    pub threads: u16,
    /// Re-decodes at a higher temperature when a window fails whisper.cpp's quality checks
    /// (compression ratio, log-probability). whisper.cpp always climbs to temperature 1.0,
    /// so the cap is on the number of retries: the step is 1/N. 0 disables the fallback.
    pub max_fallbacks: u8,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            language: None,
            initial_prompt_zh: Some("以下是普通话的句子。".into()),
            threads: 2,
            max_fallbacks: 2,
        }
    }
}

/// One transcribed stretch of speech, times in seconds on the recording's timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub start: f64,
    pub end: f64,
    pub text: String,
    /// Silence before this segment, in seconds. With VAD, measured between speech spans
    /// (Whisper's own timestamps run on without gaps); without, from the timestamps.
    pub pause_before: f64,
    /// The segment's words with their times (Whisper's token timestamps), in order; their
    /// texts concatenated give `text` (before trimming). Empty when unknown.
    pub words: Vec<Word>,
}

/// One word (English: a space-led run of tokens; Mandarin: one token's characters) and where
/// it was said, on the recording's timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Word {
    pub start: f64,
    pub end: f64,
    /// With its leading space, if any.
    pub text: String,
}

#[derive(Debug, Clone)]
pub struct Transcript {
    pub segments: Vec<Segment>,
    pub language: Language,
    /// Segments dropped as hallucinations (repetition loops, non-speech annotations).
    pub dropped: usize,
}

/// A loaded Whisper model, plus the VAD model when configured. Built once per pipeline and
/// shared: whisper.cpp contexts are read-only during inference (each call gets its own state).
pub struct Engine {
    ctx: WhisperContext,
    name: String,
    vad: Option<Mutex<WhisperVadContext>>,
}

impl Engine {
    /// Loads a Whisper model (and optionally a VAD model). Both files must already have passed
    /// [`super::models::validate`]: whisper.cpp aborts the process on malformed files.
    pub fn load(model: &Path, vad: Option<&Path>, threads: u16) -> Result<Self, TranscribeError> {
        Self::load_with(model, vad, threads, false)
    }

    /// [`Engine::load`], choosing whisper.cpp's flash-attention kernels (whisper.cpp's CLI
    /// default; whisper-rs' default is off).
    pub fn load_with(
        model: &Path,
        vad: Option<&Path>,
        threads: u16,
        flash_attn: bool,
    ) -> Result<Self, TranscribeError> {
        let path_str = |p: &Path| -> Result<String, TranscribeError> {
            let s = p
                .to_str()
                .ok_or(TranscribeError::Nul("model path (non UTF-8)"))?;
            if s.contains('\0') {
                return Err(TranscribeError::Nul("model path"));
            }
            Ok(s.to_string())
        };
        let model_s = path_str(model)?;
        let mut cparams = WhisperContextParameters::default();
        cparams.flash_attn(flash_attn);
        let ctx = WhisperContext::new_with_params(&model_s, cparams).map_err(|e| {
            TranscribeError::Load {
                path: model_s.clone(),
                reason: e.to_string(),
            }
        })?;
        let vad = match vad {
            Some(v) => {
                let v_s = path_str(v)?;
                let mut p = WhisperVadContextParams::new();
                p.set_n_threads(i32::from(threads.max(1)));
                let ctx = WhisperVadContext::new(&v_s, p).map_err(|e| TranscribeError::Load {
                    path: v_s.clone(),
                    reason: e.to_string(),
                })?;
                Some(Mutex::new(ctx))
            }
            None => None,
        };
        let name = model
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("model")
            .to_string();
        Ok(Engine { ctx, name, vad })
    }

    pub fn is_multilingual(&self) -> bool {
        self.ctx.is_multilingual()
    }

    /// Speech spans (seconds) found by the VAD, or the whole recording without one.
    pub fn speech_spans(&self, samples: &[f32]) -> Result<Vec<(f64, f64)>, TranscribeError> {
        let whole = vec![(0.0, samples.len() as f64 / f64::from(WHISPER_RATE))];
        let Some(vad) = &self.vad else {
            return Ok(whole);
        };
        if samples.is_empty() || i32::try_from(samples.len()).is_err() {
            return Err(TranscribeError::Length(samples.len()));
        }
        // A poisoned lock only means another thread panicked mid-detection; the context is
        // reset by every detection, so it is safe to keep using.
        let mut ctx = vad.lock().unwrap_or_else(|p| p.into_inner());
        let mut params = WhisperVadParams::new();
        // Keep turns apart: a pause of 300 ms between two speakers should split the span.
        params.set_min_silence_duration(300);
        params.set_speech_pad(SPEECH_PAD_MS);
        let segs = ctx.segments_from_samples(params, samples)?;
        // Timestamps come back in centiseconds.
        Ok(segs
            .map(|s| (f64::from(s.start) / 100.0, f64::from(s.end) / 100.0))
            .filter(|(a, b)| b > a)
            .collect())
    }

    /// Transcribes 16 kHz mono samples.
    pub fn transcribe(
        &self,
        samples: &[f32],
        opts: &DecodeOptions,
    ) -> Result<Transcript, TranscribeError> {
        if samples.is_empty() || i32::try_from(samples.len()).is_err() {
            // whisper.cpp can crash on an empty buffer.
            return Err(TranscribeError::Length(samples.len()));
        }
        let spans = self.speech_spans(samples)?;
        let (speech, map) = splice(samples, &spans);
        if speech.len() < (WHISPER_RATE / 10) as usize {
            return Ok(Transcript {
                segments: Vec::new(),
                language: opts.language.unwrap_or(Language::En),
                dropped: 0,
            });
        }
        let threads = i32::from(opts.threads.max(1));
        let mut state = self.ctx.create_state()?;
        let language = match opts.language {
            Some(Language::Zh) if !self.is_multilingual() => {
                return Err(TranscribeError::EnglishOnly(self.name.clone()))
            }
            Some(l) => l,
            None if !self.is_multilingual() => Language::En,
            None => {
                // Whisper's detector knows ~100 languages; the product handles two, so
                // compare only those (a Mandarin speaker with an accent is not Cantonese).
                state.pcm_to_mel(&speech, threads as usize)?;
                let (_, probs) = state.lang_detect(0, threads as usize)?;
                let p = |code: &str| {
                    whisper_rs::get_lang_id(code)
                        .and_then(|id| probs.get(usize::try_from(id).ok()?).copied())
                        .unwrap_or(0.0)
                };
                if p("zh") > p("en") {
                    Language::Zh
                } else {
                    Language::En
                }
            }
        };
        let mut params = FullParams::new(SamplingStrategy::Greedy { best_of: 1 });
        params.set_n_threads(threads);
        params.set_print_progress(false);
        params.set_print_realtime(false);
        params.set_print_special(false);
        params.set_print_timestamps(false);
        params.set_suppress_nst(true);
        // Word times let attribution split a segment where the speaker changes inside it.
        params.set_token_timestamps(true);
        params.set_language(Some(language.code()));
        params.set_temperature_inc(match opts.max_fallbacks {
            0 => 0.0,
            n => 1.0 / f32::from(n),
        });
        if language == Language::Zh {
            if let Some(p) = opts.initial_prompt_zh.as_deref().filter(|p| !p.is_empty()) {
                // whisper-rs panics on an interior NUL.
                if p.contains('\0') {
                    return Err(TranscribeError::Nul("initial_prompt_zh"));
                }
                params.set_initial_prompt(p);
            }
        }
        state.full(params, &speech)?;
        let mut segments: Vec<Segment> = Vec::new();
        let mut prev_span: Option<usize> = None;
        let mut dropped = 0;
        for seg in state.as_iter() {
            let mut text = seg.to_str_lossy()?.trim().to_string();
            if language == Language::Zh {
                // The prompt steers Whisper to simplified characters but does not guarantee
                // them (base still writes the odd 廣 for 广): convert what slips through.
                text = fast2s::convert(&text);
            }
            if is_hallucination(&text) || seg.no_speech_probability() > 0.9 {
                dropped += usize::from(!text.is_empty());
                continue;
            }
            // Whisper timestamps are centiseconds on the spliced timeline.
            let (a, b) = (
                seg.start_timestamp() as f64 / 100.0,
                seg.end_timestamp() as f64 / 100.0,
            );
            let (start, end) = (map.to_original(a), map.to_original(b.max(a)));
            let mut words = self.words(&seg, &map);
            if language == Language::Zh {
                words
                    .iter_mut()
                    .for_each(|w| w.text = fast2s::convert(&w.text));
            }
            let span = map.dominant_span(a, b.max(a));
            let pause_before = match (prev_span, segments.last()) {
                (Some(p), _) if span > p => map.silence_between(p, span),
                (_, Some(prev)) => (start - prev.end).max(0.0),
                (_, None) => 0.0,
            };
            prev_span = Some(span);
            segments.push(Segment {
                start,
                end,
                text,
                pause_before,
                words,
            });
        }
        Ok(Transcript {
            segments,
            language,
            dropped,
        })
    }
}

impl Engine {
    /// A segment's words, from its text tokens (timestamp and other special tokens skipped).
    /// Tokens are byte pieces: a word ends before a token that starts with a space, or after
    /// a token that completes a Chinese character (so a character split over two tokens
    /// stays whole).
    fn words(&self, seg: &whisper_rs::WhisperSegment<'_>, map: &TimeMap) -> Vec<Word> {
        let eot = self.ctx.token_eot();
        let mut words: Vec<Word> = Vec::new();
        let mut bytes: Vec<u8> = Vec::new();
        let mut span = (0i64, 0i64);
        let flush = |bytes: &mut Vec<u8>, span: (i64, i64), words: &mut Vec<Word>| {
            if bytes.is_empty() {
                return;
            }
            let text = String::from_utf8_lossy(bytes).into_owned();
            bytes.clear();
            let (a, b) = (span.0 as f64 / 100.0, span.1.max(span.0) as f64 / 100.0);
            words.push(Word {
                start: map.to_original(a),
                end: map.to_original(b),
                text,
            });
        };
        for i in 0..seg.n_tokens() {
            let Some(token) = seg.get_token(i) else {
                continue;
            };
            if token.token_id() >= eot {
                continue;
            }
            let Ok(piece) = token.to_bytes() else {
                continue;
            };
            let data = token.token_data();
            if piece.first() == Some(&b' ') {
                flush(&mut bytes, span, &mut words);
            }
            if bytes.is_empty() {
                span = (data.t0, data.t1);
            }
            span.1 = span.1.max(data.t1);
            bytes.extend_from_slice(piece);
            let cjk_done = std::str::from_utf8(&bytes).is_ok_and(|t| {
                t.chars().last().is_some_and(|c| {
                    crate::conversation::is_cjk(c) || (!c.is_ascii() && !c.is_alphanumeric())
                })
            });
            if cjk_done {
                flush(&mut bytes, span, &mut words);
            }
        }
        flush(&mut bytes, span, &mut words);
        words
    }
}

/// Speech kept on either side of each VAD span (milliseconds), so word edges are not cut.
const SPEECH_PAD_MS: i32 = 150;

/// Gap of silence put between two speech spans when they are spliced together: long enough
/// that Whisper ends a sentence there, short enough not to waste decoder windows.
const SPLICE_GAP_SECS: f64 = 0.5;

/// Maps times on the spliced (speech-only) timeline back to the recording.
#[derive(Debug, Clone, Default)]
pub struct TimeMap {
    /// (spliced start, original start, length) per span, in seconds.
    pieces: Vec<(f64, f64, f64)>,
}

impl TimeMap {
    /// The speech span a segment (spliced times) mostly lies in. Whisper's segment
    /// boundaries are often a few hundred milliseconds early or late, so overlap decides, not
    /// the start time.
    pub fn dominant_span(&self, a: f64, b: f64) -> usize {
        let overlap = |&(s, _, len): &(f64, f64, f64)| (b.min(s + len) - a.max(s)).max(0.0);
        self.pieces
            .iter()
            .enumerate()
            .max_by(|x, y| overlap(x.1).total_cmp(&overlap(y.1)))
            .filter(|(_, p)| overlap(p) > 0.0)
            .map(|(i, _)| i)
            .unwrap_or_else(|| {
                self.pieces
                    .iter()
                    .rposition(|&(s, _, _)| s <= a)
                    .unwrap_or(0)
            })
    }

    /// Silence in the recording between the end of span `a` and the start of span `b`. The
    /// VAD pads each span by [`SPEECH_PAD_MS`]; adding the pads back estimates the real pause.
    pub fn silence_between(&self, a: usize, b: usize) -> f64 {
        match (self.pieces.get(a), self.pieces.get(b)) {
            (Some(&(_, oa, la)), Some(&(_, ob, _))) => {
                (ob - (oa + la) + 2.0 * f64::from(SPEECH_PAD_MS) / 1000.0).max(0.0)
            }
            _ => 0.0,
        }
    }

    pub fn to_original(&self, t: f64) -> f64 {
        let mut out = t;
        for &(s, o, len) in &self.pieces {
            if t < s {
                break;
            }
            // Inside a span: shift; in the gap after it: clamp to the span's end.
            out = o + (t - s).min(len);
        }
        (out * 100.0).round() / 100.0
    }
}

/// Keeps only the speech spans, separated by [`SPLICE_GAP_SECS`] of silence.
pub fn splice(samples: &[f32], spans: &[(f64, f64)]) -> (Vec<f32>, TimeMap) {
    let rate = f64::from(WHISPER_RATE);
    let gap = vec![0f32; (SPLICE_GAP_SECS * rate) as usize];
    let mut out = Vec::with_capacity(samples.len());
    let mut map = TimeMap::default();
    for (i, &(a, b)) in spans.iter().enumerate() {
        let lo = ((a.max(0.0) * rate) as usize).min(samples.len());
        let hi = ((b.max(0.0) * rate) as usize).min(samples.len());
        if hi <= lo {
            continue;
        }
        if i > 0 && !out.is_empty() {
            out.extend_from_slice(&gap);
        }
        map.pieces.push((
            out.len() as f64 / rate,
            lo as f64 / rate,
            (hi - lo) as f64 / rate,
        ));
        out.extend_from_slice(&samples[lo..hi]);
    }
    (out, map)
}

/// Whisper's known non-speech output: annotations like `[BLANK_AUDIO]` or `(music)`, and
/// repetition loops ("the the the the …", "谢谢谢谢谢谢…") that appear on noise or when the
/// decoder gets stuck.
pub fn is_hallucination(text: &str) -> bool {
    let t = text.trim();
    if t.is_empty() || !t.chars().any(char::is_alphanumeric) {
        return true;
    }
    let bracketed = |open: char, close: char| t.starts_with(open) && t.ends_with(close);
    if bracketed('[', ']') || bracketed('(', ')') || bracketed('*', '*') || bracketed('♪', '♪')
    {
        return true;
    }
    // Repeated words or phrases: the same 1-4 word unit four or more times in a row
    // ("thank you. thank you. thank you. thank you.").
    let words: Vec<String> = t
        .split_whitespace()
        .map(|w| {
            w.trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase()
        })
        .filter(|w| !w.is_empty())
        .collect();
    if longest_run(&words, 4) >= 4 {
        return true;
    }
    // Repeated characters or short n-grams (Chinese has no spaces): the same 1-4 character
    // unit repeated 5+ times in a row.
    // Digits repeat legitimately (1000000), so they are left out.
    let chars: Vec<char> = t
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_ascii_digit())
        .collect();
    longest_run(&chars, 4) >= 5
}

/// The most times any unit of 1..=`max_unit` items repeats back to back.
fn longest_run<T: PartialEq>(items: &[T], max_unit: usize) -> usize {
    let mut best = 1;
    for unit in 1..=max_unit {
        for start in 0..unit.min(items.len()) {
            let mut run = 1;
            let mut i = start + unit;
            while i + unit <= items.len() {
                if items[i..i + unit] == items[i - unit..i] {
                    run += 1;
                    best = best.max(run);
                } else {
                    run = 1;
                }
                i += unit;
            }
        }
    }
    best
}

/// The VAD file next to a Whisper model in a models directory, when VAD is on.
pub fn vad_path(models_dir: &Path) -> PathBuf {
    models_dir.join("ggml-vad.bin")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hallucinations_are_recognised() {
        for h in [
            "[BLANK_AUDIO]",
            "(music)",
            "...",
            "the the the the the the",
            "Thank you. Thank you. Thank you. Thank you. Thank you.",
            "谢谢谢谢谢谢谢谢",
            "好的好的好的好的好的好的",
        ] {
            assert!(is_hallucination(h), "{h}");
        }
        for ok in [
            "Would you like to take it for a test drive?",
            "我们预算大概二十万左右。",
            "No, no, no, that's too much.",
            "1000",
            "It's 1000000 yuan.",
        ] {
            assert!(!is_hallucination(ok), "{ok}");
        }
    }

    #[test]
    fn splice_keeps_speech_and_maps_times_back() {
        let rate = WHISPER_RATE as usize;
        let samples = vec![0.5f32; 10 * rate];
        let (out, map) = splice(&samples, &[(1.0, 2.0), (5.0, 7.0)]);
        let gap = (SPLICE_GAP_SECS * rate as f64) as usize;
        assert_eq!(out.len(), rate + gap + 2 * rate);
        assert_eq!(map.to_original(0.0), 1.0);
        assert_eq!(map.to_original(0.5), 1.5);
        assert_eq!(map.to_original(1.0 + SPLICE_GAP_SECS), 5.0);
        assert_eq!(map.to_original(1.0 + SPLICE_GAP_SECS + 1.5), 6.5);
        // in the gap: end of the first span
        assert_eq!(map.to_original(1.2), 2.0);
        assert_eq!(map.dominant_span(0.0, 1.0), 0);
        assert_eq!(
            map.dominant_span(0.8, 3.0),
            1,
            "starts early, lies mostly in the second span"
        );
        assert_eq!(
            map.dominant_span(1.1, 1.2),
            0,
            "in the gap: the span before"
        );
        assert!((map.silence_between(0, 1) - 3.3).abs() < 1e-9);
        // no spans, nothing kept
        assert!(splice(&samples, &[]).0.is_empty());
    }
}
