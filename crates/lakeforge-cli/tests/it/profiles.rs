//! profiles.yml as dbt reads it: the search order (`--profiles-dir`, `DBT_PROFILES_DIR`, the
//! project folder, `~/.dbt`), `--profile` and `--target`, and only the selected target's
//! output rendered, so an unset variable of another target does not matter.

use crate::common::Project;

/// A profile `it` whose dev output writes to schema `schema`.
fn profile(schema: &str) -> String {
    format!("it:\n  target: dev\n  outputs:\n    dev: {{type: duckdb, schema: {schema}}}\n")
}

/// Where `lakeforge ls` says model `people` lives, with `HOME` at `home`.
fn relation(
    p: &Project,
    home: &std::path::Path,
    env: Option<&std::path::Path>,
    args: &[&str],
) -> String {
    let mut all = vec!["ls", "-s", "people", "--output", "json"];
    all.extend_from_slice(args);
    let mut c = p.command(&all);
    c.env("HOME", home);
    if let Some(dir) = env {
        c.env("DBT_PROFILES_DIR", dir);
    }
    let run = crate::common::to_run(c.output().unwrap()).ok();
    let v: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
    v["relation"].as_str().unwrap().to_string()
}

#[test]
fn profiles_are_searched_in_dbts_order() {
    let p = Project::fixture("proj");
    let dirs = tempfile::tempdir().unwrap();
    let (flag, env, home) = (
        dirs.path().join("flag"),
        dirs.path().join("env"),
        dirs.path().join("home"),
    );
    for (dir, schema) in [
        (&flag, "from_flag"),
        (&env, "from_env"),
        (&home.join(".dbt"), "from_home"),
    ] {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join("profiles.yml"), profile(schema)).unwrap();
    }
    p.write("profiles.yml", &profile("from_project"));
    let flag_arg = flag.display().to_string();
    assert_eq!(
        relation(&p, &home, Some(&env), &["--profiles-dir", &flag_arg]),
        "from_flag.people"
    );
    assert_eq!(relation(&p, &home, Some(&env), &[]), "from_env.people");
    assert_eq!(relation(&p, &home, None, &[]), "from_project.people");
    std::fs::remove_file(p.path().join("profiles.yml")).unwrap();
    assert_eq!(relation(&p, &home, None, &[]), "from_home.people");
    // No profiles.yml anywhere: Lakeforge's defaults.
    assert_eq!(relation(&p, dirs.path(), None, &[]), "main.people");

    // A folder named explicitly must hold the file.
    let r = p
        .command(&["ls", "--profiles-dir", "nowhere"])
        .env("HOME", &home)
        .output()
        .unwrap();
    let r = crate::common::to_run(r);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no profiles.yml in"), "{}", r.stderr);
    assert!(r.stderr.contains("hint:"), "{}", r.stderr);
}

#[test]
fn an_unset_variable_of_an_unused_target_does_not_stop_the_run() {
    let p = Project::fixture("proj");
    p.write(
        "profiles.yml",
        "it:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      schema: \"{{ env_var('LF_IT_DEV_SCHEMA', 'main') }}\"\n    prod:\n      type: postgres\n      host: warehouse.example\n      user: loader\n      password: \"{{ env_var('LF_IT_NEVER_SET_PROD_PASSWORD') }}\"\n      dbname: analytics\n      schema: prod\nother:\n  target: ci\n  outputs:\n    ci: {type: duckdb, schema: \"{{ env_var('LF_IT_CI_SCHEMA', 'ci') }}\"}\n",
    );
    let run = p.run(&["build", "-s", "+people"]).ok();
    assert!(run.stdout.contains("main.people"), "{}", run.stdout);

    // Selecting prod renders prod, and the missing variable is named with where it is.
    let r = p.run(&["ls", "--target", "prod"]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(
        r.stderr.contains("profiles.yml: profile `it`, target `prod`, `password`: environment variable `LF_IT_NEVER_SET_PROD_PASSWORD` is not set\nhint: export it, or give env_var() a default"),
        "{}",
        r.stderr
    );

    // --profile picks another profile of the file; an unknown one lists those there are.
    let ls = p
        .run(&[
            "ls",
            "-s",
            "people",
            "--output",
            "json",
            "--profile",
            "other",
        ])
        .ok();
    assert!(
        ls.stdout.contains("\"relation\":\"ci.people\""),
        "{}",
        ls.stdout
    );
    let r = p.run(&["ls", "--profile", "otherr"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("no profile `otherr` (it has: it, other)\nhint: did you mean `other`?"),
        "{}",
        r.stderr
    );
}
