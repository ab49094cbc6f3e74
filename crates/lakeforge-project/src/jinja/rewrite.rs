//! The one source rewrite Lakeforge applies before compiling a template: list and dict literals
//! in expressions (`[]`, `{'a': 1}`) become calls that build mutable values, because dbt's
//! macros grow them in place (`{% do cols.append(c) %}`, `{% do d.update(x) %}`) and minijinja's
//! own values are immutable. Text, comments, strings, raw blocks and subscripts (`x[0]`) are left
//! as written, and no newline is added or removed, so error lines stay the file's.

/// What came before a `[`: a value (so `[` subscripts it) or not (so it starts a list).
#[derive(Clone, Copy, PartialEq)]
enum Prev {
    Value,
    Other,
}

#[derive(Clone, Copy, PartialEq)]
enum Open {
    Paren,
    Subscript,
    List,
    Dict,
}

const KEYWORDS: &[&str] = &[
    "in", "and", "or", "not", "if", "else", "elif", "is", "set", "do", "for", "with", "call",
    "import", "from", "as", "macro", "filter", "print",
];

/// Rewrite every list/dict literal of `src`'s expressions to `__lf_list([...])`/`__lf_dict({...})`.
pub(crate) fn mutable_literals(src: &str) -> String {
    if !src.contains("{{") && !src.contains("{%") {
        return src.to_string();
    }
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len() + 64);
    let mut i = 0;
    let mut last = 0;
    while i + 1 < b.len() {
        if b[i] != b'{' {
            i += 1;
            continue;
        }
        match b[i + 1] {
            b'#' => {
                let end = src[i + 2..]
                    .find("#}")
                    .map(|e| i + 2 + e + 2)
                    .unwrap_or(b.len());
                i = end;
            }
            b'{' | b'%' => {
                let is_stmt = b[i + 1] == b'%';
                let body_start = i + 2;
                if is_stmt && starts_raw(&src[body_start..]) {
                    // Copy a raw block as is.
                    let end = find_endraw(src, body_start).unwrap_or(b.len());
                    i = end;
                    continue;
                }
                out.push_str(&src[last..body_start]);
                let end = rewrite_expression(src, body_start, &mut out);
                last = end;
                i = end;
            }
            _ => i += 1,
        }
    }
    out.push_str(&src[last..]);
    out
}

fn starts_raw(s: &str) -> bool {
    let s = s.trim_start_matches('-').trim_start();
    s.starts_with("raw")
        && s[3..]
            .trim_start()
            .trim_start_matches('-')
            .starts_with("%}")
}

fn find_endraw(src: &str, from: usize) -> Option<usize> {
    let mut at = from;
    while let Some(p) = src[at..].find("{%") {
        let start = at + p;
        let rest = src[start + 2..].trim_start_matches('-').trim_start();
        if rest.starts_with("endraw") {
            return src[start..].find("%}").map(|e| start + e + 2);
        }
        at = start + 2;
    }
    None
}

/// Rewrite one tag's expression from `start` (just after `{{` or `{%`) to the end of the tag;
/// returns the index just after what was consumed (the closing delimiter is copied).
fn rewrite_expression(src: &str, start: usize, out: &mut String) -> usize {
    let b = src.as_bytes();
    let mut stack: Vec<Open> = Vec::new();
    let mut prev = Prev::Other;
    let mut i = start;
    while i < b.len() {
        let c = b[i];
        match c {
            b'\'' | b'"' => {
                let mut j = i + 1;
                while j < b.len() && b[j] != c {
                    if b[j] == b'\\' {
                        j += 1;
                    }
                    j += 1;
                }
                let end = (j + 1).min(b.len());
                out.push_str(&src[i..end]);
                i = end;
                prev = Prev::Value;
            }
            b'-' if stack.is_empty()
                && (src[i + 1..].starts_with("%}") || src[i + 1..].starts_with("}}")) =>
            {
                out.push_str(&src[i..i + 3]);
                return i + 3;
            }
            b'%' | b'}' if stack.is_empty() && src[i + 1..].starts_with('}') => {
                out.push_str(&src[i..i + 2]);
                return i + 2;
            }
            b'[' => {
                if prev == Prev::Value {
                    stack.push(Open::Subscript);
                    out.push('[');
                } else {
                    stack.push(Open::List);
                    out.push_str("__lf_list([");
                }
                prev = Prev::Other;
                i += 1;
            }
            b'{' => {
                stack.push(Open::Dict);
                out.push_str("__lf_dict({");
                prev = Prev::Other;
                i += 1;
            }
            b'(' => {
                stack.push(Open::Paren);
                out.push('(');
                prev = Prev::Other;
                i += 1;
            }
            b']' | b'}' | b')' => {
                match stack.pop() {
                    Some(Open::List) => out.push_str("])"),
                    Some(Open::Dict) => out.push_str("})"),
                    _ => out.push(c as char),
                }
                prev = Prev::Value;
                i += 1;
            }
            c if c.is_ascii_alphanumeric() || c == b'_' => {
                let mut j = i;
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                    j += 1;
                }
                let word = &src[i..j];
                out.push_str(word);
                prev = if KEYWORDS.contains(&word) {
                    Prev::Other
                } else {
                    Prev::Value
                };
                i = j;
            }
            c if c.is_ascii_whitespace() => {
                out.push(c as char);
                i += 1;
            }
            _ => {
                // Any other character (operators, non-ASCII) is copied whole.
                // `i` is below the length and on a character boundary, so there is one.
                let Some(ch) = src[i..].chars().next() else {
                    break;
                };
                out.push(ch);
                prev = Prev::Other;
                i += ch.len_utf8();
            }
        }
    }
    b.len()
}

#[cfg(test)]
mod tests {
    use super::mutable_literals as r;

    #[test]
    fn literals_become_mutable_and_subscripts_stay() {
        assert_eq!(r("{% set x = [] %}"), "{% set x = __lf_list([]) %}");
        assert_eq!(
            r("{{ x[0] }} {{ f()[1:] }} {{ 'a'[0] }}"),
            "{{ x[0] }} {{ f()[1:] }} {{ 'a'[0] }}"
        );
        assert_eq!(
            r("{%- for c in ['a', {'b': [1]}] -%}"),
            "{%- for c in __lf_list(['a', __lf_dict({'b': __lf_list([1])})]) -%}"
        );
        assert_eq!(
            r("{{ {'a': {'b': 1}} }}x"),
            "{{ __lf_dict({'a': __lf_dict({'b': 1})}) }}x"
        );
    }

    #[test]
    fn text_comments_strings_and_raw_are_untouched() {
        let src = "select [a] {# {{ [1] }} #}{{ '[x]' ~ \"}}\" }}{% raw %}{{ [2] }}{% endraw %}\n";
        assert_eq!(r(src), src);
    }
}
