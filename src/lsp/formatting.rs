//! Formatting a whole document through the formatter of `ivrc fmt`
//! (`crate::fmt::format_source`), as one edit replacing the whole text.
//!
//! A document with syntax errors gets no edits: the formatter refuses it and the
//! diagnostics already say why. The client's tab size and other options are not read:
//! the layout is the one canonical style (docs/fmt.md).

use super::document::Document;
use super::program::without_bom;
use lsp_types::{Position, Range, TextEdit};

/// The edits that format `doc`: none when it is formatted already, `None` when it has
/// syntax errors.
pub fn format(doc: &Document) -> Option<Vec<TextEdit>> {
    let formatted = crate::fmt::format_source(&without_bom(&doc.text)).ok()?;
    if formatted == doc.text {
        return Some(Vec::new());
    }
    let whole = Range::new(Position::new(0, 0), doc.range(0, doc.text.len()).end);
    Some(vec![TextEdit::new(whole, formatted)])
}
