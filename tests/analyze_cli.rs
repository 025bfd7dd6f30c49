//! `dealerscope analyze` end to end: the built binary on transcripts written for these tests.

mod common;

use common::*;

const EN_VISIT: &str = "\
[00:00] Salesperson: Welcome to Toyota of Springfield! What brings you in?
[00:05] Customer: We're looking at the RAV4 Hybrid. We need an SUV, the kids are growing and safety is the big thing for us.
[00:14] Wife: And we don't want a minivan.
[00:18] Salesperson: What budget did you have in mind?
[00:21] Customer: Somewhere between 30 and 35 grand, out the door.
[00:27] Salesperson: The XLE is 36,900 MSRP. Want to take one out for a spin?
[00:32] Customer: Yeah, let's do it.
[14:40] Customer: It drove really smooth. Honda quoted me less on the CR-V Hybrid over at Capitol Honda though.
[14:52] Customer: Can you do better on the price? And what's the APR on a loan?
[15:05] Wife: I need to talk it over with my mother before we sign anything.
[15:10] Customer: We'll think about it and come back this weekend.
";

const ZH_VISIT: &str = "\
销售: 您好，欢迎光临比亚迪！
客户: 我们想看看宋PLUS DM-i，要SUV，不考虑纯电。
销售: 好的，预算大概多少？
客户: 二十万左右吧，月供三千以内最好。
客户妻子: 主要是我开，上下班用，单程三十公里。
销售: 要不要试驾一下？
客户: 行，试一下。
客户: 开起来挺舒服的。落地多少钱？能不能再便宜点？
销售: 落地二十一万五。
客户: 有点贵，我们也在看理想L6。回去跟老婆商量一下。
";

#[test]
fn english_visit_gives_budget_labels_entities_and_evidence() {
    let (_dir, path) = write_temp("visit.txt", EN_VISIT.as_bytes());
    let a = analyze_json(&path);
    assert_eq!(a["language"], "en");
    let b = &a["budget"];
    assert_eq!(
        (
            b["kind"].as_str(),
            b["min"].as_f64(),
            b["max"].as_f64(),
            b["currency"].as_str()
        ),
        (Some("total"), Some(30000.0), Some(35000.0), Some("USD"))
    );
    let prefs = ids(&a, "preferences");
    assert_has(
        &prefs,
        &[
            "pref.body.suv",
            "pref.powertrain.hybrid",
            "pref.priority.safety",
            "pref.model",
        ],
    );
    assert!(
        !prefs.contains(&"pref.body.mpv".to_string()),
        "negated minivan must not be a preference"
    );
    assert_eq!(values(&a, "preferences", "pref.model"), vec!["RAV4 Hybrid"]);
    let objections = ids(&a, "objections");
    assert!(
        objections.contains(&"obj.approval".to_string())
            && objections.contains(&"obj.competitor".to_string()),
        "{objections:?}"
    );
    assert_eq!(values(&a, "objections", "obj.approval"), vec!["my mother"]);
    assert!(values(&a, "objections", "obj.competitor").contains(&"CR-V Hybrid".to_string()));
    let intents = ids(&a, "intents");
    assert_has(
        &intents,
        &[
            "intent.test_drive",
            "intent.negotiation",
            "intent.financing",
            "intent.defer",
        ],
    );
    // Every evidence id points at a segment; salesperson figures never become the budget.
    let n = a["segments"].as_array().unwrap().len() as u64;
    for key in ["preferences", "objections", "intents", "tags"] {
        for s in a[key].as_array().unwrap() {
            assert!(s["evidence"]
                .as_array()
                .unwrap()
                .iter()
                .all(|e| e.as_u64().unwrap() < n));
        }
    }
    assert_eq!(a["segments"][2]["speaker"], "companion");
    assert!(a["metrics"]["customer_talk_share"].as_f64().unwrap() > 0.3);
    assert!(["hot", "warm", "cold"].contains(&a["priority"]["tier"].as_str().unwrap()));
    assert!(!a["priority"]["next_action"].as_str().unwrap().is_empty());
    assert!(a["priority"]["due"]
        .as_str()
        .unwrap()
        .starts_with("2026-11-2"));
    let tags = ids(&a, "tags");
    assert!(
        tags.contains(&"fact.budget_band.30k_40k".to_string())
            && tags.contains(&"beh.brought_companion".to_string()),
        "{tags:?}"
    );
}

#[test]
fn mandarin_visit_gives_budget_labels_and_roles() {
    let (_dir, path) = write_temp("visit.txt", ZH_VISIT.as_bytes());
    let a = analyze_json(&path);
    assert_eq!(a["language"], "zh");
    let b = &a["budget"];
    assert_eq!(
        (
            b["kind"].as_str(),
            b["min"].as_f64(),
            b["currency"].as_str()
        ),
        (Some("total"), Some(200000.0), Some("CNY"))
    );
    let prefs = ids(&a, "preferences");
    assert!(
        prefs.contains(&"pref.body.suv".to_string())
            && !prefs.contains(&"pref.powertrain.ev".to_string()),
        "{prefs:?}"
    );
    assert_eq!(values(&a, "preferences", "pref.model"), vec!["宋PLUS DM-i"]);
    let objections = ids(&a, "objections");
    assert!(
        objections.contains(&"obj.price".to_string())
            && objections.contains(&"obj.approval".to_string()),
        "{objections:?}"
    );
    assert!(values(&a, "objections", "obj.competitor").contains(&"理想L6".to_string()));
    let intents = ids(&a, "intents");
    assert_has(
        &intents,
        &[
            "intent.test_drive",
            "intent.quote",
            "intent.negotiation",
            "intent.financing",
            "intent.defer",
        ],
    );
    let roles: Vec<&str> = a["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert!(roles.contains(&"role.primary_driver"), "{roles:?}");
    assert!(a["facts"]["usage.commute"].is_string());
}

#[test]
fn json_transcripts_are_read_with_their_times() {
    let doc = r#"{"segments": [
        {"start": 0.0, "end": 4.0, "speaker": "Salesperson", "text": "Hi, what are you looking for?"},
        {"start": 4.5, "end": 9.0, "speaker": "customer", "text": "Just looking today, maybe a hatchback."}]}"#;
    let (_dir, path) = write_temp("t.json", doc.as_bytes());
    let a = analyze_json(&path);
    assert_eq!(a["duration_s"], 9.0);
    assert_eq!(a["segments"][1]["start"], 4.5);
    assert!(ids(&a, "intents").contains(&"intent.browsing".to_string()));
    assert_eq!(a["priority"]["tier"], "cold");
    assert_eq!(a["forecast"]["stage"], "browsing");
    assert!(a["budget"].is_null());
}

#[test]
fn plain_output_is_a_readable_summary() {
    let (_dir, path) = write_temp("visit.txt", EN_VISIT.as_bytes());
    let run = dealerscope(&["analyze", path.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("Budget: 30000–35000 USD"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("Next action:") && run.stdout.contains("“"),
        "{}",
        run.stdout
    );
}

/// Bad input: non-zero exit, one line on stderr, nothing on stdout.
fn assert_rejected(name: &str, content: &[u8], reason: &str) {
    let (_dir, path) = write_temp(name, content);
    let run = dealerscope(&["analyze", path.to_str().unwrap(), "--json"]);
    assert_ne!(run.code, 0, "{name} was accepted");
    assert!(
        run.stdout.is_empty(),
        "{name}: stdout must be empty, got {}",
        run.stdout
    );
    assert_eq!(
        run.stderr.trim().lines().count(),
        1,
        "{name}: one line expected: {}",
        run.stderr
    );
    assert!(
        run.stderr.contains(reason),
        "{name}: `{}` does not say `{reason}`",
        run.stderr
    );
}

#[test]
fn bad_input_is_a_clear_one_line_error() {
    assert_rejected("empty.txt", b"", "is empty");
    assert_rejected("blank.txt", b"  \n\n ", "is empty");
    assert_rejected("binary.txt", &[0u8, 159, 146, 150, 0, 1, 2, 3], "binary");
    assert_rejected("latin1.txt", b"Customer: caf\xe9 and cr\xe8me", "not UTF-8");
    assert_rejected(
        "sales-only.txt",
        b"Salesperson: Hello?\nSalesperson: Anyone there?\n",
        "no customer turn",
    );
    assert_rejected(
        "broken.json",
        b"{\"segments\": [{\"start\": 0",
        "not a valid transcript JSON",
    );
    assert_rejected("notes.docx", b"Customer: hi", "unsupported file type");
    assert_rejected("visit.m4a", b"\x00\x00\x00\x18ftypM4A ", "audio");
    let run = dealerscope(&["analyze", "/nonexistent/visit.txt", "--json"]);
    assert_ne!(run.code, 0);
    assert!(
        run.stdout.is_empty() && run.stderr.contains("cannot read"),
        "{}",
        run.stderr
    );
}

#[test]
fn utf16_and_bom_transcripts_are_accepted() {
    let mut utf16 = vec![0xFF, 0xFE];
    utf16.extend(
        "客户: 我想看看SUV\n"
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes()),
    );
    let (_d, path) = write_temp("u16.txt", &utf16);
    assert!(ids(&analyze_json(&path), "preferences").contains(&"pref.body.suv".to_string()));
    let (_d2, path2) = write_temp("bom.txt", b"\xEF\xBB\xBFCustomer: we want a pickup\n");
    assert!(ids(&analyze_json(&path2), "preferences").contains(&"pref.body.pickup".to_string()));
}

#[test]
fn language_can_be_forced() {
    let (_dir, path) = write_temp("short.txt", b"Customer: ok\n");
    let run = dealerscope(&["analyze", path.to_str().unwrap(), "--json", "--lang", "zh"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let a: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(a["language"], "zh");
}

/// The README's first command runs on these samples; keep them analysable and meaningful.
#[test]
fn readme_samples_analyse() {
    let en = analyze_json(&root().join("samples/visit-en.txt"));
    assert_eq!(en["budget"]["max"], 50000.0);
    assert!(values(&en, "objections", "obj.competitor").contains(&"Telluride".to_string()));
    let zh = analyze_json(&root().join("samples/visit-zh.txt"));
    assert_eq!(
        (zh["budget"]["min"].as_f64(), zh["budget"]["max"].as_f64()),
        (Some(150000.0), Some(180000.0))
    );
    assert_eq!(zh["forecast"]["stage"], "negotiating");
}
