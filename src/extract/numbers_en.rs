//! English spoken numbers: "thirty-five", "a hundred and twenty", "twelve hundred",
//! "five-fifty" (550, as prices are said), "two point five".

/// Parses number words at the start of `words`; returns the value and how many words it used.
pub fn parse_words(words: &[&str]) -> Option<(f64, usize)> {
    let mut total = 0.0f64;
    let mut current = 0.0f64;
    let mut used = 0;
    let mut any = false;
    let mut last_small: Option<f64> = None; // for "five fifty" = 550
    let mut i = 0;
    while i < words.len() {
        let w = words[i];
        if w == "and" && any && i + 1 < words.len() && small(words[i + 1]).is_some() {
            i += 1;
            continue;
        }
        if (w == "a" || w == "an") && !any {
            // "a hundred", "a thousand"
            if i + 1 < words.len() && matches!(words[i + 1], "hundred" | "thousand" | "million") {
                current = 1.0;
                any = true;
                i += 1;
                used = i;
                continue;
            }
            break;
        }
        if w == "point" && any && i + 1 < words.len() {
            if let Some(d) = small(words[i + 1]).filter(|d| *d < 10.0) {
                current += d / 10.0;
                i += 2;
                used = i;
                continue;
            }
            break;
        }
        if let Some(v) = small(w) {
            match last_small {
                // "five fifty" / "four sixty": hundreds and tens, as prices are spoken.
                Some(prev) if prev < 10.0 && v >= 10.0 && current == prev => {
                    current = prev * 100.0 + v
                }
                // "thirty five"
                Some(prev)
                    if prev >= 20.0
                        && prev % 10.0 == 0.0
                        && v < 10.0
                        && current % 100.0 == prev =>
                {
                    current += v
                }
                Some(_) => break,
                None => current += v,
            }
            last_small = Some(v);
        } else if w == "hundred" && any {
            current = if current == 0.0 {
                100.0
            } else {
                current * 100.0
            };
            last_small = None;
        } else if let Some(scale) = scale(w).filter(|_| any) {
            total += current.max(1.0) * scale;
            current = 0.0;
            last_small = None;
        } else {
            break;
        }
        any = true;
        i += 1;
        used = i;
    }
    any.then_some((total + current, used))
}

fn scale(w: &str) -> Option<f64> {
    Some(match w {
        "thousand" | "grand" | "k" => 1_000.0,
        "million" => 1_000_000.0,
        _ => return None,
    })
}

pub fn small(w: &str) -> Option<f64> {
    Some(match w {
        "zero" | "oh" => 0.0,
        "one" => 1.0,
        "two" => 2.0,
        "three" => 3.0,
        "four" => 4.0,
        "five" => 5.0,
        "six" => 6.0,
        "seven" => 7.0,
        "eight" => 8.0,
        "nine" => 9.0,
        "ten" => 10.0,
        "eleven" => 11.0,
        "twelve" => 12.0,
        "thirteen" => 13.0,
        "fourteen" => 14.0,
        "fifteen" => 15.0,
        "sixteen" => 16.0,
        "seventeen" => 17.0,
        "eighteen" => 18.0,
        "nineteen" => 19.0,
        "twenty" => 20.0,
        "thirty" => 30.0,
        "forty" | "fourty" => 40.0,
        "fifty" => 50.0,
        "sixty" => 60.0,
        "seventy" => 70.0,
        "eighty" => 80.0,
        "ninety" => 90.0,
        _ => return None,
    })
}

/// "twenties" → 20: decades, for "high twenties", "low thirties".
pub fn decade(w: &str) -> Option<f64> {
    Some(match w {
        "teens" => 10.0,
        "twenties" => 20.0,
        "thirties" => 30.0,
        "forties" => 40.0,
        "fifties" => 50.0,
        "sixties" => 60.0,
        "seventies" => 70.0,
        "eighties" => 80.0,
        "nineties" => 90.0,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Option<(f64, usize)> {
        let words: Vec<&str> = s.split([' ', '-']).filter(|w| !w.is_empty()).collect();
        parse_words(&words)
    }

    #[test]
    fn table() {
        let cases: &[(&str, f64, usize)] = &[
            ("thirty-five thousand", 35_000.0, 3),
            ("thirty five grand", 35_000.0, 3),
            ("four hundred", 400.0, 2),
            ("a hundred and twenty", 120.0, 4),
            ("twelve hundred", 1_200.0, 2),
            ("five-fifty", 550.0, 2),
            ("four sixty", 460.0, 2),
            ("two point five", 2.5, 3),
            ("a thousand", 1_000.0, 2),
            ("five grand down", 5_000.0, 2),
            ("forty thousand dollars", 40_000.0, 2),
            ("one hundred fifty thousand", 150_000.0, 4),
            ("seventy two month", 72.0, 2),
            ("twenty", 20.0, 1),
            ("three hundred and fifty", 350.0, 4),
        ];
        for &(text, value, used) in cases {
            assert_eq!(p(text), Some((value, used)), "{text}");
        }
        assert_eq!(p("and then"), None);
        assert_eq!(p("a car"), None);
        assert_eq!(p("five six"), Some((5.0, 1)));
    }
}
