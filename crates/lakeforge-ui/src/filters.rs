//! The runs list's query string (`/api/runs?status=error&command=build&from=2026-01-01&to=...
//! &page=2&per_page=50`) checked and turned into lakeforge-meta's [`RunQuery`] and a page.
//! Every mistake is a 400 naming the parameter; an empty value means "not set", as a form
//! with an empty field sends it.

use chrono::{Datelike, Days, NaiveDate};
use lakeforge_meta::{RunQuery, RunStatus};

use crate::error::{UiError, UiResult};

/// Runs per page unless `per_page` says otherwise, and the most it may say.
pub const DEFAULT_PER_PAGE: i64 = 50;
pub const MAX_PER_PAGE: i64 = 200;
/// Longer `command` values cannot be a command's name.
const MAX_COMMAND_LEN: usize = 64;

/// A checked runs-list request.
#[derive(Debug, Clone, PartialEq)]
pub struct RunsFilter {
    pub query: RunQuery,
    /// From 1.
    pub page: i64,
    pub per_page: i64,
}

impl RunsFilter {
    pub fn offset(&self) -> i64 {
        (self.page - 1).saturating_mul(self.per_page)
    }

    /// The query string's pairs, decoded, in their order.
    pub fn parse(pairs: &[(String, String)]) -> UiResult<RunsFilter> {
        let mut filter = RunsFilter {
            query: RunQuery::default(),
            page: 1,
            per_page: DEFAULT_PER_PAGE,
        };
        let mut seen: Vec<&str> = Vec::new();
        let (mut from, mut to) = (None, None);
        for (name, value) in pairs {
            if seen.contains(&name.as_str()) {
                return Err(UiError::bad(name, format!("`{name}` is given twice")));
            }
            seen.push(name.as_str());
            let value = value.trim();
            if value.is_empty() {
                continue;
            }
            match name.as_str() {
                "status" => {
                    let status = value
                        .parse::<RunStatus>()
                        .map_err(|e| UiError::bad(name, e.to_string()))?;
                    filter.query.status = Some(status);
                }
                "command" => {
                    if value.len() > MAX_COMMAND_LEN || value.chars().any(char::is_control) {
                        return Err(UiError::bad(name, "`command` is not a command's name"));
                    }
                    filter.query.command = Some(value.to_string());
                }
                "from" => from = Some(date(name, value)?),
                "to" => to = Some(date(name, value)?),
                "page" => filter.page = number(name, value, 1, i64::from(u32::MAX))?,
                "per_page" => filter.per_page = number(name, value, 1, MAX_PER_PAGE)?,
                _ => {
                    return Err(UiError::bad(
                        name,
                        format!(
                            "unknown query parameter `{name}` (known: status, command, from, to, page, per_page)"
                        ),
                    ));
                }
            }
        }
        if let (Some(f), Some(t)) = (from, to)
            && f > t
        {
            return Err(UiError::bad(
                "to",
                format!("`to` ({t}) is before `from` ({f})"),
            ));
        }
        // The store's timestamps are RFC 3339 text in UTC, so a day is the text range from
        // its date up to (not including) the next day's.
        filter.query.started_from = from.map(|d| d.to_string());
        filter.query.started_before = match to {
            Some(t) => Some(
                t.checked_add_days(Days::new(1))
                    .ok_or_else(|| UiError::bad("to", format!("`to` ({t}) is too far away")))?
                    .to_string(),
            ),
            None => None,
        };
        Ok(filter)
    }
}

fn date(name: &str, value: &str) -> UiResult<NaiveDate> {
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .ok()
        // Four-digit years only, so the date's text sorts as the store's timestamps do.
        .filter(|d| (0..=9999).contains(&d.year()))
        .ok_or_else(|| {
            UiError::bad(
                name,
                format!("`{name}` must be a date as YYYY-MM-DD (UTC), not `{value}`"),
            )
        })
}

pub(crate) fn number(name: &str, value: &str, min: i64, max: i64) -> UiResult<i64> {
    value
        .parse::<i64>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| {
            UiError::bad(
                name,
                format!("`{name}` must be a whole number from {min} to {max}, not `{value}`"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(q: &[(&str, &str)]) -> UiResult<RunsFilter> {
        let pairs: Vec<(String, String)> = q
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        RunsFilter::parse(&pairs)
    }

    fn field_of(q: &[(&str, &str)]) -> String {
        match parse(q) {
            Err(UiError::BadRequest { field, .. }) => field,
            other => panic!("expected a bad request for {q:?}, got {other:?}"),
        }
    }

    #[test]
    fn an_empty_query_is_the_first_page_of_everything() {
        let f = parse(&[]).unwrap();
        assert_eq!(f.query, RunQuery::default());
        assert_eq!((f.page, f.per_page, f.offset()), (1, DEFAULT_PER_PAGE, 0));
        // Empty form fields are not filters.
        assert_eq!(parse(&[("status", ""), ("from", " ")]).unwrap(), f);
    }

    #[test]
    fn filters_become_the_store_query() {
        let f = parse(&[
            ("status", "error"),
            ("command", "build"),
            ("from", "2026-01-31"),
            ("to", "2026-02-28"),
            ("page", "3"),
            ("per_page", "20"),
        ])
        .unwrap();
        assert_eq!(f.query.status, Some(RunStatus::Error));
        assert_eq!(f.query.command.as_deref(), Some("build"));
        assert_eq!(f.query.started_from.as_deref(), Some("2026-01-31"));
        // `to` is inclusive: runs before the next day.
        assert_eq!(f.query.started_before.as_deref(), Some("2026-03-01"));
        assert_eq!(f.offset(), 40);
        let one_day = parse(&[("from", "2026-01-31"), ("to", "2026-01-31")]).unwrap();
        assert_eq!(one_day.query.started_before.as_deref(), Some("2026-02-01"));
    }

    #[test]
    fn each_mistake_names_its_parameter() {
        assert_eq!(field_of(&[("status", "done")]), "status");
        assert_eq!(field_of(&[("from", "31/01/2026")]), "from");
        assert_eq!(field_of(&[("to", "2026-02-30")]), "to");
        assert_eq!(
            field_of(&[("from", "2026-02-02"), ("to", "2026-02-01")]),
            "to"
        );
        assert_eq!(field_of(&[("page", "0")]), "page");
        assert_eq!(field_of(&[("page", "two")]), "page");
        assert_eq!(field_of(&[("per_page", "201")]), "per_page");
        assert_eq!(field_of(&[("command", &"x".repeat(65))]), "command");
        assert_eq!(field_of(&[("statuss", "error")]), "statuss");
        assert_eq!(field_of(&[("page", "1"), ("page", "2")]), "page");
        assert_eq!(field_of(&[("from", "+12026-01-01")]), "from");
    }
}
