//! What the stages share while one conversation passes through them.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use super::AnalyzeOptions;
use crate::analysis::{
    Analysis, Budget, Forecast, Metrics, Priority, Role, Signal, Stage, Tag, Tier,
};
use crate::config::PipelineConfig;
use crate::conversation::{Conversation, Language, Speaker};
use crate::transcript::RawTurn;

pub enum Source {
    File(PathBuf),
    Text { name: String, text: String },
}

/// One detected label (with its value, for entity labels), merged over every turn that said it.
#[derive(Debug, Clone)]
pub struct Found {
    pub id: String,
    pub value: Option<String>,
    pub confidence: f64,
    pub evidence: BTreeSet<usize>,
}

/// Labels found so far, in the order first found.
#[derive(Debug, Default)]
pub struct Detections {
    found: Vec<Found>,
}

impl Detections {
    pub fn add(
        &mut self,
        id: &str,
        value: Option<String>,
        confidence: f64,
        evidence: impl IntoIterator<Item = usize>,
    ) {
        let key = value.as_deref().map(crate::extract::gazetteer::fold);
        if let Some(f) = self
            .found
            .iter_mut()
            .find(|f| f.id == id && f.value.as_deref().map(crate::extract::gazetteer::fold) == key)
        {
            f.confidence = f.confidence.max(confidence);
            f.evidence.extend(evidence);
            return;
        }
        self.found.push(Found {
            id: id.to_string(),
            value,
            confidence,
            evidence: evidence.into_iter().collect(),
        });
    }

    pub fn has(&self, id: &str) -> bool {
        self.found.iter().any(|f| f.id == id)
    }

    pub fn remove(&mut self, id: &str) {
        self.found.retain(|f| f.id != id);
    }

    pub fn retain(&mut self, keep: impl FnMut(&Found) -> bool) {
        self.found.retain(keep);
    }

    pub fn iter(&self) -> impl Iterator<Item = &Found> {
        self.found.iter()
    }

    pub fn values<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.found
            .iter()
            .filter(move |f| f.id == id)
            .filter_map(|f| f.value.as_deref())
    }
}

/// Gives `who` the role `id` on `segment`, as the classifier guessed it: unless that turn already
/// gives someone the role (the roles stage runs first, and a rule pattern names the person it
/// matched where the classifier takes the first one the turn mentions).
pub fn add_guessed_role(roles: &mut Vec<Role>, id: &str, who: String, segment: usize) {
    if roles
        .iter()
        .any(|r| r.id == id && r.evidence.contains(&segment))
    {
        return;
    }
    let fold = crate::extract::gazetteer::fold;
    match roles
        .iter_mut()
        .find(|r| r.id == id && fold(&r.who) == fold(&who))
    {
        Some(role) => role.evidence.push(segment),
        None => roles.push(Role {
            id: id.to_string(),
            who,
            evidence: vec![segment],
        }),
    }
}

pub struct Context {
    pub source: Source,
    pub options: AnalyzeOptions,
    pub raw_turns: Vec<RawTurn>,
    pub conversation: Conversation,
    pub language: Language,
    pub detections: Detections,
    /// (label, segment id): a rule pattern for the label matched the turn, but only inside a
    /// negation or with its `unless` present. The classifier stage may not add it there.
    pub negated: HashSet<(String, usize)>,
    pub budget: Option<Budget>,
    pub facts: BTreeMap<String, serde_json::Value>,
    /// Evidence for each fact, so rules built on facts can cite it.
    pub fact_evidence: HashMap<String, Vec<usize>>,
    pub roles: Vec<Role>,
    pub metrics: Metrics,
    pub tags: Vec<Tag>,
    pub priority: Option<Priority>,
    pub forecast: Option<Forecast>,
}

impl Context {
    fn new(source: Source, options: &AnalyzeOptions) -> Self {
        Context {
            source,
            options: options.clone(),
            raw_turns: Vec::new(),
            conversation: Conversation::default(),
            language: options.language.unwrap_or(Language::En),
            detections: Detections::default(),
            negated: HashSet::new(),
            budget: None,
            facts: BTreeMap::new(),
            fact_evidence: HashMap::new(),
            roles: Vec::new(),
            metrics: Metrics::default(),
            tags: Vec::new(),
            priority: None,
            forecast: None,
        }
    }

    pub fn for_file(path: &Path, options: &AnalyzeOptions) -> Self {
        Self::new(Source::File(path.to_path_buf()), options)
    }

    pub fn for_text(name: &str, text: &str, options: &AnalyzeOptions) -> Self {
        Self::new(
            Source::Text {
                name: name.to_string(),
                text: text.to_string(),
            },
            options,
        )
    }

    pub fn source_name(&self) -> String {
        match &self.source {
            Source::File(p) => p.display().to_string(),
            Source::Text { name, .. } => name.clone(),
        }
    }

    pub fn today(&self) -> NaiveDate {
        self.options
            .date
            .unwrap_or_else(|| chrono::Utc::now().date_naive())
    }

    /// Every name a rule condition can test, with the segments that support it.
    pub fn present(&self) -> HashMap<String, Vec<usize>> {
        let mut names: HashMap<String, Vec<usize>> = HashMap::new();
        for f in self.detections.iter() {
            names
                .entry(f.id.clone())
                .or_default()
                .extend(f.evidence.iter().copied());
        }
        for (key, value) in &self.facts {
            let truthy = !matches!(
                value,
                serde_json::Value::Bool(false) | serde_json::Value::Null
            );
            if truthy {
                names.insert(
                    key.clone(),
                    self.fact_evidence.get(key).cloned().unwrap_or_default(),
                );
            }
        }
        for role in &self.roles {
            names
                .entry(role.id.clone())
                .or_default()
                .extend(role.evidence.iter().copied());
        }
        if let Some(b) = &self.budget {
            names.insert("budget".into(), b.evidence.clone());
            names.insert(format!("budget.{}", b.kind.name()), b.evidence.clone());
        }
        let companions: Vec<usize> = self
            .conversation
            .segments
            .iter()
            .filter(|s| s.speaker == Speaker::Companion)
            .map(|s| s.id)
            .take(3)
            .collect();
        if !companions.is_empty() {
            names.insert("companion".into(), companions);
        }
        for tag in &self.tags {
            names.insert(tag.id.clone(), tag.evidence.clone());
        }
        for v in names.values_mut() {
            v.sort_unstable();
            v.dedup();
        }
        names
    }

    pub fn into_analysis(self, config: &PipelineConfig) -> Analysis {
        let t = &config.taxonomy;
        let pick = |ids: &[String]| -> Vec<Signal> {
            self.detections
                .iter()
                .filter(|f| ids.contains(&f.id))
                .map(|f| Signal {
                    id: f.id.clone(),
                    value: f.value.clone(),
                    confidence: (f.confidence * 100.0).round() / 100.0,
                    evidence: f.evidence.iter().copied().collect(),
                })
                .collect()
        };
        Analysis {
            language: self.language.code().to_string(),
            duration_s: (self.conversation.duration_s() * 100.0).round() / 100.0,
            preferences: pick(&t.preferences),
            objections: pick(&t.objections),
            intents: pick(&t.intents),
            segments: self.conversation.segments,
            metrics: self.metrics,
            budget: self.budget,
            facts: self.facts,
            roles: self.roles,
            tags: self.tags,
            priority: self.priority.unwrap_or(Priority {
                score: 0,
                tier: Tier::Cold,
                reasons: Vec::new(),
                next_action: String::new(),
                due: String::new(),
            }),
            forecast: self.forecast.unwrap_or(Forecast {
                stage: Stage::Browsing,
                p30: 0.0,
                expected_value: 0.0,
            }),
        }
    }
}
