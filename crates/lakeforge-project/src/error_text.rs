//! How an error and its causes become the text a user reads: the one rule every place that
//! shows an error follows (the CLI's `error:` line, a node's message in run_results.json, a
//! scheduler tick's recorded error, a nested Jinja macro's error). It lives in this crate, the
//! first of the flow, so that every crate above it can use it.
//!
//! Lakeforge's errors keep what caused them (`#[source]`), and most also say it in their own
//! message (`"Failed to read {path}: {source}"`). Joining every cause's text, as `anyhow`'s
//! `{:#}` does, would repeat those. An error that says its cause in other words than the
//! cause's own (the engine's text of a DataFusion error without its layer names, a seed's CSV
//! error said for the seed's author) keeps the cause out of `source()`, offering it as `raw()`
//! instead: `source()` leads only to what users should read. So:
//!
//! - each cause is shown after what came before it, joined by ": ", unless what came before
//!   already says it (its text is part of theirs) or already says a cause below it (a message
//!   that tells a deeper cause in its own words has told the layers in between too): then it
//!   adds nothing and is skipped, and the causes below it are still looked at;
//! - `hint:` lines, wherever a layer put them, are gathered at the end, each once, so that the
//!   last lines always say what to do.

use std::error::Error;

/// `e` and its causes, told once each, hints last (see the module documentation).
pub fn error_text(e: &(dyn Error + 'static)) -> String {
    text_with_causes(e.to_string(), e.source())
}

/// `text` (the message of an error, or words written for it), then what `source` and its
/// causes add to it, hints last: for a caller that words the top of an error itself.
pub fn text_with_causes(text: String, source: Option<&(dyn Error + 'static)>) -> String {
    let causes: Vec<String> = std::iter::successors(source, |&c| c.source())
        .map(|c| c.to_string())
        .collect();
    let mut said = text.clone();
    let mut parts = vec![text];
    for (i, t) in causes.iter().enumerate() {
        let is_said = |t: &String| t.trim().is_empty() || said.contains(t.trim());
        if is_said(t) || causes[i + 1..].iter().any(is_said) {
            continue;
        }
        said.push('\n');
        said.push_str(t);
        parts.push(t.clone());
    }
    hints_last(&parts)
}

/// The parts joined by ": ", their `hint:` lines moved to the end, each once.
fn hints_last(parts: &[String]) -> String {
    let mut body = String::new();
    let mut hints: Vec<&str> = Vec::new();
    for part in parts {
        let mut kept: Vec<&str> = Vec::new();
        for line in part.lines() {
            if line.trim_start().starts_with("hint: ") {
                let hint = line.trim_start();
                if !hints.contains(&hint) {
                    hints.push(hint);
                }
            } else {
                kept.push(line);
            }
        }
        let kept = kept.join("\n");
        if kept.trim().is_empty() {
            continue;
        }
        if !body.is_empty() {
            body.push_str(": ");
        }
        body.push_str(kept.trim_end());
    }
    for hint in hints {
        body.push('\n');
        body.push_str(hint);
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A test error: its text, and the cause it keeps.
    #[derive(Debug)]
    struct E(&'static str, Option<Box<E>>);

    impl std::fmt::Display for E {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl Error for E {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            self.1.as_deref().map(|e| e as &(dyn Error + 'static))
        }
    }

    fn chain(texts: &[&'static str]) -> E {
        let mut e: Option<Box<E>> = None;
        for t in texts.iter().rev() {
            e = Some(Box::new(E(t, e)));
        }
        match e {
            Some(e) => *e,
            None => E("", None),
        }
    }

    #[test]
    fn joins_causes_that_say_something_new() {
        let e = chain(&[
            "building orders",
            "reading seeds/a.csv",
            "permission denied",
        ]);
        assert_eq!(
            error_text(&e),
            "building orders: reading seeds/a.csv: permission denied"
        );
    }

    #[test]
    fn skips_a_cause_the_message_above_already_says() {
        // A library error whose text ends with its cause, as `#[error("...: {source}")]` does.
        let e = chain(&[
            "running the build",
            "Failed to write x.json: disk full",
            "disk full",
        ]);
        assert_eq!(
            error_text(&e),
            "running the build: Failed to write x.json: disk full"
        );
    }

    #[test]
    fn looks_below_a_skipped_cause() {
        let e = chain(&["a: b", "b", "c"]);
        assert_eq!(error_text(&e), "a: b: c");
    }

    #[test]
    fn skips_the_layers_between_a_message_and_the_deeper_cause_it_tells() {
        // A message that words its cause's cause (an HTTP client's own text only repeats the
        // URL, so the message tells the connection error instead).
        let e = chain(&[
            "Failed to reach the hub: connection refused",
            "error sending request for url (https://hub/)",
            "connection refused",
        ]);
        assert_eq!(
            error_text(&e),
            "Failed to reach the hub: connection refused"
        );
    }

    #[test]
    fn gathers_hints_at_the_end_once() {
        let e = chain(&[
            "models/a.sql: no table `x`\nhint: build x first",
            "table not found\nhint: build x first",
            "object store: 404",
        ]);
        assert_eq!(
            error_text(&e),
            "models/a.sql: no table `x`: table not found: object store: 404\nhint: build x first"
        );
    }

    #[test]
    fn keeps_a_multi_line_message_whole() {
        let e = chain(&["unit test failed:\n  - row 1\n  + row 2\nhint: fix the model"]);
        assert_eq!(
            error_text(&e),
            "unit test failed:\n  - row 1\n  + row 2\nhint: fix the model"
        );
    }

    #[test]
    fn words_of_the_caller_come_first() {
        let cause = chain(&["b", "c"]);
        assert_eq!(
            text_with_causes("a failed\nhint: retry".into(), Some(&cause)),
            "a failed: b: c\nhint: retry"
        );
    }
}
