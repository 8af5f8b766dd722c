//! The RTP port range (`--rtp-ports`): even ports handed out round robin, skipping ports in
//! use, shared by inbound calls and the legs they dial.

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
}

impl RtpPorts {
    /// The even ports of `low..=high`.
    pub fn new((low, high): (u16, u16)) -> RtpPorts {
        let low = low.saturating_add(low % 2);
        RtpPorts {
            low,
            high,
            next: Mutex::new(low),
        }
    }

    /// Binds the next free port on `ip`; `None` when every port is taken (or the socket cannot
    /// be registered).
    pub fn bind(&self, ip: IpAddr) -> Option<Bound> {
        if self.high < self.low {
            return None;
        }
        let count = (self.high - self.low) / 2 + 1;
        for _ in 0..count {
            let port = {
                let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
                let port = *next;
                *next = if port.saturating_add(2) > self.high {
                    self.low
                } else {
                    port + 2
                };
                port
            };
            if let Ok(s) = std::net::UdpSocket::bind((ip, port)) {
                let local = s.local_addr().ok()?;
                let out = std::sync::Arc::new(s.try_clone().ok()?);
                s.set_nonblocking(true).ok()?;
                let socket = tokio::net::UdpSocket::from_std(s).ok()?;
                return Some(Bound { socket, out, local });
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn even_ports_round_robin_and_exhaustion() {
        let ports = RtpPorts::new((41_001, 41_004));
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let a = ports.bind(ip).unwrap();
        let b = ports.bind(ip).unwrap();
        assert_eq!((a.local.port(), b.local.port()), (41_002, 41_004));
        assert!(ports.bind(ip).is_none());
        drop(a);
        assert_eq!(ports.bind(ip).unwrap().local.port(), 41_002);
    }
}
