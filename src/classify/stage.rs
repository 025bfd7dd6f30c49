//! The `classifier` stage: scores every customer and companion turn (with the turn before it)
//! and combines the scores with the rule detections as `[classifier]` says:
//! - a label scoring at or above its threshold (and `min_threshold`) is added for the turn, unless the label is
//!   `rules_only` or a rule pattern for it matched the turn inside a negation (`rules_veto_negated`);
//! - a rule detection the classifier scores below `drop_rules_below` on every turn it cites is
//!   dropped, unless its label is in `rules_force`;
//! - turns that sound like the salesperson (`max_salesperson`) add nothing.
//!
//! The model is loaded on first use (fetched first if missing) and shared by later analyses.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::model::{Classifier, Item};
use super::{models, ClassifyError};
use crate::config::{ClassifierSection, ConfigError, Origin, PipelineConfig};
use crate::conversation::Speaker;
use crate::pipeline::{AnalyzeError, Context, Stage};

pub struct ClassifierStage {
    settings: ClassifierSection,
    heads_dir: PathBuf,
    /// Trained thresholds with the pipeline's overrides applied.
    thresholds: HashMap<String, f32>,
    rules_only: HashSet<String>,
    rules_force: HashSet<String>,
    model: Mutex<Option<Arc<Classifier>>>,
}

/// `thresholds.toml` as train.py writes it.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ThresholdsFile {
    thresholds: HashMap<String, f64>,
}

impl ClassifierStage {
    pub fn build(c: &PipelineConfig) -> Result<Self, ConfigError> {
        let settings = c.classifier.clone();
        let heads_dir = PathBuf::from(&settings.heads_dir);
        let path = heads_dir.join("thresholds.toml");
        let invalid = |reason: String| ConfigError::Invalid {
            origin: Origin {
                file: c.path.display().to_string(),
                entry: "classifier.heads_dir".into(),
            },
            reason,
        };
        let text = std::fs::read_to_string(&path)
            .map_err(|e| invalid(format!("{}: {e}", path.display())))?;
        let trained: ThresholdsFile =
            toml::from_str(&text).map_err(|e| invalid(format!("{}: {e}", path.display())))?;
        let mut thresholds: HashMap<String, f32> = trained
            .thresholds
            .into_iter()
            .map(|(k, v)| (k, v as f32))
            .collect();
        for (label, t) in &settings.thresholds {
            thresholds.insert(label.clone(), *t as f32);
        }
        Ok(ClassifierStage {
            // A valued label needs the value only the rules and gazetteers can name.
            rules_only: settings
                .rules_only
                .iter()
                .chain(&c.taxonomy.valued)
                .cloned()
                .collect(),
            rules_force: settings.rules_force.iter().cloned().collect(),
            settings,
            heads_dir,
            thresholds,
            model: Mutex::new(None),
        })
    }

    /// The shared classifier, loaded (and fetched) on first use.
    fn model(&self, models_dir: Option<&Path>) -> Result<Arc<Classifier>, ClassifyError> {
        let mut slot = self.model.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(m) = slot.as_ref() {
            return Ok(Arc::clone(m));
        }
        let dir =
            crate::asr::models::models_dir(models_dir).map_err(|e| ClassifyError::Unavailable {
                dir: "(none)".into(),
                reason: e.to_string(),
            })?;
        let files = models::ensure(&dir)?;
        let m = Arc::new(Classifier::load(
            &files,
            &self.heads_dir,
            self.settings.batch,
            Duration::from_secs(self.settings.session_timeout_s),
        )?);
        *slot = Some(Arc::clone(&m));
        Ok(m)
    }
}

impl Stage for ClassifierStage {
    fn name(&self) -> &'static str {
        "classifier"
    }

    fn run(&self, cx: &mut Context) -> Result<(), AnalyzeError> {
        let segments = &cx.conversation.segments;
        let scored: Vec<usize> = (0..segments.len())
            .filter(|&i| segments[i].speaker.is_customer_side())
            .collect();
        if scored.is_empty() {
            return Ok(());
        }
        let model = self.model(cx.options.asr.models_dir.as_deref())?;
        let items: Vec<Item<'_>> = scored
            .iter()
            .map(|&i| {
                let before = i.checked_sub(1).map(|p| &segments[p]);
                Item {
                    text: &segments[i].text,
                    context: before.map_or("", |s| s.text.as_str()),
                    context_is_salesperson: before
                        .is_some_and(|s| s.speaker == Speaker::Salesperson),
                }
            })
            .collect();
        let scores = model.score(&items)?;
        let labels = model.labels();
        // Score of each label on each scored segment id.
        let mut by_segment: HashMap<usize, Vec<f32>> = HashMap::new();
        let mut added = Vec::new();
        for (row, &i) in scored.iter().enumerate() {
            let id = segments[i].id;
            let s = scores.signals.row(row);
            by_segment.insert(id, s.to_vec());
            if f64::from(scores.salesperson[row]) >= self.settings.max_salesperson {
                continue;
            }
            for (j, label) in labels.iter().enumerate() {
                let threshold = self
                    .thresholds
                    .get(label)
                    .copied()
                    .unwrap_or(0.5)
                    .max(self.settings.min_threshold as f32);
                let vetoed =
                    self.settings.rules_veto_negated && cx.negated.contains(&(label.clone(), id));
                if s[j] >= threshold && !vetoed && !self.rules_only.contains(label) {
                    added.push((label.clone(), f64::from(s[j]), id));
                }
            }
        }
        let floor = self.settings.drop_rules_below as f32;
        if floor > 0.0 {
            let column: HashMap<&str, usize> = labels
                .iter()
                .enumerate()
                .map(|(j, l)| (l.as_str(), j))
                .collect();
            cx.detections.retain(|f| {
                let Some(&j) = column.get(f.id.as_str()) else {
                    return true;
                };
                let mut cited = f
                    .evidence
                    .iter()
                    .filter_map(|e| by_segment.get(e))
                    .peekable();
                self.rules_force.contains(&f.id)
                    || cited.peek().is_none()
                    || cited.any(|s| s[j] >= floor)
            });
        }
        for (label, confidence, id) in added {
            cx.detections
                .add(&label, None, (confidence * 100.0).round() / 100.0, [id]);
        }
        Ok(())
    }
}
