//! One messaging webhook turn: an inbound text starts the flow's `on sms` handler, and the
//! texts it sends become the `<Message>` verbs of the TwiML answer. The handler runs once,
//! to its first wait or its end, and takes no time (the turn keeps no state and no timers).
//! This module does no I/O and reads no clock: the server reads the request and notes the
//! texts in the store.

use crate::codegen::twiml::{self, Message};
use crate::engine::{Command, Engine, Event};
use crate::ir;

/// What a messaging turn answers.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// The texts the handler sent, in order; `to` is `None` for a reply to the sender.
    pub messages: Vec<Message>,
    /// The TwiML document (`<Response>` with a `<Message>` per text).
    pub twiml: String,
}

/// Runs `flow`'s `on sms` handler for a text `from` a number.
pub fn turn(flow: &ir::Flow, from: &str, text: String) -> Reply {
    let mut engine = Engine::new(flow);
    let messages: Vec<Message> = engine
        .handle(Event::StartSms {
            from: from.to_string(),
            text,
            params: Vec::new(),
        })
        .into_iter()
        .filter_map(|o| match o.command {
            Command::Sms { to, text } => Some(Message {
                to: (to != from).then_some(to),
                body: text,
            }),
            _ => None,
        })
        .collect();
    let twiml = twiml::messaging_response(&messages);
    Reply { messages, twiml }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_to_the_sender_has_no_recipient_and_a_forward_names_one() {
        let program = crate::compile(
            "t.ivr",
            "flow t {\n  on sms -> {\n    sms \"got it\"\n    sms to +15550002 \"a <text>\"\n  }\n  hangup\n}\n",
        )
        .program
        .expect("the flow compiles");
        let reply = turn(&program.flows[0], "+15550001", "hi".into());
        assert_eq!(
            reply.messages,
            [
                Message {
                    to: None,
                    body: "got it".into()
                },
                Message {
                    to: Some("+15550002".into()),
                    body: "a <text>".into()
                },
            ]
        );
        assert_eq!(reply.twiml, twiml::messaging_response(&reply.messages));
    }
}
