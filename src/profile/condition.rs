//! Evaluating the pipeline's rule conditions against what an analysis found.

use std::collections::{BTreeSet, HashMap};

use crate::analysis::Metrics;
use crate::config::Condition;
use crate::pipeline::Context;

/// What a condition is tested against. `E` is what evidence points at: a segment id within one
/// conversation, or a (visit, segment) pair across a customer's conversations.
pub struct Facts<'a, E = usize> {
    pub present: &'a HashMap<String, Vec<E>>,
    pub metrics: &'a Metrics,
    pub duration_s: f64,
}

impl<'a> Facts<'a> {
    /// One conversation's facts: `present` is [`Context::present`].
    pub fn of(cx: &'a Context, present: &'a HashMap<String, Vec<usize>>) -> Self {
        Facts {
            present,
            metrics: &cx.metrics,
            duration_s: cx.conversation.duration_s(),
        }
    }
}

impl<E> Facts<'_, E> {
    pub fn has(&self, name: &str) -> bool {
        self.present.contains_key(name)
    }
}

/// `Some(evidence)` when the condition holds: the segments behind the names it matched.
pub fn evaluate<E: Copy + Ord>(c: &Condition, f: &Facts<E>) -> Option<Vec<E>> {
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
    let evidence: BTreeSet<E> = matched_any
        .into_iter()
        .chain(&c.all)
        .flat_map(|n| f.present.get(n).into_iter().flatten().copied())
        .collect();
    Some(evidence.into_iter().collect())
}
