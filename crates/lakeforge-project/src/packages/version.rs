//! Semantic versions and the ranges packages ask for (`version: [">=1.0.0", "<2.0.0"]`), with
//! dbt's rules: a requirement is an operator (`=`, `>`, `>=`, `<`, `<=`; none means `=`) and a
//! `major.minor.patch[-prerelease][+build]` version; the requirements on one package, from
//! every project that names it, intersect into one range; the highest version in it wins.

use std::cmp::Ordering;
use std::fmt;

/// A version or requirement that is not one (the text as written).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    #[error("`{0}` is not a semantic version (major.minor.patch, e.g. 1.2.0)")]
    NotAVersion(String),

    #[error(
        "`{0}` is not a version requirement (an optional =, >, >=, < or <= and a version such as 1.2.0)"
    )]
    NotARequirement(String),
}

/// A package version, e.g. `1.3.0` or `0.9.0-b1`. Build metadata (`+...`) is kept for display
/// but ignored when comparing, as semver says.
#[derive(Debug, Clone)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    pub prerelease: Option<String>,
    pub build: Option<String>,
}

impl Version {
    /// Parse `1.2.3`, `1.2.3-rc1`, `1.2.3rc1` (dbt accepts the dash as optional), `1.2.3+build`.
    pub fn parse(text: &str) -> Result<Version, VersionError> {
        let invalid = || VersionError::NotAVersion(text.to_string());
        let (rest, build) = match text.split_once('+') {
            Some((r, b)) if !b.is_empty() && b.split('.').all(is_ident) => (r, Some(b.to_string())),
            Some(_) => return Err(invalid()),
            None => (text, None),
        };
        let mut parts = rest.splitn(3, '.');
        let major = parts.next().ok_or_else(invalid)?;
        let minor = parts.next().ok_or_else(invalid)?;
        let tail = parts.next().ok_or_else(invalid)?;
        let digits = tail.bytes().take_while(u8::is_ascii_digit).count();
        let (patch, pre) = tail.split_at(digits);
        if pre == "-" {
            return Err(invalid());
        }
        let pre = pre.strip_prefix('-').unwrap_or(pre);
        let prerelease = if pre.is_empty() {
            None
        } else if pre.split('.').all(|p| is_ident(p) && !has_leading_zero(p)) {
            Some(pre.to_string())
        } else {
            return Err(invalid());
        };
        Ok(Version {
            major: number(major).ok_or_else(invalid)?,
            minor: number(minor).ok_or_else(invalid)?,
            patch: number(patch).ok_or_else(invalid)?,
            prerelease,
            build,
        })
    }

    pub fn is_prerelease(&self) -> bool {
        self.prerelease.is_some()
    }

    fn same_release(&self, other: &Version) -> bool {
        (self.major, self.minor, self.patch) == (other.major, other.minor, other.patch)
    }
}

fn is_ident(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn has_leading_zero(s: &str) -> bool {
    s.len() > 1 && s.starts_with('0') && s.bytes().all(|b| b.is_ascii_digit())
}

/// A version number without leading zeros, as semver requires.
fn number(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || has_leading_zero(s) {
        return None;
    }
    s.parse().ok()
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| match (&self.prerelease, &other.prerelease) {
                (None, None) => Ordering::Equal,
                // A release sorts after its prereleases.
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(a), Some(b)) => compare_prerelease(a, b),
            })
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Dot-separated fields compared in turn: numbers numerically and before words, words as text;
/// a shorter list of equal fields sorts first.
fn compare_prerelease(a: &str, b: &str) -> Ordering {
    let mut left = a.split('.');
    let mut right = b.split('.');
    loop {
        match (left.next(), right.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let ord = match (x.parse::<u64>(), y.parse::<u64>()) {
                    (Ok(m), Ok(n)) => m.cmp(&n),
                    (Ok(_), Err(_)) => Ordering::Less,
                    (Err(_), Ok(_)) => Ordering::Greater,
                    (Err(_), Err(_)) => x.cmp(y),
                };
                if ord != Ordering::Equal {
                    return ord;
                }
            }
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if let Some(p) = &self.prerelease {
            write!(f, "-{p}")?;
        }
        if let Some(b) = &self.build {
            write!(f, "+{b}")?;
        }
        Ok(())
    }
}

/// One bound of a range: the version and whether it is included.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Bound {
    version: Version,
    inclusive: bool,
}

/// The versions one or more requirements allow: an optional lower and upper bound.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VersionRange {
    lower: Option<Bound>,
    upper: Option<Bound>,
}

impl VersionRange {
    /// Every version.
    pub fn any() -> VersionRange {
        VersionRange::default()
    }

    /// The range of one requirement: `1.2.0`, `=1.2.0`, `>=1.2.0`, `<2.0.0`...
    pub fn parse(requirement: &str) -> Result<VersionRange, VersionError> {
        let text = requirement.trim();
        let (op, rest) = [">=", "<=", ">", "<", "="]
            .iter()
            .find_map(|op| text.strip_prefix(op).map(|rest| (*op, rest)))
            .unwrap_or(("=", text));
        let version = Version::parse(rest.trim())
            .map_err(|_| VersionError::NotARequirement(requirement.to_string()))?;
        let bound = |inclusive| {
            Some(Bound {
                version: version.clone(),
                inclusive,
            })
        };
        Ok(match op {
            ">=" => VersionRange {
                lower: bound(true),
                upper: None,
            },
            ">" => VersionRange {
                lower: bound(false),
                upper: None,
            },
            "<=" => VersionRange {
                lower: None,
                upper: bound(true),
            },
            "<" => VersionRange {
                lower: None,
                upper: bound(false),
            },
            _ => VersionRange {
                lower: bound(true),
                upper: bound(true),
            },
        })
    }

    /// The intersection of several requirements; None when they exclude each other.
    pub fn parse_all<'a>(
        requirements: impl IntoIterator<Item = &'a str>,
    ) -> Result<Option<VersionRange>, VersionError> {
        let mut range = Some(VersionRange::any());
        for r in requirements {
            let next = VersionRange::parse(r)?;
            range = range.and_then(|acc| acc.intersect(&next));
        }
        Ok(range)
    }

    /// The versions both ranges allow, or None when no version could satisfy both.
    pub fn intersect(&self, other: &VersionRange) -> Option<VersionRange> {
        let lower = tighter(&self.lower, &other.lower, Ordering::Greater);
        let upper = tighter(&self.upper, &other.upper, Ordering::Less);
        if let (Some(lo), Some(hi)) = (&lower, &upper) {
            match lo.version.cmp(&hi.version) {
                Ordering::Greater => return None,
                Ordering::Equal if !(lo.inclusive && hi.inclusive) => return None,
                _ => {}
            }
        }
        Some(VersionRange { lower, upper })
    }

    /// Whether `version` is in the range. As in dbt, `<2.0.0` also excludes 2.0.0's
    /// prereleases (`2.0.0-rc1`), which semver would order below 2.0.0.
    pub fn contains(&self, version: &Version) -> bool {
        if let Some(lo) = &self.lower {
            match version.cmp(&lo.version) {
                Ordering::Less => return false,
                Ordering::Equal if !lo.inclusive => return false,
                _ => {}
            }
        }
        if let Some(hi) = &self.upper {
            match version.cmp(&hi.version) {
                Ordering::Greater => return false,
                Ordering::Equal if !hi.inclusive => return false,
                _ => {}
            }
            if !hi.inclusive
                && !hi.version.is_prerelease()
                && version.is_prerelease()
                && version.same_release(&hi.version)
            {
                return false;
            }
        }
        true
    }

    /// Whether a bound of the range is a prerelease (asking for one allows installing one).
    pub fn names_prerelease(&self) -> bool {
        [&self.lower, &self.upper]
            .into_iter()
            .flatten()
            .any(|b| b.version.is_prerelease())
    }

    /// The highest of `versions` in the range.
    pub fn best<'a>(&self, versions: impl IntoIterator<Item = &'a Version>) -> Option<&'a Version> {
        versions.into_iter().filter(|v| self.contains(v)).max()
    }
}

/// Of two optional bounds on the same side, the one that allows less: `prefer` is the
/// ordering a tighter bound's version has against the other (Greater for lower bounds).
fn tighter(a: &Option<Bound>, b: &Option<Bound>, prefer: Ordering) -> Option<Bound> {
    match (a, b) {
        (None, x) | (x, None) => x.clone(),
        (Some(x), Some(y)) => match x.version.cmp(&y.version) {
            Ordering::Equal => Some(Bound {
                version: x.version.clone(),
                inclusive: x.inclusive && y.inclusive,
            }),
            o if o == prefer => Some(x.clone()),
            _ => Some(y.clone()),
        },
    }
}

impl fmt::Display for VersionRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.lower, &self.upper) {
            (None, None) => write!(f, "any version"),
            (Some(lo), Some(hi)) if lo == hi && lo.inclusive => write!(f, "{}", lo.version),
            (lo, hi) => {
                let mut parts = Vec::new();
                if let Some(lo) = lo {
                    let op = if lo.inclusive { ">=" } else { ">" };
                    parts.push(format!("{op}{}", lo.version));
                }
                if let Some(hi) = hi {
                    let op = if hi.inclusive { "<=" } else { "<" };
                    parts.push(format!("{op}{}", hi.version));
                }
                write!(f, "{}", parts.join(", "))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    fn range(reqs: &[&str]) -> Option<VersionRange> {
        VersionRange::parse_all(reqs.iter().copied()).unwrap()
    }

    #[test]
    fn parses_and_orders_versions() {
        assert_eq!(v("1.10.2").to_string(), "1.10.2");
        assert_eq!(v("1.0.0rc1").prerelease.as_deref(), Some("rc1"));
        assert!(v("1.10.0") > v("1.9.9"));
        assert!(v("1.0.0-b1") < v("1.0.0"));
        assert!(v("1.0.0-b2") > v("1.0.0-b1"));
        assert!(v("1.0.0-2") < v("1.0.0-b"));
        assert!(v("1.0.0-b.10") > v("1.0.0-b.9"));
        assert!(v("1.0.0-b") < v("1.0.0-b.1"));
        assert_eq!(v("1.0.0+x").cmp(&v("1.0.0")), Ordering::Equal);
        for bad in [
            "1.0", "1", "01.0.0", "1.0.x", "v1.0.0", "1.0.0-", "", "1.0.0-01",
        ] {
            assert!(Version::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn requirements_intersect() {
        let r = range(&[">=1.0.0", "<2.0.0"]).unwrap();
        assert_eq!(r.to_string(), ">=1.0.0, <2.0.0");
        assert!(r.contains(&v("1.0.0")) && r.contains(&v("1.9.9")));
        assert!(!r.contains(&v("2.0.0")) && !r.contains(&v("0.9.0")));
        let narrower = r
            .intersect(&range(&[">1.1.0", "<=1.5.0"]).unwrap())
            .unwrap();
        assert_eq!(narrower.to_string(), ">1.1.0, <=1.5.0");
        assert_eq!(range(&["1.2.3", ">=1.0.0"]).unwrap().to_string(), "1.2.3");
        assert_eq!(range(&["=1.2.3"]).unwrap().to_string(), "1.2.3");
        assert_eq!(range(&[]).unwrap().to_string(), "any version");
        assert_eq!(range(&[" >= 1.0.0 "]).unwrap().to_string(), ">=1.0.0");
    }

    #[test]
    fn disjoint_requirements_have_no_range() {
        assert_eq!(range(&[">=2.0.0", "<2.0.0"]), None);
        assert_eq!(range(&[">=1.0.0", "<1.0.0"]), None);
        assert_eq!(range(&[">1.0.0", "<=1.0.0"]), None);
        assert_eq!(range(&["1.0.0", "1.0.1"]), None);
        assert_eq!(range(&["1.2.0", "<1.0.0"]), None);
        assert!(range(&[">=1.0.0", "<=1.0.0"]).is_some());
    }

    #[test]
    fn picks_the_highest_allowed_version() {
        let all: Vec<Version> = ["0.9.0", "1.0.0", "1.3.0", "2.0.0-rc1", "2.0.0"]
            .iter()
            .map(|s| v(s))
            .collect();
        let r = range(&[">=1.0.0", "<2.0.0"]).unwrap();
        // 2.0.0-rc1 sorts below 2.0.0 but `<2.0.0` still excludes it, as in dbt.
        assert_eq!(r.best(&all).unwrap().to_string(), "1.3.0");
        assert_eq!(range(&["<1.0.0"]).unwrap().best(&all).unwrap(), &v("0.9.0"));
        assert_eq!(range(&[">3.0.0"]).unwrap().best(&all), None);
    }

    #[test]
    fn refuses_malformed_requirements() {
        let err = VersionRange::parse("~>1.0").unwrap_err().to_string();
        assert!(
            err.contains("`~>1.0` is not a version requirement"),
            "{err}"
        );
        assert!(VersionRange::parse(">=1.0.0,<2.0.0").is_err());
    }
}
