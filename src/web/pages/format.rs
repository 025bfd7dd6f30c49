//! Small formatting shared by the pages: amounts, durations, time stamps and tag names.

use super::i18n::{Lang, Tr};
use crate::config::Taxonomy;
use crate::conversation::Language;

/// `12345.6` → `12,346`: whole units with thousands separators (amounts on pages are
/// estimates; cents would suggest a precision the analysis does not have).
pub fn amount(value: f64) -> String {
    if !value.is_finite() {
        return "—".into();
    }
    let whole = value.round().abs() as u64;
    let digits = whole.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if value < -0.5 {
        out.insert(0, '-');
    }
    out
}

/// A short amount for a chart's labels: `950`, `4.5k`, `1.2M`.
pub fn compact(value: f64) -> String {
    let v = value.abs();
    let sign = if value < 0.0 { "-" } else { "" };
    if v >= 1e6 {
        format!("{sign}{:.1}M", v / 1e6)
    } else if v >= 1e3 {
        format!("{sign}{:.1}k", v / 1e3)
    } else {
        format!("{sign}{v:.0}")
    }
}

/// `CNY 200,000` / `CNY 180,000–220,000`.
pub fn money(currency: &str, min: Option<f64>, max: Option<f64>) -> String {
    match (min, max) {
        (Some(a), Some(b)) if (a - b).abs() >= 0.5 => {
            format!("{currency} {}–{}", amount(a), amount(b))
        }
        (Some(a), _) | (None, Some(a)) => format!("{currency} {}", amount(a)),
        (None, None) => "—".into(),
    }
}

/// Seconds as `m:ss` (or `h:mm:ss`).
pub fn clock(seconds: f64) -> String {
    if !seconds.is_finite() || seconds < 0.0 {
        return "—".into();
    }
    let s = seconds.floor() as u64;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// What the pages call labels: the taxonomy's name in the page's language, else the id made
/// readable (a label added to the taxonomy without names still reads sensibly).
#[derive(Clone, Copy)]
pub struct LabelNames<'a> {
    taxonomy: &'a Taxonomy,
    language: Language,
}

impl<'a> LabelNames<'a> {
    pub fn new(taxonomy: &'a Taxonomy, tr: Tr) -> Self {
        let language = match tr.lang {
            Lang::En => Language::En,
            Lang::ZhCn => Language::Zh,
        };
        LabelNames { taxonomy, language }
    }

    pub fn name(&self, id: &str) -> String {
        self.taxonomy
            .name(id, self.language)
            .map_or_else(|| label(id), str::to_string)
    }
}

/// A tag or signal id as people read it: `psy.price_sensitive` → `price sensitive`,
/// `fact.budget_band.30k_40k` → `budget band 30k 40k`.
fn label(id: &str) -> String {
    id.split_once('.')
        .map_or(id, |(_, rest)| rest)
        .replace(['_', '.'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_and_times_read_naturally() {
        assert_eq!(amount(1234567.4), "1,234,567");
        assert_eq!(amount(999.0), "999");
        assert_eq!(amount(-2500.0), "-2,500");
        assert_eq!(
            money("CNY", Some(180000.0), Some(220000.0)),
            "CNY 180,000–220,000"
        );
        assert_eq!(money("USD", None, Some(30000.0)), "USD 30,000");
        assert_eq!(clock(65.9), "1:05");
        assert_eq!(clock(3725.0), "1:02:05");
        assert_eq!(label("psy.price_sensitive"), "price sensitive");
        assert_eq!(label("budget"), "budget");
        assert_eq!(label("fact.budget_band.30k_40k"), "budget band 30k 40k");
        let taxonomy: crate::config::Taxonomy = toml::from_str(
            "preferences = []\nobjections = []\nintents = []\nfacts = []\nroles = []\n\
             valued = []\n[tags]\nfact = []\npsychological = []\nbehavioral = []\n\
             [names.zh]\n\"psy.hesitant\" = \"犹豫\"\n",
        )
        .unwrap();
        let zh = LabelNames::new(&taxonomy, Tr { lang: Lang::ZhCn });
        assert_eq!(zh.name("psy.hesitant"), "犹豫");
        assert_eq!(zh.name("psy.decisive"), "decisive");
        let en = LabelNames::new(&taxonomy, Tr { lang: Lang::En });
        assert_eq!(en.name("psy.hesitant"), "hesitant");
        assert_eq!(compact(4500.0), "4.5k");
        assert_eq!(compact(1_250_000.0), "1.2M");
        assert_eq!(compact(950.0), "950");
    }
}
