//! SIP over TLS (issue 25): certificates made at test time by rcgen (a throwaway CA, a server
//! certificate for 127.0.0.1 and localhost, one for another name, an expired one, client
//! certificates from the CA and from another CA; no key is committed). A bare TLS client of
//! the test's own (rustls) talks to `ivrc run --tls-cert …`, a bare TLS server of the test's
//! own stands as a trunk whose certificate is wrong, Kamailio with its tls module is the
//! provider over TLS, and baresip calls the sum flow over TLS.

use super::harness::{free_port, scratch, Runtime};
use super::kamailio::{Kamailio, ProviderConfig, ProviderTls};
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// A TCP port on 127.0.0.1 free right now.
pub fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free TCP port")
}

/// A certificate authority made for one test.
pub struct Ca {
    cert: Certificate,
    key: KeyPair,
}

impl Ca {
    /// A new CA named `name`.
    pub fn new(name: &str) -> Ca {
        let key = KeyPair::generate().expect("a key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let cert = params.self_signed(&key).expect("a CA certificate");
        Ca { cert, key }
    }

    /// Writes the CA's certificate as `dir/NAME.pem`; its path.
    pub fn write(&self, dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(format!("{name}.pem"));
        std::fs::write(&path, self.cert.pem()).expect("the CA written");
        path
    }

    /// A certificate for `names` (DNS names or IP addresses) signed by this CA, for a server
    /// or a client, expired when `expired`; written as `dir/NAME.crt` and `dir/NAME.key`.
    pub fn issue(
        &self,
        dir: &Path,
        name: &str,
        names: &[&str],
        client: bool,
        expired: bool,
    ) -> Pem {
        let key = KeyPair::generate().expect("a key");
        let names: Vec<String> = names.iter().map(|n| (*n).to_string()).collect();
        let mut params = CertificateParams::new(names).expect("params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![if client {
            ExtendedKeyUsagePurpose::ClientAuth
        } else {
            ExtendedKeyUsagePurpose::ServerAuth
        }];
        if expired {
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        }
        let cert = params
            .signed_by(&key, &self.cert, &self.key)
            .expect("a certificate");
        let pem = Pem {
            cert: dir.join(format!("{name}.crt")),
            key: dir.join(format!("{name}.key")),
        };
        std::fs::write(&pem.cert, cert.pem()).expect("written");
        std::fs::write(&pem.key, key.serialize_pem()).expect("written");
        pem
    }
}

/// A certificate and its key, as PEM files.
pub struct Pem {
    /// The certificate.
    pub cert: PathBuf,
    /// Its key.
    pub key: PathBuf,
}

impl Pem {
    fn chain(&self) -> Vec<CertificateDer<'static>> {
        CertificateDer::pem_file_iter(&self.cert)
            .expect("a PEM file")
            .map(|c| c.expect("a certificate"))
            .collect()
    }

    fn private_key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::from_pem_file(&self.key).expect("a key")
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A TLS client configuration trusting `ca`, presenting `client` when given.
fn client_config(ca: &Path, client: Option<&Pem>) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(ca).expect("the CA") {
        roots.add(c.expect("a certificate")).expect("a root");
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots);
    Arc::new(match client {
        Some(p) => builder
            .with_client_auth_cert(p.chain(), p.private_key())
            .expect("a client certificate"),
        None => builder.with_no_client_auth(),
    })
}

/// A TLS connection of the test to 127.0.0.1:`port`, its handshake done (or its error).
fn connect(
    port: u16,
    config: Arc<rustls::ClientConfig>,
) -> Result<rustls::StreamOwned<rustls::ClientConnection, TcpStream>, std::io::Error> {
    let sock = TcpStream::connect(("127.0.0.1", port))?;
    sock.set_read_timeout(Some(Duration::from_secs(5)))?;
    let name = ServerName::try_from("127.0.0.1").expect("a name");
    let conn = rustls::ClientConnection::new(config, name).map_err(std::io::Error::other)?;
    let mut tls = rustls::StreamOwned::new(conn, sock);
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock)?;
    }
    // TLS 1.3 reports a refused client certificate only after the handshake: a read sees it.
    Ok(tls)
}

/// Reads one SIP message (head and Content-Length body) from `r`.
fn read_message(r: &mut impl Read) -> std::io::Result<String> {
    let mut bytes = Vec::new();
    let mut b = [0u8; 1];
    loop {
        if r.read(&mut b)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        bytes.push(b[0]);
        if bytes == b"\r\n" {
            bytes.clear(); // a keep-alive pong
        }
        if bytes.ends_with(b"\r\n\r\n") {
            break;
        }
    }
    let head = String::from_utf8_lossy(&bytes).to_string();
    let length = head
        .lines()
        .find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    r.read_exact(&mut body)?;
    Ok(head + &String::from_utf8_lossy(&body))
}

/// An OPTIONS request for `uri` as a TLS client at `from` sends it.
fn options(uri: &str, from: u16, branch: &str, transport: &str) -> String {
    format!(
        "OPTIONS {uri} SIP/2.0\r\n\
         Via: SIP/2.0/{transport} 127.0.0.1:{from};branch=z9hG4bK{branch}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:probe@127.0.0.1>;tag=t{branch}\r\n\
         To: <{uri}>\r\n\
         Call-ID: {branch}@tls-test\r\n\
         CSeq: 1 OPTIONS\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

/// The runtime listening on TLS with `server` at a free port; and that port.
fn tls_runtime(name: &str, server: &Pem, extra: &[&str]) -> (Runtime, u16) {
    let tls_port = free_tcp_port();
    let listen = format!("127.0.0.1:{tls_port}");
    let cert = server.cert.display().to_string();
    let key = server.key.display().to_string();
    let mut args = vec![
        "--tls-cert",
        &cert,
        "--tls-key",
        &key,
        "--tls-listen",
        &listen,
    ];
    args.extend_from_slice(extra);
    (Runtime::start(name, &["examples/sum.ivr"], &args), tls_port)
}

#[test]
fn a_tls_client_is_answered_on_its_connection_and_sips_needs_tls() {
    let dir = scratch("tls-pki-listen");
    let ca = Ca::new("ivrc test CA");
    let ca_pem = ca.write(&dir, "ca");
    let server = ca.issue(&dir, "server", &["127.0.0.1", "localhost"], false, false);
    let (rt, tls_port) = tls_runtime("tls-listen", &server, &[]);
    let mut tls = connect(tls_port, client_config(&ca_pem, None)).expect("a TLS connection");
    let me = tls.sock.local_addr().expect("addr").port();
    for (uri, branch) in [("sip:sum@127.0.0.1", "a1"), ("sips:sum@127.0.0.1", "a2")] {
        tls.write_all(options(uri, me, branch, "TLS").as_bytes())
            .expect("sent");
        let answer = read_message(&mut tls).expect("an answer on the connection");
        assert!(answer.starts_with("SIP/2.0 200 OK\r\n"), "{uri}: {answer}");
        assert!(answer.contains("Via: SIP/2.0/TLS "), "{answer}");
    }
    // A sips: request-URI over UDP cannot be served as asked (RFC 5630): 480.
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").expect("a socket");
    udp.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let from = udp.local_addr().expect("addr").port();
    udp.send_to(
        options("sips:sum@127.0.0.1", from, "u1", "UDP").as_bytes(),
        ("127.0.0.1", rt.port),
    )
    .expect("sent");
    let mut buf = [0u8; 4096];
    let n = udp.recv(&mut buf).expect("an answer over UDP");
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(answer.starts_with("SIP/2.0 480 "), "{answer}");
    // A peer's double-CRLF ping gets its pong, and the connection stays usable.
    tls.write_all(b"\r\n\r\n").expect("a ping");
    let mut pong = [0u8; 2];
    tls.read_exact(&mut pong).expect("a pong");
    assert_eq!(&pong, b"\r\n");
    drop(tls);
    let (code, stderr) = rt.stop();
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn with_a_client_ca_only_clients_it_signed_are_served() {
    let dir = scratch("tls-pki-mutual");
    let ca = Ca::new("ivrc test CA");
    let ca_pem = ca.write(&dir, "ca");
    let other = Ca::new("another CA");
    let server = ca.issue(&dir, "server", &["127.0.0.1"], false, false);
    let good = ca.issue(&dir, "client", &["client.test"], true, false);
    let stranger = other.issue(&dir, "stranger", &["client.test"], true, false);
    let client_ca = ca_pem.display().to_string();
    let (rt, tls_port) = tls_runtime("tls-mutual", &server, &["--tls-client-ca", &client_ca]);
    // Another CA's client: the handshake fails (TLS 1.3 tells the client at its first read).
    let refused = connect(tls_port, client_config(&ca_pem, Some(&stranger))).and_then(|mut t| {
        let me = t.sock.local_addr()?.port();
        t.write_all(options("sip:sum@127.0.0.1", me, "m1", "TLS").as_bytes())?;
        read_message(&mut t)
    });
    assert!(
        refused.is_err(),
        "served without the right certificate: {refused:?}"
    );
    // No certificate at all: refused too.
    let bare = connect(tls_port, client_config(&ca_pem, None)).and_then(|mut t| {
        let me = t.sock.local_addr()?.port();
        t.write_all(options("sip:sum@127.0.0.1", me, "m2", "TLS").as_bytes())?;
        read_message(&mut t)
    });
    assert!(bare.is_err(), "served without a certificate: {bare:?}");
    // The CA's client is served.
    let mut tls = connect(tls_port, client_config(&ca_pem, Some(&good))).expect("a handshake");
    let me = tls.sock.local_addr().expect("addr").port();
    tls.write_all(options("sip:sum@127.0.0.1", me, "m3", "TLS").as_bytes())
        .expect("sent");
    let answer = read_message(&mut tls).expect("an answer");
    assert!(answer.starts_with("SIP/2.0 200 OK\r\n"), "{answer}");
    drop(tls);
    let (code, stderr) = rt.stop();
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("TLS handshake with 127.0.0.1:") && stderr.contains("failed: "),
        "the refusals are logged: {stderr}"
    );
}

/// A TLS server of the test on a free port presenting `pem`: what each connection's client
/// sent in clear (empty when the handshake failed), until `connections` have come.
fn trunk_server(pem: &Pem, connections: usize) -> (u16, std::thread::JoinHandle<Vec<String>>) {
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(pem.chain(), pem.private_key())
        .expect("a server config");
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").expect("a listener");
    let port = listener.local_addr().expect("addr").port();
    let handle = std::thread::spawn(move || {
        let mut got = Vec::new();
        for _ in 0..connections {
            let Ok((sock, _)) = listener.accept() else {
                break;
            };
            sock.set_read_timeout(Some(Duration::from_secs(5)))
                .expect("timeout");
            let conn = rustls::ServerConnection::new(config.clone()).expect("a connection");
            let mut tls = rustls::StreamOwned::new(conn, sock);
            got.push(read_message(&mut tls).unwrap_or_default());
        }
        got
    });
    (port, handle)
}

/// The runtime registering at a TLS trunk on `port` whose CA is `ca` (none: the host's CA
/// store, which is `SSL_CERT_FILE` = `host_store` when given, else the system's with
/// SSL_CERT_FILE and SSL_CERT_DIR unset); its stderr after a few seconds.
fn register_over_tls(name: &str, port: u16, ca: Option<&Path>, host_store: Option<&str>) -> String {
    let trunk = format!("sips:127.0.0.1:{port}");
    let ca = ca.map(|c| c.display().to_string());
    let mut args = super::register::registering_at(&trunk);
    if let Some(ca) = &ca {
        args.extend(["--trunk-ca", ca.as_str()]);
    }
    let env = [("SSL_CERT_FILE", host_store), ("SSL_CERT_DIR", None)];
    let rt = Runtime::start_env(name, &["examples/sum.ivr"], &args, &env);
    std::thread::sleep(Duration::from_secs(2));
    let (_, stderr) = rt.stop();
    stderr
}

#[test]
fn a_trunk_with_a_wrong_certificate_is_refused_with_the_reason() {
    let dir = scratch("tls-pki-trunk");
    let ca = Ca::new("ivrc test CA");
    let ca_pem = ca.write(&dir, "ca");
    let other = Ca::new("another CA");
    let cases = [
        (
            "wrong-name",
            ca.issue(&dir, "wrong-name", &["sip.example.com"], false, false),
            Some(ca_pem.as_path()),
            "the certificate is not for this host",
        ),
        (
            "expired",
            ca.issue(&dir, "expired", &["127.0.0.1"], false, true),
            Some(ca_pem.as_path()),
            "the certificate has expired",
        ),
        (
            "unknown-ca",
            other.issue(&dir, "unknown-ca", &["127.0.0.1"], false, false),
            Some(ca_pem.as_path()),
            "the certificate is signed by an unknown CA",
        ),
        (
            "test-ca-not-in-the-host-store",
            ca.issue(&dir, "no-trunk-ca", &["127.0.0.1"], false, false),
            None,
            "the certificate is signed by an unknown CA",
        ),
    ];
    for (name, pem, trust, reason) in cases {
        let (port, server) = trunk_server(&pem, 1);
        let stderr = register_over_tls(&format!("tls-trunk-{name}"), port, trust, None);
        let expected = format!(
            "ivrc: no TLS connection to the trunk at 127.0.0.1:{port}: the TLS handshake failed: {reason} ("
        );
        assert!(
            stderr.contains(&expected),
            "{name}: {expected}\nnot in: {stderr}"
        );
        let got = server.join().expect("the server");
        assert_eq!(got, vec![String::new()], "{name}: nothing sent in clear");
    }
    // The right certificate: the REGISTER comes over TLS, Via and Contact saying so.
    let good = ca.issue(&dir, "good", &["127.0.0.1"], false, false);
    let (port, server) = trunk_server(&good, 1);
    let stderr = register_over_tls("tls-trunk-good", port, Some(&ca_pem), None);
    let got = server.join().expect("the server");
    assert!(
        got[0].starts_with("REGISTER sip:127.0.0.1:"),
        "{got:?}\n{stderr}"
    );
    assert!(got[0].contains("Via: SIP/2.0/TLS "), "{got:?}");
    assert!(got[0].contains(";alias"), "{got:?}");
    assert!(got[0].contains(";transport=tls>"), "{got:?}");
    assert!(!stderr.contains("handshake failed"), "{stderr}");
    // Without --trunk-ca, the host's CA store decides: with the test CA in it (as an admin's
    // `update-ca-certificates` or SSL_CERT_FILE puts it), the same trunk is taken.
    let (port, server) = trunk_server(&good, 1);
    let store = ca_pem.display().to_string();
    let stderr = register_over_tls("tls-trunk-host-store", port, None, Some(&store));
    let got = server.join().expect("the server");
    assert!(
        got[0].starts_with("REGISTER sip:127.0.0.1:"),
        "{got:?}\n{stderr}"
    );
}

#[test]
fn a_trunk_ca_without_a_tls_trunk_is_refused_before_it_starts() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ivrc"))
        .args(["run", "examples/sum.ivr", "--listen", "127.0.0.1:0"])
        .args([
            "--trunk",
            "sip:127.0.0.1:5060",
            "--trunk-ca",
            "/nonexistent.pem",
        ])
        .output()
        .expect("ivrc runs");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("the trunk is not reached over TLS"),
        "{out:?}"
    );
    let port = free_port();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ivrc"))
        .args([
            "run",
            "examples/sum.ivr",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .args([
            "--tls-cert",
            "/nonexistent.crt",
            "--tls-key",
            "/nonexistent.key",
        ])
        .output()
        .expect("ivrc runs");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with("error: --tls-cert `/nonexistent.crt`: "),
        "{out:?}"
    );
}

#[test]
fn kamailio_over_tls_registers_the_runtime_and_brings_it_a_call() {
    super::harness::require("espeak-ng", "--version");
    let dir = scratch("tls-pki-kamailio");
    let ca = Ca::new("ivrc test CA");
    let ca_pem = ca.write(&dir, "ca");
    let server = ca.issue(&dir, "kamailio", &["127.0.0.1"], false, false);
    let tls_port = free_tcp_port();
    let Some(k) = Kamailio::start(
        "tls_provider",
        ProviderConfig {
            min_expires: 2,
            max_expires: 4,
            default_expires: 4,
            tls: Some(ProviderTls {
                port: tls_port,
                cert: server.cert.clone(),
                key: server.key.clone(),
            }),
            ..ProviderConfig::default()
        },
    ) else {
        return;
    };
    let trunk = format!("sip:127.0.0.1:{tls_port};transport=tls");
    let did = format!("{}=sum", k.config().did);
    let ca_arg = ca_pem.display().to_string();
    let cfg = k.config().clone();
    let rt = Runtime::start(
        "tls_provider",
        &["examples/sum.ivr"],
        &[
            "--trunk",
            &trunk,
            "--trunk-ca",
            &ca_arg,
            "--trunk-user",
            &cfg.user,
            "--trunk-password",
            &cfg.password,
            "--register",
            "--route",
            &did,
        ],
    );
    // Registered over TLS and refreshed (4 s expiries) on the same connection.
    let saved = k.wait_for_log("harness: REGISTER ivrc saved", 2, Duration::from_secs(15));
    assert!(
        saved.iter().all(|l| l.contains(";transport=tls")),
        "{saved:?}"
    );
    // A caller dials the DID at Kamailio over UDP; Kamailio relays it to our contact over TLS.
    let (_, stderr) = super::provider::sum_through_provider(rt, &k);
    assert!(!stderr.contains("no TLS connection"), "{stderr}");
    let relayed = k.log_lines("harness: INVITE for DID");
    assert!(
        relayed
            .iter()
            .any(|l| l.contains("relayed to sip:ivrc@127.0.0.1:") && l.contains(";transport=tls")),
        "{relayed:?}"
    );
}

#[test]
fn baresip_keys_the_sum_over_tls() {
    let r = baresip_sum_over_tls("tls-baresip", None, &[]);
    assert!(r["media"]["srtp"].is_null(), "{r:#}");
}

/// The whole of issue 25's first interop case: baresip reaches the runtime over TLS, keys its
/// SDES crypto lines there (never in the clear), and the sum's keys come as RFC 4733 events
/// inside SRTP.
#[test]
fn baresip_keys_the_sum_over_tls_with_srtp() {
    super::baresip::require_srtp_module();
    let r = baresip_sum_over_tls(
        "tls-srtp-baresip",
        Some("srtp-mand"),
        &["--srtp", "required"],
    );
    let m = &r["media"];
    assert_eq!(m["srtp"]["suite"], "AES_CM_128_HMAC_SHA1_80", "{m:#}");
    assert!(m["srtp"]["refused"].as_u64() <= Some(1), "{m:#}");
    assert!(m["packets_received"].as_u64() > Some(100), "{m:#}");
    assert_eq!(m["packets_lost"], 0, "{m:#}");
}

/// baresip (with `mediaenc` when given) calls the sum flow of a runtime listening on TLS
/// (`extra` its further flags) at `sip:sum@…;transport=tls`, keys 12#30#; the call's record,
/// checked for the sum and for having gone over TLS both ways.
fn baresip_sum_over_tls(name: &str, mediaenc: Option<&str>, extra: &[&str]) -> serde_json::Value {
    super::harness::require("baresip", "-h");
    super::harness::require("espeak-ng", "--version");
    let dir = scratch(&format!("{name}-pki"));
    let ca = Ca::new("ivrc test CA");
    let ca_pem = ca.write(&dir, "ca");
    let server = ca.issue(&dir, "server", &["127.0.0.1", "localhost"], false, false);
    let (rt, tls_port) = tls_runtime(name, &server, extra);
    let phone = rt.dir.join("baresip-tls");
    std::fs::create_dir_all(&phone).expect("a directory");
    let wav = phone.join("silence.wav");
    super::baresip::microphone(&wav, std::iter::repeat_n(0, 8000 * 30));
    let target = format!("sip:sum@127.0.0.1:{tls_port};transport=tls");
    super::baresip::softphone_dial(
        &phone,
        &target,
        mediaenc,
        Some(&ca_pem),
        "softphone",
        &wav,
        |ctrl| {
            for key in ["1", "2", "#", "3", "0", "#"] {
                std::thread::sleep(Duration::from_millis(400));
                super::baresip::command(ctrl, "sndcode", key);
            }
        },
    );
    let dir = rt.dir.clone();
    let (code, stderr) = rt.stop();
    assert_eq!(code, 0, "{stderr}");
    let r = Runtime::record_of(&dir, "sum");
    assert_eq!(r["caller"], "softphone", "{r:#}");
    assert_eq!(r["keys"], "12#30#", "{r:#}");
    assert_eq!(super::harness::value(&r, "sum"), Some("42"), "{r:#}");
    assert_eq!(r["ended_by"], "flow", "{r:#}");
    // The call went to our TLS port, and our BYE reached baresip on its connection (baresip
    // logs a far end's BYE as "Connection reset by peer", libre's ECONNRESET).
    let log = std::fs::read_to_string(phone.join("baresip.log")).unwrap_or_default();
    assert!(
        log.contains(&format!(
            "Call established: sip:sum@127.0.0.1:{tls_port};transport=tls"
        )) && log.contains("session closed: Connection reset by peer"),
        "{log}"
    );
    r
}

#[test]
fn a_dropped_trunk_connection_is_made_again_and_the_registration_renewed() {
    let dir = scratch("tls-pki-reconnect");
    let ca = Ca::new("ivrc test CA");
    let ca_pem = ca.write(&dir, "ca");
    let good = ca.issue(&dir, "good", &["127.0.0.1"], false, false);
    // The trunk reads the first REGISTER and drops the connection; the second connection
    // (ours, made again) brings a new REGISTER.
    let (port, server) = trunk_server(&good, 2);
    let stderr = register_over_tls("tls-trunk-reconnect", port, Some(&ca_pem), None);
    let got = server.join().expect("the server");
    assert_eq!(got.len(), 2, "{got:?}\n{stderr}");
    for register in &got {
        assert!(register.starts_with("REGISTER "), "{got:?}\n{stderr}");
    }
    let branch = |m: &str| {
        m.split("branch=")
            .nth(1)
            .and_then(|b| b.split([';', '\r']).next())
            .map(str::to_string)
    };
    assert_ne!(branch(&got[0]), branch(&got[1]), "a new transaction");
    assert!(
        stderr.contains(&format!(
            "ivrc: the TLS connection to the trunk at 127.0.0.1:{port} closed; connecting again"
        )) && stderr.contains(&format!(
            "ivrc: connected to the trunk at 127.0.0.1:{port} again (TLS)"
        )),
        "{stderr}"
    );
}
