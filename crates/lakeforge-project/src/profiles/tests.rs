//! Unit tests of profiles.yml: finding it, selecting the target, rendering outputs and their
//! database URLs.

use super::*;

/// A project folder holding profiles.yml with `text`.
fn folder(text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("profiles.yml"), text).unwrap();
    dir
}

fn flags(dir: &Path) -> ProfileFlags {
    ProfileFlags {
        profiles_dir: Some(dir.to_path_buf()),
        ..ProfileFlags::default()
    }
}

const TWO_TARGETS: &str = "shop:
  target: dev
  outputs:
    dev:
      type: duckdb
      schema: \"{{ env_var('LF_PROFILE_TEST_DEV_SCHEMA', 'dev_main') }}\"
      threads: \"{{ env_var('LF_PROFILE_TEST_THREADS', '3') }}\"
    prod:
      type: postgres
      host: db.example
      user: loader
      password: \"{{ env_var('LF_PROFILE_TEST_NEVER_SET_PASSWORD') }}\"
      dbname: warehouse
      schema: analytics
";

#[test]
fn only_the_selected_target_is_rendered() {
    let dir = folder(TWO_TARGETS);
    let p = select(dir.path(), &flags(dir.path()), "shop").unwrap();
    assert_eq!(p.target, "dev");
    assert_eq!(p.output.schema.as_deref(), Some("dev_main"));
    assert_eq!(p.output.threads, Some(3));
    assert_eq!(p.output.kind.as_deref(), Some("duckdb"));
    // prod's password variable is unset: rendering prod, and only that, fails, naming it.
    let err = p.database_url(dir.path(), "prod").unwrap_err().to_string();
    assert!(
        err.contains("profile `shop`, output `prod`, `password`: environment variable `LF_PROFILE_TEST_NEVER_SET_PASSWORD` is not set"),
        "{err}"
    );
    assert!(err.contains("profiles.yml"), "{err}");
    let as_prod = ProfileFlags {
        target: Some("prod".into()),
        ..flags(dir.path())
    };
    let err = select(dir.path(), &as_prod, "shop")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("profile `shop`, target `prod`, `password`: environment variable"),
        "{err}"
    );
}

#[test]
fn unknown_targets_and_profiles_list_what_exists() {
    let dir = folder(TWO_TARGETS);
    let staging = ProfileFlags {
        target: Some("staging".into()),
        ..flags(dir.path())
    };
    let err = select(dir.path(), &staging, "shop")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("profile `shop` has no target `staging` (it has: dev, prod)\nhint: pick one of those with --target"),
        "{err}"
    );
    let written = folder("shop:\n  target: qa\n  outputs:\n    dev: {type: duckdb}\n");
    let err = select(written.path(), &flags(written.path()), "shop")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("has no target `qa` (it has: dev)\nhint: fix the profile's `target:`"),
        "{err}"
    );
    let named = ProfileFlags {
        profile: Some("shopp".into()),
        ..flags(dir.path())
    };
    let err = select(dir.path(), &named, "other").unwrap_err().to_string();
    assert!(
        err.contains("no profile `shopp` (it has: shop)\nhint: did you mean `shop`?"),
        "{err}"
    );
    // The profile of dbt_project.yml may be absent: Lakeforge's defaults are complete.
    let p = select(dir.path(), &flags(dir.path()), "other").unwrap();
    assert_eq!((p.name.as_str(), p.target.as_str()), ("other", "dev"));
    assert!(p.output.schema.is_none());
}

#[test]
fn the_target_key_is_rendered_and_flags_win() {
    let dir = folder(
        "shop:\n  target: \"{{ env_var('LF_PROFILE_TEST_UNSET_TARGET', 'prod') }}\"\n  outputs:\n    dev: {schema: d}\n    prod: {schema: p}\n",
    );
    let p = select(dir.path(), &flags(dir.path()), "shop").unwrap();
    assert_eq!(
        (p.target.as_str(), p.output.schema.as_deref()),
        ("prod", Some("p"))
    );
    let dev = ProfileFlags {
        target: Some("dev".into()),
        ..flags(dir.path())
    };
    assert_eq!(
        select(dir.path(), &dev, "shop")
            .unwrap()
            .output
            .schema
            .as_deref(),
        Some("d")
    );
}

#[test]
fn an_explicit_folder_without_profiles_yml_is_an_error() {
    let empty = tempfile::tempdir().unwrap();
    let err = find(empty.path(), &flags(empty.path()))
        .unwrap_err()
        .to_string();
    assert!(err.contains("no profiles.yml in"), "{err}");
    assert!(err.contains("--profiles-dir"), "{err}");
}

#[test]
fn sources_and_exports_name_connections() {
    let sources: Vec<SourceProps> = serde_yaml::from_str(
        "- {name: a, connection: app_pg, tables: [{name: t}, {name: u, config: {connection: crm}}]}\n- {name: b, tables: [{name: t}]}\n",
    )
    .unwrap();
    let names = named_connections(&sources, std::iter::empty());
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        vec!["app_pg".to_string(), "crm".to_string()]
    );
}
