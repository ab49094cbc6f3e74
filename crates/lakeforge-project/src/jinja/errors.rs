//! Jinja errors as users see them: the file and line at fault (the innermost macro's file when a
//! macro failed), the macro chain that reached it, and whether a missing name is part of dbt's
//! runtime that Lakeforge does not support or a mistake in the project.

use minijinja::ErrorKind;

use crate::error::{ProjectError, suggest};

use super::context::RenderData;
use super::lock;
use super::macros::{MacroIndex, RETURN_MARKER};

/// Names of dbt's Jinja context (and of the adapter object) that Lakeforge does not provide:
/// an error about one says so instead of suggesting a typo.
const UNSUPPORTED: &[&str] = &[
    "adapter.rename_relation",
    "adapter.truncate_relation",
    "adapter.expand_target_column_types",
    "adapter.drop_schema",
    "adapter.create_schema",
    "adapter.submit_python_job",
    "adapter.get_partitions_metadata",
    "adapter.already_exists",
    "adapter.cache_added",
    "adapter.cache_dropped",
    "adapter.cache_renamed",
    "store_raw_result",
    "submit_python_job",
    "selected_resources",
    "write",
    "set_sql_header",
    "materialization",
];

/// Turn a minijinja error into one naming the file, line, macro chain and what to do.
pub(crate) fn jinja_error(
    env: &minijinja::Environment<'_>,
    file: &str,
    source: &str,
    data: &RenderData,
    err: minijinja::Error,
) -> ProjectError {
    let (at_file, line) = location(file, &err);
    // The text the error points into: the node's, or the failing macro's template.
    let template_source = match err.name() {
        Some(name) if name != file => env.get_template(name).ok().map(|t| t.source().to_string()),
        _ => Some(source.to_string()),
    };
    let mut message = match err.detail() {
        Some(d) => d.to_string(),
        None => err.kind().to_string(),
    };
    let ours = message.contains("\nhint:") || message.starts_with("Compilation Error");
    let snippet = err
        .range()
        .and_then(|r| template_source.as_deref()?.get(r).map(str::to_string))
        .map(|s| s.trim().to_string());
    let not_callable = message.contains("undefined is not callable");
    if ours {
        // Already says what is wrong and what to do.
    } else if message == RETURN_MARKER {
        message = "return() used outside a macro\nhint: return() ends a macro call; in a model, write the value instead".into();
    } else if err.kind() == ErrorKind::UndefinedError {
        message = match &snippet {
            Some(s) => undefined_message(s, &data.index),
            None => format!(
                "{message}\nhint: check the spelling; variables come from var(), macros from macro-paths or an installed package"
            ),
        };
    } else if err.kind() == ErrorKind::UnknownFunction || not_callable {
        let name = snippet
            .as_deref()
            .map(|s| s.split('(').next().unwrap_or(s).trim().to_string());
        message = match name {
            Some(n) => unknown_function_message(&n, &data.index),
            None => format!("{message}\nhint: define it under macro-paths, or check the spelling"),
        };
    } else if err.kind() == ErrorKind::UnknownMethod {
        message = format!(
            "{message}{}\nhint: Lakeforge's Jinja supports dbt's context and the common Python string, list and dict methods; if dbt supports this call, it is not supported by Lakeforge yet",
            snippet.map(|s| format!(" in `{s}`")).unwrap_or_default()
        );
    }
    // Errors of nested macro calls are chained as sources; keep their words.
    let mut message = crate::error_text::text_with_causes(message, std::error::Error::source(&err));
    if let Some(chain) = lock(&data.error_chain).as_ref()
        && !chain.is_empty()
    {
        message = format!("{message}\n  in macro {}", chain.join(" → "));
        if at_file != file {
            message = format!("{message}, called from {file}");
        }
    }
    ProjectError::Jinja {
        file: at_file,
        line,
        message,
    }
}

/// An error of a standalone render (profiles.yml): file and line only.
pub(crate) fn plain_error(file: &str, err: minijinja::Error) -> ProjectError {
    ProjectError::Jinja {
        file: err.name().unwrap_or(file).to_string(),
        line: err.line(),
        message: err
            .detail()
            .map(str::to_string)
            .unwrap_or_else(|| err.kind().to_string()),
    }
}

/// The file (a macro's template is named `path::macro`) and line of an error.
fn location(file: &str, err: &minijinja::Error) -> (String, Option<usize>) {
    match err.name() {
        Some(name) => {
            let path = name.split("::").next().unwrap_or(name);
            (path.to_string(), err.line())
        }
        None => (file.to_string(), err.line()),
    }
}

fn undefined_message(snippet: &str, index: &MacroIndex) -> String {
    let head = snippet
        .split(['(', '.', '[', ' '])
        .next()
        .unwrap_or(snippet);
    if let Some((ns, attr)) = snippet.split('(').next().unwrap_or("").split_once('.') {
        let qualified = format!("{ns}.{attr}");
        if UNSUPPORTED.contains(&qualified.as_str()) {
            return format!(
                "`{qualified}` is part of dbt's runtime but not supported by Lakeforge\nhint: remove the call or guard it with `{{% if target.type != 'lakeforge' %}}`"
            );
        }
        // `pkg.macro(...) ~ x` fails on `x` when the package has the macro: only a missing
        // macro is the namespace's fault.
        if index.has_package(ns) && index.get(ns, attr.trim()).is_none() {
            return unknown_in_namespace(index, ns, attr.trim()).to_string();
        }
    }
    if UNSUPPORTED.contains(&head) {
        return format!(
            "`{head}` is part of dbt's runtime but not supported by Lakeforge\nhint: remove it or guard it with `{{% if target.type != 'lakeforge' %}}`"
        );
    }
    let what = if snippet
        .chars()
        .all(|c| c.is_alphanumeric() || c == '_' || c == '.')
    {
        format!("`{snippet}` is undefined")
    } else {
        format!("a name used in `{snippet}` is undefined")
    };
    format!(
        "{what}{}\nhint: check the spelling; variables come from var(), macros from macro-paths or an installed package",
        did_you_mean(head, index)
    )
}

fn unknown_function_message(name: &str, index: &MacroIndex) -> String {
    if UNSUPPORTED.contains(&name) {
        return format!(
            "`{name}` is part of dbt's runtime but not supported by Lakeforge\nhint: remove the call or guard it with `{{% if target.type != 'lakeforge' %}}`"
        );
    }
    format!(
        "unknown function or macro `{name}`{}\nhint: define it under macro-paths, install the package that has it (`lakeforge deps`), or check the spelling",
        did_you_mean(name, index)
    )
}

fn did_you_mean(name: &str, index: &MacroIndex) -> String {
    suggest(
        name,
        index
            .names(&index.root)
            .chain(index.names(super::BUILTIN_PACKAGE)),
    )
    .map(|s| format!(" (did you mean `{s}`?)"))
    .unwrap_or_default()
}

/// `pkg.name` where the package has no such macro.
pub(crate) fn unknown_in_namespace(
    index: &MacroIndex,
    package: &str,
    name: &str,
) -> minijinja::Error {
    let hint = suggest(name, index.names(package))
        .map(|s| format!("did you mean `{package}.{s}`?"))
        .unwrap_or_else(|| {
            if package == super::BUILTIN_PACKAGE {
                "this dbt macro is not supported by Lakeforge yet; define it in your project's macros to provide it".to_string()
            } else {
                "check the package's documentation, or its version in packages.yml".to_string()
            }
        });
    minijinja::Error::new(
        ErrorKind::UnknownFunction,
        format!("package `{package}` has no macro `{name}`\nhint: {hint}"),
    )
}

/// A macro called from Rust that no package defines.
pub(crate) fn unknown_macro(
    file: &str,
    index: &MacroIndex,
    package: Option<&str>,
    name: &str,
) -> ProjectError {
    let message = match package {
        Some(p) if !index.has_package(p) => format!(
            "no package `{p}` to call `{p}.{name}` from\nhint: declare it in packages.yml and run `lakeforge deps`"
        ),
        Some(p) => unknown_in_namespace(index, p, name)
            .detail()
            .unwrap_or_default()
            .to_string(),
        None => unknown_function_message(name, index),
    };
    ProjectError::Jinja {
        file: file.to_string(),
        line: None,
        message,
    }
}
