//! Fuzz target: any bytes as an RTP packet (and its RFC 4733 payload), an SDP offer, and a SIP
//! INFO DTMF body. Must never panic; an offer that negotiates gives an answer that negotiates
//! to the same codec.

#![no_main]

use ivrc::runtime::media::{dtmf, rtp};
use ivrc::runtime::sdp;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut receiver = dtmf::Receiver::new();
    if let Some(p) = rtp::parse(data) {
        assert!(p.payload.len() <= data.len());
        let _ = receiver.packet(p.header.timestamp, p.payload);
        let _ = receiver.packet(p.header.timestamp, p.payload);
    }
    for chunk in data.chunks(4) {
        let _ = receiver.packet(0, chunk);
    }
    let _ = dtmf::key_of_info("application/dtmf-relay", data);
    let _ = dtmf::key_of_info("application/dtmf", data);
    if let Ok(n) = sdp::negotiate(data) {
        let answer = sdp::answer("127.0.0.1:20000".parse().expect("addr"), &n, 1);
        let back = sdp::negotiate(&answer).expect("our answer negotiates");
        assert_eq!(back.codec, n.codec);
        assert_eq!(back.dtmf_payload_type, n.dtmf_payload_type);
    }
});
