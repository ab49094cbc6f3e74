//! A store to test on, of either backend, and `on_both!`, which runs a test body on each.

use lakeforge_meta::MetaStore;
use lakeforge_meta_testing::TestPostgres;

/// Where a test's store lives; dropping it removes the store.
pub enum Db {
    Sqlite(tempfile::TempDir),
    Postgres(TestPostgres),
}

impl Db {
    pub fn sqlite() -> Db {
        Db::Sqlite(tempfile::tempdir().unwrap())
    }

    pub fn postgres() -> Db {
        Db::Postgres(TestPostgres::create())
    }

    /// The `metadata:` string naming this store.
    pub fn location(&self) -> String {
        match self {
            Db::Sqlite(dir) => dir.path().join("meta.db").display().to_string(),
            Db::Postgres(pg) => pg.url().to_string(),
        }
    }

    /// Open the store, as a new process would.
    pub async fn open(&self) -> MetaStore {
        MetaStore::open(&self.location()).await.unwrap()
    }
}

/// `on_both!(f, g)` makes tests `f::sqlite`, `f::postgres`, `g::sqlite`, ... each calling the
/// async fn of that name with a fresh [`Db`].
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::common::Db::sqlite()).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::common::Db::postgres()).await
            }
        }
    )*};
}
