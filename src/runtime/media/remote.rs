//! Where a party wants our RTP: the address its SDP named — or, with symmetric RTP (RFC 4961,
//! Asterisk's `rtp_symmetric`, `ivrc run --symmetric-rtp`), where its first RTP packet came
//! from: a party behind NAT names a private address that cannot be reached, while its
//! packets' source is the NAT's mapping, which can. The address is learnt once, from the first
//! packet, and kept: a later packet from elsewhere does not move the stream (an RTP-injection
//! defence, like Asterisk's `strictrtp`). Off by default, as in Asterisk: a party may send
//! from one port and want our RTP at another.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// A party's RTP address, shared by the clock, the relays into the leg and its reader.
#[derive(Debug, Clone)]
pub struct Remote(Arc<Mutex<Learnt>>);

#[derive(Debug)]
struct Learnt {
    addr: SocketAddr,
    learnt: bool,
    symmetric: bool,
}

impl Remote {
    /// The address the SDP named; with `symmetric`, until the first packet says otherwise.
    pub fn new(sdp: SocketAddr, symmetric: bool) -> Remote {
        Remote(Arc::new(Mutex::new(Learnt {
            addr: sdp,
            learnt: !symmetric,
            symmetric,
        })))
    }

    /// Where to send now.
    pub fn get(&self) -> SocketAddr {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).addr
    }

    /// A new offer names `sdp`: sent there from now on (with symmetric RTP, until the first
    /// packet after it says otherwise).
    pub fn moved_to(&self, sdp: SocketAddr) {
        let mut l = self.0.lock().unwrap_or_else(|p| p.into_inner());
        l.addr = sdp;
        l.learnt = !l.symmetric;
    }

    /// A packet came from `from`: the first one sets the address for good. Whether the
    /// address changed.
    pub fn heard_from(&self, from: SocketAddr) -> bool {
        let mut l = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if l.learnt {
            return false;
        }
        l.learnt = true;
        let changed = l.addr != from;
        l.addr = from;
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_packets_source_is_kept() {
        let sdp: SocketAddr = "10.0.0.5:4000".parse().expect("addr");
        let nat: SocketAddr = "198.18.0.9:61000".parse().expect("addr");
        let fixed = Remote::new(sdp, false);
        assert!(!fixed.heard_from(nat));
        assert_eq!(fixed.get(), sdp, "the SDP's address without symmetric RTP");
        let r = Remote::new(sdp, true);
        assert_eq!(r.get(), sdp);
        assert!(r.heard_from(nat));
        assert_eq!(r.get(), nat);
        assert!(
            !r.heard_from("198.18.0.66:5000".parse().expect("addr")),
            "kept"
        );
        assert_eq!(r.clone().get(), nat);
    }
}
