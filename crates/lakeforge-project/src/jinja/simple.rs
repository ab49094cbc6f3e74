//! Templates that need no template engine: SQL whose only Jinja is `{{ ref(...) }}`,
//! `{{ source(...) }}`, `{{ config(...) }}` and `{{ var(...) }}` with literal arguments, plus
//! comments. Most models of real projects look like this, and dbt-core reads them with a
//! "static parser" instead of rendering them for the same reason: every SQL file is rendered
//! once while the project loads and again when it compiles, and for such files both renders
//! are mostly tokenizing and evaluating what a splice does.
//!
//! [`parse`] accepts a template only when it can say exactly what minijinja would output (the
//! same whitespace control, the same literals); anything else (a statement, a filter, an
//! attribute, a macro call, a string escape, a float) makes it return `None` and the template
//! renders with minijinja. The calls themselves are answered by the same functions the Jinja
//! runtime uses (`functions.rs`), and the tests compare both ways side by side.

/// A template as pieces of text and calls, in order.
#[derive(Debug, PartialEq)]
pub(crate) struct Simple<'a> {
    pub pieces: Vec<Piece<'a>>,
}

#[derive(Debug, PartialEq)]
pub(crate) enum Piece<'a> {
    /// Text, already trimmed by whitespace control.
    Text(&'a str),
    Ref {
        package: Option<&'a str>,
        name: &'a str,
    },
    Source {
        source: &'a str,
        table: &'a str,
    },
    Config(Vec<(&'a str, Literal<'a>)>),
    Var {
        name: &'a str,
        /// A scalar: a list default would print as the runtime's mutable list does.
        default: Option<Literal<'a>>,
    },
}

/// A literal argument.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Literal<'a> {
    Str(&'a str),
    Int(i64),
    Bool(bool),
    None,
    List(Vec<Literal<'a>>),
}

impl Literal<'_> {
    /// The value as config() records it.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Literal::Str(s) => serde_json::Value::from(*s),
            Literal::Int(i) => serde_json::Value::from(*i),
            Literal::Bool(b) => serde_json::Value::from(*b),
            Literal::None => serde_json::Value::Null,
            Literal::List(items) => items.iter().map(Literal::to_json).collect(),
        }
    }

    /// The value as a template sees it (scalars only; see [`Piece::Var`]).
    pub fn to_value(&self) -> minijinja::Value {
        match self {
            Literal::Str(s) => minijinja::Value::from(*s),
            Literal::Int(i) => minijinja::Value::from(*i),
            Literal::Bool(b) => minijinja::Value::from(*b),
            Literal::None | Literal::List(_) => minijinja::Value::from(()),
        }
    }
}

/// The pieces of `src`, or `None` when it needs the template engine.
pub(crate) fn parse(src: &str) -> Option<Simple<'_>> {
    let mut pieces = Vec::new();
    let mut rest = src;
    // Whether the tag before `rest` ended with `-}}`/`-#}`: the text after it loses its
    // leading whitespace.
    let mut trim_next = false;
    loop {
        let Some(open) = rest
            .find('{')
            .map(|i| (i, rest.as_bytes().get(i + 1).copied()))
        else {
            push_text(&mut pieces, rest, trim_next, false);
            return Some(Simple { pieces });
        };
        let (at, next) = open;
        let kind = match next {
            Some(b'{') => b'{',
            Some(b'#') => b'#',
            Some(b'%') => return None,
            _ => {
                // A lone `{` is text; carry on after it.
                let (text, tail) = rest.split_at(at + 1);
                push_text(&mut pieces, text, trim_next, false);
                trim_next = false;
                rest = tail;
                continue;
            }
        };
        let after = &rest[at + 2..];
        let trim_before = match after.as_bytes().first() {
            Some(b'-') => true,
            Some(b'+') => return None,
            _ => false,
        };
        push_text(&mut pieces, &rest[..at], trim_next, trim_before);
        let body = if trim_before { &after[1..] } else { after };
        let tail;
        (tail, trim_next) = if kind == b'#' {
            let end = body.find("#}")?;
            (&body[end + 2..], body[..end].ends_with('-'))
        } else {
            let mut c = Cursor { s: body, i: 0 };
            pieces.push(c.call()?);
            c.ws();
            let trim = c.eat(b'-');
            if !c.s[c.i..].starts_with("}}") {
                return None;
            }
            (&c.s[c.i + 2..], trim)
        };
        rest = tail;
    }
}

fn push_text<'a>(pieces: &mut Vec<Piece<'a>>, text: &'a str, trim_start: bool, trim_end: bool) {
    let mut t = text;
    if trim_start {
        t = t.trim_start();
    }
    if trim_end {
        t = t.trim_end();
    }
    if !t.is_empty() {
        pieces.push(Piece::Text(t));
    }
}

/// A position in one `{{ ... }}` expression.
struct Cursor<'a> {
    s: &'a str,
    i: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.i).copied()
    }

    fn ws(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.i += 1;
        }
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn ident(&mut self) -> Option<&'a str> {
        let start = self.i;
        if !self
            .peek()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        {
            return None;
        }
        while self
            .peek()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            self.i += 1;
        }
        Some(&self.s[start..self.i])
    }

    /// A quoted string without escapes (minijinja unescapes `\`; such strings take its path).
    fn string(&mut self) -> Option<&'a str> {
        let quote = self.peek().filter(|q| *q == b'\'' || *q == b'"')?;
        let body = &self.s[self.i + 1..];
        let end = body.find(quote as char)?;
        let text = &body[..end];
        if text.contains('\\') {
            return None;
        }
        self.i += end + 2;
        Some(text)
    }

    fn literal(&mut self) -> Option<Literal<'a>> {
        match self.peek()? {
            b'\'' | b'"' => self.string().map(Literal::Str),
            b'[' => {
                self.i += 1;
                let mut items = Vec::new();
                loop {
                    self.ws();
                    if self.eat(b']') {
                        return Some(Literal::List(items));
                    }
                    if !items.is_empty() {
                        if !self.eat(b',') {
                            return None;
                        }
                        self.ws();
                        if self.eat(b']') {
                            return Some(Literal::List(items));
                        }
                    }
                    items.push(self.literal()?);
                }
            }
            b'-' | b'0'..=b'9' => {
                let start = self.i;
                self.eat(b'-');
                while self.peek().is_some_and(|b| b.is_ascii_digit()) {
                    self.i += 1;
                }
                // Floats, exponents, `_` separators and anything glued on take minijinja's path.
                if self
                    .peek()
                    .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_')
                {
                    return None;
                }
                self.s[start..self.i].parse().ok().map(Literal::Int)
            }
            _ => match self.ident()? {
                "true" | "True" => Some(Literal::Bool(true)),
                "false" | "False" => Some(Literal::Bool(false)),
                "none" | "None" => Some(Literal::None),
                _ => None,
            },
        }
    }

    /// `name(args)`: one of the four functions, with literal arguments.
    fn call(&mut self) -> Option<Piece<'a>> {
        self.ws();
        let function = self.ident()?;
        self.ws();
        if !self.eat(b'(') {
            return None;
        }
        let mut positional: Vec<Literal<'a>> = Vec::new();
        let mut keywords: Vec<(&'a str, Literal<'a>)> = Vec::new();
        loop {
            self.ws();
            if self.eat(b')') {
                break;
            }
            if !positional.is_empty() || !keywords.is_empty() {
                if !self.eat(b',') {
                    return None;
                }
                self.ws();
                if self.eat(b')') {
                    break;
                }
            }
            let start = self.i;
            let keyword = self.ident().and_then(|k| {
                self.ws();
                let is_assign =
                    self.peek() == Some(b'=') && self.s.as_bytes().get(self.i + 1) != Some(&b'=');
                is_assign.then(|| {
                    self.i += 1;
                    k
                })
            });
            match keyword {
                Some(k) => {
                    self.ws();
                    let value = self.literal()?;
                    if keywords.iter().any(|(seen, _)| *seen == k) {
                        return None;
                    }
                    keywords.push((k, value));
                }
                None => {
                    self.i = start;
                    if !keywords.is_empty() {
                        return None;
                    }
                    positional.push(self.literal()?);
                }
            }
        }
        let strings: Option<Vec<&'a str>> = positional
            .iter()
            .map(|l| match l {
                Literal::Str(s) => Some(*s),
                _ => None,
            })
            .collect();
        match (function, strings.as_deref(), keywords.is_empty()) {
            ("ref", Some([name]), true) => Some(Piece::Ref {
                package: None,
                name,
            }),
            ("ref", Some([package, name]), true) => Some(Piece::Ref {
                package: Some(package),
                name,
            }),
            ("source", Some([source, table]), true) => Some(Piece::Source { source, table }),
            ("config", Some([]), false) => Some(Piece::Config(keywords)),
            ("var", _, true) => match positional.as_slice() {
                [Literal::Str(name)] => Some(Piece::Var {
                    name,
                    default: None,
                }),
                [Literal::Str(name), default] if !matches!(default, Literal::List(_)) => {
                    Some(Piece::Var {
                        name,
                        default: Some(default.clone()),
                    })
                }
                _ => None,
            },
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_calls_with_literal_arguments() {
        let t = parse(
            "{{ config(materialized='table', tags=['a', \"b\",], enabled=True, n=-3,) }}\n\
             select * from {{ ref('orders') }} join {{ref(\"pkg\",'x')}}\n\
             {# a comment #}where x > {{ var('min', 10) }} and {{ source('raw', 't') }}",
        )
        .expect("simple");
        assert_eq!(
            t.pieces,
            vec![
                Piece::Config(vec![
                    ("materialized", Literal::Str("table")),
                    (
                        "tags",
                        Literal::List(vec![Literal::Str("a"), Literal::Str("b")])
                    ),
                    ("enabled", Literal::Bool(true)),
                    ("n", Literal::Int(-3)),
                ]),
                Piece::Text("\nselect * from "),
                Piece::Ref {
                    package: None,
                    name: "orders"
                },
                Piece::Text(" join "),
                Piece::Ref {
                    package: Some("pkg"),
                    name: "x"
                },
                Piece::Text("\n"),
                Piece::Text("where x > "),
                Piece::Var {
                    name: "min",
                    default: Some(Literal::Int(10))
                },
                Piece::Text(" and "),
                Piece::Source {
                    source: "raw",
                    table: "t"
                },
            ]
        );
    }

    #[test]
    fn whitespace_control_trims_as_jinja_does() {
        let t = parse("a  \n{{- ref('x') -}}\n  b {#- c -#}  d").expect("simple");
        assert_eq!(
            t.pieces,
            vec![
                Piece::Text("a"),
                Piece::Ref {
                    package: None,
                    name: "x"
                },
                Piece::Text("b"),
                Piece::Text("d"),
            ]
        );
    }

    #[test]
    fn anything_else_needs_the_engine() {
        for src in [
            "{% if x %}a{% endif %}",
            "{{ ref('a').identifier }}",
            "{{ ref('a') | upper }}",
            "{{ my_macro('a') }}",
            "{{ ref('a', v=2) }}",
            "{{ ref('a\\'b') }}",
            "{{ config(x=1.5) }}",
            "{{ config(x={'a': 1}) }}",
            "{{ config('table') }}",
            "{{ config(a=1, a=2) }}",
            "{{ var('x', ['a']) }}",
            "{{ var(name) }}",
            "{{+ ref('a') }}",
            "{{ ref('a') }",
            "{# unterminated",
            "{{ ref('a') ~ 'b' }}",
            "{{ source('a') }}",
            "{{ 1_000 }}",
        ] {
            assert_eq!(parse(src), None, "{src}");
        }
    }
}
