//! Managers' verdicts on a customer's tags. A verdict is kept apart from the analyses (keyed by
//! customer and tag) and laid over every profile built afterwards, so re-analysing a visit or
//! recording a new one never loses it:
//! - an accepted tag stays on the profile even if a later analysis no longer gives it (shown
//!   with the rule it had when accepted, and no evidence of its own);
//! - a rejected tag stays visible, marked, so the manager can change their mind, but it no
//!   longer counts: it is left out of the cached tags that lists, groups and exports filter on.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::analysis::TagCategory;

use super::customer::{CustomerProfile, ProfileTag};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Accepted,
    Rejected,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Accepted => "accepted",
            Verdict::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<Verdict> {
        match s {
            "accepted" => Some(Verdict::Accepted),
            "rejected" => Some(Verdict::Rejected),
            _ => None,
        }
    }
}

/// One manager's verdict on one tag of one customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TagCorrection {
    pub tag: String,
    pub verdict: Verdict,
    /// The tag's category and rule when the verdict was given (to keep an accepted tag that a
    /// later analysis drops).
    pub category: TagCategory,
    pub rule: String,
    /// Who gave it (their email; `None` once the account is deleted).
    pub by: Option<String>,
    pub at: DateTime<Utc>,
}

/// What the profile shows of a correction on a tag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Correction {
    pub verdict: Verdict,
    pub by: Option<String>,
    pub at: DateTime<Utc>,
}

impl ProfileTag {
    /// Whether the tag counts (lists, groups, exports): not rejected by a manager.
    pub fn counts(&self) -> bool {
        self.correction
            .as_ref()
            .is_none_or(|c| c.verdict != Verdict::Rejected)
    }
}

/// Lays the verdicts over a freshly built profile (see the module notes).
pub fn apply(profile: &mut CustomerProfile, corrections: &[TagCorrection]) {
    for c in corrections {
        let shown = Correction {
            verdict: c.verdict,
            by: c.by.clone(),
            at: c.at,
        };
        match profile.tags.iter_mut().find(|t| t.id == c.tag) {
            Some(tag) => tag.correction = Some(shown),
            None if c.verdict == Verdict::Accepted => profile.tags.push(ProfileTag {
                id: c.tag.clone(),
                category: c.category,
                rule: c.rule.clone(),
                evidence: Vec::new(),
                correction: Some(shown),
            }),
            // A rejected tag the analyses no longer give needs no marking.
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::customer::build_profile;

    fn profile_with(tags: &[&str]) -> CustomerProfile {
        let config = crate::config::PipelineConfig::load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/dealership.toml"),
        )
        .unwrap();
        let mut p = build_profile("cus_1", &[], Utc::now(), &config);
        p.tags = tags
            .iter()
            .map(|id| ProfileTag {
                id: id.to_string(),
                category: TagCategory::Psychological,
                rule: format!("rule of {id}"),
                evidence: Vec::new(),
                correction: None,
            })
            .collect();
        p
    }

    fn correction(tag: &str, verdict: Verdict) -> TagCorrection {
        TagCorrection {
            tag: tag.into(),
            verdict,
            category: TagCategory::Fact,
            rule: "rule when accepted".into(),
            by: Some("manager@example.com".into()),
            at: Utc::now(),
        }
    }

    #[test]
    fn verdicts_mark_the_tags_and_rejected_ones_stop_counting() {
        let mut p = profile_with(&["psy.price_sensitive", "psy.decisive"]);
        apply(
            &mut p,
            &[
                correction("psy.price_sensitive", Verdict::Rejected),
                correction("psy.decisive", Verdict::Accepted),
            ],
        );
        let counting: Vec<&str> = p
            .tags
            .iter()
            .filter(|t| t.counts())
            .map(|t| t.id.as_str())
            .collect();
        assert_eq!(counting, ["psy.decisive"]);
        assert_eq!(p.tags.len(), 2, "a rejected tag stays visible");
        assert_eq!(
            p.tags[0].correction.as_ref().map(|c| c.verdict),
            Some(Verdict::Rejected)
        );
        // The analysis's own rule is kept for a tag it still gives.
        assert_eq!(p.tags[1].rule, "rule of psy.decisive");
    }

    #[test]
    fn an_accepted_tag_survives_an_analysis_that_drops_it() {
        let mut p = profile_with(&[]);
        apply(
            &mut p,
            &[
                correction("fact.family", Verdict::Accepted),
                correction("psy.impulsive", Verdict::Rejected),
            ],
        );
        assert_eq!(p.tags.len(), 1);
        assert_eq!(p.tags[0].id, "fact.family");
        assert_eq!(p.tags[0].category, TagCategory::Fact);
        assert_eq!(p.tags[0].rule, "rule when accepted");
        assert!(p.tags[0].counts());
    }
}
