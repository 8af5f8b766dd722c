//! The lives of a call's legs: answering the inbound one, dialling others and learning how the
//! dial went, starting their media, the prompt each one plays, and hanging up from either side.

use super::{seed, Call, CallRequest};
use crate::engine::Event;
use crate::ir::{LegId, Outcome};
use crate::runtime::leg::{Leg, LegState};
use crate::runtime::media::Samples;
use crate::runtime::now_ms;
use crate::runtime::sdp::{self, Negotiated};
use crate::runtime::sip::effect::Dialed;
use crate::runtime::sip::uac::Dial;
use std::time::{Duration, Instant};

/// The engine's outcome for a dial's final SIP status.
fn dial_outcome(status: u16) -> Outcome {
    match status {
        200..=299 => Outcome::Answered,
        486 | 600 => Outcome::Busy,
        408 | 480 | 487 => Outcome::NoAnswer,
        _ => Outcome::Failed,
    }
}

impl Call<'_> {
    pub(super) fn leg(&self, id: LegId) -> Option<&Leg> {
        self.legs.get(id.0 as usize).and_then(Option::as_ref)
    }

    pub(super) fn leg_mut(&mut self, id: LegId) -> Option<&mut Leg> {
        self.legs.get_mut(id.0 as usize).and_then(Option::as_mut)
    }

    pub(super) fn leg_by_sip(&self, sip_id: &str) -> Option<LegId> {
        self.legs
            .iter()
            .flatten()
            .find(|l| l.sip_id == sip_id)
            .map(|l| l.id)
    }

    pub(super) fn is_up(&self, id: LegId) -> bool {
        self.leg(id).is_some_and(|l| l.state == LegState::Up)
    }

    /// Whether any leg still needs the call task.
    pub(super) fn any_leg_live(&self) -> bool {
        self.legs
            .iter()
            .flatten()
            .any(|l| l.state != LegState::Gone)
    }

    /// Answers the inbound leg (once) and starts its media.
    pub(super) fn answer(&mut self) {
        let Some((sdp, negotiated)) = self.answer_sdp.take() else {
            return;
        };
        self.record.answered();
        let _ = self
            .requests
            .send(CallRequest::Answer(self.call_id.clone(), sdp));
        self.start_media(LegId::CALLER, negotiated);
    }

    /// Starts a connected leg's media: its stream on the clock, its reader.
    fn start_media(&mut self, leg: LegId, negotiated: Negotiated) {
        let seed = seed(&self.call_id) ^ leg.0;
        let (clock, events, timeout, symmetric) = (
            self.media.clock.clone(),
            self.media.events.clone(),
            self.media.rtp_timeout,
            self.media.symmetric_rtp,
        );
        if let Some(l) = self.leg_mut(leg) {
            l.state = LegState::Up;
            l.start_media(negotiated, &clock, events, timeout, seed, symmetric);
        }
    }

    /// Plays a prompt to a leg (`None`: silence), ending the one it played.
    pub(super) fn set_prompt(&mut self, leg: LegId, samples: Option<Samples>) {
        if let Some(l) = self.leg(leg) {
            let mut play = l.play.lock().unwrap_or_else(|p| p.into_inner());
            play.generation += 1;
            play.prompt = samples.map(|s| (s, 0));
        }
    }

    /// Which prompt a leg plays now.
    pub(super) fn prompt_generation(&self, leg: LegId) -> Option<u64> {
        self.leg(leg)
            .map(|l| l.play.lock().unwrap_or_else(|p| p.into_inner()).generation)
    }

    /// A prompt to a leg that is not up ends at once.
    pub(super) fn prompt_to_nobody(&mut self, leg: LegId) -> bool {
        let nobody = if leg == LegId::CALLER && self.answer_sdp.is_some() {
            false // the inbound leg is answered by its first prompt
        } else {
            !self.is_up(leg)
        };
        if nobody {
            self.deferred.push_back(Event::PromptDone { leg });
        }
        nobody
    }

    /// Places a leg through the server's trunk.
    pub(super) fn dial(
        &mut self,
        leg: LegId,
        number: String,
        caller_id: Option<String>,
        timeout_ms: u64,
        detect_machine: bool,
    ) {
        self.detection.want(leg, detect_machine);
        let sip_id = format!("{}-{}-{}", self.call_id, leg.0, seed(&number));
        let name = self
            .flow
            .legs
            .get(leg.0 as usize)
            .map_or_else(|| "transfer".into(), |l| l.name.clone());
        self.record
            .leg_dialed(leg, name, number.clone(), sip_id.clone());
        let Some(bound) = self.media.ports.bind(self.media.rtp_ip) else {
            self.dial_result(leg, "no RTP port free", Outcome::Failed);
            return;
        };
        let mut shown = bound.local;
        if let Some(ip) = self.media.sdp_ip {
            shown.set_ip(ip);
        }
        let (offer, offered) = match sdp::offer(shown, now_ms(), self.media.srtp) {
            Ok(o) => o,
            Err(e) => {
                self.dial_result(leg, &e.to_string(), Outcome::Failed);
                return;
            }
        };
        let mut l = Leg::new(leg, sip_id.clone(), bound, LegState::Dialing);
        l.offered = Some(offered);
        if let Some(slot) = self.legs.get_mut(leg.0 as usize) {
            *slot = Some(l);
        }
        let ring = self.scaled(Duration::from_millis(timeout_ms.max(1)));
        self.dialing.insert(leg.0, Instant::now() + ring);
        let _ = self.requests.send(CallRequest::Dial(
            self.call_id.clone(),
            Dial {
                call_id: sip_id,
                number,
                caller_id: caller_id.or_else(|| self.caller_id.clone()),
                offer,
            },
        ));
    }

    /// A dial is decided: the leg record and the engine learn it (a placed call's first leg
    /// starts the flow, or ends the call unreached).
    pub(super) fn dial_result(&mut self, leg: LegId, detail: &str, outcome: Outcome) {
        self.dialing.remove(&leg.0);
        self.record.leg_result(leg, &outcome, detail);
        // `answered` and `machine` connect the party.
        if !matches!(outcome, Outcome::Answered | Outcome::Machine) {
            if let Some(l) = self.leg_mut(leg) {
                l.state = LegState::Gone;
                l.stop();
            }
        }
        if self.transfer_dialled(leg, &outcome, detail) {
            return;
        }
        if leg == LegId::CALLER {
            if let Some(start) = self.pending_start.take() {
                if outcome == Outcome::Answered {
                    self.record.answered();
                    self.handle(start);
                } else {
                    self.unreached = true;
                    self.record.ended_by_now(&String::from(outcome));
                }
                return;
            }
        }
        self.handle(Event::DialResult { leg, outcome });
    }

    /// How a dialled leg got on, from the SIP side.
    pub(super) fn dialed(&mut self, leg: LegId, what: Dialed) {
        if !self.dialing.contains_key(&leg.0) {
            return; // the flow gave up on it; the core cancels or hangs up
        }
        match what {
            Dialed::Ringing => {}
            Dialed::Failed(status) => {
                self.dial_result(leg, &format!("SIP {status}"), dial_outcome(status));
            }
            Dialed::Answered(sdp) => match self
                .leg(leg)
                .and_then(|l| l.offered.as_ref())
                .map(|o| sdp::accept(&sdp, o))
                .unwrap_or_else(|| Err(sdp::SdpError::Malformed("no offer of ours".into())))
            {
                Ok(mut negotiated) => {
                    // Our offer had no rtcp-mux: an answer cannot bring it in (RFC 5761 §5.1.1).
                    negotiated.rtcp_mux = false;
                    self.start_media(leg, negotiated);
                    // A placed call is recorded from its party's answer (`record_calls`).
                    if leg == LegId::CALLER && self.pending_start.is_some() {
                        self.start_call_recording();
                    }
                    if !self.detect_machine(leg) {
                        self.dial_result(leg, "SIP 200", Outcome::Answered);
                    }
                }
                Err(e) => {
                    self.record.error(format!("dial: the answer's SDP: {e}"));
                    self.hang_up(leg, "flow");
                    self.dial_result(leg, "unusable SDP answer", Outcome::Failed);
                }
            },
        }
    }

    /// Ends a leg from our side (BYE, CANCEL, or 480 for an unanswered inbound call).
    pub(super) fn hang_up(&mut self, leg: LegId, by: &str) {
        let Some(l) = self.leg(leg) else {
            return;
        };
        if l.state == LegState::Gone {
            return;
        }
        let sip_id = l.sip_id.clone();
        if self.dialing.remove(&leg.0).is_some() {
            self.record.leg_cancelled(leg);
        }
        self.leg_gone(leg, by);
        let _ = self.requests.send(CallRequest::Hangup(sip_id));
    }

    /// Ends every leg from our side but those being handed to another number.
    pub(super) fn hang_up_all(&mut self, by: &str) {
        for id in 0..self.legs.len() {
            let leg = LegId(id as u32);
            if !self.handed_over(leg) {
                self.hang_up(leg, by);
            }
        }
    }

    /// A leg is over on the SIP side: its media stops, a bridge with it ends.
    pub(super) fn leg_gone(&mut self, leg: LegId, by: &str) {
        self.recorded_party_gone(leg);
        if leg == LegId::CALLER {
            self.record.ended_by(by);
        }
        self.record.leg_ended(leg, by);
        let Some(l) = self.leg_mut(leg) else {
            return;
        };
        let bridged = l.bridged();
        l.state = LegState::Gone;
        l.stop();
        let quality = l.quality();
        if let Some(q) = quality {
            self.record.media(leg, q);
        }
        if bridged {
            for other in self.legs.iter().flatten() {
                if other.bridged() {
                    other.unbridge();
                }
            }
        }
    }

    /// The other side ended a leg (BYE, CANCEL, no ACK, media timeout).
    pub(super) fn gone(&mut self, leg: LegId, why: &str) {
        if self.leg(leg).is_none_or(|l| l.state == LegState::Gone) {
            return;
        }
        if self.dialing.contains_key(&leg.0) {
            self.dial_result(leg, why, Outcome::Failed);
            return;
        }
        if self.transfer_leg_gone(leg, why) {
            return;
        }
        self.leg_gone(leg, why);
        if !self.engine.ended() {
            self.handle(Event::Hangup { leg });
        }
    }
}
