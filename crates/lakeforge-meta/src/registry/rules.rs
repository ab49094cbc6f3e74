//! The registry's rules, in one place for every caller: training nodes (lakeforge-runner),
//! `lakeforge models promote` and the server's admin route (lakeforge-serve). A version's
//! status after its quality gate, the alias read when none is named, which alias names are
//! valid, and when a person may point an alias at a version.

use std::fmt;

use serde::Serialize;

use crate::{MetaError, MetaStore, ModelVersion, Result};

/// The alias a model is read through when none is named: what a training node promotes to
/// without `promote_to:`, what `predict('name', ...)` and the server's predict route resolve,
/// and what `lakeforge models promote` moves without `--alias`.
pub const DEFAULT_ALIAS: &str = "production";

/// A version's standing after its quality gate, stored as its lower-case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelStatus {
    Passed,
    /// The default, so that a version is only ever promotable without `force` because its
    /// gate said so.
    #[default]
    Rejected,
}

impl ModelStatus {
    pub const ALL: [ModelStatus; 2] = [ModelStatus::Passed, ModelStatus::Rejected];

    /// The status a gate's verdict gives.
    pub fn from_gate(passed: bool) -> ModelStatus {
        if passed {
            ModelStatus::Passed
        } else {
            ModelStatus::Rejected
        }
    }

    pub fn passed(self) -> bool {
        self == ModelStatus::Passed
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ModelStatus::Passed => "passed",
            ModelStatus::Rejected => "rejected",
        }
    }
}

impl fmt::Display for ModelStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ModelStatus {
    type Err = MetaError;

    fn from_str(s: &str) -> Result<ModelStatus> {
        crate::decode::from_text(&ModelStatus::ALL, ModelStatus::as_str, s)
            .ok_or_else(|| MetaError::InvalidModelStatus { status: s.into() })
    }
}

/// Why an alias name is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AliasProblem {
    /// Empty, over 64 characters, or a character other than letters, digits, `_`, `-`, `.`.
    Characters,
    /// A number: `model@3` reads as version 3, so an alias named `3` could never be read.
    Number,
}

impl AliasProblem {
    /// The reason, as [`MetaError::InvalidAlias`] gives it.
    pub(crate) fn explain(self, alias: &str) -> String {
        match self {
            AliasProblem::Characters => "1 to 64 letters, digits, `_`, `-`, `.`".into(),
            AliasProblem::Number => format!(
                "it is a number, and `model@{alias}` reads as version {alias}, never as an alias"
            ),
        }
    }
}

/// Alias names every path that sets an alias accepts: letters, digits, `_`, `-` and `.`, so an
/// alias reads unambiguously in `predict('model@alias')` and in a URL, and not a number, which
/// `model@…` and `lakeforge models show` read as a version.
pub fn check_alias_name(alias: &str) -> Result<()> {
    let characters_ok = !alias.is_empty()
        && alias.len() <= 64
        && alias
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    // What a version selector's `parse::<i64>()` would take: digits, maybe after a `-`.
    let digits = alias.strip_prefix('-').unwrap_or(alias);
    let number = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
    let problem = if !characters_ok {
        AliasProblem::Characters
    } else if number {
        AliasProblem::Number
    } else {
        return Ok(());
    };
    Err(MetaError::InvalidAlias {
        alias: alias.into(),
        problem,
    })
}

/// A promotion the registry's rules allow, not made yet: [`MetaStore::promotion`] checks it
/// and [`Promotion::apply`] moves the alias. Two steps so that the server can load the
/// version's file in between: an alias must never point at a version it cannot answer with.
pub struct Promotion<'a> {
    store: &'a MetaStore,
    alias: String,
    version: ModelVersion,
}

impl Promotion<'_> {
    /// The version the alias is to point at.
    pub fn version(&self) -> &ModelVersion {
        &self.version
    }

    /// Point the alias at the version, `by` (`cli`, `api`, a run id) recorded in its history;
    /// returns the version it pointed at before.
    pub async fn apply(self, by: &str) -> Result<Option<i64>> {
        self.store
            .set_alias(
                &self.version.name,
                &self.alias,
                Some(self.version.version),
                by,
            )
            .await
    }
}

impl MetaStore {
    /// Check that a person may point `alias` of `name` at `version`: the alias name is valid,
    /// the version exists, and it passed its quality gate unless `force`. Nothing changes
    /// until [`Promotion::apply`].
    pub async fn promotion(
        &self,
        name: &str,
        version: i64,
        alias: &str,
        force: bool,
    ) -> Result<Promotion<'_>> {
        check_alias_name(alias)?;
        let v = self.require_version(name, version).await?;
        if !v.trained.status.passed() && !force {
            return Err(MetaError::GateRejected {
                name: name.into(),
                version,
                gate_message: v.trained.gate_message.clone(),
            });
        }
        Ok(Promotion {
            store: self,
            alias: alias.into(),
            version: v,
        })
    }

    /// [`MetaStore::promotion`] and, when allowed, [`Promotion::apply`]: returns the version
    /// the alias pointed at before.
    pub async fn promote(
        &self,
        name: &str,
        version: i64,
        alias: &str,
        force: bool,
        by: &str,
    ) -> Result<Option<i64>> {
        self.promotion(name, version, alias, force)
            .await?
            .apply(by)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_names() {
        for ok in ["production", "staging", "v2", "2024-01", "a.b_c-d", "x1"] {
            assert!(check_alias_name(ok).is_ok(), "{ok}");
        }
        for (bad, problem) in [
            ("", AliasProblem::Characters),
            ("a b", AliasProblem::Characters),
            ("prod@2", AliasProblem::Characters),
            (&"a".repeat(65), AliasProblem::Characters),
            ("3", AliasProblem::Number),
            ("0042", AliasProblem::Number),
            ("-3", AliasProblem::Number),
        ] {
            match check_alias_name(bad) {
                Err(MetaError::InvalidAlias { alias, problem: p }) => {
                    assert_eq!((alias.as_str(), p), (bad, problem));
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
        let refused = check_alias_name("3").unwrap_err().to_string();
        assert_eq!(
            refused,
            "alias `3` is not a valid alias name (it is a number, and `model@3` reads as version 3, never as an alias)"
        );
    }

    #[test]
    fn statuses_read_back_as_written() {
        for s in ModelStatus::ALL {
            assert_eq!(s.as_str().parse::<ModelStatus>().unwrap(), s);
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert!("Passed".parse::<ModelStatus>().is_err());
        assert_eq!(ModelStatus::from_gate(true), ModelStatus::Passed);
        assert!(!ModelStatus::default().passed());
    }
}
