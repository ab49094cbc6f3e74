//! Generic tests declared in properties YAML (`tests:`/`data_tests:` of a model, seed, source or
//! column) become test nodes with dbt's generated names.

use std::path::Path;

use crate::config::{build_config, json_to_plain_string, merge};
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
    let name = decl.custom_name.clone().unwrap_or_else(|| {
        let mut n = format!("{short_test}_{owner_name}");
        if let Some(c) = column {
            n.push('_');
            n.push_str(c);
        }
        let extra: Vec<String> = args
            .iter()
            .filter(|(k, _)| *k != "column_name" && *k != "model")
            .map(|(_, v)| match v {
                serde_json::Value::Array(a) => a
                    .iter()
                    .map(json_to_plain_string)
                    .collect::<Vec<_>>()
                    .join("__"),
                other => json_to_plain_string(other),
            })
            .collect();
        if !extra.is_empty() {
            n.push_str("__");
            n.push_str(&extra.join("__"));
        }
        sanitize_name(&n.replace(['\'', '"'], ""))
    });
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
        relation: Relation::new(
            schema_for(ctx.target, Some("dbt_test__audit")),
            name.clone(),
        ),
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

pub(super) fn sanitize_name(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if out.len() > 80 {
        let h = checksum(s.as_bytes());
        out.truncate(60);
        out.push('_');
        out.push_str(&h[..12]);
    }
    out
}
