//! Scores the pipeline's rules utterance by utterance on the classifier corpus (the project's
//! own labelled utterances), per label: the tool for developing the lexicons.
//!
//!     cargo run --release --example rules_on_corpus -- pipelines/classifier/corpus/seeds_en.jsonl [--errors LABEL]

use std::collections::{BTreeMap, BTreeSet};

use dealerscope::pipeline::{AnalyzeOptions, Pipeline};

#[derive(serde::Deserialize)]
struct Utterance {
    #[serde(default)]
    context: String,
    #[serde(default)]
    context_speaker: String,
    text: String,
    speaker: String,
    labels: Vec<String>,
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args
        .first()
        .ok_or_else(|| anyhow::anyhow!("usage: rules_on_corpus FILE.jsonl [--errors LABEL]"))?;
    let show = args
        .iter()
        .position(|a| a == "--errors")
        .and_then(|i| args.get(i + 1))
        .cloned();
    let pipeline = Pipeline::load(&dealerscope::cli::default_pipeline())?;
    let mut counts: BTreeMap<String, [usize; 3]> = BTreeMap::new(); // tp, pred, gold
    for line in std::fs::read_to_string(path)?
        .lines()
        .filter(|l| !l.trim().is_empty())
    {
        let u: Utterance = serde_json::from_str(line)?;
        let zh = u.text.chars().any(dealerscope::conversation::is_cjk)
            || u.context.chars().any(dealerscope::conversation::is_cjk);
        let (sales, customer, companion) = if zh {
            ("销售", "客户", "朋友")
        } else {
            ("Salesperson", "Customer", "Friend")
        };
        let mut transcript = String::new();
        if u.context_speaker == "salesperson" && !u.context.is_empty() {
            transcript.push_str(&format!("{sales}: {}\n", u.context));
        }
        let who = match u.speaker.as_str() {
            "salesperson" => sales,
            "companion" => companion,
            _ => customer,
        };
        // A companion-only or salesperson-only exchange still needs a customer turn to analyse.
        if who != customer {
            transcript.push_str(&format!("{customer}: …\n"));
        }
        transcript.push_str(&format!("{who}: {}\n", u.text));
        let gold: BTreeSet<String> = u.labels.iter().cloned().collect();
        let pred: BTreeSet<String> =
            match pipeline.analyze_text("u.txt", &transcript, &AnalyzeOptions::default()) {
                Ok(a) => a
                    .preferences
                    .iter()
                    .chain(&a.objections)
                    .chain(&a.intents)
                    .map(|s| s.id.clone())
                    .collect(),
                Err(_) => BTreeSet::new(),
            };
        for l in gold.union(&pred) {
            let c = counts.entry(l.clone()).or_default();
            c[0] += usize::from(gold.contains(l) && pred.contains(l));
            c[1] += usize::from(pred.contains(l));
            c[2] += usize::from(gold.contains(l));
        }
        if let Some(label) = &show {
            if gold.contains(label) != pred.contains(label) {
                let kind = if gold.contains(label) {
                    "MISS "
                } else {
                    "EXTRA"
                };
                println!("{kind} {label}: [{}] {}", u.context, u.text);
            }
        }
    }
    let mut f1s = Vec::new();
    println!(
        "{:<34} {:>6} {:>6} {:>6}  (tp/pred/gold)",
        "label", "P", "R", "F1"
    );
    for (label, [tp, pred, gold]) in &counts {
        let p = if *pred == 0 {
            0.0
        } else {
            *tp as f64 / *pred as f64
        };
        let r = if *gold == 0 {
            0.0
        } else {
            *tp as f64 / *gold as f64
        };
        let f = if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        };
        if *gold > 0 {
            f1s.push(f);
        }
        println!("{label:<34} {p:6.3} {r:6.3} {f:6.3}  ({tp}/{pred}/{gold})");
    }
    println!(
        "macro-F1 over {} labels: {:.3}",
        f1s.len(),
        f1s.iter().sum::<f64>() / f1s.len().max(1) as f64
    );
    Ok(())
}
