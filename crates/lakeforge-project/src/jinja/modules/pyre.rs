//! `modules.re`: Python's regular expressions over the `regex` crate (no look-around or
//! back-references; a pattern using them fails with the pattern named). Python's `\1` in
//! replacements becomes `${1}`.

use std::sync::Arc;

use minijinja::value::{Kwargs, Object, Value, from_args};
use minijinja::{Error, ErrorKind, State};

use crate::jinja::invalid;

const IGNORECASE: i64 = 2;
const MULTILINE: i64 = 8;
const DOTALL: i64 = 16;
const VERBOSE: i64 = 64;

#[derive(Debug)]
pub(crate) struct ReModule;

fn compile(pattern: &str, flags: i64) -> Result<regex::Regex, Error> {
    regex::RegexBuilder::new(pattern)
        .case_insensitive(flags & IGNORECASE != 0)
        .multi_line(flags & MULTILINE != 0)
        .dot_matches_new_line(flags & DOTALL != 0)
        .ignore_whitespace(flags & VERBOSE != 0)
        .build()
        .map_err(|e| {
            invalid(format!(
                "modules.re: pattern `{pattern}` is not supported: {e}"
            ))
        })
}

/// Python's replacement syntax (`\1`, `\g<name>`) in the regex crate's (`${1}`, `${name}`).
fn replacement(repl: &str) -> String {
    let mut out = String::new();
    let mut chars = repl.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '$' => out.push_str("$$"),
            '\\' => match chars.peek().copied() {
                Some(d) if d.is_ascii_digit() => {
                    let mut n = String::new();
                    while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                        n.push(d);
                        chars.next();
                    }
                    out.push_str(&format!("${{{n}}}"));
                }
                Some('g') => {
                    chars.next();
                    let name: String = chars.by_ref().skip(1).take_while(|c| *c != '>').collect();
                    out.push_str(&format!("${{{name}}}"));
                }
                Some('n') => {
                    chars.next();
                    out.push('\n');
                }
                Some('\\') => {
                    chars.next();
                    out.push('\\');
                }
                _ => out.push('\\'),
            },
            c => out.push(c),
        }
    }
    out
}

fn flags_of(pos: &[Value], at: usize, kwargs: &Kwargs) -> Result<i64, Error> {
    Ok(kwargs
        .get::<Option<i64>>("flags")?
        .or_else(|| pos.get(at).and_then(Value::as_i64))
        .unwrap_or(0))
}

fn call(re: &regex::Regex, method: &str, pos: &[Value], kwargs: &Kwargs) -> Result<Value, Error> {
    let text = |i: usize| -> Result<String, Error> {
        pos.get(i).map(|v| v.to_string()).ok_or_else(|| {
            Error::new(
                ErrorKind::MissingArgument,
                format!("re.{method}: missing argument"),
            )
        })
    };
    Ok(match method {
        "sub" => {
            let (repl, s) = (text(0)?, text(1)?);
            let count: Option<i64> = kwargs.get("count")?;
            let count = count
                .or_else(|| pos.get(2).and_then(Value::as_i64))
                .unwrap_or(0);
            let r = replacement(&repl);
            Value::from(if count > 0 {
                re.replacen(&s, count as usize, r.as_str()).into_owned()
            } else {
                re.replace_all(&s, r.as_str()).into_owned()
            })
        }
        "search" => match_value(re, &text(0)?, false),
        "match" => match_value(re, &text(0)?, true),
        "fullmatch" => {
            let s = text(0)?;
            match re.captures(&s) {
                Some(c)
                    if c.get(0)
                        .is_some_and(|m| m.start() == 0 && m.end() == s.len()) =>
                {
                    Value::from_object(Match(captures(&c)))
                }
                _ => Value::from(()),
            }
        }
        "findall" => {
            let s = text(0)?;
            Value::from(
                re.captures_iter(&s)
                    .map(|c| match c.len() {
                        1 => Value::from(c[0].to_string()),
                        2 => Value::from(c.get(1).map(|m| m.as_str()).unwrap_or("").to_string()),
                        _ => Value::from(
                            (1..c.len())
                                .map(|i| {
                                    Value::from(
                                        c.get(i).map(|m| m.as_str()).unwrap_or("").to_string(),
                                    )
                                })
                                .collect::<Vec<_>>(),
                        ),
                    })
                    .collect::<Vec<_>>(),
            )
        }
        "split" => {
            let s = text(0)?;
            Value::from(
                re.split(&s)
                    .map(|p| Value::from(p.to_string()))
                    .collect::<Vec<_>>(),
            )
        }
        _ => return Err(Error::from(ErrorKind::UnknownMethod)),
    })
}

fn captures(c: &regex::Captures) -> Vec<Option<String>> {
    (0..c.len())
        .map(|i| c.get(i).map(|m| m.as_str().to_string()))
        .collect()
}

fn match_value(re: &regex::Regex, s: &str, anchored: bool) -> Value {
    match re.captures(s) {
        Some(c) if !anchored || c.get(0).is_some_and(|m| m.start() == 0) => {
            Value::from_object(Match(captures(&c)))
        }
        _ => Value::from(()),
    }
}

impl Object for ReModule {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        Some(Value::from(match key.as_str()? {
            "IGNORECASE" | "I" => IGNORECASE,
            "MULTILINE" | "M" => MULTILINE,
            "DOTALL" | "S" => DOTALL,
            "VERBOSE" | "X" => VERBOSE,
            _ => return None,
        }))
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let (pos, kwargs): (&[Value], Kwargs) = from_args(args)?;
        let pattern = pos.first().map(|v| v.to_string()).unwrap_or_default();
        match method {
            "compile" => {
                let flags = flags_of(pos, 1, &kwargs)?;
                Ok(Value::from_object(Pattern(compile(&pattern, flags)?)))
            }
            "escape" => Ok(Value::from(regex::escape(&pattern))),
            "sub" | "search" | "match" | "fullmatch" | "findall" | "split" => {
                let flag_at = if method == "sub" { 4 } else { 2 };
                let re = compile(&pattern, flags_of(pos, flag_at, &kwargs)?)?;
                call(&re, method, &pos[1..], &kwargs)
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

#[derive(Debug)]
struct Pattern(regex::Regex);

impl Object for Pattern {
    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let (pos, kwargs): (&[Value], Kwargs) = from_args(args)?;
        call(&self.0, method, pos, &kwargs)
    }
}

/// A match: `group(n)`, `groups()`, truthy.
#[derive(Debug)]
struct Match(Vec<Option<String>>);

impl Object for Match {
    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let opt = |s: &Option<String>| s.clone().map(Value::from).unwrap_or(Value::from(()));
        match method {
            "group" => {
                let (i,): (Option<usize>,) = from_args(args)?;
                Ok(self
                    .0
                    .get(i.unwrap_or(0))
                    .map(opt)
                    .unwrap_or(Value::from(())))
            }
            "groups" => Ok(Value::from(
                self.0.iter().skip(1).map(opt).collect::<Vec<_>>(),
            )),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn python_replacements() {
        assert_eq!(super::replacement(r"\1-\2 $x"), "${1}-${2} $$x");
    }
}
