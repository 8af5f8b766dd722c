//! One call on the runtime: a task that drives the engine in real time. Engine timers become
//! tokio sleeps, prompts are rendered off the async threads and sent as RTP on a 20 ms clock
//! (silence between them), RFC 4733 packets and SIP INFO become key events, and the SIP side
//! (answer, hang-up, transfer) is asked of the core through the server. It ends with the call
//! record.

use super::asr::{Listening, Recognizer};
use super::media::clock::{Clock, Play, Stream};
use super::media::{dtmf, g711, prompts::Prompts, prompts::Samples, prompts::Voice, rtp};
use super::sdp::{Codec, Negotiated};
use super::sip::core::Gone;
use crate::engine::{Audio, Command, Engine, Event, TimerId};
use crate::ir::{self, LegId};
use crate::store::CallRecord;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::sleep_until;

/// The caller's leg.
const CALLER: LegId = LegId(0);

/// What reaches a call from the SIP side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallInput {
    /// A key sent with SIP INFO.
    Key(char),
    /// The caller is gone.
    Gone(Gone),
    /// The server shuts down: end the call now.
    Shutdown,
}

/// What a call asks of the SIP side.
#[derive(Debug, Clone, PartialEq)]
pub enum CallRequest {
    /// Answer with this SDP.
    Answer(String, Vec<u8>),
    /// Hang up (BYE, or 480 before the answer).
    Hangup(String),
    /// Hand the call to a number (302 before the answer, REFER after).
    Transfer(String, String),
    /// The call is over.
    Ended(Box<CallRecord>),
}

/// Everything a call needs.
pub struct CallSetup {
    /// The program.
    pub program: Arc<ir::Program>,
    /// Which flow.
    pub flow: usize,
    /// The SIP Call-ID.
    pub call_id: String,
    /// The caller's number.
    pub caller: Option<String>,
    /// The called number.
    pub called: Option<String>,
    /// When the INVITE came, ms since the epoch.
    pub started_ms: u64,
    /// The call's RTP socket.
    pub media: tokio::net::UdpSocket,
    /// Our SDP answer.
    pub answer_sdp: Vec<u8>,
    /// What the offer settled.
    pub negotiated: Negotiated,
    /// From the SIP side.
    pub inputs: mpsc::UnboundedReceiver<CallInput>,
    /// To the SIP side.
    pub requests: mpsc::UnboundedSender<CallRequest>,
    /// Prompt audio.
    pub prompts: Arc<Prompts>,
    /// Where the flow file is (for `play` of local files).
    pub flow_dir: PathBuf,
    /// For `fetch`.
    pub http: Arc<crate::fetch::Fetcher>,
    /// For `listen`.
    pub asr: Option<Arc<dyn Recognizer>>,
    /// The media clock that sends our RTP once the call is answered.
    pub clock: Arc<Clock>,
    /// A handle of `media` for the clock to send with.
    pub media_out: std::net::UdpSocket,
}

/// Waits for a task when there is one, forever otherwise (a disabled `select!` branch).
async fn join_or_wait<T>(task: &mut Option<JoinHandle<T>>) -> Result<T, tokio::task::JoinError> {
    match task {
        Some(t) => t.await,
        None => std::future::pending().await,
    }
}

/// One RTP packet from the caller: a key (RFC 4733), or audio for the recognizer.
fn incoming(
    packet: &[u8],
    call: &mut Call<'_>,
    keys: &mut dtmf::Receiver,
    listening: Option<&Listening>,
    negotiated: &Negotiated,
) {
    let Some(p) = rtp::parse(packet) else {
        return;
    };
    if Some(p.header.payload_type) == negotiated.dtmf_payload_type {
        if let Some(k) = keys.packet(p.header.timestamp, p.payload) {
            call.record.keys.push(k);
            call.handle(Event::Key {
                leg: CALLER,
                key: k,
            });
        }
    } else if p.header.payload_type == negotiated.codec.payload_type() {
        if let Some(l) = listening {
            let decode = if negotiated.codec == Codec::Pcma {
                g711::alaw_decode
            } else {
                g711::ulaw_decode
            };
            let audio: Vec<i16> = p.payload.iter().map(|&b| decode(b)).collect();
            // A recognizer that falls behind loses audio, not the call.
            let _ = l.audio.try_send(audio);
        }
    }
}

/// The next phrase of a listening when there is one, forever otherwise.
async fn heard_or_wait(listening: &mut Option<Listening>) -> Option<super::asr::Heard> {
    match listening {
        Some(l) => l.heard.recv().await,
        None => std::future::pending().await,
    }
}

/// A number that differs between calls without a random-number crate: the clock's
/// nanoseconds mixed with the call id.
fn seed(call_id: &str) -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    call_id
        .bytes()
        .fold(nanos ^ 0x9e37_79b9, |h, b| h.rotate_left(5) ^ u32::from(b))
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The running call.
struct Call<'f> {
    engine: Engine<'f>,
    flow: &'f ir::Flow,
    call_id: String,
    requests: mpsc::UnboundedSender<CallRequest>,
    prompts: Arc<Prompts>,
    flow_dir: PathBuf,
    http: Arc<crate::fetch::Fetcher>,
    voice: Option<Voice>,
    answer_sdp: Vec<u8>,
    answered: bool,
    /// The caller is gone, or the call was handed over: no BYE from us.
    sip_done: bool,
    timers: BTreeMap<TimerId, Instant>,
    /// Events the call causes itself, handled after the current one.
    deferred: std::collections::VecDeque<Event>,
    /// A prompt being rendered, until the loop takes it.
    new_render: Option<JoinHandle<Result<Samples, String>>>,
    /// Barge-in: the prompt being rendered must be dropped.
    stop_render: bool,
    /// A fetch started, until the loop takes it.
    new_fetch: Option<JoinHandle<Result<serde_json::Value, String>>>,
    asr: Option<Arc<dyn Recognizer>>,
    /// A listening started, until the loop takes it; `stop_listening` ends the current one.
    new_listening: Option<Listening>,
    stop_listening: bool,
    /// Our RTP stream, until the answer hands it to the clock.
    stream: Option<Stream>,
    clock: Arc<Clock>,
    /// What the stream sends.
    play: Arc<std::sync::Mutex<Play>>,
    record: CallRecord,
}

impl<'f> Call<'f> {
    fn answer(&mut self) {
        if !self.answered {
            self.answered = true;
            self.record.answered_ms = Some(now_ms());
            let sdp = std::mem::take(&mut self.answer_sdp);
            let _ = self
                .requests
                .send(CallRequest::Answer(self.call_id.clone(), sdp));
            if let Some(stream) = self.stream.take() {
                self.clock.add(stream);
            }
        }
    }

    /// Puts a prompt on the stream (or silence), starting a new generation.
    fn set_prompt(&mut self, samples: Option<Samples>) {
        let mut play = self.play.lock().unwrap_or_else(|p| p.into_inner());
        play.generation += 1;
        play.prompt = samples.map(|s| (s, 0));
    }

    fn prompt_generation(&self) -> u64 {
        self.play
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .generation
    }

    fn handle(&mut self, event: Event) {
        self.deferred.push_back(event);
        while let Some(event) = self.deferred.pop_front() {
            for o in self.engine.handle(event) {
                let line = self
                    .flow
                    .nodes
                    .get(o.node.0 as usize)
                    .map_or(0, |n| n.span.line);
                if self.record.path.last() != Some(&line) {
                    self.record.path.push(line);
                }
                self.command(o.command);
            }
        }
    }

    /// A prompt on a call whose caller is gone ends at once.
    fn prompt_to_nobody(&mut self) -> bool {
        if self.sip_done {
            self.deferred.push_back(Event::PromptDone { leg: CALLER });
        }
        self.sip_done
    }

    fn command(&mut self, command: Command) {
        match command {
            Command::Answer { .. } => self.answer(),
            Command::Say { text, .. } => {
                self.record.prompts.push(text.clone());
                if self.prompt_to_nobody() {
                    return;
                }
                self.answer();
                let known = self
                    .voice
                    .as_ref()
                    .and_then(|v| self.prompts.speech_in_memory(&text, v));
                if let Some(samples) = known.filter(|s| !s.is_empty()) {
                    // heard before: no render task
                    self.stop_render = true;
                    if let Some(r) = self.new_render.take() {
                        r.abort();
                    }
                    self.set_prompt(Some(samples));
                    return;
                }
                let (prompts, voice) = (self.prompts.clone(), self.voice.clone());
                self.start_render(move || match voice {
                    Some(v) => prompts.speech(&text, &v).map_err(|e| e.to_string()),
                    None => Err("the flow's voice has no espeak-ng voice".into()),
                });
            }
            Command::Play { audio, .. } => {
                if self.prompt_to_nobody() {
                    return;
                }
                self.answer();
                match audio {
                    Audio::File(path) => {
                        self.record.prompts.push(format!("play {path}"));
                        let (prompts, full) = (self.prompts.clone(), self.flow_dir.join(&path));
                        self.start_render(move || prompts.file(&full).map_err(|e| e.to_string()));
                    }
                    other => {
                        self.record
                            .errors
                            .push(format!("cannot play {other:?} on the runtime"));
                        self.start_render(|| Ok(Samples::from(Vec::new())));
                    }
                }
            }
            Command::StopPrompt { .. } => {
                self.set_prompt(None);
                self.stop_render = true;
                if let Some(r) = self.new_render.take() {
                    r.abort();
                }
            }
            Command::StartTimer { id, ms } => {
                self.timers
                    .insert(id, Instant::now() + Duration::from_millis(ms));
            }
            Command::CancelTimer { id } => {
                self.timers.remove(&id);
            }
            Command::Fetch {
                method,
                url,
                params,
                headers,
                timeout_ms,
            } => {
                let http = self.http.clone();
                let request = crate::fetch::FetchRequest {
                    method,
                    url,
                    params,
                    headers,
                    timeout_ms,
                };
                self.new_fetch = Some(tokio::spawn(async move { http.fetch(&request).await }));
            }
            Command::Report { ok, data, reason } => {
                let data: serde_json::Map<String, serde_json::Value> = data.into_iter().collect();
                self.record.report =
                    Some(serde_json::json!({ "ok": ok, "reason": reason, "data": data }));
            }
            Command::Transfer { number, .. } => {
                self.sip_done = true;
                self.stop_media();
                self.record.ended_by = "transfer".into();
                let _ = self
                    .requests
                    .send(CallRequest::Transfer(self.call_id.clone(), number));
            }
            Command::Hangup {
                leg: None | Some(CALLER),
            }
            | Command::End => self.hang_up("flow"),
            Command::Listen { phrases, .. } => {
                self.answer();
                self.stop_listening = true;
                match self.asr.as_ref().map(|a| a.listen(&phrases)) {
                    Some(Ok(l)) => self.new_listening = Some(l),
                    Some(Err(e)) => self.record.errors.push(format!("listen: {e}")),
                    None => self.record.errors.push("listen: no recognizer".into()),
                }
            }
            Command::StopListening { .. } => {
                self.stop_listening = true;
                self.new_listening = None;
            }
            Command::Error { reason } => self.record.errors.push(reason),
            // Refused before the runtime starts (runtime::capabilities).
            Command::Dial { .. }
            | Command::Bridge { .. }
            | Command::Record { .. }
            | Command::Sms { .. }
            | Command::Block { .. }
            | Command::Hangup { .. } => {
                self.record
                    .errors
                    .push(format!("not available on the runtime: {command:?}"));
            }
        }
    }

    fn start_render(&mut self, job: impl FnOnce() -> Result<Samples, String> + Send + 'static) {
        self.stop_render = true;
        if let Some(r) = self.new_render.take() {
            r.abort();
        }
        self.new_render = Some(tokio::task::spawn_blocking(job));
    }

    /// No more RTP: the call is over on the SIP side.
    fn stop_media(&mut self) {
        self.play.lock().unwrap_or_else(|p| p.into_inner()).stopped = true;
    }

    fn hang_up(&mut self, by: &str) {
        if !self.sip_done {
            self.sip_done = true;
            self.stop_media();
            if self.record.ended_by.is_empty() {
                self.record.ended_by = by.into();
            }
            let _ = self
                .requests
                .send(CallRequest::Hangup(self.call_id.clone()));
        }
    }

    fn gone(&mut self, why: &str) {
        self.sip_done = true;
        self.stop_media();
        if self.record.ended_by.is_empty() {
            self.record.ended_by = why.into();
        }
        if !self.engine.ended() {
            self.handle(Event::Hangup { leg: CALLER });
        }
    }
}

/// Runs a call to its end and sends its record.
pub async fn run(setup: CallSetup) {
    let CallSetup {
        program,
        flow,
        call_id,
        caller,
        called,
        started_ms,
        media,
        answer_sdp,
        negotiated,
        mut inputs,
        requests,
        prompts,
        flow_dir,
        http,
        asr,
        clock,
        media_out,
    } = setup;
    let play = Arc::new(std::sync::Mutex::new(Play::default()));
    let (done_tx, mut prompt_done) = mpsc::unbounded_channel::<u64>();
    let Some(flow) = program.flows.get(flow) else {
        return;
    };
    let seed = seed(&call_id);
    let mut call = Call {
        engine: Engine::new(flow),
        flow,
        call_id: call_id.clone(),
        requests: requests.clone(),
        prompts,
        flow_dir,
        http,
        voice: Voice::of(
            flow.settings.lang.as_deref(),
            flow.settings.voice.as_deref(),
        ),
        answer_sdp,
        answered: false,
        sip_done: false,
        timers: BTreeMap::new(),
        deferred: std::collections::VecDeque::new(),
        new_render: None,
        stop_render: false,
        new_fetch: None,
        asr,
        new_listening: None,
        stop_listening: false,
        stream: Some(Stream {
            socket: media_out,
            remote: negotiated.remote,
            header: rtp::Header {
                payload_type: negotiated.codec.payload_type(),
                marker: true,
                sequence: seed as u16,
                timestamp: seed.rotate_left(13),
                ssrc: seed.rotate_left(7) ^ 0x1bad_b002,
            },
            a_law: negotiated.codec == Codec::Pcma,
            play: play.clone(),
            done: done_tx,
        }),
        clock,
        play,
        record: CallRecord {
            call_id: call_id.clone(),
            flow: flow.name.clone(),
            caller: caller.clone().unwrap_or_default(),
            called: called.clone().unwrap_or_default(),
            started_ms,
            answered_ms: None,
            ended_ms: 0,
            ended_by: String::new(),
            keys: String::new(),
            path: Vec::new(),
            values: Vec::new(),
            prompts: Vec::new(),
            phrases: Vec::new(),
            report: None,
            errors: Vec::new(),
        },
    };
    call.handle(Event::Start {
        has_caller: true,
        caller,
        called,
        call_id: call_id.clone(),
        params: Vec::new(),
    });
    let mut receiver = dtmf::Receiver::new();
    let mut buf = [0u8; 2048];
    let mut rendering: Option<JoinHandle<Result<Samples, String>>> = None;
    let mut fetching: Option<JoinHandle<Result<serde_json::Value, String>>> = None;
    let mut listening: Option<Listening> = None;
    loop {
        if call.stop_listening {
            call.stop_listening = false;
            listening = None;
        }
        if let Some(l) = call.new_listening.take() {
            listening = Some(l);
        }
        if call.stop_render {
            call.stop_render = false;
            if let Some(r) = rendering.take() {
                r.abort();
            }
        }
        if let Some(r) = call.new_render.take() {
            rendering = Some(r);
        }
        if let Some(f) = call.new_fetch.take() {
            fetching = Some(f);
        }
        if call.engine.ended() {
            call.hang_up("flow");
        }
        if call.sip_done && call.engine.ended() {
            break;
        }
        let timer = call
            .timers
            .iter()
            .min_by_key(|(_, at)| **at)
            .map(|(id, at)| (*id, *at));
        let far = Instant::now() + Duration::from_secs(3600);
        tokio::select! {
            input = inputs.recv() => match input {
                Some(CallInput::Key(k)) => {
                    call.record.keys.push(k);
                    call.handle(Event::Key { leg: CALLER, key: k });
                }
                Some(CallInput::Gone(g)) => call.gone(match g {
                    Gone::Bye => "caller",
                    Gone::Cancel => "cancel",
                    Gone::NoAck => "no_ack",
                }),
                Some(CallInput::Shutdown) => {
                    call.record.ended_by = "shutdown".into();
                    call.hang_up("shutdown");
                    break;
                }
                None => break,
            },
            received = media.recv_from(&mut buf) => {
                if let Ok((n, _)) = received {
                    incoming(&buf[..n], &mut call, &mut receiver, listening.as_ref(), &negotiated);
                }
            },
            Some(generation) = prompt_done.recv() => {
                if generation == call.prompt_generation() && !call.sip_done {
                    call.handle(Event::PromptDone { leg: CALLER });
                }
            },
            () = sleep_until(timer.map_or(far, |(_, at)| at).into()), if timer.is_some() => {
                if let Some((id, _)) = timer {
                    call.timers.remove(&id);
                    call.handle(Event::Timer { id });
                }
            },
            rendered = join_or_wait(&mut rendering) => {
                rendering = None;
                match rendered {
                    Ok(Ok(samples)) if !samples.is_empty() => call.set_prompt(Some(samples)),
                    Ok(Ok(_)) => call.handle(Event::PromptDone { leg: CALLER }),
                    Ok(Err(e)) => {
                        call.record.errors.push(format!("prompt: {e}"));
                        call.handle(Event::PromptDone { leg: CALLER });
                    }
                    Err(_) => {} // aborted by barge-in
                }
            },
            heard = heard_or_wait(&mut listening) => {
                match heard {
                    Some(h) => {
                        call.record.phrases.push(h.text.clone());
                        call.handle(Event::Speech { leg: CALLER, text: h.text, confidence: h.confidence });
                    }
                    None => listening = None,
                }
            },
            fetched = join_or_wait(&mut fetching) => {
                fetching = None;
                let result = fetched.unwrap_or_else(|e| Err(e.to_string()));
                call.handle(Event::FetchDone { result });
            },
        }
    }
    call.stop_media();
    if let Some(r) = rendering.take() {
        r.abort();
    }
    if let Some(f) = fetching.take() {
        f.abort();
    }
    call.record.values = call
        .engine
        .variables()
        .map(|(name, v)| {
            (
                name.to_string(),
                v.render().unwrap_or_else(|_| "null".into()),
            )
        })
        .collect();
    call.record.ended_ms = now_ms();
    if call.record.ended_by.is_empty() {
        call.record.ended_by = "flow".into();
    }
    let _ = requests.send(CallRequest::Ended(Box::new(call.record)));
}
