//! Measures local transcription: word error rate (English) and character error rate
//! (Mandarin) per model on the reference clips in `shared/external/speech`, and a plain
//! `transcribe` command that the whisper.cpp comparison in `scripts/bench-asr` times.
//!
//! ```text
//! cargo run --release --example asr_eval -- wer [--models tiny.en,base] [--speech DIR]
//!     [--models-dir DIR] [--no-vad] [--threads 2]
//! cargo run --release --example asr_eval -- transcribe MODEL FILE [--lang en|zh|auto]
//!     [--models-dir DIR] [--vad] [--threads 2] [--fallbacks 2] [--flash-attn]
//! ```
//!
//! `wer` runs the product's decoding settings (VAD on, English/Mandarin auto-detection for
//! multilingual models, 2 temperature fallbacks, simplified-Chinese prompt) and prints one row
//! per clip and one summary row per model and clip group. English-only models skip Mandarin
//! clips. Normalisation, applied to reference and hypothesis alike:
//! - English: lower case; `’` → `'`; every character that is not a letter, digit or apostrophe
//!   is a word break (so hyphens split words, "19:00" is two numbers); numbers written in
//!   digits become words ("30" → "thirty", "1,000" → "one thousand"), except digit strings of
//!   five or more digits or with a leading zero, which are read digit by digit (phone numbers);
//!   "ok" → "okay"; the hesitations um, uh, hmm, mm, mhm, mmm, er, ah are dropped (SpokenWOZ's
//!   references keep them, Whisper omits them).
//! - Mandarin: traditional → simplified (fast2s), then every character that is not a letter
//!   or digit (punctuation, spaces) is dropped; each remaining character is one unit. Chinese
//!   numerals and Arabic digits are not unified.
//!
//! The clips are only measured, never used to choose settings.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use dealerscope::asr::transcribe::{DecodeOptions, Engine};
use dealerscope::asr::{audio, models};
use dealerscope::conversation::{is_cjk, Language};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("wer") => wer(&Flags::parse(&args[1..])?),
        Some("transcribe") => transcribe(&Flags::parse(&args[1..])?),
        _ => bail!("usage: asr_eval wer [options] | asr_eval transcribe MODEL FILE [options] (see the file's header)"),
    }
}

#[derive(Debug, Default)]
struct Flags {
    positional: Vec<String>,
    models: Option<String>,
    speech: Option<PathBuf>,
    models_dir: Option<PathBuf>,
    vad: Option<bool>,
    threads: u16,
    lang: Option<String>,
    fallbacks: u8,
    flash_attn: bool,
}

impl Flags {
    fn parse(args: &[String]) -> Result<Flags> {
        let mut f = Flags {
            threads: 2,
            fallbacks: 2,
            ..Flags::default()
        };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let mut value = || it.next().with_context(|| format!("{a} needs a value"));
            match a.as_str() {
                "--models" => f.models = Some(value()?.clone()),
                "--speech" => f.speech = Some(value()?.into()),
                "--models-dir" => f.models_dir = Some(value()?.into()),
                "--threads" => f.threads = value()?.parse()?,
                "--fallbacks" => f.fallbacks = value()?.parse()?,
                "--lang" => f.lang = Some(value()?.clone()),
                "--vad" => f.vad = Some(true),
                "--no-vad" => f.vad = Some(false),
                "--flash-attn" => f.flash_attn = true,
                s if s.starts_with("--") => bail!("unknown option {s}"),
                s => f.positional.push(s.to_string()),
            }
        }
        Ok(f)
    }
}

fn load_engine(model: &str, dir: &Path, vad: bool, f: &Flags) -> Result<Engine> {
    let path = models::ensure(model, dir)?;
    let vad_path = if vad {
        Some(models::ensure("vad", dir)?)
    } else {
        None
    };
    whisper_rs::install_logging_hooks();
    Ok(Engine::load_with(
        &path,
        vad_path.as_deref(),
        f.threads,
        f.flash_attn,
    )?)
}

/// One file through the product's engine; the text on stdout, timings on stderr.
fn transcribe(f: &Flags) -> Result<()> {
    let [model, file] = f.positional.as_slice() else {
        bail!("usage: asr_eval transcribe MODEL FILE [--lang en|zh|auto] [--vad] [--threads N] [--fallbacks N]");
    };
    let dir = models::models_dir(f.models_dir.as_deref())?;
    let t0 = Instant::now();
    let engine = load_engine(model, &dir, f.vad.unwrap_or(false), f)?;
    let t1 = Instant::now();
    let a = audio::load(Path::new(file), 14_400)?;
    let t2 = Instant::now();
    let opts = DecodeOptions {
        language: parse_lang(f.lang.as_deref())?,
        threads: f.threads,
        max_fallbacks: f.fallbacks,
        ..DecodeOptions::default()
    };
    let t = engine.transcribe(&a.samples, &opts)?;
    let t3 = Instant::now();
    for s in &t.segments {
        println!("[{:.2}-{:.2}] {}", s.start, s.end, s.text);
    }
    eprintln!(
        "language {} | load {:.3} s, decode audio {:.3} s, transcribe {:.3} s, audio {:.2} s, RTF {:.3}, CPU {:.2} s",
        t.language.code(),
        (t1 - t0).as_secs_f64(),
        (t2 - t1).as_secs_f64(),
        (t3 - t2).as_secs_f64(),
        a.duration_secs(),
        (t3 - t2).as_secs_f64() / a.duration_secs(),
        cpu_secs(),
    );
    Ok(())
}

fn parse_lang(s: Option<&str>) -> Result<Option<Language>> {
    Ok(match s {
        None | Some("auto") => None,
        Some("en") => Some(Language::En),
        Some("zh") => Some(Language::Zh),
        Some(o) => bail!("unknown language {o} (en, zh, auto)"),
    })
}

/// A reference clip.
struct Clip {
    id: String,
    group: &'static str,
    path: PathBuf,
    lang: Language,
    reference: String,
}

/// Every clip with a reference transcript under the speech folder: the `transcripts.tsv`
/// files (file, text, note), FireRedASR's Kaldi `text`, and SpokenWOZ's word-level JSON.
fn clips(speech: &Path) -> Result<Vec<Clip>> {
    let mut out = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(speech)
        .with_context(|| format!("reading {}", speech.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let mut push = |dir: &Path, file: &str, reference: &str| {
        let path = dir.join(file);
        // Containers the product does not read (french.aiff) and missing audio are skipped.
        if !path.exists() || !dealerscope::asr::is_audio_path(&path) {
            return;
        }
        let lang = if reference.chars().any(is_cjk) {
            Language::Zh
        } else {
            Language::En
        };
        out.push(Clip {
            id: file.to_string(),
            group: if lang == Language::Zh {
                "Mandarin clips"
            } else {
                "English read speech"
            },
            path,
            lang,
            reference: reference.to_string(),
        });
    };
    for dir in &dirs {
        if let Ok(tsv) = std::fs::read_to_string(dir.join("transcripts.tsv")) {
            for line in tsv.lines() {
                let mut cols = line.split('\t');
                if let (Some(file), Some(text)) = (cols.next(), cols.next()) {
                    push(dir, file.trim(), text.trim());
                }
            }
        }
        if let (Ok(text), true) = (
            std::fs::read_to_string(dir.join("text")),
            dir.join("wav.scp").exists(),
        ) {
            for line in text.lines() {
                if let Some((id, words)) = line.split_once(char::is_whitespace) {
                    push(dir, &format!("{id}.wav"), words.trim());
                }
            }
        }
    }
    let woz = speech.join("spokenwoz_sample");
    if let Ok(entries) = std::fs::read_dir(woz.join("text")) {
        let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        files.sort();
        for json in files {
            let id = json.file_stem().and_then(|s| s.to_str()).unwrap_or("");
            let wav = woz.join("audio").join(format!("{id}.wav"));
            if !wav.exists() {
                continue;
            }
            let words: Vec<serde_json::Value> =
                serde_json::from_str(&std::fs::read_to_string(&json)?)?;
            let reference = words
                .iter()
                .filter_map(|w| w["word"].as_str())
                .collect::<Vec<_>>()
                .join(" ");
            out.push(Clip {
                id: format!("{id}.wav"),
                group: "SpokenWOZ calls",
                path: wav,
                lang: Language::En,
                reference,
            });
        }
    }
    Ok(out)
}

#[derive(Default, Clone, Copy)]
struct Tally {
    errors: usize,
    units: usize,
    audio_s: f64,
    wall_s: f64,
    cpu_s: f64,
    clips: usize,
    lang_ok: usize,
}

fn wer(f: &Flags) -> Result<()> {
    let speech = f
        .speech
        .clone()
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/external/speech"));
    let clips = clips(&speech)?;
    if clips.is_empty() {
        bail!("no reference clips under {}", speech.display());
    }
    let dir = models::models_dir(f.models_dir.as_deref())?;
    let vad = f.vad.unwrap_or(true);
    let names = f.models.as_deref().unwrap_or("tiny.en,base");
    println!(
        "speech: {} | VAD {} | threads {} | fallbacks {}",
        speech.display(),
        if vad { "on" } else { "off" },
        f.threads,
        f.fallbacks
    );
    println!(
        "| model | clip | lang (detected) | metric | errors / units | rate | audio s | RTF wall | RTF CPU |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let mut summary: Vec<(String, &'static str, Tally)> = Vec::new();
    for model in names.split(',').map(str::trim) {
        let engine = load_engine(model, &dir, vad, f)?;
        for clip in &clips {
            if clip.lang == Language::Zh && !engine.is_multilingual() {
                continue;
            }
            let a = audio::load(&clip.path, 14_400)
                .with_context(|| format!("decoding {}", clip.path.display()))?;
            let opts = DecodeOptions {
                language: None,
                threads: f.threads,
                max_fallbacks: f.fallbacks,
                ..DecodeOptions::default()
            };
            let (started, cpu0) = (Instant::now(), cpu_secs());
            let t = engine.transcribe(&a.samples, &opts)?;
            let secs = started.elapsed().as_secs_f64();
            let cpu = cpu_secs() - cpu0;
            let hyp: String = t
                .segments
                .iter()
                .map(|s| s.text.as_str())
                .collect::<Vec<_>>()
                .join(" ");
            let (r, h) = match clip.lang {
                Language::En => (words_en(&clip.reference), words_en(&hyp)),
                Language::Zh => (chars_zh(&clip.reference), chars_zh(&hyp)),
            };
            let errors = edit_distance(&r, &h);
            let metric = if clip.lang == Language::Zh {
                "CER"
            } else {
                "WER"
            };
            println!(
                "| {model} | {} | {} ({}) | {metric} | {errors} / {} | {:.1} % | {:.1} | {:.3} | {:.3} |",
                clip.id,
                clip.lang.code(),
                t.language.code(),
                r.len(),
                100.0 * errors as f64 / r.len().max(1) as f64,
                a.duration_secs(),
                secs / a.duration_secs(),
                cpu / a.duration_secs()
            );
            if std::env::var_os("ASR_EVAL_SHOW").is_some() {
                println!("|   | ref: {} | hyp: {} |", r.join(" "), h.join(" "));
            }
            let key = (model.to_string(), clip.group);
            let i = summary
                .iter()
                .position(|(m, g, _)| (m, g) == (&key.0, &key.1))
                .unwrap_or_else(|| {
                    summary.push((key.0.clone(), key.1, Tally::default()));
                    summary.len() - 1
                });
            let s = &mut summary[i].2;
            s.errors += errors;
            s.units += r.len();
            s.audio_s += a.duration_secs();
            s.wall_s += secs;
            s.cpu_s += cpu;
            s.clips += 1;
            s.lang_ok += usize::from(t.language == clip.lang);
        }
    }
    println!();
    println!("| model | group | clips | language detected right | errors / units | rate | RTF wall | RTF CPU |");
    println!("|---|---|---|---|---|---|---|---|");
    for (model, group, s) in &summary {
        let metric = if group.starts_with("Mandarin") {
            "CER"
        } else {
            "WER"
        };
        println!(
            "| {model} | {group} | {} | {}/{} | {} / {} | {metric} {:.1} % | {:.3} | {:.3} |",
            s.clips,
            s.lang_ok,
            s.clips,
            s.errors,
            s.units,
            100.0 * s.errors as f64 / s.units.max(1) as f64,
            s.wall_s / s.audio_s,
            s.cpu_s / s.audio_s
        );
    }
    Ok(())
}

/// CPU time (user + system) of this process so far, from `/proc/self/stat` (Linux). Reported
/// beside wall time because the machine is shared: CPU time is what other load disturbs least.
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|x| x.parse().ok())
        .collect();
    // Clock ticks are 100 per second on every Linux configuration this runs on (USER_HZ).
    f.iter().sum::<f64>() / 100.0
}

const HESITATIONS: &[&str] = &["um", "uh", "hmm", "mm", "mhm", "mmm", "er", "ah"];

fn words_en(text: &str) -> Vec<String> {
    let text = text.replace('’', "'").to_lowercase();
    // "1,000" is one number: drop commas between digits before splitting.
    let chars: Vec<char> = text.chars().collect();
    let joined: String = chars
        .iter()
        .enumerate()
        .filter(|&(i, &c)| {
            !(c == ','
                && i > 0
                && chars[i - 1].is_ascii_digit()
                && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        })
        .map(|(_, &c)| c)
        .collect();
    joined
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .map(|w| w.trim_matches('\''))
        .filter(|w| !w.is_empty() && !HESITATIONS.contains(w))
        .flat_map(|w| {
            let digits = w.bytes().all(|b| b.is_ascii_digit());
            if digits && (w.len() >= 5 || (w.len() > 1 && w.starts_with('0'))) {
                // Phone numbers, postcodes, references: said digit by digit.
                w.bytes()
                    .flat_map(|b| number_words(u64::from(b - b'0')))
                    .collect()
            } else if let (true, Ok(n)) = (digits, w.parse::<u64>()) {
                number_words(n)
            } else if w == "ok" {
                vec!["okay".to_string()]
            } else {
                vec![w.to_string()]
            }
        })
        .collect()
}

fn number_words(n: u64) -> Vec<String> {
    const ONES: [&str; 20] = [
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
    ];
    const TENS: [&str; 10] = [
        "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
    ];
    fn below_thousand(n: u64, out: &mut Vec<String>) {
        if n >= 100 {
            out.push(ONES[(n / 100) as usize].into());
            out.push("hundred".into());
        }
        let r = n % 100;
        if r >= 20 {
            out.push(TENS[(r / 10) as usize].into());
            if !r.is_multiple_of(10) {
                out.push(ONES[(r % 10) as usize].into());
            }
        } else if r > 0 || n == 0 {
            out.push(ONES[r as usize].into());
        }
    }
    let mut out = Vec::new();
    let mut started = false;
    for (scale, name) in [
        (1_000_000_000, "billion"),
        (1_000_000, "million"),
        (1_000, "thousand"),
    ] {
        if n >= scale && !(n / scale).is_multiple_of(1000) {
            below_thousand((n / scale) % 1000, &mut out);
            out.push(name.into());
            started = true;
        }
    }
    if !n.is_multiple_of(1000) || !started {
        below_thousand(n % 1000, &mut out);
    }
    out
}

fn chars_zh(text: &str) -> Vec<String> {
    fast2s::convert(text)
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .map(String::from)
        .collect()
}

/// Levenshtein distance over units (substitutions + deletions + insertions).
fn edit_distance(reference: &[String], hypothesis: &[String]) -> usize {
    let mut prev: Vec<usize> = (0..=hypothesis.len()).collect();
    for (i, r) in reference.iter().enumerate() {
        let mut cur = vec![i + 1; hypothesis.len() + 1];
        for (j, h) in hypothesis.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(r != h))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[hypothesis.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn english_normalisation() {
        assert_eq!(
            words_en("Um, I'd like 2 rooms for $1,250 — twenty-one nights."),
            [
                "i'd", "like", "two", "rooms", "for", "one", "thousand", "two", "hundred", "fifty",
                "twenty", "one", "nights"
            ]
        );
        assert_eq!(
            words_en("OK, call 01223 or 350000"),
            [
                "okay", "call", "zero", "one", "two", "two", "three", "or", "three", "five",
                "zero", "zero", "zero", "zero"
            ]
        );
        assert_eq!(number_words(0), ["zero"]);
        assert_eq!(number_words(2_000_017), ["two", "million", "seventeen"]);
    }

    #[test]
    fn mandarin_normalisation_and_distance() {
        assert_eq!(chars_zh("廣州市, 房地產。").join(""), "广州市房地产");
        let s = |t: &str| chars_zh(t);
        assert_eq!(edit_distance(&s("广州市房地产"), &s("广州佛地产中")), 3);
        assert_eq!(edit_distance(&s(""), &s("一二")), 2);
    }
}
