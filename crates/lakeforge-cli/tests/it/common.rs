//! Helpers: copy a fixture project to a temp folder, run the binary, normalize output.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct Project {
    pub dir: tempfile::TempDir,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn ok(self) -> Run {
        assert_eq!(
            self.code, 0,
            "command failed\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

pub fn fixture_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

impl Project {
    pub fn fixture(name: &str) -> Project {
        Project::copy_of(&fixture_dir(name))
    }

    /// A copy of the project folder `from` (e.g. another crate's fixture).
    pub fn copy_of(from: &Path) -> Project {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(from, dir.path());
        Project { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, rel: &str, content: &str) {
        let p = self.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }

    pub fn run(&self, args: &[&str]) -> Run {
        let out = self.command(args).output().unwrap();
        to_run(out)
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = lakeforge();
        c.args(args).current_dir(self.path());
        c
    }

    /// The entry of `target/run_results.json` for one node.
    pub fn run_result(&self, unique_id: &str) -> serde_json::Value {
        let text = std::fs::read_to_string(self.path().join("target/run_results.json")).unwrap();
        let results: serde_json::Value = serde_json::from_str(&text).unwrap();
        results["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["unique_id"] == unique_id)
            .unwrap_or_else(|| panic!("{unique_id} is not in run_results.json"))
            .clone()
    }

    /// Query the lake, returning CSV.
    pub fn sql(&self, query: &str) -> String {
        self.run(&["sql", "--format", "csv", query]).ok().stdout
    }
}

/// Where scripts/setup-test-env puts what the tests need beside Rust: outside the checkout, so
/// a fresh clone on the same machine (CI's) reuses it ($LAKEFORGE_TEST_ENV, default
/// ~/.cache/lakeforge-test-env).
fn test_env() -> PathBuf {
    std::env::var_os("LAKEFORGE_TEST_ENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/lakeforge-test-env")
        })
}

/// The Python venv of the tests ($LAKEFORGE_TEST_VENV, else `venv` of the test env).
pub fn test_venv() -> PathBuf {
    std::env::var_os("LAKEFORGE_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| test_env().join("venv"))
}

/// The npm tools of the tests, Azurite ($LAKEFORGE_TEST_TOOLS, else `tools` of the test env).
pub fn test_tools() -> PathBuf {
    std::env::var_os("LAKEFORGE_TEST_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| test_env().join("tools"))
}

pub fn lakeforge() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_lakeforge"));
    c.env_remove("LAKEFORGE_PROJECT_DIR")
        .env_remove("DBT_PROFILES_DIR")
        .env("NO_COLOR", "1");
    c
}

pub fn to_run(out: Output) -> Run {
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Replace what changes from run to run (timings, temp paths) so output can be snapshotted.
pub fn normalize(s: &str, project: &Project) -> String {
    let s = s.replace(
        &project.path().canonicalize().unwrap().display().to_string(),
        "[PROJECT]",
    );
    let s = s.replace(&project.path().display().to_string(), "[PROJECT]");
    let secs = regex::Regex::new(r"\d+\.\d+s\b").unwrap();
    let dots = regex::Regex::new(r" \.{3,} ").unwrap();
    let s = secs.replace_all(&s, "[T]s");
    dots.replace_all(&s, " ... ").into_owned()
}

/// A loopback port that was free a moment ago, for a server a test starts.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `lakeforge` process left running (a scheduler), whose output lines (stdout and stderr)
/// are collected as they come.
pub struct Background {
    pub child: std::process::Child,
    lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Background {
    pub fn spawn(project: &Project, args: &[&str]) -> Background {
        Background::start(project.command(args))
    }

    /// Start `command` (from [`Project::command`], with its environment as needed).
    pub fn start(mut command: Command) -> Background {
        use std::io::BufRead;
        let mut child = command
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let out: Box<dyn std::io::Read + Send> = Box::new(child.stdout.take().unwrap());
        let err: Box<dyn std::io::Read + Send> = Box::new(child.stderr.take().unwrap());
        for stream in [out, err] {
            let lines = lines.clone();
            std::thread::spawn(move || {
                for line in std::io::BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    lines.lock().unwrap().push(line);
                }
            });
        }
        Background { child, lines }
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The output so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    pub fn output(&self) -> String {
        self.lines().join("\n")
    }

    /// How many lines so far satisfy `pred`.
    pub fn count(&self, pred: impl Fn(&str) -> bool) -> usize {
        self.lines().iter().filter(|l| pred(l)).count()
    }

    /// Wait until at least `n` lines satisfy `pred`; panics, showing the output, after
    /// `timeout`.
    pub fn wait_for(&self, n: usize, timeout: std::time::Duration, pred: impl Fn(&str) -> bool) {
        let start = std::time::Instant::now();
        while self.count(&pred) < n {
            assert!(
                start.elapsed() < timeout,
                "waited {timeout:?} for {n} matching lines; output:\n{}",
                self.output()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// Send `signal` (`TERM`, `INT`) with kill(1).
    pub fn signal(&self, signal: &str) {
        let ok = Command::new("kill")
            .args([format!("-{signal}"), self.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{signal} {}", self.id());
    }

    /// Wait for the process to exit (at most `timeout`) and return its exit code.
    pub fn wait(&mut self, timeout: std::time::Duration) -> i32 {
        let start = std::time::Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Let the readers take the last lines.
                std::thread::sleep(std::time::Duration::from_millis(100));
                return status.code().unwrap_or(-1);
            }
            if start.elapsed() > timeout {
                let _ = self.child.kill();
                panic!(
                    "still running after {timeout:?}; output:\n{}",
                    self.output()
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
