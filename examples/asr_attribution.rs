//! Measures speaker attribution (`src/asr/attribution.rs`) end to end: real transcription,
//! then the pipeline's attributor, scored against known speakers.
//!
//! ```text
//! cargo run --release --example asr_attribution -- synth [--model tiny.en] [--models-dir DIR] [--threads 2] [--no-split] [--no-voices]
//! cargo run --release --example asr_attribution -- spokenwoz [--model tiny.en] [--speech DIR] [--threads 2] [--no-split] [--no-voices]
//! ```
//!
//! `--cache DIR` keeps each recording's transcript (segments with word times) in DIR and reuses
//! it on the next run, so attribution settings can be compared without transcribing again
//! (the transcription time is then not measured).
//!
//! `--no-split` keeps Whisper's segments whole (no cut at pauses or channel changes between
//! words); `--no-voices` turns voice clustering off (`voices = false`): together they give the
//! baseline before both. Each run also prints the time spent transcribing and the time spent
//! splitting and embedding voices.
//!
//! `synth`: showroom dialogues written for this tool (below), each line spoken by espeak-ng with
//! one voice per side (a different pair per dialogue), trimmed of espeak's own leading and
//! trailing silence and joined with the pauses given, as one mono 16 kHz recording. Score: the
//! share of transcribed segments whose label is the role of the line they overlap most, and
//! the share of transcribed time whose label is right (comparable whether segments are split
//! or not). Needs `espeak-ng` on PATH.
//!
//! `spokenwoz`: the real two-speaker phone calls in `shared/external/speech/spokenwoz_sample`
//! (speaker A = the caller, B = the agent; word times in `text/`). Each call is attributed twice:
//! with the channels mixed to mono (as a single showroom microphone would record it) and with
//! the stereo channels (one speaker per channel). Score: diarization error rate over 10 ms
//! frames, no collar, overlapping speech counted once (the reference speaker of a frame is the
//! one whose word covers it; a frame covered by both counts as right for either) = (missed
//! speech + false alarm + speaker confusion) / reference speech, with the better of the two
//! label→speaker mappings (the usual DER); and the role error with the fixed mapping
//! salesperson = agent (B), customer = caller (A), which is what the product needs.
//!
//! Uses the attribution settings of `pipelines/dealership.toml`. Never tune them to these files.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use dealerscope::asr::attribution::{Attributor, SALESPERSON};
use dealerscope::asr::audio::{self, ChannelEnergy, WHISPER_RATE};
use dealerscope::asr::models;
use dealerscope::asr::transcribe::{DecodeOptions, Engine, Segment, Word};
use dealerscope::asr::voice::VoiceEncoder;
use dealerscope::config::PipelineConfig;
use dealerscope::conversation::Language;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Role {
    Sales,
    Customer,
}
use Role::{Customer as C, Sales as S};

/// (sales voice, customer voice, lines: role, pause before the line in seconds, text)
type Dialogue = (
    &'static str,
    &'static str,
    &'static [(Role, f64, &'static str)],
);

const DIALOGUES: &[Dialogue] = &[
    (
        "en-us+m3",
        "en+f5",
        &[
            (S, 0.5, "Good morning, thanks for coming in. I'm Mark."),
            (
                C,
                0.6,
                "Hi Mark. We saw the new hybrid online and wanted to see it in person.",
            ),
            (S, 0.5, "Of course. It's right over here by the window."),
            (
                S,
                0.4,
                "This one is the limited trim, with the panoramic roof.",
            ),
            (
                C,
                0.7,
                "It looks bigger than I expected. Does the back seat fold flat?",
            ),
            (
                S,
                0.5,
                "It does, and the cargo floor sits level with the bumper.",
            ),
            (C, 0.9, "Okay. And what kind of mileage does it really get?"),
            (
                S,
                0.6,
                "Most owners tell us about forty miles per gallon around town.",
            ),
            (
                C,
                0.5,
                "That's good. My daughter will drive it to college too.",
            ),
            (
                S,
                0.8,
                "Then the safety package is worth a look. I can print the details for you.",
            ),
        ],
    ),
    (
        "en+f4",
        "en-us+m1",
        &[
            (S, 0.5, "Hello, are you being helped today?"),
            (C, 0.6, "Not yet. I'm interested in a used pickup truck."),
            (
                S,
                0.5,
                "We have three on the lot right now. Do you tow anything?",
            ),
            (C, 0.7, "A small boat in the summer, nothing heavy."),
            (C, 0.5, "And I'd rather stay under twenty five thousand."),
            (
                S,
                0.6,
                "The twenty nineteen model fits that, with sixty thousand miles.",
            ),
            (C, 0.8, "Has it been in any accidents?"),
            (
                S,
                0.5,
                "No, the history report is clean. I'll get you a copy.",
            ),
            (C, 0.6, "Great, can I sit in it?"),
            (
                S,
                0.5,
                "Sure, the keys are at the desk. Give me one minute.",
            ),
        ],
    ),
    (
        "en-gb+m2",
        "en-us+f3",
        &[
            (
                S,
                0.4,
                "Welcome back. Did you have a chance to think about the offer?",
            ),
            (
                C,
                0.7,
                "I did. The monthly payment is still a bit high for us.",
            ),
            (S, 0.6, "We could stretch the loan to seventy two months."),
            (C, 0.5, "How much would that save each month?"),
            (
                S,
                0.8,
                "About sixty dollars, but you pay more interest overall.",
            ),
            (C, 0.6, "Hmm. What if I put more money down instead?"),
            (
                S,
                0.5,
                "Another two thousand down brings it close to your number.",
            ),
            (C, 0.9, "Let me call my husband before we decide."),
            (S, 0.5, "Take your time. I'll be at my desk."),
        ],
    ),
    (
        "en-us+m5",
        "en-gb-x-rp+m4",
        &[
            (
                C,
                0.5,
                "Excuse me, is this the electric model everyone talks about?",
            ),
            (
                S,
                0.5,
                "Yes, it just arrived last week. Would you like to sit inside?",
            ),
            (C, 0.6, "Sure. How far does it go on a full charge?"),
            (S, 0.7, "About three hundred miles in good weather."),
            (S, 0.4, "A bit less in winter, when the heater runs."),
            (C, 0.8, "And charging at home, how long does that take?"),
            (
                S,
                0.5,
                "Overnight on a wall charger. We can arrange the installation.",
            ),
            (
                C,
                0.6,
                "I commute an hour each way, so that should be fine.",
            ),
            (S, 0.7, "Then let's book a test drive for Saturday morning."),
            (C, 0.5, "Saturday works. Nine o'clock?"),
        ],
    ),
];

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = args.first().map(String::as_str).unwrap_or("");
    let mut model = "tiny.en".to_string();
    let mut models_dir: Option<PathBuf> = None;
    let mut speech = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/external/speech");
    let mut threads: u16 = 2;
    let (mut split, mut voices) = (true, true);
    let mut cache: Option<PathBuf> = None;
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().with_context(|| format!("{a} needs a value"));
        match a.as_str() {
            "--no-split" => split = false,
            "--cache" => cache = Some(PathBuf::from(value()?)),
            "--no-voices" => voices = false,
            "--model" => model = value()?.clone(),
            "--models-dir" => models_dir = Some(value()?.into()),
            "--speech" => speech = value()?.into(),
            "--threads" => threads = value()?.parse()?,
            o => bail!("unknown option {o}"),
        }
    }
    let config = PipelineConfig::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/dealership.toml"),
    )?;
    let mut settings = config.asr.attribution.clone();
    settings.voices &= voices;
    if !split {
        settings.split_pause_s = f64::INFINITY;
    }
    let attributor = Attributor::new(&settings);
    let dir = models::models_dir(models_dir.as_deref())?;
    let encoder = if settings.voices {
        Some(VoiceEncoder::load(&models::ensure("voice", &dir)?)?)
    } else {
        None
    };
    let tools = Tools {
        attributor,
        encoder,
        split,
        cache: cache.map(|c| c.join(&model)),
    };
    whisper_rs::install_logging_hooks();
    let engine = Engine::load(
        &models::ensure(&model, &dir)?,
        Some(&models::ensure("vad", &dir)?),
        threads,
    )?;
    let opts = DecodeOptions {
        language: Some(Language::En),
        threads,
        ..DecodeOptions::default()
    };
    match mode {
        "synth" => synth(&engine, &opts, &tools),
        "spokenwoz" => spokenwoz(&engine, &opts, &tools, &speech),
        _ => bail!(
            "usage: asr_attribution synth|spokenwoz [--model M] [--models-dir D] [--speech D]"
        ),
    }
}

struct Tools {
    attributor: Attributor,
    encoder: Option<VoiceEncoder>,
    split: bool,
    cache: Option<PathBuf>,
}

fn segments_to_json(segments: &[Segment]) -> serde_json::Value {
    let words = |s: &Segment| -> Vec<serde_json::Value> {
        s.words
            .iter()
            .map(|w| serde_json::json!({"start": w.start, "end": w.end, "text": w.text}))
            .collect()
    };
    segments
        .iter()
        .map(|s| {
            serde_json::json!({"start": s.start, "end": s.end, "text": s.text,
                "pause_before": s.pause_before, "words": words(s)})
        })
        .collect()
}

fn segments_from_json(v: &serde_json::Value) -> Option<Vec<Segment>> {
    let f = |v: &serde_json::Value, k: &str| v[k].as_f64();
    v.as_array()?
        .iter()
        .map(|s| {
            Some(Segment {
                start: f(s, "start")?,
                end: f(s, "end")?,
                text: s["text"].as_str()?.to_string(),
                pause_before: f(s, "pause_before")?,
                words: s["words"]
                    .as_array()?
                    .iter()
                    .map(|w| {
                        Some(Word {
                            start: f(w, "start")?,
                            end: f(w, "end")?,
                            text: w["text"].as_str()?.to_string(),
                        })
                    })
                    .collect::<Option<_>>()?,
            })
        })
        .collect()
}

/// Time spent transcribing and time spent splitting and embedding, over a run.
#[derive(Default)]
struct Clock {
    audio: f64,
    transcribe: f64,
    embed: f64,
}

impl Clock {
    fn report(&self) {
        if self.transcribe == 0.0 {
            println!(
                "split + voice embedding {:.2} s (transcripts from the cache)",
                self.embed
            );
            return;
        }
        println!(
            "audio {:.1} s; transcription {:.1} s; split + voice embedding {:.2} s ({:.1} % of transcription)",
            self.audio,
            self.transcribe,
            self.embed,
            100.0 * self.embed / self.transcribe.max(1e-9)
        );
    }
}

impl Tools {
    fn transcribe(
        &self,
        engine: &Engine,
        opts: &DecodeOptions,
        samples: &[f32],
        clock: &mut Clock,
        key: &str,
    ) -> Result<Vec<Segment>> {
        let cached = self.cache.as_ref().map(|c| c.join(format!("{key}.json")));
        if let Some(p) = cached.as_ref().filter(|p| p.is_file()) {
            let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(p)?)?;
            return segments_from_json(&v).with_context(|| format!("bad cache {}", p.display()));
        }
        let started = std::time::Instant::now();
        let t = engine.transcribe(samples, opts)?;
        clock.transcribe += started.elapsed().as_secs_f64();
        clock.audio += samples.len() as f64 / f64::from(WHISPER_RATE);
        if let Some(p) = cached {
            std::fs::create_dir_all(p.parent().context("cache dir")?)?;
            std::fs::write(&p, segments_to_json(&t.segments).to_string())?;
        }
        Ok(t.segments)
    }

    /// Splits, embeds and attributes, timing the first two. Returns the (split) segments and
    /// their labels.
    fn label(
        &self,
        segments: Vec<Segment>,
        samples: &[f32],
        energy: Option<&ChannelEnergy>,
        clock: &mut Clock,
    ) -> (Vec<Segment>, Vec<String>) {
        let started = std::time::Instant::now();
        let (segments, voices) = if self.split {
            self.attributor
                .split_and_embed(segments, energy, self.encoder.as_ref(), samples, 0.0)
        } else {
            let voices = match &self.encoder {
                Some(enc) => {
                    let spans: Vec<(f64, f64)> =
                        segments.iter().map(|s| (s.start, s.end)).collect();
                    enc.embed_spans(samples, &spans)
                }
                None => vec![None; segments.len()],
            };
            (segments, voices)
        };
        clock.embed += started.elapsed().as_secs_f64();
        if self.encoder.is_some() {
            let c = self.attributor.voices_found(&segments, &voices);
            println!(
                "|   | voices found {}, similarity of the last two clusters {:?} |",
                c.speakers, c.similarity
            );
        }
        let labels = self
            .attributor
            .attribute(&segments, energy, Some(&voices[..]))
            .into_iter()
            .map(|r| r.speaker)
            .collect();
        (segments, labels)
    }
}

fn speak(voice: &str, text: &str, tmp: &Path) -> Result<Vec<f32>> {
    let wav = tmp.join("line.wav");
    let status = Command::new("espeak-ng")
        .args(["-v", voice, "-s", "150", "-w"])
        .arg(&wav)
        .arg(text)
        .status()
        .context("running espeak-ng (is it installed?)")?;
    if !status.success() {
        bail!("espeak-ng -v {voice} failed");
    }
    let samples = audio::load(&wav, 600)?.samples;
    // espeak-ng pads its output with silence; trim it so the pauses below are the real gaps.
    let loud = |x: &f32| x.abs() > 1e-3;
    let a = samples.iter().position(loud).unwrap_or(0);
    let b = samples.iter().rposition(loud).map_or(a, |i| i + 1);
    Ok(samples[a..b].to_vec())
}

fn synth(engine: &Engine, opts: &DecodeOptions, tools: &Tools) -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let rate = f64::from(WHISPER_RATE);
    let (mut right, mut total, mut lines_total, mut mixed_segments) = (0, 0, 0, 0);
    let (mut time_right, mut time_total) = (0.0, 0.0);
    let mut clock = Clock::default();
    println!("| dialogue | voices (sales / customer) | lines | turn changes | segments | role right | accuracy | time right |");
    println!("|---|---|---|---|---|---|---|---|");
    for (n, (sales_voice, customer_voice, lines)) in DIALOGUES.iter().enumerate() {
        let mut samples: Vec<f32> = Vec::new();
        let mut spans: Vec<(f64, f64, Role)> = Vec::new();
        for &(role, pause, text) in lines.iter() {
            samples.extend(std::iter::repeat_n(0.0, (pause * rate) as usize));
            let voice = if role == S {
                sales_voice
            } else {
                customer_voice
            };
            let start = samples.len() as f64 / rate;
            samples.extend(speak(voice, text, tmp.path())?);
            spans.push((start, samples.len() as f64 / rate, role));
        }
        samples.extend(std::iter::repeat_n(0.0, WHISPER_RATE as usize));
        let whole = tools.transcribe(
            engine,
            opts,
            &samples,
            &mut clock,
            &format!("synth-{}", n + 1),
        )?;
        let (segments, labels) = tools.label(whole, &samples, None, &mut clock);
        let mut ok = 0;
        let (mut secs_ok, mut secs) = (0.0, 0.0);
        for (seg, label) in segments.iter().zip(&labels) {
            let overlap =
                |&(a, b, _): &(f64, f64, Role)| (seg.end.min(b) - seg.start.max(a)).max(0.0);
            let Some(best) = spans
                .iter()
                .max_by(|x, y| overlap(x).total_cmp(&overlap(y)))
            else {
                continue;
            };
            // A segment that runs over both speakers' lines cannot be attributed right.
            let by_role = |r: Role| -> f64 { spans.iter().filter(|s| s.2 == r).map(overlap).sum() };
            let (sales, customer) = (by_role(S), by_role(C));
            mixed_segments += usize::from(sales.min(customer) > 0.2 * (sales + customer));
            let said = if label == SALESPERSON { S } else { C };
            ok += usize::from(said == best.2);
            // Time: the part of the segment inside lines of the role it was given.
            secs_ok += by_role(said);
            secs += sales + customer;
            if std::env::var_os("ASR_EVAL_SHOW").is_some() {
                println!(
                    "|   | {:.1}-{:.1} | ref {:?} | got {label} | {} |",
                    seg.start, seg.end, best.2, seg.text
                );
            }
        }
        let changes = lines.windows(2).filter(|w| w[0].0 != w[1].0).count();
        println!(
            "| {} | {sales_voice} / {customer_voice} | {} | {changes} | {} | {ok} | {:.0} % | {:.0} % |",
            n + 1,
            lines.len(),
            segments.len(),
            100.0 * ok as f64 / segments.len().max(1) as f64,
            100.0 * secs_ok / secs.max(1e-9)
        );
        right += ok;
        total += segments.len();
        lines_total += lines.len();
        time_right += secs_ok;
        time_total += secs;
    }
    println!(
        "| all | | {lines_total} | | {total} | {right} | {:.1} % | {:.1} % |",
        100.0 * right as f64 / total.max(1) as f64,
        100.0 * time_right / time_total.max(1e-9)
    );
    println!("segments spanning two speakers' lines (cannot be right): {mixed_segments}");
    clock.report();
    Ok(())
}

/// Frame-level scores of one attribution against the reference words.
#[derive(Default, Clone, Copy)]
struct Frames {
    speech: usize,
    missed: usize,
    false_alarm: usize,
    /// Confusion with the mapping salesperson = B (agent).
    confused_role: usize,
    /// Confusion with salesperson = A (the other mapping).
    confused_swapped: usize,
}

impl Frames {
    fn add(&mut self, o: Frames) {
        self.speech += o.speech;
        self.missed += o.missed;
        self.false_alarm += o.false_alarm;
        self.confused_role += o.confused_role;
        self.confused_swapped += o.confused_swapped;
    }
    fn der(&self) -> f64 {
        let confusion = self.confused_role.min(self.confused_swapped);
        100.0 * (self.missed + self.false_alarm + confusion) as f64 / self.speech.max(1) as f64
    }
    fn role_error(&self) -> f64 {
        100.0 * (self.missed + self.false_alarm + self.confused_role) as f64
            / self.speech.max(1) as f64
    }
}

const FRAME: f64 = 0.01;

fn score(words: &[serde_json::Value], segments: &[Segment], sales: &[bool], secs: f64) -> Frames {
    let n = (secs / FRAME).ceil() as usize + 1;
    let idx = |t: f64| ((t / FRAME).max(0.0) as usize).min(n);
    // Per frame: bit 1 = A speaks, bit 2 = B speaks.
    let mut reference = vec![0u8; n];
    for w in words {
        let (Some(a), Some(b)) = (w["start"].as_f64(), w["end"].as_f64()) else {
            continue;
        };
        let bit = if w["speaker"] == "B" { 2 } else { 1 };
        reference[idx(a)..idx(b)].iter_mut().for_each(|f| *f |= bit);
    }
    // Per frame: 0 none, 1 customer label, 2 salesperson label.
    let mut hyp = vec![0u8; n];
    for (s, &is_sales) in segments.iter().zip(sales) {
        let label = if is_sales { 2 } else { 1 };
        hyp[idx(s.start)..idx(s.end)]
            .iter_mut()
            .for_each(|f| *f = label);
    }
    let mut out = Frames::default();
    for (&r, &h) in reference.iter().zip(&hyp) {
        match (r, h) {
            (0, 0) => {}
            (0, _) => out.false_alarm += 1,
            (_, 0) => {
                out.speech += 1;
                out.missed += 1;
            }
            (r, h) => {
                out.speech += 1;
                // Salesperson = B (bit 2), customer = A (bit 1).
                out.confused_role += usize::from(r & h == 0);
                out.confused_swapped += usize::from(r & (3 - h) == 0);
            }
        }
    }
    out
}

fn spokenwoz(engine: &Engine, opts: &DecodeOptions, tools: &Tools, speech: &Path) -> Result<()> {
    let woz = speech.join("spokenwoz_sample");
    let mut ids: Vec<String> = std::fs::read_dir(woz.join("audio"))
        .with_context(|| format!("reading {}", woz.display()))?
        .filter_map(|e| e.ok()?.path().file_stem()?.to_str().map(String::from))
        .collect();
    ids.sort();
    println!("| call | audio s | segments | DER mono | role error mono | DER stereo | role error stereo |");
    println!("|---|---|---|---|---|---|---|");
    let (mut mono_all, mut stereo_all) = (Frames::default(), Frames::default());
    let mut clock = Clock::default();
    for id in ids {
        let words: Vec<serde_json::Value> = serde_json::from_str(&std::fs::read_to_string(
            woz.join("text").join(format!("{id}.json")),
        )?)?;
        let a = audio::load(&woz.join("audio").join(format!("{id}.wav")), 14_400)?;
        let sales = |labels: Vec<String>| -> Vec<bool> {
            labels.iter().map(|l| l == SALESPERSON).collect()
        };
        let whole = tools.transcribe(
            engine,
            opts,
            &a.samples,
            &mut clock,
            &format!("spokenwoz-{id}"),
        )?;
        // Split and embedded twice (the split depends on the channels); the clock counts the
        // mono run only, which is what a single recording costs.
        let (mono_segs, mono_labels) = tools.label(whole.clone(), &a.samples, None, &mut clock);
        let mono = score(&words, &mono_segs, &sales(mono_labels), a.duration_secs());
        let (st_segs, st_labels) =
            tools.label(whole, &a.samples, a.energy.as_ref(), &mut Clock::default());
        let stereo = score(&words, &st_segs, &sales(st_labels), a.duration_secs());
        println!(
            "| {id} | {:.1} | {} | {:.1} % | {:.1} % | {:.1} % | {:.1} % |",
            a.duration_secs(),
            mono_segs.len(),
            mono.der(),
            mono.role_error(),
            stereo.der(),
            stereo.role_error()
        );
        mono_all.add(mono);
        stereo_all.add(stereo);
    }
    let parts = |f: &Frames| {
        let s = f.speech.max(1) as f64 / 100.0;
        format!(
            "missed {:.1} %, false alarm {:.1} %, confusion {:.1} % (role mapping {:.1} %)",
            f.missed as f64 / s,
            f.false_alarm as f64 / s,
            f.confused_role.min(f.confused_swapped) as f64 / s,
            f.confused_role as f64 / s
        )
    };
    println!(
        "| all | | | {:.1} % | {:.1} % | {:.1} % | {:.1} % |",
        mono_all.der(),
        mono_all.role_error(),
        stereo_all.der(),
        stereo_all.role_error()
    );
    println!("mono:   {}", parts(&mono_all));
    println!("stereo: {}", parts(&stereo_all));
    clock.report();
    Ok(())
}
