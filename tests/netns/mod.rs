//! Hosts of a test in network namespaces of its own (issue 21's NAT test; issue 22's cluster rig
//! grows from here): `ip netns add`, veth pairs between them, addresses in 198.18.0.0/15 (the
//! RFC 2544 benchmarking range — never a private range), nothing added to the machine's own
//! interfaces. Every namespace is deleted when its [`Namespace`] drops, and namespaces a killed
//! test run left behind are deleted by the next one. Needs root and iproute2; without them the
//! test fails under `CI=true` and is skipped, its reason printed, elsewhere.
//!
//! A socket of the test process itself can live in a namespace too ([`Namespace::udp`]): a
//! short-lived thread enters the namespace (`setns`), binds, and leaves; the socket stays
//! where it was made.

// A test binary that takes this module in may use only part of it.
#![allow(dead_code)]

use std::net::{SocketAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// What every namespace of ours is called first: `ivt<pid>n<k>-<role>`.
const PREFIX: &str = "ivt";
/// Namespaces made by this test process so far.
static MADE: AtomicU32 = AtomicU32::new(0);

/// Whether namespaces can be made here: root and `ip`. Answers `false` with the reason printed
/// (the test then returns); under `CI=true` a missing piece fails the test instead.
pub fn available(also: &[&str]) -> bool {
    let mut missing = Vec::new();
    if !is_root() {
        missing.push("root (network namespaces)".to_string());
    }
    for tool in std::iter::once("ip").chain(also.iter().copied()) {
        let found = Command::new(tool)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok();
        if !found {
            missing.push(tool.to_string());
        }
    }
    if missing.is_empty() {
        remove_leftovers();
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "the network-namespace tests need {} under CI; run scripts/setup.sh as root",
        missing.join(", ")
    );
    println!("skipped: no {}", missing.join(", "));
    false
}

/// A network namespace of this test, with only `lo` up until links are added; deleted (and
/// with it its interfaces) when dropped.
pub struct Namespace {
    name: String,
}

impl Namespace {
    /// Makes a fresh namespace; `role` (`lan`, `nat`, `wan`, …) ends its name.
    pub fn create(role: &str) -> Namespace {
        let n = MADE.fetch_add(1, Ordering::SeqCst);
        let name = format!("{PREFIX}{}n{n}-{role}", std::process::id());
        ip(&["netns", "add", &name]);
        let ns = Namespace { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// Its name, for `ip netns exec`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `ip -n NAME ARGS…`, which must succeed.
    pub fn ip(&self, args: &[&str]) {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend(args);
        ip(&all);
    }

    /// `program` to be run inside the namespace (`ip netns exec NAME program`); `ip` execs it,
    /// so the child's pid is the program's own.
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name, program]);
        command
    }

    /// Runs `program ARGS…` inside the namespace; it must succeed.
    pub fn run(&self, program: &str, args: &[&str]) {
        let out = self
            .command(program)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("{program} does not run in {}: {e}", self.name));
        assert!(
            out.status.success(),
            "{program} {args:?} in {}: {}",
            self.name,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Sets a sysctl of the namespace (`net.ipv4.ip_forward=1`, a conntrack timeout, …).
    pub fn sysctl(&self, setting: &str) {
        self.run("sysctl", &["-q", "-w", setting]);
    }

    /// A UDP socket bound to `addr` inside the namespace, owned by the test process.
    pub fn udp(&self, addr: SocketAddr) -> std::io::Result<UdpSocket> {
        udp_in(&self.name, addr)
    }

    /// Adds `address/24` to `interface` and brings it up.
    pub fn address(&self, interface: &str, address: &str) {
        self.ip(&["addr", "add", &format!("{address}/24"), "dev", interface]);
        self.ip(&["link", "set", interface, "up"]);
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .stderr(Stdio::null())
            .status();
    }
}

/// A switch: a namespace of its own holding a bridge, into which hosts plug with one veth
/// each — the hosts share a subnet and reach nothing else (scale-out.md §4).
pub struct Hub {
    ns: Namespace,
    ports: AtomicU32,
}

impl Hub {
    /// A fresh hub with its bridge up.
    pub fn create() -> Hub {
        let ns = Namespace::create("hub");
        ns.ip(&["link", "add", "br0", "type", "bridge"]);
        ns.ip(&["link", "set", "br0", "up"]);
        Hub {
            ns,
            ports: AtomicU32::new(0),
        }
    }

    /// Plugs `host` in: its `eth0` gets `address`/24. The name of its port at the hub.
    pub fn plug(&self, host: &Namespace, address: &str) -> String {
        let port = format!("p{}", self.ports.fetch_add(1, Ordering::SeqCst));
        self.ns.ip(&[
            "link",
            "add",
            &port,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            host.name(),
        ]);
        self.ns.ip(&["link", "set", &port, "master", "br0", "up"]);
        host.address("eth0", address);
        port
    }

    /// Cuts `port` off: the hub drops every frame from it and to it (nftables, bridge
    /// family), silently, as a failed switch would — the host behind keeps its link, address
    /// and routes, its packets simply vanish, and nothing reaches it. Needs `nft`.
    pub fn cut(&self, port: &str) {
        self.ns.run("nft", &["add", "table", "bridge", "cut"]);
        self.ns.run(
            "nft",
            &[
                "add",
                "chain",
                "bridge",
                "cut",
                port,
                "{ type filter hook forward priority 0 ; policy accept ; }",
            ],
        );
        for direction in ["iifname", "oifname"] {
            self.ns.run(
                "nft",
                &[
                    "add", "rule", "bridge", "cut", port, direction, port, "drop",
                ],
            );
        }
    }

    /// Ends [`Hub::cut`] of `port`: its frames pass again.
    pub fn mend(&self, port: &str) {
        self.ns
            .run("nft", &["delete", "chain", "bridge", "cut", port]);
    }
}

/// A UDP socket bound to `addr` inside the namespace called `name`, owned by the test process.
pub fn udp_in(name: &str, addr: SocketAddr) -> std::io::Result<UdpSocket> {
    within(name, || UdpSocket::bind(addr))?
}

/// Runs `work` on a thread inside the namespace called `name` (sockets it opens stay there,
/// such as a database connection to a host of the namespace's subnet); its answer.
pub fn within<T: Send>(name: &str, work: impl FnOnce() -> T + Send) -> std::io::Result<T> {
    let path = format!("/run/netns/{name}");
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let target = std::fs::File::open(&path)?;
                nix::sched::setns(&target, nix::sched::CloneFlags::CLONE_NEWNET)
                    .map_err(std::io::Error::from)?;
                // This thread ends here, and with it its stay in the namespace.
                Ok(work())
            })
            .join()
            .expect("the namespace thread")
    })
}

/// A veth pair: `a_interface` in `a` with `a_address`/24, `b_interface` in `b` with
/// `b_address`/24, both up.
pub fn link(
    (a, a_interface, a_address): (&Namespace, &str, &str),
    (b, b_interface, b_address): (&Namespace, &str, &str),
) {
    a.ip(&[
        "link",
        "add",
        a_interface,
        "type",
        "veth",
        "peer",
        "name",
        b_interface,
        "netns",
        b.name(),
    ]);
    a.address(a_interface, a_address);
    b.address(b_interface, b_address);
}

/// `ip ARGS…`, which must succeed.
fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("ip does not run: {e}"));
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Whether this process runs as root (`id -u` is 0).
fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Deletes namespaces of ours whose test process is gone (a run killed before its drops).
fn remove_leftovers() {
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let name = line.split_whitespace().next().unwrap_or_default();
        let Some(pid) = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split('n').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = Command::new("ip").args(["netns", "del", name]).status();
        }
    }
}
