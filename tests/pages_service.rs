//! What the staff pages add to the service, without a browser: managers' tag verdicts (kept
//! across later visits, shown in the API profile, honoured by tag lists), the follow-up queue's
//! one-click actions, the dashboard and its CSV export, and listening to a recording with HTTP
//! Range requests, each only for who may see it. SQLite, and PostgreSQL when configured.

mod common;

use std::time::Duration;

use common::service::*;

on_both_databases!(
    tag_verdicts_are_kept_across_visits,
    follow_up_actions_and_dashboard,
);

const TEXT: (&str, &str) = ("Content-Type", "text/plain");
const PHONE: &str = "+1 415 555 0142";

const FIRST_VISIT: &str = "[00:00] Salesperson: Welcome in. What are you looking for?
[00:04] Customer: A Highlander Hybrid for the family. We'd like to stay under 50k out the door.
[00:10] Customer: Honestly the Honda dealer offered us a better price on a Pilot.
[00:16] Salesperson: Let me see what I can do. Would you like a test drive?
[00:19] Customer: Yes, can we drive it on Saturday?
";

const SECOND_VISIT: &str = "[00:00] Salesperson: Good to see you again.
[00:03] Customer: We talked it over. If you can do 48k we'll sign today.
[00:09] Salesperson: Let me talk to my manager.
";

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// Pushes a transcript for the customer with `PHONE` through the device (salesperson A's) and
/// waits until it is analysed; returns the customer's id.
fn visit(server: &Server, t: &Tenant, reader: &str, text: &str, at: &str) -> String {
    let r = push(
        server,
        Some(&t.device_token),
        &[TEXT, ("X-Recorded-At", at), ("X-Customer-Phone", PHONE)],
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
    done["customer_id"].as_str().unwrap().to_string()
}

fn put_verdict(server: &Server, token: &str, customer: &str, tag: &str, verdict: &str) -> Reply {
    put_json(
        &server.url(&format!(
            "/api/v1/customers/{customer}/tags/{tag}/correction"
        )),
        Some(token),
        &serde_json::json!({ "verdict": verdict }),
    )
}

fn tag<'a>(profile: &'a serde_json::Value, id: &str) -> Option<&'a serde_json::Value> {
    profile["tags"].as_array()?.iter().find(|t| t["id"] == id)
}

fn listed_with_tag(server: &Server, token: &str, tag: &str, customer: &str) -> bool {
    let r = get(
        &server.url(&format!("/api/v1/customers?tag={tag}")),
        Some(token),
    );
    assert_eq!(r.status, 200);
    r.json["customers"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["id"] == customer)
}

fn tag_verdicts_are_kept_across_visits(db: Db) {
    let data = Data::new(db);
    let t = data.tenant("North Motors");
    let server = Server::start(&data, &[]);
    let manager = login(&server, &t.manager_email);
    let seller = login(&server, &t.sales_a_email);
    let customer = visit(&server, &t, &manager, FIRST_VISIT, "2026-11-01T10:00:00Z");
    let profile = get(
        &server.url(&format!("/api/v1/customers/{customer}")),
        Some(&manager),
    )
    .json;
    let tags: Vec<String> = profile["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_string())
        .collect();
    assert!(tags.len() >= 2, "two tags to correct: {profile}");
    let (rejected, accepted) = (&tags[0], &tags[1]);
    assert!(listed_with_tag(&server, &manager, rejected, &customer));

    // Only a manager corrects; only tags the customer has; a verdict is one of two words.
    assert_eq!(
        put_verdict(&server, &seller, &customer, rejected, "rejected").status,
        403
    );
    assert_eq!(
        put_verdict(&server, &manager, &customer, "psy.no_such", "rejected").status,
        404
    );
    assert_eq!(
        put_verdict(&server, &manager, &customer, rejected, "maybe").status,
        422
    );
    assert_eq!(
        put_verdict(&server, &manager, "cus_none", rejected, "rejected").status,
        404
    );

    let r = put_verdict(&server, &manager, &customer, rejected, "rejected");
    assert_eq!(r.status, 200, "{:?}", r.json);
    assert_eq!(r.json["correction"]["verdict"], "rejected");
    assert_eq!(r.json["correction"]["by"], t.manager_email.as_str());
    let r = put_verdict(&server, &manager, &customer, accepted, "accepted");
    assert_eq!(r.status, 200, "{:?}", r.json);

    // A rejected tag no longer groups the customer; the salesperson sees the verdicts too.
    assert!(!listed_with_tag(&server, &manager, rejected, &customer));
    assert!(listed_with_tag(&server, &manager, accepted, &customer));
    let seen = get(
        &server.url(&format!("/api/v1/customers/{customer}")),
        Some(&seller),
    )
    .json;
    assert_eq!(
        tag(&seen, rejected).unwrap()["correction"]["verdict"],
        "rejected"
    );

    // A later visit re-derives every tag; the verdicts stay.
    visit(&server, &t, &manager, SECOND_VISIT, "2026-11-05T10:00:00Z");
    let after = get(
        &server.url(&format!("/api/v1/customers/{customer}")),
        Some(&manager),
    )
    .json;
    assert_eq!(after["visits"].as_array().unwrap().len(), 2);
    assert_eq!(
        tag(&after, accepted).unwrap()["correction"]["verdict"],
        "accepted",
        "{after}"
    );
    if let Some(still) = tag(&after, rejected) {
        assert_eq!(still["correction"]["verdict"], "rejected", "{after}");
    }
    assert!(!listed_with_tag(&server, &manager, rejected, &customer));
    assert!(listed_with_tag(&server, &manager, accepted, &customer));
    // Changing one's mind replaces the verdict.
    let r = put_verdict(&server, &manager, &customer, rejected, "accepted");
    if tag(&after, rejected).is_some() {
        assert_eq!(r.status, 200, "{:?}", r.json);
        assert!(listed_with_tag(&server, &manager, rejected, &customer));
    }
    assert_eq!(
        data.query_one(&format!(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'correct-tag' AND subject_id = '{customer}'"
        ))
        .as_deref(),
        Some(if r.status == 200 { "3" } else { "2" })
    );
}

/// A page request with the session cookie: (status, body, Set-Cookie values).
fn page(server: &Server, token: &str, path: &str) -> (u16, String, Vec<String>) {
    let mut r = agent()
        .get(&server.url(path))
        .header("Cookie", &format!("ds_session={token}"))
        .call()
        .expect("request sent");
    let cookies = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_string))
        .collect();
    let body = r.body_mut().read_to_string().unwrap_or_default();
    (r.status().as_u16(), body, cookies)
}

/// Posts a page form with the session and the page's CSRF token (or a wrong one).
fn form(server: &Server, token: &str, csrf: &str, path: &str, fields: &str) -> u16 {
    agent()
        .post(&server.url(path))
        .header("Cookie", &format!("ds_session={token}; ds_csrf={csrf}"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .send(fields.as_bytes())
        .expect("request sent")
        .status()
        .as_u16()
}

fn csrf_of(cookies: &[String]) -> String {
    cookies
        .iter()
        .find_map(|c| c.strip_prefix("ds_csrf="))
        .and_then(|c| c.split(';').next())
        .expect("a CSRF cookie")
        .to_string()
}

fn follow_up_actions_and_dashboard(db: Db) {
    let data = Data::new(db);
    let t = data.tenant("North Motors");
    let server = Server::start(&data, &[]);
    let manager = login(&server, &t.manager_email);
    let seller = login(&server, &t.sales_a_email);
    let other = login(&server, &t.sales_b_email);
    let days_ago = |n: i64| (chrono::Utc::now() - chrono::Duration::days(n)).to_rfc3339();
    let customer = visit(&server, &t, &manager, FIRST_VISIT, &days_ago(6));

    // The queue: the salesperson's customer, with its next action; not another's. A due date
    // before today is marked overdue.
    let (status, body, cookies) = page(&server, &seller, "/follow-ups");
    assert_eq!(status, 200);
    assert!(body.contains(&format!("data-id=\"{customer}\"")), "{body}");
    let due = body
        .split("<time datetime=\"")
        .nth(1)
        .and_then(|s| s.get(..10))
        .expect("a due date")
        .to_string();
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert_eq!(
        body.contains("class=\"overdue\""),
        due < today,
        "due {due}: {body}"
    );
    let csrf = csrf_of(&cookies);
    let (_, body, _) = page(&server, &other, "/follow-ups");
    assert!(!body.contains(&customer));
    let queue = get(&server.url("/api/v1/follow-ups"), Some(&seller)).json;
    assert_eq!(queue["follow_ups"][0]["id"], customer.as_str(), "{queue}");
    // The profile page: the transcript and the tag groups, only for who may see them.
    let (status, body, _) = page(&server, &seller, &format!("/customers/{customer}"));
    assert_eq!(status, 200);
    assert!(body.contains("Highlander Hybrid for the family"), "{body}");
    assert!(body.contains("id=\"tags-psychological\""));
    // In Chinese, tags carry the taxonomy's Chinese names.
    let profile = get(
        &server.url(&format!("/api/v1/customers/{customer}")),
        Some(&seller),
    )
    .json;
    let first_tag = profile["tags"][0]["id"]
        .as_str()
        .expect("a tag")
        .to_string();
    let config = dealerscope::config::PipelineConfig::load(&common::pipeline_path()).unwrap();
    let chinese = config
        .taxonomy
        .name(&first_tag, dealerscope::conversation::Language::Zh)
        .expect("a Chinese name");
    let zh_page = agent()
        .get(&server.url(&format!("/customers/{customer}")))
        .header("Cookie", &format!("ds_session={seller}; ds_lang=zh-CN"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    assert!(
        zh_page.contains(chinese),
        "{first_tag} as {chinese}: {zh_page}"
    );
    assert_eq!(
        page(&server, &other, &format!("/customers/{customer}")).0,
        404
    );

    // One click: done (needs the page's token), then the customer leaves the queue.
    let done = format!("/follow-ups/{customer}");
    assert_eq!(
        form(&server, &seller, &csrf, &done, "action=done&csrf=wrong"),
        403
    );
    assert_eq!(
        form(
            &server,
            &other,
            &csrf,
            &done,
            &format!("action=done&csrf={csrf}")
        ),
        404
    );
    assert_eq!(
        form(
            &server,
            &seller,
            &csrf,
            &done,
            &format!("action=done&csrf={csrf}")
        ),
        303
    );
    let (_, body, _) = page(&server, &seller, "/follow-ups");
    assert!(!body.contains(&format!("data-id=\"{customer}\"")), "{body}");
    let queue = get(&server.url("/api/v1/follow-ups"), Some(&seller)).json;
    assert!(!queue.to_string().contains(&customer), "{queue}");
    // A new visit names a new follow-up: back in the queue. Then the sale is won.
    visit(&server, &t, &manager, SECOND_VISIT, &days_ago(1));
    let (_, body, _) = page(&server, &seller, "/follow-ups");
    assert!(body.contains(&format!("data-id=\"{customer}\"")), "{body}");
    assert_eq!(
        form(
            &server,
            &seller,
            &csrf,
            &done,
            &format!("action=won&csrf={csrf}")
        ),
        303
    );
    let profile = get(
        &server.url(&format!("/api/v1/customers/{customer}")),
        Some(&seller),
    )
    .json;
    assert_eq!(profile["forecast"]["stage"], "won", "{profile}");
    let (_, body, _) = page(&server, &seller, "/follow-ups");
    assert!(!body.contains(&format!("data-id=\"{customer}\"")));

    // The dashboard is the manager's: charts, activity, the competitor named, the CSV.
    assert_eq!(page(&server, &seller, "/dashboard").0, 403);
    let (status, body, _) = page(&server, &manager, "/dashboard");
    assert_eq!(status, 200);
    for part in [
        "id=\"chart-stages\"",
        "id=\"chart-weeks\"",
        "id=\"chart-objections\"",
        "id=\"chart-competitors\"",
    ] {
        assert!(body.contains(part), "{part} missing");
    }
    assert!(body.contains(&t.sales_a_email));
    let (status, csv, _) = page(&server, &manager, "/dashboard/customers.csv");
    assert_eq!(status, 200);
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("id,name,phone,salesperson,priority_score,tier,stage,next_action,due,tags")
    );
    assert!(
        lines.any(|l| l.starts_with(&customer) && l.contains("won")),
        "{csv}"
    );
    assert_eq!(page(&server, &seller, "/dashboard/customers.csv").0, 403);
}

#[test]
fn recordings_are_heard_in_ranges_by_who_may_see_them() {
    let data = Data::new(Db::Sqlite);
    let t = data.tenant("North Motors");
    // No workers: listening does not wait for the analysis.
    let server = Server::start(&data, &["--workers", "0"]);
    let manager = login(&server, &t.manager_email);
    let seller = login(&server, &t.sales_a_email);
    let other = login(&server, &t.sales_b_email);
    let wav = std::fs::read(common::root().join("tests/fixtures/audio/hello.wav")).unwrap();
    let r = push(
        &server,
        Some(&t.device_token),
        &[("Content-Type", "audio/wav")],
        &wav,
    );
    assert_eq!(r.status, 202, "{:?}", r.json);
    let id = r.json["id"].as_str().unwrap().to_string();
    let audio = format!("/api/v1/recordings/{id}/audio");
    let fetch = |token: &str, range: Option<&str>| {
        let mut req = agent()
            .get(&server.url(&audio))
            .header("Authorization", &format!("Bearer {token}"));
        if let Some(r) = range {
            req = req.header("Range", r);
        }
        let mut r = req.call().expect("request sent");
        let header = |name: &str| {
            r.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        let (accept, content_range, content_type) = (
            header("accept-ranges"),
            header("content-range"),
            header("content-type"),
        );
        let status = r.status().as_u16();
        let body = r.body_mut().read_to_vec().unwrap_or_default();
        (status, body, accept, content_range, content_type)
    };
    let (status, body, accept, _, content_type) = fetch(&seller, None);
    assert_eq!(status, 200);
    assert_eq!(body, wav);
    assert_eq!(accept, "bytes");
    assert_eq!(content_type, "audio/wav");
    let (status, body, _, content_range, _) = fetch(&seller, Some("bytes=100-199"));
    assert_eq!(status, 206);
    assert_eq!(body, &wav[100..200]);
    assert_eq!(content_range, format!("bytes 100-199/{}", wav.len()));
    let (status, body, _, _, _) = fetch(&manager, Some("bytes=-10"));
    assert_eq!((status, body.as_slice()), (206, &wav[wav.len() - 10..]));
    let (status, _, _, content_range, _) =
        fetch(&seller, Some(&format!("bytes={}-", wav.len() + 5)));
    assert_eq!(status, 416);
    assert_eq!(content_range, format!("bytes */{}", wav.len()));
    // Another salesperson, and the recorder itself, hear nothing.
    assert_eq!(fetch(&other, None).0, 404);
    assert_eq!(fetch(&t.device_token, None).0, 404);
    // The page route takes the session cookie (an <audio> element sends no headers).
    let (status, _, _) = page(&server, &seller, &format!("/recordings/{id}/audio"));
    assert_eq!(status, 200);
    assert_eq!(
        page(&server, &other, &format!("/recordings/{id}/audio")).0,
        404
    );
    // A transcript has no audio to play.
    let text = push(
        &server,
        Some(&t.device_token),
        &[TEXT],
        FIRST_VISIT.as_bytes(),
    );
    let text_id = text.json["id"].as_str().unwrap();
    assert_eq!(fetch(&seller, None).0, 200);
    assert_eq!(
        get(
            &server.url(&format!("/api/v1/recordings/{text_id}/audio")),
            Some(&seller)
        )
        .status,
        404
    );
    // Every listen is audited.
    assert_eq!(
        data.query_one(&format!(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'listen' AND subject_id = '{id}'"
        ))
        .as_deref(),
        Some("6")
    );
}
