//! Arbitrary input never panics the parsers or the pipeline, and whatever the pipeline returns
//! keeps the contract (evidence ids exist, scores in range).

use dealerscope::conversation::Language;
use dealerscope::extract::{money, numbers_en, numbers_zh};
use dealerscope::pipeline::{AnalyzeOptions, Pipeline};
use dealerscope::transcript;
use proptest::prelude::*;
use std::sync::OnceLock;

fn pipeline() -> &'static Pipeline {
    static P: OnceLock<Pipeline> = OnceLock::new();
    P.get_or_init(|| {
        Pipeline::load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/dealership.toml"),
        )
        .unwrap()
    })
}

/// Text built from the pieces that trip parsers: numerals, units, punctuation, multibyte marks.
fn showroom_text() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "二",
        "十",
        "万",
        "千",
        "两",
        "几",
        "多",
        "零",
        "点",
        "五",
        "左右",
        "以内",
        "出头",
        "个",
        "块",
        "月供",
        "首付",
        "预算",
        "，",
        "。",
        "？",
        "…",
        " ",
        "$",
        "35",
        ",000",
        "k",
        "grand",
        "thirty",
        "-",
        "five",
        "hundred",
        "a month",
        "down",
        "under",
        "between",
        "and",
        "to",
        "not",
        "no more than",
        "high",
        "twenties",
        "budget",
        "SUV",
        "RAV4",
        "荣放",
        "不",
        "要",
        "’",
        "é",
        "🚗",
        "\t",
        "0",
        "9",
        ".",
        "w",
        "·",
        "宋PLUS",
        "Honda",
        "over at",
        "my wife",
        "老婆",
        "商量",
    ]);
    prop::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn number_parsers_never_panic(s in showroom_text(), any in "\\PC{0,40}") {
        for text in [&s, &any] {
            let _ = numbers_zh::parse(text);
            let words: Vec<&str> = text.split_whitespace().collect();
            let _ = numbers_en::parse_words(&words);
            for lang in [Language::En, Language::Zh] {
                for a in money::find(text, lang) {
                    prop_assert!(a.start <= a.end && a.end <= text.len());
                    prop_assert!(text.is_char_boundary(a.start) && text.is_char_boundary(a.end));
                    prop_assert!(a.value.lo <= a.value.hi, "{text}: {:?}", a.value);
                }
            }
        }
    }

    #[test]
    fn transcript_decoding_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(text) = transcript::decode_text(&bytes, "x") {
            let _ = transcript::parse_txt(&text);
            let _ = transcript::parse_json(&text, "x");
        }
    }

    #[test]
    fn pipeline_keeps_the_contract_on_any_transcript(
        turns in prop::collection::vec((prop::sample::select(vec!["Customer", "Salesperson", "客户", "销售", "Wife", "[01:02] Customer", "[bad] 客户"]), showroom_text()), 1..12)
    ) {
        let text: String = turns.iter().map(|(who, said)| format!("{who}: {said}\n")).collect();
        if let Ok(a) = pipeline().analyze_text("t.txt", &text, &AnalyzeOptions::default()) {
            let n = a.segments.len();
            for s in a.preferences.iter().chain(&a.objections).chain(&a.intents) {
                prop_assert!(s.evidence.iter().all(|&e| e < n) && (0.0..=1.0).contains(&s.confidence));
            }
            if let Some(b) = &a.budget {
                prop_assert!(b.evidence.iter().all(|&e| e < n));
                prop_assert!(b.min.is_some() || b.max.is_some());
            }
            prop_assert!(a.priority.score <= 100 && (0.0..=1.0).contains(&a.forecast.p30));
            prop_assert!(serde_json::to_string(&a).is_ok());
        }
    }
}
