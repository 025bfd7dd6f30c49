//! The pipeline file: validated on load with errors naming the file and entry, extendable
//! without a rebuild, and holding every label id of the product contract.

mod common;

use common::*;
use dealerscope::config::PipelineConfig;
use dealerscope::conversation::Language;
use dealerscope::pipeline::{AnalyzeOptions, Pipeline};

/// A pipeline that includes the shipped one and adds `extra`.
fn extended(extra: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let body = format!(
        "include = [{:?}]\n{extra}",
        pipeline_path().display().to_string()
    );
    write_temp("store.toml", body.as_bytes())
}

fn load_error(extra: &str) -> String {
    let (_dir, path) = extended(extra);
    match Pipeline::load(&path) {
        Ok(_) => panic!("pipeline with {extra:?} was accepted"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn shipped_pipeline_loads() {
    let p = Pipeline::load(&pipeline_path()).expect("shipped pipeline is valid");
    assert!(p
        .stage_names()
        .starts_with(&["transcribe", "transcript", "speaker_roles"]));
}

#[test]
fn unknown_label_names_file_and_entry() {
    let e =
        load_error("[[rule]]\nlabel = \"pref.body.suvv\"\nlang = \"en\"\npatterns = ['suvv']\n");
    assert!(
        e.contains("store.toml")
            && e.contains("rule #1 (pref.body.suvv)")
            && e.contains("unknown label"),
        "{e}"
    );
}

#[test]
fn rule_naming_a_missing_signal_is_an_error() {
    let e = load_error(
        "[[tag]]\nid = \"psy.hesitant\"\ncategory = \"psychological\"\nany = [\"intent.maybe\"]\n",
    );
    assert!(
        e.contains("tag #1 (psy.hesitant)") && e.contains("intent.maybe"),
        "{e}"
    );
    let e = load_error("[[tag]]\nid = \"psy.hesitant\"\ncategory = \"psychological\"\nmetrics = { talk_time = { min = 1 } }\n");
    assert!(e.contains("unknown metric `talk_time`"), "{e}");
}

#[test]
fn malformed_weight_and_regex_are_errors() {
    let e = load_error(
        "[[rule]]\nlabel = \"pref.body.suv\"\nlang = \"en\"\npatterns = ['(unclosed']\n",
    );
    assert!(
        e.contains("rule #1 (pref.body.suv)") && e.contains("bad pattern"),
        "{e}"
    );
    let (_dir, path) = write_temp("p.toml", b"[priority]\nbase = \"lots\"\n");
    let e = PipelineConfig::load(&path).unwrap_err().to_string();
    assert!(e.contains("p.toml") && e.contains("base"), "{e}");
    let e = load_error(
        "[[rule]]\nlabel = \"pref.body.suv\"\nlang = \"en\"\npatterns = ['x']\nconfidence = 7\n",
    );
    assert!(e.contains("confidence 7"), "{e}");
}

#[test]
fn a_section_set_twice_and_unknown_stage_are_errors() {
    let e = load_error("[priority]\nbase = 1\nhot_at = 2\nwarm_at = 1\n");
    assert!(e.contains("`priority` is set again"), "{e}");
    let (_dir, path) = write_temp("cycle.toml", b"include = [\"cycle.toml\"]\n");
    assert!(PipelineConfig::load(&path)
        .unwrap_err()
        .to_string()
        .contains("includes itself"));
}

#[test]
fn a_dealership_adds_a_model_without_rebuilding() {
    let extra = "[[model]]\nname = \"Zephyr X9\"\nmake = \"toyota\"\naliases = [\"zephyr\"]\nbody = \"suv\"\n";
    let (_dir, path) = extended(extra);
    let pipeline = Pipeline::load(&path).unwrap();
    let a = pipeline
        .analyze_text(
            "t.txt",
            "Salesperson: Welcome to Toyota!\nCustomer: I came to see the Zephyr.\n",
            &AnalyzeOptions::default(),
        )
        .unwrap();
    assert!(a
        .preferences
        .iter()
        .any(|p| p.id == "pref.model" && p.value.as_deref() == Some("Zephyr X9")));
}

#[test]
fn a_weight_change_moves_the_score() {
    let text = "Salesperson: Hi\nCustomer: Can I test drive it?\n";
    let base = Pipeline::load(&pipeline_path())
        .unwrap()
        .analyze_text("t.txt", text, &AnalyzeOptions::default())
        .unwrap();
    let mut config = PipelineConfig::load(&pipeline_path()).unwrap();
    for w in config
        .priority
        .weights
        .iter_mut()
        .filter(|w| w.signal == "intent.test_drive")
    {
        w.points += 20.0;
    }
    let heavier = Pipeline::from_config(config)
        .unwrap()
        .analyze_text("t.txt", text, &AnalyzeOptions::default())
        .unwrap();
    assert_eq!(heavier.priority.score, base.priority.score + 20);
    assert!(heavier
        .priority
        .reasons
        .iter()
        .any(|r| r.contains("test drive")));
}

/// Every id of the product contract (taxonomy.md) is in the shipped taxonomy.
#[test]
fn contract_label_ids_are_all_present() {
    let c = PipelineConfig::load(&pipeline_path()).unwrap();
    let t = &c.taxonomy;
    let all: Vec<&String> = t
        .preferences
        .iter()
        .chain(&t.objections)
        .chain(&t.intents)
        .chain(&t.facts)
        .chain(&t.roles)
        .chain(&t.tags.fact)
        .chain(&t.tags.psychological)
        .chain(&t.tags.behavioral)
        .collect();
    let contract = [
        "pref.body.sedan",
        "pref.body.suv",
        "pref.body.mpv",
        "pref.body.pickup",
        "pref.body.hatchback",
        "pref.body.coupe",
        "pref.powertrain.ev",
        "pref.powertrain.hybrid",
        "pref.powertrain.gasoline",
        "pref.powertrain.diesel",
        "pref.priority.safety",
        "pref.priority.fuel_economy",
        "pref.priority.space",
        "pref.priority.performance",
        "pref.priority.technology",
        "pref.priority.comfort",
        "pref.priority.reliability",
        "pref.priority.value",
        "pref.priority.design",
        "pref.priority.brand",
        "pref.model",
        "pref.color",
        "obj.price",
        "obj.financing",
        "obj.trade_in",
        "obj.competitor",
        "obj.timing",
        "obj.approval",
        "obj.feature",
        "obj.availability",
        "obj.running_cost",
        "obj.trust",
        "intent.test_drive",
        "intent.quote",
        "intent.financing",
        "intent.trade_in_appraisal",
        "intent.availability",
        "intent.negotiation",
        "intent.timeline_near",
        "intent.commitment",
        "intent.browsing",
        "intent.defer",
        "household.size",
        "household.children",
        "current_vehicle",
        "usage.commute",
        "purchase.timeline",
        "payment.method",
        "role.decision_maker",
        "role.primary_driver",
        "role.influencer",
        "psy.price_sensitive",
        "psy.safety_conscious",
        "psy.tech_enthusiast",
        "psy.eco_minded",
        "psy.family_oriented",
        "psy.performance_seeker",
        "psy.brand_loyal",
        "psy.hesitant",
        "psy.decisive",
        "psy.skeptical",
        "beh.test_drove",
        "beh.repeat_visit",
        "beh.requested_quote",
        "beh.brought_companion",
        "beh.high_engagement",
        "beh.long_visit",
        "beh.gone_quiet",
    ];
    for id in contract {
        assert!(
            all.iter().any(|a| a.as_str() == id),
            "contract id {id} missing from the taxonomy"
        );
    }
    // Every label has at least one rule in each language (entity labels come from gazetteers).
    for id in t.preferences.iter().chain(&t.objections).chain(&t.intents) {
        if t.valued.contains(id) && id != "obj.approval" {
            continue;
        }
        for lang in [
            dealerscope::conversation::Language::En,
            dealerscope::conversation::Language::Zh,
        ] {
            assert!(
                c.rules.iter().any(|r| &r.label == id && r.lang == lang),
                "no {lang:?} rule for {id}"
            );
        }
    }
}

#[test]
fn asr_section_is_set_once_and_checked() {
    // The shipped pipeline sets [asr] in asr.toml; a second one names both files.
    let e = load_error("[asr]\nmodel = \"tiny.en\"\n");
    assert!(
        e.contains("`asr` is set again") && e.contains("asr.toml"),
        "{e}"
    );
}

#[test]
fn attribution_settings_are_checked() {
    let shipped = root().join("pipelines");
    for (setting, entry) in [
        ("max_speakers = 4", "asr.attribution.max_speakers"),
        ("split_pause_s = 0.0", "asr.attribution.split_pause_s"),
        ("same_voice_similarity = 1.5", "asr.attribution"),
        (
            "companion_min_share = 1.0",
            "asr.attribution.companion_min_share",
        ),
    ] {
        // The shipped pipeline with one line of asr.toml changed: a copy of asr.toml in a
        // temporary directory, every other include by its absolute path.
        let dir = tempfile::tempdir().unwrap();
        let key = setting.split(' ').next().unwrap();
        let asr = std::fs::read_to_string(shipped.join("asr.toml")).unwrap();
        let edited: Vec<String> = asr
            .lines()
            .map(|l| {
                if l.starts_with(&format!("{key} =")) {
                    setting.to_string()
                } else {
                    l.to_string()
                }
            })
            .collect();
        assert!(edited.iter().any(|l| l == setting), "{key} is in asr.toml");
        std::fs::write(dir.path().join("asr.toml"), edited.join("\n")).unwrap();
        let mut top = std::fs::read_to_string(shipped.join("dealership.toml")).unwrap();
        for include in [
            "taxonomy.toml",
            "gazetteers/vehicles.toml",
            "gazetteers/colors.toml",
            "gazetteers/features.toml",
            "gazetteers/dealers.toml",
            "lexicon/en.toml",
            "lexicon/zh.toml",
            "profile.toml",
            "classifier.toml",
        ] {
            let abs = shipped.join(include).display().to_string();
            top = top.replace(&format!("{include:?}"), &format!("{abs:?}"));
        }
        let path = dir.path().join("dealership.toml");
        std::fs::write(&path, top).unwrap();
        let err = PipelineConfig::load(&path).expect_err(setting).to_string();
        assert!(err.contains(entry), "{setting}: {err}");
    }
}

#[test]
fn profile_section_is_set_once() {
    let e = load_error("[profile]\ngone_quiet_days = 30\n");
    assert!(e.contains("`profile` is set again"), "{e}");
}

/// The shipped pipeline with its `[classifier]` section (classifier.toml) replaced by `section`;
/// `heads_dir` defaults to the committed heads.
fn with_classifier(section: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = root().join("pipelines");
    let shipped = std::fs::read_to_string(pipeline_path()).unwrap();
    let mut body = String::new();
    for line in shipped.lines() {
        let quoted = line.trim().trim_end_matches(',');
        match quoted
            .strip_prefix('"')
            .and_then(|q| q.strip_suffix(".toml\""))
        {
            Some("classifier") => {}
            Some(name) => body.push_str(&format!("  {:?},\n", dir.join(format!("{name}.toml")))),
            None => body.push_str(&format!("{line}\n")),
        }
    }
    body.push_str("[classifier]\n");
    if !section.contains("heads_dir") {
        let heads = root().join("models/classifier");
        body.push_str(&format!("heads_dir = {heads:?}\n"));
    }
    body.push_str(section);
    write_temp("store.toml", body.as_bytes())
}

fn classifier_error(section: &str) -> String {
    let (_dir, path) = with_classifier(section);
    match Pipeline::load(&path) {
        Ok(_) => panic!("[classifier] with {section:?} was accepted"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn classifier_section_overrides_load() {
    let (_dir, path) = with_classifier(
        "min_threshold = 0.8\nrules_only = [\"intent.browsing\"]\nveto = [\"obj.price\"]\n\
         min_role_threshold = 0.6\nmin_role_threshold_by_language = { zh = 0.7 }\n\
         [classifier.thresholds]\n\"intent.defer\" = 0.95\n\"role.influencer\" = 0.4\n",
    );
    let config = PipelineConfig::load(&path).expect("valid [classifier]");
    assert_eq!(config.classifier.thresholds["intent.defer"], 0.95);
    assert_eq!(config.classifier.thresholds["role.influencer"], 0.4);
    assert_eq!(config.classifier.min_role_threshold, 0.6);
    Pipeline::from_config(config).expect("the stage builds");
}

#[test]
fn classifier_threshold_out_of_range_is_an_error() {
    for (label, bad) in [
        ("pref.body.suv", "1.5"),
        ("pref.body.suv", "0"),
        ("pref.body.suv", "-0.2"),
        ("pref.body.suv", "nan"),
        ("role.primary_driver", "1.5"),
        ("role.primary_driver", "0"),
    ] {
        let e = classifier_error(&format!("[classifier.thresholds]\n\"{label}\" = {bad}\n"));
        assert!(
            e.contains("store.toml")
                && e.contains("classifier.thresholds")
                && e.contains(&format!("`{label}`: must be in (0, 1]")),
            "{bad}: {e}"
        );
    }
    for (entry, bad) in [
        ("min_threshold", "1.5"),
        ("max_salesperson", "0"),
        ("drop_rules_below", "1.0"),
        ("batch", "0"),
        ("min_threshold_by_language", "{ zh = 1.5 }"),
        ("min_role_threshold", "1.5"),
        ("min_role_threshold", "-0.1"),
        ("min_role_threshold_by_language", "{ en = 2 }"),
        ("drop_rules_below_by_language", "{ zh = 1.0 }"),
        ("drop_rules_below_by_language", "{ en = -0.1 }"),
        (
            "min_threshold_by_label",
            "{ zh = { \"intent.defer\" = 1.2 } }",
        ),
    ] {
        let e = classifier_error(&format!("{entry} = {bad}\n"));
        assert!(
            e.contains(&format!("classifier.{entry}:")) && e.contains("must be"),
            "{e}"
        );
    }
}

#[test]
fn classifier_label_not_in_the_taxonomy_is_an_error() {
    for label in ["pref.body.suvv", "role.chauffeur"] {
        let e = classifier_error(&format!("[classifier.thresholds]\n\"{label}\" = 0.5\n"));
        assert!(
            e.contains("classifier.thresholds")
                && e.contains(&format!(
                    "`{label}` is not a preference, objection, intent or decision role"
                )),
            "{e}"
        );
    }
    // Roles have thresholds but no rule detections to keep or veto.
    let e = classifier_error("rules_only = [\"role.decision_maker\"]\n");
    assert!(
        e.contains("classifier.rules_only") && e.contains("`role.decision_maker`"),
        "{e}"
    );
    let e = classifier_error("min_threshold_by_language = { fr = 0.9 }\n");
    assert!(
        e.contains("store.toml") && e.contains("unknown variant `fr`"),
        "{e}"
    );
    let e = classifier_error("min_threshold_by_label = { zh = { \"role.influencer\" = 0.9 } }\n");
    assert!(
        e.contains("classifier.min_threshold_by_label")
            && e.contains("`role.influencer` is not a preference, objection or intent"),
        "{e}"
    );
    let e = classifier_error("veto = [\"intent.maybe\"]\n");
    assert!(
        e.contains("classifier.veto") && e.contains("`intent.maybe`"),
        "{e}"
    );
    let e = classifier_error("rules_only = [\"obj.timing\"]\nveto = [\"obj.timing\"]\n");
    assert!(
        e.contains("classifier.veto") && e.contains("`obj.timing` is also in rules_only"),
        "{e}"
    );
    let e =
        classifier_error("veto_by_language = { zh = [\"pref.body.suv\", \"role.influencer\"] }\n");
    assert!(
        e.contains("classifier.veto_by_language.zh") && e.contains("`role.influencer`"),
        "{e}"
    );
    let e = classifier_error(
        "rules_only = [\"obj.trust\"]\nveto_by_language = { en = [\"obj.trust\"] }\n",
    );
    assert!(
        e.contains("classifier.veto_by_language.en")
            && e.contains("`obj.trust` is also in rules_only"),
        "{e}"
    );
}

#[test]
fn classifier_veto_by_language_loads() {
    let (_dir, path) = with_classifier(
        "drop_rules_below = 0.02\nveto = [\"obj.timing\"]\n\
         drop_rules_below_by_language = { zh = 0.05 }\n\
         veto_by_language = { zh = [\"pref.body.suv\", \"obj.approval\"] }\n",
    );
    let config = PipelineConfig::load(&path).expect("valid [classifier]");
    let k = &config.classifier;
    let zh = dealerscope::conversation::Language::Zh;
    assert_eq!(k.drop_rules_below_by_language[&zh], 0.05);
    assert_eq!(k.veto_by_language[&zh], ["pref.body.suv", "obj.approval"]);
    assert_eq!(k.veto, ["obj.timing"]);
    Pipeline::from_config(config).expect("the stage builds");
}

/// The trained thresholds.toml beside the heads is checked when the pipeline loads, so heads
/// trained for another taxonomy fail at once, naming the file.
#[test]
fn trained_thresholds_file_is_checked() {
    for (body, want) in [
        (
            "[thresholds]\n\"intent.maybe\" = 0.5\n",
            "`intent.maybe` is not a preference, objection, intent or decision role of the taxonomy",
        ),
        (
            "[thresholds]\n\"role.influencer\" = 0.5\n\"role.chauffeur\" = 0.5\n",
            "`role.chauffeur` is not a preference, objection, intent or decision role of the taxonomy",
        ),
        (
            "[thresholds]\n\"role.influencer\" = 0\n",
            "`role.influencer` = 0: a threshold must be in (0, 1]",
        ),
        (
            "[thresholds]\n\"intent.defer\" = 2.0\n",
            "`intent.defer` = 2: a threshold must be in (0, 1]",
        ),
        (
            "[thresholds]\n\"intent.defer\" = \"high\"\n",
            "invalid type",
        ),
    ] {
        let heads = tempfile::tempdir().unwrap();
        std::fs::write(heads.path().join("thresholds.toml"), body).unwrap();
        let e = classifier_error(&format!("heads_dir = {:?}\n", heads.path()));
        assert!(e.contains("thresholds.toml") && e.contains(want), "{e}");
    }
    // Heads trained with the decision roles load.
    let heads = tempfile::tempdir().unwrap();
    let body = "[thresholds]\n\"role.influencer\" = 0.5\n\"intent.defer\" = 0.3\n";
    std::fs::write(heads.path().join("thresholds.toml"), body).unwrap();
    let (_dir, path) = with_classifier(&format!("heads_dir = {:?}\n", heads.path()));
    Pipeline::load(&path).expect("role thresholds are accepted");
}

#[test]
fn every_label_has_a_name_in_both_page_languages_and_names_are_checked() {
    let c = PipelineConfig::load(&pipeline_path()).unwrap();
    let t = &c.taxonomy;
    let ids = t
        .preferences
        .iter()
        .chain(&t.objections)
        .chain(&t.intents)
        .chain(&t.facts)
        .chain(&t.roles)
        .chain(&t.tags.fact)
        .chain(&t.tags.psychological)
        .chain(&t.tags.behavioral);
    for id in ids {
        for lang in [Language::En, Language::Zh] {
            assert!(t.name(id, lang).is_some(), "{id} has no {lang:?} name");
        }
    }
    assert_eq!(
        t.name("psy.price_sensitive", Language::Zh),
        Some("价格敏感")
    );

    // A name for a label the taxonomy does not have is a typo: refused, naming where.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("pipelines");
    std::fs::create_dir(&copy).unwrap();
    for entry in std::fs::read_dir(root().join("pipelines")).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, copy.join(path.file_name().unwrap())).unwrap();
        } else {
            std::os::unix::fs::symlink(&path, copy.join(path.file_name().unwrap())).unwrap();
        }
    }
    let taxonomy = copy.join("taxonomy.toml");
    let mut text = std::fs::read_to_string(&taxonomy).unwrap();
    assert!(
        text.trim_end().ends_with('"'),
        "taxonomy.toml ends inside [taxonomy.names.zh]"
    );
    text.push_str("\"psy.price_sensitiv\" = \"价格敏感\"\n");
    std::fs::write(&taxonomy, text).unwrap();
    let e = PipelineConfig::load(&copy.join("dealership.toml"))
        .expect_err("a name for an unknown label is refused")
        .to_string();
    assert!(
        e.contains("taxonomy.names.zh") && e.contains("psy.price_sensitiv"),
        "{e}"
    );
}

#[test]
fn role_rules_use_the_word_groups_and_are_checked() {
    // A store adds a phrasing with the shipped word groups, without a rebuild.
    let extra = "[[role]]\nid = \"role.influencer\"\nlang = \"en\"\npatterns = ['''\\b(?P<who>{person}) races (?:rally|stock) cars\\b''']\n";
    let (_dir, path) = extended(extra);
    let a = Pipeline::load(&path)
        .unwrap()
        .analyze_text(
            "t.txt",
            "Salesperson: Hi\nCustomer: My uncle races rally cars.\n",
            &AnalyzeOptions::default(),
        )
        .unwrap();
    assert!(
        a.roles
            .iter()
            .any(|r| r.id == "role.influencer" && r.who == "My uncle"),
        "{:?}",
        a.roles
    );
    let e = load_error(
        "[[role]]\nid = \"role.influencer\"\nlang = \"en\"\npatterns = ['''(?P<who>{persn}) races''']\n",
    );
    assert!(
        e.contains("role #1 (role.influencer)")
            && e.contains("`{persn}`")
            && e.contains("no word group"),
        "{e}"
    );
    let e = load_error(
        "[[role]]\nid = \"role.influencer\"\nlang = \"en\"\npatterns = ['x']\nsubsumed_by = [\"role.boss\"]\n",
    );
    assert!(e.contains("unknown role `role.boss`"), "{e}");
}
