//! Reader for CTranslate2 `model.bin` files (binary format version 6 and lower).
//!
//! Layout (little endian), as written by CTranslate2's `ModelSpec._serialize`:
//!
//! ```text
//! u32 binary_version
//! string spec_name            (version >= 2)
//! u32 spec_revision           (version >= 2)
//! u32 n_variables
//!   string name
//!   u8 rank, u32 dims[rank]
//!   u8 dtype                  (version >= 4; 0=f32 1=i8 2=i16 3=i32 4=f16 5=bf16)
//!   u32 n_bytes, bytes[n_bytes]
//! u32 n_aliases               (version >= 3)
//!   string alias, string target
//! string := u16 len (including the trailing NUL), bytes[len]
//! ```
//!
//! Only versions 5 and 6 (the ones produced by CTranslate2 >= 3.x) are accepted;
//! older layouts are rejected with [`Ct2Error::UnsupportedVersion`].

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

use half::{bf16, f16};

/// Errors raised while reading a CTranslate2 model.
#[derive(Debug, thiserror::Error)]
pub enum Ct2Error {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "model.bin is truncated at byte {offset} (needed {needed} more bytes while reading {what})"
    )]
    Truncated {
        offset: usize,
        needed: usize,
        what: &'static str,
    },
    #[error("unsupported CTranslate2 binary version {0} (supported: 5, 6)")]
    UnsupportedVersion(u32),
    #[error("string at byte {offset} is not valid UTF-8")]
    BadString { offset: usize },
    #[error("variable {name}: unknown dtype code {code}")]
    UnknownDtype { name: String, code: u8 },
    #[error("variable {name}: shape {shape:?} with dtype {dtype:?} needs {expected} bytes, file says {actual}")]
    SizeMismatch {
        name: String,
        shape: Vec<usize>,
        dtype: DType,
        expected: usize,
        actual: usize,
    },
    #[error("variable {0} is missing from the model")]
    Missing(String),
    #[error("alias {alias} points to missing variable {target}")]
    DanglingAlias { alias: String, target: String },
    #[error("variable {name}: expected {expected}, found {found}")]
    Unexpected {
        name: String,
        expected: String,
        found: String,
    },
    #[error("trailing garbage: {0} bytes after the alias table")]
    TrailingBytes(usize),
}

/// Element type codes as in CTranslate2's `DataType` enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DType {
    F32,
    I8,
    I16,
    I32,
    F16,
    BF16,
}

impl DType {
    fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => Self::F32,
            1 => Self::I8,
            2 => Self::I16,
            3 => Self::I32,
            4 => Self::F16,
            5 => Self::BF16,
            _ => return None,
        })
    }

    /// Size of one element in bytes.
    pub fn size(self) -> usize {
        match self {
            Self::F32 | Self::I32 => 4,
            Self::I16 | Self::F16 | Self::BF16 => 2,
            Self::I8 => 1,
        }
    }
}

/// Metadata of one stored variable; the bytes live in [`Ct2Model`]'s buffer.
#[derive(Debug, Clone)]
pub struct VarInfo {
    pub shape: Vec<usize>,
    pub dtype: DType,
    range: Range<usize>,
}

impl VarInfo {
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
}

/// A parsed CTranslate2 model held in memory.
pub struct Ct2Model {
    pub binary_version: u32,
    pub spec_name: String,
    pub spec_revision: u32,
    buf: Vec<u8>,
    vars: BTreeMap<String, VarInfo>,
    aliases: BTreeMap<String, String>,
}

/// A borrowed view of one variable.
#[derive(Debug, Clone, Copy)]
pub struct Var<'a> {
    pub name: &'a str,
    pub info: &'a VarInfo,
    pub bytes: &'a [u8],
}

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], Ct2Error> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        match end {
            Some(end) => {
                let s = &self.buf[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => Err(Ct2Error::Truncated {
                offset: self.pos,
                needed: n.saturating_sub(self.buf.len().saturating_sub(self.pos)),
                what,
            }),
        }
    }
    fn u8(&mut self, what: &'static str) -> Result<u8, Ct2Error> {
        Ok(self.take(1, what)?[0])
    }
    fn u16(&mut self, what: &'static str) -> Result<u16, Ct2Error> {
        let b = self.take(2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self, what: &'static str) -> Result<u32, Ct2Error> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn string(&mut self, what: &'static str) -> Result<String, Ct2Error> {
        let len = self.u16(what)? as usize;
        let offset = self.pos;
        let raw = self.take(len, what)?;
        // Written with a trailing NUL; tolerate its absence.
        let raw = raw.strip_suffix(&[0]).unwrap_or(raw);
        String::from_utf8(raw.to_vec()).map_err(|_| Ct2Error::BadString { offset })
    }
}

impl Ct2Model {
    /// Reads and parses a model file.
    pub fn open(path: &Path) -> Result<Self, Ct2Error> {
        let buf = std::fs::read(path).map_err(|source| Ct2Error::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(buf)
    }

    /// Parses a model from an in-memory buffer (takes ownership, no copy of the weights).
    pub fn parse(buf: Vec<u8>) -> Result<Self, Ct2Error> {
        let mut c = Cursor { buf: &buf, pos: 0 };
        let binary_version = c.u32("binary version")?;
        if !(5..=6).contains(&binary_version) {
            return Err(Ct2Error::UnsupportedVersion(binary_version));
        }
        let spec_name = c.string("spec name")?;
        let spec_revision = c.u32("spec revision")?;
        let n_vars = c.u32("variable count")?;
        let mut vars = BTreeMap::new();
        for _ in 0..n_vars {
            let name = c.string("variable name")?;
            let rank = c.u8("rank")? as usize;
            let mut shape = Vec::with_capacity(rank);
            for _ in 0..rank {
                shape.push(c.u32("dimension")? as usize);
            }
            let code = c.u8("dtype")?;
            let dtype = DType::from_code(code).ok_or_else(|| Ct2Error::UnknownDtype {
                name: name.clone(),
                code,
            })?;
            let n_bytes = c.u32("byte count")? as usize;
            let expected = shape
                .iter()
                .try_fold(dtype.size(), |acc, &d| acc.checked_mul(d))
                .unwrap_or(usize::MAX);
            if expected != n_bytes {
                return Err(Ct2Error::SizeMismatch {
                    name,
                    shape,
                    dtype,
                    expected,
                    actual: n_bytes,
                });
            }
            let start = c.pos;
            c.take(n_bytes, "variable data")?;
            vars.insert(
                name,
                VarInfo {
                    shape,
                    dtype,
                    range: start..start + n_bytes,
                },
            );
        }
        let mut aliases = BTreeMap::new();
        let n_aliases = c.u32("alias count")?;
        for _ in 0..n_aliases {
            let alias = c.string("alias name")?;
            let target = c.string("alias target")?;
            if !vars.contains_key(&target) {
                return Err(Ct2Error::DanglingAlias { alias, target });
            }
            aliases.insert(alias, target);
        }
        let rest = buf.len() - c.pos;
        if rest != 0 {
            return Err(Ct2Error::TrailingBytes(rest));
        }
        Ok(Self {
            binary_version,
            spec_name,
            spec_revision,
            buf,
            vars,
            aliases,
        })
    }

    /// Names of stored variables (aliases excluded), sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.vars.keys().map(String::as_str)
    }

    pub fn aliases(&self) -> impl Iterator<Item = (&str, &str)> {
        self.aliases.iter().map(|(a, t)| (a.as_str(), t.as_str()))
    }

    /// Looks up a variable, following aliases.
    pub fn get(&self, name: &str) -> Result<Var<'_>, Ct2Error> {
        let key = self.aliases.get(name).map(String::as_str).unwrap_or(name);
        let (k, info) = self
            .vars
            .get_key_value(key)
            .ok_or_else(|| Ct2Error::Missing(name.to_string()))?;
        Ok(Var {
            name: k,
            info,
            bytes: &self.buf[info.range.clone()],
        })
    }

    pub fn contains(&self, name: &str) -> bool {
        self.vars.contains_key(name) || self.aliases.contains_key(name)
    }

    /// Reads an integer scalar (any integer dtype).
    pub fn scalar_i64(&self, name: &str) -> Result<i64, Ct2Error> {
        let v = self.get(name)?;
        if v.info.numel() != 1 {
            return Err(Ct2Error::Unexpected {
                name: name.into(),
                expected: "a scalar".into(),
                found: format!("shape {:?}", v.info.shape),
            });
        }
        let b = v.bytes;
        Ok(match v.info.dtype {
            DType::I8 => b[0] as i8 as i64,
            DType::I16 => i16::from_le_bytes([b[0], b[1]]) as i64,
            DType::I32 => i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as i64,
            other => {
                return Err(Ct2Error::Unexpected {
                    name: name.into(),
                    expected: "an integer scalar".into(),
                    found: format!("{other:?}"),
                })
            }
        })
    }
}

impl Var<'_> {
    pub fn shape(&self) -> &[usize] {
        &self.info.shape
    }

    /// Converts the values to f32. Float types only; int8 weights need
    /// [`Ct2Model::dequantized_f32`] (they carry a separate scale).
    pub fn to_f32(&self) -> Result<Vec<f32>, Ct2Error> {
        let b = self.bytes;
        Ok(match self.info.dtype {
            DType::F32 => b
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            DType::F16 => b
                .chunks_exact(2)
                .map(|c| f16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            DType::BF16 => b
                .chunks_exact(2)
                .map(|c| bf16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            other => {
                return Err(Ct2Error::Unexpected {
                    name: self.name.into(),
                    expected: "a float tensor".into(),
                    found: format!("{other:?}"),
                })
            }
        })
    }

    /// Converts the values to f16 (bit-exact copy when already f16).
    pub fn to_f16(&self) -> Result<Vec<f16>, Ct2Error> {
        if self.info.dtype == DType::F16 {
            return Ok(self
                .bytes
                .chunks_exact(2)
                .map(|c| f16::from_le_bytes([c[0], c[1]]))
                .collect());
        }
        Ok(self.to_f32()?.into_iter().map(f16::from_f32).collect())
    }
}

impl Ct2Model {
    /// Returns a weight as f32, dequantizing int8/int16 weights with their
    /// `<name>_scale` companion (CTranslate2 stores `q = round(w * scale)`).
    pub fn dequantized_f32(&self, name: &str) -> Result<Vec<f32>, Ct2Error> {
        let v = self.get(name)?;
        match v.info.dtype {
            DType::F32 | DType::F16 | DType::BF16 => v.to_f32(),
            DType::I8 | DType::I16 => {
                let scale_name = format!("{name}_scale");
                let scale = self.get(&scale_name)?.to_f32()?;
                let rows = v.info.shape.first().copied().unwrap_or(1).max(1);
                let cols = v.info.numel() / rows;
                let per_row = scale.len() == rows;
                if !per_row && scale.len() != 1 {
                    return Err(Ct2Error::Unexpected {
                        name: scale_name,
                        expected: format!("1 or {rows} scales"),
                        found: format!("{}", scale.len()),
                    });
                }
                let q: Vec<f32> = if v.info.dtype == DType::I8 {
                    v.bytes.iter().map(|&x| x as i8 as f32).collect()
                } else {
                    v.bytes
                        .chunks_exact(2)
                        .map(|c| i16::from_le_bytes([c[0], c[1]]) as f32)
                        .collect()
                };
                Ok(q.iter()
                    .enumerate()
                    .map(|(i, &x)| {
                        let s = if per_row {
                            scale[i / cols.max(1)]
                        } else {
                            scale[0]
                        };
                        if s == 0.0 {
                            0.0
                        } else {
                            x / s
                        }
                    })
                    .collect())
            }
            DType::I32 => Err(Ct2Error::Unexpected {
                name: name.into(),
                expected: "a weight tensor".into(),
                found: "int32".into(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(out: &mut Vec<u8>, v: &str) {
        out.extend_from_slice(&((v.len() + 1) as u16).to_le_bytes());
        out.extend_from_slice(v.as_bytes());
        out.push(0);
    }

    fn tiny_model() -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&6u32.to_le_bytes());
        s(&mut b, "WhisperSpec");
        b.extend_from_slice(&3u32.to_le_bytes());
        b.extend_from_slice(&2u32.to_le_bytes());
        s(&mut b, "a/weight");
        b.push(2);
        b.extend_from_slice(&2u32.to_le_bytes());
        b.extend_from_slice(&1u32.to_le_bytes());
        b.push(4);
        b.extend_from_slice(&4u32.to_le_bytes());
        b.extend_from_slice(&f16::from_f32(1.5).to_le_bytes());
        b.extend_from_slice(&f16::from_f32(-2.0).to_le_bytes());
        s(&mut b, "heads");
        b.push(0);
        b.push(2);
        b.extend_from_slice(&2u32.to_le_bytes());
        b.extend_from_slice(&6i16.to_le_bytes());
        b.extend_from_slice(&1u32.to_le_bytes());
        s(&mut b, "b/weight");
        s(&mut b, "a/weight");
        b
    }

    #[test]
    fn parses_synthetic_model() {
        let m = Ct2Model::parse(tiny_model()).expect("parse");
        assert_eq!(m.spec_name, "WhisperSpec");
        assert_eq!(m.spec_revision, 3);
        assert_eq!(
            m.get("b/weight").expect("alias").to_f32().expect("f32"),
            vec![1.5, -2.0]
        );
        assert_eq!(m.scalar_i64("heads").expect("scalar"), 6);
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let full = tiny_model();
        for n in 0..full.len() {
            assert!(Ct2Model::parse(full[..n].to_vec()).is_err(), "prefix {n}");
        }
    }

    #[test]
    fn rejects_bad_version_and_garbage() {
        assert!(matches!(
            Ct2Model::parse(vec![9, 0, 0, 0]),
            Err(Ct2Error::UnsupportedVersion(9))
        ));
        let mut b = tiny_model();
        b.push(0);
        assert!(matches!(
            Ct2Model::parse(b),
            Err(Ct2Error::TrailingBytes(1))
        ));
    }
}
