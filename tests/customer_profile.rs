//! Customer profiles built from real analyses of small conversations: how visits merge.

mod common;

use std::sync::OnceLock;

use chrono::{DateTime, Duration, TimeZone, Utc};
use dealerscope::analysis::{Stage, Tier};
use dealerscope::pipeline::{AnalyzeOptions, Pipeline};
use dealerscope::profile::customer::{
    build_profile, build_profile_with_outcome, CustomerProfile, Outcome, OutcomeKind, Visit,
    GONE_QUIET, REPEAT_VISIT,
};
use dealerscope::profile::forecast_report::OpportunityRow;

fn pipeline() -> &'static Pipeline {
    static P: OnceLock<Pipeline> = OnceLock::new();
    P.get_or_init(|| Pipeline::load(&common::pipeline_path()).expect("the shipped pipeline loads"))
}

fn day(d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, d, 15, 0, 0).unwrap()
}

fn visit(id: &str, at: DateTime<Utc>, text: &str) -> Visit {
    let options = AnalyzeOptions {
        date: Some(at.date_naive()),
        ..Default::default()
    };
    Visit {
        recording_id: id.into(),
        recorded_at: at,
        salesperson: Some("sam@example.com".into()),
        analysis: pipeline()
            .analyze_text(&format!("{id}.txt"), text, &options)
            .expect("analysis"),
    }
}

/// First visit: an SUV for the family, 25k, too expensive, must ask the wife, will think.
const FIRST: &str = "\
Salesperson: Welcome in! What brings you by today?
Customer: We're looking for an SUV, something safe for the kids. Maybe the RAV4.
Salesperson: Great choice. Do you have a budget in mind?
Customer: Around 25 thousand. Honestly the sticker prices are too expensive for us.
Salesperson: I understand. Would you like to take it for a test drive?
Customer: Not today. I need to talk to my wife first. I'll think about it.
";

/// Second visit, with the wife: test drive, a higher budget, haggling.
const SECOND: &str = "\
Salesperson: Good to see you again! Is this your wife?
Customer: Yes, we came back to look at the RAV4 again. We want an SUV.
Wife: I like the color. Can we drive it?
Salesperson: Of course, let's go for a test drive.
Customer: We can go up to 38 thousand. Can you do any better on the price?
Salesperson: Let me see what I can do on the out-the-door price.
";

fn two_visits() -> Vec<Visit> {
    // Given newest first: the profile orders visits by time itself.
    vec![visit("r2", day(8), SECOND), visit("r1", day(1), FIRST)]
}

fn profile_at(visits: &[Visit], now: DateTime<Utc>) -> CustomerProfile {
    build_profile("c1", visits, now, pipeline().config())
}

fn tag_ids(p: &CustomerProfile) -> Vec<&str> {
    p.tags.iter().map(|t| t.id.as_str()).collect()
}

#[test]
fn newest_budget_wins_and_history_keeps_both() {
    let p = profile_at(&two_visits(), day(9));
    let latest = p.budget.latest.as_ref().expect("a budget");
    assert_eq!(
        (latest.max, latest.recording_id.as_str()),
        (Some(38000.0), "r2")
    );
    let history: Vec<(&str, Option<f64>)> = p
        .budget
        .history
        .iter()
        .map(|b| (b.recording_id.as_str(), b.max))
        .collect();
    assert_eq!(history, [("r1", Some(25000.0)), ("r2", Some(38000.0))]);
    assert!(p.budget.history[0].evidence[0]
        .quote
        .as_deref()
        .unwrap()
        .contains("25 thousand"));
    // The budget band follows the newest budget only.
    let tags = tag_ids(&p);
    assert!(tags.contains(&"fact.budget_band.30k_40k"), "{tags:?}");
    assert!(!tags.contains(&"fact.budget_band.20k_30k"), "{tags:?}");
    // Deal value of the forecast is the newest budget.
    assert_eq!(
        p.forecast.expected_value,
        (38000.0 * p.forecast.p30).round()
    );
    let row = OpportunityRow::from_profile(&p);
    assert_eq!(
        (
            row.currency.as_str(),
            row.date.to_string(),
            row.salesperson.as_deref()
        ),
        ("USD", p.priority.due.clone(), Some("sam@example.com"))
    );
}

#[test]
fn repeated_preferences_count_visits_and_cite_both() {
    let p = profile_at(&two_visits(), day(9));
    let suv = p
        .preferences
        .iter()
        .find(|s| s.id == "pref.body.suv")
        .expect("SUV preference");
    assert_eq!(suv.count, 2);
    assert_eq!((suv.first_seen, suv.last_seen), (day(1), day(8)));
    let cited: Vec<&str> = suv
        .evidence
        .iter()
        .map(|e| e.recording_id.as_str())
        .collect();
    assert!(cited.contains(&"r1") && cited.contains(&"r2"), "{cited:?}");
    for e in &suv.evidence {
        assert!(e.quote.as_deref().unwrap().contains("SUV"), "{e:?}");
    }
    let models: Vec<_> = p
        .preferences
        .iter()
        .filter(|s| s.id == "pref.model")
        .map(|s| (s.value.as_deref(), s.count))
        .collect();
    assert_eq!(models, [(Some("RAV4"), 2)]);
    // Said only in the first visit.
    let safety = p
        .preferences
        .iter()
        .find(|s| s.id == "pref.priority.safety")
        .unwrap();
    assert_eq!((safety.count, safety.last_seen), (1, day(1)));
    assert_eq!(p.visits.len(), 2);
    assert_eq!(p.visits[0].recording_id, "r1");
    assert_eq!(p.last_contact, Some(day(8)));
}

#[test]
fn objections_a_later_visit_moved_past_stop_counting() {
    let p = profile_at(&two_visits(), day(9));
    for id in ["obj.price", "obj.approval"] {
        let o = p.objections.iter().find(|o| o.id == id).expect(id);
        assert_eq!(
            o.resolved.as_ref().map(|r| r.recording_id.as_str()),
            Some("r2"),
            "{id}"
        );
    }
    let defer = p.intents.iter().find(|i| i.id == "intent.defer").unwrap();
    assert!(defer.resolved.is_some());
    let tags = tag_ids(&p);
    for kept in [
        "psy.safety_conscious",
        "fact.family",
        "beh.test_drove",
        REPEAT_VISIT,
    ] {
        assert!(tags.contains(&kept), "missing {kept} in {tags:?}");
    }
    // Resolved objections still tell who the customer is: too expensive in the first visit and
    // haggling in the second make two price signals.
    let sensitive = p
        .tags
        .iter()
        .find(|t| t.id == "psy.price_sensitive")
        .expect("price-sensitive across visits");
    let quotes: Vec<(&str, &str)> = sensitive
        .evidence
        .iter()
        .map(|e| (e.recording_id.as_str(), e.quote.as_deref().unwrap()))
        .collect();
    assert!(
        quotes
            .iter()
            .any(|(r, q)| *r == "r1" && q.contains("too expensive")),
        "{quotes:?}"
    );
    assert!(
        quotes
            .iter()
            .any(|(r, q)| *r == "r2" && q.contains("better on the price")),
        "{quotes:?}"
    );
    assert!(
        !p.priority
            .reasons
            .iter()
            .any(|r| r.contains("price objection")),
        "{:?}",
        p.priority.reasons
    );
    assert_eq!(p.priority.tier, Tier::Hot);
    assert_eq!(p.forecast.stage, Stage::Negotiating);
    assert!(
        p.priority.next_action.contains("quote"),
        "{}",
        p.priority.next_action
    );
    // Due one day after the last visit, not after `now`.
    assert_eq!(p.priority.due, "2026-11-09");

    // Raised again in the newest visit, the objection is open.
    let third = visit(
        "r3",
        day(10),
        "Salesperson: Here is the quote.\nCustomer: That's too expensive, we need to talk it over with my wife.\n",
    );
    let mut visits = two_visits();
    visits.push(third);
    let p = profile_at(&visits, day(10));
    let price = p.objections.iter().find(|o| o.id == "obj.price").unwrap();
    assert_eq!((price.resolved.as_ref(), price.count), (None, 2));
}

#[test]
fn one_visit_profile_agrees_with_its_analysis() {
    for (id, text) in [
        ("en", FIRST),
        (
            "zh",
            "销售: 欢迎光临，想看什么车？\n客户: 想看看SUV，预算二十五万左右，家里有两个孩子。\n销售: 要不要试驾一下？\n客户: 好的，试驾一下。不过太贵了，我要回去跟老婆商量一下。\n",
        ),
    ] {
        let v = visit(id, day(3), text);
        let p = profile_at(std::slice::from_ref(&v), day(3));
        assert_eq!(p.priority, v.analysis.priority, "{id}");
        assert_eq!(p.forecast, v.analysis.forecast, "{id}");
        let mut own: Vec<&str> = v.analysis.tags.iter().map(|t| t.id.as_str()).collect();
        let mut merged = tag_ids(&p);
        own.sort_unstable();
        merged.sort_unstable();
        assert_eq!(merged, own, "{id}");
        assert_eq!(p.currency, if id == "zh" { "CNY" } else { "USD" });
    }
}

#[test]
fn gone_quiet_appears_as_time_passes() {
    let visits = two_visits();
    let quiet_days = i64::from(pipeline().config().profile.gone_quiet_days);
    let fresh = profile_at(&visits, day(8) + Duration::days(quiet_days - 1));
    let quiet_at = day(8) + Duration::days(quiet_days);
    let quiet = profile_at(&visits, quiet_at);
    assert!(!tag_ids(&fresh).contains(&GONE_QUIET));
    let tag = quiet
        .tags
        .iter()
        .find(|t| t.id == GONE_QUIET)
        .expect("gone quiet");
    assert_eq!(tag.evidence.len(), 1);
    assert_eq!(tag.evidence[0].recording_id, "r2");
    let weight = pipeline()
        .config()
        .priority
        .weights
        .iter()
        .find(|w| w.signal == GONE_QUIET)
        .expect("a weight for going quiet")
        .points;
    assert_eq!(
        quiet.priority.score as f64,
        (fresh.priority.score as f64 + weight).clamp(0.0, 100.0)
    );
    assert!(quiet
        .priority
        .reasons
        .iter()
        .any(|r| r.contains("no contact")));
    // A quiet customer is called today, counting from now, not from the last visit.
    assert!(
        quiet.priority.next_action.contains("re-engage"),
        "{}",
        quiet.priority.next_action
    );
    assert_eq!(quiet.priority.due, quiet_at.format("%Y-%m-%d").to_string());
    assert_eq!(fresh.priority.due, "2026-11-09");
}

#[test]
fn won_outcome_after_the_last_visit_sets_the_stage() {
    let visits = two_visits();
    let cfg = pipeline().config();
    let won = Outcome {
        result: OutcomeKind::Won,
        recorded_at: day(12),
    };
    let later = day(12) + Duration::days(60);
    let p = build_profile_with_outcome("c1", &visits, Some(won), later, cfg);
    assert_eq!(p.forecast.stage, Stage::Won);
    assert_eq!(p.forecast.p30, cfg.forecast.p30["won"]);
    assert_eq!(p.forecast.expected_value, 38000.0);
    // A customer who bought has not gone quiet.
    assert!(!tag_ids(&p).contains(&GONE_QUIET));
    assert_eq!(p.outcome, Some(won));
    // No longer a lead: the next step is the delivery, counted from the sale.
    assert_eq!(p.priority.tier, Tier::Cold);
    assert!(
        p.priority.next_action.contains("delivery of the RAV4"),
        "{}",
        p.priority.next_action
    );
    assert_eq!(p.priority.due, "2026-11-13");

    // A loss recorded before the customer came back no longer decides the stage.
    let lost = Outcome {
        result: OutcomeKind::Lost,
        recorded_at: day(5),
    };
    let p = build_profile_with_outcome("c1", &visits, Some(lost), day(9), cfg);
    assert_eq!(p.forecast.stage, Stage::Negotiating);
}

#[test]
fn tag_evidence_cites_recording_time_and_quote() {
    let p = profile_at(&two_visits(), day(9));
    let drove = p.tags.iter().find(|t| t.id == "beh.test_drove").unwrap();
    assert!(!drove.evidence.is_empty());
    for e in &drove.evidence {
        assert_eq!((e.recording_id.as_str(), e.recorded_at), ("r2", day(8)));
        let quote = e.quote.as_deref().expect("a quote");
        let seg = &two_visits()[0].analysis.segments[e.segment.unwrap()];
        assert_eq!((quote, e.start_s), (seg.text.as_str(), Some(seg.start)));
    }
    let safety = p
        .tags
        .iter()
        .find(|t| t.id == "psy.safety_conscious")
        .unwrap();
    assert!(safety
        .evidence
        .iter()
        .any(|e| e.recording_id == "r1" && e.quote.as_deref().unwrap().contains("safe")));
    let repeat = p.tags.iter().find(|t| t.id == REPEAT_VISIT).unwrap();
    assert!(repeat.evidence.iter().any(|e| e.recording_id == "r2"));
}

#[test]
fn profile_json_round_trips_with_the_api_fields() {
    let p = profile_at(&two_visits(), day(30));
    let json = serde_json::to_value(&p).unwrap();
    for key in [
        "id",
        "budget",
        "preferences",
        "objections",
        "intents",
        "tags",
        "visits",
        "priority",
        "forecast",
        "facts",
        "last_contact",
    ] {
        assert!(json.get(key).is_some(), "missing {key}");
    }
    for key in ["score", "tier", "next_action", "due", "reasons"] {
        assert!(
            json["priority"].get(key).is_some(),
            "missing priority.{key}"
        );
    }
    let back: CustomerProfile = serde_json::from_value(json).unwrap();
    assert_eq!(back, p);
}

#[test]
fn no_visits_is_an_empty_cold_profile() {
    let p = profile_at(&[], day(9));
    assert_eq!((p.last_contact, p.visits.len()), (None, 0));
    assert_eq!(p.forecast.stage, Stage::Browsing);
    assert!(!tag_ids(&p).contains(&GONE_QUIET));
}

/// Real analyses of the project's fixture conversations, both languages.
fn fixture_visits() -> &'static [Visit] {
    static V: OnceLock<Vec<Visit>> = OnceLock::new();
    V.get_or_init(|| {
        let root = common::root().join("tests/fixtures/conversations");
        let mut paths: Vec<_> = ["en", "zh"]
            .iter()
            .flat_map(|lang| std::fs::read_dir(root.join(lang)).unwrap())
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "txt"))
            .collect();
        paths.sort();
        paths
            .iter()
            .step_by(6)
            .enumerate()
            .map(|(i, p)| {
                let text = std::fs::read_to_string(p).unwrap();
                visit(&format!("f{i}"), day(1), &text)
            })
            .collect()
    })
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Any visits, in any order, at any times: the same profile, with its invariants.
    #[test]
    fn profile_does_not_depend_on_visit_order(
        picks in proptest::collection::vec((0usize..1000, 0i64..40 * 24), 0..6),
        quiet_hours in 0i64..60 * 24,
    ) {
        let all = fixture_visits();
        let mut visits: Vec<Visit> = picks
            .iter()
            .enumerate()
            .map(|(i, &(pick, hours))| {
                let mut v = all[pick % all.len()].clone();
                v.recording_id = format!("r{i}");
                // Distinct times: equal times would leave the order to the caller.
                v.recorded_at = day(1) + Duration::hours(hours) + Duration::seconds(i as i64);
                v
            })
            .collect();
        let last = visits.iter().map(|v| v.recorded_at).max();
        let now = last.unwrap_or(day(1)) + Duration::hours(quiet_hours);
        let p = profile_at(&visits, now);
        visits.reverse();
        proptest::prop_assert_eq!(&profile_at(&visits, now), &p);

        proptest::prop_assert_eq!(p.last_contact, last);
        proptest::prop_assert!(p.visits.windows(2).all(|w| w[0].recorded_at <= w[1].recorded_at));
        proptest::prop_assert!(p.priority.score <= 100);
        proptest::prop_assert!((0.0..=1.0).contains(&p.forecast.p30));
        let quiet = Duration::days(pipeline().config().profile.gone_quiet_days.into());
        proptest::prop_assert_eq!(
            tag_ids(&p).contains(&GONE_QUIET),
            last.is_some_and(|t| now - t >= quiet)
        );
        for s in p.preferences.iter().chain(&p.objections).chain(&p.intents) {
            proptest::prop_assert!(s.first_seen <= s.last_seen);
            proptest::prop_assert!(s.count as usize <= p.visits.len());
        }
    }
}
