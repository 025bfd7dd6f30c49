//! Extraction quality on the project's own labelled conversations (tests/fixtures/conversations,
//! written for the project): floors that a change must not fall below.

use std::collections::HashSet;

use dealerscope::pipeline::{AnalyzeOptions, Pipeline};

#[derive(Default)]
struct Counts {
    tp: usize,
    pred: usize,
    gold: usize,
}

impl Counts {
    fn f1(&self) -> f64 {
        let p = if self.pred == 0 {
            1.0
        } else {
            self.tp as f64 / self.pred as f64
        };
        let r = if self.gold == 0 {
            1.0
        } else {
            self.tp as f64 / self.gold as f64
        };
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
}

#[test]
fn own_labelled_conversations_meet_the_floors() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let pipeline = Pipeline::load(&root.join("pipelines/dealership.toml")).unwrap();
    for lang in ["en", "zh"] {
        let (mut labels, mut budget_ok, mut tier_ok, mut n) = (Counts::default(), 0, 0, 0);
        let dir = root.join("tests/fixtures/conversations").join(lang);
        let mut golds: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        golds.sort();
        for gold_path in golds {
            let gold: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&gold_path).unwrap()).unwrap();
            let a = pipeline
                .analyze_file(&gold_path.with_extension("txt"), &AnalyzeOptions::default())
                .unwrap();
            let mut want: HashSet<String> = ["preferences", "objections", "intents", "roles"]
                .iter()
                .flat_map(|k| {
                    gold[k]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|v| v.as_str().unwrap().to_string())
                })
                .collect();
            if !gold["competitors"].as_array().unwrap().is_empty() {
                want.insert("obj.competitor".into());
            }
            let got: HashSet<String> = a
                .preferences
                .iter()
                .chain(&a.objections)
                .chain(&a.intents)
                .map(|s| s.id.clone())
                .chain(a.roles.iter().map(|r| r.id.clone()))
                .filter(|id| id != "pref.model" && id != "pref.color")
                .collect();
            labels.tp += got.intersection(&want).count();
            labels.pred += got.len();
            labels.gold += want.len();
            let b = serde_json::to_value(&a.budget).unwrap();
            let close = |k: &str| match (b[k].as_f64(), gold["budget"][k].as_f64()) {
                (None, None) => true,
                (Some(p), Some(g)) => (p - g).abs() <= 0.02 * g.abs(),
                _ => false,
            };
            budget_ok += usize::from(if gold["budget"].is_null() {
                b.is_null()
            } else {
                b["kind"] == gold["budget"]["kind"]
                    && b["currency"] == gold["budget"]["currency"]
                    && close("min")
                    && close("max")
            });
            tier_ok += usize::from(serde_json::to_value(a.priority.tier).unwrap() == gold["tier"]);
            n += 1;
        }
        let (f1, budget, tier) = (
            labels.f1(),
            budget_ok as f64 / n as f64,
            tier_ok as f64 / n as f64,
        );
        eprintln!(
            "{lang}: {n} conversations, label F1 {f1:.3}, budget {budget:.3}, tier {tier:.3}"
        );
        assert!(n >= 20, "{lang}: too few fixtures");
        assert!(f1 >= 0.70, "{lang}: label F1 {f1:.3} fell below 0.70");
        assert!(
            budget >= 0.80,
            "{lang}: budget accuracy {budget:.3} fell below 0.80"
        );
        assert!(
            tier >= 0.70,
            "{lang}: tier accuracy {tier:.3} fell below 0.70"
        );
    }
}
