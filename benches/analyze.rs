//! Text analysis speed: a 60-minute showroom conversation (~900 turns) through the whole
//! pipeline, with the pipeline loaded once as the service does.
//!
//!     cargo bench --bench analyze

use criterion::{criterion_group, criterion_main, Criterion};
use dealerscope::pipeline::{AnalyzeOptions, Pipeline};

/// About 900 turns over 60 minutes, stitched from the project's own fixture conversations.
fn long_transcript(lang: &str) -> String {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/conversations")
        .join(lang);
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    paths.sort();
    let lines: Vec<String> = paths
        .iter()
        .flat_map(|p| {
            std::fs::read_to_string(p)
                .unwrap()
                .lines()
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
