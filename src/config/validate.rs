//! Cross-checks a merged pipeline against its own taxonomy, so a typo in a rule is an error
//! at start-up rather than a label that silently never fires.

use std::collections::HashSet;

use super::{Condition, ConfigError, Origin, PipelineConfig};
use crate::analysis::{Stage, TagCategory};
use crate::conversation::Language;
use crate::profile::customer::{GONE_QUIET, REPEAT_VISIT};
use crate::profile::metrics::METRIC_NAMES;

/// Names a condition may use besides the taxonomy's ids.
pub const DERIVED_NAMES: &[&str] = &[
    "budget",
    "budget.total",
    "budget.monthly",
    "budget.down",
    "companion",
    // Customer records only (src/profile/customer.rs).
    crate::profile::customer::WON,
    crate::profile::customer::LOST,
];

pub fn validate(c: &PipelineConfig) -> Result<(), ConfigError> {
    let file = c.path.display().to_string();
    let at = |entry: String| Origin {
        file: file.clone(),
        entry,
    };
    let invalid = |origin: Origin, reason: String| Err(ConfigError::Invalid { origin, reason });

    for lang in [Language::En, Language::Zh] {
        if !c.languages.contains_key(&lang) {
            return invalid(
                at(format!("language.{lang:?}").to_lowercase()),
                "missing: both en and zh lexicons are required".into(),
            );
        }
    }
    for (lang, code) in &c.pipeline.default_currency {
        if !is_currency(code) {
            return invalid(
                at(format!("pipeline.default_currency.{lang}")),
                format!("`{code}` is not an ISO 4217 code"),
            );
        }
    }

    let t = &c.taxonomy;
    let mut labels = HashSet::new();
    for id in t
        .preferences
        .iter()
        .chain(&t.objections)
        .chain(&t.intents)
        .chain(&t.cues)
    {
        if !labels.insert(id.as_str()) {
            return invalid(
                at("taxonomy".into()),
                format!("label `{id}` is listed twice"),
            );
        }
    }
    let tag_ids: HashSet<&str> = t
        .tags
        .fact
        .iter()
        .chain(&t.tags.psychological)
        .chain(&t.tags.behavioral)
        .map(String::as_str)
        .collect();
    let mut known: HashSet<&str> = labels.clone();
    known.extend(t.facts.iter().map(String::as_str));
    known.extend(t.roles.iter().map(String::as_str));
    known.extend(tag_ids.iter().copied());
    known.extend(DERIVED_NAMES.iter().copied());
    for v in &t.valued {
        if !labels.contains(v.as_str()) {
            return invalid(at("taxonomy.valued".into()), format!("unknown label `{v}`"));
        }
    }
    for (lang, names) in &t.names {
        for id in names.keys() {
            if !known.contains(id.as_str()) || DERIVED_NAMES.contains(&id.as_str()) {
                return invalid(
                    at(format!("taxonomy.names.{}", lang.code())),
                    format!("`{id}` is not a label of the taxonomy"),
                );
            }
        }
    }

    let check = |origin: &Origin, when: &Condition| -> Result<(), ConfigError> {
        for name in when.any.iter().chain(&when.all).chain(&when.none) {
            if !known.contains(name.as_str()) {
                return invalid(
                    origin.clone(),
                    format!("unknown signal `{name}` (not in the taxonomy)"),
                );
            }
        }
        for metric in when.metrics.keys() {
            if !METRIC_NAMES.contains(&metric.as_str()) {
                return invalid(
                    origin.clone(),
                    format!(
                        "unknown metric `{metric}` (known: {})",
                        METRIC_NAMES.join(", ")
                    ),
                );
            }
        }
        if let Some(n) = when.at_least {
            if n == 0 || n > when.any.len() {
                return invalid(
                    origin.clone(),
                    format!("at_least = {n} but `any` lists {}", when.any.len()),
                );
            }
        }
        Ok(())
    };

    let make_ids: HashSet<&str> = c.makes.iter().map(|m| m.id.as_str()).collect();
    for m in &c.models {
        if !make_ids.contains(m.make.as_str()) {
            return invalid(m.origin.clone(), format!("unknown make `{}`", m.make));
        }
        for (field, value, prefix) in [
            ("body", &m.body, "pref.body."),
            ("powertrain", &m.powertrain, "pref.powertrain."),
        ] {
            if let Some(v) = value {
                if !labels.contains(format!("{prefix}{v}").as_str()) {
                    return invalid(
                        m.origin.clone(),
                        format!("{field} `{v}` has no label {prefix}{v}"),
                    );
                }
            }
        }
        match (&m.price, &m.currency) {
            (Some(p), _) if !(p.is_finite() && *p > 0.0) => {
                return invalid(m.origin.clone(), "price must be positive".into())
            }
            (Some(_), None) => return invalid(m.origin.clone(), "a price needs a currency".into()),
            (_, Some(cur)) if !is_currency(cur) => {
                return invalid(m.origin.clone(), format!("`{cur}` is not an ISO 4217 code"))
            }
            _ => {}
        }
    }
    for d in &c.dealership.makes {
        if !make_ids.contains(d.as_str()) {
            return invalid(at("dealership.makes".into()), format!("unknown make `{d}`"));
        }
    }

    for r in &c.rules {
        if !labels.contains(r.label.as_str()) {
            return invalid(
                r.origin.clone(),
                format!("unknown label `{}` (not in the taxonomy)", r.label),
            );
        }
        if r.patterns.is_empty() && r.prompts.is_empty() {
            return invalid(r.origin.clone(), "needs patterns or prompts".into());
        }
        if !(0.0..=1.0).contains(&r.confidence) {
            return invalid(
                r.origin.clone(),
                format!("confidence {} is outside [0, 1]", r.confidence),
            );
        }
    }
    for f in &c.facts {
        if !t.facts.contains(&f.key) {
            return invalid(f.origin.clone(), format!("unknown fact `{}`", f.key));
        }
    }
    for r in &c.roles {
        if !t.roles.contains(&r.id) {
            return invalid(r.origin.clone(), format!("unknown role `{}`", r.id));
        }
        if let Some(by) = r.subsumed_by.iter().find(|by| !t.roles.contains(by)) {
            return invalid(
                r.origin.clone(),
                format!("unknown role `{by}` in subsumed_by"),
            );
        }
    }
    for tag in &c.tags {
        let listed = match tag.category {
            TagCategory::Fact => &t.tags.fact,
            TagCategory::Psychological => &t.tags.psychological,
            TagCategory::Behavioral => &t.tags.behavioral,
        };
        if !listed.contains(&tag.id) {
            return invalid(
                tag.origin.clone(),
                format!(
                    "tag `{}` is not a {:?} tag of the taxonomy",
                    tag.id, tag.category
                ),
            );
        }
        check(&tag.origin, &tag.when)?;
    }
    for b in &c.budget_bands {
        if !t.tags.fact.contains(&b.tag) {
            return invalid(
                b.origin.clone(),
                format!("`{}` is not a fact tag of the taxonomy", b.tag),
            );
        }
        if !is_currency(&b.currency) || b.min.partial_cmp(&b.max) != Some(std::cmp::Ordering::Less)
        {
            return invalid(
                b.origin.clone(),
                "needs an ISO currency and min < max".into(),
            );
        }
    }

    let p = &c.priority;
    if !(p.hot_at > p.warm_at && p.base.is_finite()) {
        return invalid(
            at("priority".into()),
            format!(
                "hot_at ({}) must be above warm_at ({})",
                p.hot_at, p.warm_at
            ),
        );
    }
    for (i, w) in p.weights.iter().enumerate() {
        let origin = at(format!("priority.weight #{} ({})", i + 1, w.signal));
        if !known.contains(w.signal.as_str()) {
            return invalid(origin, format!("unknown signal `{}`", w.signal));
        }
        if !w.points.is_finite() || w.points.abs() > 100.0 {
            return invalid(
                origin,
                format!("points {} must be a number between -100 and 100", w.points),
            );
        }
    }
    for (i, r) in p.tier_rules.iter().enumerate() {
        check(&at(format!("priority.tier_rule #{}", i + 1)), &r.when)?;
    }
    for (i, a) in c.next_actions.iter().enumerate() {
        let origin = at(format!("next_action #{}", i + 1));
        check(&origin, &a.when)?;
        if a.due_days < 0 {
            return invalid(origin, "due_days must not be negative".into());
        }
    }

    let f = &c.forecast;
    for (i, s) in f.stages.iter().enumerate() {
        check(&at(format!("forecast.stage #{}", i + 1)), &s.when)?;
    }
    for (stage, p) in &f.p30 {
        if !Stage::ALL.iter().any(|s| s.name() == stage) || !(0.0..=1.0).contains(p) {
            return invalid(
                at(format!("forecast.p30.{stage}")),
                "needs a known stage and a probability in [0, 1]".into(),
            );
        }
    }
    for stage in Stage::ALL.map(Stage::name) {
        if !f.p30.contains_key(stage) {
            return invalid(
                at("forecast.p30".into()),
                format!("no probability for stage `{stage}`"),
            );
        }
    }
    if !(0.0..=1.0).contains(&f.score_influence)
        || f.months_for_monthly.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater)
    {
        return invalid(
            at("forecast".into()),
            "score_influence must be in [0, 1] and months_for_monthly positive".into(),
        );
    }

    let pr = &c.profile;
    if pr.gone_quiet_days == 0 {
        return invalid(
            at("profile.gone_quiet_days".into()),
            "must be at least 1".into(),
        );
    }
    for id in &pr.resolvable {
        if !labels.contains(id.as_str()) {
            return invalid(
                at("profile.resolvable".into()),
                format!("unknown label `{id}` (not in the taxonomy)"),
            );
        }
    }
    // The profile gives these tags itself, from the visits' dates.
    for tag in [GONE_QUIET, REPEAT_VISIT] {
        if !t.tags.behavioral.iter().any(|b| b == tag) {
            return invalid(
                at("taxonomy.tags.behavioral".into()),
                format!("`{tag}` is missing (customer profiles give it)"),
            );
        }
    }

    let a = &c.asr;
    if a.model.trim().is_empty() || a.model.contains('\0') {
        return invalid(
            at("asr.model".into()),
            "needs a model name or a path".into(),
        );
    }
    if a.threads.is_some_and(|t| !(1..=64).contains(&t)) {
        return invalid(at("asr.threads".into()), "must be 1..=64".into());
    }
    if a.max_fallbacks > 5 {
        return invalid(at("asr.max_fallbacks".into()), "must be 0..=5".into());
    }
    if a.initial_prompt_zh.contains('\0') {
        return invalid(
            at("asr.initial_prompt_zh".into()),
            "contains a NUL byte".into(),
        );
    }
    if a.max_duration_s == 0 {
        return invalid(at("asr.max_duration_s".into()), "must be positive".into());
    }
    let att = &a.attribution;
    let positive = att.pause_s.is_finite() && att.pause_s > 0.0;
    let above_one = att.channel_ratio.is_finite() && att.channel_ratio > 1.0;
    if !(positive && above_one) {
        return invalid(
            at("asr.attribution".into()),
            "pause_s must be positive and channel_ratio above 1".into(),
        );
    }
    if !(att.split_pause_s.is_finite() && att.split_pause_s > 0.0) {
        return invalid(
            at("asr.attribution.split_pause_s".into()),
            "must be a positive number of seconds".into(),
        );
    }
    if !(2..=3).contains(&att.max_speakers) {
        return invalid(
            at("asr.attribution.max_speakers".into()),
            "must be 2 or 3".into(),
        );
    }
    let similarity = |v: f32| v.is_finite() && v > 0.0 && v <= 1.0;
    if !similarity(att.same_voice_similarity) || !similarity(att.companion_max_similarity) {
        return invalid(
            at("asr.attribution".into()),
            "same_voice_similarity and companion_max_similarity must be in (0, 1]".into(),
        );
    }
    if !(att.companion_min_share.is_finite() && (0.0..1.0).contains(&att.companion_min_share)) {
        return invalid(
            at("asr.attribution.companion_min_share".into()),
            "must be in [0, 1)".into(),
        );
    }
    validate_classifier(c)
}

fn validate_classifier(c: &PipelineConfig) -> Result<(), ConfigError> {
    let k = &c.classifier;
    let invalid = |entry: &str, reason: String| {
        Err(ConfigError::Invalid {
            origin: Origin {
                file: c.path.display().to_string(),
                entry: format!("classifier.{entry}"),
            },
            reason,
        })
    };
    let t = &c.taxonomy;
    let is_signal =
        |l: &String| t.preferences.contains(l) || t.objections.contains(l) || t.intents.contains(l);
    let mut lists = vec![
        ("rules_only".to_string(), &k.rules_only),
        ("veto".to_string(), &k.veto),
    ];
    for (lang, labels) in &k.veto_by_language {
        lists.push((format!("veto_by_language.{}", lang.code()), labels));
    }
    for (entry, labels) in &lists {
        if let Some(l) = labels.iter().find(|l| !is_signal(l)) {
            return invalid(
                entry,
                format!("`{l}` is not a preference, objection or intent"),
            );
        }
        if entry.starts_with("veto") {
            if let Some(l) = labels.iter().find(|l| k.rules_only.contains(l)) {
                return invalid(
                    entry,
                    format!(
                        "`{l}` is also in rules_only: the classifier cannot both ignore and veto it"
                    ),
                );
            }
        }
    }
    for (label, threshold) in &k.thresholds {
        if !is_signal(label) && !t.roles.contains(label) {
            return invalid(
                "thresholds",
                format!("`{label}` is not a preference, objection, intent or decision role"),
            );
        }
        if !(*threshold > 0.0 && *threshold <= 1.0) {
            return invalid("thresholds", format!("`{label}`: must be in (0, 1]"));
        }
    }
    if !(1..=1024).contains(&k.batch) {
        return invalid("batch", "must be 1..=1024".into());
    }
    if k.session_timeout_s == 0 {
        return invalid("session_timeout_s", "must be positive".into());
    }
    if !(k.max_salesperson > 0.0 && k.max_salesperson <= 1.0) {
        return invalid("max_salesperson", "must be in (0, 1]".into());
    }
    if !(0.0..=1.0).contains(&k.min_threshold) {
        return invalid("min_threshold", "must be in [0, 1]".into());
    }
    if !(0.0..=1.0).contains(&k.min_role_threshold) {
        return invalid("min_role_threshold", "must be in [0, 1]".into());
    }
    let by_language = [
        ("min_threshold_by_language", &k.min_threshold_by_language),
        (
            "min_role_threshold_by_language",
            &k.min_role_threshold_by_language,
        ),
    ];
    for (entry, floors) in by_language {
        for (lang, floor) in floors {
            if !(0.0..=1.0).contains(floor) {
                return invalid(entry, format!("`{}`: must be in [0, 1]", lang.code()));
            }
        }
    }
    for (lang, floors) in &k.min_threshold_by_label {
        for (label, floor) in floors {
            let entry = "min_threshold_by_label";
            if !is_signal(label) {
                return invalid(
                    entry,
                    format!(
                        "`{}`: `{label}` is not a preference, objection or intent",
                        lang.code()
                    ),
                );
            }
            if !(0.0..=1.0).contains(floor) {
                return invalid(
                    entry,
                    format!("`{}`: `{label}` must be in [0, 1]", lang.code()),
                );
            }
        }
    }
    if !(0.0..1.0).contains(&k.drop_rules_below) {
        return invalid("drop_rules_below", "must be in [0, 1)".into());
    }
    for (lang, floor) in &k.drop_rules_below_by_language {
        if !(0.0..1.0).contains(floor) {
            return invalid(
                "drop_rules_below_by_language",
                format!("`{}`: must be in [0, 1)", lang.code()),
            );
        }
    }
    if k.heads_dir.trim().is_empty() || k.heads_dir.contains('\0') {
        return invalid("heads_dir", "needs a directory".into());
    }
    Ok(())
}

fn is_currency(code: &str) -> bool {
    code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> PipelineConfig {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/dealership.toml");
        PipelineConfig::load(&path).expect("the shipped pipeline loads")
    }

    fn reason(c: &PipelineConfig) -> String {
        validate(c).expect_err("invalid").to_string()
    }

    #[test]
    fn profile_settings_are_checked() {
        let mut c = shipped();
        c.profile.gone_quiet_days = 0;
        assert!(reason(&c).contains("profile.gone_quiet_days"));

        let mut c = shipped();
        c.profile.resolvable.push("intent.brwosing".into());
        assert!(reason(&c).contains("unknown label `intent.brwosing`"));
    }
}
