//! One party of a call on the runtime: its RTP socket, the stream the media clock sends to it,
//! and a reader task that turns what the party sends into keys, audio for the recognizer, or —
//! while the leg is bridged — packets relayed to the other party; a party that sends nothing
//! for the media timeout is reported silent. Its RTCP session counts both directions and
//! reports them (RFC 3550), ending with a BYE when the leg stops.

use super::media::clock::{Clock, Play, Stream};
use super::media::ports::Bound;
use super::media::recording::{CallAudio, Channel};
use super::media::relay::{Relay, Rewrite, Side};
use super::media::remote::Remote;
use super::media::session::{self, Quality, Rtcp};
use super::media::srtp::Protection;
use super::media::{dtmf, g711, rtcp, rtp};
use super::sdp::{Codec, Negotiated, Offered};
use crate::ir::LegId;
use crate::store::MediaQuality;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// What a leg's reader tells its call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaEvent {
    /// An RFC 4733 key.
    Key(LegId, char),
    /// No RTP for the media timeout.
    Silent(LegId),
    /// The clock sent a prompt to its end; `generation` tells which prompt (see [`Play`]).
    PromptEnded {
        /// The leg.
        leg: LegId,
        /// The prompt's generation.
        generation: u64,
    },
}

/// What the reader does with packets besides keys, changed by the call.
#[derive(Debug, Default)]
struct Tap {
    /// Audio for the recognizer while the leg is listened to.
    listening: Option<std::sync::mpsc::SyncSender<Vec<i16>>>,
    /// Audio for the recording of the leg (`record`).
    recording: Option<std::sync::mpsc::SyncSender<Vec<i16>>>,
    /// Audio for answering-machine detection.
    detecting: Option<std::sync::mpsc::SyncSender<Vec<i16>>>,
    /// Audio for the recording of the whole call, and its channel (also while bridged).
    whole: Option<(CallAudio, Channel)>,
    /// The other party while bridged.
    relay: Option<Relay>,
}

/// Where a leg is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegState {
    /// Dialled, not answered yet.
    Dialing,
    /// Connected: media flows.
    Up,
    /// Hung up, by either side.
    Gone,
}

/// One party.
pub struct Leg {
    /// Which leg of the flow.
    pub id: LegId,
    /// Its SIP Call-ID.
    pub sip_id: String,
    /// Where it is.
    pub state: LegState,
    /// Its RTP socket, until the media starts.
    bound: Option<Bound>,
    /// Our RTP address (in our SDP).
    pub local: SocketAddr,
    /// The socket for sending to this leg (the clock's and relays').
    out: Arc<std::net::UdpSocket>,
    /// What the clock sends to it.
    pub play: Arc<Mutex<Play>>,
    tap: Arc<Mutex<Tap>>,
    /// What the SDP exchange settled, once it has.
    pub media: Option<Negotiated>,
    /// Where the party wants our RTP, once the media started.
    remote: Option<Remote>,
    reader: Option<JoinHandle<()>>,
    /// What was sent and received, for RTCP and the record.
    quality: session::Shared,
    /// The RTCP session once the media started, until its BYE.
    rtcp: Option<(Rtcp, JoinHandle<()>)>,
    /// Our offer, for a leg we dial: its answer is read against it.
    pub offered: Option<Offered>,
    /// The leg's SRTP, once its media started encrypted.
    srtp: Option<Protection>,
}

impl Leg {
    /// A leg on a bound RTP socket.
    pub fn new(id: LegId, sip_id: String, bound: Bound, state: LegState) -> Leg {
        let out = bound.out.clone();
        Leg {
            id,
            sip_id,
            state,
            local: bound.local,
            bound: Some(bound),
            out,
            play: Arc::new(Mutex::new(Play::default())),
            tap: Arc::new(Mutex::new(Tap::default())),
            media: None,
            remote: None,
            reader: None,
            quality: Quality::shared(),
            rtcp: None,
            offered: None,
            srtp: None,
        }
    }

    /// Starts the media once the SDP exchange settled it: our stream on the clock and the
    /// reader.
    pub fn start_media(
        &mut self,
        negotiated: Negotiated,
        clock: &Clock,
        events: mpsc::UnboundedSender<MediaEvent>,
        rtp_timeout: Duration,
        seed: u32,
        symmetric: bool,
    ) {
        let Some(bound) = self.bound.take() else {
            return;
        };
        let remote = Remote::new(negotiated.remote, symmetric);
        self.remote = Some(remote.clone());
        self.srtp = negotiated
            .srtp
            .as_ref()
            .map(|k| Protection::new(k.suite, &k.ours, &k.theirs));
        let ssrc = seed.rotate_left(7) ^ 0x1bad_b002;
        // With rtcp-mux, reports share the RTP socket and address; the RTCP port stays idle.
        let (out, to) = if negotiated.rtcp_mux {
            (bound.out.clone(), remote.clone())
        } else {
            (bound.rtcp_out, Remote::new(negotiated.rtcp, symmetric))
        };
        let reports = Rtcp {
            out,
            remote: to,
            cname: format!("ivrc@{}", self.local.ip()),
            ssrc,
            quality: self.quality.clone(),
            srtp: self.srtp.clone(),
        };
        let task = tokio::spawn(session::run(reports.clone(), bound.rtcp, seed));
        self.rtcp = Some((reports.clone(), task));
        clock.add(Stream {
            socket: bound.out,
            remote: remote.clone(),
            header: rtp::Header {
                payload_type: negotiated.codec.payload_type(),
                marker: true,
                sequence: seed as u16,
                timestamp: seed.rotate_left(13),
                ssrc,
            },
            a_law: negotiated.codec == Codec::Pcma,
            play: self.play.clone(),
            quality: self.quality.clone(),
            srtp: self.srtp.clone(),
            prompt_ended: {
                let (leg, events) = (self.id, events.clone());
                Box::new(move |generation| {
                    let _ = events.send(MediaEvent::PromptEnded { leg, generation });
                })
            },
        });
        self.reader = Some(tokio::spawn(read(
            bound.socket,
            self.id,
            remote,
            negotiated.clone(),
            self.tap.clone(),
            events,
            rtp_timeout,
            reports,
        )));
        self.media = Some(negotiated);
    }

    /// The party wants our RTP at `to` from now on (a re-INVITE's new offer): the clock, relays
    /// into the leg and the reader's symmetric-RTP learning all follow, and our RTCP goes to
    /// the port after it (with rtcp-mux it shares the RTP address and has already moved).
    pub fn move_media(&self, to: SocketAddr) {
        if let Some(r) = &self.remote {
            r.moved_to(to);
        }
        let muxed = self.media.as_ref().is_some_and(|m| m.rtcp_mux);
        if let (Some((reports, _)), false) = (&self.rtcp, muxed) {
            reports
                .remote
                .moved_to(SocketAddr::new(to.ip(), to.port().saturating_add(1)));
        }
    }

    /// A re-offer's crypto lines: when the one of the tag in use carries a new key of the
    /// party's, what it sends is read with that key from now on (ours stays, as our answer
    /// repeats it); an unchanged line keeps everything.
    pub fn rekey(&mut self, lines: &[String]) {
        let (Some(srtp), Some(m)) = (&self.srtp, self.media.as_mut()) else {
            return;
        };
        let Some(keys) = m.srtp.as_mut() else {
            return;
        };
        if let Some(theirs) = super::sdp::rekeyed(keys, lines) {
            srtp.rekey(&theirs);
            keys.theirs = theirs;
        }
    }

    /// Sends the leg's audio to a recognizer (or stops, with `None`).
    pub fn listen(&self, audio: Option<std::sync::mpsc::SyncSender<Vec<i16>>>) {
        self.tap.lock().unwrap_or_else(|p| p.into_inner()).listening = audio;
    }

    /// Sends the leg's audio to a recording (or stops, with `None`: the recording ends).
    pub fn record(&self, audio: Option<std::sync::mpsc::SyncSender<Vec<i16>>>) {
        self.tap.lock().unwrap_or_else(|p| p.into_inner()).recording = audio;
    }

    /// Sends what the leg's party says to a whole-call recording as `channel` (or stops, with
    /// `None`).
    pub fn record_call(&self, audio: Option<(CallAudio, Channel)>) {
        self.tap.lock().unwrap_or_else(|p| p.into_inner()).whole = audio;
    }

    /// Sends what the clock plays to the leg's party to a whole-call recording (or stops).
    pub fn hear(&self, audio: Option<CallAudio>) {
        self.play.lock().unwrap_or_else(|p| p.into_inner()).heard = audio;
    }

    /// Holds (or resumes) what the clock sends the party: while held nothing is sent and the
    /// prompt waits where it was (the party put us on hold).
    pub fn hold(&self, held: bool) {
        self.play.lock().unwrap_or_else(|p| p.into_inner()).held = held;
    }

    /// Sends the leg's audio to answering-machine detection (or stops, with `None`).
    pub fn detect(&self, audio: Option<std::sync::mpsc::SyncSender<Vec<i16>>>) {
        self.tap.lock().unwrap_or_else(|p| p.into_inner()).detecting = audio;
    }

    fn side(&self) -> Option<Side> {
        self.media.as_ref().map(|m| Side {
            a_law: m.codec == Codec::Pcma,
            dtmf: m.dtmf_payload_type,
        })
    }

    /// Connects two legs' media: each one's packets are relayed to the other, the clock stops
    /// sending to both. False when either has no media yet.
    pub fn bridge(a: &Leg, b: &Leg, seed: u32) -> bool {
        let (Some(sa), Some(sb), Some(ra), Some(rb)) = (a.side(), b.side(), &a.remote, &b.remote)
        else {
            return false;
        };
        for (from, to, remote, rewrite) in [
            (a, b, rb.clone(), Rewrite::new(sa, sb, seed ^ 0x5eed_0001)),
            (b, a, ra.clone(), Rewrite::new(sb, sa, seed ^ 0x5eed_0002)),
        ] {
            from.play.lock().unwrap_or_else(|p| p.into_inner()).relayed = true;
            from.tap.lock().unwrap_or_else(|p| p.into_inner()).relay = Some(Relay {
                socket: to.out.clone(),
                remote,
                rewrite,
                buffer: Vec::with_capacity(182),
                quality: to.quality.clone(),
                srtp: to.srtp.clone(),
            });
        }
        true
    }

    /// Ends the bridge on this leg's side: the clock sends to it again.
    pub fn unbridge(&self) {
        self.play.lock().unwrap_or_else(|p| p.into_inner()).relayed = false;
        self.tap.lock().unwrap_or_else(|p| p.into_inner()).relay = None;
    }

    /// Whether the leg is bridged.
    pub fn bridged(&self) -> bool {
        self.tap
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .relay
            .is_some()
    }

    /// The leg's media quality for its record, once its media started.
    pub fn quality(&self) -> Option<MediaQuality> {
        self.media.as_ref()?;
        let mut q = self
            .quality
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .summary();
        q.srtp = self.srtp.as_ref().map(|s| crate::store::SrtpUse {
            suite: s.suite().name().into(),
            refused: s.refused(),
        });
        Some(q)
    }

    /// No more media: the stream ends, the reader stops, RTCP says goodbye.
    pub fn stop(&mut self) {
        self.play.lock().unwrap_or_else(|p| p.into_inner()).stopped = true;
        let mut tap = self.tap.lock().unwrap_or_else(|p| p.into_inner());
        tap.relay = None;
        tap.listening = None;
        tap.recording = None;
        tap.detecting = None;
        tap.whole = None;
        drop(tap);
        if let Some(r) = self.reader.take() {
            r.abort();
        }
        if let Some((reports, task)) = self.rtcp.take() {
            task.abort();
            reports.send(true);
        }
        self.bound = None;
    }
}

impl Drop for Leg {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A G.711 payload as samples.
fn decoded(media: &Negotiated, payload: &[u8]) -> Vec<i16> {
    let decode = if media.codec == Codec::Pcma {
        g711::alaw_decode
    } else {
        g711::ulaw_decode
    };
    payload.iter().map(|&b| decode(b)).collect()
}

/// Reads a leg's RTP until aborted or silent for `timeout`; RTCP on the same port (RFC 5761)
/// goes to the leg's RTCP session.
#[allow(clippy::too_many_arguments)]
async fn read(
    socket: tokio::net::UdpSocket,
    leg: LegId,
    remote: Remote,
    media: Negotiated,
    tap: Arc<Mutex<Tap>>,
    events: mpsc::UnboundedSender<MediaEvent>,
    timeout: Duration,
    reports: Rtcp,
) {
    let mut buf = [0u8; 2048];
    let mut keys = dtmf::Receiver::new();
    let mut last = Instant::now();
    let silence = tokio::time::sleep(timeout);
    tokio::pin!(silence);
    loop {
        tokio::select! {
            received = socket.recv_from(&mut buf) => {
                let Ok((mut n, from)) = received else { continue };
                if rtcp::is_rtcp(&buf[..n]) {
                    last = Instant::now();
                    if media.rtcp_mux {
                        reports.datagram(&buf[..n], from);
                    }
                    continue;
                }
                if let Some(s) = &reports.srtp {
                    // Refused packets are counted and dropped: they do not keep the leg alive.
                    let Some(plain) = s.rtp_in(&mut buf[..n]) else { continue };
                    n = plain;
                }
                last = Instant::now();
                let Some(p) = rtp::parse(&buf[..n]) else { continue };
                // Symmetric RTP: answer where the party's packets come from.
                remote.heard_from(from);
                let audio = p.header.payload_type == media.codec.payload_type();
                reports
                    .quality
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .received(&p.header, last, audio);
                let mut tap = tap.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(relay) = tap.relay.as_mut() {
                    relay.forward(&p);
                    if p.header.payload_type == media.codec.payload_type() {
                        if let Some((audio, channel)) = &tap.whole {
                            let _ = audio.try_send((*channel, decoded(&media, p.payload)));
                        }
                    }
                } else if Some(p.header.payload_type) == media.dtmf_payload_type {
                    if let Some(k) = keys.packet(p.header.timestamp, p.payload) {
                        let _ = events.send(MediaEvent::Key(leg, k));
                    }
                } else if p.header.payload_type == media.codec.payload_type()
                    && (tap.listening.is_some()
                        || tap.recording.is_some()
                        || tap.detecting.is_some()
                        || tap.whole.is_some())
                {
                    let pcm = decoded(&media, p.payload);
                    if let Some((audio, channel)) = &tap.whole {
                        let _ = audio.try_send((*channel, pcm.clone()));
                    }
                    // A recognizer or a disk that falls behind loses audio, not the call.
                    if let Some(audio) = &tap.recording {
                        let _ = audio.try_send(pcm.clone());
                    }
                    if let Some(audio) = &tap.detecting {
                        let _ = audio.try_send(pcm.clone());
                    }
                    if let Some(audio) = &tap.listening {
                        let _ = audio.try_send(pcm);
                    }
                }
            },
            () = &mut silence => {
                let due = last + timeout;
                if due <= Instant::now() {
                    let _ = events.send(MediaEvent::Silent(leg));
                    return;
                }
                silence.as_mut().reset(due.into());
            },
        }
    }
}
