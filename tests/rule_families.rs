//! One test per rule family of the shipped pipeline: what a salesperson relies on the profile
//! to get right.

use dealerscope::analysis::{Analysis, Stage, Tier};
use dealerscope::pipeline::{AnalyzeOptions, Pipeline};
use std::sync::OnceLock;

fn analyze(text: &str) -> Analysis {
    static P: OnceLock<Pipeline> = OnceLock::new();
    let p = P.get_or_init(|| {
        Pipeline::load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/dealership.toml"),
        )
        .unwrap()
    });
    let options = AnalyzeOptions {
        date: chrono::NaiveDate::from_ymd_opt(2026, 11, 20),
        ..Default::default()
    };
    p.analyze_text("t.txt", text, &options).unwrap()
}

fn has(a: &Analysis, id: &str) -> bool {
    a.preferences
        .iter()
        .chain(&a.objections)
        .chain(&a.intents)
        .any(|s| s.id == id)
}

fn value_of(a: &Analysis, id: &str) -> Vec<String> {
    a.preferences
        .iter()
        .chain(&a.objections)
        .filter(|s| s.id == id)
        .filter_map(|s| s.value.clone())
        .collect()
}

#[test]
fn negation_removes_a_preference_in_both_languages() {
    let a =
        analyze("Salesperson: Hi!\nCustomer: We definitely don't want an SUV. A sedan is fine.\n");
    assert!(!has(&a, "pref.body.suv") && has(&a, "pref.body.sedan"));
    let a = analyze("销售: 您好\n客户: 不考虑SUV，要轿车。\n");
    assert!(!has(&a, "pref.body.suv") && has(&a, "pref.body.sedan"));
    let a = analyze("销售: 您好\n客户: SUV就算了，太费油。\n");
    assert!(!has(&a, "pref.body.suv"));
    // A question form is not a negation: 有没有现车 asks about stock.
    let a = analyze("销售: 您好\n客户: 有没有现车？\n");
    assert!(has(&a, "intent.availability"));
}

#[test]
fn only_the_customer_side_counts() {
    let a = analyze("Salesperson: This one has the best safety ratings and a huge touchscreen.\nCustomer: Okay.\n");
    assert!(!has(&a, "pref.priority.safety") && !has(&a, "pref.priority.technology"));
    let a = analyze("Salesperson: Hello!\nCustomer: Hi.\nWife: Safety matters most to me.\n");
    assert!(
        has(&a, "pref.priority.safety"),
        "a companion speaks for the customer's side"
    );
}

#[test]
fn a_yes_to_the_salesperson_question_is_the_customer_signal() {
    let a = analyze(
        "Salesperson: Want to take it out for a test drive?\nCustomer: Sure, let's do it.\n",
    );
    assert!(has(&a, "intent.test_drive"));
    assert!(
        !has(&a, "intent.commitment"),
        "\"let's do it\" answered the test-drive offer"
    );
    let a = analyze("Salesperson: Want to take it out for a test drive?\nCustomer: No thanks, maybe next time.\n");
    assert!(!has(&a, "intent.test_drive") && has(&a, "intent.defer"));
    let a = analyze("销售: 要不要试驾一下？\n客户: 行。\n");
    assert!(has(&a, "intent.test_drive"));
}

#[test]
fn entities_from_the_gazetteers_in_context() {
    let a = analyze(
        "Salesperson: Welcome to Honda!\nCustomer: I'm here for the CR-V. We drive a 2014 Camry now.\n\
         Customer: My brother has a Model Y and loves it.\nCustomer: Toyota offered me a better deal on the RAV4 though.\n\
         Customer: I'd like it in blue. It doesn't have a sunroof, that's a bummer.\n",
    );
    assert_eq!(value_of(&a, "pref.model"), vec!["CR-V"]);
    assert_eq!(
        value_of(&a, "obj.competitor"),
        vec!["RAV4"],
        "a brother's car is not a competitor"
    );
    assert_eq!(a.facts["current_vehicle"], "2014 Camry");
    assert_eq!(value_of(&a, "pref.color"), vec!["blue"]);
    assert!(
        value_of(&a, "obj.feature")
            .iter()
            .any(|f| f.to_lowercase().contains("sunroof")),
        "{:?}",
        a.objections
    );
}

#[test]
fn facts_are_typed() {
    let a = analyze("Salesperson: Hi\nCustomer: We're a family of four, two kids in car seats, and I'll pay cash.\n");
    assert_eq!(a.facts["household.size"], 4);
    assert_eq!(a.facts["household.children"], true);
    assert_eq!(a.facts["payment.method"], "cash");
    let a = analyze("销售: 您好\n客户: 我们没孩子，就我们俩，一家两口。\n");
    assert_eq!(a.facts["household.children"], false);
    assert_eq!(a.facts["household.size"], 2);
}

#[test]
fn roles_say_who() {
    let a = analyze(
        "Salesperson: Hi\nCustomer: It's for my daughter, she'll be the one driving it.\n\
         Customer: My wife has the final say though.\nCustomer: My buddy is a mechanic and he said to avoid CVTs.\n",
    );
    let who = |id: &str| a.roles.iter().find(|r| r.id == id).map(|r| r.who.clone());
    assert_eq!(who("role.primary_driver").as_deref(), Some("my daughter"));
    assert_eq!(who("role.decision_maker").as_deref(), Some("My wife"));
    assert_eq!(who("role.influencer").as_deref(), Some("My buddy"));
    let a = analyze("销售: 您好\n客户: 主要是我老婆开，钱是我爸出。\n");
    assert!(a
        .roles
        .iter()
        .any(|r| r.id == "role.primary_driver" && r.who.contains("老婆")));
    assert!(a
        .roles
        .iter()
        .any(|r| r.id == "role.decision_maker" && r.who.contains("爸")));
}

#[test]
fn metrics_measure_the_customer_side() {
    let a = analyze(
        "[00:00] Salesperson: Hi there.\n[00:10] Customer: Hello. What's the range? How fast does it charge?\n\
         [00:40] Wife: And is there a warranty?\n[01:00] Salesperson: Ten years.\n[01:10] Customer: Thanks.\n",
    );
    assert_eq!(a.metrics.turns, 5);
    assert_eq!(a.metrics.customer_questions, 3);
    // A stamped turn lasts as long as its words take to say (pauses are nobody's talk): the
    // customer-side run goes from 00:10 to the end of the wife's question at about 00:41.
    let run = a.metrics.longest_customer_monologue_s;
    assert!((30.0..=35.0).contains(&run), "{run}");
    let share = a.metrics.customer_talk_share;
    assert!(share > 0.5 && share < 0.9, "{share}");
}

#[test]
fn tags_carry_their_rule_and_evidence() {
    let a = analyze(
        "Salesperson: Budget?\nCustomer: Around 35k. It's a bit too expensive though.\nCustomer: Can you do better on the price?\n",
    );
    let tag = |id: &str| a.tags.iter().find(|t| t.id == id).cloned();
    let band = tag("fact.budget_band.30k_40k").expect("budget band");
    assert_eq!(band.evidence, vec![1]);
    let price =
        tag("psy.price_sensitive").expect("two price signals make a price-sensitive customer");
    assert_eq!(price.rule, "two or more price signals");
    assert_eq!(price.evidence, vec![1, 2]);
    let one_signal = analyze("Salesperson: Hi\nCustomer: It's a bit too expensive.\n");
    assert!(!one_signal
        .tags
        .iter()
        .any(|t| t.id == "psy.price_sensitive"));
}

#[test]
fn priority_tiers_and_next_actions() {
    let hot = analyze("Salesperson: Ready to sign?\nCustomer: Yes, let's do it, we'll put down a deposit today.\n");
    assert_eq!(hot.priority.tier, Tier::Hot);
    assert!(
        hot.priority.reasons.iter().any(|r| r.starts_with("+40")),
        "{:?}",
        hot.priority.reasons
    );
    assert_eq!(hot.priority.due, "2026-11-21");
    assert!(hot.priority.next_action.contains("contract"));
    let cold = analyze("Salesperson: Can I help?\nCustomer: Just looking, thanks.\n");
    assert_eq!(cold.priority.tier, Tier::Cold);
    assert!(cold.priority.reasons.iter().any(|r| r.starts_with("-20")));
    let zh = analyze("销售: 您好\n客户: 随便看看。\n");
    assert!(
        zh.priority.next_action.contains("回访"),
        "{}",
        zh.priority.next_action
    );
}

#[test]
fn forecast_stage_and_expected_value() {
    let a = analyze("Salesperson: Budget?\nCustomer: Between 30 and 40 grand.\nCustomer: Let's do the paperwork, we'll take it.\n");
    assert_eq!(a.forecast.stage, Stage::Committed);
    assert_eq!(
        a.forecast.expected_value,
        (35000.0 * a.forecast.p30).round()
    );
    let browsing = analyze("Salesperson: Hi\nCustomer: Just browsing today.\n");
    assert_eq!(browsing.forecast.stage, Stage::Browsing);
    assert!(browsing.forecast.p30 < a.forecast.p30);
}

#[test]
fn a_complaint_objects_to_what_the_salesperson_just_said() {
    let a = analyze("Salesperson: The best rate I can get you is six point nine percent.\nCustomer: That's way too high.\n");
    assert!(has(&a, "obj.financing"));
    let a = analyze("销售: 您的旧车我们评估是四万八。\n客户: 四万八？太少了吧。\n");
    assert!(has(&a, "obj.trade_in"));
    let a = analyze("Salesperson: The best rate I can get you is six point nine percent.\nCustomer: Okay, sounds fine.\n");
    assert!(!has(&a, "obj.financing"));
}

#[test]
fn valued_labels_always_say_what() {
    let a = analyze("Salesperson: Ready?\nCustomer: It's not my decision alone.\n");
    assert_eq!(value_of(&a, "obj.approval"), vec!["someone else"]);
    let a = analyze("Salesperson: Ready?\nCustomer: I can't decide by myself, my husband will want to see it.\n");
    assert_eq!(value_of(&a, "obj.approval").len(), 1);
    assert!(
        value_of(&a, "obj.approval")[0].contains("husband"),
        "{:?}",
        value_of(&a, "obj.approval")
    );
    let a = analyze("Salesperson: Hi\nCustomer: I wish it had a bigger screen.\n");
    assert!(!value_of(&a, "obj.feature").is_empty());
    // Every valued label of every fixture carries a value.
    for lang in ["en", "zh"] {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/conversations")
            .join(lang);
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "txt") {
                let a = analyze(&std::fs::read_to_string(&path).unwrap());
                for s in a.preferences.iter().chain(&a.objections) {
                    let valued = [
                        "pref.model",
                        "pref.color",
                        "obj.competitor",
                        "obj.feature",
                        "obj.approval",
                    ]
                    .contains(&s.id.as_str());
                    assert_eq!(
                        s.value.is_some(),
                        valued,
                        "{}: {} value {:?}",
                        path.display(),
                        s.id,
                        s.value
                    );
                }
            }
        }
    }
}
