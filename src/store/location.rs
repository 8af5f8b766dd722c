//! Where a store is, as `--store` gives it: a SQLite file (any path, the default) or a
//! PostgreSQL database (a `postgresql://` or `postgres://` URL). A URL is checked when it is
//! read, so a bad one is a usage error before anything starts; the connection itself is
//! made when the store is opened. A location prints without its password.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// How long opening a PostgreSQL store waits for the server, unless the URL says
/// (`connect_timeout=`): a wrong host is an error within seconds, not a hang.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// How long data sent to PostgreSQL may go unacknowledged, or an idle connection leave its
/// keepalive probes unanswered, before the connection counts as lost — unless the URL says
/// (`tcp_user_timeout=`, `keepalives_idle=`…). Without it a query on a cut network waits
/// until TCP gives up (a quarter of an hour), and with it a campaign's claims and finishes.
const LOST_AFTER: std::time::Duration = std::time::Duration::from_secs(5);

/// How long the server lets a session of ours wait inside a transaction before it ends the
/// session and frees its locks, unless the URL's `options` say: an instance cut off in the
/// middle of a claim must not hold the campaign's row — and every other instance's claims
/// behind it — until the server's own TCP gives up.
const IDLE_IN_TRANSACTION: &str = "idle_in_transaction_session_timeout=5s";

/// Where a store is.
#[derive(Clone)]
pub enum Location {
    /// A SQLite file, created when missing.
    File(PathBuf),
    /// A PostgreSQL database.
    Postgres(Box<PostgresUrl>),
}

/// A checked `postgresql://` URL.
#[derive(Clone)]
pub struct PostgresUrl {
    /// The URL as given, password left out.
    shown: String,
    /// What the client connects with.
    pub(super) config: postgres::Config,
}

/// Why `--store` was refused.
#[derive(Debug, thiserror::Error)]
pub enum LocationError {
    /// A URL of a scheme the store does not speak.
    #[error("`{0}` is not a store: give a file path (SQLite) or a postgresql:// URL")]
    Scheme(String),
    /// A `postgresql://` URL the client cannot read.
    #[error("`{url}` is not a PostgreSQL URL like postgresql://USER@HOST:PORT/DATABASE: {why}")]
    Url {
        /// The URL, password left out.
        url: String,
        /// What is wrong with it.
        why: String,
    },
    /// An empty path.
    #[error("the store's path is empty")]
    Empty,
}

impl FromStr for Location {
    type Err = LocationError;

    fn from_str(text: &str) -> Result<Location, LocationError> {
        let Some((scheme, _)) = text.split_once("://").filter(|(s, _)| is_scheme(s)) else {
            if text.is_empty() {
                return Err(LocationError::Empty);
            }
            return Ok(Location::File(PathBuf::from(text)));
        };
        if !matches!(
            scheme.to_ascii_lowercase().as_str(),
            "postgresql" | "postgres"
        ) {
            return Err(LocationError::Scheme(without_password(text)));
        }
        let shown = without_password(text);
        let refuse = |why: String| LocationError::Url {
            url: shown.clone(),
            why,
        };
        // The client reads only its own spelling of the scheme.
        let url = format!("postgresql://{}", &text[scheme.len() + 3..]);
        let mut config =
            postgres::Config::from_str(&url).map_err(|e| refuse(super::pg::describe(&e)))?;
        if config.get_hosts().is_empty() && config.get_hostaddrs().is_empty() {
            return Err(refuse("it names no host".into()));
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        bound_waits(&mut config, &url);
        config.application_name("ivrc");
        Ok(Location::Postgres(Box::new(PostgresUrl { shown, config })))
    }
}

/// Makes a lost connection fail within seconds on both ends ([`LOST_AFTER`],
/// [`IDLE_IN_TRANSACTION`]), where the URL (`url`) does not set these itself.
fn bound_waits(config: &mut postgres::Config, url: &str) {
    if config.get_tcp_user_timeout().is_none() {
        config.tcp_user_timeout(LOST_AFTER);
    }
    // The idle time has a default of two hours rather than none: the URL is asked.
    if !url.contains("keepalives_idle=") {
        config.keepalives_idle(LOST_AFTER / 5);
    }
    if config.get_keepalives_interval().is_none() {
        config.keepalives_interval(LOST_AFTER / 5);
    }
    if config.get_keepalives_retries().is_none() {
        config.keepalives_retries(3);
    }
    let options = config.get_options().unwrap_or_default();
    if !options.contains("idle_in_transaction_session_timeout") {
        let both = format!("{options} -c {IDLE_IN_TRANSACTION}");
        config.options(both.trim_start());
    }
}

/// Whether `s` is a URL scheme (RFC 3986: a letter, then letters, digits, `+`, `-`, `.`).
fn is_scheme(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
}

/// A URL with the password of its user info (`user:password@`) replaced by `***`.
fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((info, host)) => match info.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

impl Location {
    /// The file of a SQLite store; `None` for a database.
    pub fn file(&self) -> Option<&Path> {
        match self {
            Location::File(path) => Some(path),
            Location::Postgres(_) => None,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File(path) => write!(f, "{}", path.display()),
            Location::Postgres(url) => f.write_str(&url.shown),
        }
    }
}

impl fmt::Debug for Location {
    /// As displayed: a password never reaches a log through `{:?}` either.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(text: &str) -> String {
        match text.parse::<Location>() {
            Ok(l) => panic!("`{text}` was taken as {l}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn paths_are_files_and_postgres_urls_are_databases() {
        for path in [
            "ivrc-entries.db",
            "/var/lib/ivrc/entries.db",
            "C:x.db",
            "./a:b",
        ] {
            let l: Location = path.parse().expect("a path");
            assert_eq!(l.file(), Some(Path::new(path)));
        }
        for url in [
            "postgresql://ivrc@127.0.0.1:55432/postgres",
            "postgres://ivrc@localhost/ivrc",
            "POSTGRESQL://ivrc@[::1]:5432/ivrc?connect_timeout=3",
        ] {
            let l: Location = url.parse().expect("a URL");
            assert!(l.file().is_none(), "{url}");
            assert_eq!(l.to_string(), url);
        }
        let Ok(Location::Postgres(u)) = "postgres://ivrc@h/db".parse::<Location>() else {
            panic!("a database");
        };
        assert_eq!(u.config.get_connect_timeout(), Some(&CONNECT_TIMEOUT));
        assert_eq!(u.config.get_dbname(), Some("db"));
    }

    fn config(url: &str) -> postgres::Config {
        match url.parse::<Location>() {
            Ok(Location::Postgres(u)) => u.config,
            other => panic!("not a database: {other:?}"),
        }
    }

    #[test]
    fn a_lost_connection_fails_within_seconds_unless_the_url_says() {
        let c = config("postgresql://ivrc@db/ivrc");
        assert_eq!(c.get_tcp_user_timeout(), Some(&LOST_AFTER));
        assert!(c.get_keepalives());
        assert_eq!(c.get_keepalives_idle(), LOST_AFTER / 5);
        assert_eq!(c.get_keepalives_interval(), Some(LOST_AFTER / 5));
        assert_eq!(c.get_keepalives_retries(), Some(3));
        assert_eq!(
            c.get_options(),
            Some("-c idle_in_transaction_session_timeout=5s")
        );
        let c = config(
            "postgresql://ivrc@db/ivrc?tcp_user_timeout=30&keepalives_idle=60&options=-c%20work_mem=8MB",
        );
        assert_eq!(
            c.get_tcp_user_timeout(),
            Some(&std::time::Duration::from_secs(30))
        );
        assert_eq!(c.get_keepalives_idle(), std::time::Duration::from_secs(60));
        assert_eq!(
            c.get_options(),
            Some("-c work_mem=8MB -c idle_in_transaction_session_timeout=5s")
        );
        let c =
            config("postgresql://ivrc@db/ivrc?options=-c%20idle_in_transaction_session_timeout=0");
        assert_eq!(
            c.get_options(),
            Some("-c idle_in_transaction_session_timeout=0")
        );
    }

    #[test]
    fn a_password_is_never_shown() {
        let url = "postgresql://ivrc:s3cret@db.example:5432/ivrc";
        let l: Location = url.parse().expect("a URL");
        assert_eq!(l.to_string(), "postgresql://ivrc:***@db.example:5432/ivrc");
        assert_eq!(format!("{l:?}"), l.to_string());
        let e = refused("postgresql://ivrc:s3cret@db.example:99999/ivrc");
        assert!(!e.contains("s3cret"), "{e}");
        assert!(e.contains("ivrc:***@db.example:99999"), "{e}");
    }

    #[test]
    fn bad_urls_are_refused_with_the_reason() {
        assert_eq!(
            refused("mysql://root@localhost/ivrc"),
            "`mysql://root@localhost/ivrc` is not a store: give a file path (SQLite) or a postgresql:// URL"
        );
        let e = refused("postgresql://ivrc@localhost:port/ivrc");
        assert!(
            e.starts_with("`postgresql://ivrc@localhost:port/ivrc` is not a PostgreSQL URL"),
            "{e}"
        );
        assert!(
            e.ends_with("invalid connection string: invalid value for option `port`"),
            "{e}"
        );
        assert!(refused("postgresql:///ivrc").contains("it names no host"));
        assert!(refused("postgresql://h/db?sslmode=sometimes").contains("sslmode"));
        assert_eq!(refused(""), "the store's path is empty");
    }
}
