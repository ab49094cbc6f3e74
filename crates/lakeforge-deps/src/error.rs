//! What can go wrong while resolving and installing packages. Each message names the package
//! (and the URL or file involved) and ends with what to do about it; the previous install and
//! package-lock.yml are left as they were whenever one of these is returned.

use std::path::PathBuf;

use lakeforge_project::ProjectError;

use crate::archive::ArchiveError;

const HUB_HINT: &str = "hint: check the network, or point --hub-url (or DBT_PACKAGE_HUB_URL) at a reachable hub or mirror";

#[derive(Debug, thiserror::Error)]
pub enum DepsError {
    /// A project or package file is malformed (packages.yml, package-lock.yml, dbt_project.yml).
    #[error(transparent)]
    Project(#[from] ProjectError),

    #[error("Failed to {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "The HTTP client could not start: {source}\nhint: this is a problem of the machine's TLS setup, not of the packages"
    )]
    HttpClient {
        #[source]
        source: reqwest::Error,
    },

    #[error(
        "`{url}` is not a hub URL: {message}\nhint: pass the hub's base URL, e.g. --hub-url https://hub.getdbt.com/"
    )]
    HubUrl { url: String, message: String },

    #[error(
        "Failed to reach the package hub for `{package}` at {url}: {}\n{HUB_HINT}",
        chain(source)
    )]
    HubUnreachable {
        package: String,
        url: String,
        #[source]
        source: reqwest::Error,
    },

    #[error(
        "Package `{package}` is not on the hub: {url} answered 404 Not Found\nhint: check the name (namespace/name, as listed on hub.getdbt.com); a mirror must serve api/v1/{package}.json"
    )]
    PackageNotFound { package: String, url: String },

    #[error("The package hub answered {status} for `{package}` at {url}\n{HUB_HINT}")]
    HubStatus {
        package: String,
        url: String,
        status: u16,
    },

    #[error(
        "The package hub's index of `{package}` at {url} is not what dbt's hub serves: {message}\n{HUB_HINT}"
    )]
    HubInvalid {
        package: String,
        url: String,
        message: String,
    },

    #[error(
        "No version of `{package}` satisfies every requirement:\n{}\nhint: align these version ranges (in your packages file, or by choosing other versions of the packages that require it)",
        requirements.iter().map(|(range, by)| format!("  {range}  (required by {by})")).collect::<Vec<_>>().join("\n")
    )]
    VersionConflict {
        package: String,
        /// Each requirement as written, and who requires it.
        requirements: Vec<(String, String)>,
    },

    /// Boxed: the largest variant, kept off the path of every `Result`.
    #[error(transparent)]
    VersionNotFound(Box<VersionNotFound>),

    #[error(
        "Failed to download {what} from {url}: {}\nhint: check the URL and the network; the previous install is unchanged",
        chain(source)
    )]
    Download {
        what: String,
        url: String,
        #[source]
        source: reqwest::Error,
    },

    #[error(
        "Failed to download {what} from {url}: the server answered {status}\nhint: check the URL; the previous install is unchanged"
    )]
    DownloadStatus {
        what: String,
        url: String,
        status: u16,
    },

    #[error(
        "The archive of {what} ({url}) cannot be installed: {reason}\nhint: the previous install is unchanged; check that the URL serves the package's .tar.gz"
    )]
    Archive {
        what: String,
        url: String,
        /// Shown in the message, so a plain field rather than a `source` printed twice.
        reason: ArchiveError,
    },

    #[error(
        "`git` could not be run: {source}\nhint: install git (git packages are cloned with the git command, as dbt does)"
    )]
    GitMissing {
        #[source]
        source: std::io::Error,
    },

    #[error("git {step} failed for {url}:\n{stderr}\nhint: {hint}")]
    Git {
        url: String,
        step: String,
        stderr: String,
        hint: String,
    },

    #[error(
        "The git package {url} is required at different revisions:\n{}\nhint: require one revision everywhere it is declared",
        revisions.iter().map(|(rev, by)| format!("  {rev}  (required by {by})")).collect::<Vec<_>>().join("\n")
    )]
    GitRevisions {
        url: String,
        revisions: Vec<(String, String)>,
    },

    #[error("{what} is not a dbt package: {} has no dbt_project.yml (with a `name:`)\nhint: {hint}", path.display())]
    NotAPackage {
        what: String,
        path: PathBuf,
        hint: String,
    },

    #[error(
        "Two packages install as `{name}`: {first} and {second}\nhint: a package's folder is the `name:` of its dbt_project.yml; declare only one of them"
    )]
    DuplicateName {
        name: String,
        first: String,
        second: String,
    },

    #[error(
        "{what} is named `{name}`, like this project\nhint: a project cannot depend on a package of its own name; remove it from the packages file"
    )]
    NamedLikeRoot { name: String, what: String },

    #[error(
        "{first} and {second} are declared as different kinds of package under the same name `{key}`\nhint: declare it one way"
    )]
    KindMismatch {
        key: String,
        first: String,
        second: String,
    },
}

/// No hub version satisfies a range (the hub lists none in it that this run may install).
#[derive(Debug, thiserror::Error)]
#[error(
    "No version of `{package}` on the hub matches {range} (required by {}); {}\nhint: {hint}",
    required_by.join(", "),
    if available.is_empty() { format!("{url} lists no installable version") } else { format!("{url} has {}", available.join(", ")) }
)]
pub struct VersionNotFound {
    pub package: String,
    pub range: String,
    pub required_by: Vec<String>,
    pub available: Vec<String>,
    pub url: String,
    pub hint: String,
}

/// What went wrong in transit: reqwest's own message only repeats the URL ("error sending
/// request for url (...)"), so its causes are shown instead when it has some.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    match e.source() {
        Some(cause) => lakeforge_project::error_text(cause),
        None => e.to_string(),
    }
}

impl DepsError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        DepsError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

pub type Result<T, E = DepsError> = std::result::Result<T, E>;
