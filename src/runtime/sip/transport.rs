//! The transports a SIP message travels on (RFC 3261 §18, RFC 5630 for TLS): what our Via
//! names, what our Contact asks for, and whether requests are retransmitted (only over UDP:
//! timers A and E are for unreliable transports, §17.1.1.2 and §17.1.2.2).

/// A SIP transport.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Transport {
    /// Datagrams (the default).
    #[default]
    Udp,
    /// A TCP stream, messages framed by Content-Length (§18.3).
    Tcp,
    /// TLS over TCP (§26), framed as over TCP.
    Tls,
}

impl Transport {
    /// The transport's name in a Via (`SIP/2.0/TLS`).
    pub fn via_name(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
        }
    }

    /// The URI parameter that asks for this transport in a Contact (none for UDP).
    pub fn uri_param(self) -> &'static str {
        match self {
            Transport::Udp => "",
            Transport::Tcp => ";transport=tcp",
            Transport::Tls => ";transport=tls",
        }
    }

    /// Whether the transport is a stream that delivers for us: nothing is retransmitted.
    pub fn reliable(self) -> bool {
        self != Transport::Udp
    }

    /// The transport a `transport=` URI parameter names (case-insensitive), if one we speak.
    pub fn from_param(value: &str) -> Option<Transport> {
        match value.to_ascii_lowercase().as_str() {
            "udp" => Some(Transport::Udp),
            "tcp" => Some(Transport::Tcp),
            "tls" => Some(Transport::Tls),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Transport;

    #[test]
    fn names_and_params() {
        assert_eq!(Transport::Tls.via_name(), "TLS");
        assert_eq!(Transport::Tcp.uri_param(), ";transport=tcp");
        assert_eq!(Transport::Udp.uri_param(), "");
        assert!(Transport::Tls.reliable() && !Transport::Udp.reliable());
        assert_eq!(Transport::from_param("TLS"), Some(Transport::Tls));
        assert_eq!(Transport::from_param("sctp"), None);
    }
}
