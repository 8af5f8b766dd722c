//! SIP over TCP (RFC 3261 §18.3): messages framed by their Content-Length on a stream. Each
//! connection — accepted, or opened by us to a TCP trunk — gets a reader task that hands whole
//! messages to the core, and a writer that the server uses for everything sent to that peer
//! (responses go back on the connection the request came on; the trunk's requests come on
//! ours).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// The most a message's header part may take before the connection is dropped.
const MAX_HEAD: usize = 64 * 1024;
/// The largest body accepted.
const MAX_BODY: usize = 64 * 1024;
/// How long opening a connection to the trunk may take.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Writers of the open connections, by peer address.
#[derive(Clone, Default)]
pub struct Connections(Arc<Mutex<HashMap<SocketAddr, mpsc::UnboundedSender<Vec<u8>>>>>);

impl Connections {
    /// Sends on the connection from `peer`; the bytes back when there is none.
    pub fn send(&self, peer: SocketAddr, bytes: Vec<u8>) -> Result<(), Vec<u8>> {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(&peer) {
            Some(w) => w.send(bytes).map_err(|e| e.0),
            None => Err(bytes),
        }
    }

    /// Opens a connection to `peer` (a TCP trunk) and sends `first` on it once it is up; what
    /// is sent meanwhile queues behind. Messages that come on it go to `messages` as an accepted
    /// connection's do. When the connection cannot be made (refused, 5 s without an answer)
    /// what was queued is dropped with a line on stderr, and the transactions give up on timer
    /// B or F as after a lost datagram; the next request tries again.
    pub fn connect(
        &self,
        peer: SocketAddr,
        first: Vec<u8>,
        messages: mpsc::UnboundedSender<(Vec<u8>, SocketAddr)>,
    ) {
        let (tx, rx) = mpsc::unbounded_channel();
        let _ = tx.send(first);
        self.add(peer, tx);
        let connections = self.clone();
        tokio::spawn(async move {
            let connecting = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(peer));
            match connecting.await {
                Ok(Ok(stream)) => {
                    let _ = stream.set_nodelay(true);
                    serve(stream, peer, rx, &messages).await;
                }
                Ok(Err(e)) => crate::errln!("ivrc: no TCP connection to the trunk at {peer}: {e}"),
                Err(_) => crate::errln!(
                    "ivrc: no TCP connection to the trunk at {peer}: no answer in {CONNECT_TIMEOUT:?}"
                ),
            }
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

/// Accepts connections until the listener fails, sending each whole message (with its peer)
/// to `messages`.
pub async fn accept(
    listener: TcpListener,
    connections: Connections,
    messages: mpsc::UnboundedSender<(Vec<u8>, SocketAddr)>,
) {
    while let Ok((stream, peer)) = listener.accept().await {
        let (tx, rx) = mpsc::unbounded_channel();
        connections.add(peer, tx);
        let (connections, messages) = (connections.clone(), messages.clone());
        tokio::spawn(async move {
            serve(stream, peer, rx, &messages).await;
            connections.remove(peer);
        });
    }
}

async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    mut outgoing: mpsc::UnboundedReceiver<Vec<u8>>,
    messages: &mpsc::UnboundedSender<(Vec<u8>, SocketAddr)>,
) {
    let (mut read, mut write) = stream.into_split();
    let mut buffer: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 8192];
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
                                if messages.send((message, peer)).is_err() {
                                    return;
                                }
                            }
                            Frame::Partial => break,
                            // Keep-alive CRLFs between messages (RFC 5626 §3.5.1).
                            Frame::Skip(n) => {
                                buffer.drain(..n);
                            }
                            Frame::Broken => return,
                        }
                    }
                }
            },
            out = outgoing.recv() => match out {
                Some(bytes) => {
                    if write.write_all(&bytes).await.is_err() {
                        return;
                    }
                }
                None => return,
            },
        }
    }
}

/// What the start of a stream buffer holds.
#[derive(Debug, PartialEq, Eq)]
enum Frame {
    /// A whole message of this many bytes.
    Whole(usize),
    /// Not all of it yet.
    Partial,
    /// Blank lines to drop.
    Skip(usize),
    /// No message can be framed (no or a bad Content-Length, too big): drop the connection.
    Broken,
}

fn frame(buffer: &[u8]) -> Frame {
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
