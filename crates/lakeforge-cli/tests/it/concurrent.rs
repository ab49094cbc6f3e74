//! Two `lakeforge build`s of one project at once (two processes of the real binary): the lake
//! ends consistent — every table readable, the same rows as one build after the other — and a
//! build that lost a race says so in our words (another run wrote the table; re-run), never in
//! delta-rs's ("isolation level").

use crate::common::{Project, Run, to_run};

/// Start two builds of `p` at the same moment and wait for both.
fn build_twice_at_once(p: &Project) -> [Run; 2] {
    let start = || {
        p.command(&["build", "--threads", "2"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (start(), start());
    [a, b].map(|c| to_run(c.wait_with_output().unwrap()))
}

/// A build either succeeded, or each of its errors is a lost race, told in our words.
fn check_outcome(run: &Run) {
    let all = format!("{}\n{}", run.stdout, run.stderr);
    assert!(
        !all.to_lowercase().contains("isolation") && !all.contains("panicked"),
        "{all}"
    );
    if run.code != 0 {
        let errors: Vec<&str> = all.lines().filter(|l| l.contains(" ERROR ")).collect();
        assert!(!errors.is_empty(), "failed without a node error:\n{all}");
        assert!(
            all.contains("another run wrote this table while this one was writing it")
                && all.contains("hint: re-run this command"),
            "a failure other than a concurrent write:\n{all}"
        );
    }
}

/// What a user would check: each table's row count, and that no event landed twice.
fn lake_state(p: &Project) -> String {
    p.sql(
        "select \
           (select count(*) from main.events) as events, \
           (select count(*) from main.people) as people, \
           (select count(*) from main_analytics.events_append) as appended, \
           (select count(distinct event_id) from main_analytics.events_append) as appended_ids, \
           (select count(*) from main_analytics.events_merge) as merged, \
           (select count(distinct event_id) from main_analytics.events_merge) as merged_ids, \
           (select count(*) from main_analytics.person_totals) as totals",
    )
}

const NEW_EVENTS: &str = "5,2,click,3.00,2024-05-05 09:00:00\n6,3,buy,7.75,2024-05-06 10:00:00\n";

fn add_events(p: &Project) {
    let path = p.path().join("seeds/events.csv");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(NEW_EVENTS);
    std::fs::write(path, text).unwrap();
}

#[test]
fn two_builds_at_once_leave_the_lake_as_one_build_after_the_other() {
    // The reference: the same project built once per round, alone.
    let reference = Project::fixture("proj");
    reference.run(&["build"]).ok();
    let p = Project::fixture("proj");

    // Round 1: nothing exists yet; every write is a full one (seeds, tables, first builds of
    // incremental models), which a lost race redoes, so both builds succeed.
    for run in build_twice_at_once(&p) {
        check_outcome(&run);
        assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    }
    assert_eq!(lake_state(&p), lake_state(&reference));

    // Round 2: new rows for the incremental models, whose writes depend on what the table
    // held; a build that lost the race fails in our words instead of appending twice.
    add_events(&reference);
    reference.run(&["build"]).ok();
    add_events(&p);
    let runs = build_twice_at_once(&p);
    for run in &runs {
        check_outcome(run);
    }
    // Each incremental table was won by one build (both builds may fail when each loses
    // the race on a different table), and holds the new rows exactly once.
    for model in ["events_append", "events_merge"] {
        let line = format!("incremental main_analytics.{model} ");
        assert!(
            runs.iter().any(|r| r
                .stdout
                .lines()
                .any(|l| l.contains(" OK ") && l.contains(&line))),
            "no build committed {model}:\n{}\n{}",
            runs[0].stdout,
            runs[1].stdout
        );
    }
    assert_eq!(lake_state(&p), lake_state(&reference));

    // Re-running, as the hint says, succeeds and changes nothing.
    p.run(&["build"]).ok();
    assert_eq!(lake_state(&p), lake_state(&reference));
    // Both runs are in the metadata store, which two writers shared.
    let runs = p.run(&["runs", "--limit", "10"]).ok().stdout;
    assert!(
        runs.lines().filter(|l| l.contains("build")).count() >= 5,
        "{runs}"
    );
}
