//! Git packages, through the `git` command as dbt does (so the user's credentials helpers,
//! SSH keys and proxies apply): the repository is cloned into a temporary folder, the revision
//! checked out, and the commit recorded for the lock. A revision is looked up as dbt does: a
//! full commit SHA as itself, then a tag (preferred over a branch of the same name), then a
//! branch, then anything git can read as a commit (a short SHA).

use std::path::Path;
use std::process::Stdio;

use tokio::process::Command;

use crate::error::{DepsError, Result};

/// Clone `url` into `dest` (which must not exist) and check out `revision` (the default
/// branch when None). Returns the commit SHA checked out.
pub(crate) async fn clone_at(url: &str, revision: Option<&str>, dest: &Path) -> Result<String> {
    let dest_str = dest.to_string_lossy().into_owned();
    git(
        url,
        "clone",
        None,
        &["clone", "--quiet", "--no-checkout", "--", url, &dest_str],
        "check the URL, and that `git clone` of it works from this shell (credentials, network)",
    )
    .await?;
    let spec = match revision {
        None => "HEAD".to_string(),
        Some(rev) => resolve_revision(url, dest, rev).await?,
    };
    git(
        url,
        &format!("checkout {}", revision.unwrap_or("HEAD")),
        Some(dest),
        &["checkout", "--quiet", "--detach", &spec],
        "check the revision",
    )
    .await?;
    let sha = git(
        url,
        "rev-parse",
        Some(dest),
        &["rev-parse", "HEAD"],
        "the clone is damaged; run lakeforge deps again",
    )
    .await?;
    Ok(sha.trim().to_string())
}

/// What to check out for `revision`: a tag, else a branch, else a commit.
async fn resolve_revision(url: &str, repo: &Path, revision: &str) -> Result<String> {
    let is_sha = revision.len() == 40 && revision.bytes().all(|b| b.is_ascii_hexdigit());
    let candidates = if is_sha {
        vec![revision.to_string()]
    } else {
        vec![
            format!("refs/tags/{revision}"),
            format!("refs/remotes/origin/{revision}"),
            revision.to_string(),
        ]
    };
    for candidate in &candidates {
        let found = run(
            Some(repo),
            &[
                "rev-parse",
                "--verify",
                "--quiet",
                &format!("{candidate}^{{commit}}"),
            ],
        )
        .await?;
        if found.status.success() {
            return Ok(String::from_utf8_lossy(&found.stdout).trim().to_string());
        }
    }
    Err(DepsError::Git {
        url: url.to_string(),
        step: format!("checkout {revision}"),
        stderr: format!("no tag, branch or commit `{revision}` in the repository"),
        hint: "check `revision:` (a tag, a branch or a commit SHA of that repository)".into(),
    })
}

async fn git(
    url: &str,
    step: &str,
    cwd: Option<&Path>,
    args: &[&str],
    hint: &str,
) -> Result<String> {
    let out = run(cwd, args).await?;
    if !out.status.success() {
        return Err(DepsError::Git {
            url: url.to_string(),
            step: step.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            hint: hint.to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

async fn run(cwd: Option<&Path>, args: &[&str]) -> Result<std::process::Output> {
    let mut cmd = Command::new("git");
    if let Some(dir) = cwd {
        cmd.arg("-C").arg(dir);
    }
    cmd.args(args)
        // Never wait for a password on a terminal nobody watches.
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.output()
        .await
        .map_err(|source| DepsError::GitMissing { source })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(dir: &Path, args: &[&str]) -> String {
        let out = std::process::Command::new("git")
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

    /// A repository whose `main` has two commits, the first tagged `v1` and branch `v1`
    /// pointing at the second (a tag wins over a branch, as in dbt).
    fn repo(dir: &Path) -> (String, String) {
        let r = dir.join("repo");
        std::fs::create_dir_all(&r).unwrap();
        sh(&r, &["init", "--quiet", "--initial-branch=main"]);
        std::fs::write(r.join("f"), "1").unwrap();
        sh(&r, &["add", "."]);
        sh(&r, &["commit", "--quiet", "-m", "one"]);
        let first = sh(&r, &["rev-parse", "HEAD"]);
        sh(&r, &["tag", "v1"]);
        std::fs::write(r.join("f"), "2").unwrap();
        sh(&r, &["commit", "--quiet", "-am", "two"]);
        let second = sh(&r, &["rev-parse", "HEAD"]);
        sh(&r, &["branch", "v1"]);
        (first, second)
    }

    #[tokio::test]
    async fn checks_out_tags_branches_and_commits() {
        let dir = tempfile::tempdir().unwrap();
        let (first, second) = repo(dir.path());
        let url = dir.path().join("repo").display().to_string();
        let cases = [
            (None, &second),
            (Some("main"), &second),
            (Some("v1"), &first),
            (Some(first.as_str()), &first),
            (Some(&second[..8]), &second),
        ];
        for (i, (rev, expected)) in cases.into_iter().enumerate() {
            let dest = dir.path().join(format!("c{i}"));
            let sha = clone_at(&url, rev, &dest).await.unwrap();
            assert_eq!(&sha, expected, "{rev:?}");
            let content = std::fs::read_to_string(dest.join("f")).unwrap();
            assert_eq!(content, if expected == &first { "1" } else { "2" });
        }
    }

    #[tokio::test]
    async fn errors_name_the_repository_and_revision() {
        let dir = tempfile::tempdir().unwrap();
        repo(dir.path());
        let url = dir.path().join("repo").display().to_string();
        let e = clone_at(&url, Some("nope"), &dir.path().join("x"))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&url) && e.contains("no tag, branch or commit `nope`"),
            "{e}"
        );
        let missing = dir.path().join("missing").display().to_string();
        let e = clone_at(&missing, None, &dir.path().join("y"))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("git clone failed for") && e.contains("hint: check the URL"),
            "{e}"
        );
    }
}
