//! Reader for PyTorch's legacy `torch.save` format (before PyTorch 1.6), which is how the
//! `resemblyzer` wheel ships its speaker encoder (`pretrained.pt`). No Python needed.
//!
//! Layout: five pickles back to back — a magic number, the protocol version (1001), system
//! information, the saved object, and the sorted list of storage keys — followed, for each
//! key in that order, by the storage's element count (i64, little-endian) and its raw bytes.
//! Inside the saved object a tensor is `torch._utils._rebuild_tensor_v2(storage, offset,
//! size, stride, ...)`, where `storage` is a persistent id
//! `("storage", <type>, key, location, numel, view)`.
//!
//! The pickle machine here covers the opcodes that protocol-2 `torch.save` output uses; any
//! other opcode is an error, never a guess.

use std::collections::{BTreeMap, HashMap};

/// Errors raised while reading a legacy PyTorch file.
#[derive(Debug, thiserror::Error)]
pub enum TorchError {
    #[error("pickle at byte {at}: {reason}")]
    Pickle { at: usize, reason: String },
    #[error("not a legacy torch.save file: {0}")]
    Format(String),
    #[error("tensor {name}: {reason}")]
    Tensor { name: String, reason: String },
}

/// A pickled value, as far as a state dict needs.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Tuple(Vec<Value>),
    List(Vec<Value>),
    Dict(Vec<(Value, Value)>),
    /// `module.name`.
    Global(String, String),
    /// A callable applied to an argument tuple (REDUCE).
    Call(Box<Value>, Vec<Value>),
    Persistent(Box<Value>),
    /// The MARK opcode's stack marker.
    Mark,
}

impl Value {
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Dict(items) => items
                .iter()
                .find(|(k, _)| matches!(k, Value::Str(s) if s == key))
                .map(|(_, v)| v),
            _ => None,
        }
    }
}

/// Runs one pickle starting at `buf[at]`; returns the value and the offset after STOP.
pub fn unpickle(buf: &[u8], at: usize) -> Result<(Value, usize), TorchError> {
    let mut m = Machine {
        buf,
        pos: at,
        stack: Vec::new(),
        memo: HashMap::new(),
    };
    let v = m.run()?;
    Ok((v, m.pos))
}

struct Machine<'a> {
    buf: &'a [u8],
    pos: usize,
    stack: Vec<Value>,
    memo: HashMap<u32, Value>,
}

impl Machine<'_> {
    fn err(&self, reason: impl Into<String>) -> TorchError {
        TorchError::Pickle {
            at: self.pos,
            reason: reason.into(),
        }
    }

    fn take(&mut self, n: usize) -> Result<&[u8], TorchError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| self.err("truncated"))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, TorchError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, TorchError> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, TorchError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn line(&mut self) -> Result<String, TorchError> {
        let rest = &self.buf[self.pos..];
        let n = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| self.err("unterminated line"))?;
        let s = String::from_utf8_lossy(&rest[..n]).into_owned();
        self.pos += n + 1;
        Ok(s)
    }

    fn pop(&mut self) -> Result<Value, TorchError> {
        self.stack.pop().ok_or_else(|| self.err("stack underflow"))
    }

    /// Everything above the topmost MARK (which is removed).
    fn pop_mark(&mut self) -> Result<Vec<Value>, TorchError> {
        let at = self
            .stack
            .iter()
            .rposition(|v| *v == Value::Mark)
            .ok_or_else(|| self.err("no MARK"))?;
        let items = self.stack.split_off(at + 1);
        self.stack.pop();
        Ok(items)
    }

    fn top(&mut self) -> Result<&mut Value, TorchError> {
        let at = self.pos;
        self.stack.last_mut().ok_or(TorchError::Pickle {
            at,
            reason: "stack underflow".into(),
        })
    }

    fn string(&mut self, n: usize) -> Result<Value, TorchError> {
        let at = self.pos;
        let b = self.take(n)?;
        let s = std::str::from_utf8(b).map_err(|_| TorchError::Pickle {
            at,
            reason: "string is not UTF-8".into(),
        })?;
        Ok(Value::Str(s.to_string()))
    }

    fn run(&mut self) -> Result<Value, TorchError> {
        loop {
            let op = self.u8()?;
            match op {
                0x80 => {
                    self.u8()?; // PROTO n
                }
                0x95 => {
                    self.take(8)?; // FRAME size
                }
                b'.' => return self.pop(),
                b'N' => self.stack.push(Value::None),
                0x88 => self.stack.push(Value::Bool(true)),
                0x89 => self.stack.push(Value::Bool(false)),
                b'J' => {
                    let v = self.u32()? as i32;
                    self.stack.push(Value::Int(i64::from(v)));
                }
                b'K' => {
                    let v = self.u8()?;
                    self.stack.push(Value::Int(i64::from(v)));
                }
                b'M' => {
                    let v = self.u16()?;
                    self.stack.push(Value::Int(i64::from(v)));
                }
                0x8a => {
                    // LONG1: little-endian two's complement of n bytes; only i64-sized ones
                    // matter (the 10-byte magic number is compared as bytes by the caller).
                    let n = usize::from(self.u8()?);
                    let b = self.take(n)?.to_vec();
                    let v = if n <= 8 {
                        let fill = if b.last().is_some_and(|&x| x & 0x80 != 0) {
                            0xff
                        } else {
                            0
                        };
                        let mut w = [fill; 8];
                        w[..n].copy_from_slice(&b);
                        Value::Int(i64::from_le_bytes(w))
                    } else {
                        Value::Str(hex::encode(&b))
                    };
                    self.stack.push(v);
                }
                b'G' => {
                    let b = self.take(8)?;
                    let v = f64::from_be_bytes(b.try_into().expect("8 bytes"));
                    self.stack.push(Value::Float(v));
                }
                b'X' => {
                    let n = self.u32()? as usize;
                    let v = self.string(n)?;
                    self.stack.push(v);
                }
                0x8c => {
                    let n = usize::from(self.u8()?);
                    let v = self.string(n)?;
                    self.stack.push(v);
                }
                b'(' => self.stack.push(Value::Mark),
                b')' => self.stack.push(Value::Tuple(Vec::new())),
                b']' => self.stack.push(Value::List(Vec::new())),
                b'}' => self.stack.push(Value::Dict(Vec::new())),
                b't' => {
                    let items = self.pop_mark()?;
                    self.stack.push(Value::Tuple(items));
                }
                0x85..=0x87 => {
                    let n = usize::from(op - 0x84);
                    if self.stack.len() < n {
                        return Err(self.err("stack underflow"));
                    }
                    let items = self.stack.split_off(self.stack.len() - n);
                    self.stack.push(Value::Tuple(items));
                }
                b'a' => {
                    let v = self.pop()?;
                    match self.top()? {
                        Value::List(l) => l.push(v),
                        _ => return Err(self.err("APPEND to a non-list")),
                    }
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    match self.top()? {
                        Value::List(l) => l.extend(items),
                        _ => return Err(self.err("APPENDS to a non-list")),
                    }
                }
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    match self.top()? {
                        Value::Dict(d) => d.push((k, v)),
                        _ => return Err(self.err("SETITEM on a non-dict")),
                    }
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    if items.len() % 2 != 0 {
                        return Err(self.err("SETITEMS with an odd item count"));
                    }
                    let mut pairs = Vec::with_capacity(items.len() / 2);
                    let mut it = items.into_iter();
                    while let (Some(k), Some(v)) = (it.next(), it.next()) {
                        pairs.push((k, v));
                    }
                    match self.top()? {
                        Value::Dict(d) => d.extend(pairs),
                        _ => return Err(self.err("SETITEMS on a non-dict")),
                    }
                }
                b'q' => {
                    let i = u32::from(self.u8()?);
                    let v = self.top()?.clone();
                    self.memo.insert(i, v);
                }
                b'r' => {
                    let i = self.u32()?;
                    let v = self.top()?.clone();
                    self.memo.insert(i, v);
                }
                0x94 => {
                    let i = self.memo.len() as u32;
                    let v = self.top()?.clone();
                    self.memo.insert(i, v);
                }
                b'h' | b'j' => {
                    let i = if op == b'h' {
                        u32::from(self.u8()?)
                    } else {
                        self.u32()?
                    };
                    let v = self
                        .memo
                        .get(&i)
                        .cloned()
                        .ok_or_else(|| self.err(format!("memo {i} unset")))?;
                    self.stack.push(v);
                }
                b'c' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    self.stack.push(Value::Global(module, name));
                }
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    match (module, name) {
                        (Value::Str(m), Value::Str(n)) => self.stack.push(Value::Global(m, n)),
                        _ => return Err(self.err("STACK_GLOBAL needs two strings")),
                    }
                }
                b'R' | 0x81 => {
                    let args = match self.pop()? {
                        Value::Tuple(a) => a,
                        _ => return Err(self.err("REDUCE arguments are not a tuple")),
                    };
                    let callable = self.pop()?;
                    let v = match &callable {
                        // An OrderedDict is a dict for reading purposes.
                        Value::Global(m, n) if m == "collections" && n == "OrderedDict" => {
                            Value::Dict(Vec::new())
                        }
                        _ => Value::Call(Box::new(callable), args),
                    };
                    self.stack.push(v);
                }
                b'b' => {
                    // BUILD sets an object's state (an OrderedDict's `_metadata`): not needed.
                    self.pop()?;
                }
                b'Q' => {
                    let pid = self.pop()?;
                    self.stack.push(Value::Persistent(Box::new(pid)));
                }
                other => return Err(self.err(format!("unsupported opcode 0x{other:02x}"))),
            }
        }
    }
}

/// A float32 tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// `torch.save`'s magic number, as LONG1's little-endian bytes.
const MAGIC: &str = "6cfc9c46f9206aa85019";

/// Reads a legacy `torch.save` file and returns the float tensors of the state dict found
/// under `key` in the saved object (or the object itself when `key` is `None`).
pub fn read_state_dict(
    buf: &[u8],
    key: Option<&str>,
) -> Result<BTreeMap<String, Tensor>, TorchError> {
    let fmt = |s: &str| TorchError::Format(s.to_string());
    let (magic, at) = unpickle(buf, 0)?;
    if magic != Value::Str(MAGIC.into()) {
        return Err(fmt(
            "bad magic number (a zip-format file from PyTorch 1.6+?)",
        ));
    }
    let (protocol, at) = unpickle(buf, at)?;
    if protocol != Value::Int(1001) {
        return Err(fmt("unknown protocol version"));
    }
    let (_sys_info, at) = unpickle(buf, at)?;
    let (object, at) = unpickle(buf, at)?;
    let (keys, mut at) = unpickle(buf, at)?;
    let Value::List(keys) = keys else {
        return Err(fmt("storage key list missing"));
    };
    // Storages follow in key order: i64 element count, then the raw elements.
    let mut storages: HashMap<String, &[u8]> = HashMap::new();
    for k in keys {
        let Value::Str(k) = k else {
            return Err(fmt("storage key is not a string"));
        };
        let n = buf
            .get(at..at + 8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
            .ok_or_else(|| fmt("truncated storage header"))?;
        // Element size is checked per tensor (float32 only); the byte length needs it here.
        let len = usize::try_from(n)
            .ok()
            .and_then(|n| n.checked_mul(4))
            .ok_or_else(|| fmt("storage size overflow"))?;
        let data = buf
            .get(at + 8..at + 8 + len)
            .ok_or_else(|| fmt("truncated storage"))?;
        storages.insert(k, data);
        at += 8 + len;
    }
    let dict = match key {
        Some(k) => object
            .get(k)
            .ok_or_else(|| fmt(&format!("no `{k}` in the saved object")))?,
        None => &object,
    };
    let Value::Dict(items) = dict else {
        return Err(fmt("the state dict is not a dict"));
    };
    let mut out = BTreeMap::new();
    for (name, v) in items {
        let Value::Str(name) = name else { continue };
        out.insert(name.clone(), tensor(name, v, &storages)?);
    }
    Ok(out)
}

fn tensor(name: &str, v: &Value, storages: &HashMap<String, &[u8]>) -> Result<Tensor, TorchError> {
    let bad = |reason: &str| TorchError::Tensor {
        name: name.to_string(),
        reason: reason.to_string(),
    };
    let Value::Call(f, args) = v else {
        return Err(bad("not a tensor"));
    };
    if !matches!(&**f, Value::Global(m, n) if m == "torch._utils" && n == "_rebuild_tensor_v2") {
        return Err(bad("not built by _rebuild_tensor_v2"));
    }
    let ints = |v: Option<&Value>| -> Option<Vec<usize>> {
        match v? {
            Value::Tuple(t) => t
                .iter()
                .map(|x| match x {
                    Value::Int(i) => usize::try_from(*i).ok(),
                    _ => None,
                })
                .collect(),
            _ => None,
        }
    };
    let (Some(Value::Persistent(pid)), Some(&Value::Int(offset)), Some(shape), Some(stride)) = (
        args.first(),
        args.get(1),
        ints(args.get(2)),
        ints(args.get(3)),
    ) else {
        return Err(bad("unexpected _rebuild_tensor_v2 arguments"));
    };
    let Value::Tuple(pid) = &**pid else {
        return Err(bad("storage id is not a tuple"));
    };
    let (Some(Value::Global(_, kind)), Some(Value::Str(key))) = (pid.get(1), pid.get(2)) else {
        return Err(bad("unexpected storage id"));
    };
    if kind != "FloatStorage" {
        return Err(bad(&format!("{kind} is not supported (float32 only)")));
    }
    // Row-major contiguous strides only (what a saved parameter is).
    let mut expect = 1usize;
    for (d, s) in shape.iter().zip(&stride).rev() {
        if *s != expect && *d > 1 {
            return Err(bad("not contiguous"));
        }
        expect = expect.saturating_mul(*d);
    }
    let numel = shape.iter().product::<usize>();
    let bytes = storages.get(key).ok_or_else(|| bad("storage missing"))?;
    let offset = usize::try_from(offset).map_err(|_| bad("negative offset"))?;
    let raw = bytes
        .get(offset * 4..(offset + numel) * 4)
        .ok_or_else(|| bad("past the end of its storage"))?;
    Ok(Tensor {
        shape,
        data: raw
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_two_pickle_of_a_small_dict() {
        // pickle.dumps({'a': (1, -2, 3.5), 'b': [True, None, 'x']}, protocol=2)
        let p = b"\x80\x02}q\x00(X\x01\x00\x00\x00aq\x01K\x01J\xfe\xff\xff\xffG@\x0c\x00\x00\x00\x00\x00\x00\x87q\x02X\x01\x00\x00\x00bq\x03]q\x04(\x88NX\x01\x00\x00\x00xq\x05eu.";
        let (v, end) = unpickle(p, 0).expect("unpickles");
        assert_eq!(end, p.len());
        assert_eq!(
            v.get("a"),
            Some(&Value::Tuple(vec![
                Value::Int(1),
                Value::Int(-2),
                Value::Float(3.5)
            ]))
        );
        assert_eq!(
            v.get("b"),
            Some(&Value::List(vec![
                Value::Bool(true),
                Value::None,
                Value::Str("x".into())
            ]))
        );
    }

    #[test]
    fn truncated_and_unknown_input_is_an_error() {
        assert!(unpickle(b"\x80\x02}q\x00(X\x05\x00\x00\x00ab", 0).is_err());
        assert!(unpickle(b"\x80\x02\xff.", 0).is_err());
        assert!(unpickle(b"", 0).is_err());
        assert!(read_state_dict(b"PK\x03\x04 zip file", None).is_err());
    }
}
