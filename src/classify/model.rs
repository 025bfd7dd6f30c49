//! The encoder and the heads under ONNX Runtime (one intra-op thread each, created once and
//! shared), and the tokenizer that feeds the encoder.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Mutex, OnceLock};
use std::time::Duration;

use ndarray::{Array1, Array2, Axis};
use ort::environment::Environment;
use ort::session::builder::SessionBuilder;
use ort::session::Session;
use ort::value::Tensor;
use tokenizers::Tokenizer;

use super::models::Files;
use super::ClassifyError;

/// Width of the encoder's sentence embedding.
pub const DIM: usize = 512;
const ENCODER_OUTPUT: &str = "outputs";

/// One utterance to score, with the turn before it.
#[derive(Debug, Clone, Copy)]
pub struct Item<'a> {
    pub text: &'a str,
    /// Empty at the start of a conversation.
    pub context: &'a str,
    pub context_is_salesperson: bool,
}

/// The heads' outputs for a batch of items.
#[derive(Debug, Clone)]
pub struct Scores {
    /// `[items, labels]`: one sigmoid per label, in the order of [`Classifier::labels`].
    pub signals: Array2<f32>,
    /// Probability that each item's speaker is the salesperson.
    pub salesperson: Vec<f32>,
}

pub struct Classifier {
    // Sessions need `&mut` to run; one analysis at a time uses each.
    encoder: Mutex<Session>,
    heads: Mutex<Session>,
    tokenizer: Tokenizer,
    labels: Vec<String>,
    token_ids: String,
    row_splits: String,
    batch: usize,
}

fn runtime_err(e: impl std::fmt::Display) -> ClassifyError {
    ClassifyError::Runtime(e.to_string())
}

/// What the tokenizer sees: trimmed, whitespace collapsed (as in training).
pub fn clean(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The process's ONNX Runtime environment, loaded from `path` by the first caller (later
/// callers share it whatever path they name).
fn environment(path: &Path) -> Result<&'static Environment, ClassifyError> {
    static ENVIRONMENT: OnceLock<Environment> = OnceLock::new();
    if let Some(env) = ENVIRONMENT.get() {
        return Ok(env);
    }
    let env = ort::init_from(path)
        .map_err(|e| ClassifyError::Corrupt {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?
        .with_name("dealerscope")
        .build()
        .map_err(runtime_err)?;
    Ok(ENVIRONMENT.get_or_init(|| env))
}

fn session(env: &Environment, path: &Path) -> Result<Session, ClassifyError> {
    SessionBuilder::new(env)
        .map_err(runtime_err)?
        .with_intra_threads(1)
        .map_err(runtime_err)?
        .with_inter_threads(1)
        .map_err(runtime_err)?
        .commit_from_file(path)
        .map_err(|e| ClassifyError::Corrupt {
            path: path.display().to_string(),
            reason: e.to_string(),
        })
}

impl Classifier {
    /// Loads the runtime, both graphs and the tokenizer. Session creation runs on a helper
    /// thread: if it does not finish within `timeout` this returns an error instead of hanging.
    pub fn load(
        files: &Files,
        heads_dir: &Path,
        batch: usize,
        timeout: Duration,
    ) -> Result<Self, ClassifyError> {
        files.check()?;
        let heads_path = heads_dir.join("heads.onnx");
        let tokenizer_path = heads_dir.join("tokenizer.json");
        for p in [&heads_path, &tokenizer_path] {
            if !p.is_file() {
                return Err(ClassifyError::Heads {
                    path: p.display().to_string(),
                    reason: "missing (it is committed under models/classifier; see [classifier] heads_dir)".into(),
                });
            }
        }
        let (tx, rx) = mpsc::channel();
        let (runtime, encoder_path, heads_file): (PathBuf, PathBuf, PathBuf) = (
            files.runtime.clone(),
            files.encoder.clone(),
            heads_path.clone(),
        );
        std::thread::spawn(move || {
            let made = environment(&runtime)
                .and_then(|env| Ok((session(env, &encoder_path)?, session(env, &heads_file)?)));
            let _ = tx.send(made);
        });
        let (encoder, heads) = rx
            .recv_timeout(timeout)
            .map_err(|_| ClassifyError::Timeout {
                what: files.encoder.display().to_string(),
                seconds: timeout.as_secs(),
            })??;
        let labels: Vec<String> = heads
            .metadata()
            .ok()
            .and_then(|m| m.custom("labels"))
            .and_then(|s| serde_json::from_str(&s).ok())
            .ok_or_else(|| ClassifyError::Heads {
                path: heads_path.display().to_string(),
                reason: "no `labels` list in its metadata".into(),
            })?;
        let inputs: Vec<String> = encoder
            .inputs()
            .iter()
            .map(|i| i.name().to_string())
            .collect();
        let [token_ids, row_splits] =
            inputs
                .try_into()
                .map_err(|got: Vec<String>| ClassifyError::Corrupt {
                    path: files.encoder.display().to_string(),
                    reason: format!("expected 2 inputs (token ids, row splits), found {got:?}"),
                })?;
        let tokenizer =
            Tokenizer::from_file(&tokenizer_path).map_err(|e| ClassifyError::Heads {
                path: tokenizer_path.display().to_string(),
                reason: e.to_string(),
            })?;
        Ok(Classifier {
            encoder: Mutex::new(encoder),
            heads: Mutex::new(heads),
            tokenizer,
            labels,
            token_ids,
            row_splits,
            batch: batch.max(1),
        })
    }

    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// Token ids as the encoder takes them (with `<s>` and `</s>`).
    pub fn tokenize(&self, text: &str) -> Result<Vec<u32>, ClassifyError> {
        let enc = self
            .tokenizer
            .encode(clean(text), true)
            .map_err(|e| ClassifyError::Tokenizer(e.to_string()))?;
        Ok(enc.get_ids().to_vec())
    }

    /// Sentence embeddings, `[texts, 512]`, computed `batch` texts per encoder run.
    pub fn embed(&self, texts: &[&str]) -> Result<Array2<f32>, ClassifyError> {
        let mut out = Array2::zeros((texts.len(), DIM));
        let mut encoder = self.encoder.lock().unwrap_or_else(|p| p.into_inner());
        for (chunk_index, chunk) in texts.chunks(self.batch).enumerate() {
            let mut ids: Vec<i32> = Vec::new();
            let mut splits: Vec<i64> = vec![0];
            for t in chunk {
                ids.extend(self.tokenize(t)?.into_iter().map(|i| i as i32));
                splits.push(ids.len() as i64);
            }
            let inputs = ort::inputs![
                self.token_ids.as_str() => Tensor::from_array(Array1::from(ids)).map_err(runtime_err)?,
                self.row_splits.as_str() => Tensor::from_array(Array1::from(splits)).map_err(runtime_err)?,
            ];
            let outputs = encoder.run(inputs).map_err(runtime_err)?;
            let e = outputs[ENCODER_OUTPUT]
                .try_extract_array::<f32>()
                .map_err(runtime_err)?;
            let start = chunk_index * self.batch;
            out.slice_mut(ndarray::s![start..start + chunk.len(), ..])
                .assign(
                    &e.into_dimensionality::<ndarray::Ix2>()
                        .map_err(runtime_err)?,
                );
        }
        Ok(out)
    }

    /// Scores each item. Each distinct text (utterance or context) is embedded once.
    pub fn score(&self, items: &[Item<'_>]) -> Result<Scores, ClassifyError> {
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut texts: Vec<String> = Vec::new();
        let mut slot = |t: &str| -> Option<usize> {
            let t = clean(t);
            if t.is_empty() {
                return None;
            }
            let next = texts.len();
            Some(*index.entry(t.clone()).or_insert_with(|| {
                texts.push(t);
                next
            }))
        };
        let slots: Vec<(Option<usize>, Option<usize>)> = items
            .iter()
            .map(|i| (slot(i.text), slot(i.context)))
            .collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let embedded = self.embed(&refs)?;
        let pick = |s: Option<usize>| match s {
            Some(k) => embedded.row(k).to_owned(),
            None => Array1::zeros(DIM),
        };
        let n = items.len();
        let mut utterance = Array2::<f32>::zeros((n, DIM));
        let mut context = Array2::<f32>::zeros((n, DIM));
        let mut flag = Array2::<f32>::zeros((n, 1));
        for (k, ((u, c), item)) in slots.iter().zip(items).enumerate() {
            utterance.row_mut(k).assign(&pick(*u));
            context.row_mut(k).assign(&pick(*c));
            flag[[k, 0]] = if item.context_is_salesperson {
                1.0
            } else {
                0.0
            };
        }
        let mut heads = self.heads.lock().unwrap_or_else(|p| p.into_inner());
        let outputs = heads
            .run(ort::inputs![
                "utterance" => Tensor::from_array(utterance).map_err(runtime_err)?,
                "context" => Tensor::from_array(context).map_err(runtime_err)?,
                "context_is_salesperson" => Tensor::from_array(flag).map_err(runtime_err)?,
            ])
            .map_err(runtime_err)?;
        let signals = outputs["signals"]
            .try_extract_array::<f32>()
            .map_err(runtime_err)?
            .into_dimensionality::<ndarray::Ix2>()
            .map_err(runtime_err)?
            .to_owned();
        let salesperson = outputs["salesperson"]
            .try_extract_array::<f32>()
            .map_err(runtime_err)?
            .index_axis(Axis(1), 0)
            .iter()
            .copied()
            .collect();
        Ok(Scores {
            signals,
            salesperson,
        })
    }
}
