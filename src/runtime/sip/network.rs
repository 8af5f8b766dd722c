//! Networks in CIDR notation (`10.0.0.0/8`, `2001:db8::/32`, or a bare address for one host):
//! the sources `--allow` admits and `--trusted` exempts from the rate limit.

use std::net::IpAddr;

/// An IPv4 or IPv6 network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl Network {
    /// The network of one address.
    pub fn host(ip: IpAddr) -> Network {
        let ip = ip.to_canonical();
        Network {
            addr: ip,
            prefix: if ip.is_ipv4() { 32 } else { 128 },
        }
    }

    /// Whether `ip` is in it (an IPv4-mapped IPv6 address counts as the IPv4 one).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl std::str::FromStr for Network {
    type Err = String;

    /// Reads `ADDRESS/PREFIX` or a bare address.
    fn from_str(text: &str) -> Result<Network, String> {
        let text = text.trim();
        let (addr, prefix) = text.split_once('/').unwrap_or((text, ""));
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("`{text}` is not an IP address or network like 10.0.0.0/8"))?;
        let host = Network::host(addr);
        if prefix.is_empty() {
            return Ok(host);
        }
        let prefix: u8 = prefix
            .parse()
            .ok()
            .filter(|p| *p <= host.prefix)
            .ok_or_else(|| {
                format!(
                    "`{text}`: the prefix length runs from 0 to {} for this address",
                    host.prefix
                )
            })?;
        Ok(Network {
            addr: host.addr,
            prefix,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
    }

    #[test]
    fn networks_contain_their_addresses_only() {
        let lan: Network = "10.1.0.0/16".parse().expect("network");
        assert!(lan.contains(ip("10.1.200.3")));
        assert!(!lan.contains(ip("10.2.0.1")));
        assert!(lan.contains(ip("::ffff:10.1.0.9")), "IPv4-mapped");
        assert!(!lan.contains(ip("2001:db8::1")));
        let host: Network = "127.0.0.2".parse().expect("host");
        assert!(host.contains(ip("127.0.0.2")) && !host.contains(ip("127.0.0.1")));
        let v6: Network = "2001:db8::/32".parse().expect("v6");
        assert!(v6.contains(ip("2001:db8:ffff::1")) && !v6.contains(ip("2001:db9::1")));
        let all: Network = "0.0.0.0/0".parse().expect("all");
        assert!(all.contains(ip("192.0.2.1")) && !all.contains(ip("::1")));
        let all6: Network = "::/0".parse().expect("all v6");
        assert!(all6.contains(ip("::1")));
    }

    #[test]
    fn bad_networks_are_refused_with_a_reason() {
        for bad in ["10.0.0.0/33", "::/129", "ten", "10.0.0.0/x", ""] {
            assert!(bad.parse::<Network>().is_err(), "{bad}");
        }
    }
}
