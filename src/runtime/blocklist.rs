//! The numbers a flow's `block` put on the block list (the Zvonobot "3 — blacklist" key): the
//! dialer never calls them and their inbound calls are declined. The list lives in the store
//! as `blocked` entries of each contact's timeline; each instance keeps it in memory, loaded
//! at start, added to at once by its own calls, and read again from the store every few
//! seconds for the numbers other instances sharing the store blocked.

use crate::store::{Location, Store};
use std::collections::HashSet;
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

/// The numbers not to call, and whose calls to decline.
#[derive(Debug, Default)]
pub struct BlockList {
    numbers: RwLock<HashSet<String>>,
}

/// A number as the list keeps it: E.164 when it reads as a phone number (so `+7 916 …` and
/// `+7916…` are one), else as given.
fn key(number: &str) -> String {
    crate::phone::normalize(number, crate::phone::Normalization::E164)
        .map_or_else(|_| number.trim().to_string(), |p| p.to_string())
}

impl BlockList {
    /// A list holding `numbers`.
    pub fn new<'a>(numbers: impl IntoIterator<Item = &'a str>) -> BlockList {
        BlockList {
            numbers: RwLock::new(numbers.into_iter().map(key).collect()),
        }
    }

    /// Whether `number` is on the list.
    pub fn contains(&self, number: &str) -> bool {
        self.numbers
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&key(number))
    }

    /// Puts `number` on the list.
    pub fn add(&self, number: &str) {
        self.numbers
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key(number));
    }

    /// Reads the store at `location` every `every` on a thread of its own (a PostgreSQL store
    /// must not be read on the async workers) and adds the numbers blocked there, until the
    /// list is dropped. A failed read is said once and tried again.
    pub fn follow(list: &Arc<BlockList>, location: Location, every: Duration) {
        let list: Weak<BlockList> = Arc::downgrade(list);
        std::thread::spawn(move || {
            let mut store: Option<Store> = None;
            let mut failing = false;
            loop {
                std::thread::sleep(every);
                let Some(list) = list.upgrade() else { return };
                let read = match &store {
                    Some(s) => s.blocked_numbers(),
                    None => Store::open_at(&location).and_then(|s| {
                        let numbers = s.blocked_numbers();
                        store = Some(s);
                        numbers
                    }),
                };
                match read {
                    Ok(numbers) => {
                        failing = false;
                        for n in &numbers {
                            list.add(n);
                        }
                    }
                    Err(e) if !failing => {
                        failing = true;
                        crate::errln!("ivrc: cannot read the block list from the store: {e}");
                    }
                    Err(_) => {}
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_number_is_on_the_list_however_it_is_written() {
        let list = BlockList::new(["+7 916 123-45-67"]);
        assert!(list.contains("+79161234567"));
        assert!(!list.contains("+79161234568"));
        list.add("anonymous");
        assert!(list.contains(" anonymous"));
    }
}
