//! `ivrc run` behind NAT, with the provider (Kamailio) on the far side (issue 21). Three network
//! namespaces made by the test (tests/netns/), addresses in 198.18.0.0/15:
//!
//! ```text
//!  lan: ivrc run                router: masquerade (nftables)        wan: the provider
//!  198.19.0.2 ── eth0 ─── lan0 ── 198.19.0.1 │ 198.18.0.1 ── wan0 ─── eth0 ── 198.18.0.2
//!                                 forwards lan→wan; wan→lan only          Kamailio :5060, sipp,
//!                                 what conntrack knows (replies)          the far ends' RTP
//! ```
//!
//! The provider has no route to 198.19.0.0/24: everything it sends to the runtime goes to the
//! router's public address and passes only along a binding the runtime's own packets opened.
//! The runtime registers with `--public-address 198.18.0.1:5060`, so its Contact and SDP name
//! the router; the far ends' RTP is symmetric (sent from the port it is received on, as a
//! provider's media relay does), which is what lets it back through the NAT. Calls go both
//! ways: a caller dials the DID through Kamailio (inbound), and the flow dials an agent through
//! Kamailio as its trunk (outbound); the RTP each far end receives is counted there, and what
//! the runtime receives shows as keys and as audio bridged to the other party.

use super::harness::{require, sipp_on, sipp_uas_on, value, Host, Runtime};
use super::kamailio::{Kamailio, ProviderConfig};
use super::netns::{self, Namespace};
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The runtime's private address.
const LAN: Ipv4Addr = Ipv4Addr::new(198, 19, 0, 2);
/// The router's address on the runtime's side (its default route).
const ROUTER_LAN: Ipv4Addr = Ipv4Addr::new(198, 19, 0, 1);
/// The router's public address: what the provider sees as the runtime.
const PUBLIC: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
/// The provider's address: Kamailio, the callers, the agent.
const PROVIDER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
/// Where the agent (a sipp UAS) listens: the provider's PSTN gateway.
const AGENT_PORT: u16 = 5070;

/// The three namespaces; deleted when dropped (declare it before what runs inside).
struct NatRig {
    lan: Namespace,
    router: Namespace,
    wan: Namespace,
}

impl NatRig {
    /// Builds the rig, or `None` (the reason printed) where namespaces or nftables are missing
    /// outside CI. `udp_timeout` shortens how long the router keeps a UDP binding without
    /// traffic (conntrack's default is 30 s, 120 s once replied to).
    fn build(udp_timeout: Option<u32>) -> Option<NatRig> {
        if !netns::available(&["nft"]) {
            return None;
        }
        let rig = NatRig {
            lan: Namespace::create("lan"),
            router: Namespace::create("nat"),
            wan: Namespace::create("wan"),
        };
        netns::link(
            (&rig.router, "lan0", &ROUTER_LAN.to_string()),
            (&rig.lan, "eth0", &LAN.to_string()),
        );
        netns::link(
            (&rig.router, "wan0", &PUBLIC.to_string()),
            (&rig.wan, "eth0", &PROVIDER.to_string()),
        );
        rig.lan
            .ip(&["route", "add", "default", "via", &ROUTER_LAN.to_string()]);
        rig.router.sysctl("net.ipv4.ip_forward=1");
        rig.router.run(
            "nft",
            &["add table ip nat; \
               add chain ip nat postrouting { type nat hook postrouting priority srcnat; }; \
               add rule ip nat postrouting oifname wan0 masquerade; \
               add table ip filter; \
               add chain ip filter forward { type filter hook forward priority filter; policy drop; }; \
               add rule ip filter forward iifname lan0 oifname wan0 accept; \
               add rule ip filter forward iifname wan0 oifname lan0 ct state established,related accept"],
        );
        if let Some(seconds) = udp_timeout {
            for setting in [
                "nf_conntrack_udp_timeout",
                "nf_conntrack_udp_timeout_stream",
            ] {
                rig.router
                    .sysctl(&format!("net.netfilter.{setting}={seconds}"));
            }
        }
        Some(rig)
    }

    /// Where the runtime runs.
    fn lan_host(&self) -> Host {
        Host::inside(&self.lan, LAN)
    }

    /// Where the provider's side runs.
    fn wan_host(&self) -> Host {
        Host::inside(&self.wan, PROVIDER)
    }
}

/// What a far end sends once the runtime's first packet arrives.
#[derive(Clone, Copy)]
enum Speak {
    /// RFC 4733 events for these keys (payload type 101), 400 ms apart; a space waits a second.
    Keys(&'static str),
    /// μ-law packets whose every byte is this value, every 20 ms until stopped: a mark the other
    /// party can tell from anything else.
    Mark(u8),
}

/// What a far end received from the runtime.
#[derive(Debug, Default)]
struct Heard {
    /// RTP packets.
    packets: usize,
    /// Audio packets with sound in them (not only silence codes).
    audible: usize,
    /// Audio packets carrying the other party's [`Speak::Mark`], relayed by a bridge.
    marked: usize,
    /// Where they came from (the router's public address and the runtime's port).
    from: Option<SocketAddr>,
}

/// A far end's RTP on the provider's side: one port, the runtime's packets counted, and what it
/// says sent back to where they came from (symmetric RTP). Stopped by [`FarEnd::finish`].
struct FarEnd {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Heard>,
}

impl FarEnd {
    /// Starts listening on a port of the provider's address; `other_mark` is the mark of the
    /// party it may hear through a bridge.
    fn start(rig: &NatRig, speak: Speak, other_mark: Option<u8>) -> FarEnd {
        let socket = rig
            .wan
            .udp(SocketAddr::from((PROVIDER, 0)))
            .expect("an RTP port on the provider's side");
        socket
            .set_read_timeout(Some(Duration::from_millis(5)))
            .expect("read timeout");
        let port = socket.local_addr().expect("its address").port();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = std::thread::spawn(move || far_end(&socket, speak, other_mark, &stopped));
        FarEnd { port, stop, thread }
    }

    /// Stops it; what it heard.
    fn finish(self) -> Heard {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().expect("the far end's thread")
    }
}

/// The far end's loop, bounded to 60 s.
fn far_end(socket: &UdpSocket, speak: Speak, other_mark: Option<u8>, stop: &AtomicBool) -> Heard {
    let started = Instant::now();
    let mut heard = Heard::default();
    let mut latched: Option<Instant> = None;
    let mut plan = match speak {
        Speak::Keys(keys) => key_packets(keys),
        Speak::Mark(_) => Vec::new(),
    };
    plan.reverse();
    let mut sent = 0u32;
    let mut buf = [0u8; 2048];
    while !stop.load(Ordering::SeqCst) && started.elapsed() < Duration::from_secs(60) {
        if let Ok((n, from)) = socket.recv_from(&mut buf) {
            if n >= 12 {
                heard.packets += 1;
                heard.from.get_or_insert(from);
                latched.get_or_insert_with(Instant::now);
                let payload = &buf[12..n];
                if buf[1] & 0x7f == 0 {
                    if Some(payload[0]) == other_mark && payload.iter().all(|&b| b == payload[0]) {
                        heard.marked += 1;
                    }
                    if payload
                        .iter()
                        .any(|&b| !matches!(b, 0xff | 0x7f | 0xfe | 0x7e))
                    {
                        heard.audible += 1;
                    }
                }
            }
        }
        let (Some(since), Some(to)) = (latched, heard.from) else {
            continue;
        };
        match speak {
            Speak::Keys(_) => {
                while plan.last().is_some_and(|(at, _)| since.elapsed() >= *at) {
                    let (_, packet) = plan.pop().expect("a planned packet");
                    let _ = socket.send_to(&packet, to);
                }
            }
            Speak::Mark(mark) => {
                // One packet per 20 ms since the first one heard.
                while since.elapsed() >= Duration::from_millis(20) * sent {
                    let mut packet = rtp_header(0, sent == 0, sent as u16, sent * 160);
                    packet.extend([mark; 160]);
                    let _ = socket.send_to(&packet, to);
                    sent += 1;
                }
            }
        }
    }
    heard
}

/// An RTP header: version 2, `payload_type`, the marker bit, our fixed SSRC.
fn rtp_header(payload_type: u8, marker: bool, sequence: u16, timestamp: u32) -> Vec<u8> {
    let mut header = vec![0x80, payload_type | if marker { 0x80 } else { 0 }];
    header.extend(sequence.to_be_bytes());
    header.extend(timestamp.to_be_bytes());
    header.extend(0x1c0f_fee5_u32.to_be_bytes());
    header
}

/// The RFC 4733 packets for `keys`, each with when to send it after the first packet heard: a
/// second of quiet first, then per key five packets 20 ms apart (the marker on the first, the
/// last three with the end bit, as a phone repeats the end), the next key 400 ms later.
fn key_packets(keys: &str) -> Vec<(Duration, Vec<u8>)> {
    let mut plan = Vec::new();
    let mut at = Duration::from_secs(1);
    let mut sequence = 0u16;
    for (n, key) in keys.chars().enumerate() {
        let event = match key {
            '0'..='9' => key as u8 - b'0',
            '*' => 10,
            '#' => 11,
            _ => {
                at += Duration::from_secs(1);
                continue;
            }
        };
        let timestamp = 8000 * (n as u32 + 1);
        for step in 0..5u16 {
            let end = step >= 2;
            let duration = 160 * (step.min(2) + 1);
            let mut packet = rtp_header(101, step == 0, sequence, timestamp);
            packet.extend([event, if end { 0x80 } else { 0 } | 10]);
            packet.extend(duration.to_be_bytes());
            plan.push((at + Duration::from_millis(20) * u32::from(step), packet));
            sequence = sequence.wrapping_add(1);
        }
        at += Duration::from_millis(400);
    }
    plan
}

/// Kamailio in the provider's namespace, registrations up to 60 s, its PSTN gateway the agent.
fn provider(test: &str, rig: &NatRig) -> Option<Kamailio> {
    Kamailio::start_in(
        test,
        ProviderConfig {
            min_expires: 2,
            max_expires: 60,
            default_expires: 60,
            pstn: Some(SocketAddr::from((PROVIDER, AGENT_PORT))),
            ..ProviderConfig::default()
        },
        &rig.wan,
        PROVIDER,
    )
}

/// `ivrc run FLOW` in the private network, registered at `k` for 60 s with the router's
/// public address in its Contact and SDP, the DID routed to `flow`, plus `extra`.
fn behind_nat(name: &str, rig: &NatRig, k: &Kamailio, flow: &str, extra: &[&str]) -> Runtime {
    let file = match flow {
        "sum" => "examples/sum.ivr",
        _ => "tests/fixtures/runtime/connect.ivr",
    };
    let route = format!("{}={flow}", k.config().did);
    let public = SocketAddr::from((PUBLIC, 5060)).to_string();
    let trunk = k.uri();
    let mut args = vec![
        "--trunk",
        &trunk,
        "--trunk-user",
        &k.config().user,
        "--trunk-password",
        &k.config().password,
        "--register",
        "--register-expires",
        "60",
        "--route",
        &route,
        "--public-address",
        &public,
        "--symmetric-rtp",
    ];
    args.extend(extra);
    Runtime::start_on(name, &rig.lan_host(), 5060, &[file], &args)
}

/// The line Kamailio logs for each registration it saved.
const SAVED: &str = "harness: REGISTER ivrc saved";

/// Calls the DID through the provider with media at `far`'s port; sipp's output.
fn call_the_did(rig: &NatRig, rt: &Runtime, k: &Kamailio, far: &FarEnd) -> std::process::Output {
    sipp_on(
        &rig.wan_host(),
        &rt.dir,
        k.addr(),
        "tests/kamailio/call_did_wait.xml",
        &k.config().did,
        far.port,
        &[],
    )
}

#[test]
fn a_call_through_the_nat_reaches_the_flow_and_its_keys_come_back_through() {
    require("espeak-ng", "--version");
    // The router forgets a quiet binding after 4 s; keep-alives every second hold it open
    // across a 7 s wait, with no registration refresh in between (60 s).
    let Some(rig) = NatRig::build(Some(4)) else {
        return;
    };
    let Some(k) = provider("nat_sum", &rig) else {
        return;
    };
    let rt = behind_nat("nat_sum", &rig, &k, "sum", &["--keepalive", "1"]);
    let saved = k.wait_for_log(SAVED, 1, Duration::from_secs(10));
    assert!(
        saved[0].contains("sip:ivrc@198.18.0.1:5060"),
        "the Contact names the public address: {saved:?}"
    );
    std::thread::sleep(Duration::from_secs(7));
    let caller = FarEnd::start(&rig, Speak::Keys("12# 30#"), None);
    let out = call_the_did(&rig, &rt, &k, &caller);
    let heard = caller.finish();
    assert!(
        out.status.success(),
        "the DID called through the NAT: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        k.log()
    );
    let dir = rt.dir.clone();
    let (code, stderr) = rt.stop();
    assert_eq!(code, 0, "{stderr}");
    // The prompts came out through the router (its public address, the runtime's own port).
    assert!(heard.audible >= 50, "{heard:?}");
    assert_eq!(heard.from.map(|a| a.ip()), Some(PUBLIC.into()), "{heard:?}");
    let r = Runtime::record_of(&dir, "sum");
    assert_eq!(r["keys"], "12#30#", "{r:#}");
    assert_eq!(value(&r, "sum"), Some("42"));
    assert_eq!(
        k.log_lines("Expires 60").len(),
        1,
        "held open with no refresh: {}",
        k.log()
    );
    assert!(
        stderr.contains("ivrc: unregistered at the provider"),
        "{stderr}"
    );
}

#[test]
fn without_keep_alives_the_nat_forgets_the_runtime_and_calls_stop_arriving() {
    // The control of the test above: the same rig and wait, keep-alives off.
    let Some(rig) = NatRig::build(Some(4)) else {
        return;
    };
    let Some(k) = provider("nat_quiet", &rig) else {
        return;
    };
    let rt = behind_nat("nat_quiet", &rig, &k, "sum", &["--keepalive", "0"]);
    k.wait_for_log(SAVED, 1, Duration::from_secs(10));
    std::thread::sleep(Duration::from_secs(7));
    let caller = FarEnd::start(&rig, Speak::Keys(""), None);
    let out = call_the_did(&rig, &rt, &k, &caller);
    let heard = caller.finish();
    assert!(
        !out.status.success(),
        "the router let an INVITE in along a forgotten binding: {}",
        k.log()
    );
    assert_eq!(heard.packets, 0, "{heard:?}");
    let dir = rt.dir.clone();
    rt.stop();
    assert!(
        Runtime::calls(&dir).is_empty(),
        "no call reached the runtime"
    );
    assert_eq!(
        k.log_lines("harness: INVITE for DID 74950000001 relayed to sip:ivrc@198.18.0.1:5060")
            .len(),
        1,
        "{}",
        k.log()
    );
}

#[test]
fn an_agent_dialled_through_the_nat_is_bridged_with_audio_both_ways() {
    require("espeak-ng", "--version");
    let Some(rig) = NatRig::build(None) else {
        return;
    };
    let Some(k) = provider("nat_bridge", &rig) else {
        return;
    };
    let rt = behind_nat("nat_bridge", &rig, &k, "connect", &[]);
    k.wait_for_log(SAVED, 1, Duration::from_secs(10));
    const CALLER_MARK: u8 = 0x21;
    const AGENT_MARK: u8 = 0x42;
    let agent_media = FarEnd::start(&rig, Speak::Mark(AGENT_MARK), Some(CALLER_MARK));
    let agent = sipp_uas_on(
        &rig.wan_host(),
        &rt.dir,
        AGENT_PORT,
        "tests/kamailio/agent.xml",
        agent_media.port,
        &["-d", "4000"],
    );
    let caller_media = FarEnd::start(&rig, Speak::Mark(CALLER_MARK), Some(AGENT_MARK));
    let caller = call_the_did(&rig, &rt, &k, &caller_media);
    let agent = agent.wait_with_output().expect("the agent's sipp");
    let caller_heard = caller_media.finish();
    let agent_heard = agent_media.finish();
    assert!(
        caller.status.success(),
        "caller: {}\n{}",
        String::from_utf8_lossy(&caller.stderr),
        k.log()
    );
    assert!(
        agent.status.success(),
        "agent: {}\n{}",
        String::from_utf8_lossy(&agent.stderr),
        k.log()
    );
    let dir = rt.dir.clone();
    let (code, stderr) = rt.stop();
    assert_eq!(code, 0, "{stderr}");
    // Each party heard the other for most of the agent's 4 s, through the runtime and the NAT
    // twice (caller → runtime → agent, agent → runtime → caller).
    assert!(caller_heard.marked >= 100, "caller: {caller_heard:?}");
    assert!(agent_heard.marked >= 100, "agent: {agent_heard:?}");
    for heard in [&caller_heard, &agent_heard] {
        assert_eq!(heard.from.map(|a| a.ip()), Some(PUBLIC.into()), "{heard:?}");
    }
    let r = Runtime::record_of(&dir, "connect");
    assert_eq!(r["legs"][0]["outcome"], "answered", "{r:#}");
    assert_eq!(
        k.log_lines("harness: INVITE to +74950000000 from ivrc relayed")
            .len(),
        1,
        "{}",
        k.log()
    );
}
