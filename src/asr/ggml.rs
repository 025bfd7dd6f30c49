//! Writer for whisper.cpp's legacy ggml model file (the layout produced by
//! whisper.cpp's `models/convert-pt-to-ggml.py`), fed from a CTranslate2
//! Whisper model.
//!
//! File layout (all little-endian i32 unless noted):
//!
//! ```text
//! magic 0x67676d6c ("ggml")
//! n_vocab n_audio_ctx n_audio_state n_audio_head n_audio_layer
//! n_text_ctx n_text_state n_text_head n_text_layer n_mels ftype
//! n_mel n_fft  f32[n_mel * n_fft]               mel filter bank
//! n_tokens  { u32 len, bytes[len] } * n_tokens  raw byte strings, ids 0..n_tokens
//! tensors until EOF:
//!   n_dims name_len ttype  ne[n_dims] (innermost first)  name  data
//! ```
//!
//! whisper.cpp checks every tensor's name, shape and byte size exactly and
//! requires all of them to be present.

use std::collections::HashMap;
use std::io::Write;

use half::f16;

use crate::asr::ct2::{Ct2Error, Ct2Model};

/// ggml magic number ("ggml").
pub const GGML_MAGIC: u32 = 0x6767_6d6c;

/// Errors raised by the converter.
#[derive(Debug, thiserror::Error)]
pub enum GgmlError {
    #[error(transparent)]
    Ct2(#[from] Ct2Error),
    #[error("write failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("not a Whisper model: spec is {0:?}")]
    NotWhisper(String),
    #[error("model layout: {0}")]
    Layout(String),
    #[error("vocabulary: {0}")]
    Vocab(String),
}

/// Whisper hyper-parameters as stored in the ggml header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hparams {
    pub n_vocab: i32,
    pub n_audio_ctx: i32,
    pub n_audio_state: i32,
    pub n_audio_head: i32,
    pub n_audio_layer: i32,
    pub n_text_ctx: i32,
    pub n_text_state: i32,
    pub n_text_head: i32,
    pub n_text_layer: i32,
    pub n_mels: i32,
}

impl Hparams {
    pub fn is_multilingual(&self) -> bool {
        self.n_vocab >= 51865
    }
}

/// Storage type of the weight matrices in the output file. whisper.cpp also loads quantized
/// files (q8_0, q5_1), but producing them needs ggml's quantizer from the C library; f16 is
/// what the CTranslate2 wheels hold, so it is a bit-exact copy and the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WeightType {
    #[default]
    F16,
    F32,
}

impl WeightType {
    /// `ftype` header value.
    fn header_ftype(self) -> i32 {
        match self {
            Self::F32 => 0,
            Self::F16 => 1,
        }
    }
    /// ggml_type id written per tensor.
    pub fn ggml_type(self) -> i32 {
        match self {
            Self::F32 => 0,
            Self::F16 => 1,
        }
    }
}

/// Options for [`convert_ct2_whisper`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ConvertOptions {
    pub wtype: WeightType,
}

/// Summary of a conversion.
#[derive(Debug, Clone)]
pub struct ConvertReport {
    pub hparams: Hparams,
    pub n_tokens_written: usize,
    pub n_tensors: usize,
    pub bytes_written: u64,
    /// Largest |value| among the dropped self-attention key biases (CTranslate2
    /// fuses a zero bias there; dropping it is exact either way since a key bias
    /// only shifts each softmax row by a constant).
    pub max_dropped_key_bias: f32,
}

// ---------------------------------------------------------------- mel filters

fn hz_to_mel_slaney(hz: f64) -> f64 {
    let f_sp = 200.0 / 3.0;
    let min_log_hz = 1000.0;
    let min_log_mel = min_log_hz / f_sp;
    let logstep = (6.4f64).ln() / 27.0;
    if hz >= min_log_hz {
        min_log_mel + (hz / min_log_hz).ln() / logstep
    } else {
        hz / f_sp
    }
}

fn mel_to_hz_slaney(mel: f64) -> f64 {
    let f_sp = 200.0 / 3.0;
    let min_log_hz = 1000.0;
    let min_log_mel = min_log_hz / f_sp;
    let logstep = (6.4f64).ln() / 27.0;
    if mel >= min_log_mel {
        min_log_hz * (logstep * (mel - min_log_mel)).exp()
    } else {
        f_sp * mel
    }
}

/// `librosa.filters.mel(sr, n_fft, n_mels)` with librosa's defaults
/// (fmin 0, fmax sr/2, Slaney mel scale, Slaney area normalisation), row-major
/// `[n_mels][n_fft/2 + 1]`. This is what Whisper's `mel_filters.npz` holds.
pub fn mel_filters(sample_rate: u32, n_fft: usize, n_mels: usize) -> Vec<f32> {
    let n_freqs = n_fft / 2 + 1;
    let sr = f64::from(sample_rate);
    let fftfreqs: Vec<f64> = (0..n_freqs).map(|k| k as f64 * sr / n_fft as f64).collect();
    let (mel_lo, mel_hi) = (hz_to_mel_slaney(0.0), hz_to_mel_slaney(sr / 2.0));
    let n_pts = n_mels + 2;
    let mel_f: Vec<f64> = (0..n_pts)
        .map(|i| {
            let m = if n_pts > 1 {
                mel_lo + (mel_hi - mel_lo) * i as f64 / (n_pts - 1) as f64
            } else {
                mel_lo
            };
            mel_to_hz_slaney(m)
        })
        .collect();
    let mut out = vec![0f32; n_mels * n_freqs];
    for i in 0..n_mels {
        let fdiff_lo = mel_f[i + 1] - mel_f[i];
        let fdiff_hi = mel_f[i + 2] - mel_f[i + 1];
        let enorm = 2.0 / (mel_f[i + 2] - mel_f[i]);
        for (k, &f) in fftfreqs.iter().enumerate() {
            let lower = (f - mel_f[i]) / fdiff_lo;
            let upper = (mel_f[i + 2] - f) / fdiff_hi;
            let w = lower.min(upper).max(0.0);
            out[i * n_freqs + k] = (w * enorm) as f32;
        }
    }
    out
}

// ---------------------------------------------------------------- vocabulary

/// GPT-2's byte -> printable-unicode table, inverted (char -> raw byte).
pub fn gpt2_byte_decoder() -> HashMap<char, u8> {
    let mut printable: Vec<u32> = (u32::from('!')..=u32::from('~')).collect();
    printable.extend(u32::from('¡')..=u32::from('¬'));
    printable.extend(u32::from('®')..=u32::from('ÿ'));
    let mut map = HashMap::with_capacity(256);
    let mut n = 0u32;
    for b in 0u32..256 {
        let c = if printable.contains(&b) {
            b
        } else {
            n += 1;
            256 + n - 1
        };
        if let (Some(ch), Ok(byte)) = (char::from_u32(c), u8::try_from(b)) {
            map.insert(ch, byte);
        }
    }
    map
}

/// Turns CTranslate2's `vocabulary.txt` (one GPT-2 byte-level token per line)
/// into the raw byte strings whisper.cpp expects: every token before
/// `<|endoftext|>` (50256 for `.en`, 50257 for multilingual models, whose id
/// 50256 is an empty token). Special tokens are not written: whisper.cpp
/// synthesises them from `n_vocab`.
pub fn vocab_from_ct2_lines(text: &str) -> Result<Vec<Vec<u8>>, GgmlError> {
    let decoder = gpt2_byte_decoder();
    let text = text.strip_suffix('\n').unwrap_or(text);
    let mut tokens = Vec::new();
    for (id, line) in text.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line == "<|endoftext|>" {
            return Ok(tokens);
        }
        let bytes = line
            .chars()
            .map(|c| decoder.get(&c).copied())
            .collect::<Option<Vec<u8>>>()
            .ok_or_else(|| {
                GgmlError::Vocab(format!(
                    "token {id} ({line:?}) has a char outside GPT-2's byte alphabet"
                ))
            })?;
        tokens.push(bytes);
    }
    Err(GgmlError::Vocab("no <|endoftext|> token found".into()))
}

/// Same as [`vocab_from_ct2_lines`] for a Hugging Face `tokenizer.json`
/// (`model.vocab` map of token -> id).
pub fn vocab_from_tokenizer_json(json: &[u8]) -> Result<Vec<Vec<u8>>, GgmlError> {
    let v: serde_json::Value = serde_json::from_slice(json)
        .map_err(|e| GgmlError::Vocab(format!("tokenizer.json: {e}")))?;
    let map = v
        .get("model")
        .and_then(|m| m.get("vocab"))
        .and_then(|m| m.as_object())
        .ok_or_else(|| GgmlError::Vocab("tokenizer.json has no model.vocab object".into()))?;
    let eot = map
        .get("<|endoftext|>")
        .and_then(|x| x.as_u64())
        .filter(|&e| e <= 1_000_000)
        .ok_or_else(|| {
            GgmlError::Vocab("tokenizer.json has no plausible <|endoftext|> id".into())
        })? as usize;
    let decoder = gpt2_byte_decoder();
    let mut tokens: Vec<Option<Vec<u8>>> = vec![None; eot];
    for (tok, id) in map {
        let Some(id) = id.as_u64().map(|x| x as usize) else {
            continue;
        };
        if id >= eot {
            continue;
        }
        let bytes = tok
            .chars()
            .map(|c| decoder.get(&c).copied())
            .collect::<Option<Vec<u8>>>()
            .ok_or_else(|| GgmlError::Vocab(format!("token {id} outside GPT-2 byte alphabet")))?;
        tokens[id] = Some(bytes);
    }
    // An id missing below eot is the multilingual empty token.
    Ok(tokens.into_iter().map(Option::unwrap_or_default).collect())
}

// ---------------------------------------------------------------- tensors

enum Data {
    F32(Vec<f32>),
    F16(Vec<f16>),
}

struct Tensor {
    name: String,
    /// PyTorch order (outermost first).
    shape: Vec<usize>,
    data: Data,
}

struct Emitter<'a, W: Write> {
    out: W,
    opts: &'a ConvertOptions,
    bytes: u64,
    count: usize,
}

fn wr_i32<W: Write>(w: &mut W, v: i32) -> std::io::Result<()> {
    w.write_all(&v.to_le_bytes())
}

fn to_i32(v: usize, what: &str) -> Result<i32, GgmlError> {
    i32::try_from(v).map_err(|_| GgmlError::Layout(format!("{what} = {v} does not fit in i32")))
}

const KEEP_F32: [&str; 4] = [
    "encoder.conv1.bias",
    "encoder.conv2.bias",
    "encoder.positional_embedding",
    "decoder.positional_embedding",
];

impl<W: Write> Emitter<'_, W> {
    fn emit(&mut self, t: Tensor) -> Result<(), GgmlError> {
        let n_dims = t.shape.len();
        let numel: usize = t.shape.iter().product();
        let len = match &t.data {
            Data::F32(v) => v.len(),
            Data::F16(v) => v.len(),
        };
        if numel != len {
            return Err(GgmlError::Layout(format!(
                "{}: {len} values for shape {:?}",
                t.name, t.shape
            )));
        }
        let keep_f32 = n_dims < 2 || KEEP_F32.contains(&t.name.as_str());
        let target = if keep_f32 {
            WeightType::F32
        } else {
            self.opts.wtype
        };
        let payload: Vec<u8> = match (target, t.data) {
            (WeightType::F32, Data::F32(v)) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            (WeightType::F32, Data::F16(v)) => {
                v.iter().flat_map(|x| x.to_f32().to_le_bytes()).collect()
            }
            (WeightType::F16, Data::F16(v)) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            (WeightType::F16, Data::F32(v)) => v
                .iter()
                .flat_map(|x| f16::from_f32(*x).to_le_bytes())
                .collect(),
        };
        let name = t.name.as_bytes();
        wr_i32(&mut self.out, to_i32(n_dims, "n_dims")?)?;
        wr_i32(&mut self.out, to_i32(name.len(), "name length")?)?;
        wr_i32(&mut self.out, target.ggml_type())?;
        for &d in t.shape.iter().rev() {
            wr_i32(&mut self.out, to_i32(d, "dimension")?)?;
        }
        self.out.write_all(name)?;
        self.out.write_all(&payload)?;
        self.bytes += 12 + 4 * n_dims as u64 + name.len() as u64 + payload.len() as u64;
        self.count += 1;
        Ok(())
    }
}

/// Reads a float variable as f16 or f32 data (dequantizing int8 CTranslate2 weights).
fn load(m: &Ct2Model, name: &str) -> Result<(Vec<usize>, Data), GgmlError> {
    let v = m.get(name)?;
    let shape = v.shape().to_vec();
    let data = match v.info.dtype {
        crate::asr::ct2::DType::F16 => Data::F16(v.to_f16()?),
        crate::asr::ct2::DType::F32 | crate::asr::ct2::DType::BF16 => Data::F32(v.to_f32()?),
        _ => Data::F32(m.dequantized_f32(name)?),
    };
    Ok((shape, data))
}

/// Splits the rows of a `[rows, ...]` tensor into `parts` equal chunks.
fn split_rows(
    shape: &[usize],
    data: Data,
    parts: usize,
    name: &str,
) -> Result<Vec<(Vec<usize>, Data)>, GgmlError> {
    let rows = *shape
        .first()
        .ok_or_else(|| GgmlError::Layout(format!("{name}: scalar cannot be split")))?;
    if parts == 0 || rows % parts != 0 {
        return Err(GgmlError::Layout(format!(
            "{name}: {rows} rows not divisible by {parts}"
        )));
    }
    let mut sub_shape = shape.to_vec();
    sub_shape[0] = rows / parts;
    let chunk: usize = sub_shape.iter().product();
    Ok(match data {
        Data::F16(v) => v
            .chunks(chunk.max(1))
            .map(|c| (sub_shape.clone(), Data::F16(c.to_vec())))
            .collect(),
        Data::F32(v) => v
            .chunks(chunk.max(1))
            .map(|c| (sub_shape.clone(), Data::F32(c.to_vec())))
            .collect(),
    })
}

fn count_layers(m: &Ct2Model, prefix: &str) -> usize {
    (0..)
        .take_while(|i| m.contains(&format!("{prefix}/layer_{i}/ffn/linear_0/weight")))
        .count()
}

fn dim(m: &Ct2Model, name: &str, axis: usize) -> Result<usize, GgmlError> {
    let v = m.get(name)?;
    v.shape().get(axis).copied().ok_or_else(|| {
        GgmlError::Layout(format!("{name} has no axis {axis} (shape {:?})", v.shape()))
    })
}

/// Derives the hyper-parameters from tensor shapes.
pub fn hparams_from_ct2(m: &Ct2Model) -> Result<Hparams, GgmlError> {
    if m.spec_name != "WhisperSpec" {
        return Err(GgmlError::NotWhisper(m.spec_name.clone()));
    }
    let n_audio_state = dim(m, "encoder/position_encodings/encodings", 1)?;
    let n_text_state = dim(m, "decoder/embeddings/weight", 1)?;
    let heads = |scope: &str, state: usize| -> Result<usize, GgmlError> {
        match m.scalar_i64(&format!("{scope}/num_heads")) {
            Ok(h) if h > 0 => Ok(h as usize),
            Ok(h) => Err(GgmlError::Layout(format!("{scope}/num_heads = {h}"))),
            Err(_) => Ok(state / 64), // all Whisper sizes use 64-dim heads
        }
    };
    let hp = Hparams {
        n_vocab: to_i32(dim(m, "decoder/embeddings/weight", 0)?, "n_vocab")?,
        n_audio_ctx: to_i32(
            dim(m, "encoder/position_encodings/encodings", 0)?,
            "n_audio_ctx",
        )?,
        n_audio_state: to_i32(n_audio_state, "n_audio_state")?,
        n_audio_head: to_i32(heads("encoder", n_audio_state)?, "n_audio_head")?,
        n_audio_layer: to_i32(count_layers(m, "encoder"), "n_audio_layer")?,
        n_text_ctx: to_i32(
            dim(m, "decoder/position_encodings/encodings", 0)?,
            "n_text_ctx",
        )?,
        n_text_state: to_i32(n_text_state, "n_text_state")?,
        n_text_head: to_i32(heads("decoder", n_text_state)?, "n_text_head")?,
        n_text_layer: to_i32(count_layers(m, "decoder"), "n_text_layer")?,
        n_mels: to_i32(dim(m, "encoder/conv1/weight", 1)?, "n_mels")?,
    };
    if hp.n_audio_layer == 0 || hp.n_text_layer == 0 {
        return Err(GgmlError::Layout(
            "no encoder or decoder layers found".into(),
        ));
    }
    // Same bounds whisper.cpp can load (and that keep allocations sane).
    if !matches!(hp.n_mels, 80 | 128)
        || !(51_864..=51_866).contains(&hp.n_vocab)
        || hp.n_audio_ctx > 1500
        || hp.n_text_ctx > 448
    {
        return Err(GgmlError::Layout(format!(
            "not a Whisper-shaped model: {hp:?}"
        )));
    }
    if m.scalar_i64("decoder/scale_embeddings")
        .is_ok_and(|s| s != 0)
    {
        return Err(GgmlError::Layout(
            "decoder/scale_embeddings is set; Whisper never scales".into(),
        ));
    }
    Ok(hp)
}

/// Converts a CTranslate2 Whisper model into a whisper.cpp ggml file.
pub fn convert_ct2_whisper<W: Write>(
    m: &Ct2Model,
    vocab: &[Vec<u8>],
    out: W,
    opts: &ConvertOptions,
) -> Result<ConvertReport, GgmlError> {
    let hp = hparams_from_ct2(m)?;
    if vocab.len() >= hp.n_vocab as usize {
        return Err(GgmlError::Vocab(format!(
            "{} tokens for n_vocab {}",
            vocab.len(),
            hp.n_vocab
        )));
    }
    let mut e = Emitter {
        out,
        opts,
        bytes: 0,
        count: 0,
    };

    // header
    for v in [
        GGML_MAGIC as i32,
        hp.n_vocab,
        hp.n_audio_ctx,
        hp.n_audio_state,
        hp.n_audio_head,
        hp.n_audio_layer,
        hp.n_text_ctx,
        hp.n_text_state,
        hp.n_text_head,
        hp.n_text_layer,
        hp.n_mels,
        opts.wtype.header_ftype(),
    ] {
        wr_i32(&mut e.out, v)?;
    }
    // mel filters
    let n_fft = 201usize; // 400-point FFT
    let filters = mel_filters(16_000, 400, hp.n_mels as usize);
    wr_i32(&mut e.out, hp.n_mels)?;
    wr_i32(&mut e.out, n_fft as i32)?;
    for f in &filters {
        e.out.write_all(&f.to_le_bytes())?;
    }
    // vocab
    wr_i32(&mut e.out, to_i32(vocab.len(), "token count")?)?;
    let mut head_bytes = 4 * 12 + 8 + 4 * filters.len() as u64 + 4;
    for tok in vocab {
        wr_i32(&mut e.out, to_i32(tok.len(), "token length")?)?;
        e.out.write_all(tok)?;
        head_bytes += 4 + tok.len() as u64;
    }
    e.bytes = head_bytes;

    let mut max_kb = 0f32;
    let simple = |e: &mut Emitter<'_, W>, src: &str, dst: &str| -> Result<(), GgmlError> {
        let (shape, data) = load(m, src)?;
        e.emit(Tensor {
            name: dst.to_string(),
            shape,
            data,
        })
    };
    let linear = |e: &mut Emitter<'_, W>, src: &str, dst: &str| -> Result<(), GgmlError> {
        simple(e, &format!("{src}/weight"), &format!("{dst}.weight"))?;
        simple(e, &format!("{src}/bias"), &format!("{dst}.bias"))
    };
    let norm = |e: &mut Emitter<'_, W>, src: &str, dst: &str| -> Result<(), GgmlError> {
        simple(e, &format!("{src}/gamma"), &format!("{dst}.weight"))?;
        simple(e, &format!("{src}/beta"), &format!("{dst}.bias"))
    };
    // fused rows [q; k; v] (self-attention) or [k; v] (cross-attention)
    let fused = |e: &mut Emitter<'_, W>,
                 src: &str,
                 dst: &str,
                 names: &[&str],
                 max_kb: &mut f32|
     -> Result<(), GgmlError> {
        let wname = format!("{src}/weight");
        let (ws, wd) = load(m, &wname)?;
        for ((shape, data), part) in split_rows(&ws, wd, names.len(), &wname)?
            .into_iter()
            .zip(names)
        {
            e.emit(Tensor {
                name: format!("{dst}.{part}.weight"),
                shape,
                data,
            })?;
        }
        let bname = format!("{src}/bias");
        let (bs, bd) = load(m, &bname)?;
        for ((shape, data), part) in split_rows(&bs, bd, names.len(), &bname)?
            .into_iter()
            .zip(names)
        {
            if *part == "key" {
                let vals = match &data {
                    Data::F32(v) => v.clone(),
                    Data::F16(v) => v.iter().map(|x| x.to_f32()).collect(),
                };
                *max_kb = vals.iter().fold(*max_kb, |a, x| a.max(x.abs()));
                continue; // whisper's key projection has no bias
            }
            e.emit(Tensor {
                name: format!("{dst}.{part}.bias"),
                shape,
                data,
            })?;
        }
        Ok(())
    };

    // the blocks encoder and decoder layers share: `s` is the CTranslate2 layer, `d` whisper.cpp's
    let self_attention =
        |e: &mut Emitter<'_, W>, s: &str, d: &str, max_kb: &mut f32| -> Result<(), GgmlError> {
            norm(
                e,
                &format!("{s}/self_attention/layer_norm"),
                &format!("{d}.attn_ln"),
            )?;
            fused(
                e,
                &format!("{s}/self_attention/linear_0"),
                &format!("{d}.attn"),
                &["query", "key", "value"],
                max_kb,
            )?;
            linear(
                e,
                &format!("{s}/self_attention/linear_1"),
                &format!("{d}.attn.out"),
            )
        };
    let mlp = |e: &mut Emitter<'_, W>, s: &str, d: &str| -> Result<(), GgmlError> {
        norm(e, &format!("{s}/ffn/layer_norm"), &format!("{d}.mlp_ln"))?;
        linear(e, &format!("{s}/ffn/linear_0"), &format!("{d}.mlp.0"))?;
        linear(e, &format!("{s}/ffn/linear_1"), &format!("{d}.mlp.2"))
    };

    // encoder
    simple(
        &mut e,
        "encoder/position_encodings/encodings",
        "encoder.positional_embedding",
    )?;
    for i in 1..=2 {
        simple(
            &mut e,
            &format!("encoder/conv{i}/weight"),
            &format!("encoder.conv{i}.weight"),
        )?;
        let (shape, data) = load(m, &format!("encoder/conv{i}/bias"))?;
        let n = shape.first().copied().unwrap_or(0);
        e.emit(Tensor {
            name: format!("encoder.conv{i}.bias"),
            shape: vec![n, 1],
            data,
        })?;
    }
    for l in 0..hp.n_audio_layer {
        let s = format!("encoder/layer_{l}");
        let d = format!("encoder.blocks.{l}");
        self_attention(&mut e, &s, &d, &mut max_kb)?;
        mlp(&mut e, &s, &d)?;
    }
    norm(&mut e, "encoder/layer_norm", "encoder.ln_post")?;

    // decoder
    simple(
        &mut e,
        "decoder/position_encodings/encodings",
        "decoder.positional_embedding",
    )?;
    simple(
        &mut e,
        "decoder/embeddings/weight",
        "decoder.token_embedding.weight",
    )?;
    for l in 0..hp.n_text_layer {
        let s = format!("decoder/layer_{l}");
        let d = format!("decoder.blocks.{l}");
        self_attention(&mut e, &s, &d, &mut max_kb)?;
        norm(
            &mut e,
            &format!("{s}/attention/layer_norm"),
            &format!("{d}.cross_attn_ln"),
        )?;
        linear(
            &mut e,
            &format!("{s}/attention/linear_0"),
            &format!("{d}.cross_attn.query"),
        )?;
        fused(
            &mut e,
            &format!("{s}/attention/linear_1"),
            &format!("{d}.cross_attn"),
            &["key", "value"],
            &mut max_kb,
        )?;
        linear(
            &mut e,
            &format!("{s}/attention/linear_2"),
            &format!("{d}.cross_attn.out"),
        )?;
        mlp(&mut e, &s, &d)?;
    }
    norm(&mut e, "decoder/layer_norm", "decoder.ln")?;

    e.out.flush()?;
    let expected = 7 + 15 * hp.n_audio_layer as usize + 4 + 24 * hp.n_text_layer as usize;
    if e.count != expected {
        return Err(GgmlError::Layout(format!(
            "wrote {} tensors, whisper.cpp expects {expected}",
            e.count
        )));
    }
    Ok(ConvertReport {
        hparams: hp,
        n_tokens_written: vocab.len(),
        n_tensors: e.count,
        bytes_written: e.bytes,
        max_dropped_key_bias: max_kb,
    })
}

// ---------------------------------------------------------------- validation

/// (block size, bytes per block) of the ggml types a whisper.cpp file may hold.
fn ggml_type_layout(t: i32) -> Option<(u64, u64)> {
    Some(match t {
        0 => (1, 4),   // f32
        1 => (1, 2),   // f16
        2 => (32, 18), // q4_0
        3 => (32, 20), // q4_1
        6 => (32, 22), // q5_0
        7 => (32, 24), // q5_1
        8 => (32, 34), // q8_0
        _ => return None,
    })
}

/// Sequential little-endian input for the validators; never panics, `None` = past the end.
pub trait ByteSource {
    /// Reads `n` bytes (small header fields only).
    fn bytes(&mut self, n: usize) -> Option<Vec<u8>>;
    /// Skips `n` bytes (tensor data), failing if that passes the end.
    fn skip(&mut self, n: u64) -> Option<()>;
    fn at_end(&mut self) -> bool;
    fn pos(&self) -> u64;
    fn i32(&mut self) -> Option<i32> {
        let b = self.bytes(4)?;
        Some(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

/// [`ByteSource`] over a byte slice.
pub struct SliceSource<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> SliceSource<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }
}

impl ByteSource for SliceSource<'_> {
    fn bytes(&mut self, n: usize) -> Option<Vec<u8>> {
        let end = self.pos.checked_add(n)?;
        let s = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(s.to_vec())
    }
    fn skip(&mut self, n: u64) -> Option<()> {
        let end = self.pos.checked_add(usize::try_from(n).ok()?)?;
        (end <= self.buf.len()).then(|| self.pos = end)
    }
    fn at_end(&mut self) -> bool {
        self.pos == self.buf.len()
    }
    fn pos(&self) -> u64 {
        self.pos as u64
    }
}

/// [`ByteSource`] over a file: reads headers, seeks over tensor data, so a
/// large model is validated without loading it.
pub struct FileSource {
    r: std::io::BufReader<std::fs::File>,
    pos: u64,
    len: u64,
}

impl FileSource {
    pub fn open(path: &std::path::Path) -> std::io::Result<Self> {
        let f = std::fs::File::open(path)?;
        let len = f.metadata()?.len();
        Ok(Self {
            r: std::io::BufReader::with_capacity(1 << 16, f),
            pos: 0,
            len,
        })
    }
}

impl ByteSource for FileSource {
    fn bytes(&mut self, n: usize) -> Option<Vec<u8>> {
        use std::io::Read;
        if self.pos.checked_add(n as u64)? > self.len {
            return None;
        }
        let mut v = vec![0u8; n];
        self.r.read_exact(&mut v).ok()?;
        self.pos += n as u64;
        Some(v)
    }
    fn skip(&mut self, n: u64) -> Option<()> {
        let end = self.pos.checked_add(n)?;
        if end > self.len {
            return None;
        }
        self.r.seek_relative(i64::try_from(n).ok()?).ok()?;
        self.pos = end;
        Some(())
    }
    fn at_end(&mut self) -> bool {
        self.pos == self.len
    }
    fn pos(&self) -> u64 {
        self.pos
    }
}

/// Walks the tensor records of a ggml file body, checking that every record is
/// well formed (1..=4 dims, positive dims, known type, block-aligned rows,
/// data inside the file) and that the file ends exactly after the last one.
/// Returns the tensor names.
pub(crate) fn walk_tensors(r: &mut dyn ByteSource) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    while !r.at_end() {
        let at = r.pos();
        let bad = |why: &str| format!("tensor record at byte {at}: {why}");
        let (Some(n_dims), Some(name_len), Some(ttype)) = (r.i32(), r.i32(), r.i32()) else {
            return Err(bad("truncated header"));
        };
        if !(1..=4).contains(&n_dims) {
            return Err(bad(&format!("n_dims {n_dims}")));
        }
        if !(1..=256).contains(&name_len) {
            return Err(bad(&format!("name length {name_len}")));
        }
        let (blck, bsize) =
            ggml_type_layout(ttype).ok_or_else(|| bad(&format!("unknown ggml type {ttype}")))?;
        let mut ne = Vec::new();
        for _ in 0..n_dims {
            let d = r.i32().ok_or_else(|| bad("truncated dims"))?;
            if d <= 0 {
                return Err(bad(&format!("dimension {d}")));
            }
            ne.push(d as u64);
        }
        if ne[0] % blck != 0 {
            return Err(bad("row not a multiple of the block size"));
        }
        let numel = ne
            .iter()
            .try_fold(1u64, |a, &d| a.checked_mul(d))
            .filter(|&n| n <= i32::MAX as u64)
            .ok_or_else(|| bad("too many elements"))?;
        let name = r
            .bytes(name_len as usize)
            .ok_or_else(|| bad("truncated name"))?;
        let name = String::from_utf8(name).map_err(|_| bad("name not UTF-8"))?;
        r.skip(numel / blck * bsize)
            .ok_or_else(|| format!("tensor {name}: data runs past end of file"))?;
        names.push(name);
    }
    Ok(names)
}

/// Checks a whisper.cpp model file before handing it to whisper.cpp, whose
/// loader trusts its input (a bad type id trips a GGML_ASSERT and aborts the
/// process; n_dims > 4 overflows a stack array). Returns the hyper-parameters.
pub fn validate_whisper_file(buf: &[u8]) -> Result<Hparams, GgmlError> {
    validate_whisper(&mut SliceSource::new(buf))
}

/// [`validate_whisper_file`] on a path, streaming (memory use independent of model size).
pub fn validate_whisper_path(path: &std::path::Path) -> Result<Hparams, GgmlError> {
    validate_whisper(&mut FileSource::open(path)?)
}

fn validate_whisper(r: &mut dyn ByteSource) -> Result<Hparams, GgmlError> {
    let bad = |s: String| GgmlError::Layout(s);
    let mut h = [0i32; 12];
    for v in h.iter_mut() {
        *v = r.i32().ok_or_else(|| bad("truncated header".into()))?;
    }
    if h[0] as u32 != GGML_MAGIC {
        return Err(bad("bad magic".into()));
    }
    let hp = Hparams {
        n_vocab: h[1],
        n_audio_ctx: h[2],
        n_audio_state: h[3],
        n_audio_head: h[4],
        n_audio_layer: h[5],
        n_text_ctx: h[6],
        n_text_state: h[7],
        n_text_head: h[8],
        n_text_layer: h[9],
        n_mels: h[10],
    };
    let sane = [
        (hp.n_vocab, 51_864, 51_866),
        (hp.n_audio_ctx, 1, 1500),
        (hp.n_audio_state, 64, 4096),
        (hp.n_audio_head, 1, 64),
        (hp.n_audio_layer, 1, 64),
        (hp.n_text_ctx, 1, 448),
        (hp.n_text_state, 64, 4096),
        (hp.n_text_head, 1, 64),
        (hp.n_text_layer, 1, 64),
        (hp.n_mels, 80, 128),
    ];
    if sane.iter().any(|&(v, lo, hi)| v < lo || v > hi) {
        return Err(bad(format!("implausible hparams {hp:?}")));
    }
    let ftype = h[11].rem_euclid(1000);
    if h[11] < 0 || ![0, 1, 2, 3, 7, 8, 9].contains(&ftype) {
        return Err(bad(format!("unsupported ftype {}", h[11])));
    }
    let (Some(n_mel), Some(n_fft)) = (r.i32(), r.i32()) else {
        return Err(bad("truncated mel header".into()));
    };
    if n_mel != hp.n_mels || n_fft != 201 {
        return Err(bad(format!("mel filters {n_mel}x{n_fft}")));
    }
    r.skip(4 * n_mel as u64 * n_fft as u64)
        .ok_or_else(|| bad("truncated mel filters".into()))?;
    let n_tok = r.i32().ok_or_else(|| bad("truncated vocab".into()))?;
    if n_tok < 0 || n_tok > hp.n_vocab {
        return Err(bad(format!("vocab count {n_tok}")));
    }
    for i in 0..n_tok {
        let len = r.i32().ok_or_else(|| bad("truncated vocab".into()))?;
        if !(0..=1024).contains(&len) {
            return Err(bad(format!("token {i} length {len}")));
        }
        r.skip(len as u64)
            .ok_or_else(|| bad("truncated vocab".into()))?;
    }
    let names = walk_tensors(r).map_err(bad)?;
    let expected = 7 + 15 * hp.n_audio_layer as usize + 4 + 24 * hp.n_text_layer as usize;
    if names.len() != expected {
        return Err(bad(format!("{} tensors, expected {expected}", names.len())));
    }
    Ok(hp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validator_rejects_every_truncation_of_a_small_file() {
        // Header + mel + 2 tokens + one tensor record is enough to exercise the walker.
        let mut b = Vec::new();
        for v in [
            GGML_MAGIC as i32,
            51864,
            1500,
            384,
            6,
            4,
            448,
            384,
            6,
            4,
            80,
            1,
        ] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(&80i32.to_le_bytes());
        b.extend_from_slice(&201i32.to_le_bytes());
        b.extend(std::iter::repeat_n(0u8, 4 * 80 * 201));
        b.extend_from_slice(&1i32.to_le_bytes());
        b.extend_from_slice(&1i32.to_le_bytes());
        b.push(b'a');
        for v in [1i32, 1, 0, 2] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.push(b'x');
        b.extend_from_slice(&[0u8; 8]);
        // Well formed but incomplete: rejected for the tensor count, not a panic.
        assert!(
            matches!(validate_whisper_file(&b), Err(GgmlError::Layout(m)) if m.contains("tensors"))
        );
        for n in 0..b.len() {
            assert!(validate_whisper_file(&b[..n]).is_err());
        }
        let mut odd = b.clone();
        let at = odd.len() - 9 - 16 + 8; // ttype of the tensor record
        odd[at..at + 4].copy_from_slice(&99i32.to_le_bytes());
        assert!(
            matches!(validate_whisper_file(&odd), Err(GgmlError::Layout(m)) if m.contains("unknown ggml type"))
        );
    }

    #[test]
    fn byte_decoder_is_a_bijection() {
        let d = gpt2_byte_decoder();
        assert_eq!(d.len(), 256);
        let mut seen: Vec<u8> = d.values().copied().collect();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), 256);
        assert_eq!(d[&'Ġ'], b' ');
        assert_eq!(d[&'Ċ'], b'\n');
    }

    #[test]
    fn vocab_keeps_invalid_utf8_bytes() {
        // "æĪ" is the first 2 bytes of a 3-byte CJK char: must stay raw bytes.
        let v = vocab_from_ct2_lines("a\nĠb\næĪ\n\n<|endoftext|>\n<|x|>\n").expect("vocab");
        assert_eq!(
            v,
            vec![b"a".to_vec(), b" b".to_vec(), vec![0xe6, 0x88], vec![]]
        );
        assert!(vocab_from_ct2_lines("a\nb\n").is_err());
        assert!(vocab_from_ct2_lines("☃\n<|endoftext|>").is_err());
    }

    #[test]
    fn mel_filters_match_librosa_spot_values() {
        let f = mel_filters(16_000, 400, 80);
        assert_eq!(f.len(), 80 * 201);
        // librosa.filters.mel(sr=16000, n_fft=400, n_mels=80)[0, 1] and [79, 196]
        // (reference values checked against whisper's mel_filters.npz, see NOTES.md)
        assert!((f[1] - 0.024_862_593).abs() < 1e-6, "{}", f[1]);
        assert!(
            (f[79 * 201 + 196] - 0.001_795_036).abs() < 1e-6,
            "{}",
            f[79 * 201 + 196]
        );
        assert!(f.iter().all(|x| x.is_finite() && *x >= 0.0));
    }
}
