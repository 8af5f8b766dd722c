//! Fuzz target: any bytes as an RTP packet (and its RFC 4733 payload, and the receiver
//! statistics it feeds), an RTCP compound packet, an SDP offer, and a SIP INFO DTMF body. Must
//! never panic; an RTCP packet that parses writes back to one that parses to the same reports;
//! an offer that negotiates gives an answer that negotiates to the same codec.

#![no_main]

use ivrc::runtime::media::{dtmf, rtcp, rtp};
use ivrc::runtime::sdp;
use ivrc::runtime::sip::info;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut receiver = dtmf::Receiver::new();
    let mut stats = rtcp::Receiver::default();
    for chunk in data.chunks(12) {
        if let Some(p) = rtp::parse(chunk) {
            stats.packet(&p.header, p.header.timestamp ^ 0x5555, chunk.len() % 2 == 0);
        }
        let _ = stats.block(0, 0);
    }
    let _ = (stats.received(), stats.lost(), stats.jitter());
    if let Some(c) = rtcp::parse(data) {
        let mut out = Vec::new();
        for report in &c.reports {
            rtcp::write(report, c.cname.as_deref().unwrap_or(""), false, &mut out);
            let back = rtcp::parse(&out).expect("our own RTCP parses");
            assert_eq!(&back.reports[0], report);
        }
    }
    if let Some(p) = rtp::parse(data) {
        assert!(p.payload.len() <= data.len());
        let _ = receiver.packet(p.header.timestamp, p.payload);
        let _ = receiver.packet(p.header.timestamp, p.payload);
    }
    for chunk in data.chunks(4) {
        let _ = receiver.packet(0, chunk);
    }
    let _ = info::key_of_info("application/dtmf-relay", data);
    let _ = info::key_of_info("application/dtmf", data);
    if let Ok(n) = sdp::negotiate(data, sdp::SrtpPolicy::Optional) {
        let answer = sdp::answer("127.0.0.1:20000".parse().expect("addr"), &n, 1);
        let back = sdp::negotiate(&answer, sdp::SrtpPolicy::Optional)
            .expect("our answer negotiates");
        assert_eq!(back.srtp.is_some(), n.srtp.is_some());
        assert_eq!(back.codec, n.codec);
        assert_eq!(back.dtmf_payload_type, n.dtmf_payload_type);
    }
});
