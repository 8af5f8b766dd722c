//! `ivrc entries`: a contact's timeline from the entries store — the calls, recordings and
//! text messages `ivrc serve` wrote, oldest first.

use crate::cli::{EntriesArgs, Format};
use ivrc::phone::{self, Normalization};
use ivrc::store::{self, EntryKind, Store};

/// Runs `ivrc entries`.
pub fn run(args: &EntriesArgs) -> u8 {
    let contact = match phone::normalize(&args.contact, Normalization::E164) {
        Ok(p) => p.to_string(),
        Err(e) => {
            ivrc::errln!("error: `{}` is not a phone number: {e}", args.contact);
            return 2;
        }
    };
    if !args.store.exists() {
        ivrc::errln!("error: no entries store at `{}`", args.store.display());
        return 2;
    }
    let entries = match Store::open(&args.store).and_then(|s| s.timeline(&contact)) {
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
                };
                ivrc::outln!("{}  {what}   ({} {})", store::utc(e.at_ms), e.flow, e.sid);
            }
        }
    }
    0
}
