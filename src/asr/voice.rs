//! Voice embeddings: a 256-dimensional vector per stretch of speech, close (cosine) for the
//! same voice and apart for different voices, so that segments can be clustered by speaker.
//!
//! The model is the GE2E speaker encoder (Wan et al., "Generalized End-to-End Loss for Speaker
//! Verification", 2018) as trained and published by Resemblyzer (Apache-2.0): 40 mel bands of
//! power (not log) spectrum, 25 ms windows every 10 ms, a 3-layer LSTM of 256 units, a linear
//! layer with ReLU, L2 normalisation. Its weights come from the `resemblyzer` PyPI wheel
//! (`pretrained.pt`, legacy `torch.save` format, read by [`super::torch_legacy`]) and are
//! stored as safetensors by `dealerscope models fetch voice` (see `models/voice/MODEL_CARD.md`).
//!
//! Inference is plain Rust: the LSTM's input projections and recurrent steps are matrix
//! products (ndarray → matrixmultiply), with all 1.6-s windows of a recording window run as
//! one batch, so a step multiplies a batch of hidden states at once.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use ndarray::{linalg::general_mat_mul, s, Array1, Array2, ArrayView2};
use realfft::RealFftPlanner;

use super::audio::WHISPER_RATE;
use super::torch_legacy::{self, Tensor};
use super::vad;

/// Errors raised while converting or loading the voice encoder.
#[derive(Debug, thiserror::Error)]
pub enum VoiceError {
    #[error(transparent)]
    Torch(#[from] torch_legacy::TorchError),
    #[error(transparent)]
    Safetensors(#[from] vad::VadError),
    #[error("voice encoder: tensor {name}: {reason}")]
    Tensor { name: String, reason: String },
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
}

const N_MELS: usize = 40;
const HIDDEN: usize = 256;
const LAYERS: usize = 3;
/// 25 ms window, 10 ms hop at 16 kHz.
const N_FFT: usize = 400;
const HOP: usize = 160;
/// Frames in one partial utterance (1.6 s), as the model was trained.
const PARTIAL: usize = 160;
/// Hop between partial utterances of a long segment (0.8 s; Resemblyzer uses 0.77 s).
const PARTIAL_HOP: usize = 80;
/// Segments shorter than this (frames) get no embedding: too little voice to tell.
pub const MIN_FRAMES: usize = 30;
/// Partial utterances run through the network together.
const BATCH: usize = 48;
/// Resemblyzer normalises quiet audio up to this level before embedding.
const TARGET_DBFS: f64 = -30.0;

/// The tensors the encoder needs, with their shapes (PyTorch's `nn.LSTM` and `nn.Linear`).
fn expected() -> Vec<(String, Vec<usize>)> {
    let mut v = Vec::new();
    for l in 0..LAYERS {
        let input = if l == 0 { N_MELS } else { HIDDEN };
        v.push((format!("lstm.weight_ih_l{l}"), vec![4 * HIDDEN, input]));
        v.push((format!("lstm.weight_hh_l{l}"), vec![4 * HIDDEN, HIDDEN]));
        v.push((format!("lstm.bias_ih_l{l}"), vec![4 * HIDDEN]));
        v.push((format!("lstm.bias_hh_l{l}"), vec![4 * HIDDEN]));
    }
    v.push(("linear.weight".into(), vec![HIDDEN, HIDDEN]));
    v.push(("linear.bias".into(), vec![HIDDEN]));
    v
}

fn check_shapes<'a>(
    get: impl Fn(&str) -> Option<(&'a [usize], &'a [f32])>,
) -> Result<(), VoiceError> {
    for (name, shape) in expected() {
        let bad = |reason: String| VoiceError::Tensor {
            name: name.clone(),
            reason,
        };
        let (s, data) = get(&name).ok_or_else(|| bad("missing".into()))?;
        if s != shape.as_slice() {
            return Err(bad(format!("shape {s:?}, expected {shape:?}")));
        }
        if data.iter().any(|x| !x.is_finite()) {
            return Err(bad("not finite".into()));
        }
    }
    Ok(())
}

/// Converts Resemblyzer's `pretrained.pt` into the safetensors file the encoder loads (the
/// model's tensors only, sorted by name, float32 little-endian: byte-for-byte reproducible).
pub fn convert_resemblyzer(pt: &[u8], mut out: impl Write) -> Result<(), VoiceError> {
    let state = torch_legacy::read_state_dict(pt, Some("model_state"))?;
    check_shapes(|n| {
        state
            .get(n)
            .map(|t| (t.shape.as_slice(), t.data.as_slice()))
    })?;
    let wanted: BTreeMap<String, &Tensor> = expected()
        .into_iter()
        .filter_map(|(n, _)| state.get(&n).map(|t| (n, t)))
        .collect();
    let mut header = serde_json::Map::new();
    let mut offset = 0usize;
    for (name, t) in &wanted {
        let len = t.data.len() * 4;
        header.insert(
            name.clone(),
            serde_json::json!({"dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + len]}),
        );
        offset += len;
    }
    let mut head = serde_json::to_vec(&serde_json::Value::Object(header))
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    // safetensors pads the header with spaces to a multiple of 8.
    while head.len() % 8 != 0 {
        head.push(b' ');
    }
    out.write_all(&(head.len() as u64).to_le_bytes())?;
    out.write_all(&head)?;
    for t in wanted.values() {
        let bytes: Vec<u8> = t.data.iter().flat_map(|x| x.to_le_bytes()).collect();
        out.write_all(&bytes)?;
    }
    out.flush()?;
    Ok(())
}

/// One LSTM layer, weights transposed for `x · W`.
struct Layer {
    w_ih: Array2<f32>,
    w_hh: Array2<f32>,
    bias: Array1<f32>,
}

/// The loaded GE2E encoder. Read-only during inference: share it with an `Arc`.
pub struct VoiceEncoder {
    layers: Vec<Layer>,
    linear_w: Array2<f32>,
    linear_b: Array1<f32>,
    mel: Array2<f32>,
    window: Vec<f32>,
    fft: Arc<dyn realfft::RealToComplex<f32>>,
}

fn load_error(e: impl std::fmt::Display) -> VoiceError {
    VoiceError::Tensor {
        name: "file".into(),
        reason: e.to_string(),
    }
}

impl VoiceEncoder {
    pub fn load(path: &Path) -> Result<Self, VoiceError> {
        let buf = std::fs::read(path)?;
        Self::from_safetensors(&buf)
    }

    pub fn from_safetensors(buf: &[u8]) -> Result<Self, VoiceError> {
        let st = vad::read_safetensors(buf)?;
        check_shapes(|n| st.get(n).map(|t| (t.shape.as_slice(), t.data.as_slice())))?;
        // Shapes were checked above, so the reshapes cannot fail.
        let matrix_t = |name: &str| -> Result<Array2<f32>, VoiceError> {
            let t = &st[name];
            let m = Array2::from_shape_vec((t.shape[0], t.shape[1]), t.data.clone())
                .map_err(load_error)?;
            Ok(m.reversed_axes().as_standard_layout().to_owned())
        };
        let vector = |name: &str| Array1::from(st[name].data.clone());
        let mut layers = Vec::new();
        for l in 0..LAYERS {
            layers.push(Layer {
                w_ih: matrix_t(&format!("lstm.weight_ih_l{l}"))?,
                w_hh: matrix_t(&format!("lstm.weight_hh_l{l}"))?,
                bias: vector(&format!("lstm.bias_ih_l{l}")) + vector(&format!("lstm.bias_hh_l{l}")),
            });
        }
        let filters = super::ggml::mel_filters(WHISPER_RATE, N_FFT, N_MELS);
        let mel = Array2::from_shape_vec((N_MELS, N_FFT / 2 + 1), filters)
            .map_err(load_error)?
            .reversed_axes()
            .as_standard_layout()
            .to_owned();
        // Periodic Hann, as librosa's STFT uses.
        let window = (0..N_FFT)
            .map(|n| {
                (0.5 - 0.5 * (2.0 * std::f64::consts::PI * n as f64 / N_FFT as f64).cos()) as f32
            })
            .collect();
        Ok(VoiceEncoder {
            layers,
            linear_w: matrix_t("linear.weight")?,
            linear_b: vector("linear.bias"),
            mel,
            window,
            fft: RealFftPlanner::<f32>::new().plan_fft_forward(N_FFT),
        })
    }

    /// Mel power spectrogram `[frames, 40]` of 16 kHz samples, frames centred every 10 ms
    /// with zero padding at the edges (librosa's `melspectrogram` with `center=True`).
    fn mel_frames(&self, samples: &[f32]) -> Array2<f32> {
        let n_frames = 1 + samples.len() / HOP;
        let n_bins = N_FFT / 2 + 1;
        let mut power = Array2::<f32>::zeros((n_frames, n_bins));
        let mut input = self.fft.make_input_vec();
        let mut spectrum = self.fft.make_output_vec();
        let mut scratch = self.fft.make_scratch_vec();
        for (t, mut row) in power.rows_mut().into_iter().enumerate() {
            let centre = (t * HOP) as isize;
            for (k, x) in input.iter_mut().enumerate() {
                let i = centre - (N_FFT / 2) as isize + k as isize;
                let s = usize::try_from(i)
                    .ok()
                    .and_then(|i| samples.get(i))
                    .copied()
                    .unwrap_or(0.0);
                *x = s * self.window[k];
            }
            // Lengths come from the plan itself, so processing cannot fail.
            if self
                .fft
                .process_with_scratch(&mut input, &mut spectrum, &mut scratch)
                .is_err()
            {
                continue;
            }
            for (p, c) in row.iter_mut().zip(&spectrum) {
                *p = c.norm_sqr();
            }
        }
        power.dot(&self.mel)
    }

    /// One embedding per span (seconds, relative to `samples`), or `None` for a span too short
    /// to carry a voice ([`MIN_FRAMES`]). A span's embedding is the normalised mean of its
    /// 1.6-s partial utterances' embeddings.
    pub fn embed_spans(&self, samples: &[f32], spans: &[(f64, f64)]) -> Vec<Option<Vec<f32>>> {
        let rate = f64::from(WHISPER_RATE);
        let mels: Vec<Option<Array2<f32>>> = spans
            .iter()
            .map(|&(a, b)| {
                let lo = ((a.max(0.0) * rate) as usize).min(samples.len());
                let hi = ((b.max(0.0) * rate) as usize).min(samples.len());
                if hi <= lo || (hi - lo) / HOP < MIN_FRAMES {
                    return None;
                }
                Some(self.mel_frames(&normalise_volume(&samples[lo..hi])))
            })
            .collect();
        // Partial utterances: (span, first frame, length), grouped by length for batching.
        let mut by_len: HashMap<usize, Vec<(usize, usize)>> = HashMap::new();
        for (i, m) in mels.iter().enumerate() {
            let Some(m) = m else { continue };
            let n = m.nrows();
            if n <= PARTIAL {
                by_len.entry(n).or_default().push((i, 0));
                continue;
            }
            let mut starts: Vec<usize> = (0..=n - PARTIAL).step_by(PARTIAL_HOP).collect();
            if starts.last() != Some(&(n - PARTIAL)) {
                starts.push(n - PARTIAL);
            }
            by_len
                .entry(PARTIAL)
                .or_default()
                .extend(starts.into_iter().map(|s| (i, s)));
        }
        let mut sums: Vec<Option<Vec<f32>>> = vec![None; spans.len()];
        let mut lens: Vec<_> = by_len.into_iter().collect();
        lens.sort_by_key(|(len, _)| *len);
        for (len, parts) in lens {
            for chunk in parts.chunks(BATCH) {
                let views: Vec<ArrayView2<f32>> = chunk
                    .iter()
                    .filter_map(|&(i, from)| {
                        mels[i].as_ref().map(|m| m.slice(s![from..from + len, ..]))
                    })
                    .collect();
                let embeds = self.forward(&views, len);
                for (&(i, _), e) in chunk.iter().zip(embeds.rows()) {
                    let sum = sums[i].get_or_insert_with(|| vec![0.0; HIDDEN]);
                    sum.iter_mut().zip(e).for_each(|(a, b)| *a += b);
                }
            }
        }
        sums.into_iter()
            .map(|s| {
                s.map(|mut v| {
                    l2_normalise(&mut v);
                    v
                })
            })
            .collect()
    }

    /// Embeddings `[batch, 256]` of equally long mel sequences.
    fn forward(&self, seqs: &[ArrayView2<f32>], len: usize) -> Array2<f32> {
        let b = seqs.len();
        // Time-major input: row t*b + j is frame t of sequence j.
        let mut x = Array2::<f32>::zeros((len * b, N_MELS));
        for (j, m) in seqs.iter().enumerate() {
            for t in 0..len {
                x.row_mut(t * b + j).assign(&m.row(t));
            }
        }
        let mut h = Array2::<f32>::zeros((b, HIDDEN));
        for (l, layer) in self.layers.iter().enumerate() {
            let mut gates_all = x.dot(&layer.w_ih);
            gates_all += &layer.bias;
            let last = l + 1 == self.layers.len();
            let mut out = if last {
                Array2::zeros((0, HIDDEN))
            } else {
                Array2::zeros((len * b, HIDDEN))
            };
            h.fill(0.0);
            let mut c = Array2::<f32>::zeros((b, HIDDEN));
            for t in 0..len {
                let mut g = gates_all.slice_mut(s![t * b..(t + 1) * b, ..]);
                general_mat_mul(1.0, &h, &layer.w_hh, 1.0, &mut g);
                for j in 0..b {
                    let gr = g.row(j);
                    let gr = gr.as_slice().expect("standard layout");
                    let (cr, hr) = (
                        c.row_mut(j).into_slice().expect("standard layout"),
                        h.row_mut(j).into_slice().expect("standard layout"),
                    );
                    // PyTorch's gate order: input, forget, cell, output.
                    for k in 0..HIDDEN {
                        let i = sigmoid(gr[k]);
                        let f = sigmoid(gr[HIDDEN + k]);
                        let gg = gr[2 * HIDDEN + k].tanh();
                        let o = sigmoid(gr[3 * HIDDEN + k]);
                        cr[k] = f * cr[k] + i * gg;
                        hr[k] = o * cr[k].tanh();
                    }
                }
                if !last {
                    out.slice_mut(s![t * b..(t + 1) * b, ..]).assign(&h);
                }
            }
            if !last {
                x = out;
            }
        }
        let mut e = h.dot(&self.linear_w) + &self.linear_b;
        for mut row in e.rows_mut() {
            row.mapv_inplace(|v| v.max(0.0));
            let n = row.dot(&row).sqrt().max(1e-12);
            row /= n;
        }
        e
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

pub fn l2_normalise(v: &mut [f32]) {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    v.iter_mut().for_each(|x| *x /= n);
}

/// Raises quiet audio to [`TARGET_DBFS`] (never lowers it), as the model was trained: its
/// input is a power spectrum, so level matters.
fn normalise_volume(samples: &[f32]) -> Vec<f32> {
    let rms = (samples.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>()
        / samples.len().max(1) as f64)
        .sqrt();
    let dbfs = 20.0 * rms.max(1e-10).log10();
    let gain = if dbfs < TARGET_DBFS {
        10f64.powf((TARGET_DBFS - dbfs) / 20.0) as f32
    } else {
        1.0
    };
    samples.iter().map(|&x| x * gain).collect()
}

pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb).max(1e-12)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_audio_is_raised_loud_audio_kept() {
        let quiet = vec![0.001f32; 1600];
        let raised = normalise_volume(&quiet);
        let rms = (raised.iter().map(|x| x * x).sum::<f32>() / 1600.0).sqrt();
        assert!((20.0 * rms.log10() - TARGET_DBFS as f32).abs() < 0.01);
        let loud = vec![0.5f32; 1600];
        assert_eq!(normalise_volume(&loud), loud);
    }

    #[test]
    fn a_file_without_the_model_tensors_is_refused() {
        let mut buf = Vec::new();
        let head = br#"{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#;
        buf.extend_from_slice(&(head.len() as u64).to_le_bytes());
        buf.extend_from_slice(head);
        buf.extend_from_slice(&1f32.to_le_bytes());
        let err = VoiceEncoder::from_safetensors(&buf).err().expect("refused");
        assert!(err.to_string().contains("lstm.weight_ih_l0"), "{err}");
    }
}
