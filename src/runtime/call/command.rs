//! Carrying out the engine's commands on the runtime: prompts rendered off the async threads,
//! fetches, listening, transfers, dials, bridges and texts — and taking back the work that
//! comes home ([`Done`]).

use super::{seed, Call, CallRequest, Done, OutgoingText, RenderError};
use crate::engine::{Audio, Command, Event};
use crate::fetch::{FetchRequest, Fetcher};
use crate::ir::LegId;
use crate::runtime::asr::Recognizer;
use crate::runtime::leg::Leg;
use crate::runtime::media::prompts::{AudioFiles, Prompts, Voice};
use crate::runtime::media::Samples;
use std::sync::mpsc::SyncSender;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::task::{AbortHandle, JoinError, JoinHandle};

/// A prompt being rendered.
struct Rendering {
    generation: u64,
    leg: LegId,
    task: AbortHandle,
}

/// A listening in progress.
struct Listening {
    generation: u64,
    leg: LegId,
    /// Dropping it ends the recognizer's work.
    _audio: SyncSender<Vec<i16>>,
    /// The task passing phrases on as [`Done::Heard`].
    forward: AbortHandle,
}

/// The work a call has in flight, each piece reporting back as a [`Done`].
pub(super) struct Tasks {
    done: mpsc::UnboundedSender<Done>,
    prompts: Arc<Prompts>,
    /// Where the audio `play` names is.
    audio: AudioFiles,
    http: Arc<Fetcher>,
    asr: Option<Arc<dyn Recognizer>>,
    /// Counts the tasks started, so that a result of one given up on is known.
    started: u64,
    rendering: Option<Rendering>,
    fetching: Option<(u64, AbortHandle)>,
    listening: Option<Listening>,
}

impl Tasks {
    /// No work yet; results go to `done`.
    pub(super) fn new(
        done: mpsc::UnboundedSender<Done>,
        prompts: Arc<Prompts>,
        audio: AudioFiles,
        http: Arc<Fetcher>,
        asr: Option<Arc<dyn Recognizer>>,
    ) -> Tasks {
        Tasks {
            done,
            prompts,
            audio,
            http,
            asr,
            started: 0,
            rendering: None,
            fetching: None,
            listening: None,
        }
    }

    fn next_generation(&mut self) -> u64 {
        self.started += 1;
        self.started
    }

    /// Reports a task's result as a [`Done`] when it ends (a failed task too).
    pub(super) fn report<T: Send + 'static>(
        &self,
        task: JoinHandle<T>,
        wrap: impl FnOnce(Result<T, JoinError>) -> Done + Send + 'static,
    ) -> AbortHandle {
        let abort = task.abort_handle();
        let done = self.done.clone();
        tokio::spawn(async move {
            let _ = done.send(wrap(task.await));
        });
        abort
    }

    /// Renders a prompt for a leg, giving up on the one being rendered.
    fn render(
        &mut self,
        leg: LegId,
        job: impl FnOnce() -> Result<Samples, RenderError> + Send + 'static,
    ) {
        self.cancel_render();
        let generation = self.next_generation();
        let task = self.report(tokio::task::spawn_blocking(job), move |r| Done::Rendered {
            generation,
            result: r.unwrap_or_else(|e| Err(RenderError::Task(e.to_string()))),
        });
        self.rendering = Some(Rendering {
            generation,
            leg,
            task,
        });
    }

    /// Barge-in: the prompt being rendered is not wanted any more.
    fn cancel_render(&mut self) {
        if let Some(r) = self.rendering.take() {
            r.task.abort();
        }
    }

    /// Stops every task (the call is over).
    pub(super) fn stop_all(&mut self) {
        self.cancel_render();
        if let Some((_, f)) = self.fetching.take() {
            f.abort();
        }
        if let Some(l) = self.listening.take() {
            l.forward.abort();
        }
    }
}

impl Call<'_> {
    /// Carries out one of the engine's commands.
    pub(super) fn command(&mut self, command: Command) {
        match command {
            Command::Answer { leg } => {
                if leg == LegId::CALLER {
                    self.answer();
                }
            }
            Command::Say {
                leg,
                text,
                lang,
                voice,
            } => self.say(leg, text, Voice::of(&lang, &voice)),
            Command::Play { leg, audio } => self.play(leg, audio),
            Command::StopPrompt { leg } => {
                self.set_prompt(leg, None);
                self.tasks.cancel_render();
            }
            Command::StartTimer { id, ms } => {
                let at = Instant::now() + self.scaled(Duration::from_millis(ms));
                self.timers.insert(id, at);
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
            } => self.fetch(FetchRequest {
                method,
                url,
                params,
                headers,
                timeout_ms,
            }),
            Command::Transfer { leg, number } => self.transfer(leg, number),
            Command::Hangup { leg } => self.hang_up(leg.unwrap_or(LegId::CALLER), "flow"),
            Command::End => self.hang_up_all("flow"),
            Command::Listen { leg, phrases, .. } => self.listen(leg, &phrases),
            Command::StopListening { .. } => self.stop_listening(),
            Command::Dial {
                leg,
                number,
                caller_id,
                timeout_ms,
                detect_machine,
            } => self.dial(leg, number, caller_id, timeout_ms, detect_machine),
            Command::Bridge { a, b } => {
                let seed = seed(&self.call_id);
                let bridged = match (self.leg(a), self.leg(b)) {
                    (Some(la), Some(lb)) => Leg::bridge(la, lb, seed),
                    _ => false,
                };
                if bridged {
                    self.bridged_into_call_recording(a, b);
                } else {
                    self.record.error("bridge: a leg has no media".into());
                }
            }
            Command::Sms { to, text } => {
                let from = self.caller_id.clone();
                let id = format!("{}-sms-{}", self.call_id, seed(&text));
                let _ = self.requests.send(CallRequest::Text(
                    self.flow.name.clone(),
                    OutgoingText { id, to, from, text },
                ));
            }
            // The recorder keeps them.
            Command::Report { .. } | Command::Error { .. } => {}
            Command::Block { number } => {
                let _ = self.requests.send(CallRequest::Block {
                    flow: self.flow.name.clone(),
                    call_id: self.call_id.clone(),
                    number,
                });
            }
            Command::Record {
                leg,
                max_ms,
                end_key,
            } => self.start_recording(leg, max_ms, end_key),
        }
    }

    fn say(&mut self, leg: LegId, text: String, voice: Option<Voice>) {
        if self.prompt_to_nobody(leg) {
            return;
        }
        if leg == LegId::CALLER {
            self.answer();
        }
        let prompts = self.tasks.prompts.clone();
        let known = voice
            .as_ref()
            .and_then(|v| prompts.speech_in_memory(&text, v));
        if let Some(samples) = known.filter(|s| !s.is_empty()) {
            // heard before: no render task
            self.tasks.cancel_render();
            self.set_prompt(leg, Some(samples));
            return;
        }
        self.tasks.render(leg, move || match voice {
            Some(v) => Ok(prompts.speech(&text, &v)?),
            None => Err(RenderError::NoVoice),
        });
    }

    fn play(&mut self, leg: LegId, audio: Audio) {
        if self.prompt_to_nobody(leg) {
            return;
        }
        if leg == LegId::CALLER {
            self.answer();
        }
        match audio {
            Audio::File(path) => {
                let (prompts, full) = (self.tasks.prompts.clone(), self.tasks.audio.file(&path));
                self.tasks.render(leg, move || Ok(prompts.file(&full)?));
            }
            Audio::Record(id) => match self.tasks.audio.record(id) {
                Ok(full) => {
                    let prompts = self.tasks.prompts.clone();
                    self.tasks.render(leg, move || Ok(prompts.file(&full)?));
                }
                Err(why) => {
                    self.record.error(why);
                    self.tasks.render(leg, || Ok(Samples::from(Vec::new())));
                }
            },
            Audio::Url(url) => {
                // Downloaded on the render task's blocking thread, through the runtime's
                // shared HTTP client.
                let (prompts, http) = (self.tasks.prompts.clone(), self.tasks.http.clone());
                let runtime = tokio::runtime::Handle::current();
                self.tasks.render(leg, move || {
                    Ok(prompts.url(&url, |u| runtime.block_on(http.download(u)))?)
                });
            }
        }
    }

    fn fetch(&mut self, request: FetchRequest) {
        if let Some((_, f)) = self.tasks.fetching.take() {
            f.abort();
        }
        let generation = self.tasks.next_generation();
        let http = self.tasks.http.clone();
        let task = tokio::spawn(async move { http.fetch(&request).await });
        let abort = self.tasks.report(task, move |r| Done::Fetched {
            generation,
            result: r.unwrap_or_else(|e| Err(e.to_string())),
        });
        self.tasks.fetching = Some((generation, abort));
    }

    fn listen(&mut self, leg: LegId, phrases: &[String]) {
        if leg == LegId::CALLER {
            self.answer();
        }
        self.stop_listening();
        let listening = match self.tasks.asr.as_ref().map(|a| a.listen(phrases)) {
            Some(Ok(l)) => l,
            Some(Err(e)) => return self.record.error(format!("listen: {e}")),
            None => return self.record.error("listen: no recognizer".into()),
        };
        if let Some(leg_media) = self.leg(leg) {
            leg_media.listen(Some(listening.audio.clone()));
        }
        let generation = self.tasks.next_generation();
        let (done, mut heard) = (self.tasks.done.clone(), listening.heard);
        let forward = tokio::spawn(async move {
            while let Some(heard) = heard.recv().await {
                if done.send(Done::Heard { generation, heard }).is_err() {
                    break;
                }
            }
        });
        self.tasks.listening = Some(Listening {
            generation,
            leg,
            _audio: listening.audio,
            forward: forward.abort_handle(),
        });
    }

    fn stop_listening(&mut self) {
        if let Some(l) = self.tasks.listening.take() {
            if let Some(leg) = self.leg(l.leg) {
                leg.listen(None);
            }
            l.forward.abort();
        }
    }

    /// Work the call started has come back: a result of a task given up on is dropped.
    pub(super) fn done(&mut self, done: Done) {
        match done {
            Done::Rendered { generation, result } => {
                let Some(r) = self.tasks.rendering.take_if(|r| r.generation == generation) else {
                    return;
                };
                match result {
                    Ok(samples) if !samples.is_empty() => self.set_prompt(r.leg, Some(samples)),
                    Ok(_) => self.handle(Event::PromptDone { leg: r.leg }),
                    Err(e) => {
                        self.record.error(format!("prompt: {e}"));
                        self.handle(Event::PromptDone { leg: r.leg });
                    }
                }
            }
            Done::Fetched { generation, result } => {
                if self
                    .tasks
                    .fetching
                    .take_if(|(g, _)| *g == generation)
                    .is_some()
                {
                    self.handle(Event::FetchDone { result });
                }
            }
            Done::Detected { leg, verdict } => self.detected(leg, verdict),
            Done::Recorded {
                leg,
                to_flow,
                result,
            } => self.recorded(leg, to_flow, result),
            Done::Heard { generation, heard } => {
                let leg = match &self.tasks.listening {
                    Some(l) if l.generation == generation => l.leg,
                    _ => return,
                };
                self.handle(Event::Speech {
                    leg,
                    text: heard.text,
                    confidence: heard.confidence,
                });
            }
        }
    }
}
