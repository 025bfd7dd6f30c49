//! Customer records through the API: one profile per person across visits, redaction before
//! storage, scoping, merge and cascade delete. SQLite, and PostgreSQL when configured.

mod common;

use std::time::Duration;

use common::service::*;

on_both_databases!(
    visits_by_phone_build_one_redacted_profile,
    customers_are_scoped_merged_and_deleted,
    customer_names_in_any_script_arrive_percent_encoded,
);

const TEXT: (&str, &str) = ("Content-Type", "text/plain");

const FIRST_VISIT: &str = "[00:00] Salesperson: Welcome in. What are you looking for?
[00:04] Customer: A Highlander Hybrid. We'd like to stay under 50k out the door.
[00:10] Salesperson: Can I get a number to reach you?
[00:12] Customer: Sure, it's 415-555-0142.
";

const SECOND_VISIT: &str = "[00:00] Salesperson: Good to see you again.
[00:03] Customer: We drove the Highlander, it is too expensive for us. Can you do better on the price?
[00:09] Salesperson: Let me talk to my manager.
";

/// Pushes a transcript and waits until it is analysed; returns the recording.
fn visit(
    server: &Server,
    token: &str,
    reader: &str,
    text: &str,
    at: &str,
    phone: &str,
) -> serde_json::Value {
    let r = push(
        server,
        Some(token),
        &[TEXT, ("X-Recorded-At", at), ("X-Customer-Phone", phone)],
        text.as_bytes(),
    );
    assert_eq!(r.status, 202, "{:?}", r.json);
    let done = wait_finished(
        server,
        reader,
        r.json["id"].as_str().unwrap(),
        Duration::from_secs(120),
    );
    assert_eq!(done["status"], "done", "{done}");
    done
}

fn visits_by_phone_build_one_redacted_profile(db: Db) {
    let data = Data::new(db);
    let t = data.tenant("North Motors");
    let server = Server::start(&data, &[]);
    let manager = login(&server, &t.manager_email);
    // The same person, the phone written two ways.
    let first = visit(
        &server,
        &t.device_token,
        &manager,
        FIRST_VISIT,
        "2026-11-02T10:00:00Z",
        "+1 (415) 555-0142",
    );
    let second = visit(
        &server,
        &t.device_token,
        &manager,
        SECOND_VISIT,
        "2026-11-09T10:00:00Z",
        "+14155550142",
    );
    let customer = first["customer_id"].as_str().unwrap();
    assert_eq!(second["customer_id"].as_str(), Some(customer));

    // The phone number said in the conversation is not stored.
    let stored = data
        .query_one(&format!(
            "SELECT analysis FROM recordings WHERE id = '{}'",
            first["id"].as_str().unwrap()
        ))
        .unwrap();
    assert!(
        !stored.contains("555-0142") && !stored.contains("5550142"),
        "{stored}"
    );
    assert!(!first["analysis"].to_string().contains("555-0142"));

    let p = get(
        &server.url(&format!("/api/v1/customers/{customer}")),
        Some(&manager),
    );
    assert_eq!(p.status, 200, "{:?}", p.json);
    let p = p.json;
    assert_eq!(p["id"], customer);
    for field in [
        "budget",
        "preferences",
        "objections",
        "intents",
        "tags",
        "forecast",
    ] {
        assert!(p.get(field).is_some(), "no {field} in {p}");
    }
    for field in ["score", "tier", "next_action", "due"] {
        assert!(
            p["priority"].get(field).is_some(),
            "no priority.{field} in {p}"
        );
    }
    assert_eq!(p["visits"].as_array().map(Vec::len), Some(2));
    assert!(
        p["budget"]["latest"]["max"].as_f64().is_some(),
        "{}",
        p["budget"]
    );
    assert!(
        p["objections"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["id"].as_str().is_some_and(|id| id.contains("price"))),
        "{}",
        p["objections"]
    );
    for tag in p["tags"].as_array().unwrap() {
        assert!(tag["id"].is_string() && tag["category"].is_string() && tag["evidence"].is_array());
    }
    // The read is audited; lists and the queue come from the cached row.
    assert_ne!(
        data.query_one(&format!(
            "SELECT COUNT(*) FROM audit_log WHERE subject_id = '{customer}'"
        ))
        .unwrap(),
        "0"
    );
    let queue = get(&server.url("/api/v1/follow-ups"), Some(&manager));
    assert_eq!(
        queue.json["follow_ups"][0]["id"], customer,
        "{:?}",
        queue.json
    );
    let tier = p["priority"]["tier"].as_str().unwrap();
    let by_tier = get(
        &server.url(&format!("/api/v1/customers?tier={tier}")),
        Some(&manager),
    );
    assert_eq!(by_tier.json["customers"].as_array().map(Vec::len), Some(1));
    if let Some(tag) = p["tags"][0]["id"].as_str() {
        let by_tag = get(
            &server.url(&format!("/api/v1/customers?tag={tag}")),
            Some(&manager),
        );
        assert_eq!(by_tag.json["customers"][0]["id"], customer);
    }
    let other_tier = if tier == "cold" { "hot" } else { "cold" };
    let none = get(
        &server.url(&format!("/api/v1/customers?tier={other_tier}")),
        Some(&manager),
    );
    assert_eq!(none.json["customers"].as_array().map(Vec::len), Some(0));
    let forecast = get(&server.url("/api/v1/forecast"), Some(&manager));
    assert_eq!(forecast.status, 200);
    assert!(forecast.json["by_stage"].is_array(), "{:?}", forecast.json);
    // A won outcome closes the opportunity.
    let won = post_json(
        &server.url(&format!("/api/v1/customers/{customer}/outcome")),
        Some(&manager),
        &serde_json::json!({ "result": "won" }),
    );
    assert_eq!(won.status, 200, "{:?}", won.json);
    assert_eq!(won.json["stage"], "won");
}

fn customers_are_scoped_merged_and_deleted(db: Db) {
    let data = Data::new(db);
    let t = data.tenant("North Motors");
    let south = data.tenant("South Motors");
    let server = Server::start(&data, &[]);
    let manager = login(&server, &t.manager_email);
    let a = visit(
        &server,
        &t.device_token,
        &manager,
        FIRST_VISIT,
        "2026-11-02T10:00:00Z",
        "415 555 0142",
    );
    let b = visit(
        &server,
        &t.device_token,
        &manager,
        SECOND_VISIT,
        "2026-11-09T10:00:00Z",
        "650 555 0199",
    );
    let (ca, cb) = (
        a["customer_id"].as_str().unwrap(),
        b["customer_id"].as_str().unwrap(),
    );
    assert_ne!(ca, cb);
    let url = |c: &str| server.url(&format!("/api/v1/customers/{c}"));

    // The device's salesperson sees them, the other salesperson and other dealerships do not.
    let sales_a = login(&server, &t.sales_a_email);
    let sales_b = login(&server, &t.sales_b_email);
    let south_manager = login(&server, &south.manager_email);
    assert_eq!(get(&url(ca), Some(&sales_a)).status, 200);
    assert_eq!(get(&url(ca), Some(&sales_b)).status, 404);
    assert_eq!(get(&url(ca), Some(&south_manager)).status, 404);
    // Devices push recordings; they read no profiles.
    assert_eq!(get(&url(ca), Some(&t.device_token)).status, 404);
    assert_eq!(
        get(&server.url("/api/v1/customers"), Some(&t.device_token)).json["customers"],
        serde_json::json!([])
    );
    assert_eq!(
        get(&server.url("/api/v1/customers"), Some(&sales_b)).json["customers"],
        serde_json::json!([])
    );
    assert_eq!(
        get(&server.url("/api/v1/customers"), Some(&sales_a)).json["customers"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );

    // Only a manager merges; the merged profile keeps both visits; the old id forwards.
    let merge = |token: &str| {
        post_json(
            &server.url(&format!("/api/v1/customers/{cb}/merge")),
            Some(token),
            &serde_json::json!({ "into": ca }),
        )
    };
    assert_eq!(merge(&sales_a).status, 403);
    assert_eq!(merge(&south_manager).status, 404);
    // A manager's verdict on the merged record's tag goes with it.
    let tag_of_b = get(&url(cb), Some(&manager)).json["tags"][0]["id"]
        .as_str()
        .expect("the second visit gives a tag")
        .to_string();
    let verdict = put_json(
        &server.url(&format!(
            "/api/v1/customers/{cb}/tags/{tag_of_b}/correction"
        )),
        Some(&manager),
        &serde_json::json!({ "verdict": "rejected" }),
    );
    assert_eq!(verdict.status, 200, "{:?}", verdict.json);
    let merged = merge(&manager);
    assert_eq!(merged.status, 200, "{:?}", merged.json);
    let carried = merged.json["tags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == tag_of_b.as_str())
        .unwrap_or_else(|| panic!("{tag_of_b} in {}", merged.json));
    assert_eq!(carried["correction"]["verdict"], "rejected", "{carried}");
    assert_eq!(merged.json["visits"].as_array().map(Vec::len), Some(2));
    let forwarded = get(&url(cb), Some(&manager));
    assert_eq!(forwarded.json["id"], ca);
    let rec_b = get(
        &server.url(&format!("/api/v1/recordings/{}", b["id"].as_str().unwrap())),
        Some(&manager),
    );
    assert_eq!(rec_b.json["customer_id"], ca);
    // A new visit with the merged record's phone lands on the surviving customer.
    let c = visit(
        &server,
        &t.device_token,
        &manager,
        SECOND_VISIT,
        "2026-11-12T10:00:00Z",
        "415-555-0142",
    );
    assert_eq!(c["customer_id"], ca);

    // Deleting removes the customer, every recording, its analysis and its audio.
    assert_eq!(data.audio_files().len(), 3);
    let del = |token: &str| delete(&url(ca), Some(token)).status;
    assert_eq!(del(&sales_a), 403);
    assert_eq!(del(&manager), 204);
    assert_eq!(get(&url(ca), Some(&manager)).status, 404);
    assert_eq!(get(&url(cb), Some(&manager)).status, 404);
    assert_eq!(
        data.query_one("SELECT COUNT(*) FROM recordings").unwrap(),
        "0"
    );
    assert_eq!(data.query_one("SELECT COUNT(*) FROM jobs").unwrap(), "0");
    assert_eq!(
        data.query_one("SELECT COUNT(*) FROM customers").unwrap(),
        "0"
    );
    assert_eq!(data.audio_files(), Vec::<std::path::PathBuf>::new());
}

fn customer_names_in_any_script_arrive_percent_encoded(db: Db) {
    let data = Data::new(db);
    let t = data.tenant("North Motors");
    let server = Server::start(&data, &["--workers", "0"]);
    // 王磊, percent-encoded UTF-8 (what any HTTP client can put in a header).
    let r = push(
        &server,
        Some(&t.device_token),
        &[
            TEXT,
            ("X-Customer-Phone", "+86 138 0013 8000"),
            ("X-Customer-Name", "%E7%8E%8B%E7%A3%8A"),
        ],
        SECOND_VISIT.as_bytes(),
    );
    assert_eq!(r.status, 202, "{:?}", r.json);
    let manager = login(&server, &t.manager_email);
    let listed = get(&server.url("/api/v1/customers"), Some(&manager));
    let names: Vec<&str> = listed.json["customers"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(names, ["王磊"]);
    // Bytes that are not UTF-8 once decoded are refused, and nothing is stored.
    let bad = push(
        &server,
        Some(&t.device_token),
        &[TEXT, ("X-Customer-Name", "%FF%FE")],
        SECOND_VISIT.as_bytes(),
    );
    assert_eq!(bad.status, 400, "{:?}", bad.json);
    assert!(bad.json["error"]
        .as_str()
        .unwrap()
        .contains("X-Customer-Name"));
    assert_eq!(
        data.query_one("SELECT COUNT(*) FROM recordings").unwrap(),
        "1"
    );
}
