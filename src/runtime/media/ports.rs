//! The RTP port range (`--rtp-ports`): pairs of an even RTP port and the odd RTCP port after
//! it (RFC 3550 §11), both within the range, handed out round robin, skipping pairs with a
//! port in use, shared by inbound calls and the legs they dial.

use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;

/// The ports and the next one to try.
pub struct RtpPorts {
    low: u16,
    high: u16,
    next: Mutex<u16>,
}

/// A bound RTP socket: read by the call, sent on by the media clock (and relays).
pub struct Bound {
    /// For reading, registered with tokio.
    pub socket: tokio::net::UdpSocket,
    /// A handle for sending (one descriptor shared by the clock and relays).
    pub out: std::sync::Arc<std::net::UdpSocket>,
    /// Its address, for SDP.
    pub local: SocketAddr,
    /// The RTCP socket (the next port), for reading, registered with tokio.
    pub rtcp: tokio::net::UdpSocket,
    /// A handle for sending RTCP.
    pub rtcp_out: std::sync::Arc<std::net::UdpSocket>,
}

impl RtpPorts {
    /// The pairs of `low..=high` that start on an even port.
    pub fn new((low, high): (u16, u16)) -> RtpPorts {
        let low = low.saturating_add(low % 2);
        RtpPorts {
            low,
            high,
            next: Mutex::new(low),
        }
    }

    /// Binds the next free pair on `ip`; `None` when every pair has a port taken (or a
    /// socket cannot be registered).
    pub fn bind(&self, ip: IpAddr) -> Option<Bound> {
        if self.high <= self.low {
            return None;
        }
        let count = (self.high - self.low).div_ceil(2);
        for _ in 0..count {
            let port = {
                let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
                let port = *next;
                *next = if port.saturating_add(3) > self.high {
                    self.low
                } else {
                    port + 2
                };
                port
            };
            let (Ok(s), Ok(r)) = (
                std::net::UdpSocket::bind((ip, port)),
                std::net::UdpSocket::bind((ip, port + 1)),
            ) else {
                continue;
            };
            let local = s.local_addr().ok()?;
            let (socket, out) = registered(s)?;
            let (rtcp, rtcp_out) = registered(r)?;
            return Some(Bound {
                socket,
                out,
                local,
                rtcp,
                rtcp_out,
            });
        }
        None
    }
}

/// A bound socket as a tokio socket for reading and a handle for sending.
fn registered(
    s: std::net::UdpSocket,
) -> Option<(tokio::net::UdpSocket, std::sync::Arc<std::net::UdpSocket>)> {
    let out = std::sync::Arc::new(s.try_clone().ok()?);
    s.set_nonblocking(true).ok()?;
    Some((tokio::net::UdpSocket::from_std(s).ok()?, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn even_odd_pairs_round_robin_and_exhaustion() {
        // 41_006 has no odd partner in the range.
        let ports = RtpPorts::new((41_001, 41_006));
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let a = ports.bind(ip).unwrap();
        let b = ports.bind(ip).unwrap();
        assert_eq!((a.local.port(), b.local.port()), (41_002, 41_004));
        assert_eq!(a.rtcp.local_addr().unwrap().port(), 41_003);
        assert!(ports.bind(ip).is_none());
        drop(a);
        assert_eq!(ports.bind(ip).unwrap().local.port(), 41_002);
        // A pair whose RTCP port is taken is skipped.
        let ports = RtpPorts::new((41_010, 41_013));
        let taken = std::net::UdpSocket::bind((ip, 41_011)).unwrap();
        assert_eq!(ports.bind(ip).unwrap().local.port(), 41_012);
        drop(taken);
    }
}
