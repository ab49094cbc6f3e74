//! Sources that live in databases: tables of the machine's real PostgreSQL and MariaDB and of a
//! SQLite file, read by models with filter and projection pushdown; incremental extraction
//! that reads only the rows past the watermark (counted by PostgreSQL itself); and the errors
//! of an unreachable server, a wrong password and a missing table.

use crate::common::Project;

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}_{}_{nanos}", std::process::id())
}

/// Run SQL with psql on database `db`; returns its unaligned output.
fn psql(db: &str, sql: &str) -> String {
    let out = std::process::Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            db,
            "-v",
            "ON_ERROR_STOP=1",
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

/// A PostgreSQL database of the test's own, dropped at the end.
struct PgDb(String);

impl PgDb {
    fn new() -> PgDb {
        let name = unique("lf_src");
        psql("test", &format!("create database {name}"));
        PgDb(name)
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:5432/{}", self.0)
    }

    fn sql(&self, sql: &str) -> String {
        psql(&self.0, sql)
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        psql(
            "test",
            &format!("drop database if exists {} with (force)", self.0),
        );
    }
}

/// A MariaDB database of the test's own, dropped at the end.
struct MyDb(String);

impl MyDb {
    fn new() -> MyDb {
        let name = unique("lf_src");
        mysql(&format!("create database {name}"));
        MyDb(name)
    }
}

impl Drop for MyDb {
    fn drop(&mut self) {
        mysql(&format!("drop database if exists {}", self.0));
    }
}

/// An empty project: dbt_project.yml and the given lakeforge.yml.
fn project(lakeforge_yml: &str) -> Project {
    let p = Project {
        dir: tempfile::tempdir().unwrap(),
    };
    p.write(
        "dbt_project.yml",
        "name: dbsrc\nmodels:\n  dbsrc:\n    +materialized: table\n",
    );
    p.write("lakeforge.yml", lakeforge_yml);
    p
}

#[test]
fn models_read_postgres_mariadb_and_sqlite_tables_in_place() {
    let pg = PgDb::new();
    let my = MyDb::new();
    pg.sql(
        "create table orders (id int primary key, customer_id int, amount numeric(10,2), status text);
         insert into orders values (1, 10, 25.50, 'paid'), (2, 11, 100.00, 'paid'), (3, 10, 7.25, 'cancelled'), (4, 12, 40.00, 'paid');
         create view paid_orders as select * from orders where status = 'paid';
         create table deliveries (id int, loaded_at timestamp);
         insert into deliveries values (1, now() at time zone 'utc' - interval '3 hours');",
    );
    mysql(&format!(
        "create table {0}.customers (id int primary key, name varchar(50), country char(2));
         insert into {0}.customers values (10, 'Ada', 'FR'), (11, 'Grace', 'US'), (12, 'Linus', 'FI');",
        my.0
    ));
    let p = project(&format!(
        "connections:\n  shop_pg: \"{}\"\n  crm: {{url: \"mysql://root@127.0.0.1:3306/{}\"}}\n  rates: sqlite://data/rates.db\n",
        pg.url(),
        my.0
    ));
    std::fs::create_dir_all(p.path().join("data")).unwrap();
    let sqlite = std::process::Command::new("sqlite3")
        .arg(p.path().join("data/rates.db"))
        .arg("create table vat (country text, rate real); insert into vat values ('FR', 0.2), ('US', 0.0), ('FI', 0.255);")
        .status()
        .expect("sqlite3 runs");
    assert!(sqlite.success());
    p.write(
        "models/sources.yml",
        r#"version: 2
sources:
  - name: shop
    config: {connection: shop_pg}
    schema: public
    tables:
      - name: orders
      - name: paid
        identifier: paid_orders
      - name: deliveries
        loaded_at_field: loaded_at
        freshness: {warn_after: {count: 1, period: hour}, error_after: {count: 1, period: day}}
  - name: crm
    connection: crm
    tables:
      - name: customers
  - name: finance
    tables:
      - name: vat
        connection: rates
"#,
    );
    p.write(
        "models/customer_totals.sql",
        "select c.name, c.country, sum(o.amount) as total, max(v.rate) as vat
from {{ source('shop', 'paid') }} o
join {{ source('crm', 'customers') }} c on c.id = o.customer_id
join {{ source('finance', 'vat') }} v on v.country = c.country
group by c.name, c.country
",
    );
    p.run(&["build"]).ok();
    assert_eq!(
        p.sql("select name, country, cast(total as double) as total, vat from main.customer_totals order by name"),
        "name,country,total,vat\nAda,FR,25.5,0.2\nGrace,US,100.0,0.0\nLinus,FI,40.0,0.255\n"
    );
    // In Lakeforge's SQL a database table is `source_name.table`.
    assert_eq!(
        p.sql("select count(*) as n from shop.orders where status = 'cancelled'"),
        "n\n1\n"
    );

    // The filter and the columns go to the database inside its SELECT.
    let explain = |query: &str| p.run(&["sql", query]).ok().stdout;
    let plan = explain("explain select name from crm.customers where country = 'FR'");
    let remote = plan
        .lines()
        .find(|l| l.contains("SQLExec sql="))
        .unwrap_or_else(|| panic!("no remote SQL in the plan:\n{plan}"));
    assert!(
        remote.contains("WHERE") && remote.contains("'FR'") && remote.contains("`name`"),
        "{plan}"
    );
    assert!(
        !remote.contains("`id`"),
        "only the columns the query needs: {plan}"
    );
    let plan = explain("explain select id from shop.orders where amount > 30");
    assert!(
        plan.contains("SqlExec sql=SELECT \"orders\".\"id\"")
            || plan.contains("SqlExec sql=SELECT \"id\""),
        "{plan}"
    );
    assert!(plan.contains("WHERE") && plan.contains("30"), "{plan}");
    let plan = explain("explain select country from finance.vat where rate > 0.1");
    assert!(
        plan.contains("SqlExec sql=") && plan.contains("WHERE"),
        "{plan}"
    );

    // Source freshness reads the newest row from the database too.
    let fresh = p.run(&["source", "freshness"]).ok().stdout;
    assert!(
        fresh
            .lines()
            .any(|l| l.starts_with("| shop.deliveries ") && l.contains("| warn ")),
        "{fresh}"
    );
}

#[test]
fn incremental_models_read_only_the_rows_past_their_watermark() {
    let pg = PgDb::new();
    // The source is a view that draws a number from a sequence for every row it hands out, so
    // PostgreSQL itself counts the rows a query reads. A filter pushed into the view's scan
    // keeps the count to the rows that pass it; without pushdown every row is counted.
    pg.sql(
        "create table events (id int primary key, amount int, updated_at timestamp);
         insert into events select g, g * 10, timestamp '2026-01-01' + g * interval '1 minute' from generate_series(1, 100) g;
         create sequence events_read;
         create view events_feed as select id, amount, updated_at, nextval('events_read') as read_no from events;",
    );
    let rows_read = || -> i64 {
        pg.sql("select case when is_called then last_value else 0 end from events_read")
            .trim()
            .parse()
            .unwrap()
    };
    let p = project(&format!("connections:\n  app: \"{}\"\n", pg.url()));
    p.write(
        "models/sources.yml",
        "version: 2\nsources:\n  - name: app\n    connection: app\n    tables:\n      - name: events\n        identifier: events_feed\n",
    );
    p.write(
        "models/events_copy.sql",
        "{{ config(materialized='incremental', unique_key='id') }}
select id, amount, updated_at from {{ source('app', 'events') }}
{% if is_incremental() %}
where updated_at > (select max(updated_at) from {{ this }})
{% endif %}
",
    );
    p.run(&["build"]).ok();
    assert_eq!(rows_read(), 100);
    assert_eq!(
        p.sql("select count(*) as n, max(id) as last from main.events_copy"),
        "n,last\n100,100\n"
    );

    pg.sql(
        "insert into events select g, g * 10, timestamp '2026-01-01' + g * interval '1 minute' from generate_series(101, 105) g",
    );
    let before = rows_read();
    p.run(&["build"]).ok();
    assert_eq!(
        rows_read() - before,
        5,
        "the second run must read only the 5 new rows"
    );
    assert_eq!(
        p.sql("select count(*) as n, count(distinct id) as ids, min(id) as first, max(id) as last from main.events_copy"),
        "n,ids,first,last\n105,105,1,105\n"
    );

    // Nothing new: nothing read, nothing added.
    let before = rows_read();
    p.run(&["build"]).ok();
    assert_eq!(rows_read() - before, 0);
    assert_eq!(
        p.sql("select count(*) as n from main.events_copy"),
        "n\n105\n"
    );

    // The watermark reaches the database as a value inside the remote WHERE.
    let plan = p
        .run(&[
            "sql",
            "explain select id from app.events where updated_at > (select max(updated_at) from main.events_copy)",
        ])
        .ok()
        .stdout;
    let remote = plan
        .lines()
        .find(|l| l.contains("SqlExec sql="))
        .unwrap_or_else(|| panic!("no remote SQL in the plan:\n{plan}"));
    assert!(
        remote.contains("WHERE") && remote.contains("2026-01-01") && remote.contains("01:45:00"),
        "{plan}"
    );
}

/// Whether the model's table exists in the lake.
fn written(p: &Project, model: &str) -> bool {
    p.path()
        .join(format!("lake/main/{model}/_delta_log"))
        .exists()
}

#[test]
fn unreachable_servers_wrong_passwords_and_missing_tables_name_the_source() {
    let pg = PgDb::new();
    pg.sql("create table orders (id int, amount int); insert into orders values (1, 5);");
    // A view that fails only once rows are read: its error comes mid-query, not at open.
    pg.sql("create view ratios as select id, 10 / (id - 1) as ratio from orders;");
    // A port with nothing listening.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    // A MariaDB user with a password, and a URL with another one.
    let user = unique("lf_user");
    mysql(&format!(
        "create user '{user}'@'%' identified by 'right-pw-123'; create user '{user}'@'localhost' identified by 'right-pw-123'"
    ));
    struct DropUser(String);
    impl Drop for DropUser {
        fn drop(&mut self) {
            mysql(&format!(
                "drop user if exists '{0}'@'%'; drop user if exists '{0}'@'localhost'",
                self.0
            ));
        }
    }
    let _user = DropUser(user.clone());
    let p = project(&format!(
        "connections:\n  down: \"postgres://postgres@127.0.0.1:{closed}/test\"\n  crm: \"mysql://{user}:{{{{ env_var('LF_TEST_CRM_PASSWORD', 'unset') }}}}@127.0.0.1:3306/test\"\n  shop: \"{}\"\n  lite: sqlite://data/missing.db\n",
        pg.url()
    ));
    p.write(
        "models/sources.yml",
        r#"version: 2
sources:
  - name: legacy
    connection: down
    tables: [{name: orders}]
  - name: crm
    connection: crm
    tables: [{name: customers}]
  - name: shop
    connection: shop
    schema: public
    tables: [{name: orders}, {name: refunds}, {name: ratios}]
  - name: lite
    connection: lite
    tables: [{name: rates}]
"#,
    );
    for (model, source) in [
        ("from_down", "legacy.orders"),
        ("from_crm", "crm.customers"),
        ("from_missing", "shop.refunds"),
        ("from_lite", "lite.rates"),
        ("from_ratios", "shop.ratios"),
    ] {
        let (s, t) = source.split_once('.').unwrap();
        p.write(
            &format!("models/{model}.sql"),
            &format!("select * from {{{{ source('{s}', '{t}') }}}}\n"),
        );
    }
    let run = |model: &str| {
        let out = p
            .command(&["build", "-s", model])
            .env("LF_TEST_CRM_PASSWORD", "wrong-pw-456")
            .output()
            .unwrap();
        crate::common::to_run(out)
    };

    let r = run("from_down");
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stdout.contains(&format!(
            "source legacy.orders: cannot reach the database of connection `down` (postgres at 127.0.0.1:{closed}, database test, user postgres)"
        )) && r.stdout.contains("hint: check that the server is running"),
        "{}",
        r.stdout
    );
    assert!(!written(&p, "from_down"));

    let r = run("from_crm");
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stdout.contains("source crm.customers: the database of connection `crm` refused the login: wrong user name or password")
            && r.stdout.contains("hint: check the user and password of connection `crm`"),
        "{}",
        r.stdout
    );
    assert!(
        !r.stdout.contains("wrong-pw-456") && !r.stderr.contains("wrong-pw-456"),
        "the password leaked:\n{}{}",
        r.stdout,
        r.stderr
    );
    assert!(!written(&p, "from_crm"));

    let r = run("from_missing");
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stdout.contains("source shop.refunds: table `public.refunds` does not exist in the database of connection `shop`")
            && r.stdout.contains("hint: check `schema:` and `identifier:`")
            && r.stdout.contains("models/sources.yml"),
        "{}",
        r.stdout
    );
    assert!(!written(&p, "from_missing"));

    let r = run("from_lite");
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stdout
            .contains("source lite.rates: connection `lite` names the SQLite file")
            && r.stdout.contains("data/missing.db, which does not exist")
            && r.stdout.contains("hint: fix the path of connection `lite`"),
        "{}",
        r.stdout
    );
    assert!(
        !p.path().join("data/missing.db").exists(),
        "reading must not create the file"
    );
    assert!(!written(&p, "from_lite"));

    let r = run("from_ratios");
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stdout.contains("source shop.ratios: reading table `public.ratios` of connection `shop` (postgres at 127.0.0.1:5432")
            && r.stdout.contains("failed while reading rows")
            && r.stdout.contains("division by zero")
            && r.stdout.contains("hint: check that the database is up"),
        "{}",
        r.stdout
    );
    assert!(!written(&p, "from_ratios"));

    // The table that does exist still reads, beside the broken ones.
    p.write(
        "models/from_shop.sql",
        "select * from {{ source('shop', 'orders') }}\n",
    );
    let r = run("from_shop");
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(
        p.sql("select id, amount from main.from_shop"),
        "id,amount\n1,5\n"
    );

    // A connection that is not declared is caught when the project loads.
    p.write(
        "models/sources.yml",
        "version: 2\nsources:\n  - name: legacy\n    connection: old_erp\n    tables: [{name: orders}]\n",
    );
    let r = p.run(&["ls"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("models/sources.yml: source `legacy.orders`: connection `old_erp` is not in lakeforge.yml's `connections:` nor a database output of profiles.yml (known: crm, down, lite, shop)\nhint: "),
        "{}",
        r.stderr
    );
}

/// Connections named in profiles.yml, as dbt users already have them: a postgres output and
/// a mysql output (with dbt's key names and the password from env_var) are connections the
/// sources name, beside the lake's own target output.
#[test]
fn database_outputs_of_profiles_yml_are_connections() {
    let pg = PgDb::new();
    let my = MyDb::new();
    pg.sql("create table orders (id int, customer_id int); insert into orders values (1, 10), (2, 10), (3, 11);");
    mysql(&format!(
        "create table {0}.customers (id int, name varchar(50)); insert into {0}.customers values (10, 'Ada'), (11, 'Grace');",
        my.0
    ));
    let p = project("");
    p.write(
        "profiles.yml",
        &format!(
            "dbsrc:\n  target: dev\n  outputs:\n    dev: {{type: duckdb, path: dev.duckdb, schema: main}}\n    app_pg:\n      type: postgres\n      host: 127.0.0.1\n      port: 5432\n      user: postgres\n      pass: \"{{{{ env_var('LF_TEST_PG_PASSWORD') }}}}\"\n      dbname: {}\n      schema: public\n    crm:\n      type: mysql\n      server: 127.0.0.1\n      username: root\n      database: {}\n",
            pg.0, my.0
        ),
    );
    p.write(
        "models/sources.yml",
        "version: 2\nsources:\n  - name: app\n    connection: app_pg\n    schema: public\n    tables: [{name: orders}]\n  - name: crm\n    connection: crm\n    tables: [{name: customers}]\n",
    );
    p.write(
        "models/orders_by_name.sql",
        "select c.name, count(*) as n from {{ source('app', 'orders') }} o join {{ source('crm', 'customers') }} c on c.id = o.customer_id group by c.name\n",
    );
    let run = |args: &[&str]| {
        let out = p
            .command(args)
            .env("LF_TEST_PG_PASSWORD", "not-checked-by-trust-auth")
            .output()
            .unwrap();
        crate::common::to_run(out).ok()
    };
    run(&["build"]);
    assert_eq!(
        run(&[
            "sql",
            "--format",
            "csv",
            "select name, n from orders_by_name order by name"
        ])
        .stdout,
        "name,n\nAda,2\nGrace,1\n"
    );
    // Lineage says where each source is read from, and traces columns into it.
    let lineage = run(&["lineage", "orders_by_name", "-c", "name"]).stdout;
    assert!(
        lineage.contains("read in place from mysql table customers of connection `crm`"),
        "{lineage}"
    );
    assert!(lineage.contains("crm.customers.name"), "{lineage}");
    // An incomplete output is an error naming it.
    p.write(
        "profiles.yml",
        "dbsrc:\n  target: dev\n  outputs:\n    dev: {type: duckdb}\n    app_pg: {type: postgres, host: 127.0.0.1}\n",
    );
    let r = p.run(&["build"]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(
        r.stderr.contains(
            "profile `dbsrc`, output `app_pg`: a postgres output needs `dbname:` (or `database:`)"
        ),
        "{}",
        r.stderr
    );
}
