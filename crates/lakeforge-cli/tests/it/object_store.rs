//! Object storage end to end, against real servers on loopback: moto's S3 server and Azurite
//! (Azure Blob), each started by the test on a free port and filled through its API (boto3 and
//! azure-storage-blob from the test venv). A project reads its sources from a bucket or a
//! container, exports its model back there, and bad input (a missing bucket, no object,
//! wrong credentials) is a clear error naming the source that writes nothing. The servers
//! come from `scripts/setup-test-env`; a test whose server cannot start fails, saying so.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{Project, Run};

const SETUP_HINT: &str = "hint: run scripts/setup-test-env (it installs moto[server], boto3 and azure-storage-blob into its venv and Azurite into its tools, under ~/.cache/lakeforge-test-env)";

/// Azurite's well-known development account (public, from Azure's documentation).
const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

use crate::common::{free_port, test_tools as tools, test_venv as venv};

/// A server process, killed on drop.
struct Server {
    child: Child,
    port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start(name: &str, program: PathBuf, args: &[String], env: &[(&str, &str)]) -> Server {
        assert!(
            program.exists(),
            "{name} is not installed at {}\n{SETUP_HINT}",
            program.display()
        );
        let dir = tempfile::tempdir().unwrap();
        let port = args
            .iter()
            .find_map(|a| a.parse::<u16>().ok())
            .expect("the port is among the arguments");
        let log = dir.path().join("server.log");
        let out = std::fs::File::create(&log).unwrap();
        let mut command = Command::new(&program);
        command
            .args(args)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out);
        for (k, v) in env {
            command.env(k, v);
        }
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("{name} did not start: {e}\n{SETUP_HINT}"));
        let mut server = Server {
            child,
            port,
            log,
            _dir: dir,
        };
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!(
                    "{name} exited ({status}) before listening on port {port}:\n{}\n{SETUP_HINT}",
                    std::fs::read_to_string(&server.log).unwrap_or_default()
                );
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "{name} did not listen on port {port} within 60s:\n{}\n{SETUP_HINT}",
                std::fs::read_to_string(&server.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    /// moto's S3 server; only its first 3 requests (the IAM user's creation) go unchecked, so
    /// every later request needs that user's key.
    fn moto() -> Server {
        let port = free_port();
        Server::start(
            "moto_server",
            venv().join("bin/moto_server"),
            &[
                "-H".into(),
                "127.0.0.1".into(),
                "-p".into(),
                port.to_string(),
            ],
            &[("INITIAL_NO_AUTH_ACTION_COUNT", "3")],
        )
    }

    fn azurite() -> Server {
        let port = free_port();
        Server::start(
            "azurite-blob",
            tools().join("node_modules/.bin/azurite-blob"),
            &[
                "--blobHost".into(),
                "127.0.0.1".into(),
                "--blobPort".into(),
                port.to_string(),
                "--inMemoryPersistence".into(),
                "--skipApiVersionCheck".into(),
                "--disableTelemetry".into(),
            ],
            &[],
        )
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Run `script` with the venv's Python (argv[1..] = `args`); returns its stdout.
fn python(script: &str, args: &[&str]) -> String {
    let py = venv().join("bin/python");
    assert!(
        py.exists(),
        "no Python venv at {}\n{SETUP_HINT}",
        venv().display()
    );
    let out = Command::new(py)
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python failed:\n{}\n{SETUP_HINT}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Python that writes the test's files: `files()` gives (key, bytes) pairs.
const FILES_PY: &str = r#"
import io, pyarrow as pa, pyarrow.parquet as pq
def parquet(table):
    b = io.BytesIO(); pq.write_table(table, b); return b.getvalue()
def files():
    return [
        ("events/part-1.parquet", parquet(pa.table({"id": [1, 2, 3], "kind": ["a", "b", "a"], "amount": [1.5, 2.0, 3.5]}))),
        ("events/part-2.parquet", parquet(pa.table({"id": [4, 5], "kind": ["b", "c"], "amount": [10.0, 0.5]}))),
        ("events/README.txt", b"not data"),
        ("ref/kinds.csv", b"kind,label\na,Apples\nb,Bananas\nc,Cherries\n"),
    ]
"#;

/// Create an IAM user with a key (moto's first 3 unchecked requests), buckets `lf-data` and
/// `lf-ref` with the files in each; prints the key id and secret.
const S3_SETUP_PY: &str = r#"
import sys, boto3
ep = sys.argv[1]
iam = boto3.client("iam", endpoint_url=ep, region_name="us-east-1", aws_access_key_id="setup", aws_secret_access_key="setup")
iam.create_user(UserName="lf")
iam.put_user_policy(UserName="lf", PolicyName="all", PolicyDocument='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}')
k = iam.create_access_key(UserName="lf")["AccessKey"]
s3 = boto3.client("s3", endpoint_url=ep, region_name="us-east-1", aws_access_key_id=k["AccessKeyId"], aws_secret_access_key=k["SecretAccessKey"])
for bucket in ["lf-data", "lf-ref"]:
    s3.create_bucket(Bucket=bucket)
    for key, body in files():
        s3.put_object(Bucket=bucket, Key=key, Body=body)
print(k["AccessKeyId"], k["SecretAccessKey"])
"#;

/// argv: endpoint, key id, secret, then a command: `list BUCKET PREFIX` prints the keys under
/// it, `get BUCKET KEY` prints an object, `put BUCKET KEY TEXT` writes one.
const S3_CLIENT_PY: &str = r#"
import sys, boto3, json
ep, kid, secret, cmd, bucket = sys.argv[1:6]
s3 = boto3.client("s3", endpoint_url=ep, region_name="us-east-1", aws_access_key_id=kid, aws_secret_access_key=secret)
if cmd == "list":
    r = s3.list_objects_v2(Bucket=bucket, Prefix=sys.argv[6])
    print("\n".join(sorted(o["Key"] for o in r.get("Contents", []))))
elif cmd == "get":
    print(s3.get_object(Bucket=bucket, Key=sys.argv[6])["Body"].read().decode(), end="")
elif cmd == "put":
    s3.put_object(Bucket=bucket, Key=sys.argv[6], Body=sys.argv[7].encode())
elif cmd == "delta":
    # Another reader of the lake: the `deltalake` package, straight from the bucket.
    from deltalake import DeltaTable
    t = DeltaTable(f"s3://{bucket}/{sys.argv[6]}", storage_options={
        "AWS_ENDPOINT_URL": ep, "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": kid,
        "AWS_SECRET_ACCESS_KEY": secret, "AWS_ALLOW_HTTP": "true"})
    print(t.version(), t.to_pyarrow_table().num_rows, flush=True)
    # The package's native threads now and then abort the interpreter's teardown ("terminate
    # called without an active exception", seen once here), failing a check that passed: leave
    # without one.
    import os
    os._exit(0)
"#;

/// argv: connection string, then `setup` (containers `raw` and `ref` with the files),
/// `list CONTAINER PREFIX` or `get CONTAINER KEY`.
const AZURE_PY: &str = r#"
import sys
from azure.storage.blob import BlobServiceClient
c = BlobServiceClient.from_connection_string(sys.argv[1])
cmd = sys.argv[2]
if cmd == "setup":
    for container in ["raw", "ref"]:
        c.create_container(container)
        for key, body in files():
            c.get_blob_client(container, key).upload_blob(body)
elif cmd == "list":
    print("\n".join(sorted(b.name for b in c.get_container_client(sys.argv[3]).list_blobs(name_starts_with=sys.argv[4]))))
elif cmd == "get":
    print(c.get_blob_client(sys.argv[3], sys.argv[4]).download_blob().readall().decode(), end="")
"#;

struct S3 {
    server: Server,
    key_id: String,
    secret: String,
}

impl S3 {
    fn start() -> S3 {
        let server = Server::moto();
        let out = python(&format!("{FILES_PY}{S3_SETUP_PY}"), &[&server.endpoint()]);
        let mut it = out.split_whitespace();
        let (key_id, secret) = (
            it.next().unwrap().to_string(),
            it.next().unwrap().to_string(),
        );
        S3 {
            server,
            key_id,
            secret,
        }
    }

    fn client(&self, args: &[&str]) -> String {
        let ep = self.server.endpoint();
        let mut all = vec![ep.as_str(), &self.key_id, &self.secret];
        all.extend_from_slice(args);
        python(S3_CLIENT_PY, &all)
    }

    /// `lakeforge ARGS` in `p` with the S3 variables of the environment set.
    fn run(&self, p: &Project, args: &[&str]) -> Run {
        self.run_in(p.path(), args)
    }

    fn run_in(&self, dir: &std::path::Path, args: &[&str]) -> Run {
        let out = crate::common::lakeforge()
            .args(args)
            .current_dir(dir)
            .env("AWS_ENDPOINT_URL", self.server.endpoint())
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", &self.key_id)
            .env("AWS_SECRET_ACCESS_KEY", &self.secret)
            .env("LF_TEST_S3_KEY_ID", &self.key_id)
            .env("LF_TEST_S3_SECRET", &self.secret)
            .env("LF_TEST_S3_BAD_SECRET", "wrong-secret-0123456789")
            .output()
            .unwrap();
        crate::common::to_run(out)
    }
}

fn blank_project(lakeforge_yml: &str, sources_yml: &str) -> Project {
    let dir = tempfile::tempdir().unwrap();
    let p = Project { dir };
    p.write("dbt_project.yml", "name: objects\n");
    p.write("lakeforge.yml", lakeforge_yml);
    p.write("models/sources.yml", sources_yml);
    p
}

const BY_KIND_SQL: &str = "select e.kind, k.label, count(*) as n, sum(e.amount) as total\nfrom {{ source('raw', 'events') }} e join {{ source('raw', 'kinds') }} k on e.kind = k.kind\ngroup by e.kind, k.label\n";

const BY_KIND_ROWS: &str =
    "kind,label,n,total\na,Apples,2,5.0\nb,Bananas,2,12.0\nc,Cherries,1,0.5\n";

fn assert_output(run: &Run, needle: &str) {
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(all.contains(needle), "expected `{needle}` in:\n{all}");
}

#[test]
fn s3_sources_are_read_in_place_and_exports_land_in_the_bucket() {
    let s3 = S3::start();
    let ep = s3.server.endpoint();
    let p = blank_project(
        &format!(
            "connections:\n  minio:\n    type: s3\n    endpoint: \"{ep}\"\n    region: us-east-1\n    access_key_id: \"{{{{ env_var('LF_TEST_S3_KEY_ID') }}}}\"\n    secret_access_key: \"{{{{ env_var('LF_TEST_S3_SECRET') }}}}\"\n  wrong_key:\n    type: s3\n    endpoint: \"{ep}\"\n    access_key_id: \"{{{{ env_var('LF_TEST_S3_KEY_ID') }}}}\"\n    secret_access_key: \"{{{{ env_var('LF_TEST_S3_BAD_SECRET') }}}}\"\n"
        ),
        r#"version: 2
sources:
  - name: raw
    tables:
      - name: events
        external: {location: "s3://lf-data/events/*.parquet"}
      - name: kinds
        external: {location: "s3://lf-ref/ref/kinds.csv", connection: minio}
  - name: out
    tables:
      - name: by_kind
        external: {location: "s3://lf-ref/out/by_kind.parquet", connection: minio}
"#,
    );
    p.write("models/by_kind.sql", BY_KIND_SQL);
    p.write(
        "models/by_kind.yml",
        "version: 2\nmodels:\n  - name: by_kind\n    config:\n      export:\n        - {type: parquet, path: \"s3://lf-ref/out/by_kind.parquet\", connection: minio}\n        - {type: csv, path: \"s3://lf-data/out/by_kind.csv\"}\n",
    );
    let run = s3.run(&p, &["build", "-s", "by_kind"]).ok();
    assert!(
        run.stdout
            .contains("exported 3 rows to s3://lf-ref/out/by_kind.parquet"),
        "{}",
        run.stdout
    );
    let sql = |q: &str| s3.run(&p, &["sql", "--format", "csv", q]).ok().stdout;
    assert_eq!(
        sql("select kind, label, n, total from by_kind order by kind"),
        BY_KIND_ROWS
    );
    // The exported Parquet file, read back from the bucket as a source.
    assert_eq!(
        sql("select kind, label, n, total from out.by_kind order by kind"),
        BY_KIND_ROWS
    );
    // Only the destinations are left: no temporary object.
    assert_eq!(s3.client(&["list", "lf-data", "out/"]), "out/by_kind.csv\n");
    assert_eq!(
        s3.client(&["list", "lf-ref", "out/"]),
        "out/by_kind.parquet\n"
    );
    let csv = s3.client(&["get", "lf-data", "out/by_kind.csv"]);
    assert!(csv.starts_with("kind,label,n,total\n"), "{csv}");
    assert_eq!(csv.lines().count(), 4, "{csv}");

    // An export the store refuses fails naming its destination, hides the secret, and leaves
    // the destination as it was (the model's table itself is committed).
    s3.client(&["put", "lf-data", "out/plain.csv", "old,contents\n"]);
    p.write("models/plain.sql", "select 1 as x\n");
    p.write(
        "models/plain.yml",
        "version: 2\nmodels:\n  - name: plain\n    config:\n      export: {type: csv, path: \"s3://lf-data/out/plain.csv\", connection: wrong_key}\n",
    );
    let run = s3.run(&p, &["build", "-s", "plain"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_output(&run, "export of main.plain to s3://lf-data/out/plain.csv");
    assert_output(&run, "the destination was left as it was");
    assert_output(
        &run,
        "hint: the store refused the credentials: check the credentials of connection `wrong_key`",
    );
    assert!(
        !format!("{}{}", run.stdout, run.stderr).contains("wrong-secret-0123456789"),
        "the secret leaked:\n{}{}",
        run.stdout,
        run.stderr
    );
    assert_eq!(
        s3.client(&["get", "lf-data", "out/plain.csv"]),
        "old,contents\n"
    );
    assert_eq!(
        s3.client(&["list", "lf-data", "out/"]),
        "out/by_kind.csv\nout/plain.csv\n"
    );
}

#[test]
fn bad_s3_sources_are_errors_naming_the_source_and_nothing_is_written() {
    let s3 = S3::start();
    let ep = s3.server.endpoint();
    let p = blank_project(
        &format!(
            "connections:\n  wrong_key:\n    type: s3\n    endpoint: \"{ep}\"\n    access_key_id: \"{{{{ env_var('LF_TEST_S3_KEY_ID') }}}}\"\n    secret_access_key: \"{{{{ env_var('LF_TEST_S3_BAD_SECRET') }}}}\"\n"
        ),
        r#"version: 2
sources:
  - name: raw
    tables:
      - name: no_bucket
        external: {location: "s3://lf-missing/events/*.parquet"}
      - name: no_object
        external: {location: "s3://lf-data/nothing/*.parquet"}
      - name: refused
        external: {location: "s3://lf-ref/events/*.parquet", connection: wrong_key}
      - name: unknown_connection
        external: {location: "s3://lf-data/events/*.parquet", connection: nope}
"#,
    );
    for name in ["no_bucket", "no_object", "refused", "unknown_connection"] {
        p.write(
            &format!("models/from_{name}.sql"),
            &format!("select * from {{{{ source('raw', '{name}') }}}}\n"),
        );
    }
    let run = s3.run(&p, &["build"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_output(
        &run,
        "source('raw', 'no_bucket') at s3://lf-missing/events/*.parquet: ",
    );
    assert_output(&run, "hint: the bucket or container does not exist");
    assert_output(
        &run,
        "source('raw', 'no_object'): no files at s3://lf-data/nothing/*.parquet",
    );
    assert_output(
        &run,
        "source('raw', 'refused') at s3://lf-ref/events/*.parquet: ",
    );
    assert_output(
        &run,
        "hint: the store refused the credentials: check the credentials of connection `wrong_key` in lakeforge.yml",
    );
    assert_output(
        &run,
        "source('raw', 'unknown_connection'): connection `nope` is not an object-storage connection of lakeforge.yml (it has: wrong_key)",
    );
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(
        !all.contains("wrong-secret-0123456789"),
        "the secret leaked:\n{all}"
    );
    assert!(!all.contains(&s3.secret), "the secret leaked:\n{all}");
    for name in ["no_bucket", "no_object", "refused", "unknown_connection"] {
        assert!(
            !p.path().join(format!("lake/main/from_{name}")).exists(),
            "from_{name} was written"
        );
    }
}

#[test]
fn azure_blob_sources_and_exports_through_azurite() {
    let az = Server::azurite();
    let ep = az.endpoint();
    let cs = format!(
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={AZURITE_KEY};BlobEndpoint={ep}/devstoreaccount1;"
    );
    python(&format!("{FILES_PY}{AZURE_PY}"), &[&cs, "setup"]);
    let p = blank_project(
        &format!(
            "connections:\n  azurite:\n    type: azure\n    use_emulator: true\n    endpoint: \"{ep}\"\n  wrong_key:\n    type: azure\n    account_name: devstoreaccount1\n    access_key: \"{{{{ env_var('LF_TEST_AZ_BAD_KEY') }}}}\"\n    endpoint: \"{ep}/devstoreaccount1\"\n"
        ),
        r#"version: 2
sources:
  - name: raw
    tables:
      - name: events
        external: {location: "az://raw/events/*.parquet"}
      - name: kinds
        external: {location: "az://ref/ref/kinds.csv", connection: azurite}
      - name: no_container
        external: {location: "az://missing/x/*.parquet", connection: azurite}
      - name: refused
        external: {location: "az://raw/events/*.parquet", connection: wrong_key}
  - name: out
    tables:
      - name: by_kind
        external: {location: "abfs://ref/out/by_kind.parquet", connection: azurite}
"#,
    );
    p.write("models/by_kind.sql", BY_KIND_SQL);
    p.write(
        "models/by_kind.yml",
        "version: 2\nmodels:\n  - name: by_kind\n    config:\n      export:\n        - {type: parquet, path: \"az://ref/out/by_kind.parquet\", connection: azurite}\n        - {type: csv, path: \"az://raw/out/by_kind.csv\"}\n",
    );
    p.write(
        "models/from_no_container.sql",
        "select * from {{ source('raw', 'no_container') }}\n",
    );
    p.write(
        "models/from_refused.sql",
        "select * from {{ source('raw', 'refused') }}\n",
    );
    // `events` and the CSV export use the environment's connection string.
    let bad_key = "d3Jvbmcta2V5LXRoYXQtaXMtbm90LXRoZS1hY2NvdW50cw==";
    let lf = |args: &[&str]| {
        let out = p
            .command(args)
            .env("AZURE_STORAGE_CONNECTION_STRING", &cs)
            .env("LF_TEST_AZ_BAD_KEY", bad_key)
            .output()
            .unwrap();
        crate::common::to_run(out)
    };
    lf(&["build", "-s", "by_kind"]).ok();
    let sql = |q: &str| lf(&["sql", "--format", "csv", q]).ok().stdout;
    assert_eq!(
        sql("select kind, label, n, total from by_kind order by kind"),
        BY_KIND_ROWS
    );
    assert_eq!(
        sql("select kind, label, n, total from out.by_kind order by kind"),
        BY_KIND_ROWS
    );
    let azure = |args: &[&str]| {
        let mut all = vec![cs.as_str()];
        all.extend_from_slice(args);
        python(&format!("{FILES_PY}{AZURE_PY}"), &all)
    };
    assert_eq!(azure(&["list", "raw", "out/"]), "out/by_kind.csv\n");
    assert_eq!(azure(&["list", "ref", "out/"]), "out/by_kind.parquet\n");
    assert!(azure(&["get", "raw", "out/by_kind.csv"]).starts_with("kind,label,n,total\n"));

    // A missing container and a wrong key: errors naming the source; nothing written.
    let run = lf(&["build", "-s", "from_no_container", "from_refused"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_output(
        &run,
        "source('raw', 'no_container') at az://missing/x/*.parquet: ",
    );
    assert_output(&run, "hint: the bucket or container does not exist");
    assert_output(
        &run,
        "source('raw', 'refused') at az://raw/events/*.parquet: ",
    );
    assert_output(
        &run,
        "hint: the store refused the credentials: check the credentials of connection `wrong_key`",
    );
    assert!(!format!("{}{}", run.stdout, run.stderr).contains(bad_key));
    for name in ["from_no_container", "from_refused"] {
        assert!(
            !p.path().join(format!("lake/main/{name}")).exists(),
            "{name} was written"
        );
    }

    // The same project with its lake in a container: a view, a table and its second commit
    // are blobs there.
    let settings = std::fs::read_to_string(p.path().join("lakeforge.yml")).unwrap();
    p.write(
        "lakeforge.yml",
        &format!("lake: az://ref/lake\nlake_connection: azurite\n{settings}"),
    );
    p.write(
        "models/kinds.sql",
        "{{ config(materialized='table') }}\nselect kind from {{ ref('by_kind') }}\n",
    );
    lf(&["build", "-s", "by_kind", "kinds"]).ok();
    lf(&["build", "-s", "kinds"]).ok();
    assert_eq!(sql("select count(*) as n from kinds"), "n\n3\n");
    let blobs = azure(&["list", "ref", "lake/"]);
    for key in [
        "lake/main/kinds/_delta_log/00000000000000000001.json",
        "lake/main/by_kind.view.sql",
    ] {
        assert!(blobs.lines().any(|l| l == key), "no {key} in:\n{blobs}");
    }
}

/// The whole demo project with its lake in a bucket: seeds, views, tables, an incremental
/// model, tests, the ML model's files and the scores are all objects in S3, the local `lake/`
/// folder holds only the metadata store, and another reader (the `deltalake` package) reads
/// the tables from the bucket.
#[test]
fn a_whole_project_lives_in_an_s3_bucket() {
    let s3 = S3::start();
    let ep = s3.server.endpoint();
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    let out = crate::common::lakeforge()
        .args(["init", demo.to_str().unwrap(), "--orders", "500"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(
        demo.join("lakeforge.yml"),
        format!(
            "lake: s3://lf-ref/lakes/shop\nlake_connection: minio\nconnections:\n  minio:\n    type: s3\n    endpoint: \"{ep}\"\n    region: us-east-1\n    access_key_id: \"{{{{ env_var('LF_TEST_S3_KEY_ID') }}}}\"\n    secret_access_key: \"{{{{ env_var('LF_TEST_S3_SECRET') }}}}\"\n"
        ),
    )
    .unwrap();
    std::fs::write(
        demo.join("models/marts/order_log.sql"),
        "{{ config(materialized='incremental', unique_key='order_id') }}\nselect order_id, status from {{ ref('orders') }}\n{% if is_incremental() %}where order_id > (select max(order_id) - 10 from {{ this }}){% endif %}\n",
    )
    .unwrap();

    let run = s3.run_in(&demo, &["build"]).ok();
    assert!(run.stdout.contains("ERROR=0 SKIP=0"), "{}", run.stdout);
    assert!(
        run.stdout.contains("version 1 → production"),
        "{}",
        run.stdout
    );
    let sql = |q: &str| s3.run_in(&demo, &["sql", "--format", "csv", q]).ok().stdout;
    assert_eq!(
        sql("select count(*) as n, sum(number_of_orders) as orders from customers"),
        "n,orders\n50,474\n"
    );
    assert_eq!(
        sql("select count(predicted_value) as n from customer_value_scores"),
        "n\n50\n"
    );
    // A view (stored SQL) and the incremental model's second run, which merges 10 rows.
    assert_eq!(
        sql("select count(*) as n from stg_payments"),
        sql("select count(*) as n from raw_payments")
    );
    let run = s3.run_in(&demo, &["build", "-s", "order_log"]).ok();
    assert!(run.stdout.contains("MERGE"), "{}", run.stdout);
    assert_eq!(sql("select count(*) as n from order_log"), "n\n500\n");

    // Everything is in the bucket; the local folder holds the metadata store only.
    let objects = s3.client(&["list", "lf-ref", "lakes/shop/"]);
    for key in [
        "lakes/shop/main/customers/_delta_log/00000000000000000000.json",
        "lakes/shop/main/order_log/_delta_log/00000000000000000001.json",
        "lakes/shop/main/raw_orders/_delta_log/00000000000000000000.json",
        "lakes/shop/main/stg_payments.view.sql",
    ] {
        assert!(objects.lines().any(|l| l == key), "no {key} in:\n{objects}");
    }
    assert!(
        objects
            .lines()
            .any(|l| l.starts_with("lakes/shop/_models/customer_value/")
                && l.ends_with("/model.lfm")),
        "{objects}"
    );
    let local: Vec<String> = std::fs::read_dir(demo.join("lake"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with("_lakeforge.db"))
        .collect();
    assert!(local.is_empty(), "local lake folder holds {local:?}");

    // The model file is read back from the bucket, and the training table time-travels there.
    let run = s3
        .run_in(&demo, &["models", "reproduce", "customer_value", "1"])
        .ok();
    assert!(
        run.stdout.contains("reproduced byte for byte"),
        "{}\n{}",
        run.stdout,
        run.stderr
    );

    // A view that becomes a table and back: the bucket ends with exactly one of them.
    std::fs::write(
        demo.join("models/staging/stg_payments.sql"),
        format!(
            "{{{{ config(materialized='table') }}}}\n{}",
            std::fs::read_to_string(demo.join("models/staging/stg_payments.sql")).unwrap()
        ),
    )
    .unwrap();
    s3.run_in(&demo, &["build", "-s", "stg_payments"]).ok();
    let objects = s3.client(&["list", "lf-ref", "lakes/shop/main/stg_payments"]);
    assert!(!objects.contains("stg_payments.view.sql"), "{objects}");
    assert!(objects.contains("stg_payments/_delta_log/"), "{objects}");

    // Another reader finds the same table in the bucket.
    assert_eq!(
        s3.client(&["delta", "lf-ref", "lakes/shop/main/customers"]),
        "0 50\n"
    );
}
