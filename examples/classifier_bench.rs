//! Speed of the classifier: utterances per second through tokenizer + encoder + heads at batch
//! 1 and 32 (one intra-op thread), on the first N utterances of the corpus test split; and the
//! time to analyse a 60-minute conversation (fixture conversations joined) with the full
//! pipeline, classifier included. `pipelines/classifier/bench.py` measures Python onnxruntime
//! on the same model and inputs.
//!
//!     cargo run --release --example classifier_bench -- [N]
//!     /tmp/clf/venv/bin/python pipelines/classifier/bench.py [N]

use std::path::Path;
use std::time::{Duration, Instant};

use dealerscope::classify::model::{Classifier, Item};
use dealerscope::classify::models;
use dealerscope::pipeline::{AnalyzeOptions, Pipeline};

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

    // A 60-minute conversation: fixture conversations joined until the turns cover an hour at
    // the pace of showroom speech (about 4 s per turn).
    let mut turns = Vec::new();
    let dir = root.join("tests/fixtures/conversations/en");
    let mut names: Vec<_> = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    names.sort();
    'fill: loop {
        for p in &names {
            for line in std::fs::read_to_string(p)?
                .lines()
                .filter(|l| l.contains(':'))
            {
                turns.push(line.to_string());
                if turns.len() >= 900 {
                    break 'fill;
                }
            }
        }
    }
    let text = turns.join("\n");
    let pipeline = Pipeline::load(&root.join("pipelines/dealership.toml"))?;
    let options = AnalyzeOptions::default();
    pipeline.analyze_text(
        "warmup.txt",
        "Salesperson: Hi.\nCustomer: Hello.\n",
        &options,
    )?;
    let started = Instant::now();
    let a = pipeline.analyze_text("hour.txt", &text, &options)?;
    println!(
        "60-minute conversation ({} turns, {:.0} min of speech): analysed in {:.3} s, classifier included",
        turns.len(),
        a.duration_s / 60.0,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
