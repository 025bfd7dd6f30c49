//! Cuts the SentencepieceTokenizer node off the Universal Sentence Encoder graph, so plain ONNX
//! Runtime (without the onnxruntime-extensions custom ops) can run it on token ids.
//!
//! The edit works on the protobuf wire format: it walks `ModelProto.graph` (field 7), drops the
//! tokenizer `NodeProto` (graph field 1) and the string graph input it read (field 11), and adds
//! graph inputs named after the node's two outputs (token ids, int32; row splits, int64). Every
//! other field is copied byte for byte; only the graph's length prefix is rewritten. A
//! protobuf code generator for all of onnx.proto would be far more code for three fields.

use super::ClassifyError;

const MODEL_GRAPH: u32 = 7;
const GRAPH_NODE: u32 = 1;
const GRAPH_INPUT: u32 = 11;
const NODE_INPUT: u32 = 1;
const NODE_OUTPUT: u32 = 2;
const NODE_OP_TYPE: u32 = 4;
const VALUE_INFO_NAME: u32 = 1;
const TENSOR_INT32: u64 = 6;
const TENSOR_INT64: u64 = 7;

/// One top-level field of a message: its number, wire type and the bytes it spans (tag included).
struct Field<'a> {
    number: u32,
    /// The payload of a length-delimited field.
    payload: Option<&'a [u8]>,
    raw: &'a [u8],
}

fn bad(reason: impl Into<String>) -> ClassifyError {
    ClassifyError::Graph(reason.into())
}

fn varint(bytes: &[u8], pos: &mut usize) -> Result<u64, ClassifyError> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *bytes.get(*pos).ok_or_else(|| bad("truncated varint"))?;
        *pos += 1;
        value |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(bad("varint longer than 10 bytes"))
}

fn fields(bytes: &[u8]) -> Result<Vec<Field<'_>>, ClassifyError> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let start = pos;
        let tag = varint(bytes, &mut pos)?;
        let number = u32::try_from(tag >> 3).map_err(|_| bad("field number out of range"))?;
        let mut payload = None;
        match tag & 7 {
            0 => {
                varint(bytes, &mut pos)?;
            }
            1 => pos += 8,
            5 => pos += 4,
            2 => {
                let len = usize::try_from(varint(bytes, &mut pos)?)
                    .map_err(|_| bad("length out of range"))?;
                let end = pos.checked_add(len).ok_or_else(|| bad("length overflow"))?;
                payload = Some(bytes.get(pos..end).ok_or_else(|| bad("truncated field"))?);
                pos = end;
            }
            w => return Err(bad(format!("unsupported wire type {w}"))),
        }
        if pos > bytes.len() {
            return Err(bad("truncated field"));
        }
        out.push(Field {
            number,
            payload,
            raw: &bytes[start..pos],
        });
    }
    Ok(out)
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_bytes(out: &mut Vec<u8>, number: u32, payload: &[u8]) {
    put_varint(out, (u64::from(number) << 3) | 2);
    put_varint(out, payload.len() as u64);
    out.extend_from_slice(payload);
}

fn put_uint(out: &mut Vec<u8>, number: u32, v: u64) {
    put_varint(out, u64::from(number) << 3);
    put_varint(out, v);
}

fn strings(message: &[u8], number: u32) -> Result<Vec<&[u8]>, ClassifyError> {
    Ok(fields(message)?
        .into_iter()
        .filter(|f| f.number == number)
        .filter_map(|f| f.payload)
        .collect())
}

/// `ValueInfoProto { name, type: TypeProto { tensor_type { elem_type, shape { dim { dim_param } } } } }`.
fn tensor_input(name: &[u8], elem_type: u64, dim: &str) -> Vec<u8> {
    let mut dimension = Vec::new();
    put_bytes(&mut dimension, 2, dim.as_bytes());
    let mut shape = Vec::new();
    put_bytes(&mut shape, 1, &dimension);
    let mut tensor = Vec::new();
    put_uint(&mut tensor, 1, elem_type);
    put_bytes(&mut tensor, 2, &shape);
    let mut type_proto = Vec::new();
    put_bytes(&mut type_proto, 1, &tensor);
    let mut info = Vec::new();
    put_bytes(&mut info, VALUE_INFO_NAME, name);
    put_bytes(&mut info, 2, &type_proto);
    info
}

/// What the cut produced: the new model and the names of its two token inputs.
pub struct CutGraph {
    pub model: Vec<u8>,
    pub token_ids: String,
    pub row_splits: String,
}

/// Removes the node of type `op_type` (which must exist once) and feeds its outputs as inputs.
pub fn cut_tokenizer(model: &[u8], op_type: &str) -> Result<CutGraph, ClassifyError> {
    let top = fields(model)?;
    let mut out = Vec::with_capacity(model.len());
    let mut cut = None;
    for f in &top {
        if f.number != MODEL_GRAPH {
            out.extend_from_slice(f.raw);
            continue;
        }
        let graph = f.payload.ok_or_else(|| bad("graph is not a message"))?;
        let (new_graph, names) = cut_graph(graph, op_type)?;
        put_bytes(&mut out, MODEL_GRAPH, &new_graph);
        cut = Some(names);
    }
    let (token_ids, row_splits) = cut.ok_or_else(|| bad("no graph in the model"))?;
    Ok(CutGraph {
        model: out,
        token_ids,
        row_splits,
    })
}

fn cut_graph(graph: &[u8], op_type: &str) -> Result<(Vec<u8>, (String, String)), ClassifyError> {
    let parts = fields(graph)?;
    let mut tokenizer = None;
    for f in parts.iter().filter(|f| f.number == GRAPH_NODE) {
        let node = f.payload.ok_or_else(|| bad("node is not a message"))?;
        if strings(node, NODE_OP_TYPE)?.first() == Some(&op_type.as_bytes()) {
            if tokenizer.is_some() {
                return Err(bad(format!("more than one {op_type} node")));
            }
            tokenizer = Some(node);
        }
    }
    let node = tokenizer.ok_or_else(|| bad(format!("no {op_type} node")))?;
    let text_input = *strings(node, NODE_INPUT)?
        .first()
        .ok_or_else(|| bad("tokenizer node has no input"))?;
    let outputs = strings(node, NODE_OUTPUT)?;
    let [ids, splits] = outputs[..] else {
        return Err(bad(format!(
            "tokenizer node has {} outputs, expected 2",
            outputs.len()
        )));
    };
    let mut out = Vec::with_capacity(graph.len());
    let mut inputs_added = false;
    for f in &parts {
        match f.number {
            GRAPH_NODE if f.payload == Some(node) => {}
            GRAPH_INPUT => {
                let info = f.payload.ok_or_else(|| bad("input is not a message"))?;
                if strings(info, VALUE_INFO_NAME)?.first() == Some(&text_input) {
                    put_bytes(
                        &mut out,
                        GRAPH_INPUT,
                        &tensor_input(ids, TENSOR_INT32, "tokens"),
                    );
                    put_bytes(
                        &mut out,
                        GRAPH_INPUT,
                        &tensor_input(splits, TENSOR_INT64, "rows_plus_1"),
                    );
                    inputs_added = true;
                } else {
                    out.extend_from_slice(f.raw);
                }
            }
            _ => out.extend_from_slice(f.raw),
        }
    }
    if !inputs_added {
        return Err(bad("the tokenizer's text input is not a graph input"));
    }
    let name = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    Ok((out, (name(ids), name(splits))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(op: &str, inputs: &[&str], outputs: &[&str]) -> Vec<u8> {
        let mut n = Vec::new();
        for i in inputs {
            put_bytes(&mut n, NODE_INPUT, i.as_bytes());
        }
        for o in outputs {
            put_bytes(&mut n, NODE_OUTPUT, o.as_bytes());
        }
        put_bytes(&mut n, NODE_OP_TYPE, op.as_bytes());
        n
    }

    fn model(nodes: &[Vec<u8>], inputs: &[&str]) -> Vec<u8> {
        let mut g = Vec::new();
        for n in nodes {
            put_bytes(&mut g, GRAPH_NODE, n);
        }
        put_bytes(&mut g, 2, b"g");
        for i in inputs {
            put_bytes(&mut g, GRAPH_INPUT, &tensor_input(i.as_bytes(), 8, "n"));
        }
        let mut m = Vec::new();
        put_uint(&mut m, 1, 8); // ir_version
        put_bytes(&mut m, MODEL_GRAPH, &g);
        put_bytes(&mut m, 8, b"opset");
        m
    }

    #[test]
    fn drops_the_node_and_feeds_its_outputs() {
        let sp = node(
            "SentencepieceTokenizer",
            &["text", "nbest"],
            &["ids", "splits"],
        );
        let rest = node("Shape", &["ids"], &["shape"]);
        let m = model(&[sp, rest.clone()], &["text"]);
        let cut = cut_tokenizer(&m, "SentencepieceTokenizer").expect("cut");
        assert_eq!(
            (cut.token_ids.as_str(), cut.row_splits.as_str()),
            ("ids", "splits")
        );
        let expected = model(&[rest], &[]);
        let top = fields(&cut.model).unwrap();
        let graph = top
            .iter()
            .find(|f| f.number == MODEL_GRAPH)
            .unwrap()
            .payload
            .unwrap();
        let inputs: Vec<_> = fields(graph)
            .unwrap()
            .into_iter()
            .filter(|f| f.number == GRAPH_INPUT)
            .map(|f| strings(f.payload.unwrap(), VALUE_INFO_NAME).unwrap()[0].to_vec())
            .collect();
        assert_eq!(inputs, [b"ids".to_vec(), b"splits".to_vec()]);
        // Fields around the graph are untouched.
        assert_eq!(&cut.model[..2], &expected[..2]);
        assert!(cut.model.ends_with(b"opset"));
    }

    #[test]
    fn refuses_graphs_without_the_node_and_truncated_bytes() {
        let m = model(&[node("Shape", &["x"], &["y"])], &["x"]);
        assert!(matches!(
            cut_tokenizer(&m, "SentencepieceTokenizer"),
            Err(ClassifyError::Graph(_))
        ));
        let sp = node("SentencepieceTokenizer", &["text"], &["ids", "splits"]);
        let m = model(&[sp], &["text"]);
        assert!(cut_tokenizer(&m[..m.len() - 3], "SentencepieceTokenizer").is_err());
    }
}
