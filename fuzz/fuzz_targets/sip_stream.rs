//! Fuzz target: SIP on a stream as TLS carries it. The input is cut into chunks (each byte of
//! a short prefix is the length of the next chunk) that arrive one after another, as reads of
//! a connection do, and are framed by `stream::frame` exactly as the connection task frames
//! them; every whole message goes to the SIP core as come over TLS. The same bytes are also fed
//! as TLS records to a rustls server (a certificate made once by rcgen), whose plaintext, if
//! any, is framed the same way. Must never panic; a frame never claims more than the buffer
//! holds, and skips make progress.

#![no_main]

use ivrc::runtime::sip::core::Core;
use ivrc::runtime::sip::stream::{frame, Frame};
use ivrc::runtime::sip::transport::Transport;
use libfuzzer_sys::fuzz_target;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::io::Read;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

/// The rustls server configuration, made once.
fn server() -> Arc<rustls::ServerConfig> {
    static CONFIG: OnceLock<Arc<rustls::ServerConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let key = rcgen::KeyPair::generate().expect("a key");
            let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
                .expect("params")
                .self_signed(&key)
                .expect("a certificate");
            let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
            let config = rustls::ServerConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(vec![CertificateDer::from(cert.der().to_vec())], der)
            .expect("a configuration");
            Arc::new(config)
        })
        .clone()
}

/// Frames `chunks` as one connection's reads, each whole message into `core`.
fn carry<'a>(chunks: impl Iterator<Item = &'a [u8]>, core: &mut Core) {
    let peer = "127.0.0.1:5071".parse().expect("addr");
    let mut buffer: Vec<u8> = Vec::new();
    for chunk in chunks {
        buffer.extend_from_slice(chunk);
        loop {
            match frame(&buffer) {
                Frame::Whole(len) => {
                    assert!(len > 0 && len <= buffer.len(), "{len} of {}", buffer.len());
                    let message: Vec<u8> = buffer.drain(..len).collect();
                    core.received(&message, peer, Transport::Tls, Instant::now());
                }
                Frame::Skip(n) => {
                    assert!(n > 0 && n <= buffer.len());
                    buffer.drain(..n);
                }
                Frame::Partial => break,
                Frame::Broken => return,
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let local = "127.0.0.1:5061".parse().expect("addr");
    let mut core = Core::new(local, None);
    core.listen_tls(local);
    let cuts = data.first().map_or(0, |n| usize::from(n % 8));
    let (lengths, mut rest) = data.get(1..).unwrap_or_default().split_at(cuts.min(data.len().saturating_sub(1)));
    let mut chunks = Vec::new();
    for &n in lengths {
        let (c, r) = rest.split_at(usize::from(n).min(rest.len()));
        chunks.push(c);
        rest = r;
    }
    chunks.push(rest);
    carry(chunks.iter().copied(), &mut core);
    let _ = core.effects();
    // The same bytes as TLS records from a client.
    let mut tls = rustls::ServerConnection::new(server()).expect("a connection");
    let mut plaintext = Vec::new();
    let mut input = data;
    while !input.is_empty() {
        match tls.read_tls(&mut input) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        if tls.process_new_packets().is_err() {
            break;
        }
        let mut buf = [0u8; 4096];
        while let Ok(n) = tls.reader().read(&mut buf) {
            if n == 0 {
                break;
            }
            plaintext.extend_from_slice(&buf[..n]);
        }
    }
    carry(std::iter::once(plaintext.as_slice()), &mut core);
    let _ = core.effects();
});
