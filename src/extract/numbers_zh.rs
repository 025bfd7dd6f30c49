//! Chinese numerals as people say prices: 二十五万, 两万五, 十万零一千, 九万九千八, 1.5万,
//! 2万5, 十几万 (a range), 二三十万 (a range), 二十多万.

/// A number that may be vague: `lo == hi` for an exact figure.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Span {
    pub lo: f64,
    pub hi: f64,
}

impl Span {
    pub fn exact(v: f64) -> Self {
        Span { lo: v, hi: v }
    }
    pub fn scale(self, k: f64) -> Self {
        Span {
            lo: self.lo * k,
            hi: self.hi * k,
        }
    }
    pub fn is_exact(&self) -> bool {
        self.lo == self.hi
    }
}

fn digit(c: char) -> Option<f64> {
    Some(match c {
        '零' | '〇' => 0.0,
        '一' | '壹' => 1.0,
        '二' | '两' | '贰' | '俩' => 2.0,
        '三' | '叁' => 3.0,
        '四' | '肆' => 4.0,
        '五' | '伍' => 5.0,
        '六' | '陆' => 6.0,
        '七' | '柒' => 7.0,
        '八' | '捌' => 8.0,
        '九' | '玖' => 9.0,
        _ => return None,
    })
}

fn unit(c: char) -> Option<f64> {
    Some(match c {
        '十' | '拾' => 10.0,
        '百' | '佰' => 100.0,
        '千' | '仟' => 1_000.0,
        '万' | '萬' => 10_000.0,
        '亿' => 100_000_000.0,
        _ => return None,
    })
}

/// Characters that can belong to a spoken number (the caller finds runs of them).
pub fn is_numeral_char(c: char) -> bool {
    c.is_ascii_digit()
        || digit(c).is_some()
        || unit(c).is_some()
        || matches!(c, '几' | '多' | '来' | '点')
}

/// Parses one run such as `二十五万`, `2万5`, `1.5万`, `十几万`. `None` when it is not a number
/// (a lone `多` or `来`, or an over-long run of units).
pub fn parse(run: &str) -> Option<Span> {
    let chars: Vec<char> = run.chars().collect();
    if chars.is_empty()
        || !chars
            .iter()
            .any(|&c| c.is_ascii_digit() || digit(c).is_some() || unit(c).is_some())
    {
        return None;
    }
    // Two paths in step: the low and high reading of vague digits (几, 多, 二三).
    let (mut total, mut section) = ((0.0, 0.0), (0.0, 0.0));
    let mut pending: Option<(f64, f64)> = None;
    let mut last_unit = 1.0f64;
    let mut zero_seen = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_digit() {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_digit()
                    || (matches!(chars[i], '.' | '点')
                        && i + 1 < chars.len()
                        && chars[i + 1].is_ascii_digit()))
            {
                i += 1;
            }
            let text: String = chars[start..i]
                .iter()
                .map(|&c| if c == '点' { '.' } else { c })
                .collect();
            let v: f64 = text.parse().ok()?;
            pending = Some((v, v));
            continue;
        }
        if let Some(d) = digit(c) {
            if d == 0.0 {
                // 十万零一千: 零 only marks a gap; the digit after it is not scaled down.
                zero_seen = true;
                if pending.is_none() && (section != (0.0, 0.0) || total != (0.0, 0.0)) {
                    i += 1;
                    continue;
                }
            }
            pending = match pending {
                // 二三十 / 五六千: two neighbouring digits are a range.
                Some((lo, _)) if d == lo + 1.0 => Some((lo, d)),
                // 一点五万: a decimal point spoken out.
                _ => Some((d, d)),
            };
            if i >= 2 && chars[i - 1] == '点' {
                if let Some(prev) = digit(chars[i - 2]) {
                    pending = Some((prev + d / 10.0, prev + d / 10.0));
                }
            }
        } else if c == '几' || c == '多' {
            // 十几 / 二十多: some more of the unit just below; 几万 alone: a few.
            // 十几万 is read as 10万 to 20万, the way people mean a band.
            let (lo, hi) = if section == (0.0, 0.0) && total == (0.0, 0.0) && pending.is_none() {
                (1.0, 9.0)
            } else {
                (0.0, 10.0)
            };
            if c == '多' && i + 1 == chars.len() {
                // 三万多: above the figure, by less than its last unit.
                if let Some((lo, hi)) = pending.take() {
                    section = (section.0 + lo, section.1 + hi);
                }
                total = (total.0, total.1 + last_unit);
            } else {
                pending = Some((lo, hi));
            }
        } else if c == '来' || c == '点' {
            // 十来万 is "about 10万": the figure stands. 点 was handled with its digits.
        } else if let Some(u) = unit(c) {
            let (lo, hi) =
                pending
                    .take()
                    .unwrap_or(if u == 10.0 { (1.0, 1.0) } else { (0.0, 0.0) });
            if u >= 10_000.0 {
                let (slo, shi) = (section.0 + lo, section.1 + hi);
                let (slo, shi) = if slo == 0.0 && shi == 0.0 {
                    (1.0, 1.0)
                } else {
                    (slo, shi)
                };
                total = (total.0 + slo * u, total.1 + shi * u);
                section = (0.0, 0.0);
            } else {
                let (lo, hi) = if lo == 0.0 && hi == 0.0 {
                    (1.0, 1.0)
                } else {
                    (lo, hi)
                };
                section = (section.0 + lo * u, section.1 + hi * u);
            }
            last_unit = u;
            zero_seen = false;
        } else {
            return None;
        }
        i += 1;
    }
    if let Some((lo, hi)) = pending {
        // 两万五 = 25000: a bare digit after a unit means the next unit down.
        let k = if !zero_seen && last_unit >= 100.0 && lo.fract() == 0.0 && hi <= 10.0 {
            last_unit / 10.0
        } else {
            1.0
        };
        section = (section.0 + lo * k, section.1 + hi * k);
    }
    let span = Span {
        lo: total.0 + section.0,
        hi: total.1 + section.1,
    };
    (span.hi > 0.0 || span.lo == 0.0 && chars.iter().any(|&c| c == '零' || c == '0'))
        .then_some(span)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let cases: &[(&str, f64, f64)] = &[
            ("25万", 250_000.0, 250_000.0),
            ("二十五万", 250_000.0, 250_000.0),
            ("两万五", 25_000.0, 25_000.0),
            ("三千五", 3_500.0, 3_500.0),
            ("一百二", 120.0, 120.0),
            ("一百二十", 120.0, 120.0),
            ("十万", 100_000.0, 100_000.0),
            ("十万五", 105_000.0, 105_000.0),
            ("十万零一千", 101_000.0, 101_000.0),
            ("九万九千八", 99_800.0, 99_800.0),
            ("1.5万", 15_000.0, 15_000.0),
            ("一点五万", 15_000.0, 15_000.0),
            ("2万5", 25_000.0, 25_000.0),
            ("十几万", 100_000.0, 200_000.0),
            ("二十几万", 200_000.0, 300_000.0),
            ("二十多万", 200_000.0, 300_000.0),
            ("二三十万", 200_000.0, 300_000.0),
            ("五六千", 5_000.0, 6_000.0),
            ("首", f64::NAN, f64::NAN),
            ("三千", 3_000.0, 3_000.0),
            ("五万", 50_000.0, 50_000.0),
            ("一万二", 12_000.0, 12_000.0),
            ("两千", 2_000.0, 2_000.0),
            ("十", 10.0, 10.0),
            ("十五", 15.0, 15.0),
            ("一百万", 1_000_000.0, 1_000_000.0),
            ("1亿", 100_000_000.0, 100_000_000.0),
            ("三十万", 300_000.0, 300_000.0),
            ("18", 18.0, 18.0),
            ("一千零五十", 1_050.0, 1_050.0),
            ("几万", 10_000.0, 90_000.0),
        ];
        for &(text, lo, hi) in cases {
            let got = parse(text);
            if lo.is_nan() {
                assert_eq!(got, None, "{text}");
            } else {
                assert_eq!(got, Some(Span { lo, hi }), "{text}");
            }
        }
    }
}
