//! A customer's record: all of their analysed conversations merged into one profile, as of a
//! given moment.
//!
//! How the visits combine, and why:
//! - The newest statement wins for the budget (every earlier one stays in its history) and for
//!   each fact; preferences, objections and intents keep when they were first and last said,
//!   in how many visits, and every quote behind them.
//! - An objection (and any label in `[profile] resolvable`, such as "just browsing") stops
//!   counting once a later visit moves past it: that visit does not raise it again and gets at
//!   least as far (forecast stage) as the visit that last raised it. It stays in the record,
//!   marked with the visit that resolved it, and still feeds the tags (a customer who found it
//!   too expensive and then haggled is price-sensitive), but no longer lowers the priority,
//!   picks the next action or holds back the stage.
//! - Behavioural tags are things the customer did, so every visit's behavioural tags stay; fact
//!   and psychological tags are re-derived with the pipeline's own tag rules from everything
//!   said across visits, the newest budget and the newest facts, so rules can combine what was
//!   said in different visits. The profile adds `beh.repeat_visit` (two or more recorded
//!   visits) and `beh.gone_quiet` (no contact for `[profile] gone_quiet_days` as of `now`).
//! - Priority and forecast are the pipeline's own rules ([`PriorityRules`], [`ForecastRules`])
//!   applied to the merged signals; metric conditions see the latest visit. The next action
//!   falls due counting from the last contact, from `now` once the customer has gone quiet, or
//!   from the outcome.
//! - A won or lost [`Outcome`] recorded after the latest visit sets the forecast stage and
//!   makes `outcome.won` / `outcome.lost` present for the tier and next-action rules (a customer
//!   who bought is not gone quiet); a visit after the outcome reopens the opportunity (the
//!   customer came back).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::analysis::{
    Analysis, Budget, BudgetKind, Forecast, Priority, Signal, Stage, TagCategory,
};
use crate::config::PipelineConfig;
use crate::conversation::{Language, Speaker};
use crate::extract::gazetteer::fold;

use super::condition::Facts;
use super::forecast::ForecastRules;
use super::priority::{Mentions, PriorityRules};
use super::tags::{apply_rules, budget_bands, rule_name};

/// Given when a customer has had no recorded contact for `[profile] gone_quiet_days`.
pub const GONE_QUIET: &str = "beh.gone_quiet";
/// Given when a customer has two or more recorded visits.
pub const REPEAT_VISIT: &str = "beh.repeat_visit";
/// Names next-action and tier rules can test once staff recorded the sale's outcome.
pub const WON: &str = "outcome.won";
pub const LOST: &str = "outcome.lost";

/// One analysed conversation with the customer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Visit {
    pub recording_id: String,
    pub recorded_at: DateTime<Utc>,
    pub salesperson: Option<String>,
    pub analysis: Analysis,
}

/// A sale closed one way or the other, as recorded by staff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutcomeKind {
    Won,
    Lost,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub result: OutcomeKind,
    pub recorded_at: DateTime<Utc>,
}

/// Where something in the profile was said. Visit-level tags (a repeat visit, gone quiet) cite
/// the recording without a segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub recording_id: String,
    pub recorded_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote: Option<String>,
}

/// A budget as stated in one visit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatedBudget {
    pub kind: BudgetKind,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub currency: String,
    pub confidence: f64,
    pub recording_id: String,
    pub recorded_at: DateTime<Utc>,
    pub evidence: Vec<Evidence>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BudgetRecord {
    /// The newest statement; `None` if the customer never gave one.
    pub latest: Option<StatedBudget>,
    /// Every statement, oldest first.
    pub history: Vec<StatedBudget>,
}

/// The visit that moved past an objection (see the module notes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resolution {
    pub recording_id: String,
    pub recorded_at: DateTime<Utc>,
}

/// One preference, objection or intent (with its value, for entity labels) across visits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignalRecord {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// Visits in which it was said.
    pub count: u32,
    /// The highest confidence any visit gave it.
    pub confidence: f64,
    /// `Some` once a later visit moved past it; it then no longer counts.
    pub resolved: Option<Resolution>,
    pub evidence: Vec<Evidence>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FactRecord {
    pub value: serde_json::Value,
    pub recording_id: String,
    pub recorded_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoleRecord {
    pub id: String,
    pub who: String,
    pub last_seen: DateTime<Utc>,
    pub evidence: Vec<Evidence>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileTag {
    pub id: String,
    pub category: TagCategory,
    /// The rule that gave it.
    pub rule: String,
    pub evidence: Vec<Evidence>,
    /// A manager's verdict on this tag, if any (see [`super::corrections`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correction: Option<super::corrections::Correction>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VisitSummary {
    pub recording_id: String,
    pub recorded_at: DateTime<Utc>,
    pub salesperson: Option<String>,
    pub duration_s: f64,
    pub language: String,
    /// The stage and priority that visit alone gave.
    pub stage: Stage,
    pub priority_score: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerProfile {
    pub id: String,
    /// The moment the profile describes: `gone_quiet` and due dates depend on it.
    pub as_of: DateTime<Utc>,
    /// The latest visit's language and salesperson (the customer's current owner).
    pub language: Option<String>,
    pub salesperson: Option<String>,
    pub first_contact: Option<DateTime<Utc>>,
    pub last_contact: Option<DateTime<Utc>>,
    pub budget: BudgetRecord,
    pub preferences: Vec<SignalRecord>,
    pub objections: Vec<SignalRecord>,
    pub intents: Vec<SignalRecord>,
    /// The newest value of each fact.
    pub facts: BTreeMap<String, FactRecord>,
    pub roles: Vec<RoleRecord>,
    pub tags: Vec<ProfileTag>,
    /// Oldest first.
    pub visits: Vec<VisitSummary>,
    pub priority: Priority,
    pub forecast: Forecast,
    /// The currency of the forecast's expected value.
    pub currency: String,
    pub outcome: Option<Outcome>,
}

/// The profile of a customer with no recorded outcome. See the module notes for the rules.
pub fn build_profile(
    customer_id: &str,
    visits: &[Visit],
    now: DateTime<Utc>,
    config: &PipelineConfig,
) -> CustomerProfile {
    build_profile_with_outcome(customer_id, visits, None, now, config)
}

/// A (visit index, segment id) pair: evidence across a customer's visits.
type Ref = (usize, usize);

/// The profile, with staff's won / lost outcome if one was recorded.
pub fn build_profile_with_outcome(
    customer_id: &str,
    visits: &[Visit],
    outcome: Option<Outcome>,
    now: DateTime<Utc>,
    config: &PipelineConfig,
) -> CustomerProfile {
    let mut visits: Vec<&Visit> = visits.iter().collect();
    visits.sort_by_key(|v| v.recorded_at);
    let merger = Merger { visits: &visits };
    let latest = visits.last().copied();
    let last_contact = latest.map(|v| v.recorded_at);
    let settled = outcome.filter(|o| last_contact.is_none_or(|t| o.recorded_at >= t));

    let resolvable = |id: &str| {
        config.taxonomy.objections.iter().any(|o| o == id)
            || config.profile.resolvable.iter().any(|r| r == id)
    };
    let preferences = merger.signals(|a| &a.preferences, &|_| false);
    let objections = merger.signals(|a| &a.objections, &resolvable);
    let intents = merger.signals(|a| &a.intents, &resolvable);
    let facts = merger.facts();
    let roles = merger.roles();
    let budget = merger.budget();

    // Every name a rule can test, with what supports it: tags see everything ever said.
    let mut present: HashMap<String, Vec<Ref>> = HashMap::new();
    for (record, refs) in preferences.iter().chain(&objections).chain(&intents) {
        present.entry(record.id.clone()).or_default().extend(refs);
    }
    for (key, fact) in &facts {
        if !matches!(
            fact.value,
            serde_json::Value::Bool(false) | serde_json::Value::Null
        ) {
            present.entry(key.clone()).or_default();
        }
    }
    for (role, refs) in &roles {
        present.entry(role.id.clone()).or_default().extend(refs);
    }
    if let Some((b, refs)) = budget.latest_with_refs.as_ref() {
        present.insert("budget".into(), refs.clone());
        present.insert(format!("budget.{}", b.kind.name()), refs.clone());
    }
    let companions = merger.companions();
    if !companions.is_empty() {
        present.insert("companion".into(), companions);
    }

    let mut tags = TagSet::default();
    // What the customer did stays true; fact and psychological tags are re-derived below from
    // the newest budget and facts and from every signal.
    for (i, v) in visits.iter().enumerate() {
        for t in &v.analysis.tags {
            if t.category == TagCategory::Behavioral {
                tags.add(
                    &t.id,
                    t.category,
                    &t.rule,
                    t.evidence.iter().map(|&s| (i, s)),
                );
            }
        }
    }
    if visits.len() >= 2 {
        tags.add_visits(REPEAT_VISIT, "two or more recorded visits", 1..visits.len());
    }
    let quiet_days = i64::from(config.profile.gone_quiet_days);
    let gone_quiet =
        settled.is_none() && last_contact.is_some_and(|t| now - t >= Duration::days(quiet_days));
    if gone_quiet {
        tags.add_visits(
            GONE_QUIET,
            &format!("no recorded contact for {quiet_days} days or more"),
            visits.len() - 1..visits.len(),
        );
    }
    for t in &tags.tags {
        present.insert(t.id.clone(), t.refs.clone());
    }
    if let Some((b, refs)) = budget.latest_with_refs.as_ref() {
        for (band, rule) in budget_bands(&config.budget_bands, b) {
            tags.add(&band.tag, TagCategory::Fact, &rule, refs.iter().copied());
            present.insert(band.tag.clone(), refs.clone());
        }
    }
    let latest_metrics = latest
        .map(|v| v.analysis.metrics.clone())
        .unwrap_or_default();
    let latest_duration = latest.map_or(0.0, |v| v.analysis.duration_s);
    for (rule, refs) in apply_rules(&config.tags, &mut present, &latest_metrics, latest_duration) {
        // Fact evidence is not in the analysis document; the visits' own firing of the same rule
        // carries it.
        let own = visits.iter().enumerate().flat_map(|(i, v)| {
            v.analysis
                .tags
                .iter()
                .filter(|t| t.id == rule.id)
                .flat_map(move |t| t.evidence.iter().map(move |&s| (i, s)))
        });
        tags.add(
            &rule.id,
            rule.category,
            &rule_name(rule),
            refs.into_iter().chain(own),
        );
    }

    // Priority, next action and stage see only what still holds.
    let signals = || preferences.iter().chain(&objections).chain(&intents);
    for (record, _) in signals() {
        let open = |id: &str| signals().any(|(r, _)| r.id == id && r.resolved.is_none());
        if !open(&record.id) {
            present.remove(&record.id);
        }
    }
    match settled.map(|o| o.result) {
        Some(OutcomeKind::Won) => present.insert(WON.into(), Vec::new()),
        Some(OutcomeKind::Lost) => present.insert(LOST.into(), Vec::new()),
        None => None,
    };
    let facts_view = Facts {
        present: &present,
        metrics: &latest_metrics,
        duration_s: latest_duration,
    };
    let lang = match latest.map(|v| v.analysis.language.as_str()) {
        Some("zh") => Language::Zh,
        _ => Language::En,
    };
    let open = |records: &[(SignalRecord, Vec<Ref>)], id: &str| -> Vec<SignalRecord> {
        let mut open: Vec<SignalRecord> = records
            .iter()
            .map(|(r, _)| r)
            .filter(|r| r.id == id && r.resolved.is_none() && r.value.is_some())
            .cloned()
            .collect();
        open.sort_by_key(|r| std::cmp::Reverse(r.last_seen));
        open
    };
    let wanted = open(&preferences, "pref.model");
    let newest_value = |records: &[SignalRecord]| records.first().and_then(|r| r.value.clone());
    let mentions = Mentions {
        who: newest_value(&open(&objections, "obj.approval")).or_else(|| {
            roles
                .iter()
                .filter(|(r, _)| r.id == "role.decision_maker")
                .max_by_key(|(r, _)| r.last_seen)
                .map(|(r, _)| r.who.clone())
        }),
        model: newest_value(&wanted),
        competitor: newest_value(&open(&objections, "obj.competitor")),
    };
    let due_from: NaiveDate = match (settled, last_contact) {
        (Some(o), _) => o.recorded_at.date_naive(),
        (None, Some(t)) if !gone_quiet => t.date_naive(),
        _ => now.date_naive(),
    };
    let priority = PriorityRules::new(config).compute(&facts_view, lang, &mentions, due_from);

    let forecast_rules = ForecastRules::new(config);
    let stage = match settled.map(|o| o.result) {
        Some(OutcomeKind::Won) => Stage::Won,
        Some(OutcomeKind::Lost) => Stage::Lost,
        None => forecast_rules.stage(&facts_view),
    };
    let deal_value = forecast_rules.deal_value(
        budget.latest_budget.as_ref(),
        lang,
        wanted.iter().filter_map(|r| r.value.as_deref()),
    );
    let forecast = forecast_rules.forecast(stage, Some(priority.score), deal_value);
    let currency = forecast_rules.currency(budget.latest_budget.as_ref(), lang);

    CustomerProfile {
        id: customer_id.to_string(),
        as_of: now,
        language: latest.map(|v| v.analysis.language.clone()),
        salesperson: visits.iter().rev().find_map(|v| v.salesperson.clone()),
        first_contact: visits.first().map(|v| v.recorded_at),
        last_contact,
        budget: budget.record,
        preferences: preferences.into_iter().map(|(r, _)| r).collect(),
        objections: objections.into_iter().map(|(r, _)| r).collect(),
        intents: intents.into_iter().map(|(r, _)| r).collect(),
        facts,
        roles: roles.into_iter().map(|(r, _)| r).collect(),
        tags: tags
            .tags
            .into_iter()
            .map(|t| ProfileTag {
                evidence: t
                    .visit_level
                    .iter()
                    .map(|&i| merger.cite_visit(i))
                    .chain(t.refs.iter().filter_map(|&r| merger.cite(r)))
                    .collect(),
                id: t.id,
                category: t.category,
                rule: t.rule,
                correction: None,
            })
            .collect(),
        visits: visits
            .iter()
            .map(|v| VisitSummary {
                recording_id: v.recording_id.clone(),
                recorded_at: v.recorded_at,
                salesperson: v.salesperson.clone(),
                duration_s: v.analysis.duration_s,
                language: v.analysis.language.clone(),
                stage: v.analysis.forecast.stage,
                priority_score: v.analysis.priority.score,
            })
            .collect(),
        priority,
        forecast,
        currency,
        outcome,
    }
}

/// How far a deal has got, for "a later visit got at least as far".
fn progress(stage: Stage) -> u8 {
    match stage {
        Stage::Lost | Stage::Browsing => 0,
        Stage::Considering => 1,
        Stage::Negotiating => 2,
        Stage::Committed => 3,
        Stage::Won => 4,
    }
}

struct Merger<'a> {
    /// Oldest first.
    visits: &'a [&'a Visit],
}

struct MergedBudget {
    record: BudgetRecord,
    latest_budget: Option<Budget>,
    latest_with_refs: Option<(Budget, Vec<Ref>)>,
}

impl Merger<'_> {
    fn cite(&self, (visit, segment): Ref) -> Option<Evidence> {
        let v = self.visits.get(visit)?;
        let seg = v.analysis.segments.iter().find(|s| s.id == segment)?;
        Some(Evidence {
            recording_id: v.recording_id.clone(),
            recorded_at: v.recorded_at,
            segment: Some(seg.id),
            start_s: Some(seg.start),
            quote: Some(seg.text.clone()),
        })
    }

    fn cite_visit(&self, visit: usize) -> Evidence {
        let v = self.visits[visit];
        Evidence {
            recording_id: v.recording_id.clone(),
            recorded_at: v.recorded_at,
            segment: None,
            start_s: None,
            quote: None,
        }
    }

    fn cite_all(&self, refs: &[Ref]) -> Vec<Evidence> {
        refs.iter().filter_map(|&r| self.cite(r)).collect()
    }

    /// One record per label and value (values compared as the gazetteer folds them), in the
    /// order first said, each with the refs behind it.
    fn signals(
        &self,
        list: impl Fn(&Analysis) -> &Vec<Signal>,
        resolvable: &dyn Fn(&str) -> bool,
    ) -> Vec<(SignalRecord, Vec<Ref>)> {
        let mut out: Vec<(SignalRecord, Vec<Ref>, usize)> = Vec::new();
        for (i, v) in self.visits.iter().enumerate() {
            for s in list(&v.analysis) {
                let key = s.value.as_deref().map(fold);
                let refs: Vec<Ref> = s.evidence.iter().map(|&seg| (i, seg)).collect();
                let slot = out
                    .iter_mut()
                    .find(|(r, _, _)| r.id == s.id && r.value.as_deref().map(fold) == key);
                match slot {
                    Some((r, all, last)) => {
                        if *last != i {
                            r.count += 1;
                        }
                        *last = i;
                        r.last_seen = v.recorded_at;
                        r.confidence = r.confidence.max(s.confidence);
                        // The latest spelling of the value.
                        r.value = s.value.clone();
                        r.evidence.extend(self.cite_all(&refs));
                        all.extend(refs);
                    }
                    None => out.push((
                        SignalRecord {
                            id: s.id.clone(),
                            value: s.value.clone(),
                            first_seen: v.recorded_at,
                            last_seen: v.recorded_at,
                            count: 1,
                            confidence: s.confidence,
                            resolved: None,
                            evidence: self.cite_all(&refs),
                        },
                        refs,
                        i,
                    )),
                }
            }
        }
        out.into_iter()
            .map(|(mut r, refs, last)| {
                if resolvable(&r.id) {
                    let reached = progress(self.visits[last].analysis.forecast.stage);
                    r.resolved = self.visits[last + 1..]
                        .iter()
                        .find(|v| progress(v.analysis.forecast.stage) >= reached)
                        .map(|v| Resolution {
                            recording_id: v.recording_id.clone(),
                            recorded_at: v.recorded_at,
                        });
                }
                (r, refs)
            })
            .collect()
    }

    fn facts(&self) -> BTreeMap<String, FactRecord> {
        let mut facts = BTreeMap::new();
        for v in self.visits {
            for (key, value) in &v.analysis.facts {
                facts.insert(
                    key.clone(),
                    FactRecord {
                        value: value.clone(),
                        recording_id: v.recording_id.clone(),
                        recorded_at: v.recorded_at,
                    },
                );
            }
        }
        facts
    }

    /// One record per role and person, with the last visit that named them.
    fn roles(&self) -> Vec<(RoleRecord, Vec<Ref>)> {
        let mut out: Vec<(RoleRecord, Vec<Ref>)> = Vec::new();
        for (i, v) in self.visits.iter().enumerate() {
            for role in &v.analysis.roles {
                let refs: Vec<Ref> = role.evidence.iter().map(|&s| (i, s)).collect();
                let evidence = self.cite_all(&refs);
                match out
                    .iter_mut()
                    .find(|(r, _)| r.id == role.id && fold(&r.who) == fold(&role.who))
                {
                    Some((r, all)) => {
                        r.last_seen = v.recorded_at;
                        r.evidence.extend(evidence);
                        all.extend(refs);
                    }
                    None => out.push((
                        RoleRecord {
                            id: role.id.clone(),
                            who: role.who.clone(),
                            last_seen: v.recorded_at,
                            evidence,
                        },
                        refs,
                    )),
                }
            }
        }
        out
    }

    fn budget(&self) -> MergedBudget {
        let mut record = BudgetRecord::default();
        let mut latest = None;
        for (i, v) in self.visits.iter().enumerate() {
            if let Some(b) = &v.analysis.budget {
                let refs: Vec<Ref> = b.evidence.iter().map(|&s| (i, s)).collect();
                record.history.push(StatedBudget {
                    kind: b.kind,
                    min: b.min,
                    max: b.max,
                    currency: b.currency.clone(),
                    confidence: b.confidence,
                    recording_id: v.recording_id.clone(),
                    recorded_at: v.recorded_at,
                    evidence: self.cite_all(&refs),
                });
                latest = Some((b.clone(), refs));
            }
        }
        record.latest = record.history.last().cloned();
        MergedBudget {
            record,
            latest_budget: latest.as_ref().map(|(b, _)| b.clone()),
            latest_with_refs: latest,
        }
    }

    /// The first few companion turns of every visit someone came along to.
    fn companions(&self) -> Vec<Ref> {
        self.visits
            .iter()
            .enumerate()
            .flat_map(|(i, v)| {
                v.analysis
                    .segments
                    .iter()
                    .filter(|s| s.speaker == Speaker::Companion)
                    .take(3)
                    .map(move |s| (i, s.id))
            })
            .collect()
    }
}

struct MergedTag {
    id: String,
    category: TagCategory,
    rule: String,
    refs: Vec<Ref>,
    /// Visits cited as a whole (statistic tags).
    visit_level: Vec<usize>,
}

/// Tags by id; a tag given again (another visit, another rule) gathers its evidence.
#[derive(Default)]
struct TagSet {
    tags: Vec<MergedTag>,
}

impl TagSet {
    fn slot(&mut self, id: &str, category: TagCategory, rule: &str) -> &mut MergedTag {
        let at = match self.tags.iter().position(|t| t.id == id) {
            Some(at) => at,
            None => {
                self.tags.push(MergedTag {
                    id: id.to_string(),
                    category,
                    rule: rule.to_string(),
                    refs: Vec::new(),
                    visit_level: Vec::new(),
                });
                self.tags.len() - 1
            }
        };
        &mut self.tags[at]
    }

    fn add(
        &mut self,
        id: &str,
        category: TagCategory,
        rule: &str,
        refs: impl IntoIterator<Item = Ref>,
    ) {
        let t = self.slot(id, category, rule);
        t.refs.extend(refs);
        t.refs.sort_unstable();
        t.refs.dedup();
    }

    fn add_visits(&mut self, id: &str, rule: &str, visits: std::ops::Range<usize>) {
        let t = self.slot(id, TagCategory::Behavioral, rule);
        t.visit_level.extend(visits);
    }
}
