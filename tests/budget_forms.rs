//! Every budget form of the taxonomy, in both languages, as a customer would say it.

use dealerscope::analysis::BudgetKind;
use dealerscope::pipeline::{AnalyzeOptions, Pipeline};

fn pipeline() -> Pipeline {
    Pipeline::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/dealership.toml"),
    )
    .unwrap()
}

type Row = (
    &'static str,
    &'static str,
    Option<(BudgetKind, Option<f64>, Option<f64>, &'static str)>,
);

const ROWS: &[Row] = &[
    // (salesperson turn, customer turn, expected budget)
    (
        "What budget are you working with?",
        "$35,000.",
        Some((BudgetKind::Total, Some(35000.0), Some(35000.0), "USD")),
    ),
    (
        "Hi there.",
        "My budget is like 35k.",
        Some((BudgetKind::Total, Some(35000.0), Some(35000.0), "USD")),
    ),
    (
        "Hi there.",
        "We want to spend thirty-five thousand, tops.",
        Some((BudgetKind::Total, None, Some(35000.0), "USD")),
    ),
    (
        "Hi there.",
        "Between 30 and 35 grand is our range.",
        Some((BudgetKind::Total, Some(30000.0), Some(35000.0), "USD")),
    ),
    (
        "What were you hoping to spend?",
        "Somewhere in the high twenties.",
        Some((BudgetKind::Total, Some(27000.0), Some(30000.0), "USD")),
    ),
    (
        "Hi there.",
        "No more than 400 a month.",
        Some((BudgetKind::Monthly, None, Some(400.0), "USD")),
    ),
    (
        "Hi there.",
        "I can put about 5 grand down.",
        Some((BudgetKind::Down, Some(5000.0), Some(5000.0), "USD")),
    ),
    (
        "What's your budget?",
        "Under 30, all in.",
        Some((BudgetKind::Total, None, Some(30000.0), "USD")),
    ),
    (
        "Hi there.",
        "My budget is around 40,000 euros.",
        Some((BudgetKind::Total, Some(40000.0), Some(40000.0), "EUR")),
    ),
    (
        "The sticker is 38,500.",
        "OK, that's about my max then.",
        Some((BudgetKind::Total, None, Some(38500.0), "USD")),
    ),
    (
        "The sticker is 38,500.",
        "Wow. My neighbor paid 31k for his.",
        None,
    ),
    (
        "We can give you 9,000 for your trade.",
        "That's low, my trade is worth 12 grand.",
        None,
    ),
    ("Hi there.", "I drive a 2015 Civic with 90,000 miles.", None),
    (
        "Hi there.",
        "My budget is 30k total, so like 450 a month.",
        Some((BudgetKind::Total, Some(30000.0), Some(30000.0), "USD")),
    ),
    (
        "销售: 预算多少？",
        "25万。",
        Some((BudgetKind::Total, Some(250000.0), Some(250000.0), "CNY")),
    ),
    (
        "您好。",
        "预算二十五万左右。",
        Some((BudgetKind::Total, Some(250000.0), Some(250000.0), "CNY")),
    ),
    (
        "您好。",
        "预算两万五。",
        Some((BudgetKind::Total, Some(25000.0), Some(25000.0), "CNY")),
    ),
    (
        "您好。",
        "想买十几万的车。",
        Some((BudgetKind::Total, Some(100000.0), Some(200000.0), "CNY")),
    ),
    (
        "您好。",
        "预算20到25万。",
        Some((BudgetKind::Total, Some(200000.0), Some(250000.0), "CNY")),
    ),
    (
        "您好。",
        "月供三千以内。",
        Some((BudgetKind::Monthly, None, Some(3000.0), "CNY")),
    ),
    (
        "您好。",
        "首付五万。",
        Some((BudgetKind::Down, Some(50000.0), Some(50000.0), "CNY")),
    ),
    (
        "您好。",
        "预算不超过18个。",
        Some((BudgetKind::Total, None, Some(180000.0), "CNY")),
    ),
    (
        "您好。",
        "预算三十万出头。",
        Some((BudgetKind::Total, Some(300000.0), Some(330000.0), "CNY")),
    ),
    (
        "您好。",
        "一个月四千左右能接受。",
        Some((BudgetKind::Monthly, Some(4000.0), Some(4000.0), "CNY")),
    ),
    (
        "指导价十九万八。",
        "这个价格可以接受。",
        Some((BudgetKind::Total, Some(198000.0), Some(198000.0), "CNY")),
    ),
    (
        "您好。",
        "我们的预算四十万左右，月供一万以内。",
        Some((BudgetKind::Total, Some(400000.0), Some(400000.0), "CNY")),
    ),
    ("评估价两万。", "才两万？太低了。", None),
    ("您好。", "单程三十公里，一百二十公里续航够吗？", None),
];

#[test]
fn budget_forms() {
    let p = pipeline();
    let mut failures = Vec::new();
    for (sales, customer, want) in ROWS {
        let zh = customer
            .chars()
            .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
        let text = if zh {
            format!("销售: {sales}\n客户: {customer}\n")
        } else {
            format!("Salesperson: {sales}\nCustomer: {customer}\n")
        };
        let got = p
            .analyze_text("t.txt", &text, &AnalyzeOptions::default())
            .unwrap()
            .budget;
        let got = got.map(|b| (b.kind, b.min, b.max, b.currency));
        let want = want.map(|(k, lo, hi, c)| (k, lo, hi, c.to_string()));
        if got != want {
            failures.push(format!("{customer}: got {got:?}, want {want:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows wrong:\n{}",
        failures.len(),
        ROWS.len(),
        failures.join("\n")
    );
}
