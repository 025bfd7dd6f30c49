//! The `classifier` stage: scores every customer and companion turn (with the turn before it)
//! and combines the scores with the rule detections as `[classifier]` says:
//! - a label scoring at or above its threshold (and `min_threshold`, or the conversation language's
//!   `min_threshold_by_language`, or the label's own `min_threshold_by_label` in that language) is
//!   added for the turn, unless the threshold is 1, the label is `rules_only` or a rule pattern
//!   for it matched the turn inside a negation (`rules_veto_negated`);
//! - a rule detection of a `veto` label (the language's `veto_by_language` list where it has one)
//!   that the classifier scores below `drop_rules_below` (or the language's
//!   `drop_rules_below_by_language`) on every turn it cites is dropped;
//! - with `context_last_sentence`, the turn before is given by its last sentence only;
//! - turns that sound like the salesperson (`max_salesperson`) add nothing;
//! - with `split_sentences`, a turn of several sentences is scored sentence by sentence and
//!   each label takes its highest score;
//! - a decision role scoring at or above its threshold (and `min_role_threshold`, or the
//!   language's `min_role_threshold_by_language`) gives the person the turn speaks of that role
//!   (see [`ClassifierStage::add_roles`]).
//!
//! The model is loaded on first use (fetched first if missing) and shared by later analyses.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ndarray::ArrayView2;

use super::model::{Classifier, Item, Scores};
use super::{models, ClassifyError};
use crate::config::{ClassifierSection, ConfigError, Origin, PipelineConfig};
use crate::conversation::{Language, Speaker};
use crate::extract::lexicon::Lexicons;
use crate::pipeline::{add_guessed_role, AnalyzeError, Context, Stage};

pub struct ClassifierStage {
    settings: ClassifierSection,
    heads_dir: PathBuf,
    /// Trained thresholds with the pipeline's overrides applied.
    thresholds: HashMap<String, f32>,
    rules_only: HashSet<String>,
    veto: HashSet<String>,
    /// `veto_by_language`: replaces `veto` for a language.
    veto_by_language: HashMap<Language, HashSet<String>>,
    /// The taxonomy's decision roles: their scores give people roles, not detections.
    roles: HashSet<String>,
    /// Who a turn speaks of ("my wife", "她" after a turn that named her).
    lexicons: Lexicons,
    model: Mutex<Option<Arc<Classifier>>>,
}

/// `thresholds.toml` as train.py writes it.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ThresholdsFile {
    thresholds: HashMap<String, f64>,
}

impl ClassifierStage {
    pub fn build(c: &PipelineConfig, lexicons: &Lexicons) -> Result<Self, ConfigError> {
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
        // The heads are retrained apart from the pipeline: a label the taxonomy dropped or renamed,
        // or a threshold no score can meet, is an error here rather than a label never added.
        let t = &c.taxonomy;
        for (label, value) in &trained.thresholds {
            let known = [&t.preferences, &t.objections, &t.intents, &t.roles]
                .iter()
                .any(|ids| ids.contains(label));
            if !known {
                return Err(invalid(format!(
                    "{}: `{label}` is not a preference, objection, intent or decision role of the taxonomy",
                    path.display()
                )));
            }
            if !(*value > 0.0 && *value <= 1.0) {
                return Err(invalid(format!(
                    "{}: `{label}` = {value}: a threshold must be in (0, 1]",
                    path.display()
                )));
            }
        }
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
            veto: settings.veto.iter().cloned().collect(),
            veto_by_language: settings
                .veto_by_language
                .iter()
                .map(|(lang, labels)| (*lang, labels.iter().cloned().collect()))
                .collect(),
            roles: c.taxonomy.roles.iter().cloned().collect(),
            lexicons: lexicons.clone(),
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

    /// The label's threshold (trained, or the pipeline's), at least `floor`.
    fn threshold(&self, label: &str, floor: f32) -> f32 {
        self.thresholds
            .get(label)
            .copied()
            .unwrap_or(0.5)
            .max(floor)
    }

    /// Decision roles from the role heads. `signals` has one row per turn of `scored` (segment
    /// indices); `salesperson` the speaker head's score of each. A role goes to the person the
    /// turn names ("my wife", "老婆"); when it names nobody but says "she" / "他", to the person the
    /// turn before named; when a companion names nobody, to the companion ("I'll be driving
    /// it"). A role nobody can be named for is useless to a salesperson and is not added.
    fn add_roles(
        &self,
        cx: &mut Context,
        scored: &[usize],
        signals: ArrayView2<'_, f32>,
        salesperson: &[f32],
        labels: &[String],
    ) {
        let floor = for_language(
            &self.settings.min_role_threshold_by_language,
            cx.language,
            self.settings.min_role_threshold,
        );
        let lexicon = self.lexicons.get(cx.language);
        let segments = &cx.conversation.segments;
        for (row, &i) in scored.iter().enumerate() {
            if f64::from(salesperson[row]) >= self.settings.max_salesperson {
                continue;
            }
            let segment = &segments[i];
            let mut who = None;
            for (j, label) in labels.iter().enumerate() {
                if !self.roles.contains(label) {
                    continue;
                }
                let threshold = self.threshold(label, floor);
                // As for the other labels, a threshold of 1 means never.
                if signals[[row, j]] < threshold || threshold >= 1.0 {
                    continue;
                }
                let person = who.get_or_insert_with(|| {
                    lexicon.person_named(&segment.text).or_else(|| {
                        if lexicon.refers_back(&segment.text) {
                            i.checked_sub(1)
                                .and_then(|p| lexicon.person_named(&segments[p].text))
                        } else if segment.speaker == Speaker::Companion {
                            Some(segment.speaker_label.to_lowercase())
                        } else {
                            None
                        }
                    })
                });
                if let Some(person) = person {
                    add_guessed_role(&mut cx.roles, label, person.clone(), segment.id);
                }
            }
        }
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
        // One item per scored turn, or with `split_sentences` one per sentence of a turn of
        // several, each with the index of its turn in `scored`.
        let mut items = Vec::with_capacity(scored.len());
        let mut turn_of_item = Vec::with_capacity(scored.len());
        for (turn, &i) in scored.iter().enumerate() {
            let before = i.checked_sub(1).map(|p| &segments[p]);
            let context = before.map_or("", |s| s.text.as_str());
            let item = Item {
                text: &segments[i].text,
                context: if self.settings.context_last_sentence {
                    split_sentences(context).last().copied().unwrap_or("")
                } else {
                    context
                },
                context_is_salesperson: before.is_some_and(|s| s.speaker == Speaker::Salesperson),
            };
            let parts = if self.settings.split_sentences {
                split_sentences(item.text)
            } else {
                Vec::new()
            };
            if parts.len() > 1 {
                for text in parts {
                    items.push(Item { text, ..item });
                    turn_of_item.push(turn);
                }
            } else {
                items.push(item);
                turn_of_item.push(turn);
            }
        }
        let scores = model.score(&items)?;
        let (signals, salesperson) = per_turn(&scores, &turn_of_item, scored.len());
        let labels = model.labels();
        // Score of each label on each scored segment id.
        let mut by_segment: HashMap<usize, Vec<f32>> = HashMap::new();
        let mut added = Vec::new();
        let min_threshold = for_language(
            &self.settings.min_threshold_by_language,
            cx.language,
            self.settings.min_threshold,
        );
        let label_floors = self.settings.min_threshold_by_label.get(&cx.language);
        for (row, &i) in scored.iter().enumerate() {
            let id = segments[i].id;
            let s = signals.row(row);
            by_segment.insert(id, s.to_vec());
            // Who is speaking is judged on the whole turn.
            if f64::from(salesperson[row]) >= self.settings.max_salesperson {
                continue;
            }
            for (j, label) in labels.iter().enumerate() {
                if self.roles.contains(label) {
                    continue;
                }
                let floor = label_floors
                    .and_then(|f| f.get(label))
                    .map_or(min_threshold, |&f| f as f32);
                let threshold = self.threshold(label, floor);
                let vetoed =
                    self.settings.rules_veto_negated && cx.negated.contains(&(label.clone(), id));
                // The sigmoid saturates at exactly 1.0 in f32: a threshold of 1 means never.
                let passes = s[j] >= threshold && threshold < 1.0;
                if passes && !vetoed && !self.rules_only.contains(label) {
                    added.push((label.clone(), f64::from(s[j]), id));
                }
            }
        }
        let floor = for_language(
            &self.settings.drop_rules_below_by_language,
            cx.language,
            self.settings.drop_rules_below,
        );
        let veto = self
            .veto_by_language
            .get(&cx.language)
            .unwrap_or(&self.veto);
        if floor > 0.0 && !veto.is_empty() {
            let column: HashMap<&str, usize> = labels
                .iter()
                .enumerate()
                .map(|(j, l)| (l.as_str(), j))
                .collect();
            cx.detections.retain(|f| {
                if !veto.contains(&f.id) {
                    return true;
                }
                let Some(&j) = column.get(f.id.as_str()) else {
                    return true;
                };
                let mut cited = f
                    .evidence
                    .iter()
                    .filter_map(|e| by_segment.get(e))
                    .peekable();
                cited.peek().is_none() || cited.any(|s| s[j] >= floor)
            });
        }
        for (label, confidence, id) in added {
            cx.detections
                .add(&label, None, (confidence * 100.0).round() / 100.0, [id]);
        }
        self.add_roles(cx, &scored, signals.view(), &salesperson, labels);
        Ok(())
    }
}

/// A `*_by_language` setting's value for `language`, else the setting for every language.
fn for_language(by_language: &BTreeMap<Language, f64>, language: Language, default: f64) -> f32 {
    by_language.get(&language).copied().unwrap_or(default) as f32
}

/// Each turn's scores from its items': the highest per label, and the mean probability of the
/// salesperson speaking (a turn is judged as a whole).
fn per_turn(
    scores: &Scores,
    turn_of_item: &[usize],
    turns: usize,
) -> (ndarray::Array2<f32>, Vec<f32>) {
    let mut signals = ndarray::Array2::<f32>::zeros((turns, scores.signals.ncols()));
    let mut salesperson = vec![0.0f32; turns];
    let mut items = vec![0u32; turns];
    for (k, &turn) in turn_of_item.iter().enumerate() {
        signals
            .row_mut(turn)
            .zip_mut_with(&scores.signals.row(k), |a, &b| *a = a.max(b));
        salesperson[turn] += scores.salesperson[k];
        items[turn] += 1;
    }
    for (p, n) in salesperson.iter_mut().zip(items) {
        *p /= n.max(1) as f32;
    }
    (signals, salesperson)
}

/// The sentences of a turn: cut after 。！？；!?; and after a full stop followed by a space
/// ("7.9 percent" stays whole). Empty pieces are dropped.
fn split_sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    let terminator = |c: char| matches!(c, '。' | '！' | '？' | '；' | '!' | '?' | ';');
    while let Some((at, c)) = chars.next() {
        let next = chars.peek().map(|&(_, n)| n);
        // "?!" and "！！" end one sentence, at their last mark.
        let ends = (terminator(c) && !next.is_some_and(terminator))
            || (c == '.' && next.is_some_and(char::is_whitespace));
        if ends {
            let end = at + c.len_utf8();
            out.push(text[start..end].trim());
            start = end;
        }
    }
    out.push(text[start..].trim());
    out.retain(|s| !s.is_empty());
    out
}

#[cfg(test)]
mod tests {
    use super::split_sentences;

    #[test]
    fn sentences_are_cut_at_terminators_not_inside_numbers() {
        assert_eq!(
            split_sentences("白色就行。试驾一下吧。"),
            ["白色就行。", "试驾一下吧。"]
        );
        assert_eq!(
            split_sentences("Yeah. A small SUV. The rate is 7.9 percent?! ok"),
            ["Yeah.", "A small SUV.", "The rate is 7.9 percent?!", "ok"]
        );
        assert_eq!(
            split_sentences("no punctuation at all"),
            ["no punctuation at all"]
        );
        assert!(split_sentences("  ").is_empty());
    }
}
