//! Evaluating the pipeline's rule conditions against what an analysis found.

use std::collections::{BTreeSet, HashMap};

use crate::analysis::Metrics;
use crate::config::Condition;

/// What a condition is tested against.
pub struct Facts<'a> {
    pub present: &'a HashMap<String, Vec<usize>>,
    pub metrics: &'a Metrics,
    pub duration_s: f64,
}

impl Facts<'_> {
    pub fn has(&self, name: &str) -> bool {
        self.present.contains_key(name)
    }
}

/// `Some(evidence)` when the condition holds: the segments behind the names it matched.
pub fn evaluate(c: &Condition, f: &Facts) -> Option<Vec<usize>> {
    let matched_any: Vec<&String> = c.any.iter().filter(|n| f.has(n)).collect();
    let needed = c.at_least.unwrap_or(1);
    if !c.any.is_empty() && matched_any.len() < needed {
        return None;
    }
    if !c.all.iter().all(|n| f.has(n)) || c.none.iter().any(|n| f.has(n)) {
        return None;
    }
    for (name, bounds) in &c.metrics {
        let v = super::metrics::value(f.metrics, f.duration_s, name)?;
        if !bounds.contains(v) {
            return None;
        }
    }
    let evidence: BTreeSet<usize> = matched_any
        .into_iter()
        .chain(&c.all)
        .flat_map(|n| f.present.get(n).into_iter().flatten().copied())
        .collect();
    Some(evidence.into_iter().collect())
}
