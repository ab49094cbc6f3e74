//! Schedules, the scheduler and backfill: two `lakeforge scheduler` processes on one store
//! (SQLite, and PostgreSQL through `metadata:`) run each tick exactly once, one of them active
//! at a time, the other taking over when the first stops; `--once` after missed ticks follows
//! each schedule's catch-up policy and never runs a tick twice; `lakeforge backfill` runs a
//! date-partitioned model once per date and stops at the first failing date; malformed
//! schedules are errors that name lakeforge.yml, the schedule and the field.

use std::collections::BTreeMap;
use std::time::Duration;

use lakeforge_meta_testing::TestPostgres;

use crate::common::{Background, Project};

const LONG: Duration = Duration::from_secs(90);

/// The recorded runs, oldest first, as JSON.
fn runs(p: &Project) -> Vec<serde_json::Value> {
    let out = p
        .run(&["runs", "--limit", "10000", "--format", "json"])
        .ok()
        .stdout;
    let mut runs: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    runs.reverse();
    runs
}

fn args(run: &serde_json::Value) -> serde_json::Value {
    serde_json::from_str(run["args"].as_str().unwrap()).unwrap()
}

/// The runs a schedule started: (schedule, tick) → the runs of that tick.
fn runs_by_tick(p: &Project) -> BTreeMap<(String, String), Vec<serde_json::Value>> {
    let mut out: BTreeMap<(String, String), Vec<serde_json::Value>> = BTreeMap::new();
    for run in runs(p) {
        let a = args(&run);
        if let (Some(name), Some(tick)) = (
            a["schedule"]["name"].as_str(),
            a["schedule"]["tick"].as_str(),
        ) {
            out.entry((name.to_string(), tick.to_string()))
                .or_default()
                .push(run);
        }
    }
    out
}

fn is_fired(line: &str) -> bool {
    line.starts_with("tick ") && line.contains(": run ")
}

#[test]
fn two_schedulers_on_sqlite_run_each_tick_once() {
    let p = Project::fixture("schedule");
    two_schedulers_run_each_tick_once(&p, "");
}

#[test]
fn two_schedulers_on_postgres_run_each_tick_once() {
    let pg = TestPostgres::create();
    let p = Project::fixture("schedule");
    two_schedulers_run_each_tick_once(&p, &format!("metadata: {}\n", pg.url()));
}

fn two_schedulers_run_each_tick_once(p: &Project, metadata: &str) {
    p.write(
        "lakeforge.yml",
        &format!(
            "{metadata}schedules:\n  - name: beat\n    cron: '* * * * * *'\n    command: run\n    select: heartbeat\n    catchup: all\n"
        ),
    );
    let scheduler = [
        "scheduler",
        "--poll-interval",
        "0.2",
        "--lease-ttl",
        "3",
        "--threads",
        "1",
    ];
    let mut a = Background::spawn(p, &scheduler);
    a.wait_for(1, LONG, |l| l.contains(": active on "));
    let mut b = Background::spawn(p, &scheduler);
    b.wait_for(1, LONG, |l| l.contains(": standby: "));
    a.wait_for(3, LONG, is_fired);
    // While the first is active, the second only stands by.
    assert_eq!(b.count(|l| l.contains(": active on ")), 0, "{}", b.output());
    assert_eq!(b.count(is_fired), 0, "{}", b.output());

    // SIGTERM: the first lets its run in flight finish, releases the lease and exits 0; the
    // second takes over and catches up on the ticks that passed meanwhile.
    a.signal("TERM");
    assert_eq!(a.wait(LONG), 0, "{}", a.output());
    let a_out = a.output();
    assert!(a_out.contains("stopped; released the lease"), "{a_out}");
    assert!(!a_out.contains("cancelled"), "{a_out}");
    b.wait_for(1, LONG, |l| l.contains(": active on "));
    b.wait_for(2, LONG, is_fired);
    b.signal("TERM");
    assert_eq!(b.wait(LONG), 0, "{}", b.output());
    let b_out = b.output();
    assert!(b_out.contains("stopped; released the lease"), "{b_out}");

    let by_tick = runs_by_tick(p);
    let (fired_a, fired_b) = (
        a_out.lines().filter(|l| is_fired(l)).count(),
        b_out.lines().filter(|l| is_fired(l)).count(),
    );
    assert_eq!(
        by_tick.len(),
        fired_a + fired_b,
        "one run per tick fired\n{a_out}\n{b_out}"
    );
    for ((_, tick), runs) in &by_tick {
        assert_eq!(runs.len(), 1, "tick {tick} ran {} times", runs.len());
        assert_eq!(runs[0]["status"], "success", "{}", runs[0]);
    }
    // Every second from the first tick to the last ran: none was lost in the handover.
    let ticks: Vec<chrono::DateTime<chrono::Utc>> =
        by_tick.keys().map(|(_, t)| t.parse().unwrap()).collect();
    for pair in ticks.windows(2) {
        assert_eq!((pair[1] - pair[0]).num_seconds(), 1, "{ticks:?}");
    }
    // One scheduler active at a time: every run of the first ended before the second's began.
    let pid = |r: &serde_json::Value| args(r)["pid"].as_u64().unwrap() as u32;
    let all: Vec<&serde_json::Value> = by_tick.values().flatten().collect();
    let (of_a, of_b): (Vec<&serde_json::Value>, Vec<&serde_json::Value>) =
        all.iter().partition(|r| pid(r) == a.id());
    assert!(of_b.iter().all(|r| pid(r) == b.id()));
    assert_eq!((of_a.len(), of_b.len()), (fired_a, fired_b));
    let last_of_a = of_a
        .iter()
        .map(|r| r["finished_at"].as_str().unwrap())
        .max()
        .unwrap();
    let first_of_b = of_b
        .iter()
        .map(|r| r["started_at"].as_str().unwrap())
        .min()
        .unwrap();
    assert!(last_of_a <= first_of_b, "{last_of_a} > {first_of_b}");

    // The store's tick record names the last run; no scheduler is active any more.
    let status = p
        .run(&["scheduler", "--status", "--format", "json"])
        .ok()
        .stdout;
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    let last = &status["schedules"][0]["last_tick"];
    assert_eq!(last["status"], "success");
    let newest = &by_tick.values().last().unwrap()[0];
    assert_eq!(last["run_id"], newest["run_id"]);
    assert_eq!(status["lease"], serde_json::Value::Null);
}

#[test]
fn sigterm_lets_the_run_in_flight_finish_and_a_second_signal_cancels_it() {
    let p = Project::fixture("schedule");
    p.write(
        "lakeforge.yml",
        "schedules:\n  - name: slow\n    cron: '* * * * * *'\n    command: run\n    select: slow\n",
    );
    let slow = || {
        let mut c = p.command(&["scheduler", "--poll-interval", "0.2", "--threads", "1"]);
        c.env("LF_ROWS", "1000000000");
        Background::start(c)
    };
    let starting = |l: &str| l.starts_with("tick slow ") && l.contains(": starting `run`");

    // One signal: no new tick is claimed, the run going on ends as it would have.
    let mut first = slow();
    first.wait_for(1, LONG, starting);
    std::thread::sleep(Duration::from_millis(300));
    first.signal("TERM");
    assert_eq!(first.wait(LONG), 0, "{}", first.output());
    let out = first.output();
    assert!(
        out.contains("SIGTERM: stopping; the run in flight"),
        "{out}"
    );
    assert_eq!(first.count(starting), 1, "{out}");
    assert_eq!(first.count(is_fired), 1, "{out}");
    assert!(
        out.contains(": run ") && out.contains(" success in "),
        "{out}"
    );
    assert_eq!(p.sql("select n from main.slow"), "n\n1000000000\n");

    // Two signals: the run in flight is cancelled cleanly and recorded so.
    let mut second = slow();
    second.wait_for(1, LONG, starting);
    std::thread::sleep(Duration::from_millis(300));
    second.signal("TERM");
    std::thread::sleep(Duration::from_millis(300));
    second.signal("INT");
    assert_eq!(second.wait(LONG), 130, "{}", second.output());
    let out = second.output();
    assert!(
        out.contains("SIGINT again: cancelling the run in flight"),
        "{out}"
    );
    assert!(out.contains(" cancelled in "), "{out}");
    let by_tick = runs_by_tick(&p);
    let statuses: Vec<&str> = by_tick
        .values()
        .map(|r| r[0]["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, vec!["success", "cancelled"]);
    let status = p
        .run(&["scheduler", "--status", "--format", "json"])
        .ok()
        .stdout;
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(status["schedules"][0]["last_tick"]["status"], "cancelled");
    assert_eq!(status["lease"], serde_json::Value::Null);
}

#[test]
fn once_after_missed_ticks_follows_the_catchup_policy_and_never_runs_a_tick_twice() {
    let p = Project::fixture("schedule");
    p.write(
        "lakeforge.yml",
        "schedules:\n\
         \x20 - name: latest\n    cron: '0 * * * *'\n    command: run\n    select: daily\n    vars: {ds: '2030-01-01'}\n\
         \x20 - name: all\n    cron: '0 * * * *'\n    command: run\n    select: heartbeat\n    catchup: all\n    max_catchup: 2\n\
         \x20 - name: none\n    cron: '0 * * * *'\n    timezone: Europe/Paris\n    command: run\n    select: heartbeat\n    catchup: none\n",
    );
    let once = |now: &str| p.run(&["scheduler", "--once", "--now", now]).ok().stdout;

    // First sighting: a new schedule waits for its next tick.
    let first = once("2026-01-01T10:30:00Z");
    assert_eq!(
        first
            .matches("skipped (the schedule was first seen after this tick)")
            .count(),
        3,
        "{first}"
    );
    assert!(runs(&p).is_empty(), "{first}");

    // Three hours later: `latest` runs 13:00 only, `all` the 2 most recent, `none` nothing.
    let later = once("2026-01-01T13:30:00Z");
    assert!(
        later.contains("schedule latest: passing over 2 missed ticks (catchup: latest)"),
        "{later}"
    );
    assert!(
        later.contains("schedule all: passing over 1 missed tick (catchup: all, max_catchup: 2)"),
        "{later}"
    );
    assert!(
        later.contains("tick none 2026-01-01T13:00:00Z: skipped (missed (catchup: none))"),
        "{later}"
    );
    // The ticks fired, in order of schedule and time.
    let fired = |s: &str| -> Vec<String> {
        let mut ticks: Vec<String> = s
            .lines()
            .filter(|l| is_fired(l))
            .map(|l| l.split(": run ").next().unwrap().to_string())
            .collect();
        ticks.sort();
        ticks
    };
    assert_eq!(
        fired(&later),
        vec![
            "tick all 2026-01-01T12:00:00Z",
            "tick all 2026-01-01T13:00:00Z",
            "tick latest 2026-01-01T13:00:00Z",
        ],
        "{later}"
    );
    // The schedule's vars reached the model.
    assert_eq!(p.sql("select ds from main.daily"), "ds\n2030-01-01\n");

    // Restarted at the same moment: everything due has run; nothing runs twice.
    let again = once("2026-01-01T13:30:00Z");
    assert!(fired(&again).is_empty(), "{again}");
    assert_eq!(runs(&p).len(), 3);

    // On time for 14:00: every policy runs it.
    let on_time = once("2026-01-01T14:00:20Z");
    assert_eq!(
        fired(&on_time),
        vec![
            "tick all 2026-01-01T14:00:00Z",
            "tick latest 2026-01-01T14:00:00Z",
            "tick none 2026-01-01T14:00:00Z",
        ],
        "{on_time}"
    );
    let by_tick = runs_by_tick(&p);
    assert_eq!(by_tick.len(), 6);
    assert!(by_tick.values().all(|r| r.len() == 1));

    let status = p
        .run(&["scheduler", "--status", "--format", "json"])
        .ok()
        .stdout;
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    let none = &status["schedules"][2];
    assert_eq!(none["timezone"], "Europe/Paris");
    assert_eq!(none["last_tick"]["tick_at"], "2026-01-01T14:00:00Z");
    assert_eq!(none["last_tick"]["status"], "success");
    let table = p.run(&["scheduler", "--status"]).ok().stdout;
    assert!(
        table.contains("run -s daily --vars '{\"ds\":\"2030-01-01\"}'"),
        "{table}"
    );
    assert!(table.contains("No scheduler is active."), "{table}");
}

#[test]
fn backfill_runs_a_partitioned_model_once_per_date() {
    let p = Project::fixture("schedule");
    let out = p
        .run(&[
            "backfill",
            "--select",
            "daily",
            "--start",
            "2024-01-01",
            "--end",
            "2024-01-03",
            "--command",
            "run",
        ])
        .ok()
        .stdout;
    for (i, ds) in ["2024-01-01", "2024-01-02", "2024-01-03"]
        .iter()
        .enumerate()
    {
        assert!(
            out.contains(&format!("backfill {}/3 ds={ds}: run ", i + 1)),
            "{out}"
        );
    }
    assert!(
        out.contains("Backfilled 3 dates of daily (2024-01-01 .. 2024-01-03)"),
        "{out}"
    );
    assert_eq!(
        p.sql("select ds, n from main.daily order by ds"),
        "ds,n\n2024-01-01,1\n2024-01-02,1\n2024-01-03,1\n"
    );
    // Each date is a run of its own, recorded with its vars.
    let recorded = runs(&p);
    assert_eq!(recorded.len(), 3);
    for (run, ds) in recorded
        .iter()
        .zip(["2024-01-01", "2024-01-02", "2024-01-03"])
    {
        assert_eq!(run["status"], "success");
        assert_eq!(run["command"], "run");
        let a = args(run);
        assert_eq!(a["backfill"]["value"], ds);
        assert_eq!(a["vars"], format!("{{\"ds\":\"{ds}\"}}"));
    }

    // A failing date stops the backfill there, and says how to resume.
    let failed = p.run(&[
        "backfill",
        "-s",
        "daily",
        "--start",
        "2024-01-04",
        "--end",
        "2024-01-06",
        "--command",
        "run",
    ]);
    assert_eq!(failed.code, 1, "{}\n{}", failed.stdout, failed.stderr);
    assert!(
        failed
            .stderr
            .contains("backfill stopped at ds=2024-01-05: run ")
            && failed.stderr.contains("error (1 later date not run)"),
        "{}",
        failed.stderr
    );
    assert!(
        failed.stderr.contains(
            "hint: fix it, then resume with `lakeforge backfill --select daily --start 2024-01-05 --end 2024-01-06 --command run`"
        ),
        "{}",
        failed.stderr
    );
    assert_eq!(runs(&p).len(), 5);
    assert_eq!(p.sql("select count(*) as n from main.daily"), "n\n4\n");

    let backwards = p.run(&[
        "backfill",
        "-s",
        "daily",
        "--start",
        "2024-01-04",
        "--end",
        "2024-01-01",
    ]);
    assert_eq!(backwards.code, 2);
    assert!(
        backwards.stderr.contains("is before --start"),
        "{}",
        backwards.stderr
    );
}

#[test]
fn malformed_schedules_are_errors_naming_the_file_the_schedule_and_the_field() {
    let p = Project::fixture("schedule");
    let error = |yaml: &str| {
        p.write("lakeforge.yml", yaml);
        let r = p.run(&["scheduler", "--once"]);
        assert_eq!(r.code, 2, "{}", r.stdout);
        r.stderr
    };
    let cron = error("schedules:\n  - name: nightly\n    cron: '61 2 * * *'\n");
    assert!(
        cron.contains(
            "lakeforge.yml: schedule `nightly`, field `cron`: `61 2 * * *` is not a cron expression"
        ),
        "{cron}"
    );
    assert!(cron.contains("hint: five fields"), "{cron}");
    let tz = error(
        "schedules:\n  - name: nightly\n    cron: '0 2 * * *'\n    timezone: Europe/Pariss\n",
    );
    assert!(
        tz.contains("lakeforge.yml: schedule `nightly`, field `timezone`: `Europe/Pariss` is not a known timezone"),
        "{tz}"
    );
    assert!(tz.contains("did you mean `Europe/Paris`?"), "{tz}");
    let cmd = error("schedules:\n  - name: nightly\n    cron: '0 2 * * *'\n    command: compile\n");
    assert!(
        cmd.contains("field `command`: `compile` is not a command a schedule can run"),
        "{cmd}"
    );
    let typo = error("schedules:\n  - name: nightly\n    cron: '0 2 * * *'\n    selct: x\n");
    assert!(
        typo.contains("lakeforge.yml") && typo.contains("unknown field `selct`"),
        "{typo}"
    );
    let none = error("threads: 1\n");
    assert!(
        none.contains("no schedules in") && none.contains("hint: add `schedules:`"),
        "{none}"
    );
    // Other commands read lakeforge.yml too, and say the same.
    p.write(
        "lakeforge.yml",
        "schedules:\n  - name: nightly\n    cron: 'every day'\n",
    );
    let build = p.run(&["build"]);
    assert_eq!(build.code, 2);
    assert!(
        build.stderr.contains("schedule `nightly`, field `cron`"),
        "{}",
        build.stderr
    );
}
