//! Generic tests declared in properties YAML (`tests:`/`data_tests:` of a model, seed, source or
//! column) become test nodes with dbt's generated names.

use std::path::Path;

use crate::config::{build_config, merge};
use crate::error::Result;
use crate::jinja::{MacroCall, TestCall};
use crate::node::{Materialization, Node, Relation, ResourceType, TestKind};
use crate::properties::TestDecl;

use super::RawNode;
use super::files::checksum;
use super::nodes::{Ctx, schema_for};
use super::scope::Tree;

/// A test node of one declaration; its `depends_on` holds the tested node (or source), and
/// the refs and sources its arguments name are returned for resolution with the others'.
pub(super) fn generic_test_node(
    ctx: &Ctx<'_>,
    decl_path: &str,
    owner: &str,
    column: Option<&str>,
    value: serde_yaml::Value,
) -> Result<RawNode> {
    let decl = TestDecl::parse(&value, Path::new(decl_path))?;
    let owner_name = owner.rsplit('.').next().unwrap_or(owner).to_string();
    // dbt names a package's test with its namespace (`dbt_utils.at_least` →
    // `dbt_utils_at_least_...`); a namespace that is no installed package is a built-in
    // stand-in of Lakeforge's, named without it as before packages were loaded.
    let short_test = match decl.test_name.split_once('.') {
        Some((ns, test)) if !ctx.packages.iter().any(|p| p == ns) => test.to_string(),
        _ => decl.test_name.replace('.', "_"),
    };
    let depends_on = vec![owner.to_string()];
    let mut refs = Vec::new();
    let mut sources = Vec::new();
    let mut args = decl.args.clone();
    // relationships' `to:` is Jinja (`ref('customers')`); render it to learn the dependency.
    for (_, v) in args.iter_mut() {
        if let serde_json::Value::String(s) = v
            && (s.contains("ref(") || s.contains("source("))
        {
            let captured = ctx.parse(decl_path, &format!("{{{{ {s} }}}}"))?;
            refs.extend(captured.refs);
            sources.extend(captured.sources);
        }
    }
    let (alias, name) = match &decl.custom_name {
        Some(n) => (n.clone(), n.clone()),
        None => {
            let (test_type, target) = match owner.strip_prefix("source.") {
                // source.<package>.<source>.<table>: dbt names it `source_<test>_<source>_<table>`.
                Some(rest) => (
                    format!("source_{short_test}"),
                    rest.split_once('.')
                        .map(|(_, st)| st.replace('.', "_"))
                        .unwrap_or_default(),
                ),
                None => (short_test.clone(), owner_name.clone()),
            };
            let mut named = args.clone();
            if let Some(c) = column {
                named.insert("column_name".into(), serde_json::Value::from(c));
            }
            dbt_test_names(&test_type, &target, &named)
        }
    };
    let fqn = vec![ctx.scope.name.clone(), name.clone()];
    let mut layer = ctx.scope.layer(ctx.root, Tree::Tests, &fqn);
    if let Some(from_macro) = macro_config(ctx, decl_path, &decl.test_name, column, &args) {
        merge(&mut layer, &from_macro);
    }
    merge(&mut layer, &decl.config);
    let config = build_config(layer, Materialization::Test, decl_path)?;
    let hash = &checksum(format!("{owner}|{column:?}|{value:?}").as_bytes())[..10];
    let node = Node {
        unique_id: format!("test.{}.{}.{}", ctx.scope.name, name, hash),
        relation: Relation::new(schema_for(ctx.target, Some("dbt_test__audit")), alias),
        name,
        resource_type: ResourceType::Test,
        path: decl_path.to_string(),
        fqn,
        description: String::new(),
        columns: Vec::new(),
        config,
        raw_code: String::new(),
        depends_on,
        test: Some(TestKind::Generic {
            name: decl.test_name,
            column: column.map(str::to_string),
            attached_to: owner.to_string(),
            args,
        }),
        checksum: hash.to_string(),
        ml_model: None,
        snapshot: None,
    };
    Ok(RawNode {
        node,
        refs,
        sources,
    })
}

/// What a `{% test %}` macro sets with `config()` (dbt_utils' equal_rowcount sets `fail_calc`),
/// learnt as dbt does: by calling it once without a database (`execute` is false, so the macro
/// stops before it needs one). The declaration's own `config:` is merged over it. A macro that
/// fails without a database contributes nothing here; compiling the test reports its error.
fn macro_config(
    ctx: &Ctx<'_>,
    decl_path: &str,
    test_name: &str,
    column: Option<&str>,
    args: &std::collections::BTreeMap<String, serde_json::Value>,
) -> Option<crate::config::ConfigLayer> {
    let (package, macro_name) = ctx.jinja.find_test_macro(test_name, &ctx.scope.name)?;
    let call = TestCall {
        package: &package,
        macro_name: &macro_name,
        model: minijinja::Value::from("__lakeforge_parse_placeholder"),
        column,
        args,
    };
    let extra = ctx.scope.render_extra();
    let (_, captured) = ctx
        .jinja
        .call_test_macro(
            call,
            MacroCall {
                file: decl_path,
                extra,
                ..Default::default()
            },
        )
        .ok()?;
    Some(captured.config)
}

/// dbt-core's names of a generic test: (short, full). The full name (the node's name and id)
/// is `<test type>_<target>_<arguments>`, the arguments' values in argument-name order as
/// Python prints them, runs of other characters than letters, digits and `_` made one `_`,
/// joined by `__`; the short one (the relation storing failures) is the full name, or under
/// 64 characters the first 30 of `<test type>_<target>` and the md5 of the full name. The same
/// names as dbt's keep selectors, stored-failure tables and run results familiar.
pub(super) fn dbt_test_names(
    test_type: &str,
    target: &str,
    args: &std::collections::BTreeMap<String, serde_json::Value>,
) -> (String, String) {
    static NON_WORD: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let non_word = NON_WORD.get_or_init(|| crate::literal_regex("[^0-9a-zA-Z_]+"));
    let mut flat: Vec<String> = Vec::new();
    for v in args
        .iter()
        .filter(|(k, _)| k.as_str() != "model")
        .map(|(_, v)| v)
    {
        match v {
            serde_json::Value::Object(m) => flat.extend(m.values().map(python_str)),
            serde_json::Value::Array(a) => flat.extend(a.iter().map(python_str)),
            other => flat.push(python_str(other)),
        }
    }
    let unique = flat
        .iter()
        .map(|a| non_word.replace_all(a, "_").into_owned())
        .collect::<Vec<_>>()
        .join("__");
    let identifier = format!("{test_type}_{target}");
    let full = format!("{identifier}_{unique}");
    let short = if full.len() >= 64 {
        let head: String = identifier.chars().take(30).collect();
        format!("{head}_{}", crate::jinja::md5_hex(full.as_bytes()))
    } else {
        full.clone()
    };
    (short, full)
}

/// `str(value)` in Python, for a value read from YAML.
fn python_str(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => python_repr(other),
    }
}

/// `repr(value)` in Python: what `str()` of a list or dict prints for its members.
fn python_repr(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => "None".into(),
        serde_json::Value::Bool(true) => "True".into(),
        serde_json::Value::Bool(false) => "False".into(),
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::String(s) => {
            format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
        }
        serde_json::Value::Array(a) => format!(
            "[{}]",
            a.iter().map(python_repr).collect::<Vec<_>>().join(", ")
        ),
        serde_json::Value::Object(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("'{k}': {}", python_repr(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(test_type: &str, target: &str, args: serde_json::Value) -> (String, String) {
        let args = serde_json::from_value(args).unwrap();
        dbt_test_names(test_type, target, &args)
    }

    #[test]
    fn test_names_are_dbt_cores() {
        assert_eq!(
            names(
                "not_null",
                "orders",
                serde_json::json!({"column_name": "id"})
            )
            .1,
            "not_null_orders_id"
        );
        // Names seen in dbt-core 1.10's run of dbt_utils' integration suite.
        let (short, full) = names(
            "dbt_utils_accepted_range",
            "data_test_accepted_range",
            serde_json::json!({"column_name": "id", "inclusive": false, "max_value": 11.1, "min_value": -2}),
        );
        assert_eq!(
            full,
            "dbt_utils_accepted_range_data_test_accepted_range_id__False__11_1___2"
        );
        assert_eq!(short.len(), 30 + 1 + 32);
        assert!(
            short.starts_with("dbt_utils_accepted_range_data__"),
            "{short}"
        );
        assert_eq!(
            names(
                "dbt_utils_equal_rowcount",
                "test_equal_rowcount",
                serde_json::json!({"compare_model": "ref('test_equal_rowcount')"}),
            )
            .1,
            "dbt_utils_equal_rowcount_test_equal_rowcount_ref_test_equal_rowcount_"
        );
        assert_eq!(
            names(
                "dbt_utils_not_accepted_values",
                "data_test_not_accepted_values",
                serde_json::json!({"column_name": "city", "values": ["Madrid", "Berlin"]}),
            )
            .1,
            "dbt_utils_not_accepted_values_data_test_not_accepted_values_city__Madrid__Berlin"
        );
        let short = names("unique", "orders", serde_json::json!({"column_name": "id"})).0;
        assert_eq!(short, "unique_orders_id");
    }
}
