//! What the SQLite-backed stores share: opening a database (in memory, or a file created with
//! its schema when missing), the error that opening reports, how a failed statement becomes a
//! status, and the conventions for ids and times in the tables.
//!
//! A store keeps one connection behind a `std::sync::Mutex`. That is enough because SQLite
//! runs one writer at a time anyway, every call is a handful of statements that take
//! microseconds in memory (plus one `fsync` per commit on a file), and the lock is never held
//! across an `.await`; holding it while announcing a change also keeps watchers in commit
//! order. A server that must not block a tokio worker on a slow disk would move the calls to
//! `spawn_blocking` or a connection pool.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, ErrorCode};
use rust_svc_runtime::Status;

/// How long a statement waits for another connection (another process on the same file)
/// that holds the write lock, before failing with `UNAVAILABLE`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(2);

/// Why a store could not be opened.
#[derive(Debug)]
pub struct StorageError {
    /// The file, or `:memory:`.
    path: PathBuf,
    source: rusqlite::Error,
}

impl StorageError {
    /// An error about the database at `path`.
    pub(crate) fn new(path: &Path, source: rusqlite::Error) -> Self {
        Self {
            path: path.to_owned(),
            source,
        }
    }

    /// The database file the error is about (`:memory:` for an in-memory one).
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot open the database {}: {}",
            self.path.display(),
            self.source
        )
    }
}

impl std::error::Error for StorageError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// Where a store keeps its data.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Location<'a> {
    /// Gone with the process: what the stores' `new` constructors use.
    Memory,
    /// A file, created when missing.
    File(&'a Path),
}

/// Opens `location` and creates `schema` (statements that must be idempotent: `CREATE … IF
/// NOT EXISTS`). A file is put in WAL mode, so that readers in other processes do not block
/// the writer, with `synchronous = FULL`, so that an order or reservation that was answered
/// survives a power cut too.
pub(crate) fn open(location: Location<'_>, schema: &str) -> Result<Connection, StorageError> {
    let path = match location {
        Location::Memory => PathBuf::from(":memory:"),
        Location::File(path) => path.to_owned(),
    };
    let failed = |source| StorageError::new(&path, source);
    let connection = match location {
        Location::Memory => Connection::open_in_memory(),
        Location::File(path) => Connection::open(path),
    }
    .map_err(failed)?;
    if let Location::File(_) = location {
        // `journal_mode` answers with the mode set; WAL is all this store needs to know.
        let _mode: String = connection
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(failed)?;
        connection
            .pragma_update(None, "synchronous", "FULL")
            .map_err(failed)?;
    }
    connection.busy_timeout(BUSY_TIMEOUT).map_err(failed)?;
    connection
        .pragma_update(None, "foreign_keys", true)
        .map_err(failed)?;
    connection.execute_batch(schema).map_err(failed)?;
    Ok(connection)
}

/// Opens an in-memory database, which fails only when SQLite cannot allocate memory (or the
/// schema, a constant, is broken, which the tests would show at once): the reason the
/// stores' `new` constructors can stay infallible.
pub(crate) fn open_in_memory(schema: &str) -> Connection {
    open(Location::Memory, schema)
        .unwrap_or_else(|error| panic!("an in-memory SQLite database always opens: {error}"))
}

/// The status for a statement that failed while serving a call: `UNAVAILABLE` when another
/// connection held the database for longer than [`BUSY_TIMEOUT`] (worth retrying), otherwise
/// `INTERNAL`, naming the store.
pub(crate) fn failed(store: &str) -> impl Fn(rusqlite::Error) -> Status + '_ {
    move |error| match error.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            Status::unavailable(format!("the {store} database is busy; retry: {error}"))
        }
        _ => Status::internal(format!("the {store} database failed: {error}")),
    }
}

/// The id of row `seq` of a table whose ids are `<prefix>_<seq in 8 hex digits>`, e.g.
/// `ord_0000002a`: the format the in-memory stores gave out, which tests/openapi relies on.
pub(crate) fn id(prefix: &str, seq: i64) -> String {
    format!("{prefix}_{seq:08x}")
}

/// The row of an id made by [`id`]; `None` for anything else, including another spelling of
/// the same number, so that one row has one id.
pub(crate) fn seq(prefix: &str, id: &str) -> Option<i64> {
    let digits = id.strip_prefix(prefix)?.strip_prefix('_')?;
    let seq = i64::from_str_radix(digits, 16).ok()?;
    (self::id(prefix, seq) == id).then_some(seq)
}

/// A time as the tables keep it: nanoseconds since the Unix epoch (good until 2262).
pub(crate) fn nanos(time: SystemTime) -> i64 {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since.as_nanos()).unwrap_or(i64::MAX)
}

/// The time kept as [`nanos`].
pub(crate) fn time(nanos: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(u64::try_from(nanos).unwrap_or_default())
}

/// A directory of its own under the system's temporary directory, removed (with what tests
/// put in it) when dropped, even when the test fails.
#[cfg(test)]
pub(crate) struct TempDir(PathBuf);

#[cfg(test)]
impl TempDir {
    pub(crate) fn new(name: &str) -> Self {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let unique = format!(
            "example-services-{name}-{}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            nanos(SystemTime::now())
        );
        let path = std::env::temp_dir().join(unique);
        std::fs::create_dir_all(&path).expect("the temporary directory is writable");
        Self(path)
    }

    pub(crate) fn join(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }
}

#[cfg(test)]
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_have_one_spelling() {
        assert_eq!(id("ord", 42), "ord_0000002a");
        assert_eq!(seq("ord", "ord_0000002a"), Some(42));
        assert_eq!(seq("ord", &id("ord", 1 << 40)), Some(1 << 40));
        for other in [
            "ord_2a",
            "ord_0000002A",
            "res_0000002a",
            "ord0000002a",
            "ord_",
            "ord_-0000001",
            "",
        ] {
            assert_eq!(seq("ord", other), None, "{other}");
        }
    }

    #[test]
    fn times_round_trip_to_the_nanosecond() {
        let now = SystemTime::now();
        assert_eq!(time(nanos(now)), now);
        assert_eq!(nanos(UNIX_EPOCH), 0);
    }

    #[test]
    fn a_file_is_created_with_its_schema_and_in_wal_mode() {
        let dir = TempDir::new("db");
        let path = dir.join("new.sqlite");
        let schema = "CREATE TABLE IF NOT EXISTS t (x INTEGER)";
        let db = open(Location::File(&path), schema).unwrap();
        db.execute("INSERT INTO t VALUES (1)", []).unwrap();
        drop(db);
        let db = open(Location::File(&path), schema).unwrap();
        let (count, mode): (i64, String) = (
            db.query_row("SELECT COUNT(*) FROM t", [], |row| row.get(0))
                .unwrap(),
            db.query_row("PRAGMA journal_mode", [], |row| row.get(0))
                .unwrap(),
        );
        assert_eq!((count, mode.as_str()), (1, "wal"));
    }

    #[test]
    fn a_file_that_is_not_a_database_is_reported_with_its_path() {
        let dir = TempDir::new("db");
        let path = dir.join("not-a-database");
        std::fs::write(&path, "plain text, long enough to be read as a header ...").unwrap();
        let error = open(Location::File(&path), "CREATE TABLE IF NOT EXISTS t (x)").unwrap_err();
        assert_eq!(error.path(), path);
        assert!(
            error.to_string().starts_with("cannot open the database"),
            "{error}"
        );
    }
}
