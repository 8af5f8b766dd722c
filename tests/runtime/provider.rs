//! `ivrc run` behind a real provider: Kamailio (tests/kamailio/, Debian's package, configured
//! by the test as a registrar with digest authentication and a DID routed to the registered
//! contact). The runtime registers, keeps the registration fresh across short expiries, a
//! caller (sipp) dials the DID through Kamailio and the sum flow answers; a wrong password is
//! one clear error; a Kamailio restart (its registrations lost) is followed by a new
//! registration; SHA-256 digest (RFC 8760) works as MD5 does.

use super::harness::{require, rtp_sink, sipp, value, Runtime};
use super::kamailio::{DigestAlgorithm, Kamailio, ProviderConfig};
use std::time::Duration;

/// A provider whose registrations last 4 s (refreshed by the runtime every 3 s).
fn provider(test: &str, algorithm: DigestAlgorithm) -> Option<Kamailio> {
    Kamailio::start(
        test,
        ProviderConfig {
            min_expires: 2,
            max_expires: 4,
            default_expires: 4,
            algorithm,
            ..ProviderConfig::default()
        },
    )
}

/// `ivrc run examples/sum.ivr` registered at `k` with `password`, the DID routed to `sum`.
fn registered(name: &str, k: &Kamailio, password: &str) -> Runtime {
    let did = format!("{}=sum", k.config().did);
    Runtime::start(
        name,
        &["examples/sum.ivr"],
        &[
            "--trunk",
            &k.uri(),
            "--trunk-user",
            &k.config().user,
            "--trunk-password",
            password,
            "--register",
            "--route",
            &did,
        ],
    )
}

const SAVED: &str = "harness: REGISTER ivrc saved";

/// A caller (sipp) dials `k`'s DID and keys the sum through it to `rt`, registered there;
/// then `rt` stops, having registered for 4 s and unregistered. The call's record and `rt`'s
/// stderr.
pub fn sum_through_provider(rt: Runtime, k: &Kamailio) -> (serde_json::Value, String) {
    let (sink, received) = rtp_sink(Duration::from_secs(2), Duration::from_secs(40));
    let out = sipp(&rt.dir, k.port(), "uac_sum.xml", &k.config().did, sink);
    assert!(
        out.status.success(),
        "sipp through Kamailio: {}\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        k.log()
    );
    let _ = received.join();
    let dir = rt.dir.clone();
    let (code, stderr) = rt.stop();
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("ivrc: registered at the provider for 4 s"),
        "{stderr}"
    );
    assert!(
        stderr.contains("ivrc: unregistered at the provider"),
        "{stderr}"
    );
    let r = Runtime::record_of(&dir, "sum");
    assert_eq!(r["keys"], "12#30#", "{r:#}");
    assert_eq!(value(&r, "sum"), Some("42"), "{r:#}");
    (r, stderr)
}

#[test]
fn a_call_to_our_number_through_the_provider_reaches_the_flow() {
    require("espeak-ng", "--version");
    let Some(k) = provider("provider_call", DigestAlgorithm::Md5) else {
        return;
    };
    let rt = registered("provider_call", &k, &k.config().password.clone());
    // Registered, then refreshed across two expiries of 4 s; `ivrc calls` tells meanwhile.
    k.wait_for_log(SAVED, 3, Duration::from_secs(15));
    let status = Runtime::calls_text(&rt.dir);
    assert!(
        status.contains(&format!(
            "registration sip:ivrc@127.0.0.1:{}: registered at 20",
            k.port()
        )) && status.contains(", the binding holds until 20"),
        "{status}"
    );
    let did = k.config().did.clone();
    sum_through_provider(rt, &k);
    assert!(
        k.log().contains(&format!("harness: INVITE for DID {did}")),
        "{}",
        k.log()
    );
}

#[test]
fn a_wrong_password_at_the_provider_is_one_clear_error() {
    let Some(k) = provider("provider_wrong", DigestAlgorithm::Md5) else {
        return;
    };
    let rt = registered("provider_wrong", &k, "not-the-password");
    std::thread::sleep(Duration::from_secs(3));
    let dir = rt.dir.clone();
    let (_, stderr) = rt.stop();
    let status = Runtime::calls_text(&dir);
    assert!(
        status.contains(&format!(
            "registration sip:ivrc@127.0.0.1:{}: refused at 20",
            k.port()
        )) && status.contains(": 403 Forbidden: the provider refuses the account `ivrc`"),
        "{status}"
    );
    assert_eq!(
        stderr
            .matches("ivrc: registration refused: 403 Forbidden")
            .count(),
        1,
        "{stderr}"
    );
    assert_eq!(
        k.log_lines("harness: REGISTER").len(),
        2,
        "one try, one answer to the challenge:\n{}",
        k.log()
    );
}

#[test]
fn after_a_provider_restart_the_runtime_registers_again() {
    let Some(mut k) = provider("provider_restart", DigestAlgorithm::Sha256) else {
        return;
    };
    let rt = registered("provider_restart", &k, &k.config().password.clone());
    let before = k.wait_for_log(SAVED, 1, Duration::from_secs(10)).len();
    k.restart();
    // The restart lost the binding; the next refresh (within 3 s) makes it again.
    k.wait_for_log(SAVED, before + 1, Duration::from_secs(10));
    let (_, stderr) = rt.stop();
    assert!(
        !stderr.contains("refused"),
        "SHA-256 digest is answered: {stderr}"
    );
}

#[test]
fn outbound_calls_go_through_the_provider_as_the_trunk() {
    require("espeak-ng", "--version");
    let agent_port = super::harness::free_port();
    let Some(k) = Kamailio::start(
        "provider_out",
        ProviderConfig {
            pstn: Some(std::net::SocketAddr::from(([127, 0, 0, 1], agent_port))),
            ..ProviderConfig::default()
        },
    ) else {
        return;
    };
    let rt = Runtime::start(
        "provider_out",
        &["tests/fixtures/runtime/connect.ivr"],
        &[
            "--trunk",
            &k.uri(),
            "--trunk-user",
            &k.config().user,
            "--trunk-password",
            &k.config().password,
        ],
    );
    super::calls::speak(&rt.dir, "Алло, я клиент.", "phrase");
    super::calls::speak(&rt.dir, "Оператор слушает.", "agent");
    let (caller_sink, _caller_heard) = rtp_sink(Duration::from_secs(2), Duration::from_secs(40));
    let (agent_sink, _agent_heard) = rtp_sink(Duration::from_secs(2), Duration::from_secs(40));
    let agent = super::harness::sipp_uas(
        &rt.dir,
        agent_port,
        "uas_agent.xml",
        agent_sink,
        &["-d", "4000"],
    );
    let caller = super::harness::sipp_with(
        &rt.dir,
        rt.port,
        "uac_bridge.xml",
        "connect",
        caller_sink,
        &[],
    );
    let agent = agent.wait_with_output().expect("agent sipp");
    assert!(
        caller.status.success(),
        "caller: {}",
        String::from_utf8_lossy(&caller.stderr)
    );
    assert!(
        agent.status.success(),
        "agent behind Kamailio: {}\n{}",
        String::from_utf8_lossy(&agent.stderr),
        k.log()
    );
    let dir = rt.dir.clone();
    let (code, stderr) = rt.stop();
    assert_eq!(code, 0, "{stderr}");
    let r = Runtime::record_of(&dir, "connect");
    assert_eq!(r["legs"][0]["outcome"], "answered", "{r:#}");
    // Challenged (407), answered with the account's credentials, relayed to the gateway.
    assert_eq!(
        k.log_lines("harness: INVITE from ivrc not authenticated")
            .len(),
        1,
        "{}",
        k.log()
    );
    assert_eq!(
        k.log_lines("harness: INVITE to +74950000000 from ivrc relayed")
            .len(),
        1,
        "{}",
        k.log()
    );
}
