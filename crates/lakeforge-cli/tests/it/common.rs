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
        let dir = tempfile::tempdir().unwrap();
        copy_dir(&fixture_dir(name), dir.path());
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
