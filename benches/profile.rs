//! Customer-record speed: merging a customer's visits into their profile (the service does this
//! on every new conversation and every profile read) and redacting a long transcript.
//!
//!     cargo bench --bench profile

use chrono::{Duration, TimeZone, Utc};
use criterion::{criterion_group, criterion_main, Criterion};
use dealerscope::pipeline::{AnalyzeOptions, Pipeline};
use dealerscope::privacy::redact;
use dealerscope::profile::customer::{build_profile, Visit};

mod common;
use common::fixture_texts;

fn bench(c: &mut Criterion) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/dealership.toml");
    let pipeline = Pipeline::load(&path).unwrap();
    let start = Utc.with_ymd_and_hms(2026, 9, 1, 10, 0, 0).unwrap();
    for lang in ["en", "zh"] {
        let texts = fixture_texts(lang);
        for n in [1, 5, 20] {
            let visits: Vec<Visit> = (0..n)
                .map(|i| {
                    let at = start + Duration::days(3 * i as i64);
                    let options = AnalyzeOptions {
                        date: Some(at.date_naive()),
                        ..Default::default()
                    };
                    Visit {
                        recording_id: format!("r{i}"),
                        recorded_at: at,
                        salesperson: Some("sam@example.com".into()),
                        analysis: pipeline
                            .analyze_text("v.txt", &texts[i % texts.len()], &options)
                            .unwrap(),
                    }
                })
                .collect();
            let now = start + Duration::days(90);
            c.bench_function(&format!("profile of {n} {lang} visits"), |b| {
                b.iter(|| build_profile("c1", &visits, now, pipeline.config()))
            });
        }
        let transcript = texts.concat();
        c.bench_function(
            &format!(
                "redact all {lang} fixtures ({} KB)",
                transcript.len() / 1024
            ),
            |b| b.iter(|| redact(&transcript).len()),
        );
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
