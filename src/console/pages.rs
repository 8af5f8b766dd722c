//! The console's pages as HTML, from askama templates (`src/console/templates/`, checked at
//! build time). Every value is escaped by the templates' HTML escaper unless a template says
//! otherwise, and none does: customer text reaches the page only as text.

use super::delivery::Delivery;
use crate::store::{ContactSummary, EntryKind, Stored};
use askama::Template;

/// The login page.
#[derive(Template)]
#[template(path = "login.html")]
pub struct Login {
    /// Why the last attempt failed.
    pub error: Option<String>,
}

/// One contact in the list beside every page.
pub struct ContactItem {
    /// The number.
    pub contact: String,
    /// Unread messages and voicemails.
    pub unread: u32,
    /// Whether they opted out of texts.
    pub opted_out: bool,
    /// Their last entry, shortened.
    pub snippet: String,
    /// When it was, as RFC 3339 (UTC), for the browser to show in its zone.
    pub at_iso: String,
    /// The same in UTC, for a browser without JavaScript.
    pub at_text: String,
    /// Whether it is the contact the page shows.
    pub current: bool,
}

impl ContactItem {
    /// The list item of a contact; `current` is the contact the page shows.
    pub fn new(c: &ContactSummary, current: Option<&str>) -> ContactItem {
        let e = &c.last.entry;
        ContactItem {
            contact: c.contact.clone(),
            unread: c.unread,
            opted_out: c.opted_out,
            snippet: snippet(title(e.kind, e.body.as_deref()), text_of(e)),
            at_iso: iso(e.at_ms),
            at_text: utc_text(e.at_ms),
            current: current == Some(c.contact.as_str()),
        }
    }
}

/// The contact list page.
#[derive(Template)]
#[template(path = "contacts.html")]
pub struct Contacts {
    /// The session's form token.
    pub csrf: String,
    /// The last entry id the page shows (live updates start after it).
    pub after: i64,
    /// Unread messages over all contacts (in the title).
    pub unread_total: u32,
    /// The search.
    pub q: String,
    /// The contacts.
    pub contacts: Vec<ContactItem>,
    /// The row to page on for older contacts, when there are more.
    pub contacts_older: Option<i64>,
}

/// A reply template the composer offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyTemplate {
    /// Its name in the list.
    pub name: String,
    /// The text it inserts.
    pub text: String,
}

/// One row of a timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The entry's id (the element is `e{id}`).
    pub id: i64,
    /// The entry's kind.
    pub kind: &'static str,
    /// `in`, `out` or `note`.
    pub direction: &'static str,
    /// The platform's id of the call or message.
    pub sid: String,
    /// What happened, in words.
    pub title: String,
    /// The text of a message or note.
    pub body: Option<String>,
    /// A recording's address.
    pub audio: Option<String>,
    /// A sent text's delivery status.
    pub status: Option<String>,
    /// Twilio's error code of a failed text.
    pub error_code: Option<String>,
    /// When, as RFC 3339 (UTC).
    pub at_iso: String,
    /// When, in UTC, for a browser without JavaScript.
    pub at_text: String,
}

impl Row {
    /// The row of a stored entry, with its delivery status when it is a text we sent.
    pub fn new(s: &Stored, delivery: Option<&Delivery>) -> Row {
        let e = &s.entry;
        let direction = match e.kind {
            EntryKind::SmsOut | EntryKind::CallOut => "out",
            EntryKind::Note => "note",
            _ => "in",
        };
        Row {
            id: s.id,
            kind: kind_name(e.kind),
            direction,
            sid: e.sid.clone(),
            title: title(e.kind, e.body.as_deref()),
            body: match e.kind {
                EntryKind::Report => e.body.clone(),
                _ => text_of(e).map(str::to_string),
            },
            audio: matches!(e.kind, EntryKind::Voicemail | EntryKind::CallRecording)
                .then(|| e.url.as_deref().and_then(super::recordings::console_url))
                .flatten(),
            status: delivery.map(|d| d.status.name().to_string()),
            error_code: delivery.and_then(|d| d.error_code.clone()),
            at_iso: iso(e.at_ms),
            at_text: utc_text(e.at_ms),
        }
    }
}

/// A contact's page: the list, the timeline with the composer, the contact panel.
#[derive(Template)]
#[template(path = "contact.html")]
pub struct Contact {
    /// The session's form token.
    pub csrf: String,
    /// The last entry id the page shows (live updates start after it).
    pub after: i64,
    /// Unread messages over all contacts (in the title).
    pub unread_total: u32,
    /// The search of the list.
    pub q: String,
    /// The list beside the timeline.
    pub contacts: Vec<ContactItem>,
    /// The row to page on for older contacts.
    pub contacts_older: Option<i64>,
    /// The contact's number.
    pub contact: String,
    /// The timeline rows, oldest first.
    pub rows: Vec<Row>,
    /// The row to page on for older entries, when there are more.
    pub older: Option<i64>,
    /// Whether the contact opted out of texts.
    pub opted_out: bool,
    /// Whether texts can be sent at all (Twilio configured).
    pub texting: bool,
    /// Whether this contact can be texted now.
    pub can_text: bool,
    /// Whether the Call button works (Twilio and the agent's phone configured).
    pub calling: bool,
    /// Our numbers the contact has dealt with.
    pub our_numbers: Vec<String>,
    /// The reply templates.
    pub reply_templates: Vec<ReplyTemplate>,
    /// What went wrong with the last action.
    pub error: Option<String>,
}

/// One timeline row alone, as live updates carry it.
#[derive(Template)]
#[template(path = "row_fragment.html")]
pub struct RowFragment<'a> {
    /// The row.
    pub row: &'a Row,
}

/// The name of a kind in the page (`data-kind`, a CSS class).
fn kind_name(kind: EntryKind) -> &'static str {
    match kind {
        EntryKind::Call => "call",
        EntryKind::CallEnded => "call-ended",
        EntryKind::Voicemail => "voicemail",
        EntryKind::SmsIn => "sms-in",
        EntryKind::SmsOut => "sms-out",
        EntryKind::Report => "report",
        EntryKind::Note => "note",
        EntryKind::CallOut => "call-out",
        EntryKind::SmsStatus => "sms-status",
        EntryKind::OptOut => "opt-out",
        EntryKind::OptIn => "opt-in",
        EntryKind::Blocked => "blocked",
        EntryKind::CallRecording => "call-recording",
    }
}

/// What an entry records, in words.
fn title(kind: EntryKind, body: Option<&str>) -> String {
    let body = body.unwrap_or_default();
    match kind {
        EntryKind::Call => "Call".into(),
        EntryKind::CallEnded => format!("Call ended: {body}"),
        EntryKind::Voicemail if body.is_empty() => "Voicemail".into(),
        EntryKind::Voicemail => format!("Voicemail, {body} s"),
        EntryKind::SmsIn => "Text from the contact".into(),
        EntryKind::SmsOut => "Text sent".into(),
        EntryKind::Report => "Flow report".into(),
        EntryKind::Note => "Note".into(),
        EntryKind::CallOut => format!(
            "Agent's call: {}",
            match body {
                "completed" | "answered" => "answered",
                "no-answer" => "no answer",
                "busy" => "busy",
                "canceled" => "canceled",
                "failed" => "failed",
                other => other,
            }
        ),
        EntryKind::SmsStatus => format!("Text {body}"),
        EntryKind::OptOut => "Opted out of texts".into(),
        EntryKind::OptIn => "Opted back in to texts".into(),
        EntryKind::Blocked => "Blocked from calls".into(),
        EntryKind::CallRecording if body.is_empty() => "Call recording".into(),
        EntryKind::CallRecording => format!("Call recording, {body} s"),
    }
}

/// The words of a message or note (other entries' bodies are data, not text).
fn text_of(e: &crate::store::Entry) -> Option<&str> {
    match e.kind {
        EntryKind::SmsIn | EntryKind::SmsOut | EntryKind::Note => e.body.as_deref(),
        _ => None,
    }
}

/// A list snippet: the text of a message or note, else what happened; at most 80 characters.
fn snippet(title: String, body: Option<&str>) -> String {
    let text = body.filter(|b| !b.is_empty()).map_or(title, str::to_string);
    let mut short: String = text.chars().take(80).collect();
    if text.chars().count() > 80 {
        short.push('…');
    }
    short
}

/// Milliseconds since the epoch as RFC 3339 in UTC.
pub fn iso(at_ms: u64) -> String {
    format!("{}Z", crate::store::utc(at_ms).replacen(' ', "T", 1))
}

fn utc_text(at_ms: u64) -> String {
    let t = crate::store::utc(at_ms);
    format!("{} UTC", &t[..t.len().saturating_sub(3)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Entry;

    fn stored(kind: EntryKind, body: &str) -> Stored {
        Stored {
            id: 7,
            entry: Entry {
                at_ms: 1_795_312_861_000,
                kind,
                contact: "+15146300808".into(),
                our_number: "+16502907793".into(),
                flow: "support".into(),
                sid: "SM\"1".into(),
                body: Some(body.into()),
                url: Some("javascript:alert(1)".into()),
            },
        }
    }

    #[test]
    fn customer_text_is_escaped_everywhere_it_lands() {
        let hostile = "<img src=x onerror=alert(1)>\"'&";
        let row = Row::new(&stored(EntryKind::SmsIn, hostile), None);
        let html = RowFragment { row: &row }.render().expect("renders");
        assert!(!html.contains("<img"), "{html}");
        assert!(
            html.contains("&#60;img src=x onerror=alert(1)&#62;&#34;&#39;&#38;"),
            "{html}"
        );
        assert!(html.contains("data-sid=\"SM&#34;1\""), "{html}");
        assert!(
            html.contains("<time datetime=\"2026-11-22T02:01:01Z\">2026-11-22 02:01 UTC</time>")
        );
        // A voicemail's address is played only when it is a web address.
        let vm = Row::new(&stored(EntryKind::Voicemail, ""), None);
        assert_eq!(vm.audio, None);
        let mut recorded = stored(EntryKind::Voicemail, "38");
        recorded.entry.url =
            Some("https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1".into());
        let vm = Row::new(&recorded, None);
        assert_eq!(vm.title, "Voicemail, 38 s");
        let html = RowFragment { row: &vm }.render().expect("renders");
        assert!(
            html.contains("<audio controls preload=\"none\" src=\"https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1\"></audio>"),
            "{html}"
        );
    }
}
