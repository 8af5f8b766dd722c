//! The cluster rig of issue 22 (scale-out.md §4), shared by the cluster tests: hosts in network
//! namespaces plugged into one hub (tests/netns/), one subnet of 198.18.0.0/24:
//!
//! ```text
//!   db     198.18.0.2 (PostgreSQL 15: the store every instance shares)
//!   ivrc-1 198.18.0.4, ivrc-2 198.18.0.5, ivrc-3 198.18.0.6 (ivrc run …)
//!   and the test's other hosts: kam 198.18.0.3, caller 198.18.0.7, trunk 198.18.0.8, …
//! ```
//!
//! An instance can be cut off at the hub and reconnected ([`Rig::cut_off`]): its packets then
//! vanish as on a real partition, its own interface, address and routes left as they are.
//! Every namespace is deleted when the rig drops; the database server is stopped when the
//! test process ends. A module of a test binary that also takes in tests/runtime/harness.rs
//! as `harness`, tests/netns/ as `netns` and tests/pg_server/ as `pg_server`.

// A test binary that takes this module in may use only part of it.
#![allow(dead_code)]

use super::harness::{self, Host};
use super::netns::{self, Hub, Namespace};
use super::pg_server;
use std::net::{Ipv4Addr, SocketAddr};

/// The database's address.
pub const DB: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);

/// A host of the rig beside the database and the instances.
struct Other {
    role: String,
    ip: Ipv4Addr,
    ns: Namespace,
}

/// The namespaces of a rig; deleted when dropped (declare it first).
pub struct Rig {
    hub: Hub,
    _db: Namespace,
    others: Vec<Other>,
    instances: Vec<Namespace>,
    /// Each instance's port at the hub.
    ports: Vec<String>,
    /// The shared store's URL.
    pub store: String,
}

impl Rig {
    /// The hub, the database, the hosts `others` (role and address) and `n` instance hosts,
    /// or `None` (the reason printed) where namespaces, PostgreSQL or the `tools` the test
    /// needs beside `ip` are not there outside CI.
    pub fn build(others: &[(&str, Ipv4Addr)], n: usize, tools: &[&str]) -> Option<Rig> {
        if !netns::available(tools) {
            return None;
        }
        let hub = Hub::create();
        let db = Namespace::create("db");
        hub.plug(&db, &DB.to_string());
        let store = pg_server::server_in(db.name(), &DB.to_string(), "198.18.0.0/24")?;
        let others = others
            .iter()
            .map(|(role, ip)| {
                let ns = Namespace::create(role);
                hub.plug(&ns, &ip.to_string());
                Other {
                    role: role.to_string(),
                    ip: *ip,
                    ns,
                }
            })
            .collect();
        let mut ports = Vec::new();
        let instances = (0..n)
            .map(|i| {
                let ns = Namespace::create(&format!("ivrc{}", i + 1));
                ports.push(hub.plug(&ns, &instance_ip(i).to_string()));
                ns
            })
            .collect();
        Some(Rig {
            hub,
            _db: db,
            others,
            instances,
            ports,
            store,
        })
    }

    /// The namespace of the host called `role`.
    pub fn ns(&self, role: &str) -> &Namespace {
        &self.other(role).ns
    }

    /// Where the host called `role` runs programs.
    pub fn at(&self, role: &str) -> Host {
        let o = self.other(role);
        Host::inside(&o.ns, o.ip)
    }

    fn other(&self, role: &str) -> &Other {
        self.others
            .iter()
            .find(|o| o.role == role)
            .unwrap_or_else(|| panic!("no host `{role}` in the rig"))
    }

    /// Where instance `i` runs.
    pub fn host(&self, i: usize) -> Host {
        Host::inside(&self.instances[i], instance_ip(i))
    }

    /// Cuts instance `i` off at the hub: nothing it sends arrives, nothing reaches it (needs
    /// `nft`: ask [`Rig::build`] for it).
    pub fn cut_off(&self, i: usize) {
        self.hub.cut(&self.ports[i]);
    }

    /// Ends [`Rig::cut_off`] of instance `i`.
    pub fn reconnect(&self, i: usize) {
        self.hub.mend(&self.ports[i]);
    }

    /// Every call record in the shared store (`ivrc calls --format json`, run from the host
    /// called `role`, which reaches the database).
    pub fn records(&self, role: &str) -> Vec<serde_json::Value> {
        harness::records_at(&self.at(role), &self.store)
    }
}

/// Instance `i`'s address: 198.18.0.4, .5, …
pub fn instance_ip(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(198, 18, 0, 4 + i as u8)
}

/// Instance `i`'s SIP address.
pub fn instance_addr(i: usize) -> SocketAddr {
    SocketAddr::from((instance_ip(i), 5060))
}

/// A fresh directory for instance `i`'s files.
pub fn instance_dir(test: &str, i: usize) -> std::path::PathBuf {
    harness::scratch(&format!("{test}-ivrc{}", i + 1))
}
