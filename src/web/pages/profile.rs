//! A customer's profile page: budget and its history, tags by category with their rule and
//! evidence (a quote from a recording plays from its moment), priority and next action, stage
//! and forecast, the visits with their transcripts; managers accept or reject tags here.

use std::collections::{HashMap, HashSet};

use askama::Template;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;
use serde::Deserialize;

use super::format::{clock, money, LabelNames};
use super::session::{Csrf, PageUser};
use super::{api_failure, render, Page, Tr};
use crate::analysis::{Stage, TagCategory, Tier};
use crate::conversation::Speaker;
use crate::profile::corrections::Verdict;
use crate::profile::customer::{CustomerProfile, Evidence, Visit};
use crate::web::AppState;

/// A quote from a recording; played from `start_s` when the recording's audio is stored.
pub struct Quote {
    pub recording_id: String,
    pub start_s: f64,
    pub at: String,
    pub text: String,
    pub playable: bool,
}

pub struct TagView {
    pub id: String,
    pub name: String,
    pub rule: String,
    pub quotes: Vec<Quote>,
    /// `accepted` / `rejected` when a manager gave a verdict.
    pub verdict: Option<&'static str>,
    pub verdict_text: String,
}

pub struct TagGroup {
    pub heading: String,
    pub id: &'static str,
    pub tags: Vec<TagView>,
}

pub struct BudgetLine {
    pub date: String,
    pub amount: String,
    pub kind: String,
    pub quotes: Vec<Quote>,
}

pub struct Line {
    pub speaker: &'static str,
    pub speaker_name: String,
    pub start_s: f64,
    pub at: String,
    pub text: String,
    /// What the analysis found in this turn (highlighted).
    pub signals: Vec<String>,
}

pub struct VisitView {
    pub recording_id: String,
    pub date: String,
    pub salesperson: String,
    pub duration: String,
    pub stage: String,
    pub score: u32,
    pub playable: bool,
    pub lines: Vec<Line>,
    /// The newest visit's transcript starts open.
    pub open: bool,
}

#[derive(Template)]
#[template(path = "profile.html")]
struct ProfilePage {
    page: Page,
    customer_id: String,
    name: String,
    phone: String,
    is_manager: bool,
    budget: Option<String>,
    budget_quotes: Vec<Quote>,
    budget_history: Vec<BudgetLine>,
    groups: Vec<TagGroup>,
    score: u32,
    tier: String,
    tier_class: &'static str,
    reasons: Vec<String>,
    next_action: String,
    due: String,
    overdue: bool,
    stage: String,
    p30: String,
    expected_value: String,
    outcome: Option<String>,
    visits: Vec<VisitView>,
}

pub fn stage_key(stage: Stage) -> &'static str {
    match stage {
        Stage::Browsing => "stage-browsing",
        Stage::Considering => "stage-considering",
        Stage::Negotiating => "stage-negotiating",
        Stage::Committed => "stage-committed",
        Stage::Won => "stage-won",
        Stage::Lost => "stage-lost",
    }
}

pub fn tier_key(tier: &str) -> &'static str {
    match tier {
        "hot" => "tier-hot",
        "warm" => "tier-warm",
        _ => "tier-cold",
    }
}

fn speaker(s: Speaker) -> (&'static str, &'static str) {
    match s {
        Speaker::Salesperson => ("salesperson", "speaker-salesperson"),
        Speaker::Customer => ("customer", "speaker-customer"),
        Speaker::Companion => ("companion", "speaker-companion"),
        Speaker::Unknown => ("unknown", "speaker-unknown"),
    }
}

fn quotes(evidence: &[Evidence], playable: &HashSet<String>) -> Vec<Quote> {
    evidence
        .iter()
        .filter_map(|e| {
            Some(Quote {
                recording_id: e.recording_id.clone(),
                start_s: e.start_s?,
                at: format!("{} {}", e.recorded_at.format("%Y-%m-%d"), clock(e.start_s?)),
                text: e.quote.clone()?,
                playable: playable.contains(&e.recording_id),
            })
        })
        .collect()
}

fn transcript(visit: &Visit, tr: Tr, names: LabelNames) -> Vec<Line> {
    let a = &visit.analysis;
    let mut found: HashMap<usize, Vec<String>> = HashMap::new();
    for s in a.preferences.iter().chain(&a.objections).chain(&a.intents) {
        let name = match &s.value {
            Some(v) => format!("{}: {v}", names.name(&s.id)),
            None => names.name(&s.id),
        };
        for seg in &s.evidence {
            found.entry(*seg).or_default().push(name.clone());
        }
    }
    a.segments
        .iter()
        .map(|seg| {
            let (class, key) = speaker(seg.speaker);
            Line {
                speaker: class,
                speaker_name: tr.t(key),
                start_s: seg.start,
                at: clock(seg.start),
                text: seg.text.clone(),
                signals: found.remove(&seg.id).unwrap_or_default(),
            }
        })
        .collect()
}

struct Context<'a> {
    tr: Tr,
    names: LabelNames<'a>,
    playable: &'a HashSet<String>,
    emails: &'a HashMap<String, String>,
}

fn tag_groups(p: &CustomerProfile, cx: &Context) -> Vec<TagGroup> {
    let groups = [
        (TagCategory::Fact, "fact", "tags-fact"),
        (
            TagCategory::Psychological,
            "psychological",
            "tags-psychological",
        ),
        (TagCategory::Behavioral, "behavioral", "tags-behavioral"),
    ];
    groups
        .into_iter()
        .map(|(category, id, key)| TagGroup {
            heading: cx.tr.t(key),
            id,
            tags: p
                .tags
                .iter()
                .filter(|t| t.category == category)
                .map(|t| TagView {
                    id: t.id.clone(),
                    name: cx.names.name(&t.id),
                    rule: t.rule.clone(),
                    quotes: quotes(&t.evidence, cx.playable),
                    verdict: t.correction.as_ref().map(|c| c.verdict.name()),
                    verdict_text: t
                        .correction
                        .as_ref()
                        .map(|c| {
                            let key = match c.verdict {
                                Verdict::Accepted => "tag-accepted-by",
                                Verdict::Rejected => "tag-rejected-by",
                            };
                            format!(
                                "{} · {}",
                                cx.tr.t1(key, "who", c.by.as_deref().unwrap_or("—")),
                                c.at.format("%Y-%m-%d")
                            )
                        })
                        .unwrap_or_default(),
                })
                .collect(),
        })
        .collect()
}

fn view(
    page: Page,
    user: &PageUser,
    p: &CustomerProfile,
    visits: &[Visit],
    contact: crate::store::pages::CustomerChoice,
    cx: &Context,
) -> ProfilePage {
    let tr = cx.tr;
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let kind = |k: crate::analysis::BudgetKind| tr.t(&format!("budget-{}", k.name()));
    let budget = p
        .budget
        .latest
        .as_ref()
        .map(|b| format!("{} ({})", money(&b.currency, b.min, b.max), kind(b.kind)));
    let tier = serde_json::to_value(p.priority.tier)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let newest = visits.iter().map(|v| v.recorded_at).max();
    let mut visit_views: Vec<VisitView> = visits
        .iter()
        .map(|v| VisitView {
            recording_id: v.recording_id.clone(),
            date: v.recorded_at.format("%Y-%m-%d %H:%M").to_string(),
            salesperson: v
                .salesperson
                .as_ref()
                .and_then(|s| cx.emails.get(s).cloned())
                .unwrap_or_else(|| "—".into()),
            duration: clock(v.analysis.duration_s),
            stage: tr.t(stage_key(v.analysis.forecast.stage)),
            score: v.analysis.priority.score,
            playable: cx.playable.contains(&v.recording_id),
            lines: transcript(v, tr, cx.names),
            open: Some(v.recorded_at) == newest,
        })
        .collect();
    // Newest first on the timeline.
    visit_views.reverse();
    ProfilePage {
        customer_id: p.id.clone(),
        name: contact.name.unwrap_or_else(|| tr.t("customer-unnamed")),
        phone: contact.phone.unwrap_or_default(),
        is_manager: !user.is_salesperson(),
        budget,
        budget_quotes: p
            .budget
            .latest
            .as_ref()
            .map(|b| quotes(&b.evidence, cx.playable))
            .unwrap_or_default(),
        budget_history: p
            .budget
            .history
            .iter()
            .rev()
            .map(|b| BudgetLine {
                date: b.recorded_at.format("%Y-%m-%d").to_string(),
                amount: money(&b.currency, b.min, b.max),
                kind: kind(b.kind),
                quotes: quotes(&b.evidence, cx.playable),
            })
            .collect(),
        groups: tag_groups(p, cx),
        score: p.priority.score,
        tier: tr.t(tier_key(&tier)),
        tier_class: match p.priority.tier {
            Tier::Hot => "hot",
            Tier::Warm => "warm",
            Tier::Cold => "cold",
        },
        reasons: p.priority.reasons.clone(),
        next_action: p.priority.next_action.clone(),
        overdue: p.priority.due < today,
        due: p.priority.due.clone(),
        stage: tr.t(stage_key(p.forecast.stage)),
        p30: format!("{:.0} %", p.forecast.p30 * 100.0),
        expected_value: money(&p.currency, Some(p.forecast.expected_value), None),
        outcome: p.outcome.map(|o| {
            tr.t(match o.result {
                crate::profile::customer::OutcomeKind::Won => "stage-won",
                crate::profile::customer::OutcomeKind::Lost => "stage-lost",
            })
        }),
        visits: visit_views,
        page,
    }
}

pub async fn page(
    State(state): State<AppState>,
    user: PageUser,
    tr: Tr,
    csrf: Csrf,
    Path(id): Path<String>,
) -> Response {
    let who = &user.principal;
    let customer = match crate::web::customers::visible(&state, who, &id).await {
        Ok(c) => c,
        Err(e) => return api_failure(tr, e),
    };
    let loaded = async {
        let (profile, visits) = state
            .store
            .profile_with_visits(&customer.id, state.pipeline.config(), chrono::Utc::now())
            .await?;
        let playable = state.store.playable_recordings(&customer.id).await?;
        let emails = state.store.user_emails(who.dealership_id()).await?;
        let contact = state.store.customer_contact(&customer.id).await?;
        state
            .store
            .audit(who, "read", "customer", &customer.id)
            .await?;
        Ok::<_, crate::store::StoreError>((profile, visits, playable, emails, contact))
    };
    let (profile, visits, playable, emails, contact) = match loaded.await {
        Ok(all) => all,
        Err(e) => return api_failure(tr, e.into()),
    };
    let cx = Context {
        tr,
        names: LabelNames::new(&state.pipeline.config().taxonomy, tr),
        playable: &playable,
        emails: &emails,
    };
    let path = format!("/customers/{}", customer.id);
    let title = contact
        .name
        .clone()
        .unwrap_or_else(|| tr.t("customer-unnamed"));
    let page = Page {
        tr,
        csrf: csrf.0,
        user: Some(user.clone()),
        path: path.clone(),
        back: path,
        title,
    };
    render(&view(page, &user, &profile, &visits, contact, &cx))
}

/// The page session's way to the recording's audio (an `<audio>` element cannot send the
/// API's headers); the same checks and audit as the API.
pub async fn audio(
    State(state): State<AppState>,
    user: PageUser,
    tr: Tr,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    match crate::web::audio::serve(&state, &user.principal, &id, &headers).await {
        Ok(r) => r,
        Err(e) => api_failure(tr, e),
    }
}

#[derive(Deserialize)]
pub struct VerdictForm {
    verdict: String,
    #[serde(default)]
    csrf: String,
}

pub async fn correct(
    State(state): State<AppState>,
    user: PageUser,
    tr: Tr,
    csrf: Csrf,
    Path((id, tag)): Path<(String, String)>,
    Form(form): Form<VerdictForm>,
) -> Response {
    if !csrf.accepts(&form.csrf) {
        return super::expired_form(tr);
    }
    let Some(verdict) = Verdict::parse(&form.verdict) else {
        return api_failure(
            tr,
            crate::web::error::ApiError::BadRequest("verdict: accepted or rejected".into()),
        );
    };
    match crate::web::corrections::correct_tag(&state, &user.principal, &id, &tag, verdict).await {
        Ok(_) => Redirect::to(&format!("/customers/{id}#tag-{tag}")).into_response(),
        Err(e) => api_failure(tr, e),
    }
}
