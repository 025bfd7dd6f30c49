//! Short conversations with what the shipped pipeline must and must not find in them, one file
//! per language under tests/fixtures/rule_cases (format in its README.md). Every failing case is
//! listed, not just the first.

use std::collections::HashSet;
use std::path::Path;

use dealerscope::analysis::Analysis;
use dealerscope::pipeline::{AnalyzeOptions, Pipeline};

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    case: Vec<Case>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    text: String,
    #[serde(default)]
    has: Vec<String>,
    #[serde(default)]
    lacks: Vec<String>,
    /// `{ kind, min, max, currency }`; `budget = {}` means no budget at all.
    budget: Option<toml::Table>,
}

fn found(a: &Analysis) -> HashSet<&str> {
    a.preferences
        .iter()
        .chain(&a.objections)
        .chain(&a.intents)
        .map(|s| s.id.as_str())
        .chain(a.roles.iter().map(|r| r.id.as_str()))
        .collect()
}

/// What is wrong with the analysis's budget, if anything.
fn budget_mismatch(a: &Analysis, want: &toml::Table) -> Option<String> {
    let got = serde_json::to_value(&a.budget).expect("a budget serializes");
    if want.is_empty() {
        return (!got.is_null()).then(|| format!("no budget wanted, got {got}"));
    }
    let number = |v: &serde_json::Value| v.as_f64();
    for (key, value) in want {
        let ok = match value {
            toml::Value::String(s) => got[key].as_str() == Some(s.as_str()),
            toml::Value::Integer(i) => number(&got[key]) == Some(*i as f64),
            toml::Value::Float(f) => number(&got[key]) == Some(*f),
            other => panic!("budget.{key} = {other}: a string or a number"),
        };
        if !ok {
            return Some(format!("budget.{key}: want {value}, got {got}"));
        }
    }
    // A bound the case leaves out must be absent ("under 30k" has no min).
    ["min", "max"]
        .into_iter()
        .find(|k| !want.contains_key(*k) && !got[*k].is_null())
        .map(|k| format!("budget.{k}: want none, got {got}"))
}

#[test]
fn rule_cases_hold() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let pipeline = Pipeline::load(&root.join("pipelines/dealership.toml")).unwrap();
    let options = AnalyzeOptions {
        date: chrono::NaiveDate::from_ymd_opt(2026, 11, 20),
        ..Default::default()
    };
    let mut files: Vec<_> = std::fs::read_dir(root.join("tests/fixtures/rule_cases"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no case files");
    let mut failures = Vec::new();
    let mut cases = 0;
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let file: CaseFile =
            toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for case in file.case {
            cases += 1;
            let a = pipeline
                .analyze_text("case.txt", &case.text, &options)
                .unwrap_or_else(|e| panic!("{}: {:?}: {e}", path.display(), case.text));
            let got = found(&a);
            let mut wrong: Vec<String> = case
                .has
                .iter()
                .filter(|id| !got.contains(id.as_str()))
                .map(|id| format!("missing {id}"))
                .chain(
                    case.lacks
                        .iter()
                        .filter(|id| got.contains(id.as_str()))
                        .map(|id| format!("unwanted {id}")),
                )
                .collect();
            wrong.extend(case.budget.as_ref().and_then(|b| budget_mismatch(&a, b)));
            if !wrong.is_empty() {
                let name = path.file_name().unwrap().to_string_lossy();
                failures.push(format!(
                    "{name}: {}\n  {}",
                    wrong.join(", "),
                    case.text.trim().replace('\n', "\n  ")
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {cases} cases fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
