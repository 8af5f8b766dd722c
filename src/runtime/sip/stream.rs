//! SIP on streams: TCP (RFC 3261 §18.3) and TLS (§26, RFC 5630), messages framed by their
//! Content-Length. Each connection — accepted, or opened by us to a TCP or TLS trunk — gets a
//! task that hands whole messages (with the connection's transport) to the core and writes
//! what the server sends to that peer: responses go back on the connection the request came
//! on, and the trunk's requests come on ours. One table of connections serves both
//! transports, the peer's address being the key.

use super::transport::Transport;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// The most a message's header part may take before the connection is dropped.
const MAX_HEAD: usize = 64 * 1024;
/// The largest body accepted.
const MAX_BODY: usize = 64 * 1024;
/// How long opening a connection to the trunk, or a TLS handshake, may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// After this long without sending anything on a connection of ours to the trunk, a double
/// CRLF goes out (RFC 5626 §3.5.1's ping), so that the trunk and NATs keep the connection.
pub const KEEPALIVE: Duration = Duration::from_secs(30);

/// The longest wait between tries to make a dropped trunk connection again.
const RECONNECT_MAX: Duration = Duration::from_secs(30);

/// A message that came on a stream: its bytes, the peer, and the connection's transport.
pub type Incoming = (Vec<u8>, SocketAddr, Transport);

/// Writers of the open connections, by peer address.
#[derive(Clone, Default)]
pub struct Connections(Arc<Mutex<HashMap<SocketAddr, mpsc::UnboundedSender<Vec<u8>>>>>);

/// How we reach a trunk over TLS: the client configuration and the name its certificate must
/// carry (a DNS name or an IP address).
#[derive(Clone)]
pub struct TlsTrunk {
    /// Verifies the trunk's certificate.
    pub connector: TlsConnector,
    /// The name checked.
    pub name: ServerName<'static>,
}

/// The server's stream side: its TCP listener, its TLS listener with the acceptor that does
/// the handshakes, and how to reach a TLS trunk. All are optional.
#[derive(Default)]
pub struct Listeners {
    /// SIP over TCP.
    pub tcp: Option<TcpListener>,
    /// SIP over TLS (`--tls-listen`).
    pub tls: Option<(TcpListener, TlsAcceptor)>,
    /// The trunk over TLS (`--trunk sips:…`).
    pub trunk_tls: Option<TlsTrunk>,
}

impl Listeners {
    /// Starts accepting on the listeners, each message to `messages`.
    pub fn spawn(self, connections: &Connections, messages: &mpsc::UnboundedSender<Incoming>) {
        if let Some(listener) = self.tcp {
            tokio::spawn(accept(
                listener,
                None,
                connections.clone(),
                messages.clone(),
            ));
        }
        if let Some((listener, acceptor)) = self.tls {
            tokio::spawn(accept(
                listener,
                Some(acceptor),
                connections.clone(),
                messages.clone(),
            ));
        }
    }
}

impl Connections {
    /// Sends on the connection from `peer`; the bytes back when there is none.
    pub fn send(&self, peer: SocketAddr, bytes: Vec<u8>) -> Result<(), Vec<u8>> {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(&peer) {
            Some(w) => w.send(bytes).map_err(|e| e.0),
            None => Err(bytes),
        }
    }

    /// Opens a connection to `peer` (a trunk: TLS when `tls` is given, else TCP) and sends
    /// `first` on it once it is up; what is sent meanwhile queues behind. Messages that come on
    /// it go to `messages` as an accepted connection's do, and it is kept alive with double
    /// CRLFs ([`KEEPALIVE`]). When the connection cannot be made (refused, 5 s without an
    /// answer, a certificate refused) what was queued is dropped with a line on stderr naming
    /// the reason, and the transactions give up on timer B or F as after a lost datagram; the
    /// next request connects again. When a connection that was up drops, it is made again at
    /// once and then after 1, 2, 4 … 30 s while it fails (what was queued meanwhile is dropped,
    /// its transactions timing out as on a lost connection), and `reconnected` is told the
    /// peer each time it is back, so that a registration bound to the old one is renewed.
    pub fn connect(
        &self,
        peer: SocketAddr,
        first: Vec<u8>,
        tls: Option<TlsTrunk>,
        messages: mpsc::UnboundedSender<Incoming>,
        reconnected: mpsc::UnboundedSender<SocketAddr>,
    ) {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let _ = tx.send(first);
        self.add(peer, tx);
        let connections = self.clone();
        tokio::spawn(async move {
            let kind = if tls.is_some() { "TLS" } else { "TCP" };
            // None until the first connection was up; then the wait before the next try.
            let mut again: Option<Duration> = None;
            loop {
                match open(peer, tls.clone()).await {
                    Ok(stream) => {
                        if again.is_some() {
                            crate::errln!("ivrc: connected to the trunk at {peer} again ({kind})");
                            let _ = reconnected.send(peer);
                        }
                        match stream {
                            Stream::Tcp(s) => {
                                serve(s, peer, Transport::Tcp, Some(KEEPALIVE), &mut rx, &messages)
                                    .await;
                            }
                            Stream::Tls(s) => {
                                serve(
                                    *s,
                                    peer,
                                    Transport::Tls,
                                    Some(KEEPALIVE),
                                    &mut rx,
                                    &messages,
                                )
                                .await;
                            }
                        }
                        if messages.is_closed() {
                            break;
                        }
                        crate::errln!(
                            "ivrc: the {kind} connection to the trunk at {peer} closed; connecting again"
                        );
                        again = Some(Duration::from_secs(1));
                    }
                    Err(why) => {
                        crate::errln!("ivrc: no {kind} connection to the trunk at {peer}: {why}");
                        let Some(wait) = again else {
                            break;
                        };
                        tokio::time::sleep(wait).await;
                        again = Some((wait * 2).min(RECONNECT_MAX));
                    }
                }
                if messages.is_closed() {
                    break;
                }
                // What was queued while the connection was down belongs to transactions that
                // time out as on a lost connection.
                while rx.try_recv().is_ok() {}
            }
            drop(rx);
            connections.remove(peer);
        });
    }

    fn add(&self, peer: SocketAddr, writer: mpsc::UnboundedSender<Vec<u8>>) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(peer, writer);
    }

    /// Forgets the connection to `peer` once its task has ended (a newer one to the same peer,
    /// made meanwhile, stays).
    fn remove(&self, peer: SocketAddr) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if map.get(&peer).is_some_and(mpsc::UnboundedSender::is_closed) {
            map.remove(&peer);
        }
    }
}

/// Opens a TCP connection to `peer` and, with `tls`, does the TLS handshake on it; why not.
async fn open(peer: SocketAddr, tls: Option<TlsTrunk>) -> Result<Stream, String> {
    let opening = async {
        let tcp = TcpStream::connect(peer).await.map_err(|e| e.to_string())?;
        let _ = tcp.set_nodelay(true);
        Ok(match tls {
            Some(t) => Stream::Tls(Box::new(t.connector.connect(t.name, tcp).await.map_err(
                |e| format!("the TLS handshake failed: {}", super::tls::reason(&e)),
            )?)),
            None => Stream::Tcp(tcp),
        })
    };
    tokio::time::timeout(CONNECT_TIMEOUT, opening)
        .await
        .unwrap_or_else(|_| Err(format!("no answer in {CONNECT_TIMEOUT:?}")))
}

/// A connection we opened.
enum Stream {
    Tcp(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

/// Accepts connections until the listener fails, sending each whole message (with its peer)
/// to `messages`; with `tls`, each connection's TLS handshake comes first (a failed one is
/// logged with its reason and the connection dropped).
pub async fn accept(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    connections: Connections,
    messages: mpsc::UnboundedSender<Incoming>,
) {
    while let Ok((stream, peer)) = listener.accept().await {
        let _ = stream.set_nodelay(true);
        let (connections, messages, tls) = (connections.clone(), messages.clone(), tls.clone());
        tokio::spawn(async move {
            let Some(acceptor) = tls else {
                let (tx, mut rx) = mpsc::unbounded_channel();
                connections.add(peer, tx);
                serve(stream, peer, Transport::Tcp, None, &mut rx, &messages).await;
                drop(rx);
                connections.remove(peer);
                return;
            };
            let stream = match tokio::time::timeout(CONNECT_TIMEOUT, acceptor.accept(stream)).await
            {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    crate::errln!(
                        "ivrc: TLS handshake with {peer} failed: {}",
                        super::tls::reason(&e)
                    );
                    return;
                }
                Err(_) => {
                    crate::errln!(
                        "ivrc: TLS handshake with {peer} failed: no answer in {CONNECT_TIMEOUT:?}"
                    );
                    return;
                }
            };
            let (tx, mut rx) = mpsc::unbounded_channel();
            connections.add(peer, tx);
            serve(stream, peer, Transport::Tls, None, &mut rx, &messages).await;
            drop(rx);
            connections.remove(peer);
        });
    }
}

/// Carries one connection until it closes: whole messages in, the server's bytes out, a
/// double-CRLF ping after `keepalive` without sending (on our connections to the trunk), and
/// the single-CRLF pong answering a peer's ping (RFC 5626 §3.5.1).
async fn serve<S: AsyncRead + AsyncWrite>(
    stream: S,
    peer: SocketAddr,
    transport: Transport,
    keepalive: Option<Duration>,
    outgoing: &mut mpsc::UnboundedReceiver<Vec<u8>>,
    messages: &mpsc::UnboundedSender<Incoming>,
) {
    let (mut read, mut write) = tokio::io::split(stream);
    let mut buffer: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 8192];
    let idle = keepalive.unwrap_or(Duration::from_secs(86_400));
    let mut ping_at = tokio::time::Instant::now() + idle;
    loop {
        tokio::select! {
            n = read.read(&mut chunk) => match n {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    buffer.extend_from_slice(&chunk[..n]);
                    loop {
                        match frame(&buffer) {
                            Frame::Whole(len) => {
                                let message: Vec<u8> = buffer.drain(..len).collect();
                                if messages.send((message, peer, transport)).is_err() {
                                    return;
                                }
                            }
                            Frame::Partial => break,
                            // Keep-alive CRLFs between messages: a ping gets its pong.
                            Frame::Skip(n) => {
                                let ping = buffer[..n].windows(4).any(|w| w == b"\r\n\r\n");
                                buffer.drain(..n);
                                if ping && keepalive.is_none() && write.write_all(b"\r\n").await.is_err() {
                                    return;
                                }
                            }
                            Frame::Broken => return,
                        }
                    }
                }
            },
            out = outgoing.recv() => match out {
                Some(bytes) => {
                    if write.write_all(&bytes).await.is_err() || write.flush().await.is_err() {
                        return;
                    }
                    ping_at = tokio::time::Instant::now() + idle;
                }
                None => return,
            },
            () = tokio::time::sleep_until(ping_at), if keepalive.is_some() => {
                if write.write_all(b"\r\n\r\n").await.is_err() || write.flush().await.is_err() {
                    return;
                }
                ping_at = tokio::time::Instant::now() + idle;
            },
        }
    }
}

/// What the start of a stream buffer holds.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// A whole message of this many bytes.
    Whole(usize),
    /// Not all of it yet.
    Partial,
    /// Blank lines to drop.
    Skip(usize),
    /// No message can be framed (no or a bad Content-Length, too big): drop the connection.
    Broken,
}

/// Frames the start of `buffer` (the bytes come from a stream, TCP or TLS alike).
pub fn frame(buffer: &[u8]) -> Frame {
    let blank = buffer
        .iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count();
    if blank > 0 {
        return Frame::Skip(blank);
    }
    let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") else {
        return if buffer.len() > MAX_HEAD {
            Frame::Broken
        } else {
            Frame::Partial
        };
    };
    let head = String::from_utf8_lossy(&buffer[..end]);
    // On a stream, Content-Length is mandatory (RFC 3261 §18.3).
    let length = head.split("\r\n").skip(1).find_map(|line| {
        let (name, value) = line.split_once(':')?;
        let name = name.trim();
        (name.eq_ignore_ascii_case("content-length") || name.eq_ignore_ascii_case("l"))
            .then(|| value.trim().parse::<usize>().ok())
    });
    match length {
        Some(Some(n)) if n <= MAX_BODY => {
            let total = end + 4 + n;
            if buffer.len() >= total {
                Frame::Whole(total)
            } else {
                Frame::Partial
            }
        }
        _ => Frame::Broken,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing() {
        let msg = b"OPTIONS sip:a@b SIP/2.0\r\nl: 3\r\n\r\nabc";
        assert_eq!(frame(msg), Frame::Whole(msg.len()));
        assert_eq!(frame(&msg[..msg.len() - 1]), Frame::Partial);
        assert_eq!(frame(b"OPTIONS sip:a@b SIP/2.0\r\n"), Frame::Partial);
        assert_eq!(frame(b"\r\n\r\nOPTIONS"), Frame::Skip(4));
        assert_eq!(
            frame(b"OPTIONS sip:a@b SIP/2.0\r\nVia: x\r\n\r\n"),
            Frame::Broken,
            "no Content-Length"
        );
        assert_eq!(
            frame(b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: ten\r\n\r\n"),
            Frame::Broken
        );
        assert_eq!(frame(&vec![b'A'; MAX_HEAD + 1]), Frame::Broken);
    }
}
