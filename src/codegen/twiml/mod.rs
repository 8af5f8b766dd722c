//! TwiML: the verbs ivrc speaks to Twilio (and compatible platforms) and the one writer that
//! turns them into XML.
//!
//! Owns the verb model ([`Verb`], [`Message`]), the choice of a Twilio voice for a flow's
//! `lang`/`voice`, and [`voice_response`] / [`messaging_response`], which write documents with
//! quick-xml; every text and attribute goes through one escaping function, so markup characters are
//! references and so are tabs and line breaks, which XML parsers would otherwise normalize
//! (CR LF to LF in text, any of them to a space in attributes). Characters XML 1.0 cannot
//! carry at all (most C0 controls, U+FFFE, U+FFFF) become U+FFFD. It does not decide which
//! verbs a flow needs: the webhook server (`serve`) drives the engine and builds them.
//! Names and attributes: targets.md §B.1–B.2 (the twilio helper library's TwiML classes).

pub mod build;

use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;

/// What a `<Gather>` listens for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum GatherInput {
    /// Keys (`input="dtmf"`).
    Dtmf,
    /// Speech (`input="speech"`).
    Speech,
}

/// One TwiML voice verb.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Verb {
    /// `<Say voice language>text</Say>`.
    Say {
        /// What is said.
        text: String,
        /// A Twilio voice such as `Polly.Tatyana`.
        voice: Option<String>,
        /// A BCP-47 tag such as `ru-RU`.
        language: Option<String>,
    },
    /// `<Play>url</Play>`.
    Play {
        /// The audio's address.
        url: String,
    },
    /// `<Pause length="seconds"/>`.
    Pause {
        /// Whole seconds, at least 1.
        seconds: u64,
    },
    /// `<Gather>` with the prompt verbs nested in it.
    Gather {
        /// Keys or speech.
        input: GatherInput,
        /// Where the result is posted.
        action: String,
        /// Keys that end the gather on their own (`numDigits`).
        num_digits: Option<u32>,
        /// The key that ends it (`finishOnKey`); empty disables it.
        finish_on_key: String,
        /// Seconds to wait for input after the prompt (`timeout`).
        timeout_secs: u64,
        /// Phrases to expect (`hints`).
        hints: Vec<String>,
        /// Recognition language (`language`).
        language: Option<String>,
        /// `<Say>`/`<Play>`/`<Pause>` played while gathering.
        prompt: Vec<Verb>,
    },
    /// `<Record>`: the party's words until the key, the length limit or silence.
    Record {
        /// Where `RecordingUrl` is posted.
        action: String,
        /// Longest recording in seconds (`maxLength`).
        max_length_secs: u64,
        /// The key that stops it (`finishOnKey`); empty disables it.
        finish_on_key: String,
    },
    /// `<Dial action callerId timeout><Number>number</Number></Dial>`.
    Dial {
        /// Where `DialCallStatus` is posted when the dialled leg ends; without it the
        /// document goes on with the next verb.
        action: Option<String>,
        /// The number shown to the called party.
        caller_id: Option<String>,
        /// Ring time in seconds.
        timeout_secs: u64,
        /// The number to call.
        number: String,
        /// A document run on the called party's end after it answers and before the parties
        /// are connected (`<Number url>`): it ends to connect them, or hangs up the party.
        url: Option<String>,
    },
    /// `<Redirect>url</Redirect>`: fetch the next document.
    Redirect {
        /// Where.
        url: String,
    },
    /// `<Hangup/>`.
    Hangup,
    /// `<Reject reason="rejected"/>`: refuse a call that was never answered (not billed).
    Reject,
}

/// One `<Message>` of a messaging response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The recipient, when not the sender of the inbound message.
    pub to: Option<String>,
    /// The text.
    pub body: String,
}

/// The Twilio voice for a flow's `lang` and `voice`: Amazon Polly voices for the built-in
/// choices, or a voice named in full (`voice "Google.ru-RU-Wavenet-A"`).
pub fn voice_name(lang: &str, voice: &str) -> Option<String> {
    let known = match (lang, voice) {
        ("ru-RU", "female") => Some("Polly.Tatyana"),
        ("ru-RU", "male") => Some("Polly.Maxim"),
        ("en-US", "female") => Some("Polly.Joanna"),
        ("en-US", "male") => Some("Polly.Matthew"),
        _ => None,
    };
    match known {
        Some(v) => Some(v.to_string()),
        None if voice.contains('.') => Some(voice.to_string()),
        None => None,
    }
}

/// A voice document: `<?xml …?><Response>verbs</Response>`.
pub fn voice_response(verbs: &[Verb]) -> String {
    document(|w| {
        for v in verbs {
            verb(w, v);
        }
    })
}

/// A messaging document: `<Response><Message>…</Message>…</Response>`.
pub fn messaging_response(messages: &[Message]) -> String {
    document(|w| {
        for m in messages {
            let mut start = BytesStart::new("Message");
            if let Some(to) = &m.to {
                attr(&mut start, "to", to);
            }
            element(w, start, Some(&m.body));
        }
    })
}

type Xml = Writer<Vec<u8>>;

fn document(body: impl FnOnce(&mut Xml)) -> String {
    let mut w = Writer::new(Vec::new());
    // Writing to a Vec cannot fail; the results are ignored for that reason.
    let _ = w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
    let _ = w.write_event(Event::Start(BytesStart::new("Response")));
    body(&mut w);
    let _ = w.write_event(Event::End(BytesEnd::new("Response")));
    let mut text = String::from_utf8(w.into_inner()).unwrap_or_default();
    text.push('\n');
    text
}

/// `text` as XML character data or an attribute value: markup characters, tabs and line
/// breaks as references; characters XML 1.0 forbids even as references as U+FFFD.
fn escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Adds an attribute whose value is escaped by [`escaped`].
fn attr(start: &mut BytesStart<'_>, name: &str, value: &str) {
    let value = escaped(value);
    start.push_attribute(Attribute::from((name.as_bytes(), value.as_bytes())));
}

fn element(w: &mut Xml, start: BytesStart<'_>, text: Option<&str>) {
    let name = String::from_utf8_lossy(start.name().as_ref()).into_owned();
    match text {
        None => {
            let _ = w.write_event(Event::Empty(start));
        }
        Some(t) => {
            let _ = w.write_event(Event::Start(start));
            let _ = w.write_event(Event::Text(BytesText::from_escaped(escaped(t))));
            let _ = w.write_event(Event::End(BytesEnd::new(name)));
        }
    }
}

fn verb(w: &mut Xml, v: &Verb) {
    match v {
        Verb::Say {
            text,
            voice,
            language,
        } => {
            let mut s = BytesStart::new("Say");
            if let Some(voice) = voice {
                attr(&mut s, "voice", voice);
            }
            if let Some(lang) = language {
                attr(&mut s, "language", lang);
            }
            element(w, s, Some(text));
        }
        Verb::Play { url } => element(w, BytesStart::new("Play"), Some(url)),
        Verb::Pause { seconds } => {
            let mut s = BytesStart::new("Pause");
            attr(&mut s, "length", &seconds.max(&1).to_string());
            element(w, s, None);
        }
        Verb::Gather {
            input,
            action,
            num_digits,
            finish_on_key,
            timeout_secs,
            hints,
            language,
            prompt,
        } => {
            let mut s = BytesStart::new("Gather");
            let kind = match input {
                GatherInput::Dtmf => "dtmf",
                GatherInput::Speech => "speech",
            };
            attr(&mut s, "input", kind);
            attr(&mut s, "action", action);
            attr(&mut s, "method", "POST");
            if let Some(n) = num_digits {
                attr(&mut s, "numDigits", &n.to_string());
            }
            if *input == GatherInput::Dtmf {
                attr(&mut s, "finishOnKey", finish_on_key);
            }
            attr(&mut s, "timeout", &timeout_secs.max(&1).to_string());
            if *input == GatherInput::Speech {
                attr(&mut s, "speechTimeout", "auto");
                if !hints.is_empty() {
                    attr(&mut s, "hints", &hints.join(", "));
                }
                if let Some(lang) = language {
                    attr(&mut s, "language", lang);
                }
            }
            if prompt.is_empty() {
                element(w, s, None);
            } else {
                let _ = w.write_event(Event::Start(s));
                for p in prompt {
                    verb(w, p);
                }
                let _ = w.write_event(Event::End(BytesEnd::new("Gather")));
            }
        }
        Verb::Record {
            action,
            max_length_secs,
            finish_on_key,
        } => {
            let mut s = BytesStart::new("Record");
            attr(&mut s, "action", action);
            attr(&mut s, "method", "POST");
            attr(&mut s, "maxLength", &max_length_secs.max(&1).to_string());
            attr(&mut s, "finishOnKey", finish_on_key);
            attr(&mut s, "playBeep", "false");
            element(w, s, None);
        }
        Verb::Dial {
            action,
            caller_id,
            timeout_secs,
            number,
            url,
        } => {
            let mut s = BytesStart::new("Dial");
            if let Some(action) = action {
                attr(&mut s, "action", action);
                attr(&mut s, "method", "POST");
            }
            if let Some(id) = caller_id {
                attr(&mut s, "callerId", id);
            }
            attr(&mut s, "timeout", &timeout_secs.max(&1).to_string());
            let _ = w.write_event(Event::Start(s));
            let mut n = BytesStart::new("Number");
            if let Some(url) = url {
                attr(&mut n, "url", url);
                attr(&mut n, "method", "POST");
            }
            element(w, n, Some(number));
            let _ = w.write_event(Event::End(BytesEnd::new("Dial")));
        }
        Verb::Redirect { url } => {
            let mut s = BytesStart::new("Redirect");
            attr(&mut s, "method", "POST");
            element(w, s, Some(url));
        }
        Verb::Hangup => element(w, BytesStart::new("Hangup"), None),
        Verb::Reject => {
            let mut s = BytesStart::new("Reject");
            attr(&mut s, "reason", "rejected");
            element(w, s, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_attributes_are_escaped_and_forbidden_characters_replaced() {
        let doc = voice_response(&[
            Verb::Say {
                text: "a < b & \"c\" ]]> d\u{1}e\r\nf\t'".into(),
                voice: Some("Polly.\"x\"".into()),
                language: None,
            },
            Verb::Redirect {
                url: "/voice/f?s=a&b=<".into(),
            },
        ]);
        assert_eq!(
            doc,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Say voice=\"Polly.&quot;x&quot;\">a &lt; b &amp; &quot;c&quot; ]]&gt; d\u{FFFD}e&#13;&#10;f&#9;&apos;</Say><Redirect method=\"POST\">/voice/f?s=a&amp;b=&lt;</Redirect></Response>\n"
        );
    }

    #[test]
    fn a_gather_nests_its_prompt() {
        let doc = voice_response(&[Verb::Gather {
            input: GatherInput::Dtmf,
            action: "/a".into(),
            num_digits: Some(1),
            finish_on_key: String::new(),
            timeout_secs: 0,
            hints: vec![],
            language: None,
            prompt: vec![Verb::Play {
                url: "x.mp3".into(),
            }],
        }]);
        assert!(doc.contains("<Gather input=\"dtmf\" action=\"/a\" method=\"POST\" numDigits=\"1\" finishOnKey=\"\" timeout=\"1\"><Play>x.mp3</Play></Gather>"), "{doc}");
    }

    #[test]
    fn voices_follow_the_flow_settings() {
        assert_eq!(
            voice_name("ru-RU", "female").as_deref(),
            Some("Polly.Tatyana")
        );
        assert_eq!(
            voice_name("en-US", "male").as_deref(),
            Some("Polly.Matthew")
        );
        assert_eq!(
            voice_name("ru-RU", "Google.ru-RU-Wavenet-A").as_deref(),
            Some("Google.ru-RU-Wavenet-A")
        );
        assert_eq!(voice_name("de-DE", "female"), None);
    }
}
