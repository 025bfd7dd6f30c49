//! Speed of the classifier: utterances per second through tokenizer + encoder + heads at batch
//! 1 and 32 (one intra-op thread), on the first N utterances of the corpus test split.
//! `pipelines/classifier/bench.py` measures Python onnxruntime on the same model and inputs;
//! `cargo bench --bench analyze` times a 60-minute conversation through the whole pipeline,
//! classifier included.
//!
//!     cargo run --release --example classifier_bench -- [N]
//!     target/clf/bin/python pipelines/classifier/bench.py [N]

use std::path::Path;
use std::time::{Duration, Instant};

use dealerscope::classify::model::{Classifier, Item};
use dealerscope::classify::models;

fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(512);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let corpus = std::fs::read_to_string(root.join("pipelines/classifier/corpus/test.jsonl"))?;
    let texts: Vec<String> = corpus
        .lines()
        .take(n)
        .map(|l| {
            Ok(serde_json::from_str::<serde_json::Value>(l)?["text"]
                .as_str()
                .unwrap_or("")
                .to_string())
        })
        .collect::<anyhow::Result<_>>()?;
    let files = models::ensure(&dealerscope::asr::models::models_dir(None)?)?;
    let heads = root.join("models/classifier");
    for batch in [1, 32] {
        let c = Classifier::load(&files, &heads, batch, Duration::from_secs(300))?;
        let items: Vec<Item<'_>> = texts
            .iter()
            .map(|t| Item {
                text: t,
                context: "",
                context_is_salesperson: false,
            })
            .collect();
        c.score(&items[..batch.min(items.len())])?; // warm-up
        let started = Instant::now();
        for chunk in items.chunks(batch) {
            c.score(chunk)?;
        }
        let s = started.elapsed().as_secs_f64();
        println!(
            "rust  batch {batch:>2}: {:>7.1} utterances/s ({} in {s:.2} s)",
            items.len() as f64 / s,
            items.len()
        );
    }

    Ok(())
}
