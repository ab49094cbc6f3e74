//! Schedules: `schedules:` in lakeforge.yml, each a cron expression in a timezone and what
//! to run on its ticks (a command, a selection, vars), with a catch-up policy for ticks missed
//! while no scheduler ran. This module parses and checks them (every error names lakeforge.yml,
//! the schedule and the field, with a hint) and answers the scheduler's questions about time:
//! when the next tick is, and which ticks are due now given the last one recorded. Running
//! them is the CLI's `lakeforge scheduler`; recording them is the metadata store's.
//!
//! ```yaml
//! schedules:
//!   - name: nightly
//!     cron: "0 2 * * *"            # 5 fields, or 6 with seconds first
//!     timezone: Europe/Paris       # default UTC
//!     command: build               # build (default), run, test or seed
//!     select: tag:daily            # a string or a list, as --select
//!     exclude: [legacy]
//!     vars: {region: eu}
//!     full_refresh: false
//!     catchup: latest              # none, latest (default) or all
//!     max_catchup: 100             # with all: at most this many missed ticks are run
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Timelike, Utc};
use chrono_tz::Tz;
use serde::Deserialize;

use crate::error::{ProjectError, Result, suggest};

/// What a schedule's ticks run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScheduleCommand {
    Build,
    Run,
    Test,
    Seed,
}

impl ScheduleCommand {
    pub const ALL: [ScheduleCommand; 4] = [
        ScheduleCommand::Build,
        ScheduleCommand::Run,
        ScheduleCommand::Test,
        ScheduleCommand::Seed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ScheduleCommand::Build => "build",
            ScheduleCommand::Run => "run",
            ScheduleCommand::Test => "test",
            ScheduleCommand::Seed => "seed",
        }
    }
}

/// What a scheduler does with ticks that passed while none was running (or while a previous
/// run was still going).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Catchup {
    /// Missed ticks are dropped; a tick runs only if it can start within [`ON_TIME`] of its
    /// time.
    None,
    /// Of the missed ticks, only the most recent runs.
    Latest,
    /// Every missed tick runs, oldest first, at most `max_catchup` of them (the most recent).
    All,
}

impl Catchup {
    pub fn as_str(self) -> &'static str {
        match self {
            Catchup::None => "none",
            Catchup::Latest => "latest",
            Catchup::All => "all",
        }
    }
}

/// How late a tick may start under `catchup: none`.
pub const ON_TIME: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

/// The default `max_catchup`.
pub const DEFAULT_MAX_CATCHUP: usize = 100;

/// Missed ticks are counted (for the scheduler's message) up to this many.
pub const COUNT_CAP: u64 = 100_000;

/// A checked schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub name: String,
    /// The cron expression as written.
    pub cron: String,
    pub timezone: Tz,
    pub command: ScheduleCommand,
    pub select: Vec<String>,
    pub exclude: Vec<String>,
    /// Passed to the run as `--vars` would be.
    pub vars: BTreeMap<String, serde_json::Value>,
    pub full_refresh: bool,
    pub catchup: Catchup,
    pub max_catchup: usize,
    spec: croner::Cron,
}

/// A string or a list of strings, as a selection may be written.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

/// A schedule as written in lakeforge.yml, before it is checked.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleFile {
    pub name: String,
    pub cron: String,
    #[serde(default)]
    pub timezone: Option<String>,
    #[serde(default)]
    pub command: Option<String>,
    #[serde(default)]
    pub select: Option<OneOrMany>,
    #[serde(default)]
    pub exclude: Option<OneOrMany>,
    #[serde(default)]
    pub vars: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub full_refresh: bool,
    #[serde(default)]
    pub catchup: Option<String>,
    #[serde(default)]
    pub max_catchup: Option<usize>,
}

const CRON_HINT: &str = "five fields (minute hour day-of-month month day-of-week), or six with seconds first: `0 2 * * *` is 02:00 every day, `*/15 * * * *` every quarter hour, `*/10 * * * * *` every ten seconds";

/// Check the `schedules:` of the lakeforge.yml at `path`.
pub fn check_schedules(path: &Path, files: Vec<ScheduleFile>) -> Result<Vec<Schedule>> {
    let mut out: Vec<Schedule> = Vec::with_capacity(files.len());
    for file in files {
        let schedule = Schedule::check(path, file)?;
        if out.iter().any(|s| s.name == schedule.name) {
            return Err(ProjectError::Config {
                path: path.into(),
                message: format!(
                    "two schedules are named `{}`\nhint: give each schedule a name of its own; its ticks are recorded under that name",
                    schedule.name
                ),
            });
        }
        out.push(schedule);
    }
    Ok(out)
}

impl Schedule {
    fn check(path: &Path, file: ScheduleFile) -> Result<Schedule> {
        let name = file.name.trim().to_string();
        let error = |field: &str, message: String| ProjectError::Config {
            path: path.into(),
            message: format!("schedule `{name}`, field `{field}`: {message}"),
        };
        if name.is_empty() || name.chars().any(|c| c.is_control()) {
            return Err(ProjectError::Config {
                path: path.into(),
                message: format!(
                    "a schedule has the name `{}`\nhint: name every schedule, e.g. `name: nightly`",
                    file.name
                ),
            });
        }
        let spec = parse_cron(&file.cron).map_err(|e| {
            error(
                "cron",
                format!(
                    "`{}` is not a cron expression: {e}\nhint: {CRON_HINT}",
                    file.cron
                ),
            )
        })?;
        let timezone = match file.timezone.as_deref().map(str::trim) {
            None | Some("") => Tz::UTC,
            Some(tz) => tz.parse::<Tz>().map_err(|_| {
                let names = chrono_tz::TZ_VARIANTS.iter().map(|t| t.name());
                let close = suggest(tz, names)
                    .map(|s| format!("did you mean `{s}`? "))
                    .unwrap_or_default();
                error(
                    "timezone",
                    format!(
                        "`{tz}` is not a known timezone\nhint: {close}use an IANA name such as `UTC`, `Europe/Paris` or `America/New_York`"
                    ),
                )
            })?,
        };
        let command = match file.command.as_deref().map(str::trim) {
            None | Some("") => ScheduleCommand::Build,
            Some(c) => ScheduleCommand::ALL
                .into_iter()
                .find(|k| k.as_str() == c)
                .ok_or_else(|| {
                    error(
                        "command",
                        format!(
                            "`{c}` is not a command a schedule can run\nhint: one of build (the default), run, test or seed"
                        ),
                    )
                })?,
        };
        let catchup = match file.catchup.as_deref().map(str::trim) {
            None | Some("") => Catchup::Latest,
            Some("none") => Catchup::None,
            Some("latest") => Catchup::Latest,
            Some("all") => Catchup::All,
            Some(other) => {
                return Err(error(
                    "catchup",
                    format!(
                        "`{other}` is not a catch-up policy\nhint: `none` (drop missed ticks), `latest` (run the most recent missed tick; the default) or `all` (run each, at most max_catchup)"
                    ),
                ));
            }
        };
        let max_catchup = file.max_catchup.unwrap_or(DEFAULT_MAX_CATCHUP);
        if max_catchup == 0 {
            return Err(error(
                "max_catchup",
                "must be at least 1\nhint: to run no missed tick, set `catchup: none`".into(),
            ));
        }
        let schedule = Schedule {
            name: name.clone(),
            cron: file.cron.trim().to_string(),
            timezone,
            command,
            select: file.select.map(OneOrMany::into_vec).unwrap_or_default(),
            exclude: file.exclude.map(OneOrMany::into_vec).unwrap_or_default(),
            vars: file.vars,
            full_refresh: file.full_refresh,
            catchup,
            max_catchup,
            spec,
        };
        if schedule.next_after(Utc::now()).is_none() {
            return Err(error(
                "cron",
                format!(
                    "`{}` never fires (no such date)\nhint: {CRON_HINT}",
                    schedule.cron
                ),
            ));
        }
        Ok(schedule)
    }

    /// The vars as `--vars` text (JSON, which is YAML), or None when there are none.
    pub fn vars_text(&self) -> Option<String> {
        (!self.vars.is_empty())
            .then(|| serde_json::Value::Object(self.vars.clone().into_iter().collect()).to_string())
    }

    /// The first tick strictly after `t`.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        cron_next(&self.spec, &t.with_timezone(&self.timezone))
    }

    /// The latest tick at or before `t`.
    pub fn latest_at_or_before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        cron_previous(&self.spec, &t.with_timezone(&self.timezone))
    }

    /// Which ticks are due at `now`, given the latest tick recorded (claimed or skipped) for
    /// this schedule, under its catch-up policy.
    ///
    /// A schedule never recorded is seen for the first time: none of its past ticks runs (a
    /// new schedule waits for its next tick, as cron does); the latest is to be recorded as
    /// skipped, so that a later `--once` knows where the schedule started.
    pub fn due(&self, last: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Due {
        let Some(latest) = self.latest_at_or_before(now) else {
            return Due::default();
        };
        let Some(last) = last else {
            return Due {
                skip: Some((latest, SkipReason::FirstSeen)),
                ..Due::default()
            };
        };
        if latest <= last {
            return Due::default();
        }
        let keep = match self.catchup {
            Catchup::All => self.max_catchup,
            Catchup::Latest | Catchup::None => 1,
        };
        // The newest `keep` ticks after `last`, found going back from `latest`.
        let mut newest = vec![latest];
        while newest.len() < keep {
            let before = newest[newest.len() - 1] - chrono::TimeDelta::seconds(1);
            match self.latest_at_or_before(before) {
                Some(t) if t > last => newest.push(t),
                _ => break,
            }
        }
        newest.reverse();
        let total = self.count_between(last, latest);
        let mut due = Due::default();
        match self.catchup {
            Catchup::None if now - latest > ON_TIME => {
                due.skip = Some((latest, SkipReason::TooLate));
                due.passed_over = total.saturating_sub(1);
            }
            _ => {
                due.passed_over = total.saturating_sub(newest.len() as u64);
                due.fire = newest;
            }
        }
        due
    }

    /// How many ticks lie in (`after`, `until`], counted up to [`COUNT_CAP`].
    fn count_between(&self, after: DateTime<Utc>, until: DateTime<Utc>) -> u64 {
        let mut n = 0;
        let mut t = after;
        while n < COUNT_CAP {
            match self.next_after(t) {
                Some(next) if next <= until => {
                    n += 1;
                    t = next;
                }
                _ => break,
            }
        }
        n
    }
}

/// Why a tick is recorded as skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// The schedule was first seen after it.
    FirstSeen,
    /// `catchup: none` and it is too late to start it.
    TooLate,
}

impl SkipReason {
    pub fn message(self) -> &'static str {
        match self {
            SkipReason::FirstSeen => "the schedule was first seen after this tick",
            SkipReason::TooLate => "missed (catchup: none)",
        }
    }
}

/// What [`Schedule::due`] decided.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Due {
    /// Ticks to run now, oldest first.
    pub fire: Vec<DateTime<Utc>>,
    /// Missed ticks the policy passes over (counted up to [`COUNT_CAP`]); not recorded.
    pub passed_over: u64,
    /// A tick to record as skipped, so that no scheduler looks before it again.
    pub skip: Option<(DateTime<Utc>, SkipReason)>,
}

/// Why a `cron:` is not a cron expression; the schedule's check adds the name and a hint.
#[derive(Debug, thiserror::Error)]
enum CronError {
    /// Not 5 or 6 fields: counted before croner parses, so the message says how many.
    #[error("it has {count} field{}", if *count == 1 { "" } else { "s" })]
    Fields { count: usize },

    #[error(transparent)]
    Croner(#[from] croner::errors::CronError),
}

/// Parse a cron expression of 5 fields, or 6 with seconds first (or a nickname such as
/// `@daily`).
fn parse_cron(text: &str) -> std::result::Result<croner::Cron, CronError> {
    let text = text.trim();
    let fields = text.split_whitespace().count();
    if !text.starts_with('@') && !(5..=6).contains(&fields) {
        return Err(CronError::Fields { count: fields });
    }
    Ok(croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Optional)
        .year(croner::parser::Year::Disallowed)
        .build()
        .parse(text)?)
}

/// Ticks fall on whole seconds; croner keeps the fraction of the time it starts from.
fn whole_second<T: Timelike>(t: T) -> T {
    // 0 ns is always valid, so `with_nanosecond` never gives None here.
    t.with_nanosecond(0).unwrap_or(t)
}

fn cron_next(spec: &croner::Cron, t: &DateTime<Tz>) -> Option<DateTime<Utc>> {
    spec.find_next_occurrence(&whole_second(*t), false)
        .ok()
        .map(|t| whole_second(t.with_timezone(&Utc)))
}

fn cron_previous(spec: &croner::Cron, t: &DateTime<Tz>) -> Option<DateTime<Utc>> {
    spec.find_previous_occurrence(&whole_second(*t), true)
        .ok()
        .map(|t| whole_second(t.with_timezone(&Utc)))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn schedule(yaml: &str) -> Result<Schedule> {
        let file: ScheduleFile = serde_yaml::from_str(yaml).unwrap();
        Schedule::check(Path::new("/p/lakeforge.yml"), file)
    }

    fn t(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, h, m, s).unwrap()
    }

    #[test]
    fn five_and_six_fields_and_timezones() {
        let hourly = schedule("{name: h, cron: '0 * * * *'}").unwrap();
        assert_eq!(hourly.next_after(t(10, 0, 0)), Some(t(11, 0, 0)));
        assert_eq!(hourly.latest_at_or_before(t(10, 0, 0)), Some(t(10, 0, 0)));
        assert_eq!(hourly.latest_at_or_before(t(10, 59, 59)), Some(t(10, 0, 0)));
        let secs = schedule("{name: s, cron: '*/10 * * * * *'}").unwrap();
        assert_eq!(secs.next_after(t(10, 0, 5)), Some(t(10, 0, 10)));
        // 02:00 in Paris is 01:00 UTC in winter.
        let paris = schedule("{name: p, cron: '0 2 * * *', timezone: Europe/Paris}").unwrap();
        assert_eq!(paris.next_after(t(0, 0, 0)), Some(t(1, 0, 0)));
        assert_eq!(paris.command, ScheduleCommand::Build);
        assert_eq!(paris.catchup, Catchup::Latest);
    }

    #[test]
    fn errors_name_the_schedule_and_the_field() {
        let msg = |y: &str| schedule(y).unwrap_err().to_string();
        let bad_cron = msg("{name: nightly, cron: '61 * * * *'}");
        assert!(bad_cron.starts_with("/p/lakeforge.yml: schedule `nightly`, field `cron`: `61 * * * *` is not a cron expression"), "{bad_cron}");
        assert!(bad_cron.contains("hint: five fields"), "{bad_cron}");
        assert!(msg("{name: n, cron: '* * *'}").contains("it has 3 fields"));
        let tz = msg("{name: n, cron: '0 2 * * *', timezone: Europe/Pariss}");
        assert!(
            tz.contains("field `timezone`: `Europe/Pariss` is not a known timezone"),
            "{tz}"
        );
        assert!(tz.contains("did you mean `Europe/Paris`?"), "{tz}");
        let cmd = msg("{name: n, cron: '0 2 * * *', command: compile}");
        assert!(
            cmd.contains("field `command`: `compile` is not a command"),
            "{cmd}"
        );
        assert!(msg("{name: n, cron: '0 2 * * *', catchup: some}").contains("field `catchup`"));
        assert!(
            msg("{name: n, cron: '0 2 * * *', max_catchup: 0}").contains("field `max_catchup`")
        );
        assert!(msg("{name: n, cron: '0 0 30 2 *'}").contains("never fires"));
        let file = |name: &str| ScheduleFile {
            name: name.into(),
            cron: "0 * * * *".into(),
            timezone: None,
            command: None,
            select: None,
            exclude: None,
            vars: BTreeMap::new(),
            full_refresh: false,
            catchup: None,
            max_catchup: None,
        };
        let dup = check_schedules(Path::new("/p/lakeforge.yml"), vec![file("a"), file("a")])
            .unwrap_err()
            .to_string();
        assert!(dup.contains("two schedules are named `a`"), "{dup}");
    }

    #[test]
    fn selection_and_vars() {
        let s = schedule("{name: n, cron: '0 2 * * *', select: 'tag:daily +orders', exclude: [a, b], vars: {ds: 2024-01-01, n: 3}}").unwrap();
        assert_eq!(s.select, vec!["tag:daily +orders"]);
        assert_eq!(s.exclude, vec!["a", "b"]);
        assert_eq!(s.vars_text().unwrap(), r#"{"ds":"2024-01-01","n":3}"#);
    }

    #[test]
    fn a_new_schedule_waits_for_its_next_tick() {
        let s = schedule("{name: h, cron: '0 * * * *'}").unwrap();
        let due = s.due(None, t(10, 30, 0));
        assert!(due.fire.is_empty());
        assert_eq!(due.skip, Some((t(10, 0, 0), SkipReason::FirstSeen)));
        // Nothing new since the last tick.
        assert_eq!(s.due(Some(t(10, 0, 0)), t(10, 59, 0)), Due::default());
    }

    #[test]
    fn ticks_are_whole_seconds() {
        let s = schedule("{name: s, cron: '* * * * * *'}").unwrap();
        let now = t(10, 0, 5) + chrono::TimeDelta::milliseconds(700);
        assert_eq!(s.latest_at_or_before(now), Some(t(10, 0, 5)));
        assert_eq!(s.next_after(now), Some(t(10, 0, 6)));
        let all = schedule("{name: s, cron: '* * * * * *', catchup: all}").unwrap();
        assert_eq!(
            all.due(Some(t(10, 0, 2)), now).fire,
            vec![t(10, 0, 3), t(10, 0, 4), t(10, 0, 5)]
        );
    }

    #[test]
    fn catchup_policies() {
        let latest = schedule("{name: h, cron: '0 * * * *'}").unwrap();
        let due = latest.due(Some(t(10, 0, 0)), t(13, 30, 0));
        assert_eq!(due.fire, vec![t(13, 0, 0)]);
        assert_eq!(due.passed_over, 2);
        assert_eq!(due.skip, None);

        let all = schedule("{name: h, cron: '0 * * * *', catchup: all}").unwrap();
        let due = all.due(Some(t(10, 0, 0)), t(13, 30, 0));
        assert_eq!(due.fire, vec![t(11, 0, 0), t(12, 0, 0), t(13, 0, 0)]);
        assert_eq!(due.passed_over, 0);
        let capped =
            schedule("{name: h, cron: '0 * * * *', catchup: all, max_catchup: 2}").unwrap();
        let due = capped.due(Some(t(10, 0, 0)), t(13, 30, 0));
        assert_eq!(due.fire, vec![t(12, 0, 0), t(13, 0, 0)]);
        assert_eq!(due.passed_over, 1);

        let none = schedule("{name: h, cron: '0 * * * *', catchup: none}").unwrap();
        let late = none.due(Some(t(10, 0, 0)), t(13, 30, 0));
        assert!(late.fire.is_empty());
        assert_eq!(late.skip, Some((t(13, 0, 0), SkipReason::TooLate)));
        assert_eq!(late.passed_over, 2);
        let on_time = none.due(Some(t(12, 0, 0)), t(13, 0, 20));
        assert_eq!(on_time.fire, vec![t(13, 0, 0)]);
    }

    #[test]
    fn long_outages_are_counted_up_to_a_cap() {
        let s = schedule("{name: s, cron: '* * * * * *'}").unwrap();
        let due = s.due(Some(t(0, 0, 0)), t(0, 0, 0) + chrono::TimeDelta::days(3));
        assert_eq!(due.fire.len(), 1);
        assert_eq!(due.passed_over, COUNT_CAP - 1);
    }
}
