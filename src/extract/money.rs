//! Finding amounts of money in a turn: "$35,000", "35k", "thirty-five grand", "30 to 35",
//! "high twenties", "25万", "两万五", "20到25万", "三千块". Whether an amount is a budget is
//! decided by the budget stage from the words around it.

use super::numbers_en::{decade, parse_words, small};
use super::numbers_zh::{self, is_numeral_char, Span};
use crate::conversation::Language;

#[derive(Debug, Clone, PartialEq)]
pub struct Amount {
    pub value: Span,
    /// Byte range in the turn's text.
    pub start: usize,
    pub end: usize,
    /// ISO code from a symbol or word next to the figure.
    pub currency: Option<&'static str>,
    /// The size is explicit (k, grand, thousand, 万, 千), so no magnitude is to be guessed.
    pub scaled: bool,
    /// Followed by 个, which in spoken Chinese budgets stands for 万 ("18个").
    pub ge: bool,
}

pub fn find(text: &str, lang: Language) -> Vec<Amount> {
    let single = match lang {
        Language::En => find_en(text),
        Language::Zh => {
            // Mixed-language turns are common in Chinese showrooms ("预算30k"), so both readers run.
            let mut all = find_zh(text);
            let latin: Vec<Amount> = find_en(text)
                .into_iter()
                .filter(|a| !all.iter().any(|b| a.start < b.end && b.start < a.end))
                .filter(|a| !counts_zh(&text[a.end..]) && !in_model_code(text, a.start, a.end))
                .collect();
            all.extend(latin);
            all.sort_by_key(|a| a.start);
            all
        }
    };
    join_ranges(text, single)
}

/// A figure written inside a model code ("L8 Pro", "A6L", "ID.3", "5系") names a car, not money.
fn in_model_code(text: &str, start: usize, end: usize) -> bool {
    if !text[start..].starts_with(|c: char| c.is_ascii_digit()) {
        return false;
    }
    let mut before = text[..start].chars().rev();
    let letter_before = match before.next() {
        Some('.') => before.next().is_some_and(|c| c.is_ascii_alphabetic()),
        Some(c) => c.is_ascii_alphabetic(),
        None => false,
    };
    letter_before
        || text[end..].chars().next().is_some_and(|c| {
            c == '系' || (c.is_ascii_alphabetic() && !matches!(c, 'w' | 'W' | 'k' | 'K'))
        })
}

#[derive(Debug)]
struct Token<'a> {
    text: &'a str,
    start: usize,
    end: usize,
}

/// Words, digit groups ("35,000", "35.5", "35k", "30s") and currency symbols.
fn tokens(text: &str) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        if c.is_ascii_digit() {
            let mut end = start + 1;
            while let Some(&(i, d)) = chars.peek() {
                let next_is_digit = text[i + d.len_utf8()..]
                    .chars()
                    .next()
                    .is_some_and(|n| n.is_ascii_digit());
                if d.is_ascii_digit()
                    || ((d == ',' || d == '.') && next_is_digit)
                    || d.is_ascii_alphabetic()
                {
                    end = i + d.len_utf8();
                    chars.next();
                } else {
                    break;
                }
            }
            out.push(Token {
                text: &text[start..end],
                start,
                end,
            });
        } else if c.is_alphabetic() && !crate::conversation::is_cjk(c) {
            let mut end = start + c.len_utf8();
            while let Some(&(i, d)) = chars.peek() {
                if d.is_alphabetic() && !crate::conversation::is_cjk(d) || d == '\'' {
                    end = i + d.len_utf8();
                    chars.next();
                } else {
                    break;
                }
            }
            // "Four hundred's my limit": the number word without its "'s".
            if text[start..end].ends_with("'s") {
                end -= 2;
            }
            out.push(Token {
                text: &text[start..end],
                start,
                end,
            });
        } else if matches!(c, '$' | '€' | '£' | '¥' | '￥') {
            out.push(Token {
                text: &text[start..start + c.len_utf8()],
                start,
                end: start + c.len_utf8(),
            });
        }
    }
    out
}

fn currency_word(w: &str) -> Option<&'static str> {
    Some(match w {
        "$" | "dollars" | "dollar" | "bucks" | "usd" => "USD",
        "¥" | "￥" | "yuan" | "rmb" | "kuai" | "cny" => "CNY",
        "€" | "euros" | "euro" | "eur" => "EUR",
        "£" | "pounds" | "quid" | "gbp" => "GBP",
        _ => return None,
    })
}

fn find_en(text: &str) -> Vec<Amount> {
    let lower = text.to_lowercase();
    if lower.len() != text.len() {
        // Lowercasing changed byte lengths (rare scripts); offsets would not line up.
        return Vec::new();
    }
    let toks = tokens(&lower);
    let words: Vec<&str> = toks.iter().map(|t| t.text).collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let mut currency = None;
        let start_i = i;
        if let Some(c) = currency_word(words[i])
            .filter(|_| words[i].len() <= 3 && !words[i].chars().all(|c| c.is_alphabetic()))
        {
            currency = Some(c);
            i += 1;
            if i >= toks.len() {
                break;
            }
        }
        let (value, mut next, mut scaled) = match parse_digits(words[i]) {
            Some((v, s)) => (Some(v), i + 1, s),
            None => match parse_words(&words[i..]) {
                // A lone "one"/"a" is rarely money; require a real number word.
                // "twenty-six nine", "sixty-two five": prices said as thousands then hundreds.
                Some((v, used))
                    if (10.0..100.0).contains(&v)
                        && v.fract() == 0.0
                        && words
                            .get(i + used)
                            .and_then(|w| small(w))
                            .is_some_and(|d| (1.0..10.0).contains(&d))
                        && words
                            .get(i + used + 1)
                            .is_none_or(|w| !matches!(*w, "hundred" | "thousand" | "grand")) =>
                {
                    let hundreds = words.get(i + used).and_then(|w| small(w)).unwrap_or(0.0);
                    (
                        Some(Span::exact(v * 1000.0 + hundreds * 100.0)),
                        i + used + 1,
                        true,
                    )
                }
                Some((v, used)) if !(used == 1 && v < 2.0) => (
                    Some(Span::exact(v)),
                    i + used,
                    words[i..i + used]
                        .iter()
                        .any(|w| matches!(*w, "thousand" | "grand" | "million")),
                ),
                _ => (None, i + 1, false),
            },
        };
        let Some(mut value) = value else {
            // "high twenties", "low 30s"
            if let (Some(pos), Some(dec)) = (
                position_word(words[i]),
                words
                    .get(i + 1)
                    .and_then(|w| decade(w).or_else(|| decade_digits(w))),
            ) {
                let (lo, hi) = match pos {
                    Position::Low => (dec, dec + 3.0),
                    Position::Mid => (dec + 4.0, dec + 6.0),
                    Position::High => (dec + 7.0, dec + 10.0),
                };
                let mut a = Amount {
                    value: Span { lo, hi },
                    start: toks[i].start,
                    end: toks[i + 1].end,
                    currency,
                    scaled: false,
                    ge: false,
                };
                if words
                    .get(i + 2)
                    .is_some_and(|w| matches!(*w, "k" | "grand" | "thousand"))
                {
                    a.value = a.value.scale(1000.0);
                    a.scaled = true;
                    a.end = toks[i + 2].end;
                }
                out.push(a);
                i += 2;
            } else {
                i = start_i + 1;
            }
            continue;
        };
        // "a two thousand fourteen Elantra": a model year said in words.
        if currency.is_none() && spoken_year(&words, i, next, value) {
            i = next;
            continue;
        }
        if !scaled {
            if let Some(k) = words.get(next).and_then(|w| match *w {
                "k" | "grand" | "thousand" => Some(1_000.0),
                "million" | "mil" => Some(1_000_000.0),
                _ => None,
            }) {
                value = value.scale(k);
                scaled = true;
                next += 1;
            }
        }
        // "fifty-some cents", "forty-odd miles"
        let vague = words
            .get(next)
            .is_some_and(|w| matches!(*w, "some" | "odd" | "ish" | "something"));
        if words
            .get(next + usize::from(vague))
            .is_some_and(|w| counts_en(w))
        {
            i = next;
            continue;
        }
        if let Some(c) = words.get(next).and_then(|w| currency_word(w)) {
            currency = currency.or(Some(c));
            next += 1;
        }
        out.push(Amount {
            value,
            start: toks[start_i].start,
            end: toks[next - 1].end,
            currency,
            scaled,
            ge: false,
        });
        i = next;
    }
    out
}

/// `words[start..end]` is "two thousand" and a year's last digits after "a", "my", "the"...,
/// and no money word follows it.
fn spoken_year(words: &[&str], start: usize, end: usize, value: Span) -> bool {
    end >= start + 3
        && words[start] == "two"
        && words[start + 1] == "thousand"
        && value.is_exact()
        && (2001.0..=2035.0).contains(&value.lo)
        && start > 0
        && matches!(
            words[start - 1],
            "a" | "an" | "my" | "our" | "his" | "her" | "their" | "the" | "that" | "this" | "your"
        )
        && !words
            .get(end)
            .is_some_and(|w| matches!(*w, "dollars" | "dollar" | "bucks" | "down" | "cash"))
}

/// Nouns that make the figure before them a count, not money: "thirty six months", "120k
/// miles". The singular "month" is left out: "$400/month" is money.
fn counts_en(w: &str) -> bool {
    matches!(
        w,
        "months"
            | "years"
            | "yrs"
            | "year"
            | "miles"
            | "mile"
            | "km"
            | "kilometers"
            | "kms"
            | "days"
            | "weeks"
            | "hours"
            | "minutes"
            | "percent"
            | "cents"
            | "cent"
            | "kwh"
            | "kilowatt"
            | "kids"
            | "children"
            | "people"
            | "seats"
            | "seater"
            | "cylinders"
            | "doors"
            | "inches"
            | "horsepower"
            | "hp"
            | "mpg"
            | "foot"
            | "feet"
            | "ft"
            | "tons"
            | "ton"
            | "lbs"
            | "gallons"
            | "liters"
            | "litres"
            | "drivers"
            | "employees"
            | "techs"
            | "guys"
            | "passengers"
            | "rows"
            | "vans"
            | "trucks"
            | "cars"
            | "vehicles"
            | "units"
            | "times"
            | "owners"
            | "locations"
            | "stores"
    )
}

/// The Chinese counterpart of [`counts_en`]: "36个月", "三年", "十万公里", "7座".
fn counts_zh(rest: &str) -> bool {
    let mut next = rest.chars();
    match next.next() {
        Some('个') => matches!(next.next(), Some('月' | '人' | '孩' | '小')),
        Some('期' | '年' | '岁' | '口' | '天' | '次' | '%' | '座' | '缸' | '匹' | '寸' | '人') => {
            true
        }
        Some('公') => next.next() == Some('里'),
        _ => false,
    }
}

enum Position {
    Low,
    Mid,
    High,
}

fn position_word(w: &str) -> Option<Position> {
    Some(match w {
        "low" | "lower" | "early" => Position::Low,
        "mid" | "middle" => Position::Mid,
        "high" | "upper" | "late" => Position::High,
        _ => return None,
    })
}

fn decade_digits(w: &str) -> Option<f64> {
    let d: f64 = w.strip_suffix('s')?.parse().ok()?;
    (d >= 10.0 && d % 10.0 == 0.0 && d < 100.0).then_some(d)
}

/// "35,000" → 35000; "35k" → 35000 (scaled); "2.5k"; "30s" is a decade, not a figure.
fn parse_digits(w: &str) -> Option<(Span, bool)> {
    if !w.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let (num, suffix) = w.split_at(w.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(w.len()));
    let k = match suffix {
        "" => 1.0,
        "k" => 1_000.0,
        "m" | "mil" => 1_000_000.0,
        "w" => 10_000.0,
        _ => return None, // "30s", "2nd", "4wd", "f150"
    };
    // "35,000" uses commas for thousands; a lone comma group of other lengths is a list.
    let groups: Vec<&str> = num.split(',').collect();
    if groups.len() > 1 && groups[1..].iter().any(|g| g.len() != 3 && !g.contains('.')) {
        return None;
    }
    let v: f64 = num.replace(',', "").parse().ok()?;
    Some((Span::exact(v * k), k > 1.0))
}

fn find_zh(text: &str) -> Vec<Amount> {
    let mut out = Vec::new();
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut i = 0;
    while i < chars.len() {
        let is_start = |c: char| {
            c.is_ascii_digit()
                || (is_numeral_char(c) && !matches!(c, '多' | '来' | '点' | '几'))
                || (c == '几'
                    && chars
                        .get(i + 1)
                        .is_some_and(|&(_, n)| matches!(n, '十' | '百' | '千' | '万')))
        };
        if !is_start(chars[i].1) {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < chars.len()
            && (is_numeral_char(chars[j].1)
                || (matches!(chars[j].1, '.' | ',')
                    && chars.get(j + 1).is_some_and(|c| c.1.is_ascii_digit())))
        {
            j += 1;
        }
        if in_model_code(text, chars[i].0, chars.get(j).map_or(text.len(), |c| c.0)) {
            i = j;
            continue;
        }
        let run: String = chars[i..j]
            .iter()
            .map(|c| c.1)
            .filter(|&c| c != ',')
            .collect();
        // "一个" / "一下" / "一辆" are counts, not money, unless a unit makes them one.
        let Some(mut value) = numbers_zh::parse(&run) else {
            i = j.max(i + 1);
            continue;
        };
        if counts_zh(&text[chars.get(j).map_or(text.len(), |c| c.0)..]) {
            i = j.max(i + 1);
            continue;
        }
        let mut scaled = run.contains(['万', '千', '亿']);
        let mut end = j;
        let mut currency = None;
        let mut ge = false;
        match chars.get(end).map(|c| c.1) {
            Some('w' | 'W') => {
                value = value.scale(10_000.0);
                scaled = true;
                end += 1;
            }
            Some('k' | 'K') => {
                value = value.scale(1_000.0);
                scaled = true;
                end += 1;
            }
            Some('个') if !run.contains(['万', '千']) => {
                ge = true;
            }
            _ => {}
        }
        if let Some(&(_, c)) = chars.get(end) {
            if matches!(c, '块' | '元') {
                currency = Some("CNY");
                end += 1;
                if chars.get(end).is_some_and(|c| c.1 == '钱') {
                    end += 1;
                }
            } else if c == '美'
                && chars
                    .get(end + 1)
                    .is_some_and(|c| matches!(c.1, '元' | '金'))
            {
                currency = Some("USD");
                end += 2;
            }
        }
        let byte_end = chars.get(end).map_or(text.len(), |c| c.0);
        out.push(Amount {
            value,
            start: chars[i].0,
            end: byte_end,
            currency,
            scaled,
            ge,
        });
        i = end.max(i + 1);
    }
    out
}

/// "30 to 35k", "between 30 and 35 grand", "20到25万", "15-20万": two figures and a joiner
/// become one range; the second figure's scale carries over to an unscaled first.
fn join_ranges(text: &str, amounts: Vec<Amount>) -> Vec<Amount> {
    let mut out: Vec<Amount> = Vec::with_capacity(amounts.len());
    for a in amounts {
        if let Some(prev) = out.last_mut() {
            let gap = text[prev.end..a.start].trim().to_lowercase();
            // The first figure at the second's size: "thirty, thirty-five thousand" is 30,000 beside 35,000.
            let carried = if !prev.scaled && a.scaled {
                prev.value.hi * magnitude(a.value.lo / prev.value.lo.max(1.0))
            } else {
                prev.value.hi
            };
            let joiner = matches!(gap.as_str(), "to" | "-" | "–" | "—" | "and" | "or" | "到" | "至" | "~" | "～" | "或" | "-to-" | "through")
                // "thirty-four, thirty-five", "thirty thirty-five thousand": two close figures
                // said in a row
                || (matches!(gap.as_str(), "," | "/" | "，" | "")
                    && !prev.scaled
                    && a.value.lo <= carried * 1.25);
            let between = gap == "and"
                && text[..prev.start]
                    .to_lowercase()
                    .trim_end()
                    .ends_with("between");
            if joiner && (gap != "and" || between) && a.value.lo >= prev.value.hi {
                let mut lo = prev.value.lo;
                if !prev.scaled && a.scaled {
                    let scale = magnitude(a.value.lo / lo.max(1.0));
                    lo *= scale;
                }
                if lo <= a.value.hi {
                    prev.value = Span { lo, hi: a.value.hi };
                    prev.end = a.end;
                    prev.scaled |= a.scaled;
                    prev.currency = prev.currency.or(a.currency);
                    prev.ge |= a.ge;
                    continue;
                }
            }
        }
        out.push(a);
    }
    out
}

/// The power of ten that brings a bare first figure to the second's size (30 → 30,000 beside 35k).
fn magnitude(ratio: f64) -> f64 {
    let mut k = 1.0;
    while ratio / k >= 5.0 && k < 1e8 {
        k *= 10.0;
    }
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    fn en(text: &str) -> Vec<(f64, f64)> {
        find(text, Language::En)
            .iter()
            .map(|a| (a.value.lo, a.value.hi))
            .collect()
    }
    fn zh(text: &str) -> Vec<(f64, f64)> {
        find(text, Language::Zh)
            .iter()
            .map(|a| (a.value.lo, a.value.hi))
            .collect()
    }

    #[test]
    fn english_amounts() {
        assert_eq!(
            en("fifty-some cents a kilowatt-hour, forty-odd miles"),
            vec![]
        );
        assert_eq!(en("Four hundred's my limit"), vec![(400.0, 400.0)]);
        assert_eq!(en("twelve-foot pipe, six drivers"), vec![]);
        // A model year after a determiner; a price said the same way stays money.
        assert_eq!(en("my two thousand fourteen Elantra"), vec![]);
        assert_eq!(en("two thousand fifteen dollars"), vec![(2_015.0, 2_015.0)]);
        assert_eq!(
            en("around $35,000 out the door"),
            vec![(35_000.0, 35_000.0)]
        );
        assert_eq!(en("like 35k"), vec![(35_000.0, 35_000.0)]);
        assert_eq!(en("thirty-five thousand tops"), vec![(35_000.0, 35_000.0)]);
        assert_eq!(en("between 30 and 35 grand"), vec![(30_000.0, 35_000.0)]);
        assert_eq!(en("30-35k"), vec![(30_000.0, 35_000.0)]);
        assert_eq!(
            en("thirty thirty five thousand"),
            vec![(30_000.0, 35_000.0)]
        );
        assert_eq!(en("thirty, thirty-five grand"), vec![(30_000.0, 35_000.0)]);
        assert_eq!(en("three 2015 civics"), vec![(3.0, 3.0), (2015.0, 2015.0)]);
        assert_eq!(en("a lease thirty six months"), vec![]);
        assert_eq!(en("120k miles, $400/month"), vec![(400.0, 400.0)]);
        assert_eq!(en("no more than 400 a month"), vec![(400.0, 400.0)]);
        assert_eq!(en("about 5 grand down"), vec![(5_000.0, 5_000.0)]);
        assert_eq!(en("somewhere in the high twenties"), vec![(27.0, 30.0)]);
        assert_eq!(en("low 30s"), vec![(30.0, 33.0)]);
        assert_eq!(en("a 2015 civic with 4wd"), vec![(2015.0, 2015.0)]);
        assert_eq!(en("four hundred a month"), vec![(400.0, 400.0)]);
        assert_eq!(
            en("twenty-six nine out the door"),
            vec![(26_900.0, 26_900.0)]
        );
        assert_eq!(en("kbb says eleven five"), vec![(11_500.0, 11_500.0)]);
        assert_eq!(en("four sixty nine a month"), vec![(469.0, 469.0)]);
        assert_eq!(en("500 dollars"), vec![(500.0, 500.0)]);
        let a = &find("$400", Language::En)[0];
        assert_eq!(a.currency, Some("USD"));
    }

    #[test]
    fn chinese_amounts() {
        assert_eq!(zh("预算25万"), vec![(250_000.0, 250_000.0)]);
        assert_eq!(zh("二十五万左右"), vec![(250_000.0, 250_000.0)]);
        assert_eq!(zh("20到25万"), vec![(200_000.0, 250_000.0)]);
        assert_eq!(zh("十五到二十万吧"), vec![(150_000.0, 200_000.0)]);
        assert_eq!(zh("月供三千以内"), vec![(3_000.0, 3_000.0)]);
        assert_eq!(zh("首付五万"), vec![(50_000.0, 50_000.0)]);
        assert_eq!(zh("十几万的车"), vec![(100_000.0, 200_000.0)]);
        assert_eq!(zh("预算30w"), vec![(300_000.0, 300_000.0)]);
        assert_eq!(zh("多少钱"), vec![]);
        assert_eq!(zh("分36个月，三年，十万公里，7座"), vec![]);
        assert_eq!(zh("月供三千，分24期"), vec![(3_000.0, 3_000.0)]);
        assert_eq!(zh("L8 Pro落地得多少？A6L还是5系，ID.3呢"), vec![]);
        let ge = &find("不超过18个", Language::Zh)[0];
        assert!(ge.ge && !ge.scaled);
        let yuan = &find("三千块钱", Language::Zh)[0];
        assert_eq!(yuan.currency, Some("CNY"));
    }
}
