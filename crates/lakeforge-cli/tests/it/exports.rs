//! Exports after the Delta commit: to Parquet/CSV files and to the machine's real PostgreSQL,
//! in replace, append and upsert modes; a failing export leaves the destination as it was.

use crate::common::Project;

/// Run SQL on the test database; returns psql's unaligned output.
fn psql(sql: &str) -> String {
    let out = std::process::Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            "test",
            "-tAc",
            sql,
        ])
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "psql failed on {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

struct Schema(String);

impl Schema {
    fn new() -> Schema {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!("lf_export_{}_{nanos}", std::process::id());
        psql(&format!("create schema {name}"));
        Schema(name)
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        psql(&format!("drop schema if exists {} cascade", self.0));
    }
}

#[test]
fn models_export_to_postgres_and_files_after_their_commit() {
    let s = Schema::new();
    let p = Project::fixture("unit");
    p.write(
        "lakeforge.yml",
        "connections:\n  app: {url: \"postgres://{{ env_var('LF_TEST_PG_USER', 'postgres') }}@127.0.0.1:5432/test\"}\n",
    );
    psql(&format!(
        "create table {0}.orders (id bigint primary key, customer_id bigint, amount double precision, status text, ordered_at timestamp); insert into {0}.orders values (1, 10, 0, 'stale', null), (99, 1, 1, 'kept', null)",
        s.0
    ));
    psql(&format!(
        "create table {0}.wrong (x int); insert into {0}.wrong values (7)",
        s.0
    ));
    p.write(
        "models/exports.yml",
        &format!(
            r#"version: 2
models:
  - name: customer_totals
    config:
      export:
        - {{type: postgres, connection: app, table: {0}.customer_totals}}
        - {{type: parquet, path: exports/totals.parquet}}
        - {{type: csv, path: exports/totals.csv}}
  - name: stg_orders
    config:
      export: {{type: postgres, connection: app, table: {0}.orders, mode: upsert, unique_key: id}}
sources:
  - name: out
    tables:
      - name: totals
        external: {{location: exports/totals.parquet}}
"#,
            s.0
        ),
    );
    let run = p
        .run(&["build", "--exclude", "test_type:unit", "--threads", "1"])
        .ok();
    assert!(
        run.stdout.contains(&format!(
            "exported 2 rows to {}.customer_totals on connection `app`",
            s.0
        )),
        "{}",
        run.stdout
    );
    assert_eq!(
        psql(&format!(
            "select customer_id, name, orders, total from {}.customer_totals order by 1",
            s.0
        )),
        "10|Ada|1|25.5\n11|Grace|1|100\n"
    );
    // Upsert: order 1 updated, order 3 added, order 99 (not in the model) kept.
    assert_eq!(
        psql(&format!(
            "select id, status from {}.orders order by id",
            s.0
        )),
        "1|completed\n3|completed\n99|kept\n"
    );
    // The files: Parquet read back as a source, and CSV.
    assert_eq!(
        p.sql("select name, total from out.totals order by name"),
        "name,total\nAda,25.5\nGrace,100.0\n"
    );
    let csv = std::fs::read_to_string(p.path().join("exports/totals.csv")).unwrap();
    assert!(csv.starts_with("customer_id,name,orders,total\n"), "{csv}");

    // An append whose columns do not fit the table fails, and leaves it as it was.
    p.write(
        "models/exports.yml",
        &format!(
            "version: 2\nmodels:\n  - name: stg_orders\n    config:\n      export: {{type: postgres, connection: app, table: {0}.wrong, mode: append}}\n",
            s.0
        ),
    );
    let run = p.run(&["run", "-s", "stg_orders"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.contains("the destination was left as it was")
            && run
                .stdout
                .contains("(the table main.stg_orders itself was committed, version 1)"),
        "{}",
        run.stdout
    );
    assert_eq!(psql(&format!("select x from {}.wrong", s.0)), "7\n");
    assert_eq!(
        psql(&format!(
            "select count(*) from information_schema.tables where table_schema = '{}' and table_name like '%stage%'",
            s.0
        )),
        "0\n"
    );
    // A connection that is not declared is named, with the ones that are.
    p.write(
        "models/exports.yml",
        "version: 2\nmodels:\n  - name: stg_orders\n    config:\n      export: {type: postgres, connection: crm, table: t}\n",
    );
    let run = p.run(&["run", "-s", "stg_orders"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.contains(
            "`export:` connection `crm` is not in lakeforge.yml's `connections:` (it has: app)"
        ),
        "{}",
        run.stdout
    );
}

/// Run SQL with the mysql client (MariaDB) as root; returns its tab-separated output.
fn mysql(sql: &str) -> String {
    let out = std::process::Command::new("mysql")
        .args(["-h", "127.0.0.1", "-u", "root", "-N", "-B", "-e", sql])
        .output()
        .expect("mysql runs");
    assert!(
        out.status.success(),
        "mysql failed on {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A MariaDB database of the test's own, dropped at the end.
struct MyDb(String);

impl MyDb {
    fn new() -> MyDb {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!("lf_export_{}_{nanos}", std::process::id());
        mysql(&format!("create database {name}"));
        MyDb(name)
    }
}

impl Drop for MyDb {
    fn drop(&mut self) {
        mysql(&format!("drop database if exists {}", self.0));
    }
}

#[test]
fn models_export_to_mariadb_in_replace_append_and_upsert_modes() {
    let db = MyDb::new();
    let p = Project::fixture("unit");
    p.write(
        "lakeforge.yml",
        &format!(
            "connections:\n  app: \"mysql://root@127.0.0.1:3306/{}\"\n  other: \"postgres://postgres@127.0.0.1:5432/test\"\n",
            db.0
        ),
    );
    // An upsert target with a row the model updates and one it does not have; a replace
    // target with rows of an old shape; an append target that does not fit the model.
    mysql(&format!(
        "create table {0}.orders (id bigint primary key, customer_id bigint, amount double, status varchar(20), ordered_at datetime(6));
         insert into {0}.orders values (1, 10, 0, 'stale', null), (99, 1, 1, 'kept', null);
         create table {0}.customer_totals (legacy int); insert into {0}.customer_totals values (1);
         create table {0}.wrong (x int); insert into {0}.wrong values (7);
         create table {0}.no_key (id bigint, status varchar(20)); insert into {0}.no_key values (1, 'old');",
        db.0
    ));
    p.write(
        "models/exports.yml",
        r#"version: 2
models:
  - name: customer_totals
    config:
      export: {type: mysql, connection: app, table: customer_totals}
  - name: stg_orders
    config:
      export:
        - {type: mariadb, connection: app, table: orders, mode: upsert, unique_key: id}
        - {type: mysql, connection: app, table: orders_log, mode: append}
"#,
    );
    let run = p
        .run(&["build", "--exclude", "test_type:unit", "--threads", "1"])
        .ok();
    assert!(
        run.stdout
            .contains("exported 2 rows to customer_totals on connection `app`"),
        "{}",
        run.stdout
    );
    // Replace: the new table swapped in, whatever was there before.
    assert_eq!(
        mysql(&format!(
            "select customer_id, name, orders, total from {}.customer_totals order by 1",
            db.0
        )),
        "10\tAda\t1\t25.5\n11\tGrace\t1\t100\n"
    );
    // Upsert: order 1 updated, order 3 added, order 99 (not in the model) kept.
    assert_eq!(
        mysql(&format!(
            "select id, status, ordered_at from {}.orders order by id",
            db.0
        )),
        "1\tcompleted\t2026-01-02 10:00:00.000000\n3\tcompleted\t2026-01-04 09:15:00.000000\n99\tkept\tNULL\n"
    );
    // Append: created on first use, then added to.
    p.run(&["run", "-s", "stg_orders"]).ok();
    assert_eq!(
        mysql(&format!(
            "select id, count(*) from {}.orders_log group by id order by id",
            db.0
        )),
        "1\t2\n3\t2\n"
    );
    assert_eq!(
        mysql(&format!(
            "select id, status from {}.orders order by id",
            db.0
        )),
        "1\tcompleted\n3\tcompleted\n99\tkept\n"
    );
    let staging = || {
        mysql(&format!(
            "select count(*) from information_schema.tables where table_schema = '{}' and (table_name like '%stage%' or table_name like '%lakeforge_old%')",
            db.0
        ))
    };
    assert_eq!(staging(), "0\n");

    // An append whose columns do not fit, and an upsert on a table without a key on
    // unique_key, fail and leave their destinations as they were.
    for (export, table, kept, message) in [
        (
            "{type: mysql, connection: app, table: wrong, mode: append}",
            "wrong",
            "7\n",
            "Unknown column",
        ),
        (
            "{type: mysql, connection: app, table: no_key, mode: upsert, unique_key: id}",
            "no_key",
            "1\told\n",
            "has no PRIMARY KEY or UNIQUE index on (id)",
        ),
    ] {
        p.write(
            "models/exports.yml",
            &format!(
                "version: 2\nmodels:\n  - name: stg_orders\n    config:\n      export: {export}\n"
            ),
        );
        let run = p.run(&["run", "-s", "stg_orders"]);
        assert_eq!(run.code, 1, "{}", run.stdout);
        assert!(
            run.stdout.contains(message)
                && run.stdout.contains("the destination was left as it was")
                && run
                    .stdout
                    .contains("(the table main.stg_orders itself was committed"),
            "{}",
            run.stdout
        );
        assert_eq!(
            mysql(&format!("select * from {}.{table}", db.0)),
            kept,
            "{table} changed"
        );
        assert_eq!(staging(), "0\n");
    }

    // A MySQL export pointed at a PostgreSQL connection is refused before anything runs.
    p.write(
        "models/exports.yml",
        "version: 2\nmodels:\n  - name: stg_orders\n    config:\n      export: {type: mysql, connection: other, table: t}\n",
    );
    let run = p.run(&["run", "-s", "stg_orders"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout
            .contains("a mysql export cannot write to connection `other`, a `postgres://` URL"),
        "{}",
        run.stdout
    );
}
