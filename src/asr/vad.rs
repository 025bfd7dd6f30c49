//! Silero VAD (16 kHz) safetensors -> whisper.cpp ggml VAD model.
//!
//! Source: `silero_vad/data/silero_vad_16k.safetensors` from the `silero-vad`
//! PyPI wheel (tensor names `stft_conv`, `conv1..4`, `lstm_cell`, `final_conv`).
//! Target layout as read by whisper.cpp's `whisper_vad_init_with_params`:
//!
//! ```text
//! u32 magic "ggml"; i32 len + model type string; i32 major minor patch;
//! i32 n_window n_context; i32 n_encoder_layers; {i32 in out kernel} * layers;
//! i32 lstm_input_size lstm_hidden_size final_conv_in final_conv_out;
//! tensors as in the Whisper file (n_dims, name_len, ttype, ne[], name, data)
//! ```
//! STFT basis, conv kernels and the final conv weight are f16; biases and LSTM f32.

use std::collections::BTreeMap;
use std::io::Write;

use half::f16;

/// Errors raised by the VAD converter.
#[derive(Debug, thiserror::Error)]
pub enum VadError {
    #[error("safetensors: {0}")]
    Safetensors(String),
    #[error("tensor {name}: {reason}")]
    Tensor { name: String, reason: String },
    #[error("invalid VAD model: {0}")]
    Invalid(String),
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
}

/// A float32 tensor read from safetensors.
pub struct StTensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// Minimal safetensors reader (F32 tensors only, which is all the Silero file has).
pub fn read_safetensors(buf: &[u8]) -> Result<BTreeMap<String, StTensor>, VadError> {
    let err = |s: &str| VadError::Safetensors(s.to_string());
    let hlen_bytes: [u8; 8] = buf
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| err("file shorter than 8 bytes"))?;
    let hlen = usize::try_from(u64::from_le_bytes(hlen_bytes))
        .map_err(|_| err("header length overflow"))?;
    let data_start = 8usize
        .checked_add(hlen)
        .filter(|&e| e <= buf.len())
        .ok_or_else(|| err("header length past end of file"))?;
    let header: serde_json::Value = serde_json::from_slice(&buf[8..data_start])
        .map_err(|e| VadError::Safetensors(e.to_string()))?;
    let obj = header
        .as_object()
        .ok_or_else(|| err("header is not an object"))?;
    let data = &buf[data_start..];
    let mut out = BTreeMap::new();
    for (name, v) in obj {
        if name == "__metadata__" {
            continue;
        }
        let terr = |reason: &str| VadError::Tensor {
            name: name.clone(),
            reason: reason.to_string(),
        };
        let dtype = v
            .get("dtype")
            .and_then(|d| d.as_str())
            .ok_or_else(|| terr("no dtype"))?;
        if dtype != "F32" {
            return Err(terr(&format!("dtype {dtype} not supported")));
        }
        let shape: Vec<usize> = v
            .get("shape")
            .and_then(|s| s.as_array())
            .ok_or_else(|| terr("no shape"))?
            .iter()
            .map(|d| d.as_u64().and_then(|x| usize::try_from(x).ok()))
            .collect::<Option<_>>()
            .ok_or_else(|| terr("bad shape"))?;
        let offs = v
            .get("data_offsets")
            .and_then(|o| o.as_array())
            .ok_or_else(|| terr("no data_offsets"))?;
        let (Some(a), Some(b)) = (
            offs.first().and_then(|x| x.as_u64()),
            offs.get(1).and_then(|x| x.as_u64()),
        ) else {
            return Err(terr("bad data_offsets"));
        };
        let (a, b) = (
            usize::try_from(a).map_err(|_| terr("offset"))?,
            usize::try_from(b).map_err(|_| terr("offset"))?,
        );
        let bytes = data
            .get(a..b)
            .ok_or_else(|| terr("data_offsets out of range"))?;
        let numel = shape
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| terr("shape overflow"))?;
        if bytes.len() != numel * 4 {
            return Err(terr("byte size does not match shape"));
        }
        let data = bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        out.insert(name.clone(), StTensor { shape, data });
    }
    Ok(out)
}

fn w32<W: Write>(w: &mut W, v: i32) -> std::io::Result<()> {
    w.write_all(&v.to_le_bytes())
}

fn dim_i32(d: usize, name: &str) -> Result<i32, VadError> {
    i32::try_from(d).map_err(|_| VadError::Tensor {
        name: name.into(),
        reason: "dimension too large".into(),
    })
}

/// Converts Silero's safetensors to a whisper.cpp VAD model. `version` is
/// recorded in the header (informational only).
pub fn convert_silero<W: Write>(
    st: &BTreeMap<String, StTensor>,
    version: (i32, i32, i32),
    mut out: W,
) -> Result<u64, VadError> {
    let get = |n: &str| {
        st.get(n).ok_or_else(|| VadError::Tensor {
            name: n.into(),
            reason: "missing".into(),
        })
    };
    let convs = ["conv1", "conv2", "conv3", "conv4"];
    let mut layers = Vec::new();
    for c in convs {
        let w = get(&format!("{c}.weight"))?;
        let [o, i, k] = w.shape[..] else {
            return Err(VadError::Tensor {
                name: format!("{c}.weight"),
                reason: format!("expected 3-D, got {:?}", w.shape),
            });
        };
        layers.push((i, o, k));
    }
    let ih = get("lstm_cell.weight_ih")?;
    let [gates, lstm_in] = ih.shape[..] else {
        return Err(VadError::Tensor {
            name: "lstm_cell.weight_ih".into(),
            reason: "expected 2-D".into(),
        });
    };
    let hidden = gates / 4;
    let fc = get("final_conv.weight")?;
    let (fc_out, fc_in) = (
        fc.shape.first().copied().unwrap_or(0),
        fc.shape.get(1).copied().unwrap_or(0),
    );

    let mut n = 0u64;
    let mut put = |out: &mut W, v: i32| -> Result<(), VadError> {
        w32(out, v)?;
        n += 4;
        Ok(())
    };
    put(&mut out, crate::asr::ggml::GGML_MAGIC as i32)?;
    let ty = b"silero-16k";
    put(&mut out, ty.len() as i32)?;
    out.write_all(ty)?;
    for v in [version.0, version.1, version.2, 512, 64, convs.len() as i32] {
        put(&mut out, v)?;
    }
    for &(i, o, k) in &layers {
        for d in [i, o, k] {
            put(&mut out, dim_i32(d, "conv")?)?;
        }
    }
    for d in [lstm_in, hidden, fc_in, fc_out] {
        put(&mut out, dim_i32(d, "lstm/final")?)?;
    }
    let mut bytes = n + ty.len() as u64;

    // (source name, ggml name, f16?, shape override)
    let mut plan: Vec<(String, &str, bool, Option<Vec<usize>>)> = vec![(
        "stft_conv.weight".into(),
        "_model.stft.forward_basis_buffer",
        true,
        None,
    )];
    let enc_names = [
        (
            "_model.encoder.0.reparam_conv.weight",
            "_model.encoder.0.reparam_conv.bias",
        ),
        (
            "_model.encoder.1.reparam_conv.weight",
            "_model.encoder.1.reparam_conv.bias",
        ),
        (
            "_model.encoder.2.reparam_conv.weight",
            "_model.encoder.2.reparam_conv.bias",
        ),
        (
            "_model.encoder.3.reparam_conv.weight",
            "_model.encoder.3.reparam_conv.bias",
        ),
    ];
    for (c, (wn, bn)) in convs.iter().zip(enc_names) {
        plan.push((format!("{c}.weight"), wn, true, None));
        plan.push((format!("{c}.bias"), bn, false, None));
    }
    plan.push((
        "lstm_cell.weight_ih".into(),
        "_model.decoder.rnn.weight_ih",
        false,
        None,
    ));
    plan.push((
        "lstm_cell.weight_hh".into(),
        "_model.decoder.rnn.weight_hh",
        false,
        None,
    ));
    plan.push((
        "lstm_cell.bias_ih".into(),
        "_model.decoder.rnn.bias_ih",
        false,
        None,
    ));
    plan.push((
        "lstm_cell.bias_hh".into(),
        "_model.decoder.rnn.bias_hh",
        false,
        None,
    ));
    plan.push((
        "final_conv.weight".into(),
        "_model.decoder.decoder.2.weight",
        true,
        Some(vec![fc_out, fc_in]),
    ));
    plan.push((
        "final_conv.bias".into(),
        "_model.decoder.decoder.2.bias",
        false,
        None,
    ));

    for (src, dst, half, shape) in plan {
        let t = get(&src)?;
        let shape = shape.unwrap_or_else(|| t.shape.clone());
        if shape.iter().product::<usize>() != t.data.len() {
            return Err(VadError::Tensor {
                name: src,
                reason: "shape override does not match".into(),
            });
        }
        w32(&mut out, dim_i32(shape.len(), dst)?)?;
        w32(&mut out, dst.len() as i32)?;
        w32(&mut out, i32::from(half))?;
        for &d in shape.iter().rev() {
            w32(&mut out, dim_i32(d, dst)?)?;
        }
        out.write_all(dst.as_bytes())?;
        let payload: Vec<u8> = if half {
            t.data
                .iter()
                .flat_map(|x| f16::from_f32(*x).to_le_bytes())
                .collect()
        } else {
            t.data.iter().flat_map(|x| x.to_le_bytes()).collect()
        };
        out.write_all(&payload)?;
        bytes += 12 + 4 * shape.len() as u64 + dst.len() as u64 + payload.len() as u64;
    }
    out.flush()?;
    Ok(bytes)
}

/// Checks a ggml Silero VAD file before whisper.cpp sees it: its loader trusts
/// the header (a negative string length or layer count means a huge
/// allocation or an abort) and its graph hard-codes the Silero v5/v6 layer
/// sizes, so anything else is refused here.
pub fn validate_vad_file(buf: &[u8]) -> Result<(), VadError> {
    validate_vad(&mut crate::asr::ggml::SliceSource::new(buf))
}

/// [`validate_vad_file`] on a path (streaming).
pub fn validate_vad_path(path: &std::path::Path) -> Result<(), VadError> {
    validate_vad(&mut crate::asr::ggml::FileSource::open(path)?)
}

fn validate_vad(r: &mut dyn crate::asr::ggml::ByteSource) -> Result<(), VadError> {
    let bad = |s: &str| VadError::Invalid(s.to_string());
    if r.i32().map(|m| m as u32) != Some(crate::asr::ggml::GGML_MAGIC) {
        return Err(bad("bad magic"));
    }
    let len = r.i32().ok_or_else(|| bad("truncated"))?;
    if !(1..=64).contains(&len) {
        return Err(bad("model type string length"));
    }
    r.bytes(len as usize).ok_or_else(|| bad("truncated"))?;
    let mut ints = Vec::new();
    for _ in 0..(3 + 2 + 1 + 12 + 4) {
        ints.push(r.i32().ok_or_else(|| bad("truncated header"))?);
    }
    let (n_window, n_context, n_layers) = (ints[3], ints[4], ints[5]);
    if n_window != 512 || !(0..=512).contains(&n_context) || n_layers != 4 {
        return Err(bad("unexpected window/context/layer count"));
    }
    if ints[6..18] != [129, 128, 3, 128, 64, 3, 64, 64, 3, 64, 128, 3]
        || ints[18..22] != [128, 128, 128, 1]
    {
        return Err(bad("not the Silero 16 kHz architecture"));
    }
    let names = crate::asr::ggml::walk_tensors(r).map_err(|e| bad(&e))?;
    if names.len() != 15 {
        return Err(bad("expected 15 tensors"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safetensors_rejects_garbage() {
        assert!(read_safetensors(b"").is_err());
        assert!(read_safetensors(&[255; 16]).is_err());
        let mut b = Vec::new();
        let h = br#"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#;
        b.extend_from_slice(&(h.len() as u64).to_le_bytes());
        b.extend_from_slice(h);
        b.extend_from_slice(&1f32.to_le_bytes());
        assert!(read_safetensors(&b).is_err(), "short data");
        b.extend_from_slice(&2f32.to_le_bytes());
        let t = read_safetensors(&b).expect("ok");
        assert_eq!(t["x"].data, vec![1.0, 2.0]);
    }
}
