//! The budget stage: the customer's own budget, the latest and most specific statement first.
//! A figure is a budget when the customer frames it as one ("my budget", "under", "a month",
//! "预算", "以内") or answers the salesperson's budget question with it; a salesperson's figure
//! counts only when the customer adopts it.

use std::collections::HashMap;
use std::sync::Arc;

use regex::Regex;

use super::lexicon::{blank, compile_any, sentence, Lexicon, Lexicons};
use super::money::{self, Amount};
use crate::analysis::{Budget, BudgetKind};
use crate::config::{ConfigError, Origin, PipelineConfig};
use crate::conversation::{Language, Segment};
use crate::pipeline::{AnalyzeError, Context, Stage};

struct BudgetCues {
    lexicon: Arc<Lexicon>,
    cues: Option<Regex>,
    questions: Option<Regex>,
    monthly: Option<Regex>,
    down: Option<Regex>,
    total: Option<Regex>,
    monthly_talk: Option<Regex>,
    correction: Option<Regex>,
    at_most: Option<Regex>,
    at_least: Option<Regex>,
    at_most_later: Option<Regex>,
    approximately: Option<Regex>,
    just_over: Option<Regex>,
    not_budget: Option<Regex>,
    still_budget: Option<Regex>,
    difference_after: Option<Regex>,
    name_before: Option<Regex>,
    offer: Option<Regex>,
    hour_before: Option<Regex>,
    adopt: Option<Regex>,
    default_currency: String,
}

pub struct BudgetStage {
    languages: HashMap<Language, BudgetCues>,
}

#[derive(Debug, Clone)]
struct Statement {
    kind: BudgetKind,
    min: Option<f64>,
    max: Option<f64>,
    currency: String,
    confidence: f64,
    evidence: Vec<usize>,
    adopted: bool,
    /// Byte range of the figure in its turn, to see what is said between two figures.
    at: (usize, usize),
}

/// How many turns back a salesperson's figure can be echoed by the customer.
const QUOTE_MEMORY: usize = 4;

/// What the talk so far says a bare figure is about.
#[derive(Debug, Clone, Copy, Default)]
struct Talk<'a> {
    /// The salesperson's turn the customer answers.
    asked_in: Option<&'a Segment>,
    /// That turn is a question about the budget ("what monthly works for you?").
    asked: bool,
    /// The kind that turn asks or speaks about ("how much down?").
    prompt: Option<BudgetKind>,
    /// The customer has been thinking in monthly payments and has not moved on to the total.
    monthly: bool,
    /// The figures the salesperson said in the last few turns (their prices and offers), a
    /// list per turn.
    quoted: &'a [Vec<Amount>],
}

fn matches(re: &Option<Regex>, text: &str) -> bool {
    re.as_ref().is_some_and(|r| r.is_match(text))
}

/// Where the last match of `re` in `text` ends.
/// The sentence that `rest` continues ends in a question mark.
fn ends_in_question(rest: &str) -> bool {
    rest.chars()
        .find(|c| matches!(c, '?' | '？' | '.' | '。' | '!' | '！'))
        .is_some_and(|c| matches!(c, '?' | '？'))
}

fn last_match(re: &Option<Regex>, text: &str) -> Option<usize> {
    re.as_ref()?.find_iter(text).map(|m| m.end()).last()
}

/// Plausible sizes of a car budget of each kind, in US-dollar-like units; CNY figures are
/// about seven times larger.
fn plausible(kind: BudgetKind, currency: &str, v: f64) -> bool {
    let k = match currency {
        "CNY" => 7.0,
        "JPY" => 150.0,
        _ => 1.0,
    };
    let (lo, hi) = match kind {
        // Above half a million a "budget" is a misheard or misparsed figure, not a car budget.
        BudgetKind::Total => (2_000.0, 500_000.0),
        BudgetKind::Monthly => (50.0, 6_000.0),
        BudgetKind::Down => (300.0, 300_000.0),
    };
    v >= lo * k && v <= hi * k
}

impl BudgetStage {
    pub fn build(c: &PipelineConfig, lexicons: &Lexicons) -> Result<Self, ConfigError> {
        let file = c.path.display().to_string();
        let mut languages = HashMap::new();
        for language in [Language::En, Language::Zh] {
            let l = c.lexicon(language);
            let b = &l.budget;
            let at = |entry: &str| Origin {
                file: file.clone(),
                entry: format!("language.{}.budget.{entry}", language.code()),
            };
            let default_currency = c
                .pipeline
                .default_currency
                .get(language.code())
                .cloned()
                .unwrap_or_else(|| "USD".into());
            languages.insert(
                language,
                BudgetCues {
                    lexicon: lexicons.get(language),
                    cues: compile_any(&b.cues, &at("cues"))?,
                    questions: compile_any(&b.questions, &at("questions"))?,
                    monthly: compile_any(&b.monthly, &at("monthly"))?,
                    down: compile_any(&b.down, &at("down"))?,
                    total: compile_any(&b.total, &at("total"))?,
                    monthly_talk: compile_any(&b.monthly_talk, &at("monthly_talk"))?,
                    correction: compile_any(&b.correction, &at("correction"))?,
                    at_most: compile_any(&b.at_most, &at("at_most"))?,
                    at_least: compile_any(&b.at_least, &at("at_least"))?,
                    at_most_later: compile_any(&b.at_most_later, &at("at_most_later"))?,
                    approximately: compile_any(&b.approximately, &at("approximately"))?,
                    just_over: compile_any(&b.just_over, &at("just_over"))?,
                    not_budget: compile_any(&b.not_budget, &at("not_budget"))?,
                    still_budget: compile_any(&b.still_budget, &at("still_budget"))?,
                    difference_after: compile_any(&b.difference_after, &at("difference_after"))?,
                    name_before: compile_any(&b.name_before, &at("name_before"))?,
                    offer: compile_any(&b.offer, &at("offer"))?,
                    hour_before: compile_any(&b.hour_before, &at("hour_before"))?,
                    adopt: compile_any(&b.adopt, &at("adopt"))?,
                    default_currency,
                },
            );
        }
        Ok(BudgetStage { languages })
    }
}

/// Text windows around a figure, in characters: how far bound words ("under", "以内"), kind
/// words ("a month", "首付") and budget cues reach. Chinese packs a word into fewer characters.
struct Reach {
    bound_before: usize,
    bound_after: usize,
    kind_before: usize,
    kind_after: usize,
    cue_before: usize,
    cue_after: usize,
}

fn reach(lang: Language) -> Reach {
    match lang {
        Language::En => Reach {
            bound_before: 36,
            bound_after: 24,
            kind_before: 22,
            kind_after: 14,
            cue_before: 48,
            cue_after: 24,
        },
        Language::Zh => Reach {
            bound_before: 8,
            bound_after: 10,
            kind_before: 8,
            kind_after: 4,
            cue_before: 14,
            cue_after: 10,
        },
    }
}

/// The byte offset `n` characters before `i` (not before `floor`).
fn chars_back(text: &str, i: usize, n: usize, floor: usize) -> usize {
    text[floor..i]
        .char_indices()
        .rev()
        .nth(n.saturating_sub(1))
        .map_or(floor, |(j, _)| floor + j)
}

/// The byte offset `n` characters after `i` (not after `ceil`).
fn chars_ahead(text: &str, i: usize, n: usize, ceil: usize) -> usize {
    text[i..ceil]
        .char_indices()
        .nth(n)
        .map_or(ceil, |(j, _)| i + j)
}

impl BudgetCues {
    /// The kind of figure the salesperson's turn is about: the kind word said last, since a
    /// question comes at the end ("with 3,000 down you'd be at 489; what monthly works?").
    /// Only a question makes "down" a kind: in a statement it is as often "come down" or "knock
    /// it down".
    fn prompt_kind(&self, prompt: &Segment, asked: bool) -> Option<BudgetKind> {
        let text = &prompt.text;
        let monthly = if asked {
            &self.monthly
        } else {
            &self.monthly_talk
        };
        [
            (
                BudgetKind::Down,
                asked.then(|| last_match(&self.down, text)).flatten(),
            ),
            (BudgetKind::Monthly, last_match(monthly, text)),
            (BudgetKind::Total, last_match(&self.total, text)),
        ]
        .into_iter()
        .filter_map(|(k, at)| Some((k, at?)))
        .max_by_key(|&(_, at)| at)
        .map(|(k, _)| k)
    }

    /// "十二万出头是多少？", "十六万多，超预算了", "Five-eighty-nine is way over": the customer repeats a
    /// figure the salesperson just said (or rounds it) to query it or to complain of it; it is the
    /// salesperson's price, not the customer's budget.
    fn echoes_salesperson(
        &self,
        text: &str,
        (clause, sent): ((usize, usize), (usize, usize)),
        a: &Amount,
        quoted: &[Vec<Amount>],
    ) -> bool {
        let repeated = quoted.iter().flatten().any(|said| {
            said.scaled == a.scaled && a.value.lo <= said.value.lo && said.value.hi <= a.value.hi
        });
        if !repeated {
            return false;
        }
        let asks = ends_in_question(&text[a.end..]);
        // The objection may sit beside a bare repeat ("超预算了，十六万多"); a clause with words of
        // its own ("首付八万倒是没问题") says what it means itself.
        let own_words = [&text[clause.0..a.start], &text[a.end..clause.1]]
            .iter()
            .flat_map(|part| part.chars())
            .filter(|c| c.is_alphanumeric())
            .count();
        asks || (own_words <= 4 && matches(&self.not_budget, &text[sent.0..sent.1]))
            || self.lexicon.complains(&text[clause.0..clause.1])
    }

    /// What the customer says about one figure, or `None` if it is not their budget.
    /// `adopted`: the figure is the salesperson's and the customer has taken it as theirs.
    /// `neighbours`: where the figures before and after this one are, so that one figure's
    /// words ("以内", "a month") are not read as another's.
    fn read(
        &self,
        seg: &Segment,
        a: &Amount,
        neighbours: (usize, usize),
        lang: Language,
        adopted: bool,
        talk: Talk,
    ) -> Option<Statement> {
        let prompt = talk.asked_in;
        let text = &seg.text;
        let r = reach(lang);
        let clause = self.lexicon.clause(text, a.start, a.end);
        let sent = sentence(text, a.start, a.end);
        let sent = (sent.0.max(neighbours.0), sent.1.min(neighbours.1));
        let before = &text[chars_back(text, a.start, r.bound_before, sent.0)..a.start];
        let after = &text[a.end..chars_ahead(text, a.end, r.bound_after, sent.1)];
        let kind_window = &text[chars_back(text, a.start, r.kind_before, clause.0)
            ..chars_ahead(text, a.end, r.kind_after, clause.1)];
        let cue_window = &text[chars_back(text, a.start, r.cue_before, sent.0)
            ..chars_ahead(text, a.end, r.cue_after, sent.1)];

        // "控制在3500左右", "两千五左右，再高就吃力了": a point word fused to the figure makes it the
        // customer's figure, and the bound words around it only say it is firm. ("Under 30,
        // like, all in" keeps its bound: the "like" there is a filler, not fused.)
        let point = self
            .approximately
            .as_ref()
            .and_then(|r| r.find(after))
            .is_some_and(|m| m.start() == 0);
        let at_most = !point
            && (matches(&self.at_most, before)
                || matches(&self.at_most, after)
                || matches(&self.at_most_later, &text[a.end..neighbours.1.max(a.end)]));
        let at_least =
            !at_most && (matches(&self.at_least, before) || matches(&self.at_least, after));
        let just_over = matches(&self.just_over, after);
        let approx = matches(&self.approximately, before) || matches(&self.approximately, after);
        // "no more than 400" is a bound, not a negation; "not 40, more like 30" is.
        let bounded = at_most || at_least;
        // An adopted figure is the salesperson's list price by nature; the customer made it theirs.
        let excluded = !adopted
            && (matches(
                &self.not_budget,
                &blank(&self.still_budget, &text[clause.0..clause.1]),
            ) || matches(&self.offer, &text[sent.0..sent.1])
                || matches(&self.difference_after, after)
                || self.echoes_salesperson(text, (clause, sent), a, talk.quoted));
        if excluded || (!bounded && self.lexicon.is_negated(text, a.start, a.end)) {
            return None;
        }
        let cue = matches(&self.cues, cue_window);
        let asked = talk.asked;
        let said = if matches(&self.down, kind_window) {
            Some(BudgetKind::Down)
        } else if matches(&self.monthly, kind_window) {
            Some(BudgetKind::Monthly)
        } else if matches(&self.total, kind_window) {
            Some(BudgetKind::Total)
        } else {
            None
        };
        // Hundreds to a few thousand without "k"/"grand"/"万" are what a payment is said in;
        // "forty-five" is not (it is a total in thousands), nor is "five grand".
        let payment_sized = (lang != Language::En || !a.scaled)
            && !a.ge
            && a.value.lo >= 100.0
            && a.value.hi < 10_000.0;
        let kind = said.unwrap_or(match talk.prompt {
            Some(BudgetKind::Down) => BudgetKind::Down,
            Some(BudgetKind::Monthly) if payment_sized => BudgetKind::Monthly,
            None if talk.monthly && payment_sized => BudgetKind::Monthly,
            _ => BudgetKind::Total,
        });
        // A total answering a trade-in or offer question is about that, not the budget; a
        // ceiling the customer states ("keep each one under fifty-five") is theirs whatever was
        // asked, one they ask about ("那不到二十万了？") is not.
        let stated_ceiling = at_most && !ends_in_question(&text[a.end..]);
        if kind == BudgetKind::Total
            && !cue
            && !stated_ceiling
            && !asked
            && !adopted
            && prompt.is_some_and(|p| matches(&self.not_budget, &p.text))
        {
            return None;
        }
        let money_like = a.currency.is_some() || a.scaled || a.ge;
        if !money_like {
            // "five point nine" is a rate; "at seven" a time.
            let fraction = a.value.lo.fract() != 0.0 && a.value.hi < 100.0;
            let hour = a.value.hi <= 12.0 && matches(&self.hour_before, before);
            if fraction || hour {
                return None;
            }
        }
        // "I'd like to drive the 450": a bare figure in digits after "the" names a model.
        if !money_like
            && said.is_none()
            && text[a.start..a.end].bytes().all(|b| b.is_ascii_digit())
            && matches(&self.name_before, before)
        {
            return None;
        }
        // "a 2012 Accord": a bare year is not money.
        if !money_like
            && kind == BudgetKind::Total
            && a.value.is_exact()
            && (1980.0..=2035.0).contains(&a.value.lo)
        {
            return None;
        }
        let framed = adopted
            || cue
            || asked
            || (kind != BudgetKind::Total && (money_like || bounded || approx))
            || (money_like && (bounded || just_over));
        if !framed {
            return None;
        }

        let mut value = a.value;
        if a.ge {
            value = value.scale(10_000.0);
        } else if !a.scaled
            && a.currency.is_none()
            && kind == BudgetKind::Total
            && value.hi < 1_000.0
        {
            // "baby number three" is not a budget of 3,000; "five thirty" said of a whole car is
            // too ambiguous to read as 530,000 (or 530).
            if value.lo < 5.0 || value.hi > 100.0 {
                return None;
            }
            // "under 30", "预算20左右": the thousands (or 万) are understood.
            value = value.scale(if lang == Language::Zh {
                10_000.0
            } else {
                1_000.0
            });
        }
        let currency = a
            .currency
            .map(str::to_string)
            .unwrap_or_else(|| self.default_currency.clone());
        if !plausible(kind, &currency, value.lo) || !plausible(kind, &currency, value.hi) {
            return None;
        }
        // "十一二万吧，不能再多了", "30 to 35, no more": a range said as two figures keeps its floor
        // under a ceiling word; a vague one ("十几万以内") does not.
        let stated_range =
            value.lo < value.hi && !text[a.start..a.end].contains(['几', '多', '来']);
        let (min, max) = if just_over {
            (Some(value.lo), Some(value.hi * 11.0 / 10.0))
        } else if at_most && !stated_range {
            (None, Some(value.hi))
        } else if at_least {
            (Some(value.lo), None)
        } else {
            (Some(value.lo), Some(value.hi))
        };
        let confidence = if cue && money_like {
            0.9
        } else if cue || asked {
            0.8
        } else {
            0.65
        };
        Some(Statement {
            kind,
            min,
            max,
            currency,
            confidence,
            evidence: vec![seg.id],
            adopted,
            at: (a.start, a.end),
        })
    }
}

impl Stage for BudgetStage {
    fn name(&self) -> &'static str {
        "budget"
    }

    fn run(&self, cx: &mut Context) -> Result<(), AnalyzeError> {
        let lang = cx.language;
        let cues = &self.languages[&lang];
        let segments = &cx.conversation.segments;
        let mut statements: Vec<Statement> = Vec::new();
        let mut monthly_talk = false;
        // Found once per turn, not again for each customer turn that may echo them.
        let salesperson_figures: Vec<Vec<Amount>> = segments
            .iter()
            .map(|s| {
                if s.speaker.is_customer_side() {
                    Vec::new()
                } else {
                    money::find(&s.text, lang)
                }
            })
            .collect();
        for (i, seg) in segments.iter().enumerate() {
            let customer = seg.speaker.is_customer_side();
            // The customer's words move the talk onto payments or off them; of the salesperson's,
            // only a question does ("what monthly payment works for you?").
            if customer || matches(&cues.questions, &seg.text) {
                if matches(&cues.monthly_talk, &seg.text) {
                    monthly_talk = true;
                } else if matches(&cues.total, &seg.text) {
                    monthly_talk = false;
                }
            }
            if !customer {
                continue;
            }
            let prompt = cx.conversation.prompt_before(i);
            let asked = prompt.is_some_and(|p| matches(&cues.questions, &p.text));
            let talk = Talk {
                quoted: &salesperson_figures[i.saturating_sub(QUOTE_MEMORY)..i],
                asked_in: prompt,
                asked,
                prompt: prompt.and_then(|p| cues.prompt_kind(p, asked)),
                monthly: monthly_talk,
            };
            let before = statements.len();
            let amounts = money::find(&seg.text, lang);
            statements.extend(amounts.iter().enumerate().filter_map(|(k, a)| {
                let floor = if k > 0 { amounts[k - 1].end } else { 0 };
                // The next figure's clause is its own: "十五到十八万吧，落地不超过十八万" bounds only the second.
                let ceil = amounts.get(k + 1).map_or(seg.text.len(), |n| {
                    cues.lexicon.clause(&seg.text, n.start, n.end).0.max(a.end)
                });
                cues.read(seg, a, (floor, ceil), lang, false, talk)
            }));
            if statements.len() > before {
                let turn = statements.split_off(before);
                statements.extend(close_ranges(&seg.text, turn, &cues.correction));
                continue;
            }
            // "OK, that's about my max": the customer takes the salesperson's last figure.
            if let Some(p) = prompt.filter(|_| matches(&cues.adopt, &seg.text)) {
                let offered = money::find(&p.text, lang).into_iter().last();
                if let Some(mut s) = offered
                    .and_then(|a| cues.read(p, &a, (0, p.text.len()), lang, true, Talk::default()))
                {
                    if matches(&cues.at_most, &seg.text) {
                        s.min = None;
                    }
                    s.confidence = 0.6;
                    s.evidence = vec![p.id, seg.id];
                    statements.push(s);
                }
            }
        }
        cx.budget = choose(statements).map(|s| Budget {
            kind: s.kind,
            min: s.min,
            max: s.max,
            currency: s.currency,
            confidence: s.confidence,
            evidence: s.evidence,
        });
        Ok(())
    }
}

/// "around 40, maybe 42 max", "两千五，最多三千": a figure and then a higher ceiling of the same
/// kind in one turn are one range, unless the customer corrects themself between them ("thirty,
/// but we could go up to 35k").
fn close_ranges(text: &str, turn: Vec<Statement>, correction: &Option<Regex>) -> Vec<Statement> {
    let mut out: Vec<Statement> = Vec::with_capacity(turn.len());
    for s in turn {
        if let Some(prev) = out.last_mut() {
            let point = prev.min.is_some() && prev.min == prev.max;
            let ceiling = s.min.is_none() && s.max.zip(prev.max).is_some_and(|(hi, lo)| hi > lo);
            let between = text.get(prev.at.1..s.at.0).unwrap_or("");
            // "Like six-fifty. Whatever I get next, I don't wanna go over seven hundred": a new
            // sentence is a new statement (the first was what they pay now).
            let new_sentence = between.contains(['.', '!', '?', '。', '！', '？']);
            if s.kind == prev.kind
                && point
                && ceiling
                && !new_sentence
                && !matches(correction, between)
            {
                prev.max = s.max;
                prev.at.1 = s.at.1;
                prev.confidence = prev.confidence.max(s.confidence);
                continue;
            }
        }
        out.push(s);
    }
    out
}

/// A total budget beats a monthly one, which beats a down payment; the customer's own words
/// beat a figure they adopted; within that the latest wins, unless it only repeats one bound
/// of an earlier, fuller range.
fn choose(mut statements: Vec<Statement>) -> Option<Statement> {
    if statements.iter().any(|s| !s.adopted) {
        statements.retain(|s| !s.adopted);
    }
    let rank = |k: BudgetKind| match k {
        BudgetKind::Total => 0,
        BudgetKind::Monthly => 1,
        BudgetKind::Down => 2,
    };
    let best_kind = statements.iter().map(|s| rank(s.kind)).min()?;
    let mut chosen: Option<Statement> = None;
    for s in statements.into_iter().filter(|s| rank(s.kind) == best_kind) {
        chosen = Some(match chosen {
            Some(prev)
                if prev.min.is_some()
                    && prev.max.is_some()
                    && prev.min != prev.max
                    && ((s.min.is_none() && s.max == prev.max)
                        || (s.max.is_none() && s.min == prev.min)) =>
            {
                let mut kept = prev;
                kept.evidence.extend(s.evidence);
                kept.evidence.dedup();
                kept
            }
            // "No more than 350 a month." ... "Three-fifty.": the bare repeat is the same ceiling.
            Some(prev)
                if s.min.is_some()
                    && s.min == s.max
                    && (prev.min.is_none() || prev.max.is_none())
                    && (prev.max == s.max || prev.min == s.min) =>
            {
                let mut kept = prev;
                kept.evidence.extend(s.evidence);
                kept.evidence.dedup();
                kept
            }
            _ => s,
        });
    }
    chosen
}
