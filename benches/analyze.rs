//! Text analysis speed: a 60-minute showroom conversation (~900 turns) through the whole
//! pipeline, with the pipeline loaded once as the service does.
//!
//!     cargo bench --bench analyze

use criterion::{criterion_group, criterion_main, Criterion};
use dealerscope::pipeline::{AnalyzeOptions, Pipeline};

mod common;
use common::fixture_texts;

/// About 900 turns over 60 minutes, stitched from the project's own fixture conversations.
fn long_transcript(lang: &str) -> String {
    let lines: Vec<String> = fixture_texts(lang)
        .iter()
        .flat_map(|text| {
            text.lines()
                .map(|l| {
                    // Drop the source's own stamp; the stitched visit gets one clock.
                    let l = l.trim();
                    match l.strip_prefix('[').and_then(|r| r.split_once("] ")) {
                        Some((_, rest)) => rest.to_string(),
                        None => l.to_string(),
                    }
                })
                .collect::<Vec<_>>()
        })
        .collect();
    (0..900)
        .map(|i| {
            let t = i * 4; // 900 turns × 4 s = 60 minutes
            format!(
                "[{:02}:{:02}:{:02}] {}\n",
                t / 3600,
                t / 60 % 60,
                t % 60,
                lines[i % lines.len()]
            )
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/dealership.toml");
    c.bench_function("load pipeline", |b| {
        b.iter(|| Pipeline::load(&path).unwrap())
    });
    let pipeline = Pipeline::load(&path).unwrap();
    for lang in ["en", "zh"] {
        let text = long_transcript(lang);
        assert!(text.lines().count() == 900);
        c.bench_function(
            &format!("analyze 60-minute {lang} transcript (900 turns)"),
            |b| {
                b.iter(|| {
                    pipeline
                        .analyze_text("visit.txt", &text, &AnalyzeOptions::default())
                        .unwrap()
                })
            },
        );
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
