//! A trunk reached over TCP (`--trunk sip:HOST:PORT;transport=tcp`): sipp as the provider on
//! one TCP socket (`-t t1`) takes a dialled leg and a registration, and its own message log
//! shows what we sent — Via and Contact over TCP, nothing retransmitted, the far end's BYE
//! and the registrar's answers coming back on our connection.

use super::calls::speak;
use super::harness::{free_port, require, rtp_sink, sipp_uas, sipp_with, Runtime};
use std::time::Duration;

/// The messages sipp logged (`-trace_msg`) in `dir`.
fn sipp_log(dir: &std::path::Path) -> String {
    std::fs::read_dir(dir)
        .expect("the scratch directory")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with("_messages.log"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect()
}

/// The requests of `method` sipp received, each as its text.
fn received<'a>(log: &'a str, method: &str) -> Vec<&'a str> {
    log.split("message received")
        .skip(1)
        .filter_map(|m| m.split_once(":\n").map(|(_, text)| text.trim_start()))
        .filter(|text| text.starts_with(&format!("{method} ")))
        .collect()
}

#[test]
fn a_leg_dialled_through_a_tcp_trunk_is_placed_bridged_and_ended_on_one_connection() {
    require("espeak-ng", "--version");
    let trunk = free_port();
    let trunk_arg = format!("sip:127.0.0.1:{trunk};transport=tcp");
    let rt = Runtime::start(
        "tcp-trunk",
        &["tests/fixtures/runtime/connect.ivr"],
        &["--trunk", &trunk_arg],
    );
    speak(&rt.dir, "Здравствуйте, оператор слушает.", "agent");
    let (caller_sink, caller_heard) = rtp_sink(Duration::from_secs(2), Duration::from_secs(30));
    let (agent_sink, _) = rtp_sink(Duration::from_secs(2), Duration::from_secs(30));
    let agent = sipp_uas(
        &rt.dir,
        trunk,
        "uas_agent.xml",
        agent_sink,
        &["-t", "t1", "-d", "3000", "-trace_msg"],
    );
    std::thread::sleep(Duration::from_millis(300));
    let caller = sipp_with(
        &rt.dir,
        rt.port,
        "uac_wait.xml",
        "connect",
        caller_sink,
        &[],
    );
    let agent = agent.wait_with_output().expect("agent sipp");
    for (who, out) in [("caller", &caller), ("agent", &agent)] {
        assert!(
            out.status.success(),
            "{who} sipp failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let heard = caller_heard.join().expect("sink");
    let dir = rt.dir.clone();
    let (code, stderr) = rt.stop();
    assert_eq!(code, 0, "{stderr}");
    let log = sipp_log(&dir);
    let invites = received(&log, "INVITE");
    assert_eq!(invites.len(), 1, "one INVITE, never retransmitted: {log}");
    assert!(invites[0].contains("Via: SIP/2.0/TCP "), "{}", invites[0]);
    assert!(invites[0].contains(";transport=tcp>"), "{}", invites[0]);
    assert_eq!(received(&log, "ACK").len(), 1, "{log}");
    assert!(
        heard.audible_ssrcs.len() >= 2,
        "the caller heard our prompts and the agent: {heard:?}"
    );
    let r = Runtime::record_of(&dir, "connect");
    let leg = &r["legs"][0];
    assert_eq!(
        (leg["outcome"].as_str(), leg["ended_by"].as_str()),
        (Some("answered"), Some("callee")),
        "the agent's BYE came over our connection: {r:#}"
    );
    assert_eq!(
        r["prompts"],
        serde_json::json!(["Соединяю.", "Оператор завершил разговор."]),
        "{r:#}"
    );
}

#[test]
fn the_runtime_registers_over_tcp() {
    let (_, stderr, dir) =
        super::register::register_at("register-tcp", "secret", Duration::from_millis(5000), true);
    let registered = stderr
        .matches("ivrc: registered at the provider for 3 s")
        .count();
    assert!(registered >= 3, "{registered} registrations: {stderr}");
    assert!(
        stderr.contains("ivrc: unregistered at the provider"),
        "{stderr}"
    );
    // sipp counts its one "call" failed when we close our connection at exit, even after its
    // last 200 (the close arrives before its scenario can end), so its verdict is read from its
    // message log: each registration a challenge and an answer, no request sent twice (every
    // branch new), all over TCP, and every answer a 200 (a wrong digest would get 403).
    let log = sipp_log(&dir);
    let registers = received(&log, "REGISTER");
    assert_eq!(registers.len(), 2 * registered + 2, "{log}");
    let mut branches: Vec<&str> = registers
        .iter()
        .filter_map(|r| r.split("branch=").nth(1))
        .filter_map(|b| b.split([';', '\r', '\n']).next())
        .collect();
    branches.sort_unstable();
    branches.dedup();
    assert_eq!(
        branches.len(),
        registers.len(),
        "a REGISTER was resent: {log}"
    );
    for r in &registers {
        assert!(r.contains("Via: SIP/2.0/TCP "), "{r}");
        assert!(r.contains(";transport=tcp>"), "{r}");
    }
    assert_eq!(
        log.matches("\nSIP/2.0 200 OK").count(),
        registered + 1,
        "{log}"
    );
    assert!(!log.contains("SIP/2.0 403"), "{log}");
}

#[test]
fn a_trunk_transport_the_runtime_does_not_speak_is_refused_before_it_starts() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ivrc"))
        .args(["run", "examples/sum.ivr", "--listen", "127.0.0.1:0"])
        .args(["--trunk", "sip:127.0.0.1:5060;transport=sctp"])
        .output()
        .expect("ivrc runs");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: --trunk `sip:127.0.0.1:5060;transport=sctp`: transport `sctp` is not one the runtime speaks (udp, tcp, tls)\n"
    );
}
