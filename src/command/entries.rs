//! `ivrc entries`: a contact's timeline from the entries store — the calls, recordings and
//! text messages `ivrc serve` wrote, oldest first — or, with `--export talkdesk`, every entry
//! as a document of the Talkdesk seed's MongoDB collection.

use crate::cli::{EntriesArgs, Export, Format};
use ivrc::phone::{self, Normalization};
use ivrc::store::{self, EntryKind, Store};

/// Runs `ivrc entries`.
pub fn run(args: &EntriesArgs) -> u8 {
    let contact = match args
        .contact
        .as_deref()
        .map(|c| (c, phone::normalize(c, Normalization::E164)))
    {
        None => None,
        Some((_, Ok(p))) => Some(p.to_string()),
        Some((given, Err(e))) => {
            ivrc::errln!("error: `{given}` is not a phone number: {e}");
            return 2;
        }
    };
    if let Some(file) = args.store.file().filter(|f| !f.exists()) {
        ivrc::errln!("error: no entries store at `{}`", file.display());
        return 2;
    }
    if let Some(Export::Talkdesk) = args.export {
        return export_talkdesk(args, contact.as_deref());
    }
    let Some(contact) = contact else {
        ivrc::errln!("error: name the contact with --contact");
        return 2;
    };
    let entries = match Store::open_at(&args.store).and_then(|s| s.timeline(&contact)) {
        Ok(e) => e,
        Err(e) => {
            ivrc::errln!("error: {e}");
            return 2;
        }
    };
    match args.format {
        Format::Json => match serde_json::to_string_pretty(&entries) {
            Ok(text) => ivrc::outln!("{text}"),
            Err(e) => {
                ivrc::errln!("error: {e}");
                return 2;
            }
        },
        Format::Human => {
            if entries.is_empty() {
                ivrc::outln!("no entries for {contact}");
            }
            for e in &entries {
                let what = match e.kind {
                    EntryKind::Call => format!("call with {}", e.our_number),
                    EntryKind::CallEnded => {
                        format!("call ended: {}", e.body.as_deref().unwrap_or_default())
                    }
                    EntryKind::Voicemail => {
                        format!("voicemail {}", e.url.as_deref().unwrap_or_default())
                    }
                    EntryKind::SmsIn => format!(
                        "sms from contact: \"{}\"",
                        e.body.as_deref().unwrap_or_default()
                    ),
                    EntryKind::Report => {
                        format!("report {}", e.body.as_deref().unwrap_or_default())
                    }
                    EntryKind::SmsOut => format!(
                        "sms from {}: \"{}\"",
                        e.our_number,
                        e.body.as_deref().unwrap_or_default()
                    ),
                    EntryKind::Note => {
                        format!("note: \"{}\"", e.body.as_deref().unwrap_or_default())
                    }
                    EntryKind::CallOut => format!(
                        "agent's call from {}: {}",
                        e.our_number,
                        e.body.as_deref().unwrap_or_default()
                    ),
                    EntryKind::SmsStatus => match e.url.as_deref() {
                        Some(code) => format!(
                            "sms {}: error {code}",
                            e.body.as_deref().unwrap_or_default()
                        ),
                        None => format!("sms {}", e.body.as_deref().unwrap_or_default()),
                    },
                    EntryKind::OptOut => "opted out of texts".to_string(),
                    EntryKind::OptIn => "opted back in to texts".to_string(),
                    EntryKind::Blocked => "blocked from calls (block)".to_string(),
                    EntryKind::CallRecording => format!(
                        "call recording {} ({} s)",
                        e.url.as_deref().unwrap_or_default(),
                        e.body.as_deref().unwrap_or_default()
                    ),
                };
                ivrc::outln!("{}  {what}   ({} {})", store::utc(e.at_ms), e.flow, e.sid);
            }
        }
    }
    0
}

/// Writes every entry (or one contact's) as Talkdesk documents, one a line.
fn export_talkdesk(args: &EntriesArgs, contact: Option<&str>) -> u8 {
    let entries = match Store::open_at(&args.store).and_then(|s| s.entries_after(0, usize::MAX)) {
        Ok(e) => e,
        Err(e) => {
            ivrc::errln!("error: {e}");
            return 2;
        }
    };
    let entries: Vec<_> = entries
        .into_iter()
        .filter(|s| contact.is_none_or(|c| s.entry.contact == c))
        .collect();
    for doc in ivrc::console::talkdesk::documents(&entries) {
        ivrc::outln!("{doc}");
    }
    0
}
