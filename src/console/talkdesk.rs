//! `ivrc entries --export talkdesk`: every entry as a document in the shape of the Talkdesk
//! seed's MongoDB collection, one MongoDB Extended JSON document a line, ready for
//! `mongoimport` (which reads Extended JSON v2, "mongoimport" in the MongoDB manual).
//!
//! The seed shows one document, a `VoicemailEntry`: `_id`, `_type`, `account_id`, `callsid`,
//! `customer_id`, `customer_phone_number`, `duration` (seconds, as a string), `record`,
//! `talkdesk_phone_number`. The other types are named by analogy and are ivrc's:
//! `CallEntry` (`status`), `CallEndedEntry`, `SmsEntry` (`direction`, `body`, `smssid`, and
//! the delivery `status` and `error_code` of a text we sent, folded from its status
//! updates), `NoteEntry`, `ReportEntry`, `OptOutEntry`, `OptInEntry`, `AgentCallEntry`.
//!
//! Ids are ObjectIds made from what the store holds, so an export run twice is the same:
//! an entry's is its time (4 bytes, as an ObjectId starts) and its row id (8 bytes); a
//! customer's and an account's (our number's) the first 12 bytes of SHA-256 of the number.

use super::delivery::{self, Status};
use crate::store::{EntryKind, Stored};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// `{"$oid": "…"}` of 12 bytes.
fn oid(bytes: &[u8]) -> Value {
    let hex: String = bytes.iter().take(12).map(|b| format!("{b:02x}")).collect();
    json!({ "$oid": hex })
}

/// The ObjectId of a number (a customer, or our number standing for the account).
fn number_oid(kind: &str, number: &str) -> Value {
    oid(&Sha256::digest(format!("{kind}:{number}").as_bytes()))
}

/// The ObjectId of an entry: its second and its row id.
fn entry_oid(s: &Stored) -> Value {
    let seconds = u32::try_from(s.entry.at_ms / 1000).unwrap_or(u32::MAX);
    let mut bytes = seconds.to_be_bytes().to_vec();
    bytes.extend_from_slice(&s.id.to_be_bytes());
    oid(&bytes)
}

/// The documents of `entries` (all kinds, in the order written); status updates of texts
/// are folded into their texts, not documents of their own.
pub fn documents(entries: &[Stored]) -> Vec<Value> {
    let mut statuses: HashMap<&str, Vec<(Status, Option<&str>)>> = HashMap::new();
    for s in entries
        .iter()
        .filter(|s| s.entry.kind == EntryKind::SmsStatus)
    {
        if let Some(status) = s.entry.body.as_deref().and_then(Status::parse) {
            statuses
                .entry(s.entry.sid.as_str())
                .or_default()
                .push((status, s.entry.url.as_deref()));
        }
    }
    entries
        .iter()
        .filter(|s| s.entry.kind != EntryKind::SmsStatus)
        .map(|s| document(s, statuses.get(s.entry.sid.as_str())))
        .collect()
}

fn document(s: &Stored, statuses: Option<&Vec<(Status, Option<&str>)>>) -> Value {
    let e = &s.entry;
    let mut d = Map::new();
    let ty = match e.kind {
        EntryKind::Call => "CallEntry",
        EntryKind::CallEnded => "CallEndedEntry",
        EntryKind::Voicemail => "VoicemailEntry",
        EntryKind::SmsIn | EntryKind::SmsOut | EntryKind::SmsStatus => "SmsEntry",
        EntryKind::Report => "ReportEntry",
        EntryKind::Note => "NoteEntry",
        EntryKind::CallOut => "AgentCallEntry",
        EntryKind::OptOut => "OptOutEntry",
        EntryKind::OptIn => "OptInEntry",
        EntryKind::Blocked => "BlockedEntry",
        EntryKind::CallRecording => "CallRecordingEntry",
    };
    d.insert("_id".into(), entry_oid(s));
    d.insert("_type".into(), json!(ty));
    if !e.our_number.is_empty() {
        d.insert("account_id".into(), number_oid("account", &e.our_number));
    }
    d.insert("customer_id".into(), number_oid("customer", &e.contact));
    d.insert("customer_phone_number".into(), json!(e.contact));
    if !e.our_number.is_empty() {
        d.insert("talkdesk_phone_number".into(), json!(e.our_number));
    }
    d.insert(
        "created_at".into(),
        json!({ "$date": super::pages::iso(e.at_ms).replace('Z', ".000Z") }),
    );
    if !e.flow.is_empty() {
        d.insert("flow".into(), json!(e.flow));
    }
    let body = e.body.clone();
    match e.kind {
        EntryKind::Call | EntryKind::CallEnded | EntryKind::CallOut => {
            d.insert("callsid".into(), json!(e.sid));
            if let Some(b) = body {
                d.insert("status".into(), json!(b));
            }
        }
        EntryKind::Voicemail | EntryKind::CallRecording => {
            d.insert("callsid".into(), json!(e.sid));
            if let Some(seconds) = body {
                d.insert("duration".into(), json!(seconds));
            }
            if let Some(url) = &e.url {
                d.insert("record".into(), json!(url));
            }
        }
        EntryKind::SmsIn | EntryKind::SmsOut | EntryKind::SmsStatus => {
            let inbound = e.kind == EntryKind::SmsIn;
            d.insert("smssid".into(), json!(e.sid));
            d.insert(
                "direction".into(),
                json!(if inbound { "inbound" } else { "outbound" }),
            );
            d.insert("body".into(), json!(body.unwrap_or_default()));
            if let Some(current) = statuses.and_then(|u| delivery::fold(u.iter().copied())) {
                d.insert("status".into(), json!(current.status.name()));
                if let Some(code) = current.error_code {
                    d.insert("error_code".into(), json!(code));
                }
            }
        }
        EntryKind::Report => {
            let data = body
                .as_deref()
                .and_then(|b| serde_json::from_str::<Value>(b).ok())
                .unwrap_or(Value::Null);
            d.insert("callsid".into(), json!(e.sid));
            d.insert("report".into(), data);
        }
        EntryKind::Note | EntryKind::OptOut | EntryKind::OptIn => {
            d.insert("body".into(), json!(body.unwrap_or_default()));
        }
        EntryKind::Blocked => {
            d.insert("callsid".into(), json!(e.sid));
        }
    }
    Value::Object(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Entry;

    fn stored(
        id: i64,
        kind: EntryKind,
        sid: &str,
        body: Option<&str>,
        url: Option<&str>,
    ) -> Stored {
        Stored {
            id,
            entry: Entry {
                at_ms: 1_383_139_216_000,
                kind,
                contact: "+15146300808".into(),
                our_number: "+16502907793".into(),
                flow: "support".into(),
                sid: sid.into(),
                body: body.map(str::to_string),
                url: url.map(str::to_string),
            },
        }
    }

    #[test]
    fn a_voicemail_has_the_seeds_shape_and_texts_carry_their_status() {
        let docs = documents(&[
            stored(
                1,
                EntryKind::Voicemail,
                "0387a8f4",
                Some("38"),
                Some("http://s3.amazonaws.com/recordings_2013/123.mp3"),
            ),
            stored(2, EntryKind::SmsOut, "SM1", Some("Call you later"), None),
            stored(3, EntryKind::SmsStatus, "SM1", Some("delivered"), None),
            stored(4, EntryKind::SmsStatus, "SM1", Some("sent"), None),
        ]);
        assert_eq!(docs.len(), 2, "statuses fold into their text");
        let vm = &docs[0];
        assert_eq!(vm["_type"], "VoicemailEntry");
        // The seed's ObjectId("5271079004420e0002000086") starts with the same second.
        assert_eq!(vm["_id"]["$oid"], "527107900000000000000001");
        assert_eq!(vm["duration"], "38", "a string, as in the seed");
        assert_eq!(vm["callsid"], "0387a8f4");
        assert_eq!(vm["customer_phone_number"], "+15146300808");
        assert_eq!(vm["talkdesk_phone_number"], "+16502907793");
        assert_eq!(
            vm["record"],
            "http://s3.amazonaws.com/recordings_2013/123.mp3"
        );
        assert_eq!(vm["account_id"]["$oid"].as_str().map(str::len), Some(24));
        assert_eq!(docs[1]["_type"], "SmsEntry");
        assert_eq!(docs[1]["direction"], "outbound");
        assert_eq!(docs[1]["status"], "delivered");
        assert_eq!(docs[1]["customer_id"], vm["customer_id"]);
    }
}
