//! dbt's context helpers that are not about the database: `modules` (datetime, re, pytz),
//! `exceptions`, JSON/YAML (de)serialisation, `zip`, `set`, `local_md5`, `run_started_at`,
//! `invocation_id`, `flags`, `graph` and `dbt_version`.

use std::fmt;
use std::sync::{Arc, OnceLock};

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Utc};
use minijinja::value::{Kwargs, Object, Value, from_args};
use minijinja::{Environment, Error, ErrorKind, State};

use super::invalid;

mod md5;
pub(crate) use md5::hex as md5_hex;
mod pyre;
mod pyset;

pub(crate) fn add_globals(env: &mut Environment<'static>) {
    env.add_global("modules", Value::from_object(Modules));
    env.add_global("exceptions", Value::from_object(Exceptions));
    env.add_global("run_started_at", Value::from_object(DateTime(*started())));
    env.add_global("invocation_id", Value::from(invocation_id()));
    env.add_global("dbt_version", Value::from("1.10.0"));
    env.add_global("thread_id", Value::from("Thread-1"));
    env.add_global(
        "flags",
        Value::from_serialize(serde_json::json!({
            "WHICH": "run",
            "FULL_REFRESH": false,
            "STORE_FAILURES": false,
            "WARN_ERROR": false,
            "FAIL_FAST": false,
            "DEBUG": false,
        })),
    );
    env.add_global(
        "graph",
        Value::from_serialize(serde_json::json!({
            "nodes": {}, "sources": {}, "macros": {}, "exposures": {}, "metrics": {},
            "groups": {}, "semantic_models": {}, "saved_queries": {},
        })),
    );
    env.add_function("tojson", tojson);
    env.add_filter("tojson", tojson);
    env.add_function(
        "fromjson",
        |s: String, default: Option<Value>| -> Result<Value, Error> {
            match serde_json::from_str::<serde_json::Value>(&s) {
                Ok(v) => Ok(Value::from_serialize(v)),
                Err(e) => default.ok_or_else(|| invalid(format!("fromjson: {e}"))),
            }
        },
    );
    env.add_function("toyaml", |v: Value| -> Result<Value, Error> {
        serde_yaml::to_string(&v)
            .map(Value::from)
            .map_err(|e| invalid(format!("toyaml: {e}")))
    });
    env.add_function(
        "fromyaml",
        |s: String, default: Option<Value>| -> Result<Value, Error> {
            match serde_yaml::from_str::<serde_json::Value>(&s) {
                Ok(v) => Ok(Value::from_serialize(v)),
                Err(e) => default.ok_or_else(|| invalid(format!("fromyaml: {e}"))),
            }
        },
    );
    env.add_function("zip", |args: &[Value]| -> Result<Value, Error> {
        zip(args, false)
    });
    env.add_function("zip_strict", |args: &[Value]| -> Result<Value, Error> {
        zip(args, true)
    });
    env.add_function("set", |v: Value| -> Result<Value, Error> {
        Ok(pyset::PySet::of(v.try_iter()?))
    });
    env.add_function("set_strict", |v: Value| -> Result<Value, Error> {
        Ok(pyset::PySet::of(v.try_iter()?))
    });
    env.add_function("local_md5", |s: String| md5::hex(s.as_bytes()));
    env.add_function(
        "diff_of_two_dicts",
        |a: Value, b: Value| -> Result<Value, Error> {
            let mut out = Vec::new();
            for k in a.try_iter()? {
                let av = a.get_item(&k)?;
                let bv = b.get_item(&k).unwrap_or_default();
                if bv.is_undefined() {
                    out.push((k.to_string(), av));
                }
            }
            Ok(Value::from_iter(out))
        },
    );
    env.add_function(
        "try_or_compiler_error",
        |state: &State, msg: String, f: Value, args: &[Value]| {
            f.call(state, args)
                .map_err(|_| invalid(format!("Compilation Error: {msg}")))
        },
    );
}

/// `tojson(value)`: serde_json's maps are sorted, so `sort_keys` changes nothing.
fn tojson(v: Value, kwargs: Kwargs) -> Result<Value, Error> {
    let _: Option<bool> = kwargs.get("sort_keys")?;
    let _: Option<Value> = kwargs.get("indent")?;
    let json = serde_json::to_value(&v).map_err(|e| invalid(format!("tojson: {e}")))?;
    Ok(Value::from(json.to_string()))
}

fn zip(args: &[Value], strict: bool) -> Result<Value, Error> {
    let lists: Vec<Vec<Value>> = args
        .iter()
        .map(|a| a.try_iter().map(|i| i.collect()))
        .collect::<Result<_, _>>()?;
    let n = lists.iter().map(Vec::len).min().unwrap_or(0);
    if strict && lists.iter().any(|l| l.len() != n) {
        return Err(invalid("zip_strict: the sequences differ in length"));
    }
    Ok(Value::from(
        (0..n)
            .map(|i| Value::from(lists.iter().map(|l| l[i].clone()).collect::<Vec<_>>()))
            .collect::<Vec<_>>(),
    ))
}

fn started() -> &'static NaiveDateTime {
    static AT: OnceLock<NaiveDateTime> = OnceLock::new();
    AT.get_or_init(|| Utc::now().naive_utc())
}

/// A UUID (version 4 layout) for this process: dbt's `invocation_id`.
fn invocation_id() -> String {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        use sha2::Digest;
        let seed = format!(
            "{}-{}-{:?}",
            std::process::id(),
            Utc::now().timestamp_nanos_opt().unwrap_or_default(),
            std::thread::current().id()
        );
        let mut b = [0u8; 16];
        b.copy_from_slice(&sha2::Sha256::digest(seed.as_bytes())[..16]);
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
        format!(
            "{}-{}-{}-{}-{}",
            &h[..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..]
        )
    })
    .clone()
}

/// `exceptions.raise_compiler_error(msg)`, `exceptions.warn(msg)` and friends.
#[derive(Debug)]
struct Exceptions;

impl Object for Exceptions {
    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let msg = args.first().map(|m| m.to_string()).unwrap_or_default();
        match method {
            "warn" => {
                eprintln!("warning: {msg}");
                Ok(Value::from(""))
            }
            "raise_compiler_error"
            | "raise_fail_fast_error"
            | "raise_database_error"
            | "raise_dependency_error"
            | "column_type_missing"
            | "raise_contract_error" => Err(invalid(format!("Compilation Error: {msg}"))),
            "raise_not_implemented" => Err(invalid(format!("Not implemented: {msg}"))),
            _ => Err(Error::new(
                ErrorKind::UnknownMethod,
                format!("exceptions.{method}() is not supported by Lakeforge"),
            )),
        }
    }
}

/// `modules`: the Python modules dbt exposes.
#[derive(Debug)]
struct Modules;

impl Object for Modules {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "datetime" => Some(Value::from_object(DatetimeModule)),
            "re" => Some(Value::from_object(pyre::ReModule)),
            "pytz" => Some(Value::from_object(PytzModule)),
            "itertools" => None,
            _ => None,
        }
    }
}

#[derive(Debug)]
struct DatetimeModule;

impl Object for DatetimeModule {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "datetime" => Some(Value::from_object(DatetimeClass)),
            "date" => Some(Value::from_object(DateClass)),
            "timedelta" => Some(Value::from_object(TimedeltaClass)),
            _ => None,
        }
    }
}

/// `datetime.datetime`: `now()`, `utcnow()`, `strptime()`, `fromisoformat()`, and the
/// constructor.
#[derive(Debug)]
struct DatetimeClass;

impl Object for DatetimeClass {
    fn call(self: &Arc<Self>, _state: &State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        let (ymd, time): ((i32, u32, u32), &[Value]) = match args {
            [y, m, d, rest @ ..] => (
                (
                    i32::try_from(y.clone())?,
                    u32::try_from(m.clone())?,
                    u32::try_from(d.clone())?,
                ),
                rest,
            ),
            _ => return Err(invalid("datetime() needs a year, month and day")),
        };
        let (y, m, d) = ymd;
        let part = |i: usize| time.get(i).and_then(|v| u32::try_from(v.clone()).ok());
        let (h, mi, s) = (part(0), part(1), part(2));
        let dt = NaiveDate::from_ymd_opt(y, m, d)
            .and_then(|date| date.and_hms_opt(h.unwrap_or(0), mi.unwrap_or(0), s.unwrap_or(0)))
            .ok_or_else(|| invalid("datetime(): invalid date"))?;
        Ok(Value::from_object(DateTime(dt)))
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "now" | "utcnow" | "today" => Ok(Value::from_object(DateTime(Utc::now().naive_utc()))),
            "strptime" => {
                let (s, fmt): (String, String) = from_args(args)?;
                NaiveDateTime::parse_from_str(&s, &fmt)
                    .or_else(|_| {
                        NaiveDate::parse_from_str(&s, &fmt).map(|d| d.and_time(NaiveTime::MIN))
                    })
                    .map(|d| Value::from_object(DateTime(d)))
                    .map_err(|e| invalid(format!("strptime('{s}', '{fmt}'): {e}")))
            }
            "fromisoformat" => {
                let (s,): (String,) = from_args(args)?;
                parse_iso(&s)
                    .map(|d| Value::from_object(DateTime(d)))
                    .ok_or_else(|| invalid(format!("fromisoformat('{s}'): not an ISO date")))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

fn parse_iso(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim().replace('T', " ");
    NaiveDateTime::parse_from_str(&s, "%Y-%m-%d %H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(&s, "%Y-%m-%d %H:%M"))
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(&s, "%Y-%m-%d")
                .ok()?
                .and_hms_opt(0, 0, 0)
        })
}

#[derive(Debug)]
struct DateClass;

impl Object for DateClass {
    fn call(self: &Arc<Self>, _state: &State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        let (y, m, d): (i32, u32, u32) = from_args(args)?;
        let date =
            NaiveDate::from_ymd_opt(y, m, d).ok_or_else(|| invalid("date(): invalid date"))?;
        Ok(Value::from_object(Date(date)))
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "today" => Ok(Value::from_object(Date(Utc::now().date_naive()))),
            "fromisoformat" => {
                let (s,): (String,) = from_args(args)?;
                NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
                    .map(|d| Value::from_object(Date(d)))
                    .map_err(|e| invalid(format!("fromisoformat('{s}'): {e}")))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// `datetime.timedelta(days=..., hours=...)`: used through `dt.add(td)`/`dt.subtract(td)`
/// (Jinja's `+` cannot add objects), and rendered as Python does.
#[derive(Debug)]
struct TimedeltaClass;

impl Object for TimedeltaClass {
    fn call(self: &Arc<Self>, _state: &State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        let (pos, kwargs): (&[Value], Kwargs) = from_args(args)?;
        let mut secs = 0f64;
        let names = [
            "days",
            "seconds",
            "microseconds",
            "milliseconds",
            "minutes",
            "hours",
            "weeks",
        ];
        let factor = [86400.0, 1.0, 1e-6, 1e-3, 60.0, 3600.0, 604800.0];
        for (i, name) in names.iter().enumerate() {
            let v: Option<f64> = kwargs.get(name)?;
            let v = v.or_else(|| pos.get(i).and_then(|p| f64::try_from(p.clone()).ok()));
            secs += v.unwrap_or(0.0) * factor[i];
        }
        Ok(Value::from_object(Timedelta(
            chrono::Duration::milliseconds((secs * 1000.0).round() as i64),
        )))
    }
}

#[derive(Debug)]
struct Timedelta(chrono::Duration);

impl Object for Timedelta {
    fn is_true(self: &Arc<Self>) -> bool {
        true
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "days" => Some(Value::from(self.0.num_days())),
            "seconds" => Some(Value::from(
                self.0.num_seconds() - self.0.num_days() * 86400,
            )),
            _ => None,
        }
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        _args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "total_seconds" => Ok(Value::from(self.0.num_milliseconds() as f64 / 1000.0)),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// A datetime (naive, UTC when it came from `now()`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct DateTime(NaiveDateTime);

impl Object for DateTime {
    fn is_true(self: &Arc<Self>) -> bool {
        true
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let d = self.0;
        Some(Value::from(match key.as_str()? {
            "year" => d.year() as i64,
            "month" => d.month() as i64,
            "day" => d.day() as i64,
            "hour" => d.hour() as i64,
            "minute" => d.minute() as i64,
            "second" => d.second() as i64,
            "microsecond" => (d.nanosecond() / 1000) as i64,
            "tzinfo" => return Some(Value::from(())),
            _ => return None,
        }))
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let d = self.0;
        match method {
            "strftime" => {
                let (fmt,): (String,) = from_args(args)?;
                Ok(Value::from(d.format(&fmt).to_string()))
            }
            "isoformat" => {
                let (sep,): (Option<String>,) = from_args(args)?;
                let sep = sep.unwrap_or_else(|| "T".into());
                Ok(Value::from(
                    d.format(&format!("%Y-%m-%d{sep}%H:%M:%S%.6f")).to_string(),
                ))
            }
            "date" => Ok(Value::from_object(Date(d.date()))),
            "timestamp" => Ok(Value::from(d.and_utc().timestamp_millis() as f64 / 1000.0)),
            "replace" => {
                let (_, kwargs): (&[Value], Kwargs) = from_args(args)?;
                let mut out = d;
                macro_rules! set {
                    ($k:literal, $f:ident) => {
                        if let Some(v) = kwargs.get::<Option<u32>>($k)? {
                            out = out
                                .$f(v)
                                .ok_or_else(|| invalid(concat!("replace(): invalid ", $k)))?;
                        }
                    };
                }
                if let Some(y) = kwargs.get::<Option<i32>>("year")? {
                    out = out
                        .with_year(y)
                        .ok_or_else(|| invalid("replace(): invalid year"))?;
                }
                set!("month", with_month);
                set!("day", with_day);
                set!("hour", with_hour);
                set!("minute", with_minute);
                set!("second", with_second);
                if let Some(us) = kwargs.get::<Option<u32>>("microsecond")? {
                    out = out
                        .with_nanosecond(us * 1000)
                        .ok_or_else(|| invalid("replace(): invalid microsecond"))?;
                }
                let _: Option<Value> = kwargs.get("tzinfo")?;
                Ok(Value::from_object(DateTime(out)))
            }
            "astimezone" => {
                let (tz,): (Value,) = from_args(args)?;
                let name = tz
                    .get_attr("zone")
                    .map(|z| z.to_string())
                    .unwrap_or_default();
                match name.parse::<chrono_tz::Tz>() {
                    Ok(tz) => Ok(Value::from_object(DateTime(
                        d.and_utc().with_timezone(&tz).naive_local(),
                    ))),
                    Err(_) => Ok(Value::from_object(DateTime(d))),
                }
            }
            "add" | "subtract" => {
                let (td,): (Value,) = from_args(args)?;
                let td = td
                    .downcast_object_ref::<Timedelta>()
                    .ok_or_else(|| invalid("add()/subtract() take a timedelta"))?;
                Ok(Value::from_object(DateTime(if method == "add" {
                    d + td.0
                } else {
                    d - td.0
                })))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Python's str(datetime): microseconds only when there are some.
        if self.0.nanosecond() == 0 {
            write!(f, "{}", self.0.format("%Y-%m-%d %H:%M:%S"))
        } else {
            write!(f, "{}", self.0.format("%Y-%m-%d %H:%M:%S%.6f"))
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Date(NaiveDate);

impl Object for Date {
    fn is_true(self: &Arc<Self>) -> bool {
        true
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        Some(Value::from(match key.as_str()? {
            "year" => self.0.year() as i64,
            "month" => self.0.month() as i64,
            "day" => self.0.day() as i64,
            _ => return None,
        }))
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "strftime" => {
                let (fmt,): (String,) = from_args(args)?;
                Ok(Value::from(self.0.format(&fmt).to_string()))
            }
            "isoformat" => Ok(Value::from(self.0.format("%Y-%m-%d").to_string())),
            "weekday" => Ok(Value::from(self.0.weekday().num_days_from_monday())),
            "isoweekday" => Ok(Value::from(self.0.weekday().number_from_monday())),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%d"))
    }
}

/// `modules.pytz`: `timezone(name)` and `utc`, enough for `dt.astimezone(tz)`.
#[derive(Debug)]
struct PytzModule;

impl Object for PytzModule {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "utc" | "UTC" => Some(Value::from_iter([("zone", Value::from("UTC"))])),
            _ => None,
        }
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "timezone" => {
                let (name,): (String,) = from_args(args)?;
                name.parse::<chrono_tz::Tz>()
                    .map_err(|_| invalid(format!("pytz.timezone('{name}'): unknown time zone")))?;
                Ok(Value::from_iter([("zone", Value::from(name))]))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}
