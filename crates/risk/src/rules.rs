//! The rule file: which label categories are risks, how severe each is, and how exposures become
//! a score and a level (`docs/risk.md`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The rules compiled into cointrail (`default-rules.json`, printed in `docs/risk.md`).
pub const DEFAULT_RULES: &str = include_str!("default-rules.json");

/// One risk category.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoryRule {
    /// Score of a full, direct exposure to this category, 0-10.
    pub severity: f64,
}

/// Score thresholds of the levels: a score at or above `severe` is severe, and so on; below
/// `medium` it is low.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Levels {
    /// Lowest severe score.
    pub severe: f64,
    /// Lowest high score.
    pub high: f64,
    /// Lowest medium score.
    pub medium: f64,
}

/// A risk level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Below the medium threshold.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
    /// Severe: do not credit without review.
    Severe,
}

impl Level {
    /// Returns the lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Severe => "severe",
        }
    }
}

/// The scoring rules (a JSON file; unknown fields are refused).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    /// Version of the rule file format (1).
    pub version: u32,
    /// Risk categories by lower-case label category. Labels of other categories (exchange,
    /// service, ...) are not risks and do not stop the screening trace.
    pub categories: BTreeMap<String, CategoryRule>,
    /// Factor per hop beyond the first: an exposure at `hops` counts `hop_decay^(hops - 1)`.
    pub hop_decay: f64,
    /// Share of the screened funds from which an exposure counts fully.
    pub share_full: f64,
    /// Factor of the smallest counted share; between it and `share_full` the factor grows
    /// linearly from `share_floor` to 1.
    pub share_floor: f64,
    /// Exposures below this share are listed but do not count in the score.
    pub min_share: f64,
    /// Categories that make a screened address or output severe (score 10) when it carries such a
    /// label itself (or through its cluster).
    pub labeled_target_severe: Vec<String>,
    /// Level thresholds.
    pub levels: Levels,
}

/// A rule file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RulesError {
    /// Not JSON, or not the rule format.
    #[error("risk rules: {0}")]
    Parse(#[from] serde_json::Error),
    /// A value outside its range.
    #[error("risk rules: {0}")]
    Invalid(String),
}

impl Rules {
    /// Parses and checks a rule file.
    ///
    /// # Errors
    ///
    /// [`RulesError::Parse`] for malformed JSON or unknown fields, [`RulesError::Invalid`] for a
    /// value out of range (severities 0-10, factors 0-1, levels descending).
    pub fn from_json(text: &str) -> Result<Self, RulesError> {
        let rules: Self = serde_json::from_str(text)?;
        rules.check()?;
        Ok(rules)
    }

    /// Returns the rules compiled into cointrail.
    ///
    /// # Errors
    ///
    /// Never in practice: the embedded file is tested.
    pub fn default_rules() -> Result<Self, RulesError> {
        Self::from_json(DEFAULT_RULES)
    }

    fn check(&self) -> Result<(), RulesError> {
        let invalid = |message: String| Err(RulesError::Invalid(message));
        if self.version != 1 {
            return invalid(format!("version {} is not supported (expected 1)", self.version));
        }
        if self.categories.is_empty() {
            return invalid("no risk category".to_owned());
        }
        for (name, rule) in &self.categories {
            if name.trim().is_empty() || *name != name.to_lowercase() {
                return invalid(format!("category `{name}` must be a non-empty lower-case name"));
            }
            if !(0.0..=10.0).contains(&rule.severity) {
                return invalid(format!(
                    "severity of `{name}` is {}, expected 0 to 10",
                    rule.severity
                ));
            }
        }
        for (field, value, low_open) in [
            ("hop_decay", self.hop_decay, true),
            ("share_full", self.share_full, true),
            ("share_floor", self.share_floor, false),
            ("min_share", self.min_share, false),
        ] {
            let ok = if low_open { value > 0.0 } else { value >= 0.0 } && value <= 1.0;
            if !ok {
                return invalid(format!("{field} is {value}, expected 0 to 1"));
            }
        }
        for category in &self.labeled_target_severe {
            if !self.categories.contains_key(category) {
                return invalid(format!(
                    "labeled_target_severe names `{category}`, which is not a risk category"
                ));
            }
        }
        let levels = &self.levels;
        let ordered = (0.0..=10.0).contains(&levels.medium)
            && levels.medium <= levels.high
            && levels.high <= levels.severe
            && levels.severe <= 10.0;
        if !ordered {
            return invalid(format!(
                "levels must satisfy 0 <= medium <= high <= severe <= 10, found {} {} {}",
                levels.medium, levels.high, levels.severe
            ));
        }
        Ok(())
    }

    /// Returns `true` if labels of `category` are risks.
    pub fn is_risk_category(&self, category: &str) -> bool {
        self.categories.contains_key(category)
    }

    /// Returns the risk categories, sorted.
    pub fn category_names(&self) -> Vec<String> {
        self.categories.keys().cloned().collect()
    }

    /// Returns the severity of a category (0 for one that is not a risk).
    pub fn severity(&self, category: &str) -> f64 {
        self.categories.get(category).map_or(0.0, |rule| rule.severity)
    }

    /// Returns the hop factor: 1 for hops 0 and 1, `hop_decay^(hops - 1)` beyond.
    pub fn hop_factor(&self, hops: u32) -> f64 {
        let exponent = i32::try_from(hops.saturating_sub(1)).unwrap_or(i32::MAX);
        self.hop_decay.powi(exponent)
    }

    /// Returns the share factor: 0 below `min_share`, 1 from `share_full`, linear from
    /// `share_floor` to 1 in between.
    pub fn share_factor(&self, share: f64) -> f64 {
        if share <= 0.0 || share < self.min_share {
            return 0.0;
        }
        if share >= self.share_full {
            return 1.0;
        }
        self.share_floor + (1.0 - self.share_floor) * share / self.share_full
    }

    /// Returns the score of one exposure, 0-10, rounded to one decimal.
    pub fn exposure_score(&self, category: &str, share: f64, hops: u32) -> f64 {
        round1(self.severity(category) * self.hop_factor(hops) * self.share_factor(share))
    }

    /// Returns the level of a score.
    pub fn level(&self, score: f64) -> Level {
        if score >= self.levels.severe {
            Level::Severe
        } else if score >= self.levels.high {
            Level::High
        } else if score >= self.levels.medium {
            Level::Medium
        } else {
            Level::Low
        }
    }
}

/// Rounds to one decimal, clamped to 0-10.
pub(crate) fn round1(value: f64) -> f64 {
    ((value * 10.0).round() / 10.0).clamp(0.0, 10.0)
}
