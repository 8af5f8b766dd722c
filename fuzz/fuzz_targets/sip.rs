//! Fuzz target: any datagram through the SIP core (parse, transactions, dialogs), then the
//! calls it starts answered, hung up and their timers run. An outbound leg (Call-ID
//! `fuzz-leg`) and a text (`fuzz-text`) are out through an authenticating trunk first, so
//! responses, challenges and in-dialog requests reach the client side too; a registration is
//! out as well, and each part of the input is also sent as the registrar's answer (the status
//! line and headers after the REGISTER's own Via, From, To, Call-ID and CSeq). Every datagram
//! goes through the whole of `message::parse`: folded lines, the request-URI placeholder and
//! the shape checks of `lexical.rs` included (RFC 4475's torture messages are good seeds).
//! Each part is also sent from a stranger to a core with every defence on (an allow list, a
//! rate limit it soon exceeds, scanners dropped, callers challenged: `guard.rs`).
//! Must never panic; everything the core sends has a valid status line, and every request it
//! sends parses again.

#![no_main]

use ivrc::runtime::sip::core::Core;
use ivrc::runtime::sip::effect::Effect;
use ivrc::runtime::sip::guard::{Guard, Settings};
use ivrc::runtime::sip::inbound_auth::Users;
use ivrc::runtime::sip::rate::Rate;
use ivrc::runtime::sip::register::Account;
use ivrc::runtime::sip::uac::{Dial, Trunk};
use ivrc::runtime::sip::message;
use ivrc::runtime::sip::transport::Transport;
use libfuzzer_sys::fuzz_target;
use std::time::{Duration, Instant};

fuzz_target!(|data: &[u8]| {
    let local = "127.0.0.1:5060".parse().expect("addr");
    let peer = "127.0.0.1:5080".parse().expect("addr");
    let trunk = Trunk {
        addr: peer,
        host: "127.0.0.1:5080".into(),
        user: Some("100".into()),
        password: Some("secret".into()),
        transport: Transport::Udp,
    };
    let mut core = Core::new(local, Some(trunk));
    let start = Instant::now();
    core.dial(
        Dial {
            call_id: "fuzz-leg".into(),
            number: "+79001234567".into(),
            caller_id: None,
            offer: b"v=0\r\n".to_vec(),
        },
        start,
    );
    core.message("fuzz-text", "+79001234567", None, "hello", start);
    core.register(
        Account {
            registrar: peer,
            domain: "127.0.0.1:5080".into(),
            user: "100".into(),
            password: "secret".into(),
            expires: 60,
            keepalive: Some(Duration::from_secs(20)),
            transport: Transport::Udp,
        },
        start,
    );
    // The registration's dialog headers, from the REGISTER it sent.
    let mut register_headers = String::new();
    let first = core.effects();
    for e in &first {
        if let Effect::Send(bytes, _) = e {
            let text = String::from_utf8_lossy(bytes);
            if text.starts_with("REGISTER ") {
                for line in text.lines() {
                    if ["Via:", "From:", "To:", "Call-ID:", "CSeq:"].iter().any(|h| line.starts_with(h)) {
                        register_headers.push_str(line);
                        register_headers.push_str("\r\n");
                    }
                }
            }
        }
    }
    // The same datagram twice (a retransmission), split on a marker into several.
    for part in data.split(|&b| b == 0xfe).take(8) {
        core.datagram(part, peer, start);
        core.datagram(part, peer, start);
        // As the registrar's answer: `SIP/2.0 ` + the part's first line, our dialog headers,
        // then the rest of the part.
        let text = String::from_utf8_lossy(part);
        let (status, rest) = text.split_once("\r\n").unwrap_or((&text, ""));
        let answer = format!("SIP/2.0 {status}\r\n{register_headers}{rest}");
        core.datagram(answer.as_bytes(), peer, start);
    }
    let mut guarded = Core::new(local, None);
    guarded.set_guard(Guard::new(Settings {
        allow: vec!["127.0.0.0/8".parse().expect("net")],
        trusted: Vec::new(),
        rate: Some(Rate { per_second: 1.0, burst: 3.0 }),
        drop_scanners: true,
        users: Some(Users::new(vec![("pbx".into(), "pw".into())], b"k".to_vec(), start)),
    }));
    let stranger = "127.0.0.9:5070".parse().expect("addr");
    for part in data.split(|&b| b == 0xfe).take(8) {
        guarded.datagram(part, stranger, start);
    }
    for effect in guarded.effects() {
        if let Effect::Send(bytes, _) = effect {
            if let Some(rest) = bytes.strip_prefix(b"SIP/2.0 ") {
                let code = std::str::from_utf8(&rest[..rest.len().min(3)]).ok().and_then(|c| c.parse::<u16>().ok());
                assert!(code.is_some_and(|c| (100..700).contains(&c)), "bad status line: {:?}", String::from_utf8_lossy(&bytes));
            }
        }
    }
    let mut started = Vec::new();
    for step in 0..6u64 {
        let now = start + Duration::from_millis(700 * step);
        for effect in core.effects() {
            match effect {
                Effect::Send(bytes, _) => {
                    let text = String::from_utf8_lossy(&bytes);
                    if let Some(rest) = text.strip_prefix("SIP/2.0 ") {
                        // A 400 mirrors its request's headers, broken ones included; its own
                        // status line is what must be right.
                        let code = rest.get(..3).and_then(|c| c.parse::<u16>().ok());
                        assert!(code.is_some_and(|c| (100..700).contains(&c)), "bad status line: {text:?}");
                    } else if let Err(e) = message::parse(&bytes) {
                        // rsip has no REFER; ours is well formed but our own parser refuses it
                        // (as it would answer a REFER sent to us with 501).
                        let refer = text.starts_with("REFER ") && e.kind == message::ErrorKind::UnknownMethod;
                        assert!(refer, "we sent a request we cannot read ({e}): {text:?}");
                    }
                }
                Effect::Start(call) => started.push(call.call_id),
                Effect::Text(t) => core.reply(&t.headers, t.peer, 200, "OK"),
                _ => {}
            }
        }
        for (i, id) in started.iter().enumerate() {
            match (step + i as u64) % 4 {
                0 => core.answer(id, b"v=0\r\n".to_vec(), now),
                1 => core.transfer(id, "+74951234567", now),
                2 => core.hangup(id, now),
                _ => core.call_ended(id),
            }
        }
        if step == 3 {
            core.hangup("fuzz-leg", now);
        }
        if step == 4 {
            core.unregister(now);
        }
        core.fire(now);
    }
    // Long after: refreshes and retries come due, and every one is a request that parses.
    for hours in 1..4u64 {
        core.fire(start + Duration::from_secs(3600 * hours));
        for effect in core.effects() {
            if let Effect::Send(bytes, _) = effect {
                if bytes.starts_with(b"REGISTER ") {
                    assert!(message::parse(&bytes).is_ok(), "{:?}", String::from_utf8_lossy(&bytes));
                }
            }
        }
    }
});
