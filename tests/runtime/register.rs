//! `ivrc run --register` against sipp as a provider's registrar (tests/sip/uas_registrar.xml):
//! every REGISTER challenged and the answer checked by sipp's own digest code, a 3-second
//! expiry that the runtime must refresh, the unregistration at shutdown; and a wrong
//! password refused once, not retried. (Kamailio as the registrar is issue 21's next test.)

use super::harness::{free_port, sipp_uas, Runtime};
use std::time::Duration;

/// `ivrc run` registering `password` at a sipp registrar; sipp's output and ivrc's stderr.
fn register_with(name: &str, password: &str, wait: Duration) -> (std::process::Output, String) {
    let registrar = free_port();
    let rt_dir = super::harness::scratch(name);
    let sipp = sipp_uas(&rt_dir, registrar, "uas_registrar.xml", free_port(), &[]);
    // sipp binds before it reads the scenario; give it a moment.
    std::thread::sleep(Duration::from_millis(300));
    let trunk = format!("sip:127.0.0.1:{registrar}");
    let rt = Runtime::start_in(
        rt_dir,
        &["examples/sum.ivr"],
        &[
            "--trunk",
            &trunk,
            "--trunk-user",
            "ivrc",
            "--trunk-password",
            password,
            "--register",
            "--register-expires",
            "3",
        ],
    );
    std::thread::sleep(wait);
    let (_, stderr) = rt.stop();
    let out = sipp.wait_with_output().expect("sipp ends");
    (out, stderr)
}

#[test]
fn the_runtime_registers_refreshes_and_unregisters() {
    // Registered at 0 s, refreshed at about 2 s and 4 s (three quarters of 3 s), stopped at
    // 5 s, a second before the next refresh.
    let (sipp, stderr) = register_with("register_ok", "secret", Duration::from_millis(5000));
    assert!(
        sipp.status.success(),
        "sipp: {}\n{}\nivrc: {stderr}",
        String::from_utf8_lossy(&sipp.stdout),
        String::from_utf8_lossy(&sipp.stderr)
    );
    let registered = stderr
        .matches("ivrc: registered at the provider for 3 s")
        .count();
    assert!(registered >= 3, "{registered} registrations: {stderr}");
    assert!(
        stderr.contains("ivrc: unregistered at the provider"),
        "{stderr}"
    );
    assert!(!stderr.contains("registration failed"), "{stderr}");
}

#[test]
fn a_wrong_password_is_a_clear_error_not_a_loop() {
    let (sipp, stderr) = register_with("register_bad", "wrong", Duration::from_millis(3500));
    assert!(
        sipp.status.success(),
        "sipp saw a REGISTER after its 403: {}\nivrc: {stderr}",
        String::from_utf8_lossy(&sipp.stderr)
    );
    assert_eq!(
        stderr
            .matches("ivrc: registration refused: 403 Forbidden")
            .count(),
        1,
        "{stderr}"
    );
    assert!(stderr.contains("not trying again"), "{stderr}");
    assert!(!stderr.contains("registered at the provider"), "{stderr}");
}
