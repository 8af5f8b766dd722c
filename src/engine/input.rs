//! The waiting statements that take input: `collect` (keys), `menu` (one key) and `listen`
//! (phrases). Each keeps a small state while it waits; prompts, barge-in, timeouts and
//! retries are defined here once for every driver.

use super::{Command, Engine, Event, Output, TimerId, Value, Wait};
use crate::ir::{CollectKind, LegId, NodeId, Op, Outcome};
use crate::phrase;

/// State of a `collect`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Collect {
    leg: LegId,
    attempt: u32,
    digits: String,
    prompting: bool,
    timer: Option<TimerId>,
}

/// State of a `menu`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Menu {
    leg: LegId,
    attempt: u32,
    prompting: bool,
    timer: Option<TimerId>,
}

/// State of a `listen`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Listen {
    leg: LegId,
    prompting: bool,
    pause: Option<TimerId>,
    deadline: TimerId,
}

fn stop(
    out: &mut Vec<Output>,
    node: NodeId,
    leg: LegId,
    prompting: bool,
    timers: &[Option<TimerId>],
) {
    if prompting {
        out.push(Output {
            node,
            command: Command::StopPrompt { leg },
        });
    }
    for id in timers.iter().flatten() {
        out.push(Output {
            node,
            command: Command::CancelTimer { id: *id },
        });
    }
}

impl Collect {
    /// Stops prompts and timers.
    pub fn cancel(&self, out: &mut Vec<Output>, node: NodeId) {
        stop(out, node, self.leg, self.prompting, &[self.timer]);
    }
}

impl Menu {
    /// Stops prompts and timers.
    pub fn cancel(&self, out: &mut Vec<Output>, node: NodeId) {
        stop(out, node, self.leg, self.prompting, &[self.timer]);
    }
}

impl Listen {
    /// Stops prompts, recognition and timers.
    pub fn cancel(&self, out: &mut Vec<Output>, node: NodeId) {
        stop(
            out,
            node,
            self.leg,
            self.prompting,
            &[self.pause, Some(self.deadline)],
        );
        out.push(Output {
            node,
            command: Command::StopListening { leg: self.leg },
        });
    }
}

impl Engine<'_> {
    /// Says the prompt (first attempt) or the re-prompt; returns whether anything was said.
    fn prompt(&mut self, retry: bool) -> bool {
        let (leg, text) = match &self.node(self.state.node).op {
            Op::Collect {
                leg,
                prompt,
                reprompt,
                ..
            }
            | Op::Menu {
                leg,
                prompt,
                reprompt,
                ..
            } => {
                let t = if retry {
                    reprompt.as_ref().or(prompt.as_ref().map(|p| &p.text))
                } else {
                    prompt.as_ref().map(|p| &p.text)
                };
                (*leg, t)
            }
            Op::Listen { leg, prompt, .. } => (*leg, prompt.as_ref().map(|p| &p.text)),
            _ => return false,
        };
        let Some(text) = text else { return false };
        let Some(text) = self.render(text) else {
            return false;
        };
        self.say(leg, text);
        true
    }

    pub(super) fn start_collect(&mut self) {
        let Op::Collect { leg, .. } = &self.node(self.state.node).op else {
            return;
        };
        let mut c = Collect {
            leg: *leg,
            attempt: 0,
            digits: String::new(),
            prompting: false,
            timer: None,
        };
        self.begin_collect_attempt(&mut c, false);
    }

    fn begin_collect_attempt(&mut self, c: &mut Collect, retry: bool) {
        let Op::Collect { timeout_ms, .. } = &self.node(self.state.node).op else {
            return;
        };
        let timeout = *timeout_ms;
        c.digits.clear();
        c.prompting = self.prompt(retry);
        if self.state.wait == Wait::Ended {
            return;
        }
        c.timer = if c.prompting {
            None
        } else {
            Some(self.timer(timeout))
        };
        self.state.wait = Wait::Collect(c.clone());
    }

    pub(super) fn collect_event(&mut self, mut c: Collect, event: Event) {
        let Op::Collect {
            retries,
            max_digits,
            end_key,
            timeout_ms,
            digit_timeout_ms,
            barge_in,
            ..
        } = &self.node(self.state.node).op
        else {
            return;
        };
        match event {
            Event::PromptDone { leg } if leg == c.leg && c.prompting => {
                c.prompting = false;
                c.timer = Some(self.timer(*timeout_ms));
                self.state.wait = Wait::Collect(c);
            }
            Event::Key { leg, key } if leg == c.leg => {
                if c.prompting {
                    if !barge_in {
                        return;
                    }
                    self.emit(Command::StopPrompt { leg });
                    c.prompting = false;
                }
                if let Some(t) = c.timer.take() {
                    self.emit(Command::CancelTimer { id: t });
                }
                let ends = end_key.as_deref().is_some_and(|k| k.starts_with(key));
                if ends && c.digits.is_empty() {
                    // An end key before any digit (often the `#` after a number that reached
                    // `max_digits`) submits nothing; keep waiting for the first digit.
                    c.timer = Some(self.timer(*timeout_ms));
                    self.state.wait = Wait::Collect(c);
                    return;
                }
                if !ends {
                    c.digits.push(key);
                }
                if ends || c.digits.chars().count() >= *max_digits as usize {
                    self.finish_collect(c);
                } else {
                    c.timer = Some(self.timer(*digit_timeout_ms));
                    self.state.wait = Wait::Collect(c);
                }
            }
            Event::Timer { id } if c.timer == Some(id) => {
                c.timer = None;
                if c.digits.is_empty() {
                    self.retry_collect(c, Outcome::Timeout, *retries);
                } else {
                    self.finish_collect(c);
                }
            }
            _ => {}
        }
    }

    fn finish_collect(&mut self, c: Collect) {
        let Op::Collect {
            var,
            kind,
            retries,
            min_digits,
            valid_if,
            ..
        } = &self.node(self.state.node).op
        else {
            return;
        };
        let count = c.digits.chars().count();
        let value = match kind {
            _ if count < *min_digits as usize || c.digits.is_empty() => None,
            CollectKind::Number => {
                if c.digits.chars().all(|d| d.is_ascii_digit()) {
                    c.digits.parse::<i64>().ok().map(Value::Number)
                } else {
                    None
                }
            }
            CollectKind::Digits => Some(Value::Digits(c.digits.clone())),
        };
        let Some(value) = value else {
            return self.retry_collect(c, Outcome::Invalid, *retries);
        };
        self.state.vars[var.0 as usize] = Some(value);
        if let Some(cond) = valid_if {
            let Some(ok) = self.value(cond) else { return };
            if !ok.truthy() {
                self.state.vars[var.0 as usize] = None;
                return self.retry_collect(c, Outcome::Invalid, *retries);
            }
        }
        self.state.wait = Wait::Nothing;
        self.follow(&Outcome::Ok);
    }

    fn retry_collect(&mut self, mut c: Collect, outcome: Outcome, retries: u32) {
        if c.attempt < retries {
            c.attempt += 1;
            self.begin_collect_attempt(&mut c, true);
        } else {
            self.state.wait = Wait::Nothing;
            self.follow(&outcome);
        }
    }

    pub(super) fn start_menu(&mut self) {
        let Op::Menu { leg, .. } = &self.node(self.state.node).op else {
            return;
        };
        let mut m = Menu {
            leg: *leg,
            attempt: 0,
            prompting: false,
            timer: None,
        };
        self.begin_menu_attempt(&mut m, false);
    }

    fn begin_menu_attempt(&mut self, m: &mut Menu, retry: bool) {
        let Op::Menu { timeout_ms, .. } = &self.node(self.state.node).op else {
            return;
        };
        let timeout = *timeout_ms;
        m.prompting = self.prompt(retry);
        if self.state.wait == Wait::Ended {
            return;
        }
        m.timer = if m.prompting {
            None
        } else {
            Some(self.timer(timeout))
        };
        self.state.wait = Wait::Menu(m.clone());
    }

    pub(super) fn menu_event(&mut self, mut m: Menu, event: Event) {
        let Op::Menu {
            retries,
            timeout_ms,
            keys,
            barge_in,
            ..
        } = &self.node(self.state.node).op
        else {
            return;
        };
        match event {
            Event::PromptDone { leg } if leg == m.leg && m.prompting => {
                m.prompting = false;
                m.timer = Some(self.timer(*timeout_ms));
                self.state.wait = Wait::Menu(m);
            }
            Event::Key { leg, key } if leg == m.leg => {
                if m.prompting {
                    if !barge_in {
                        return;
                    }
                    self.emit(Command::StopPrompt { leg });
                    m.prompting = false;
                }
                if let Some(t) = m.timer.take() {
                    self.emit(Command::CancelTimer { id: t });
                }
                let key = key.to_string();
                if keys.contains(&key) {
                    self.state.wait = Wait::Nothing;
                    self.follow(&Outcome::Key(key));
                } else {
                    self.retry_menu(m, Outcome::Invalid, *retries);
                }
            }
            Event::Timer { id } if m.timer == Some(id) => {
                m.timer = None;
                self.retry_menu(m, Outcome::Timeout, *retries);
            }
            _ => {}
        }
    }

    fn retry_menu(&mut self, mut m: Menu, outcome: Outcome, retries: u32) {
        if m.attempt < retries {
            m.attempt += 1;
            self.begin_menu_attempt(&mut m, true);
        } else {
            self.state.wait = Wait::Nothing;
            self.follow(&outcome);
        }
    }

    pub(super) fn start_listen(&mut self) {
        let Op::Listen {
            leg,
            phrases,
            within_ms,
            ..
        } = &self.node(self.state.node).op
        else {
            return;
        };
        let leg = *leg;
        let hints = phrases.iter().flatten().cloned().collect();
        let lang = self.flow.settings.lang.clone();
        self.emit(Command::Listen {
            leg,
            phrases: hints,
            lang,
        });
        let deadline = self.timer(*within_ms);
        let prompting = self.prompt(false);
        if self.state.wait == Wait::Ended {
            return;
        }
        self.state.wait = Wait::Listen(Listen {
            leg,
            prompting,
            pause: None,
            deadline,
        });
    }

    pub(super) fn listen_event(&mut self, mut l: Listen, event: Event) {
        let Op::Listen {
            prompt,
            phrases,
            barge_in,
            ..
        } = &self.node(self.state.node).op
        else {
            return;
        };
        match event {
            Event::PromptDone { leg } if leg == l.leg && l.prompting => {
                l.prompting = false;
                if let Some(p) = prompt.as_ref().filter(|p| p.looped) {
                    l.pause = Some(self.timer(p.pause_ms));
                }
                self.state.wait = Wait::Listen(l);
            }
            Event::Timer { id } if l.pause == Some(id) => {
                l.pause = None;
                l.prompting = self.prompt(false);
                if self.state.wait != Wait::Ended {
                    self.state.wait = Wait::Listen(l);
                }
            }
            Event::Timer { id } if l.deadline == id => {
                self.state.wait = Wait::Nothing;
                stop(
                    &mut self.out,
                    self.state.node,
                    l.leg,
                    l.prompting,
                    &[l.pause],
                );
                self.emit(Command::StopListening { leg: l.leg });
                self.follow(&Outcome::Timeout);
            }
            Event::Speech { leg, text, .. } if leg == l.leg => {
                let heard = phrase::normalize(&text);
                let matched = phrases
                    .iter()
                    .position(|group| group.iter().any(|p| phrase::says(&heard, p)));
                let names_nomatch = self.node(self.state.node).edge(&Outcome::NoMatch).is_some();
                let outcome = match matched {
                    Some(i) => Outcome::Phrase(u32::try_from(i).unwrap_or(u32::MAX)),
                    None if names_nomatch => Outcome::NoMatch,
                    // Unmatched speech keeps listening; it still interrupts the prompt.
                    None => {
                        if l.prompting && *barge_in {
                            self.emit(Command::StopPrompt { leg });
                            l.prompting = false;
                            if let Some(p) = prompt.as_ref().filter(|p| p.looped) {
                                l.pause = Some(self.timer(p.pause_ms));
                            }
                        }
                        self.state.wait = Wait::Listen(l);
                        return;
                    }
                };
                self.state.wait = Wait::Nothing;
                // Leaving the listen always stops its prompt (barge-in only decides whether
                // unmatched speech interrupts it), so no stale prompt end can follow.
                stop(
                    &mut self.out,
                    self.state.node,
                    l.leg,
                    l.prompting,
                    &[l.pause, Some(l.deadline)],
                );
                self.emit(Command::StopListening { leg: l.leg });
                self.follow(&outcome);
            }
            _ => {}
        }
    }
}
