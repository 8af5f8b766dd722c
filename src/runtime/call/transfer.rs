//! `transfer`: a party — the caller, or a leg the flow dialled (a campaign's lead among them) —
//! is handed to another number, blind. Before the answer a caller gets 302. After it the party
//! gets REFER (RFC 3515) and, when it accepts, calls the number itself while we hang up. A party
//! that refuses REFER (many trunks and phones answer 405/501/603) is not dropped: we call the
//! number ourselves and bridge the two until one of them hangs up, the way a PBX falls back
//! when the far end cannot transfer. The flow is done with the party either way; the call task
//! lives on until the bridge ends. The call record's `transfers` say how each went.

use super::{seed, Call, CallRequest, PLACED_RING};
use crate::ir::{LegId, Outcome};
use crate::runtime::leg::Leg;
use crate::runtime::sip::effect::Referred;

/// A party being handed over, and the leg we call the number on when it refuses REFER.
pub(super) struct Handover {
    /// The number it goes to.
    number: String,
    /// The leg calling `number` (after a refused REFER).
    target: Option<LegId>,
}

impl Call<'_> {
    /// The flow's `transfer` of `leg` to `number`.
    pub(super) fn transfer(&mut self, leg: LegId, number: String) {
        let Some(sip_id) = self.leg(leg).map(|l| l.sip_id.clone()) else {
            return;
        };
        let name = self.leg_name(leg);
        self.record.transfer_started(&name, &number);
        if leg == LegId::CALLER {
            self.record.ended_by_now("transfer");
        }
        if !self.is_up(leg) || self.dialing.contains_key(&leg.0) {
            self.record
                .transfer_step(&name, "the party was not connected", Some("failed"));
            return;
        }
        let _ = self
            .requests
            .send(CallRequest::Transfer(sip_id, number.clone()));
        if leg == LegId::CALLER && self.answer_sdp.is_some() {
            // Not answered yet: the core redirects it (302), and the call is over for us.
            self.record.transfer_step(&name, "302", Some("redirect"));
            self.leg_gone(leg, "transfer");
            return;
        }
        self.set_prompt(leg, None);
        self.handovers.insert(
            leg.0,
            Handover {
                number,
                target: None,
            },
        );
    }

    /// Whether `leg` is being handed over (the party, or the leg calling its new number): the
    /// flow's end does not hang it up.
    pub(super) fn handed_over(&self, leg: LegId) -> bool {
        self.handovers
            .iter()
            .any(|(party, h)| *party == leg.0 || h.target == Some(leg))
    }

    /// How the party took our REFER.
    pub(super) fn referred(&mut self, leg: LegId, what: Referred) {
        let Some(number) = self.handovers.get(&leg.0).map(|h| h.number.clone()) else {
            return;
        };
        let name = self.leg_name(leg);
        match what {
            Referred::Accepted => {
                // The core has sent BYE.
                self.record.transfer_step(&name, "REFER 2xx", Some("refer"));
                self.handovers.remove(&leg.0);
                self.leg_gone(leg, "transfer");
            }
            Referred::Refused(408) => {
                self.record
                    .transfer_step(&name, "REFER unanswered", Some("failed"));
                self.handovers.remove(&leg.0);
                self.hang_up(leg, "transfer");
            }
            Referred::Refused(status) => {
                self.record
                    .transfer_step(&name, &format!("REFER {status}"), None);
                self.call_target(leg, number);
            }
        }
    }

    /// The party refused REFER: we call the number on a leg of our own, shown as the party.
    fn call_target(&mut self, party: LegId, number: String) {
        let target = LegId(self.legs.len() as u32);
        self.legs.push(None);
        if let Some(h) = self.handovers.get_mut(&party.0) {
            h.target = Some(target);
        }
        let shown = self.record.party(party).0;
        let shown = (!shown.is_empty()).then_some(shown);
        let ring = PLACED_RING.as_millis() as u64;
        self.dial(target, number, shown, ring, false);
    }

    /// The party a leg calling a transfer's number works for.
    fn party_of(&self, target: LegId) -> Option<LegId> {
        self.handovers
            .iter()
            .find(|(_, h)| h.target == Some(target))
            .map(|(party, _)| LegId(*party))
    }

    /// A dial's result, when the leg calls a transfer's number: answered → bridged with the
    /// party; otherwise the party is hung up. False for the flow's own legs.
    pub(super) fn transfer_dialled(
        &mut self,
        target: LegId,
        outcome: &Outcome,
        detail: &str,
    ) -> bool {
        let Some(party) = self.party_of(target) else {
            return false;
        };
        let name = self.leg_name(party);
        let step = format!("INVITE {}", detail.trim_start_matches("SIP "));
        let bridged = *outcome == Outcome::Answered
            && match (self.leg(party), self.leg(target)) {
                (Some(p), Some(t)) => Leg::bridge(p, t, seed(&self.call_id)),
                _ => false,
            };
        if bridged {
            self.record.transfer_step(&name, &step, Some("bridge"));
            self.bridged_into_call_recording(party, target);
        } else {
            self.record.transfer_step(&name, &step, Some("failed"));
            self.handovers.remove(&party.0);
            self.hang_up(target, "transfer");
            self.hang_up(party, "transfer");
        }
        true
    }

    /// A leg of a transfer is gone: its partner is hung up and the transfer is over. False for
    /// the flow's own legs.
    pub(super) fn transfer_leg_gone(&mut self, leg: LegId, why: &str) -> bool {
        let party = if self.handovers.contains_key(&leg.0) {
            leg
        } else if let Some(p) = self.party_of(leg) {
            p
        } else {
            return false;
        };
        let Some(h) = self.handovers.remove(&party.0) else {
            return false;
        };
        let bridged = h.target.is_some_and(|t| !self.dialing.contains_key(&t.0));
        if !bridged {
            let name = self.leg_name(party);
            let step = format!("the party left first ({why})");
            self.record.transfer_step(&name, &step, Some("failed"));
        }
        self.leg_gone(leg, why);
        for other in [Some(party), h.target].into_iter().flatten() {
            if other != leg {
                self.hang_up(other, "transfer");
            }
        }
        true
    }

    /// The name a leg has in the record: `caller`, or the flow's name for it.
    fn leg_name(&self, leg: LegId) -> String {
        if leg == LegId::CALLER {
            return "caller".into();
        }
        self.flow
            .legs
            .get(leg.0 as usize)
            .map_or_else(|| "transfer".into(), |l| l.name.clone())
    }
}
