//! `dealerscope admin seed`: fills a dealership with generated but realistic data (customers
//! with names and phones, salespeople, and recordings with real analyses) fast enough to make
//! 10,000 customers and 50,000 recordings in minutes, for measuring the pages at that size.
//!
//! Conversations are assembled from phrase banks written for this purpose (English and
//! Mandarin: greetings, needs, budgets, models, competitors, objections, intents), each one
//! analysed once by the real pipeline (rules only, so no model is needed); recordings reuse
//! those analyses. Profiles are then built for every customer exactly as the workers do.

use std::time::Instant;

use anyhow::Context as _;
use chrono::Utc;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom as _;
use rand::{Rng as _, SeedableRng as _};

use crate::analysis::Analysis;
use crate::pipeline::{AnalyzeOptions, Pipeline};
use crate::store::accounts::Role;
use crate::store::dashboard::RecordingMetrics;
use crate::store::{new_id, now_ms, Store};

#[derive(Debug, Clone)]
pub struct SeedOptions {
    pub dealership: String,
    pub customers: usize,
    pub recordings: usize,
    /// Salespeople to spread customers over (created if the dealership has fewer).
    pub salespeople: usize,
    /// Recordings are spread over this many past days.
    pub days: i64,
    /// Distinct generated conversations the recordings reuse.
    pub conversations: usize,
    pub random_seed: u64,
}

#[derive(Debug, Default)]
pub struct SeedReport {
    pub customers: usize,
    pub recordings: usize,
    pub salespeople: usize,
    pub seconds_generating: f64,
    pub seconds_inserting: f64,
    pub seconds_profiles: f64,
}

/// Password of the salespeople the seed creates (`seed-sales-N@<dealership id>.example`).
pub const SEED_PASSWORD: &str = "seed password";

const EN_MODELS: &[&str] = &[
    "Camry",
    "RAV4",
    "Highlander",
    "CR-V",
    "Accord",
    "Civic",
    "F-150",
    "Explorer",
    "Model Y",
    "Tiguan",
    "Tucson",
    "Outback",
];
const ZH_MODELS: &[&str] = &[
    "凯美瑞",
    "汉兰达",
    "雅阁",
    "思域",
    "途观L",
    "帕萨特",
    "卡罗拉",
    "CR-V",
    "宝来",
    "天籁",
];
const EN_COMPETITORS: &[&str] = &[
    "Honda", "Hyundai", "Kia", "Mazda", "Subaru", "Nissan", "Ford",
];
const ZH_COMPETITORS: &[&str] = &["比亚迪", "大众", "本田", "日产", "吉利", "长安"];
const EN_FIRST: &[&str] = &[
    "James", "Maria", "David", "Sarah", "Michael", "Linda", "Robert", "Emily", "Daniel", "Jessica",
    "Kevin", "Laura", "Brian", "Nicole", "Jason", "Rachel",
];
const EN_LAST: &[&str] = &[
    "Smith", "Johnson", "Garcia", "Miller", "Davis", "Martinez", "Lopez", "Wilson", "Anderson",
    "Thomas", "Moore", "Jackson", "Lee", "Walker", "Young", "King",
];
const ZH_SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "周", "吴", "徐", "孙",
];
const ZH_GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "磊", "强", "洋", "艳", "杰", "军", "丽", "涛", "明", "超", "霞",
];

/// One generated English conversation.
fn english(rng: &mut StdRng) -> String {
    let model = *EN_MODELS.choose(rng).unwrap_or(&"Camry");
    let rival = *EN_COMPETITORS.choose(rng).unwrap_or(&"Honda");
    let mut lines: Vec<String> =
        vec![
        ["Salesperson: Hi, welcome in! What brings you by today?",
         "Salesperson: Good afternoon, thanks for stopping by. Looking for anything in particular?",
         "Salesperson: Morning! Come on in, what can I help you with?"]
            .choose(rng).unwrap().to_string(),
    ];
    let opening = [
        format!("Customer: We're looking at the {model}. My lease is up next month."),
        format!("Customer: I want to take a look at the {model}, we need something bigger."),
        "Customer: Just browsing today, honestly.".to_string(),
        format!("Customer: I saw the {model} online and wanted to see it in person."),
    ];
    lines.push(opening.choose(rng).unwrap().clone());
    lines.push("Salesperson: Great. What will you mostly use it for?".into());
    let needs = [
        "Customer: Mostly commuting, about fifty miles a day.",
        "Customer: We have two kids, so safety matters most to us.",
        "Customer: Weekend trips with the family, we need room for the dog too.",
        "Customer: I drive for work, so fuel economy is the big thing.",
    ];
    lines.push(needs.choose(rng).unwrap().to_string());
    if rng.random_bool(0.75) {
        lines.push("Salesperson: Do you have a budget in mind?".into());
        let total = rng.random_range(22..60) * 1000;
        let monthly = rng.random_range(30..90) * 10;
        let budget = [
            format!("Customer: We'd like to stay around ${total} all in."),
            format!("Customer: I can do maybe ${monthly} a month."),
            format!(
                "Customer: Somewhere between ${} and ${total}.",
                total - 5000
            ),
        ];
        lines.push(budget.choose(rng).unwrap().clone());
    }
    if rng.random_bool(0.4) {
        let rivalry = [
            format!("Customer: The {rival} dealer across town offered me a better price."),
            format!("Customer: Honestly we're also looking at {rival}."),
        ];
        lines.push(rivalry.choose(rng).unwrap().clone());
        lines.push("Salesperson: I understand. Let me see what I can do for you.".into());
    }
    if rng.random_bool(0.45) {
        let objection = [
            "Customer: That's more than I wanted to spend.",
            "Customer: I need to talk it over with my wife first.",
            "Customer: The monthly payment is too high for us.",
            "Customer: We're not in a hurry, maybe in a few months.",
        ];
        lines.push(objection.choose(rng).unwrap().to_string());
    }
    let intent = [
        format!("Customer: Can we set up a test drive of the {model} for Saturday?"),
        "Customer: What financing options do you have?".to_string(),
        "Customer: If the numbers work, I'd sign today.".to_string(),
        "Customer: Can you send me a quote by email?".to_string(),
        "Customer: Thanks, we'll think about it.".to_string(),
    ];
    lines.push(intent.choose(rng).unwrap().clone());
    lines.push(
        [
            "Salesperson: Sounds good, I'll follow up with you on Friday.",
            "Salesperson: Let me get you a written quote before you go.",
            "Salesperson: Here's my card, call me anytime.",
        ]
        .choose(rng)
        .unwrap()
        .to_string(),
    );
    lines.join("\n") + "\n"
}

/// One generated Mandarin conversation.
fn mandarin(rng: &mut StdRng) -> String {
    let model = *ZH_MODELS.choose(rng).unwrap_or(&"凯美瑞");
    let rival = *ZH_COMPETITORS.choose(rng).unwrap_or(&"比亚迪");
    let mut lines: Vec<String> = vec![[
        "销售: 您好，欢迎光临，今天想看看哪款车？",
        "销售: 您好，请进，有什么可以帮您？",
        "销售: 欢迎欢迎，您是第一次来我们店吗？",
    ]
    .choose(rng)
    .unwrap()
    .to_string()];
    let opening = [
        format!("客户: 我想看看{model}，家里的车该换了。"),
        format!("客户: 在网上看了{model}，想来看看实车。"),
        "客户: 随便看看。".to_string(),
        format!("客户: 朋友推荐{model}，过来了解一下。"),
    ];
    lines.push(opening.choose(rng).unwrap().clone());
    lines.push("销售: 好的，您平时主要怎么用车？".into());
    let needs = [
        "客户: 主要是上下班通勤，每天开四五十公里。",
        "客户: 家里有两个孩子，安全最重要。",
        "客户: 周末经常带家人出去玩，空间要大一点。",
        "客户: 跑业务用，油耗低一点比较好。",
    ];
    lines.push(needs.choose(rng).unwrap().to_string());
    if rng.random_bool(0.75) {
        lines.push("销售: 您的预算大概是多少？".into());
        let total = rng.random_range(12..40);
        let monthly = rng.random_range(20..60) * 100;
        let budget = [
            format!("客户: 预算大概{total}万左右。"),
            format!("客户: 月供最好在{monthly}以内。"),
            format!("客户: {}到{total}万之间吧。", total - 3),
        ];
        lines.push(budget.choose(rng).unwrap().clone());
    }
    if rng.random_bool(0.4) {
        let rivalry = [
            format!("客户: {rival}那边给的优惠更多。"),
            format!("客户: 我们也在看{rival}的车。"),
        ];
        lines.push(rivalry.choose(rng).unwrap().clone());
        lines.push("销售: 理解，我帮您申请一下看看。".into());
    }
    if rng.random_bool(0.45) {
        let objection = [
            "客户: 价格还是有点贵。",
            "客户: 我得回去跟我老婆商量一下。",
            "客户: 月供太高了。",
            "客户: 不着急，过几个月再说。",
        ];
        lines.push(objection.choose(rng).unwrap().to_string());
    }
    let intent = [
        format!("客户: 能试驾一下{model}吗？"),
        "客户: 贷款方案是怎么样的？".to_string(),
        "客户: 价格合适的话今天就可以定。".to_string(),
        "客户: 你把报价发我微信吧。".to_string(),
        "客户: 好的，我们再考虑考虑。".to_string(),
    ];
    lines.push(intent.choose(rng).unwrap().clone());
    lines.push(
        [
            "销售: 好的，我周五再联系您。",
            "销售: 我给您出一份详细报价。",
            "销售: 这是我的名片，有问题随时找我。",
        ]
        .choose(rng)
        .unwrap()
        .to_string(),
    );
    lines.join("\n") + "\n"
}

/// A generated analysis to reuse, with what the recording row caches from it.
struct Template {
    json: String,
    metrics: RecordingMetrics,
    size: i64,
    sha256: String,
}

fn analyse(
    pipeline: &Pipeline,
    options: &SeedOptions,
    rng: &mut StdRng,
) -> anyhow::Result<Vec<Template>> {
    let analyze = AnalyzeOptions {
        language: None,
        date: Some(Utc::now().date_naive()),
        asr: Default::default(),
    };
    (0..options.conversations.max(1))
        .map(|i| {
            let text = if i % 3 == 2 {
                mandarin(rng)
            } else {
                english(rng)
            };
            let analysis: Analysis = pipeline
                .analyze_text("seed.txt", &text, &analyze)
                .context("analysing a generated conversation")?;
            let json = serde_json::to_string(&analysis)?;
            Ok(Template {
                metrics: RecordingMetrics::of(&json),
                json,
                size: text.len() as i64,
                sha256: crate::store::token_hash(&text),
            })
        })
        .collect()
}

fn phone(rng: &mut StdRng, n: usize) -> String {
    // Unique per customer: the index in the last digits.
    format!("+86139{:02}{:06}", rng.random_range(0..100), n)
}

fn name(rng: &mut StdRng) -> String {
    if rng.random_bool(0.35) {
        format!(
            "{}{}{}",
            ZH_SURNAMES.choose(rng).unwrap(),
            ZH_GIVEN.choose(rng).unwrap(),
            if rng.random_bool(0.5) {
                *ZH_GIVEN.choose(rng).unwrap()
            } else {
                ""
            }
        )
    } else {
        format!(
            "{} {}",
            EN_FIRST.choose(rng).unwrap(),
            EN_LAST.choose(rng).unwrap()
        )
    }
}

/// Rows per multi-row INSERT (each row binds at most 16 values; PostgreSQL allows 65,535).
const BATCH: usize = 500;

pub async fn seed(
    store: &Store,
    pipeline: &Pipeline,
    options: &SeedOptions,
) -> anyhow::Result<SeedReport> {
    let mut rng = StdRng::seed_from_u64(options.random_seed);
    let mut report = SeedReport::default();
    let started = Instant::now();
    let templates = analyse(pipeline, options, &mut rng)?;
    report.seconds_generating = started.elapsed().as_secs_f64();

    let dealership = &options.dealership;
    let known = sqlx::query("SELECT id FROM dealerships WHERE id = $1")
        .bind(dealership)
        .fetch_optional(&store.pool)
        .await?;
    anyhow::ensure!(known.is_some(), "no dealership `{dealership}`");
    let mut salespeople: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM users WHERE dealership_id = $1 AND role = 'salesperson' ORDER BY created_at, id",
    )
    .bind(dealership)
    .fetch_all(&store.pool)
    .await?;
    for i in salespeople.len()..options.salespeople.max(1) {
        let email = format!("seed-sales-{}@{dealership}.example", i + 1);
        let id = store
            .create_user(dealership, &email, Role::Salesperson, SEED_PASSWORD)
            .await
            .with_context(|| format!("creating {email}"))?;
        salespeople.push(id);
    }
    report.salespeople = salespeople.len();

    let inserting = Instant::now();
    let now = now_ms();
    let span_ms = options.days.max(1) * 24 * 3600 * 1000;
    // Customers, each owned by one salesperson.
    let customers: Vec<(String, String)> = (0..options.customers)
        .map(|i| (new_id("cus"), salespeople[i % salespeople.len()].clone()))
        .collect();
    for chunk in customers.chunks(BATCH) {
        let mut sql = String::from(
            "INSERT INTO customers (id, dealership_id, phone, name, salesperson_id, created_at, updated_at) VALUES ",
        );
        for i in 0..chunk.len() {
            let b = i * 7;
            if i > 0 {
                sql.push(',');
            }
            sql += &format!(
                "(${},${},${},${},${},${},${})",
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5,
                b + 6,
                b + 7
            );
        }
        let mut q = sqlx::query(&sql);
        for (id, seller) in chunk {
            let n = report.customers;
            report.customers += 1;
            q = q
                .bind(id.clone())
                .bind(dealership.clone())
                .bind(phone(&mut rng, n))
                .bind(name(&mut rng))
                .bind(seller.clone())
                .bind(now - span_ms)
                .bind(now);
        }
        q.execute(&store.pool).await?;
    }
    // Recordings: every customer has one, the rest go to customers at random.
    let owners: Vec<usize> = (0..options.recordings)
        .map(|i| {
            if i < customers.len() {
                i
            } else {
                rng.random_range(0..customers.len().max(1))
            }
        })
        .filter(|&c| c < customers.len())
        .collect();
    let mut tx = store.begin_write().await?;
    for chunk in owners.chunks(BATCH) {
        let mut sql = String::from(
            "INSERT INTO recordings (id, dealership_id, source_id, salesperson_id, customer_id, sha256,
                 size_bytes, content_type, recorded_at, received_at, status, analysis, analysed_at,
                 duration_s, customer_talk_share) VALUES ",
        );
        for i in 0..chunk.len() {
            let b = i * 15;
            if i > 0 {
                sql.push(',');
            }
            sql.push('(');
            sql += &(1..=15)
                .map(|k| format!("${}", b + k))
                .collect::<Vec<_>>()
                .join(",");
            sql.push(')');
        }
        let mut q = sqlx::query(&sql);
        for &c in chunk {
            let (customer, seller) = &customers[c];
            let t = templates
                .choose(&mut rng)
                .expect("at least one conversation");
            let at = now - rng.random_range(0..span_ms);
            q = q
                .bind(new_id("rec"))
                .bind(dealership.clone())
                .bind(seller.clone())
                .bind(seller.clone())
                .bind(customer.clone())
                .bind(t.sha256.clone())
                .bind(t.size)
                .bind("text/plain; charset=utf-8")
                .bind(at)
                .bind(at)
                .bind("done")
                .bind(t.json.clone())
                .bind(at)
                .bind(t.metrics.duration_s)
                .bind(t.metrics.customer_talk_share);
        }
        q.execute(&mut *tx).await?;
        report.recordings += chunk.len();
    }
    tx.commit().await?;
    report.seconds_inserting = inserting.elapsed().as_secs_f64();

    let profiles = Instant::now();
    let config = pipeline.config();
    let today = Utc::now();
    for (k, (id, _)) in customers.iter().enumerate() {
        // A few customers already closed, as a real pipeline has them.
        if k % 25 == 0 {
            let result = if rng.random_bool(0.6) {
                crate::profile::customer::OutcomeKind::Won
            } else {
                crate::profile::customer::OutcomeKind::Lost
            };
            store.set_outcome(id, result, config, today).await?;
        } else {
            store.refresh_customer(id, config, today).await?;
        }
    }
    report.seconds_profiles = profiles.elapsed().as_secs_f64();
    Ok(report)
}

/// The command: opens the store, loads the pipeline without the classifier (no model to fetch)
/// and seeds, printing what it made and how long each part took.
pub fn run(
    location: &crate::store::Location,
    pipeline_path: &std::path::Path,
    options: &SeedOptions,
) -> anyhow::Result<()> {
    let mut config =
        crate::config::PipelineConfig::load(pipeline_path).context("cannot load the pipeline")?;
    config.pipeline.stages.retain(|s| s != "classifier");
    let pipeline = Pipeline::from_config(config).context("cannot load the pipeline")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let store = Store::open(location)
            .await
            .context("cannot open the store")?;
        let r = seed(&store, &pipeline, options).await?;
        println!(
            "seeded {} customers, {} recordings over {} salespeople (password `{SEED_PASSWORD}` for those created)",
            r.customers, r.recordings, r.salespeople
        );
        println!(
            "generating and analysing {:.1} s, inserting {:.1} s, profiles {:.1} s",
            r.seconds_generating, r.seconds_inserting, r.seconds_profiles
        );
        anyhow::Ok(())
    })
}
