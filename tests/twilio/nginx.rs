//! nginx (Debian's nginx-light, installed by scripts/setup.sh) as the load balancer in front of
//! several `ivrc serve`, as a user running more than one server would put it: round robin,
//! one request to the next server, on a free 127.0.0.1 port, its files in a scratch directory.
//! Its access log names the server that answered each request.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian installs nginx.
const NGINX: &str = "/usr/sbin/nginx";

/// A running nginx, stopped when dropped.
pub struct Front {
    child: Child,
    /// Its access log: one line a request, `UPSTREAM METHOD PATH STATUS`.
    pub log: PathBuf,
}

impl Drop for Front {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts nginx on `port`, spreading requests over `upstreams` (`127.0.0.1:PORT` each) in
/// turn; files under `dir`. Fails the test when nginx is missing or does not come up.
pub fn start(dir: &std::path::Path, port: u16, upstreams: &[String]) -> Front {
    assert!(
        std::path::Path::new(NGINX).exists(),
        "{NGINX} is required for the tests of several servers; run scripts/setup.sh"
    );
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).expect("nginx's directory");
    let d = dir.display();
    let servers: String = upstreams
        .iter()
        .map(|u| format!("        server {u};\n"))
        .collect();
    // One process in the foreground; a request that failed on a server is not sent to the
    // next (a webhook is not idempotent).
    let conf = format!(
        "daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 256; }}
http {{
    log_format upstream '$upstream_addr $request_method $uri $status';
    access_log {d}/access.log upstream;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    upstream ivrc {{
{servers}    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://ivrc;
            proxy_next_upstream off;
            proxy_set_header Host $http_host;
        }}
    }}
}}
"
    );
    let conf_path = dir.join("nginx.conf");
    std::fs::write(&conf_path, conf).expect("nginx.conf");
    let child = Command::new(NGINX)
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(&conf_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("nginx starts");
    let front = Front {
        child,
        log: dir.join("access.log"),
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "nginx did not listen on {port}: {}",
            std::fs::read_to_string(dir.join("error.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    front
}

impl Front {
    /// The servers that answered requests whose path starts with `prefix`, in order.
    pub fn answered_by(&self, prefix: &str) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let mut parts = l.split(' ');
                let upstream = parts.next()?;
                let _method = parts.next()?;
                let path = parts.next()?;
                path.starts_with(prefix).then(|| upstream.to_string())
            })
            .collect()
    }
}
