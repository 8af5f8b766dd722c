//! Open documents and positions: the text an editor holds, its version, and the conversion
//! between the byte offsets of spans and the protocol's positions (line and UTF-16 column).
//!
//! Owns the rules for positions the editor sends: a column past the end of its line means
//! the end of the line (as the protocol says), a column inside a character that takes two
//! UTF-16 units means that character's start, and a line past the last is refused. It does
//! not analyse anything.

use lsp_types::{Position, Range, TextDocumentContentChangeEvent};

/// Where lines start in a text, to convert offsets to positions and back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineIndex {
    /// Byte offset of the start of each line; the first is 0.
    starts: Vec<usize>,
}

impl LineIndex {
    /// The lines of `text`, broken at `\n`, `\r\n` and a lone `\r` as the protocol defines.
    pub fn new(text: &str) -> LineIndex {
        let bytes = text.as_bytes();
        let mut starts = vec![0];
        for (i, &b) in bytes.iter().enumerate() {
            let lone_cr = b == b'\r' && bytes.get(i + 1) != Some(&b'\n');
            if b == b'\n' || lone_cr {
                starts.push(i + 1);
            }
        }
        LineIndex { starts }
    }

    /// The position of byte `offset` of `text` (clamped to the text, rounded down to a
    /// character boundary).
    pub fn position(&self, text: &str, offset: usize) -> Position {
        let offset = floor_boundary(text, offset.min(text.len()));
        let line = self
            .starts
            .partition_point(|&s| s <= offset)
            .saturating_sub(1);
        let start = self.starts.get(line).copied().unwrap_or(0);
        let column = text
            .get(start..offset)
            .map_or(0, |s| s.encode_utf16().count());
        Position::new(to_u32(line), to_u32(column))
    }

    /// The range of bytes `start..end` of `text`.
    pub fn range(&self, text: &str, start: usize, end: usize) -> Range {
        Range::new(self.position(text, start), self.position(text, end))
    }

    /// The byte offset of `position` in `text`, or `None` when its line is past the last.
    pub fn offset(&self, text: &str, position: Position) -> Option<usize> {
        let line = usize::try_from(position.line).ok()?;
        let start = *self.starts.get(line)?;
        let end = self.line_end(text, line);
        let mut units = 0usize;
        let wanted = usize::try_from(position.character).unwrap_or(usize::MAX);
        for (i, c) in text.get(start..end)?.char_indices() {
            units += c.len_utf16();
            if units > wanted {
                return Some(start + i);
            }
        }
        Some(end)
    }

    /// The offset where line `line`'s content ends, before its line break.
    fn line_end(&self, text: &str, line: usize) -> usize {
        let start = self.starts.get(line).copied().unwrap_or(text.len());
        let next = self.starts.get(line + 1).copied().unwrap_or(text.len());
        let content = text.get(start..next).unwrap_or("");
        let content = content.strip_suffix('\n').unwrap_or(content);
        start + content.strip_suffix('\r').unwrap_or(content).len()
    }
}

/// The largest character boundary of `text` at or before `offset`.
fn floor_boundary(text: &str, mut offset: usize) -> usize {
    while offset > 0 && !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A document the editor has open.
#[derive(Debug, Clone)]
pub struct Document {
    /// Its whole text, as the editor holds it.
    pub text: String,
    /// The editor's version of it.
    pub version: i32,
    /// Lines of `text`.
    pub lines: LineIndex,
}

impl Document {
    /// A document with this text.
    pub fn new(text: String, version: i32) -> Document {
        let lines = LineIndex::new(&text);
        Document {
            text,
            version,
            lines,
        }
    }

    /// Applies the editor's changes in order: a change with a range replaces that range
    /// (positions past the end are taken as the end), one without replaces everything.
    pub fn apply(&mut self, changes: Vec<TextDocumentContentChangeEvent>, version: i32) {
        for change in changes {
            match change.range {
                None => self.text = change.text,
                Some(range) => {
                    let end_of_text = self.text.len();
                    let start = self
                        .lines
                        .offset(&self.text, range.start)
                        .unwrap_or(end_of_text);
                    let end = self
                        .lines
                        .offset(&self.text, range.end)
                        .unwrap_or(end_of_text)
                        .max(start);
                    self.text.replace_range(start..end, &change.text);
                }
            }
            self.lines = LineIndex::new(&self.text);
        }
        self.version = version;
    }

    /// The byte offset of `position`, or `None` when its line is past the last.
    pub fn offset(&self, position: Position) -> Option<usize> {
        self.lines.offset(&self.text, position)
    }

    /// The range of bytes `start..end`.
    pub fn range(&self, start: usize, end: usize) -> Range {
        self.lines.range(&self.text, start, end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(line: u32, character: u32) -> Position {
        Position::new(line, character)
    }

    #[test]
    fn columns_count_utf16_units() {
        // "Привет" is 6 characters, 12 bytes, 6 UTF-16 units; "😀" is 4 bytes, 2 units.
        let text = "say \"Привет 😀 {{name}}\"\nhangup\n";
        let index = LineIndex::new(text);
        let name = text.find("name").unwrap();
        assert_eq!(index.position(text, name), pos(0, 17));
        assert_eq!(index.offset(text, pos(0, 17)), Some(name));
        let hangup = text.find("hangup").unwrap();
        assert_eq!(index.position(text, hangup), pos(1, 0));
        assert_eq!(index.offset(text, pos(1, 3)), Some(hangup + 3));
        assert_eq!(index.position(text, text.len()), pos(2, 0));
        assert_eq!(index.offset(text, pos(2, 0)), Some(text.len()));
    }

    #[test]
    fn positions_inside_characters_round_down() {
        let text = "a😀b ж";
        let index = LineIndex::new(text);
        // Column 2 is between the two units of the emoji: its start.
        assert_eq!(index.offset(text, pos(0, 2)), Some(1));
        assert_eq!(index.offset(text, pos(0, 3)), Some(5));
        // Byte 2 is inside the emoji, byte 8 inside `ж`.
        assert_eq!(index.position(text, 2), pos(0, 1));
        assert_eq!(index.position(text, 8), pos(0, 5));
        assert_eq!(index.position(text, 999), pos(0, 6));
    }

    #[test]
    fn columns_past_the_line_end_clamp_and_lines_past_the_end_are_refused() {
        let text = "ab\r\ncd\rюя";
        let index = LineIndex::new(text);
        assert_eq!(index.offset(text, pos(0, 99)), Some(2));
        assert_eq!(index.offset(text, pos(1, 1)), Some(5));
        assert_eq!(index.offset(text, pos(2, 1)), Some(9));
        assert_eq!(index.offset(text, pos(2, 99)), Some(text.len()));
        assert_eq!(index.offset(text, pos(3, 0)), None);
        assert_eq!(index.position(text, 7), pos(2, 0));
        assert_eq!(LineIndex::new("").offset("", pos(0, 5)), Some(0));
    }

    #[test]
    fn changes_apply_in_order() {
        let mut doc = Document::new("say \"Привет\"\nhangup\n".into(), 1);
        let change = |range: Option<Range>, text: &str| TextDocumentContentChangeEvent {
            range,
            range_length: None,
            text: text.into(),
        };
        doc.apply(
            vec![
                change(Some(Range::new(pos(0, 5), pos(0, 11))), "Пока"),
                change(Some(Range::new(pos(1, 0), pos(1, 0))), "answer; "),
                change(Some(Range::new(pos(9, 0), pos(9, 0))), "// end\n"),
            ],
            2,
        );
        assert_eq!(doc.text, "say \"Пока\"\nanswer; hangup\n// end\n");
        assert_eq!(doc.version, 2);
        doc.apply(vec![change(None, "flow f { hangup }")], 3);
        assert_eq!(doc.text, "flow f { hangup }");
        assert_eq!(doc.offset(pos(0, 9)), Some(9));
    }
}
