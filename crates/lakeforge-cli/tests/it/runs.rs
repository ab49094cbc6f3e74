//! Run history: `lakeforge build` twice, then `lakeforge runs` and `lakeforge runs show`, with
//! the default SQLite store and with `metadata:` naming a database of the machine's real
//! PostgreSQL (`LAKEFORGE_TEST_POSTGRES_URL`). Both print the same, so they share snapshots.

use lakeforge_meta_testing::TestPostgres;

use crate::common::{Project, normalize};

#[test]
fn runs_history_with_sqlite() {
    let p = Project::fixture("proj");
    build_twice_and_check_history(&p);
    assert!(p.path().join("lake/_lakeforge.db").is_file());
}

#[test]
fn runs_history_with_postgres() {
    let pg = TestPostgres::create();
    let p = Project::fixture("proj");
    p.write("lakeforge.yml", &format!("metadata: {}\n", pg.url()));
    build_twice_and_check_history(&p);
    assert!(!p.path().join("lake/_lakeforge.db").exists());
}

fn build_twice_and_check_history(p: &Project) {
    let none = p.run(&["runs"]).ok();
    assert_eq!(none.stdout, "No runs recorded yet.\n");
    p.run(&["build", "--threads", "1"]).ok();
    p.run(&["build", "--threads", "1"]).ok();

    let list = p.run(&["runs"]).ok();
    insta::assert_snapshot!("runs_list", tidy(&list.stdout, p));

    let last = p.run(&["runs", "show", "last"]).ok();
    insta::assert_snapshot!("runs_show_last", tidy(&last.stdout, p));

    // Ids from JSON; a unique prefix finds the same run as the whole id.
    let json: serde_json::Value =
        serde_json::from_str(&p.run(&["runs", "--format", "json"]).ok().stdout).unwrap();
    let runs = json.as_array().unwrap();
    assert_eq!(runs.len(), 2);
    let (newest, oldest) = (
        runs[0]["run_id"].as_str().unwrap(),
        runs[1]["run_id"].as_str().unwrap(),
    );
    assert_eq!(runs[0]["nodes_ok"], 16);
    assert_eq!(runs[0]["status"], "success");
    let limited = p.run(&["runs", "--limit", "1", "--format", "json"]).ok();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&limited.stdout).unwrap()[0]["run_id"],
        newest
    );
    let by_id = p.run(&["runs", "show", oldest, "--format", "json"]).ok();
    let shown: serde_json::Value = serde_json::from_str(&by_id.stdout).unwrap();
    assert_eq!(shown["run"]["run_id"], oldest);
    let args: serde_json::Value =
        serde_json::from_str(shown["run"]["args"].as_str().unwrap()).unwrap();
    assert_eq!(args["threads"], 1);
    let prefix = &oldest[..oldest.len() - 1];
    if !newest.starts_with(prefix) {
        let by_prefix = p.run(&["runs", "show", prefix, "--format", "json"]).ok();
        assert_eq!(by_id.stdout, by_prefix.stdout);
    }
    // The first build wrote version 0 of each table, the second version 1.
    let version = |run: &serde_json::Value, id: &str| {
        run["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["unique_id"] == id)
            .unwrap_or_else(|| panic!("{id} not recorded"))["delta_version"]
            .clone()
    };
    assert_eq!(version(&shown, "model.it.person_totals"), 0);
    let newest_shown: serde_json::Value = serde_json::from_str(
        &p.run(&["runs", "show", newest, "--format", "json"])
            .ok()
            .stdout,
    )
    .unwrap();
    assert_eq!(version(&newest_shown, "model.it.person_totals"), 1);

    // Ids that name no run, or several, are errors with a hint.
    let unknown = p.run(&["runs", "show", "19990101"]);
    assert_eq!(unknown.code, 2);
    insta::assert_snapshot!("runs_show_unknown", tidy(&unknown.stderr, p));
    let common_prefix: String = newest
        .chars()
        .zip(oldest.chars())
        .take_while(|(a, b)| a == b)
        .map(|(a, _)| a)
        .collect();
    let ambiguous = p.run(&["runs", "show", &common_prefix]);
    assert_eq!(ambiguous.code, 2);
    assert!(
        ambiguous.stderr.contains("is ambiguous") && ambiguous.stderr.contains("hint:"),
        "{}",
        ambiguous.stderr
    );

    // History stays readable while a model does not even compile.
    p.write(
        "models/broken.sql",
        "select * from {{ ref('no_such_model') }}",
    );
    assert_ne!(p.run(&["build", "--threads", "1"]).code, 0);
    assert_eq!(
        tidy(&p.run(&["runs"]).ok().stdout, p),
        tidy(&list.stdout, p)
    );
    p.run(&["runs", "show", "last"]).ok();
}

/// `normalize`, then what differs between runs and backends: run ids, clock times, the
/// store's location, the run's arguments, and the padding of table columns (whose widths
/// follow those values). The nodes of `runs show` are sorted, as nodes that start in the same
/// millisecond may be listed either way.
fn tidy(s: &str, p: &Project) -> String {
    let s = normalize(s, p);
    let run_id = regex::Regex::new(r"\d{8}T\d{9}Z-\d+").unwrap();
    let time = regex::Regex::new(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d").unwrap();
    let location = regex::Regex::new(r"store at \S+").unwrap();
    let padding = regex::Regex::new(r" {2,}").unwrap();
    let border = regex::Regex::new(r"(-|=){2,}").unwrap();
    let s = run_id.replace_all(&s, "[RUN]");
    let s = time.replace_all(&s, "[TIME]");
    let s = location.replace_all(&s, "store at [STORE]");
    let s = padding.replace_all(&s, " ");
    let s = border.replace_all(&s, "$1");
    // The arguments grow with the CLI's options; they are checked in the JSON instead.
    let args = regex::Regex::new(r"(?m)^ args \{.*\}$").unwrap();
    let s = args.replace_all(&s, " args [ARGS]");
    let mut lines: Vec<&str> = s.lines().collect();
    // The rows of the node table: between the header's border and the closing one.
    let borders: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].starts_with("+-") || lines[i].starts_with("+="))
        .collect();
    if lines.iter().any(|l| l.starts_with("| node ")) && borders.len() >= 3 {
        let (from, to) = (borders[1] + 1, borders[borders.len() - 1]);
        let mut rows: Vec<&str> = lines[from..to]
            .iter()
            .copied()
            .filter(|l| !l.starts_with('+'))
            .collect();
        rows.sort();
        lines.splice(from..to, rows);
    }
    lines.join("\n")
}
