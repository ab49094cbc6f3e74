//! Python behaviour dbt's Jinja (Jinja2 on Python) has and minijinja lacks: methods of
//! strings, lists and dicts (`.split()`, `.items()`, `.append()`, `.update()`...), lists and
//! dicts that can change in place (the literals of every template are rewritten to build them,
//! see `rewrite.rs`), and the forgiving value dbt hands out while parsing.

use std::fmt;
use std::sync::{Arc, Mutex};

use minijinja::value::{Enumerator, Kwargs, Object, ObjectRepr, Value, ValueKind, from_args};
use minijinja::{Environment, Error, ErrorKind, State};

use super::{invalid, lock};

pub(crate) fn install(env: &mut Environment<'static>) {
    env.add_function("__lf_list", |v: Option<Value>| -> Result<Value, Error> {
        Ok(mutable_list(match v {
            Some(v) => v.try_iter()?.collect(),
            None => Vec::new(),
        }))
    });
    env.add_function("__lf_dict", |v: Option<Value>| -> Result<Value, Error> {
        let mut pairs = Vec::new();
        if let Some(v) = v {
            for k in v.try_iter()? {
                let item = v.get_item(&k)?;
                pairs.push((k, item));
            }
        }
        Ok(Value::from_object(MutDict(Mutex::new(pairs))))
    });
    env.add_function("list", |v: Option<Value>| -> Result<Value, Error> {
        Ok(mutable_list(match v {
            Some(v) if v.kind() == ValueKind::String => {
                v.as_str().unwrap_or("").chars().map(Value::from).collect()
            }
            Some(v) => v.try_iter()?.collect(),
            None => Vec::new(),
        }))
    });
    env.add_function("dict", |args: &[Value]| -> Result<Value, Error> {
        let (pos, kwargs): (&[Value], Kwargs) = from_args(args)?;
        let mut pairs = Vec::new();
        if let Some(v) = pos.first() {
            if v.kind() == ValueKind::Map {
                for k in v.try_iter()? {
                    let item = v.get_item(&k)?;
                    pairs.push((k, item));
                }
            } else {
                for item in v.try_iter()? {
                    pairs.push((item.get_item_by_index(0)?, item.get_item_by_index(1)?));
                }
            }
        }
        for k in kwargs.args() {
            pairs.push((Value::from(k), kwargs.get::<Value>(k)?));
        }
        Ok(Value::from_object(MutDict(Mutex::new(pairs))))
    });
    env.set_unknown_method_callback(unknown_method);
}

/// A list `.append()` can grow.
pub(crate) fn mutable_list(values: Vec<Value>) -> Value {
    Value::from_object(MutList(Mutex::new(values)))
}

/// A dict `.update()` can change, keeping insertion order as Python's does.
pub(crate) fn mutable_dict(values: impl IntoIterator<Item = (String, Value)>) -> Value {
    Value::from_object(MutDict(Mutex::new(
        values
            .into_iter()
            .map(|(k, v)| (Value::from(k), v))
            .collect(),
    )))
}

#[derive(Debug)]
pub(crate) struct MutList(Mutex<Vec<Value>>);

impl MutList {
    fn snapshot(&self) -> Vec<Value> {
        lock(&self.0).clone()
    }
}

impl Object for MutList {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        lock(&self.0).get(key.as_usize()?).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.snapshot())
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(lock(&self.0).len())
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let mut v = lock(&self.0);
        match method {
            "append" => {
                let (x,): (Value,) = from_args(args)?;
                v.push(x);
            }
            "extend" => {
                let (x,): (Value,) = from_args(args)?;
                v.extend(x.try_iter()?);
            }
            "insert" => {
                let (i, x): (i64, Value) = from_args(args)?;
                let i = py_index(i, v.len()).min(v.len());
                v.insert(i, x);
            }
            "pop" => {
                let (i,): (Option<i64>,) = from_args(args)?;
                if v.is_empty() {
                    return Err(invalid("pop from empty list"));
                }
                let i = py_index(i.unwrap_or(-1), v.len());
                if i >= v.len() {
                    return Err(invalid("pop index out of range"));
                }
                return Ok(v.remove(i));
            }
            "remove" => {
                let (x,): (Value,) = from_args(args)?;
                match v.iter().position(|y| *y == x) {
                    Some(i) => {
                        v.remove(i);
                    }
                    None => {
                        return Err(invalid(format!("list.remove({x}): not in list")));
                    }
                }
            }
            "clear" => v.clear(),
            "reverse" => v.reverse(),
            "copy" => return Ok(mutable_list(v.clone())),
            "index" => {
                let (x,): (Value,) = from_args(args)?;
                return v
                    .iter()
                    .position(|y| *y == x)
                    .map(Value::from)
                    .ok_or_else(|| invalid(format!("{x} is not in list")));
            }
            "count" => {
                let (x,): (Value,) = from_args(args)?;
                return Ok(Value::from(v.iter().filter(|y| **y == x).count()));
            }
            _ => return Err(Error::from(ErrorKind::UnknownMethod)),
        }
        Ok(Value::from(()))
    }
}

fn py_index(i: i64, len: usize) -> usize {
    if i < 0 {
        len.saturating_sub(i.unsigned_abs() as usize)
    } else {
        i as usize
    }
}

#[derive(Debug)]
pub(crate) struct MutDict(Mutex<Vec<(Value, Value)>>);

impl MutDict {
    fn lookup(&self, key: &Value) -> Option<Value> {
        lock(&self.0)
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    }

    fn set(&self, key: Value, value: Value) {
        let mut v = lock(&self.0);
        match v.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => v.push((key, value)),
        }
    }
}

impl Object for MutDict {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.lookup(key)
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(lock(&self.0).iter().map(|(k, _)| k.clone()).collect())
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(lock(&self.0).len())
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "update" => {
                let (pos, kwargs): (&[Value], Kwargs) = from_args(args)?;
                if let Some(other) = pos.first() {
                    for k in other.try_iter()? {
                        let item = other.get_item(&k)?;
                        self.set(k, item);
                    }
                }
                for k in kwargs.args() {
                    self.set(Value::from(k), kwargs.get::<Value>(k)?);
                }
                Ok(Value::from(()))
            }
            "pop" => {
                let (key, default): (Value, Option<Value>) = from_args(args)?;
                let mut v = lock(&self.0);
                match v.iter().position(|(k, _)| *k == key) {
                    Some(i) => Ok(v.remove(i).1),
                    None => default.ok_or_else(|| invalid(format!("key {key} not in dict"))),
                }
            }
            "setdefault" => {
                let (key, default): (Value, Option<Value>) = from_args(args)?;
                if let Some(v) = self.lookup(&key) {
                    return Ok(v);
                }
                let d = default.unwrap_or(Value::from(()));
                self.set(key, d.clone());
                Ok(d)
            }
            "__setitem__" => {
                let (key, value): (Value, Value) = from_args(args)?;
                self.set(key, value);
                Ok(Value::from(()))
            }
            "clear" => {
                lock(&self.0).clear();
                Ok(Value::from(()))
            }
            "copy" => Ok(Value::from_object(MutDict(Mutex::new(
                lock(&self.0).clone(),
            )))),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// What dbt hands out while parsing for values that only exist when executing (a statement's
/// result, a query's table): any attribute, index or call gives itself, it iterates as empty,
/// renders as nothing and is false.
#[derive(Debug)]
pub(crate) struct ParseValue;

impl Object for ParseValue {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Iterable
    }

    fn get_value(self: &Arc<Self>, _key: &Value) -> Option<Value> {
        Some(Value::from_object(ParseValue))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Empty
    }

    fn is_true(self: &Arc<Self>) -> bool {
        false
    }

    fn call(self: &Arc<Self>, _state: &State<'_, '_>, _args: &[Value]) -> Result<Value, Error> {
        Ok(Value::from_object(ParseValue))
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        _method: &str,
        _args: &[Value],
    ) -> Result<Value, Error> {
        Ok(Value::from_object(ParseValue))
    }

    fn render(self: &Arc<Self>, _f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Ok(())
    }
}

/// Methods of Python's str, dict and list on minijinja's own values.
fn unknown_method(
    state: &State,
    value: &Value,
    method: &str,
    args: &[Value],
) -> Result<Value, Error> {
    if let Some(s) = value.as_str() {
        return str_method(s, method, args);
    }
    match value.kind() {
        ValueKind::Map => map_method(state, value, method, args),
        ValueKind::Seq | ValueKind::Iterable => match method {
            "index" => {
                let (x,): (Value,) = from_args(args)?;
                value
                    .try_iter()?
                    .position(|y| y == x)
                    .map(Value::from)
                    .ok_or_else(|| invalid(format!("{x} is not in list")))
            }
            "count" => {
                let (x,): (Value,) = from_args(args)?;
                Ok(Value::from(value.try_iter()?.filter(|y| *y == x).count()))
            }
            "copy" => Ok(mutable_list(value.try_iter()?.collect())),
            "append" | "extend" | "insert" | "pop" | "remove" => Err(invalid(format!(
                "cannot {method}() to this list: it was built by an expression (`+`, a filter), not as a list literal\nhint: start from a literal, e.g. `{{% set items = [] %}}`, and append to that"
            ))),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        },
        _ => Err(Error::from(ErrorKind::UnknownMethod)),
    }
}

fn map_method(_state: &State, value: &Value, method: &str, args: &[Value]) -> Result<Value, Error> {
    match method {
        "items" => {
            let mut out = Vec::new();
            for k in value.try_iter()? {
                let v = value.get_item(&k)?;
                out.push(Value::from(vec![k, v]));
            }
            Ok(Value::from(out))
        }
        "keys" => Ok(Value::from(value.try_iter()?.collect::<Vec<_>>())),
        "values" => {
            let mut out = Vec::new();
            for k in value.try_iter()? {
                out.push(value.get_item(&k)?);
            }
            Ok(Value::from(out))
        }
        "get" => {
            let (key, default): (Value, Option<Value>) = from_args(args)?;
            let v = value.get_item(&key).unwrap_or_default();
            Ok(if v.is_undefined() {
                default.unwrap_or(Value::from(()))
            } else {
                v
            })
        }
        "copy" => {
            let mut pairs = Vec::new();
            for k in value.try_iter()? {
                let v = value.get_item(&k)?;
                pairs.push((k, v));
            }
            Ok(Value::from_object(MutDict(Mutex::new(pairs))))
        }
        "update" | "pop" | "setdefault" | "clear" => Err(invalid(format!(
            "cannot {method}() this dict: it is read-only (a var, config or target value)\nhint: copy it first: `{{% set d = x.copy() %}}`"
        ))),
        _ => Err(Error::from(ErrorKind::UnknownMethod)),
    }
}

fn str_method(s: &str, method: &str, args: &[Value]) -> Result<Value, Error> {
    let strip_chars = |args: &[Value]| -> Result<Option<Vec<char>>, Error> {
        let (chars,): (Option<String>,) = from_args(args)?;
        Ok(chars.map(|c| c.chars().collect()))
    };
    Ok(match method {
        "lower" | "casefold" => Value::from(s.to_lowercase()),
        "upper" => Value::from(s.to_uppercase()),
        "strip" => Value::from(match strip_chars(args)? {
            Some(c) => s.trim_matches(c.as_slice()).to_string(),
            None => s.trim().to_string(),
        }),
        "lstrip" => Value::from(match strip_chars(args)? {
            Some(c) => s.trim_start_matches(c.as_slice()).to_string(),
            None => s.trim_start().to_string(),
        }),
        "rstrip" => Value::from(match strip_chars(args)? {
            Some(c) => s.trim_end_matches(c.as_slice()).to_string(),
            None => s.trim_end().to_string(),
        }),
        "split" | "rsplit" => {
            let (pos, kwargs): (&[Value], Kwargs) = from_args(args)?;
            let sep = pos
                .first()
                .cloned()
                .or(kwargs.get::<Option<Value>>("sep")?)
                .filter(|v| !v.is_none())
                .map(|v| v.to_string());
            let max = pos
                .get(1)
                .and_then(|v| v.as_i64())
                .or(kwargs.get::<Option<i64>>("maxsplit")?)
                .filter(|m| *m >= 0)
                .map(|m| m as usize);
            let parts: Vec<String> = match (sep, max, method) {
                (None, _, _) => s.split_whitespace().map(str::to_string).collect(),
                (Some(sep), None, _) => s.split(sep.as_str()).map(str::to_string).collect(),
                (Some(sep), Some(m), "split") => {
                    s.splitn(m + 1, sep.as_str()).map(str::to_string).collect()
                }
                (Some(sep), Some(m), _) => {
                    let mut p: Vec<String> =
                        s.rsplitn(m + 1, sep.as_str()).map(str::to_string).collect();
                    p.reverse();
                    p
                }
            };
            mutable_list(parts.into_iter().map(Value::from).collect())
        }
        "replace" => {
            let (old, new, count): (String, String, Option<i64>) = from_args(args)?;
            match count {
                Some(n) if n >= 0 => Value::from(s.replacen(&old, &new, n as usize)),
                _ => Value::from(s.replace(&old, &new)),
            }
        }
        "startswith" | "endswith" => {
            let (p,): (Value,) = from_args(args)?;
            let prefixes: Vec<String> = if p.kind() == ValueKind::Seq {
                p.try_iter()?.map(|v| v.to_string()).collect()
            } else {
                vec![p.to_string()]
            };
            Value::from(prefixes.iter().any(|p| {
                if method == "startswith" {
                    s.starts_with(p.as_str())
                } else {
                    s.ends_with(p.as_str())
                }
            }))
        }
        "find" | "index" | "rfind" => {
            let (sub,): (String,) = from_args(args)?;
            let found = if method == "rfind" {
                s.rfind(&sub)
            } else {
                s.find(&sub)
            };
            match found {
                Some(b) => Value::from(s[..b].chars().count()),
                None if method == "index" => {
                    return Err(invalid("substring not found"));
                }
                None => Value::from(-1),
            }
        }
        "count" => {
            let (sub,): (String,) = from_args(args)?;
            Value::from(s.matches(&sub).count())
        }
        "join" => {
            let (items,): (Value,) = from_args(args)?;
            let parts: Vec<String> = items.try_iter()?.map(|v| v.to_string()).collect();
            Value::from(parts.join(s))
        }
        "title" => Value::from(
            s.split(' ')
                .map(|w| {
                    let mut c = w.chars();
                    match c.next() {
                        Some(f) => {
                            f.to_uppercase().collect::<String>() + &c.as_str().to_lowercase()
                        }
                        None => String::new(),
                    }
                })
                .collect::<Vec<_>>()
                .join(" "),
        ),
        "capitalize" => {
            let mut c = s.chars();
            Value::from(match c.next() {
                Some(f) => f.to_uppercase().collect::<String>() + &c.as_str().to_lowercase(),
                None => String::new(),
            })
        }
        "isdigit" | "isnumeric" | "isdecimal" => {
            Value::from(!s.is_empty() && s.chars().all(|c| c.is_ascii_digit()))
        }
        "isalpha" => Value::from(!s.is_empty() && s.chars().all(char::is_alphabetic)),
        "isalnum" => Value::from(!s.is_empty() && s.chars().all(char::is_alphanumeric)),
        "isspace" => Value::from(!s.is_empty() && s.chars().all(char::is_whitespace)),
        "isupper" => Value::from(s.chars().any(char::is_alphabetic) && s == s.to_uppercase()),
        "islower" => Value::from(s.chars().any(char::is_alphabetic) && s == s.to_lowercase()),
        "splitlines" => mutable_list(s.lines().map(Value::from).collect()),
        "zfill" => {
            let (w,): (usize,) = from_args(args)?;
            Value::from(format!("{s:0>w$}"))
        }
        "ljust" | "rjust" => {
            let (w, fill): (usize, Option<String>) = from_args(args)?;
            let fill = fill.and_then(|f| f.chars().next()).unwrap_or(' ');
            let pad: String =
                std::iter::repeat_n(fill, w.saturating_sub(s.chars().count())).collect();
            Value::from(if method == "ljust" {
                format!("{s}{pad}")
            } else {
                format!("{pad}{s}")
            })
        }
        "format" => Value::from(py_format(s, args)?),
        "encode" => Value::from(s.to_string()),
        _ => return Err(Error::from(ErrorKind::UnknownMethod)),
    })
}

/// `'{} and {name}'.format(x, name=y)`: positional, numbered and named fields.
fn py_format(s: &str, args: &[Value]) -> Result<String, Error> {
    let (pos, kwargs): (&[Value], Kwargs) = from_args(args)?;
    let mut out = String::new();
    let mut next = 0usize;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                out.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                out.push('}');
            }
            '{' => {
                let mut field = String::new();
                for c in chars.by_ref() {
                    if c == '}' {
                        break;
                    }
                    field.push(c);
                }
                let name = field.split(':').next().unwrap_or("");
                let v = if name.is_empty() {
                    next += 1;
                    pos.get(next - 1).cloned()
                } else if let Ok(i) = name.parse::<usize>() {
                    pos.get(i).cloned()
                } else {
                    kwargs.get::<Option<Value>>(name)?
                };
                let v = v.ok_or_else(|| invalid(format!("format(): no value for {{{field}}}")))?;
                out.push_str(&v.to_string());
            }
            c => out.push(c),
        }
    }
    Ok(out)
}
