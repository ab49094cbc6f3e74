//! `lakeforge deps` end to end, with every source real: a `local:` package (linked), `git:`
//! packages from a bare repository made with the `git` command (a tag, a branch, a commit, a
//! `subdirectory:`), and hub packages from a small HTTP server on loopback that serves the
//! hub's JSON index and tar.gz archives built with `tar` (one package pulling in another).
//! package-lock.yml is written, then honoured when the hub offers a newer version, until
//! `--upgrade`; an unreachable hub names the package and the URL; a corrupt archive fails
//! leaving the previous install and lock as they were.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::common::Project;

/// A project of its own in a temp folder, with `files` (path, content) besides
/// dbt_project.yml.
fn project(name: &str, files: &[(&str, &str)]) -> Project {
    let p = Project {
        dir: tempfile::tempdir().unwrap(),
    };
    p.write(
        "dbt_project.yml",
        &format!("name: {name}\nversion: '1.0'\nprofile: {name}\n"),
    );
    for (path, content) in files {
        p.write(path, content);
    }
    p
}

/// A dbt package folder: dbt_project.yml named `name` and a macro whose body is `marker`.
fn package(dir: &Path, name: &str, marker: &str) {
    std::fs::create_dir_all(dir.join("macros")).unwrap();
    std::fs::write(
        dir.join("dbt_project.yml"),
        format!("name: {name}\nversion: '1.0'\nconfig-version: 2\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join("macros/marker.sql"),
        format!("{{% macro {name}_marker() %}}{marker}{{% endmacro %}}\n"),
    )
    .unwrap();
}

/// A folder beside the project (named after it, so tests running at once never share one),
/// as `local: ../<name>` reaches it; removed when dropped.
struct Sibling {
    path: PathBuf,
    rel: String,
}

impl Sibling {
    fn new(p: &Project, suffix: &str) -> Sibling {
        let name = format!(
            "{}-{suffix}",
            p.path().file_name().unwrap().to_string_lossy()
        );
        Sibling {
            path: p.path().parent().unwrap().join(&name),
            rel: format!("../{name}"),
        }
    }
}

impl Drop for Sibling {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

fn marker(p: &Project, name: &str) -> String {
    let text = std::fs::read_to_string(
        p.path()
            .join("dbt_packages")
            .join(name)
            .join("macros/marker.sql"),
    )
    .unwrap_or_else(|e| panic!("{name} is not installed: {e}"));
    text.split("%}")
        .nth(1)
        .unwrap()
        .split("{%")
        .next()
        .unwrap()
        .to_string()
}

fn lock(p: &Project) -> String {
    std::fs::read_to_string(p.path().join("package-lock.yml")).unwrap()
}

fn deps(p: &Project, args: &[&str]) -> crate::common::Run {
    let mut all = vec!["deps"];
    all.extend_from_slice(args);
    p.run(&all)
}

#[test]
fn a_local_package_is_linked_and_locked() {
    let p = project("root", &[]);
    let shared = Sibling::new(&p, "shared");
    p.write(
        "packages.yml",
        &format!("packages:\n  - local: {}\n", shared.rel),
    );
    package(&shared.path, "shared_macros", "one");
    let run = deps(&p, &[]).ok();
    assert!(
        run.stdout.contains(&format!(
            "Installing shared_macros@local from local {} (linked)",
            shared.rel
        )),
        "{}",
        run.stdout
    );
    let installed = p.path().join("dbt_packages/shared_macros");
    assert!(
        std::fs::symlink_metadata(&installed)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(marker(&p, "shared_macros"), "one");
    let text = lock(&p);
    assert!(
        text.starts_with(&format!(
            "packages:\n  - local: {}\n    name: shared_macros\nsha1_hash: ",
            shared.rel
        )),
        "{text}"
    );

    // The lock matches: installed as it pins, and not rewritten.
    let run = deps(&p, &[]).ok();
    assert!(
        run.stdout
            .contains("Installing the versions package-lock.yml pins"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("Wrote"), "{}", run.stdout);
    assert_eq!(lock(&p), text);

    // Nothing declared: the install folder is emptied, as dbt empties it; the linked folder
    // itself is untouched.
    p.write("packages.yml", "packages: []\n");
    let run = deps(&p, &[]).ok();
    assert!(
        run.stdout.contains("No packages declared in packages.yml"),
        "{}",
        run.stdout
    );
    assert!(std::fs::symlink_metadata(&installed).is_err());
    assert!(shared.path.join("macros/marker.sql").is_file());
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A bare repository holding package `git_pkg` at its root and `inner_pkg` in
/// `nested/inner`: tag v1.0.0 (marker v1), then main (v2), then branch `feature` (v3).
/// Returns the URL and the SHAs of the three commits.
fn git_repository(dir: &Path) -> (String, [String; 3]) {
    let work = dir.join("work");
    std::fs::create_dir_all(&work).unwrap();
    git(&work, &["init", "--quiet", "--initial-branch=main"]);
    package(&work, "git_pkg", "v1");
    package(&work.join("nested/inner"), "inner_pkg", "inner v1");
    git(&work, &["add", "."]);
    git(&work, &["commit", "--quiet", "-m", "v1"]);
    git(&work, &["tag", "v1.0.0"]);
    let v1 = git(&work, &["rev-parse", "HEAD"]);
    package(&work, "git_pkg", "v2");
    package(&work.join("nested/inner"), "inner_pkg", "inner v2");
    git(&work, &["commit", "--quiet", "-am", "v2"]);
    let v2 = git(&work, &["rev-parse", "HEAD"]);
    git(&work, &["checkout", "--quiet", "-b", "feature"]);
    package(&work, "git_pkg", "v3");
    git(&work, &["commit", "--quiet", "-am", "v3"]);
    let v3 = git(&work, &["rev-parse", "HEAD"]);
    git(&work, &["checkout", "--quiet", "main"]);
    let bare = dir.join("repo.git");
    let out = Command::new("git")
        .args(["clone", "--quiet", "--bare"])
        .arg(&work)
        .arg(&bare)
        .output()
        .unwrap();
    assert!(out.status.success());
    (bare.display().to_string(), [v1, v2, v3])
}

#[test]
fn git_packages_at_a_tag_a_commit_a_branch_and_in_a_subdirectory() {
    let repos = tempfile::tempdir().unwrap();
    let (url, [v1, v2, v3]) = git_repository(repos.path());
    let p = project(
        "root",
        &[(
            "packages.yml",
            &format!(
                "packages:\n  - git: \"{url}\"\n    revision: v1.0.0\n  - git: \"{url}\"\n    revision: {v2}\n    subdirectory: nested/inner\n"
            ),
        )],
    );
    let run = deps(&p, &[]).ok();
    assert!(
        run.stdout.contains(&format!(
            "Installing git_pkg@{} from git {url}, revision v1.0.0",
            &v1[..7]
        )),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(&format!(
            "Installing inner_pkg@{} from git {url}, subdirectory nested/inner, revision {v2}",
            &v2[..7]
        )),
        "{}",
        run.stdout
    );
    assert!(!run.stderr.contains("warning"), "{}", run.stderr);
    assert_eq!(marker(&p, "git_pkg"), "v1");
    assert_eq!(marker(&p, "inner_pkg"), "inner v2");
    // A snapshot of the package, not a clone.
    assert!(!p.path().join("dbt_packages/git_pkg/.git").exists());
    let text = lock(&p);
    assert!(
        text.contains(&format!(
            "  - git: {url}\n    name: git_pkg\n    revision: {v1}\n"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("  - git: {url}\n    name: inner_pkg\n    revision: {v2}\n    subdirectory: nested/inner\n")),
        "{text}"
    );

    // A branch: the declaration changed, so it is resolved again, to the branch's commit.
    p.write(
        "packages.yml",
        &format!("packages:\n  - git: \"{url}\"\n    revision: feature\n"),
    );
    let run = deps(&p, &[]).ok();
    assert!(
        run.stdout.contains(
            "Resolving 1 declared package (packages.yml changed since package-lock.yml was written)"
        ),
        "{}",
        run.stdout
    );
    assert_eq!(marker(&p, "git_pkg"), "v3");
    assert!(lock(&p).contains(&format!("revision: {v3}")));
    // inner_pkg is no longer declared: its folder is gone.
    assert!(!p.path().join("dbt_packages/inner_pkg").exists());

    // No revision follows the default branch, with dbt's warning.
    p.write("packages.yml", &format!("packages:\n  - git: \"{url}\"\n"));
    let run = deps(&p, &[]).ok();
    assert!(
        run.stderr.contains(&format!(
            "warning: git package {url} is not pinned: it follows its default branch"
        )),
        "{}",
        run.stderr
    );
    assert_eq!(marker(&p, "git_pkg"), "v2");

    // A revision the repository lacks names the repository, and installs nothing.
    p.write(
        "packages.yml",
        &format!("packages:\n  - git: \"{url}\"\n    revision: v9\n"),
    );
    let run = deps(&p, &[]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr
            .contains(&format!("git checkout v9 failed for {url}")),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("no tag, branch or commit `v9`"),
        "{}",
        run.stderr
    );
    assert_eq!(marker(&p, "git_pkg"), "v2");
}

/// A tiny HTTP/1.1 file server on a free loopback port, serving the files under `root`
/// (GET only; 404 for anything missing). Stops when dropped.
struct FileServer {
    port: u16,
    stop: Arc<AtomicBool>,
}

impl FileServer {
    fn start(root: PathBuf) -> FileServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let root = root.clone();
                std::thread::spawn(move || serve(conn, &root));
            }
        });
        FileServer { port, stop }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn serve(mut conn: TcpStream, root: &Path) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut request = String::new();
    if reader.read_line(&mut request).is_err() {
        return;
    }
    loop {
        let mut header = String::new();
        match reader.read_line(&mut header) {
            Ok(0) | Err(_) => break,
            Ok(_) if header == "\r\n" => break,
            Ok(_) => {}
        }
    }
    let path = request.split_whitespace().nth(1).unwrap_or("/");
    let file = root.join(path.trim_start_matches('/'));
    let response = match std::fs::read(&file) {
        Ok(body) if !path.contains("..") => {
            let mut r = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )
            .into_bytes();
            r.extend(body);
            r
        }
        _ => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(),
    };
    let _ = conn.write_all(&response);
}

/// The files a hub mirror serves: package indexes under api/v1/ and archives under files/.
struct Hub {
    dir: tempfile::TempDir,
    server: FileServer,
}

impl Hub {
    fn start() -> Hub {
        let dir = tempfile::tempdir().unwrap();
        let server = FileServer::start(dir.path().to_path_buf());
        Hub { dir, server }
    }

    /// Pack package `name` with `marker` as files/<archive>.tar.gz (one top folder, as
    /// GitHub packs a tag) and return its URL.
    fn archive(
        &self,
        archive: &str,
        name: &str,
        marker: &str,
        packages_yml: Option<&str>,
    ) -> String {
        let build = self.dir.path().join("build").join(archive);
        package(&build.join(format!("{name}-src")), name, marker);
        if let Some(yml) = packages_yml {
            std::fs::write(build.join(format!("{name}-src/packages.yml")), yml).unwrap();
        }
        std::fs::create_dir_all(self.dir.path().join("files")).unwrap();
        let out = Command::new("tar")
            .arg("czf")
            .arg(self.dir.path().join(format!("files/{archive}.tar.gz")))
            .arg("-C")
            .arg(&build)
            .arg(format!("{name}-src"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        format!("{}files/{archive}.tar.gz", self.server.url())
    }

    /// Write the index of `org/name`: each version with its archive and dependencies.
    fn index(&self, name: &str, versions: &[(&str, &str, &str)]) {
        let entries: Vec<String> = versions
            .iter()
            .map(|(version, tarball, deps)| {
                format!(
                    r#""{version}": {{"id": "org/{name}/{version}", "name": "{name}", "version": "{version}", "packages": {deps}, "works_with": [], "downloads": {{"tarball": "{tarball}", "format": "tgz"}}, "require_dbt_version": [">=1.3.0", "<2.0.0"]}}"#
                )
            })
            .collect();
        let path = self.dir.path().join(format!("api/v1/org/{name}.json"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(
            path,
            format!(
                r#"{{"name": "{name}", "namespace": "org", "latest": "", "versions": {{{}}}}}"#,
                entries.join(", ")
            ),
        )
        .unwrap();
    }
}

const BASE_DEP: &str = r#"[{"package": "org/base_pkg", "version": [">=0.2.0", "<0.3.0"]}]"#;

#[test]
fn hub_packages_resolve_lock_and_upgrade() {
    let hub = Hub::start();
    let base_020 = hub.archive("base-0.2.0", "base_pkg", "base 0.2.0", None);
    let base_030 = hub.archive("base-0.3.0", "base_pkg", "base 0.3.0", None);
    hub.index(
        "base_pkg",
        &[("0.2.0", &base_020, "[]"), ("0.3.0", &base_030, "[]")],
    );
    let top_100 = hub.archive("top-1.0.0", "top_pkg", "top 1.0.0", None);
    hub.index("top_pkg", &[("1.0.0", &top_100, BASE_DEP)]);
    let tarball = hub.archive("plain", "plain_pkg", "plain", None);
    let p = project(
        "root",
        &[(
            "packages.yml",
            &format!(
                "packages:\n  - package: org/top_pkg\n    version: [\">=1.0.0\", \"<2.0.0\"]\n  - tarball: {tarball}\n    name: plain_pkg\n"
            ),
        )],
    );
    let hub_url = hub.server.url();

    // --lock resolves and writes the lock, installing nothing.
    let run = deps(&p, &["--hub-url", &hub_url, "--lock"]).ok();
    assert!(!p.path().join("dbt_packages").exists(), "{}", run.stdout);
    let locked = lock(&p);

    let run = deps(&p, &["--hub-url", &hub_url]).ok();
    let out = run.stdout.replace(&hub_url, "http://[HUB]/");
    let secs = regex::Regex::new(r"\d+\.\d+s\b").unwrap();
    insta::assert_snapshot!("deps_hub_install", secs.replace_all(&out, "[T]s"));
    assert_eq!(
        lock(&p),
        locked,
        "the lock --lock wrote is the one deps honours"
    );
    assert_eq!(marker(&p, "top_pkg"), "top 1.0.0");
    // Pulled in by top_pkg: the highest version of its range, not the newest.
    assert_eq!(marker(&p, "base_pkg"), "base 0.2.0");
    assert_eq!(marker(&p, "plain_pkg"), "plain");
    assert!(
        locked.contains("  - name: top_pkg\n    package: org/top_pkg\n    version: 1.0.0\n"),
        "{locked}"
    );
    assert!(
        locked.contains("  - name: base_pkg\n    package: org/base_pkg\n    version: 0.2.0\n"),
        "{locked}"
    );
    assert!(
        locked.contains(&format!("  - name: plain_pkg\n    tarball: {tarball}\n")),
        "{locked}"
    );

    // The hub now offers 1.1.0: the lock still installs 1.0.0, and says an update exists.
    let top_110 = hub.archive("top-1.1.0", "top_pkg", "top 1.1.0", None);
    hub.index(
        "top_pkg",
        &[("1.0.0", &top_100, BASE_DEP), ("1.1.0", &top_110, BASE_DEP)],
    );
    let run = deps(&p, &["--hub-url", &hub_url]).ok();
    assert_eq!(marker(&p, "top_pkg"), "top 1.0.0");
    assert!(
        run.stdout
            .contains("update available: org/top_pkg 1.0.0 -> 1.1.0"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("Updates available for: org/top_pkg"),
        "{}",
        run.stdout
    );
    assert_eq!(lock(&p), locked);

    // --upgrade resolves again and takes it.
    let run = deps(&p, &["--hub-url", &hub_url, "--upgrade"]).ok();
    assert!(
        run.stdout.contains("Installing top_pkg@1.1.0"),
        "{}",
        run.stdout
    );
    assert_eq!(marker(&p, "top_pkg"), "top 1.1.0");
    let upgraded = lock(&p);
    assert!(upgraded.contains("version: 1.1.0"), "{upgraded}");

    // A corrupt archive fails the upgrade and leaves the install and the lock as they were.
    let bad = format!("{hub_url}files/top-1.2.0.tar.gz");
    std::fs::write(
        hub.dir.path().join("files/top-1.2.0.tar.gz"),
        "<html>oops</html>",
    )
    .unwrap();
    hub.index(
        "top_pkg",
        &[
            ("1.0.0", &top_100, BASE_DEP),
            ("1.1.0", &top_110, BASE_DEP),
            ("1.2.0", &bad, BASE_DEP),
        ],
    );
    let run = deps(&p, &["--hub-url", &hub_url, "--upgrade"]);
    assert_ne!(run.code, 0, "{}", run.stdout);
    assert!(
        run.stderr.contains(&format!("The archive of hub package org/top_pkg 1.2.0 ({bad}) cannot be installed: it is not a readable .tar.gz")),
        "{}",
        run.stderr
    );
    assert_eq!(marker(&p, "top_pkg"), "top 1.1.0");
    assert_eq!(marker(&p, "base_pkg"), "base 0.2.0");
    assert_eq!(lock(&p), upgraded);
    let leftovers: Vec<_> = std::fs::read_dir(p.path().join("dbt_packages"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn an_unreachable_hub_names_the_package_and_the_url() {
    // A port nothing listens on.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let p = project(
        "root",
        &[(
            "packages.yml",
            "packages:\n  - package: org/top_pkg\n    version: 1.0.0\n",
        )],
    );
    let url = format!("http://127.0.0.1:{port}/");
    let run = deps(&p, &["--hub-url", &url]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr.contains(&format!(
            "Failed to reach the package hub for `org/top_pkg` at {url}api/v1/org/top_pkg.json"
        )),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("hint: "), "{}", run.stderr);
    assert!(!p.path().join("dbt_packages").exists());
    assert!(!p.path().join("package-lock.yml").exists());

    // DBT_PACKAGE_HUB_URL is read as dbt reads it.
    let out = p
        .command(&["deps"])
        .env("DBT_PACKAGE_HUB_URL", &url)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains(&url));
}

#[test]
fn a_package_the_hub_lacks_and_a_conflict_are_clear_errors() {
    let hub = Hub::start();
    let base = hub.archive("base-0.2.0", "base_pkg", "b", None);
    hub.index("base_pkg", &[("0.2.0", &base, "[]")]);
    let p = project(
        "root",
        &[(
            "packages.yml",
            "packages:\n  - package: org/missing_pkg\n    version: 1.0.0\n",
        )],
    );
    let run = deps(&p, &["--hub-url", &hub.server.url()]);
    assert!(
        run.stderr.contains(&format!("Package `org/missing_pkg` is not on the hub: {}api/v1/org/missing_pkg.json answered 404", hub.server.url())),
        "{}",
        run.stderr
    );

    // A local package asks for base_pkg 0.3 while the project asks for 0.2.
    let local = Sibling::new(&p, "needs_newer");
    package(&local.path, "needs_newer", "n");
    std::fs::write(
        local.path.join("packages.yml"),
        "packages:\n  - package: org/base_pkg\n    version: \">=0.3.0\"\n",
    )
    .unwrap();
    p.write(
        "packages.yml",
        &format!(
            "packages:\n  - package: org/base_pkg\n    version: [\">=0.2.0\", \"<0.3.0\"]\n  - local: {}\n",
            local.rel
        ),
    );
    let run = deps(&p, &["--hub-url", &hub.server.url()]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr
            .contains("No version of `org/base_pkg` satisfies every requirement"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("<0.3.0  (required by packages.yml)"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains(&format!(">=0.3.0  (required by local {})", local.rel)),
        "{}",
        run.stderr
    );
}
