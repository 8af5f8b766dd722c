//! A PostgreSQL server for the tests of the store in PostgreSQL: the one `IVRC_PG_URL` names,
//! or else a throwaway PostgreSQL this test process starts itself (initdb and pg_ctl from
//! Debian's postgresql-15, which scripts/setup.sh installs): trust authentication on a free
//! 127.0.0.1 port, its data in a directory under target/tmp, fsync off. It is started once
//! per test process and stopped and removed when the process ends, by a small watcher process
//! (test binaries have no hook at their end, and a killed run must not leave a server behind).
//! Each test gets a database of its own, made afresh.
//!
//! Without a server (no `IVRC_PG_URL` and no initdb, or initdb failing) a test fails under
//! `CI=true`, and elsewhere is skipped with the reason printed.

// A test binary that takes this module in may use only part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The server of this test process: its URL (ending in a database name), or why there is none.
static SERVER: OnceLock<Result<String, String>> = OnceLock::new();

/// A fresh database named `ivrc_test_<name>` on the test server, as a URL; `None` when there
/// is no server here (the reason printed), which fails the test under `CI=true`.
pub fn database(name: &str) -> Option<String> {
    let server = SERVER.get_or_init(|| match std::env::var("IVRC_PG_URL") {
        Ok(url) if !url.is_empty() => Ok(url),
        _ => start(),
    });
    let base = match server {
        Ok(url) => url,
        Err(why) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "the PostgreSQL store tests need a server under CI: {why}"
            );
            eprintln!("skipped: no PostgreSQL for the store tests: {why}");
            return None;
        }
    };
    let db = format!("ivrc_test_{name}");
    let mut admin = postgres::Client::connect(base, postgres::NoTls)
        .unwrap_or_else(|e| panic!("cannot reach the test PostgreSQL at {base}: {e:?}"));
    // One statement each: neither may run in the transaction a batch of statements makes.
    for statement in [
        format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
        format!("CREATE DATABASE {db}"),
    ] {
        admin
            .batch_execute(&statement)
            .unwrap_or_else(|e| panic!("cannot make database {db}: {e:?}"));
    }
    Some(with_database(base, &db))
}

/// `url` naming database `db` instead of its own.
fn with_database(url: &str, db: &str) -> String {
    let (path, query) = match url.split_once('?') {
        Some((p, q)) => (p, format!("?{q}")),
        None => (url, String::new()),
    };
    let authority_end = path
        .find("://")
        .map(|i| i + 3)
        .and_then(|start| path[start..].find('/').map(|j| start + j))
        .unwrap_or(path.len());
    format!("{}/{db}{query}", &path[..authority_end])
}

/// The newest installed PostgreSQL's programs: `/usr/lib/postgresql/N/bin`, or the PATH's.
fn bin_dir() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    let on_path = Command::new("initdb")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok();
    on_path.then(PathBuf::new)
}

/// Whether this process runs as root (PostgreSQL then runs as the `postgres` user).
fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
        .unwrap_or(false)
}

/// `program` of PostgreSQL's, run as `postgres` when we are root (it refuses root).
fn pg_command(bin: &Path, program: &str, root: bool) -> Command {
    let program = bin.join(program);
    if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

/// Starts the throwaway server and its watcher; the URL of its `postgres` database.
fn start() -> Result<String, String> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))?;
    let url = launch(&Listen {
        netns: None,
        ip: "127.0.0.1",
        port,
        trusted: None,
        tag: "",
    })?;
    // `pg_ctl -w` waits for the server to accept connections; this only double-checks.
    let deadline = Instant::now() + Duration::from_secs(20);
    while postgres::Client::connect(&url, postgres::NoTls).is_err() {
        if Instant::now() > deadline {
            return Err(format!("the server on port {port} does not answer"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(url)
}

/// A throwaway server inside the network namespace `netns` on `ip`:5432, trusting the hosts
/// of `subnet` (such as `198.18.0.0/24`), stopped and removed when this test process ends;
/// the URL of its `postgres` database. `None` when PostgreSQL is not installed here (the
/// reason printed), which fails the test under `CI=true`.
pub fn server_in(netns: &str, ip: &str, subnet: &str) -> Option<String> {
    let listen = Listen {
        netns: Some(netns),
        ip,
        port: 5432,
        trusted: Some(subnet),
        tag: netns,
    };
    match launch(&listen) {
        Ok(url) => Some(url),
        Err(why) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "the cluster tests need PostgreSQL under CI: {why}"
            );
            eprintln!("skipped: no PostgreSQL: {why}");
            None
        }
    }
}

/// Where a throwaway server listens.
struct Listen<'a> {
    /// The network namespace it runs in; `None` for the test's own.
    netns: Option<&'a str>,
    /// Its address.
    ip: &'a str,
    /// Its port.
    port: u16,
    /// A subnet whose hosts it trusts beside loopback.
    trusted: Option<&'a str>,
    /// Part of its directory's name, to tell servers of one process apart.
    tag: &'a str,
}

/// initdb, pg_ctl start (as `postgres` when root) and the watcher; the URL of the server's
/// `postgres` database.
fn launch(at: &Listen<'_>) -> Result<String, String> {
    let bin = bin_dir().ok_or(
        "IVRC_PG_URL is not set and initdb is not installed (scripts/setup.sh installs postgresql)",
    )?;
    let root = is_root();
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "pg-{}{}",
        at.tag,
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot make {}: {e}", dir.display()))?;
    if root {
        let chown = Command::new("chown")
            .args(["postgres:", &dir.display().to_string()])
            .status();
        if !chown.is_ok_and(|s| s.success()) {
            return Err(format!(
                "cannot give {} to the postgres user",
                dir.display()
            ));
        }
    }
    let data = dir.join("data");
    let out = pg_command(&bin, "initdb", root)
        .arg("-D")
        .arg(&data)
        .args([
            "-A",
            "trust",
            "-U",
            "ivrc",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        ])
        .output()
        .map_err(|e| format!("initdb does not run: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    if let Some(subnet) = at.trusted {
        use std::io::Write;
        let mut hba = std::fs::OpenOptions::new()
            .append(true)
            .open(data.join("pg_hba.conf"))
            .map_err(|e| format!("cannot open pg_hba.conf: {e}"))?;
        writeln!(hba, "host all all {subnet} trust")
            .map_err(|e| format!("cannot write pg_hba.conf: {e}"))?;
    }
    let options = format!(
        "-c listen_addresses={} -p {} -k {} -c fsync=off -c max_connections=200",
        at.ip,
        at.port,
        dir.display()
    );
    let mut pg_ctl = match at.netns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns]);
            if root {
                c.args(["runuser", "-u", "postgres", "--"]);
            }
            c.arg(bin.join("pg_ctl"));
            c
        }
        None => pg_command(&bin, "pg_ctl", root),
    };
    let out = pg_ctl
        .arg("-D")
        .arg(&data)
        .arg("-l")
        .arg(dir.join("log"))
        .args(["-w", "-t", "60", "-o", &options, "start"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("pg_ctl does not run: {e}"))?;
    if !out.status.success() {
        let log = std::fs::read_to_string(dir.join("log")).unwrap_or_default();
        return Err(format!(
            "pg_ctl start failed: {}{log}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    watch(&bin, &data, &dir, root);
    Ok(format!("postgresql://ivrc@{}:{}/postgres", at.ip, at.port))
}

/// Starts the watcher: a shell that waits for this test process to end, then stops the
/// server and removes its directory.
fn watch(bin: &Path, data: &Path, dir: &Path, root: bool) {
    let as_postgres = if root { "runuser -u postgres -- " } else { "" };
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 0.2; done; \
         {as_postgres}'{pg_ctl}' -D '{data}' -m immediate -w stop >/dev/null 2>&1; \
         rm -rf '{dir}'",
        pid = std::process::id(),
        pg_ctl = bin.join("pg_ctl").display(),
        data = data.display(),
        dir = dir.display(),
    );
    let spawned = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    if let Err(e) = spawned {
        eprintln!(
            "the PostgreSQL watcher did not start ({e}): stop the server in {} by hand",
            dir.display()
        );
    }
}
