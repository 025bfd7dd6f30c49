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

/// Each role the analysis found, as (id, who).
fn roles_of(text: &str) -> Vec<(String, String)> {
    analyze(text)
        .roles
        .into_iter()
        .map(|r| (r.id, r.who))
        .collect()
}

/// Runs one customer line per case (after the salesperson's greeting) and lists every case whose
/// roles are not exactly the expected ones: (role id, who) pairs, `who` compared without case.
fn role_family(greeting: &str, customer: &str, cases: &[(&str, &[(&str, &str)])]) {
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|(line, want)| {
            let got = roles_of(&format!("{greeting}\n{customer}: {line}\n"));
            let mut got: Vec<(String, String)> = got
                .into_iter()
                .map(|(id, who)| (id, who.to_lowercase()))
                .collect();
            let mut want: Vec<(String, String)> = want
                .iter()
                .map(|(id, who)| (format!("role.{id}"), who.to_lowercase()))
                .collect();
            got.sort();
            want.sort();
            (got != want).then(|| format!("{line:?}: want {want:?}, got {got:?}"))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn roles_english_phrasings() {
    role_family(
        "Salesperson: Hi there, what brings you in?",
        "Customer",
        &[
            // Final say, paying, sign-off.
            (
                "My wife has the final say on this stuff.",
                &[("decision_maker", "my wife")],
            ),
            (
                "Honestly it's all up to my husband.",
                &[("decision_maker", "my husband")],
            ),
            (
                "My dad's paying for it, so.",
                &[("decision_maker", "my dad")],
            ),
            (
                "The missus, um, she makes the decisions.",
                &[("decision_maker", "the missus")],
            ),
            (
                "I'll have to get it approved by my boss.",
                &[("decision_maker", "my boss")],
            ),
            (
                "I can't sign anything without my wife.",
                &[("decision_maker", "my wife")],
            ),
            (
                "My parents are cosigning on the loan.",
                &[("decision_maker", "my parents")],
            ),
            (
                "my husband would kill me if I came home with that",
                &[("decision_maker", "my husband")],
            ),
            (
                "my girlfriend is the one with the checkbook",
                &[("decision_maker", "my girlfriend")],
            ),
            (
                "We'd need my dad to co-sign.",
                &[("decision_maker", "my dad")],
            ),
            (
                "The car is a gift from my parents.",
                &[("decision_maker", "my parents")],
            ),
            (
                "She wears the pants in this family, my wife.",
                &[("decision_maker", "my wife")],
            ),
            // Who drives it.
            (
                "It's mostly for my daughter, she just got her license.",
                &[("primary_driver", "my daughter")],
            ),
            (
                "We're shopping for my mom.",
                &[("primary_driver", "my mom")],
            ),
            (
                "My son'll be the one driving it.",
                &[("primary_driver", "my son")],
            ),
            (
                "my wife's gonna be the main driver",
                &[("primary_driver", "my wife")],
            ),
            (
                "It's mostly gonna be my wife's car, she's doing forty miles a day.",
                &[("primary_driver", "my wife")],
            ),
            (
                "So, kid's sixteen next month.",
                &[("primary_driver", "kid")],
            ),
            (
                "It's for my oldest, so he can get to college.",
                &[("primary_driver", "my oldest")],
            ),
            (
                "looking for a first car for my granddaughter",
                &[("primary_driver", "my granddaughter")],
            ),
            (
                "My wife does most of the driving.",
                &[("primary_driver", "my wife")],
            ),
            (
                "so um my son he's gonna be the one driving it mostly",
                &[("primary_driver", "my son")],
            ),
            // Knows cars, recommends, checks it over.
            (
                "My brother-in-law's a mechanic and he says stay away from CVTs.",
                &[("influencer", "my brother-in-law")],
            ),
            (
                "I'll have my buddy look it over before I sign.",
                &[("influencer", "my buddy")],
            ),
            ("My mom's helping me decide.", &[("influencer", "my mom")]),
            (
                "My coworker recommended you guys.",
                &[("influencer", "my coworker")],
            ),
            (
                "my cousin works at a Toyota dealership",
                &[("influencer", "my cousin")],
            ),
            (
                "I need to talk it over with my husband first.",
                &[("influencer", "my husband")],
            ),
            (
                "My uncle used to be a mechanic, he's coming by to look at it tomorrow.",
                &[("influencer", "my uncle")],
            ),
            // Speech recognition output: no hyphens, no apostrophes, run-on sentences.
            (
                "my brother in law is a mechanic he said avoid the turbo",
                &[("influencer", "my brother in law")],
            ),
            (
                "its for my daughter she just turned sixteen",
                &[("primary_driver", "my daughter")],
            ),
            (
                "my girlfriend will mostly be using it for her commute",
                &[("primary_driver", "my girlfriend")],
            ),
            (
                "a friend of mine works at the Honda dealer across town",
                &[("influencer", "a friend of mine")],
            ),
            // People mentioned without a role.
            ("My wife's car is a Civic.", &[]),
            ("My son plays football, so we need room for the gear.", &[]),
            ("My friend has a RAV4.", &[]),
            ("My wife drives a Camry.", &[]),
            ("My husband loves his truck.", &[]),
            ("My daughter wants a pink one but she's five.", &[]),
            ("It's not for my son, it's for me.", &[]),
            ("It's not up to my wife.", &[]),
            ("If I had a teenager I'd be buying for him, but no.", &[]),
            // The customer about themself: their own profile, not a role in it.
            ("I'm the one paying for it, it's my money.", &[]),
            ("I'll be the one driving it.", &[]),
            (
                "It's my money, but it's up to my wife.",
                &[("decision_maker", "my wife")],
            ),
        ],
    );
}

#[test]
fn roles_mandarin_phrasings() {
    role_family(
        "销售: 您好，看什么车？",
        "客户",
        &[
            ("我老婆说了算。", &[("decision_maker", "我老婆")]),
            (
                "钱是我爸出，最后还得他拍板。",
                &[("decision_maker", "我爸")],
            ),
            (
                "这个我做不了主得我老婆点头才行",
                &[("decision_maker", "我老婆")],
            ),
            ("首付我爸妈帮忙出", &[("decision_maker", "我爸妈")]),
            ("预算是老板定死的。", &[("decision_maker", "老板")]),
            (
                "主要我老婆开，她上下班用。",
                &[("primary_driver", "我老婆")],
            ),
            ("给我爸买的，他退休了。", &[("primary_driver", "我爸")]),
            ("孩子上大学用", &[("primary_driver", "孩子")]),
            (
                "闺女刚拿本，想给她弄个小车练手。",
                &[("primary_driver", "闺女")],
            ),
            ("这车以后是给我儿子开的", &[("primary_driver", "我儿子")]),
            (
                "我哥是干汽修的他说这款变速箱有毛病",
                &[("influencer", "我哥")],
            ),
            ("朋友推荐来的。", &[("influencer", "朋友")]),
            ("我让我同事帮忙看看", &[("influencer", "我同事")]),
            ("我朋友懂车，我听他的。", &[("influencer", "我朋友")]),
            ("回去跟我儿子商量商量", &[("influencer", "我儿子")]),
            (
                "我姐夫在修理厂上班，他说这车毛病少。",
                &[("influencer", "我姐夫")],
            ),
            // 不是要谁点头的商量算影响者；说了不算、要她定的是拍板的人。
            (
                "这个我说了不算得回去问我老婆",
                &[("decision_maker", "我老婆")],
            ),
            ("钱是我出，车是我媳妇开。", &[("primary_driver", "我媳妇")]),
            (
                "嗯那个主要就是我老婆开我平时不怎么开",
                &[("primary_driver", "我老婆")],
            ),
            (
                "我们家我爱人说了算我听她的",
                &[("decision_maker", "我爱人")],
            ),
            (
                "我一个朋友在大众4S店当销售",
                &[("influencer", "我一个朋友")],
            ),
            ("我儿子下个月就拿驾照了", &[("primary_driver", "我儿子")]),
            // 提到人但没有角色。
            ("我家有两台车一台我开一台我老婆开", &[]),
            ("我女儿在国外读书。", &[]),
            ("我老婆的车是思域。", &[]),
            ("我儿子踢足球，后备箱要大。", &[]),
            ("我朋友有一台RAV4。", &[]),
            ("我老婆的同事也买了这款。", &[]),
            ("我爸以前也开过桑塔纳。", &[]),
            ("我朋友也不懂车。", &[]),
            ("不是给我儿子买的，我自己开。", &[]),
            ("要是我儿子再大点就给他买一台。", &[]),
            // 客户说自己。
            ("我出钱，我说了算。", &[]),
        ],
    );
}

#[test]
fn a_companion_speaking_about_themself_is_named_by_their_label() {
    let a = roles_of("Salesperson: Hi\nCustomer: Hello.\nWife: I'll be the one driving it, so I want to be sure.\nDad: I'm paying for the whole thing.\n");
    assert!(
        a.contains(&("role.primary_driver".into(), "wife".into())),
        "{a:?}"
    );
    assert!(
        a.contains(&("role.decision_maker".into(), "dad".into())),
        "{a:?}"
    );
    let a = roles_of("Salesperson: Hi\nCustomer: Hello.\nCustomer's wife: It's me that'll be doing the school run in it.\n");
    assert_eq!(a, vec![("role.primary_driver".into(), "wife".into())]);
    let a = roles_of("销售: 您好\n客户: 你好。\n客户妻子: 主要是我开，接送孩子上学。\n客户父亲: 钱是我出的 我说了算\n");
    assert!(
        a.contains(&("role.primary_driver".into(), "妻子".into())),
        "{a:?}"
    );
    assert!(
        a.contains(&("role.decision_maker".into(), "父亲".into())),
        "{a:?}"
    );
    // Named companions keep their name; the customer saying the same gives no role.
    let a = roles_of(
        "Salesperson: Hi\nCustomer: This is Jake.\nJake: I'm a mechanic, I'm helping him pick.\n",
    );
    assert!(
        a.iter()
            .any(|(id, who)| id == "role.influencer" && who == "Jake"),
        "{a:?}"
    );
    assert!(
        roles_of("Salesperson: Hi\nCustomer: I'm a mechanic myself and I'm paying.\n").is_empty()
    );
}

#[test]
fn a_pronoun_is_the_last_person_named_that_fits() {
    let a = roles_of("Salesperson: Hi\nCustomer: My husband couldn't make it today.\nSalesperson: No problem.\nCustomer: He has the final say though.\n");
    assert_eq!(a, vec![("role.decision_maker".into(), "My husband".into())]);
    // "he" passes over the wife to the son; "she" finds the wife.
    let a = roles_of("Salesperson: Hi\nCustomer: My son and my wife came along.\nCustomer: He'll be the one driving it, but she's the boss.\n");
    assert!(
        a.contains(&("role.primary_driver".into(), "My son".into())),
        "{a:?}"
    );
    assert!(
        a.contains(&("role.decision_maker".into(), "my wife".into())),
        "{a:?}"
    );
    // The salesperson's "your husband" is who the customer's "he" means.
    let a = roles_of(
        "Salesperson: Is your husband coming in too?\nCustomer: No, but he makes the decisions.\n",
    );
    assert_eq!(a, vec![("role.decision_maker".into(), "husband".into())]);
    // A companion who just spoke is who "she" means.
    let a =
        roles_of("Salesperson: Hi\nWife: The boot is a good size.\nCustomer: She's the boss.\n");
    assert_eq!(a, vec![("role.decision_maker".into(), "wife".into())]);
    let a = roles_of("销售: 您好\n客户: 我媳妇今天没来。\n客户: 家里钱都她管。\n");
    assert_eq!(a, vec![("role.decision_maker".into(), "我媳妇".into())]);
    // Nobody to point to: "have him look at it" may be the appraiser.
    assert!(roles_of(
        "Salesperson: Our appraiser is free now.\nCustomer: Sure, have him look it over.\n"
    )
    .is_empty());
    // One person, however they are named: "my wife", "she" and the companion labelled Wife.
    let a = roles_of("Salesperson: Hi\nCustomer: My wife has the final say.\nWife: I do. I'm the decision maker.\nCustomer: Yeah, she decides.\n");
    assert_eq!(a.len(), 1, "{a:?}");
}

#[test]
fn a_role_question_is_answered_by_the_reply() {
    let a = roles_of("Salesperson: Who'll be driving it mostly?\nCustomer: My wife, probably.\n");
    assert_eq!(a, vec![("role.primary_driver".into(), "My wife".into())]);
    let a = roles_of("Salesperson: Is it for your daughter?\nCustomer: Yes.\n");
    assert_eq!(a, vec![("role.primary_driver".into(), "daughter".into())]);
    let a = roles_of("Salesperson: Who's it for?\nCustomer: Me.\n");
    assert!(a.is_empty(), "{a:?}");
    let a = roles_of("销售: 这车主要谁开？\n客户: 我老婆。\n");
    assert_eq!(a, vec![("role.primary_driver".into(), "我老婆".into())]);
    let a = roles_of("销售: 是给您爱人买的吗？\n客户: 对。\n");
    assert_eq!(a, vec![("role.primary_driver".into(), "爱人".into())]);
    let a = roles_of("销售: 谁来拍板？\n客户: 我自己。\n");
    assert!(a.is_empty(), "{a:?}");
}

#[test]
fn the_salesperson_family_is_no_role() {
    let a = roles_of("Salesperson: My wife has the final say at my house too! My son's a mechanic.\nCustomer: Ha, okay.\n");
    assert!(a.is_empty(), "{a:?}");
    let a = roles_of("销售: 我老婆也开这款，我哥是修车的都说好。\n客户: 哦。\n");
    assert!(a.is_empty(), "{a:?}");
}

#[test]
fn a_model_keeps_the_trim_said_and_a_make_gives_way_to_its_model() {
    let a = analyze(
        "Salesperson: Welcome to Capitol Toyota!\nCustomer: I want the Tacoma TRD Off-Road.\nCustomer: The Tacoma, yeah.\n",
    );
    assert_eq!(value_of(&a, "pref.model"), ["Tacoma TRD Off-Road"]);
    let a = analyze("销售: 欢迎光临比亚迪。\n客户: 我想看看宋PLUS DM-i 冠军版。\n");
    assert_eq!(value_of(&a, "pref.model"), ["宋PLUS DM-i 冠军版"]);
    // The make weighed on its own is the model of it the customer goes on to name.
    let a = analyze(
        "Salesperson: Welcome to Lakeside Toyota.\nCustomer: I'm also looking at Hyundai.\nCustomer: The Ioniq 6 has more range.\n",
    );
    assert_eq!(value_of(&a, "obj.competitor"), ["Ioniq 6"]);
    // A model the customer wants is not also their competitor.
    let a = analyze(
        "Salesperson: Welcome to Lakeside Toyota.\nCustomer: The RAV4 Hybrid is the one, I compared it to the CR-V.\nCustomer: RAV4 Hybrid versus the CR-V, the RAV4 wins.\n",
    );
    assert!(value_of(&a, "obj.competitor")
        .iter()
        .all(|v| !v.contains("RAV4")));
}
