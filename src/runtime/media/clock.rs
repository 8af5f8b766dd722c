//! The media clock: one thread sends every call's RTP, each stream a packet every 20 ms on an
//! absolute schedule, sleeping precisely between sends — per-call async timers woke up to a
//! scheduler tick late under load (BENCHMARKS.md). A call hands its stream over when it
//! answers and controls it through [`Play`]: the prompt to send (silence otherwise), and when
//! to stop.

use super::g711;
use super::rtp;
use super::Samples;
use std::collections::BinaryHeap;
use std::net::UdpSocket;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One packet of G.711 at 8 kHz: 20 ms.
pub const PACKET: Duration = Duration::from_millis(20);
/// Samples in one packet.
const SAMPLES: usize = 160;
/// Streams due this soon are sent together, so the thread wakes once per batch.
const BATCH: Duration = Duration::from_micros(200);
/// The longest sleep, so that new streams start promptly.
const MAX_SLEEP: Duration = Duration::from_millis(5);
/// When the thread falls this far behind (a stalled machine), a stream's clock restarts
/// rather than bursting.
const MAX_LAG: Duration = Duration::from_millis(100);

/// What a call's stream sends, shared between the call and the clock.
#[derive(Default)]
pub struct Play {
    /// The prompt and how far it got; silence when `None`.
    pub prompt: Option<(Samples, usize)>,
    /// Counts prompts, so that the end of a stopped one is not taken for the next one's.
    pub generation: u64,
    /// The call is over: the stream ends.
    pub stopped: bool,
    /// The leg is bridged: its peer's packets are relayed to it, the clock sends nothing
    /// (and marks the first packet after the bridge).
    pub relayed: bool,
    /// A whole-call recording hears what is sent.
    pub heard: Option<super::recording::CallAudio>,
    /// The party put us on hold: nothing is sent, the prompt waits.
    pub held: bool,
}

/// A stream handed to the clock.
pub struct Stream {
    /// The leg's RTP socket (shared with relays into the leg).
    pub socket: Arc<UdpSocket>,
    /// Where the peer wants our RTP.
    pub remote: super::remote::Remote,
    /// The next packet's header.
    pub header: rtp::Header,
    /// A-law, else μ-law.
    pub a_law: bool,
    /// What to send.
    pub play: Arc<Mutex<Play>>,
    /// Counts what is sent, for RTCP.
    pub quality: super::session::Shared,
    /// Encrypts what is sent, with SRTP.
    pub srtp: Option<super::srtp::Protection>,
    /// Told the generation of each prompt that has been sent to its end (the clock thread
    /// calls it: it must not block).
    pub prompt_ended: Box<dyn Fn(u64) + Send>,
}

/// The clock thread's handle.
pub struct Clock {
    streams: Mutex<Sender<Stream>>,
}

impl Clock {
    /// Starts the clock thread.
    ///
    /// # Errors
    ///
    /// When the thread cannot be started.
    pub fn start() -> std::io::Result<Clock> {
        let (tx, rx) = channel();
        std::thread::Builder::new()
            .name("ivrc-media-clock".into())
            .spawn(move || run(&rx))?;
        Ok(Clock {
            streams: Mutex::new(tx),
        })
    }

    /// Starts sending a stream now.
    pub fn add(&self, stream: Stream) {
        let _ = self
            .streams
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(stream);
    }
}

struct Running {
    stream: Stream,
    next: Instant,
    packet: Vec<u8>,
    payload: Vec<u8>,
}

fn run(new: &Receiver<Stream>) {
    let mut streams: Vec<Option<Running>> = Vec::new();
    let mut due: BinaryHeap<std::cmp::Reverse<(Instant, usize)>> = BinaryHeap::new();
    loop {
        let waiting = due.is_empty();
        let incoming = if waiting {
            match new.recv() {
                Ok(s) => Some(s),
                Err(_) => return,
            }
        } else {
            new.try_recv().ok()
        };
        for stream in incoming
            .into_iter()
            .chain(std::iter::from_fn(|| new.try_recv().ok()))
        {
            let slot = streams.iter().position(Option::is_none).unwrap_or_else(|| {
                streams.push(None);
                streams.len() - 1
            });
            let now = Instant::now();
            streams[slot] = Some(Running {
                stream,
                next: now,
                packet: Vec::with_capacity(12 + SAMPLES + 10),
                payload: Vec::with_capacity(SAMPLES),
            });
            due.push(std::cmp::Reverse((now, slot)));
        }
        let Some(std::cmp::Reverse((at, _))) = due.peek().copied() else {
            continue;
        };
        let now = Instant::now();
        if at > now + BATCH {
            std::thread::sleep((at - now).min(MAX_SLEEP));
            continue;
        }
        while let Some(std::cmp::Reverse((at, slot))) = due.peek().copied() {
            if at > now + BATCH {
                break;
            }
            due.pop();
            let Some(running) = streams[slot].as_mut() else {
                continue;
            };
            if send(running, now) {
                due.push(std::cmp::Reverse((running.next, slot)));
            } else {
                streams[slot] = None;
            }
        }
    }
}

/// Sends one packet of a stream; false when the stream has stopped.
fn send(r: &mut Running, now: Instant) -> bool {
    let mut frame = [0i16; SAMPLES];
    let finished = {
        let mut play = r.stream.play.lock().unwrap_or_else(|p| p.into_inner());
        if play.stopped {
            return false;
        }
        if play.relayed || play.held {
            // Time goes on for the receiver's jitter buffer; the next packet we send is marked.
            let h = &mut r.stream.header;
            h.timestamp = h.timestamp.wrapping_add(SAMPLES as u32);
            h.marker = true;
            r.next += PACKET;
            if now.saturating_duration_since(r.next) > MAX_LAG {
                r.next = now + PACKET;
            }
            return true;
        }
        let mut finished = None;
        if let Some((samples, pos)) = &mut play.prompt {
            let end = (*pos + SAMPLES).min(samples.len());
            frame[..end - *pos].copy_from_slice(&samples[*pos..end]);
            *pos = end;
            if end >= samples.len() {
                finished = Some(play.generation);
            }
        }
        if finished.is_some() {
            play.prompt = None;
        }
        if let Some(heard) = &play.heard {
            let _ = heard.try_send((super::recording::Channel::Heard, frame.to_vec()));
        }
        finished
    };
    g711::encode(&frame, r.stream.a_law, &mut r.payload);
    r.stream.header.write(&r.payload, &mut r.packet);
    let protected = r
        .stream
        .srtp
        .as_ref()
        .is_none_or(|s| s.rtp_out(&mut r.packet));
    // A full socket buffer loses this packet, as a network would; the clock goes on.
    if protected {
        let _ = r.stream.socket.send_to(&r.packet, r.stream.remote.get());
    }
    r.stream
        .quality
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .sender
        .sent(&r.stream.header, r.payload.len(), now);
    let h = &mut r.stream.header;
    h.marker = false;
    h.sequence = h.sequence.wrapping_add(1);
    h.timestamp = h.timestamp.wrapping_add(SAMPLES as u32);
    r.next += PACKET;
    if now.saturating_duration_since(r.next) > MAX_LAG {
        r.next = now + PACKET;
    }
    if let Some(generation) = finished {
        (r.stream.prompt_ended)(generation);
    }
    true
}
