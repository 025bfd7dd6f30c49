use proptest::prelude::*;

use super::*;

/// (input, redacted) rows: personal numbers in both languages, written and spoken.
const REDACTED: &[(&str, &str)] = &[
    // US phones, written.
    ("Call me at (555) 123-4567.", "Call me at [phone]."),
    ("my cell is 555-123-4567", "my cell is [phone]"),
    ("555.123.4567 is the office", "[phone] is the office"),
    ("+1 555 123 4567", "[phone]"),
    ("1-800-555-1234 anytime", "[phone] anytime"),
    ("text 2125551234 ok", "text [phone] ok"),
    // US phones, spoken.
    ("It's five five five, one two three four.", "It's [phone]."),
    (
        "area code two one two, five five five, one two three four",
        "area code [phone]",
    ),
    ("double five seven, one two one two", "[phone]"),
    ("call 555 one two three four", "call [phone]"),
    (
        "Oh, it's nine oh nine, eight eight two, zero zero one three.",
        "Oh, it's [phone].",
    ),
    // US social security numbers.
    (
        "SSN 123-45-6789 for the credit app",
        "SSN [id] for the credit app",
    ),
    (
        "my social is one two three, four five, six seven eight nine",
        "my social is [id]",
    ),
    // Chinese mobiles, written.
    ("我的电话是13812345678。", "我的电话是[phone]。"),
    ("手机138 1234 5678", "手机[phone]"),
    ("139-1234-5678，谢谢", "[phone]，谢谢"),
    ("+86 138 1234 5678", "[phone]"),
    ("+8613812345678", "[phone]"),
    ("８６１３８１２３４５６７８", "[phone]"),
    // Chinese mobiles, spoken digit by digit.
    ("电话一三八一二三四五六七八", "电话[phone]"),
    ("幺三八，幺二三四，五六七八，加我微信", "[phone]，加我微信"),
    ("号码是幺三九 零零零零 幺幺幺幺", "号码是[phone]"),
    ("就打138一二三四五六七八吧", "就打[phone]吧"),
    // Chinese landlines with area code.
    ("座机010-12345678", "座机[phone]"),
    ("(0755) 8888 6666", "[phone]"),
    ("打0571-8765432找我", "打[phone]找我"),
    ("+86 10 12345678", "[phone]"),
    // Chinese resident ID numbers.
    ("身份证号11010519491231002X", "身份证号[id]"),
    ("身份证 110105 19491231 002x", "身份证 [id]"),
    ("ID 440301199001011234 ok", "ID [id] ok"),
    (
        "身份证号是幺幺零幺零五幺九四九幺二三幺零零二叉",
        "身份证号是[id]",
    ),
    ("一一零一零五一九四九一二三一零零二三", "[id]"),
];

/// Numbers that are not personal: prices, budgets, years, models, mileage, counts.
const KEPT: &[&str] = &[
    "Our budget is thirty-two thousand.",
    "We could do $32,000 out the door.",
    "about 35k, maybe 38,500 tops",
    "no more than 400 a month, 5 grand down",
    "between 30 and 35 grand",
    "It's a 2019 CX-5 with 45,000 miles.",
    "the 2024 Model 3 gets 272 miles of range",
    "0 to 60 in 5.8 seconds, 2.5 liter engine",
    "monthly 800-1200 is fine",
    "MSRP 1,250,000 yen in Japan",
    "VIN 1HGCM82633A004352",
    "We have two kids, one is five and one is seven.",
    "one or two, maybe three options",
    "twenty twenty-four model year",
    "Order number A13812345678",
    "预算15万左右",
    "三十万以内",
    "二十五万左右，首付五万",
    "月供三千以内",
    "20到25万",
    "我开的是2016年的思域，跑了八万公里",
    "二零一九年买的",
    "一二三四",
    "一五一十地说，乱七八糟",
    "三三两两来看车",
    "12345678901234567890",
    "订单号20241231",
    "优惠一万二，落地二十三万八",
];

#[test]
fn personal_numbers_are_redacted() {
    let failures: Vec<String> = REDACTED
        .iter()
        .filter(|(input, want)| redact(input) != *want)
        .map(|(input, want)| format!("{input:?}: got {:?}, want {want:?}", redact(input)))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn other_numbers_are_kept() {
    let failures: Vec<String> = KEPT
        .iter()
        .filter(|input| !matches!(redact(input), Cow::Borrowed(_)))
        .map(|input| format!("{input:?} became {:?}", redact(input)))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn analysis_texts_are_redacted() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/dealership.toml");
    let pipeline = crate::pipeline::Pipeline::load(&path).expect("the shipped pipeline");
    let text = "Salesperson: Can I get a number to send the quote to?\n\
                Customer: Sure, 555-867-5309. I drive a 2016 Civic and my budget is 30k.\n\
                Salesperson: Great.\n\
                Customer: Or my wife's cell, five five five, two two two, one nine nine nine.\n";
    let mut analysis = pipeline
        .analyze_text("t.txt", text, &Default::default())
        .expect("analysis");
    let before = analysis.clone();
    redact_analysis(&mut analysis);
    let texts: Vec<&str> = analysis.segments.iter().map(|s| s.text.as_str()).collect();
    assert_eq!(
        texts[1],
        "Sure, [phone]. I drive a 2016 Civic and my budget is 30k."
    );
    assert_eq!(texts[3], "Or my wife's cell, [phone].");
    // Everything else, including the budget and the facts without numbers, is untouched.
    assert_eq!(analysis.budget, before.budget);
    assert_eq!(analysis.facts, before.facts);
    assert_eq!(analysis.segments[0], before.segments[0]);
}

fn pieces() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("five".to_string()),
        Just("oh".to_string()),
        Just("double".to_string()),
        Just("x".to_string()),
        Just("一".to_string()),
        Just("幺".to_string()),
        Just("叉".to_string()),
        Just("万".to_string()),
        Just("[phone]".to_string()),
        Just("+86".to_string()),
        "[0-9]{1,12}",
        "[ ,，、()\\-.+]",
        "\\PC{0,3}",
    ]
}

proptest! {
    #[test]
    fn never_panics_and_is_idempotent(parts in prop::collection::vec(pieces(), 0..30), sep in "[ ,-]?") {
        let text = parts.join(&sep);
        let once = redact(&text).into_owned();
        let twice = redact(&once).into_owned();
        prop_assert_eq!(&twice, &once);
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let once = redact(&text).into_owned();
        prop_assert_eq!(redact(&once), once.as_str());
    }
}
