//! `ivrc store`: looking after a store — `migrate` creates its tables or brings them up to
//! this version's, and says what it found.

use crate::cli::MigrateArgs;
use ivrc::store::Store;

/// Runs `ivrc store migrate`.
pub fn migrate(args: &MigrateArgs) -> u8 {
    match Store::migrate(&args.store) {
        Ok(m) if m.from == m.to => {
            ivrc::outln!(
                "the store at {} is up to date (version {})",
                args.store,
                m.to
            );
            0
        }
        Ok(m) if m.from == 0 => {
            ivrc::outln!(
                "the store at {} has its tables now (version {})",
                args.store,
                m.to
            );
            0
        }
        Ok(m) => {
            ivrc::outln!(
                "brought the store at {} from version {} to {}",
                args.store,
                m.from,
                m.to
            );
            0
        }
        Err(e) => {
            ivrc::errln!("error: cannot migrate `{}`: {e}", args.store);
            2
        }
    }
}
