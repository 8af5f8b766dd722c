//! RFC 4475's 49 torture messages sent to `ivrc run`, each checked against what the RFC says
//! an element must do with it (a SIP user agent's part of it: REGISTER, which only a
//! registrar takes, gets 405, as RFC 4475 §3.3.7 says of endpoints). The files are read from
//! `../shared/rfc4475` at test time, never copied into the project, after their SHA-256 is
//! checked against its SHA256SUMS. The rows were checked against the RFC's text on each
//! message.
//!
//! Every message goes as one UDP datagram from its own client, as written: those the RFC
//! wrote for TCP or TLS (their Via says so) are answered to where they came from, as any
//! request over UDP is, and those whose body is longer than their Content-Length (dblreq,
//! mcl01) keep the extra octets, which is their point. The runtime runs one flow that hangs
//! up before answering, so a valid INVITE gets 100 Trying and then 480, and no media goes to
//! the RFC's example addresses.

use super::harness::{scratch, Client, Runtime};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What an element does with a message.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// A valid INVITE: 100 Trying, then the flow's own answer (480: it declines every call).
    Call,
    /// A final response with one of these statuses (100 Trying may come before it), and no
    /// other response after it.
    Status(&'static [u16]),
    /// No response at all: a response to no request of ours.
    Dropped,
}

use Expect::{Call, Dropped, Status};

/// Each message: its file, RFC 4475's section, what it gets, how a line of its response must
/// start ("" for none), and why, from the RFC's text on it.
const TABLE: &[(&str, &str, Expect, &str, &str)] = &[
    // 3.1.1: valid messages. An element must take them as they are.
    ("wsinv", "3.1.1.1", Status(&[481]), "", "valid (folding, `Name :`, a branch without the magic cookie); its To has a tag, so to a UAS it is a re-INVITE for a dialog it does not have (RFC 3261 §12.2.2)"),
    ("intmeth", "3.1.1.2", Status(&[501]), "Allow: INVITE", "valid; an unknown method: endpoints answer 501 listing the methods they understand in Allow"),
    ("esc01", "3.1.1.3", Call, "", "valid; escaped user parts and a folded Contact"),
    ("escnull", "3.1.1.4", Status(&[405]), "Allow: INVITE", "valid REGISTER with %00 in user parts; an endpoint that is no registrar rejects REGISTER, 405 (RFC 4475 §3.3.7)"),
    ("esc02", "3.1.1.5", Status(&[501]), "Allow: INVITE", "valid; RE%47IST%45R is not REGISTER (methods are not unescaped): an endpoint rejects it with 501"),
    ("lwsdisp", "3.1.1.6", Status(&[200]), "", "valid; no LWS between display name and <"),
    ("longreq", "3.1.1.7", Call, "", "valid; long values, many Vias (one written `Via  :`), a top Via without a branch"),
    ("dblreq", "3.1.1.8", Status(&[405]), "", "valid REGISTER with Content-Length 0; the INVITE after it in the datagram is ignored (405: we are no registrar)"),
    ("semiuri", "3.1.1.9", Status(&[200]), "", "valid; `;` in the user part of the request-URI, folded Accept"),
    ("transports", "3.1.1.10", Status(&[200]), "", "valid; Vias of several transports"),
    ("mpart01", "3.1.1.11", Status(&[415]), "Accept: text/plain", "valid multipart MESSAGE (binary part); we take text/plain only (RFC 3261 §8.2.3)"),
    ("unreason", "3.1.1.12", Dropped, "", "a valid response (UTF-8 reason); to no request of ours, so dropped (RFC 3261 §18.1.2)"),
    ("noreason", "3.1.1.13", Dropped, "", "a valid response (empty reason); to no request of ours, so dropped (RFC 3261 §18.1.2)"),
    // 3.1.2: invalid messages.
    ("badinv01", "3.1.2.1", Status(&[400]), "", "empty header field separators: 400"),
    ("clerr", "3.1.2.2", Status(&[400]), "", "Content-Length larger than the datagram: over UDP, 400"),
    ("ncl", "3.1.2.3", Status(&[400]), "", "negative Content-Length: an error (the RFC names none; 400)"),
    ("scalar02", "3.1.2.4", Status(&[400]), "", "overlarge CSeq: 400"),
    ("scalarlg", "3.1.2.5", Dropped, "", "a response with overlarge scalars: dropped"),
    ("quotbal", "3.1.2.6", Status(&[400]), "", "unterminated quoted display name: 400"),
    ("ltgtruri", "3.1.2.7", Status(&[400]), "", "request-URI in <>: 400 (ignoring the brackets is allowed too)"),
    ("lwsruri", "3.1.2.8", Status(&[400]), "", "LWS inside the request-URI: 400 (ignoring the LWS is allowed too)"),
    ("lwsstart", "3.1.2.9", Status(&[400]), "", "several SP between request-line elements: acceptable to reject (or to ignore the extra SP)"),
    ("trws", "3.1.2.10", Status(&[400]), "", "SP after the version on the request line: reasonable to reject with 400"),
    ("escruri", "3.1.2.11", Status(&[400, 480]), "", "escaped headers in the request-URI: 400, or accepted ignoring them"),
    ("baddate", "3.1.2.12", Status(&[480]), "", "a non-GMT Date: the RFC allows 400 only where the Date matters; ours does not, so the call goes on (480: the flow declines)"),
    ("regbadct", "3.1.2.13", Status(&[400, 405]), "", "unbracketed Contact with a `?`: an element may say 400 or infer the brackets; we answer the method first (405, no registrar)"),
    ("badaspec", "3.1.2.14", Status(&[400, 200]), "", "spaces inside the To addr-spec: 400, or accepted ignoring them"),
    ("baddn", "3.1.2.15", Status(&[400]), "", "unquoted display names with non-token characters: reasonable always to reject with 400"),
    ("badvers", "3.1.2.16", Status(&[505]), "", "SIP/7.0: 505"),
    ("mismatch01", "3.1.2.17", Status(&[400]), "", "CSeq method differs from the request's: 400"),
    ("mismatch02", "3.1.2.18", Status(&[501]), "", "unknown method with a different CSeq method: 501, which the RFC names first (400 is acceptable too)"),
    ("bigcode", "3.1.2.19", Dropped, "", "a response with an overlarge status code: dropped"),
    // 3.2: the transaction layer.
    ("badbranch", "3.2.1", Status(&[400, 200]), "", "branch is the magic cookie alone: 400, or matched the RFC 2543 way"),
    // 3.3: the application layer.
    ("insuf", "3.3.1", Status(&[400]), "", "no Call-ID, From, To or Max-Forwards: 400"),
    ("unkscm", "3.3.2", Status(&[416]), "", "unknown request-URI scheme: 416"),
    ("novelsc", "3.3.3", Status(&[416]), "", "a scheme (soap.beep) an element does not know in the request-URI: 416"),
    ("unksm2", "3.3.4", Status(&[405]), "", "valid REGISTER with unknown schemes in To, From and Contact (not the request-URI); a registrar would say 400, we are none: 405"),
    ("bext01", "3.3.5", Status(&[420]), "Unsupported: nothingSupportsThis, nothingSupportsThisEither", "unknown Require option tags: 420 listing them in Unsupported (Proxy-Require is for proxies)"),
    ("invut", "3.3.6", Status(&[415]), "Accept: application/sdp", "a body of unknown type: 415 with Accept"),
    ("regaut01", "3.3.7", Status(&[405]), "Allow: INVITE", "REGISTER with an unknown Authorization scheme: endpoints not acting as registrars reject it, 405 Method Not Allowed"),
    ("multi01", "3.3.8", Status(&[400]), "", "two Call-IDs, CSeqs, Max-Forwards, Tos and Froms: 400"),
    ("mcl01", "3.3.9", Status(&[400]), "", "two Content-Lengths: an error (400); over UDP the rest of the datagram is discarded"),
    ("bcast", "3.3.10", Dropped, "", "a response with a broadcast Via: never answered or forwarded"),
    ("zeromf", "3.3.11", Status(&[200]), "", "Max-Forwards 0 at its destination: processed as usual (483 is a proxy's)"),
    ("cparam01", "3.3.12", Status(&[405]), "", "valid REGISTER (a Contact parameter of the header); a registrar takes it, we are none: 405"),
    ("cparam02", "3.3.13", Status(&[405]), "", "valid REGISTER (a Contact URI parameter); a registrar takes it, we are none: 405"),
    ("regescrt", "3.3.14", Status(&[405]), "", "valid REGISTER (escaped headers in a bracketed Contact); a registrar takes it, we are none: 405"),
    ("sdp01", "3.3.15", Status(&[406]), "Warning: 399", "an Accept without application/sdp: 406 with a Warning/399 (400 is also appropriate)"),
    // 3.4: backward compatibility.
    ("inv2543", "3.4.1", Call, "", "an RFC 2543 INVITE (no branch, no From tag, no Max-Forwards, no Content-Length): accepted, matched the RFC 2543 way"),
];

/// Messages still handled otherwise than the table says, and why; the test fails when one of
/// them starts to pass, so that it moves to the table.
const KNOWN: &[(&str, &str)] = &[];

/// The folder of the torture messages: `../shared/rfc4475` from the project's root.
fn folder() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/rfc4475")
}

/// The messages by name, each checked against SHA256SUMS.
fn messages() -> Vec<(String, Vec<u8>)> {
    let dir = folder();
    let sums = std::fs::read_to_string(dir.join("SHA256SUMS"))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.join("SHA256SUMS").display()));
    let mut out = Vec::new();
    for line in sums.lines().filter(|l| !l.trim().is_empty()) {
        let (hash, file) = line.split_once("  ").expect("`HASH  FILE`");
        let bytes = std::fs::read(dir.join(file)).expect("a torture message");
        let got: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(got, hash, "{file} is not the RFC's bytes");
        out.push((file.trim_end_matches(".sip").to_string(), bytes));
    }
    out
}

/// The status of a response's first line.
fn status(response: &str) -> Option<u16> {
    response.strip_prefix("SIP/2.0 ")?.get(..3)?.parse().ok()
}

/// Every response within `wait` of the last one, stopping 300 ms after the first final one.
fn responses(client: &Client, wait: Duration) -> Vec<String> {
    let mut got: Vec<String> = Vec::new();
    let mut deadline = Instant::now() + wait;
    while let Some(m) = client.recv(
        deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1)),
    ) {
        if status(&m).is_some_and(|s| s >= 200) && !got.iter().any(|g| status(g) >= Some(200)) {
            deadline = Instant::now() + Duration::from_millis(300);
        }
        got.push(m);
        if Instant::now() >= deadline {
            break;
        }
    }
    got
}

/// Acknowledges a final response to an INVITE (RFC 3261 §17.1.1.3), so that it is not
/// retransmitted to a client that is gone.
fn ack(client: &Client, request: &[u8], response: &str) {
    let request = String::from_utf8_lossy(request);
    let Some(uri) = request.split(' ').nth(1) else {
        return;
    };
    let copied: Vec<&str> = response
        .lines()
        .filter(|l| {
            ["Via:", "From:", "To:", "Call-ID:"]
                .iter()
                .any(|h| l.starts_with(h))
        })
        .collect();
    let Some(n) = response
        .lines()
        .find_map(|l| l.strip_prefix("CSeq:"))
        .and_then(|v| v.split_whitespace().next())
    else {
        return;
    };
    client.send(
        format!(
            "ACK {uri} SIP/2.0\r\n{}\r\nCSeq: {n} ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
            copied.join("\r\n")
        )
        .as_bytes(),
    );
}

/// Sends one message and checks what comes back; what was wrong, if anything.
fn check(rt: &Runtime, bytes: &[u8], expect: Expect, contains: &str) -> Result<(), String> {
    let client = Client::new(rt);
    client.send(bytes);
    let wait = match expect {
        Dropped => Duration::from_millis(600),
        _ => Duration::from_secs(5),
    };
    let got = responses(&client, wait);
    let lines: Vec<&str> = got
        .iter()
        .map(|m| m.lines().next().unwrap_or_default())
        .collect();
    let finals: Vec<&String> = got.iter().filter(|m| status(m) >= Some(200)).collect();
    if let Some(last) = finals.last() {
        if request_is_invite(bytes) {
            ack(&client, bytes, last);
        }
    }
    let statuses: Vec<u16> = got.iter().filter_map(|m| status(m)).collect();
    let fail = || Err(format!("got {lines:?}"));
    match expect {
        Dropped if got.is_empty() => {}
        Dropped => return fail(),
        Call => {
            let ok = statuses.first() == Some(&100)
                && finals.len() == 1
                && status(finals[0]) == Some(480);
            if !ok {
                return fail();
            }
        }
        Status(allowed) => {
            let Some(first) = finals.first() else {
                return fail();
            };
            let s = status(first).unwrap_or_default();
            let only = statuses.iter().all(|&x| x == 100 || x == s);
            if !allowed.contains(&s) || !only {
                return fail();
            }
        }
    }
    if !contains.is_empty()
        && !got
            .iter()
            .any(|m| m.lines().any(|l| l.starts_with(contains)))
    {
        return Err(format!("no `{contains}` in {got:?}"));
    }
    Ok(())
}

/// Whether a datagram is an INVITE (its final response then wants an ACK).
fn request_is_invite(bytes: &[u8]) -> bool {
    bytes.starts_with(b"INVITE ")
}

#[test]
fn rfc_4475_torture_messages_get_what_the_rfc_says() {
    let started = Instant::now();
    let messages = messages();
    assert_eq!(messages.len(), 49, "RFC 4475 has 49 messages");
    let mut names: Vec<&str> = messages.iter().map(|(n, _)| n.as_str()).collect();
    let mut listed: Vec<&str> = TABLE.iter().map(|row| row.0).collect();
    names.sort_unstable();
    listed.sort_unstable();
    assert_eq!(names, listed, "the table lists every message once");
    for (name, _) in KNOWN {
        assert!(listed.contains(name), "{name} in KNOWN is not in the table");
    }

    let dir = scratch("torture");
    let flow = dir.join("decline.ivr");
    std::fs::write(
        &flow,
        "// Declines every call before answering: 480, and no media to the RFC's addresses.\nflow decline {\n  hangup\n}\n",
    )
    .expect("flow file");
    let flow = flow.display().to_string();
    let mut rt = Runtime::start_in(dir, &[&flow], &["--default-flow", "decline"]);

    let mut failures = Vec::new();
    for (name, section, expect, contains, why) in TABLE {
        let bytes = &messages.iter().find(|(n, _)| n == name).expect("read").1;
        let result = check(&rt, bytes, *expect, contains);
        let known = KNOWN.iter().find(|(n, _)| n == name);
        match (result, known) {
            (Ok(()), None) | (Err(_), Some(_)) => {}
            (Ok(()), Some((_, reason))) => failures.push(format!(
                "{name} (§{section}) now gets {expect:?}: take it out of KNOWN ({reason})"
            )),
            (Err(e), None) => {
                failures.push(format!(
                    "{name} (§{section}, {why}): expected {expect:?}, {e}"
                ));
            }
        }
        assert!(rt.alive(), "ivrc run died on {name}");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // It still answers a plain request afterwards.
    let client = Client::new(&rt);
    client.send(
        client
            .request(
                "OPTIONS",
                "decline",
                "after-torture",
                "z9hG4bK-after",
                1,
                None,
                "",
            )
            .as_bytes(),
    );
    client.expect(200, Duration::from_secs(2));
    assert!(rt.alive());
    eprintln!("49 torture messages in {:?}", started.elapsed());
}
