//! The layout half of the formatter: tokens, brackets, item breaks and comments in source
//! order in, canonical text out.
//!
//! Owns indentation, line breaks, spacing between tokens, blank lines and where comments go.
//! It knows nothing of the grammar: the walker in `mod.rs` says what each token is.

/// How many spaces one level of nesting indents (the examples' house style).
const INDENT: &str = "  ";

/// How an item starts relative to the one before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Break {
    /// On the line of the bracket or item before (a separator already written).
    SameLine,
    /// On a line of its own; `blank` keeps one empty line before it.
    Separate {
        /// The source had an empty line before the item.
        blank: bool,
    },
}

/// An open container.
struct Frame {
    /// Laid out on one line.
    flat: bool,
    /// A space inside the brackets when flat: `{ a }`, but `(a)` and `[a]`.
    pad: bool,
    /// The indentation level of the container's items.
    indent: usize,
}

/// A comment on a line of its own, waiting to learn the indentation of what follows it.
struct Pending {
    text: String,
    blank: bool,
}

/// Where the next token goes.
enum Place {
    /// Goes on after the token before (or starts a continuation line after a comment).
    Continue,
    /// Starts an item.
    Item(Break),
    /// Closes a broken container, on a line of its own.
    CloseBroken,
}

/// The text being written and the layout state.
pub(super) struct Printer {
    out: String,
    /// Byte offset in `out` where the current line starts.
    line_start: usize,
    /// Byte offset in `out` just past the last token (comments may follow it).
    code_end: usize,
    frames: Vec<Frame>,
    pending: Vec<Pending>,
    /// A comment ended the current line: the next token starts a new one.
    break_next: bool,
    /// The token before glues to whatever follows (`(`, `.`, unary `-`).
    glue_prev: bool,
    /// The token before is an opening bracket (so `{}` is written without a space).
    just_opened: bool,
    /// An empty line may be kept here (not at the start, not right after `{`).
    blank_ok: bool,
    /// The next token starts an item.
    next_item: Option<Break>,
}

impl Printer {
    /// A printer at the top level of a file.
    pub(super) fn new() -> Printer {
        Printer {
            out: String::new(),
            line_start: 0,
            code_end: 0,
            frames: vec![Frame {
                flat: false,
                pad: false,
                indent: 0,
            }],
            pending: Vec::new(),
            break_next: false,
            glue_prev: false,
            just_opened: false,
            blank_ok: false,
            next_item: None,
        }
    }

    /// Announces that the next token starts an item of the innermost container (or of the
    /// file).
    pub(super) fn item(&mut self, brk: Break) {
        self.next_item = Some(brk);
    }

    /// Writes a token; `glue_left`/`glue_right` suppress the space before/after it.
    pub(super) fn token(&mut self, text: &str, glue_left: bool, glue_right: bool) {
        self.place_next(glue_left);
        self.out.push_str(text);
        self.code_end = self.out.len();
        self.glue_prev = glue_right;
        self.just_opened = false;
        self.blank_ok = true;
    }

    /// Writes a separator (`;`, `,`) right after the last token, before any comment that
    /// followed it in the source.
    pub(super) fn separator(&mut self, text: &str) {
        self.out.insert_str(self.code_end, text);
        self.code_end += text.len();
        self.glue_prev = false;
        self.just_opened = false;
    }

    /// Writes an opening bracket and enters its container: `flat` keeps it on one line,
    /// otherwise its items go on lines of their own, one level deeper.
    pub(super) fn open(&mut self, text: &str, flat: bool, pad: bool, glue_left: bool) {
        self.place_next(glue_left);
        self.out.push_str(text);
        self.code_end = self.out.len();
        let indent = self.indent() + usize::from(!flat);
        self.frames.push(Frame { flat, pad, indent });
        self.glue_prev = !pad;
        self.just_opened = true;
        self.blank_ok = flat;
    }

    /// Writes the closing bracket of the innermost container and leaves it.
    pub(super) fn close(&mut self, text: &str) {
        let (flat, pad) = self
            .frames
            .last()
            .map_or((true, false), |f| (f.flat, f.pad));
        if flat {
            let glue = !pad || self.just_opened;
            self.place(Place::Continue, glue);
        } else {
            self.place(Place::CloseBroken, false);
        }
        self.out.push_str(text);
        self.code_end = self.out.len();
        if self.frames.len() > 1 {
            self.frames.pop();
        }
        self.glue_prev = false;
        self.just_opened = false;
        self.blank_ok = true;
    }

    /// Takes a comment (`//…` as written). `newlines` is the number of line breaks since the
    /// token or comment before it; `column` is its column in the source (in characters) and
    /// `aligned` says whether two or more blanks preceded it there.
    pub(super) fn comment(&mut self, text: &str, newlines: usize, column: usize, aligned: bool) {
        let text = text.trim_end();
        // Only one comment ends a line: after a dropped separator (`a // x` newline `, // y`)
        // the second goes on a line of its own.
        let after_code = newlines == 0 && !self.break_next && !self.out.is_empty();
        if after_code {
            // A trailing comment stays on its line: one space after the code, or the column the
            // author aligned it to while the code still ends before it.
            let len = self.out[self.line_start..].chars().count();
            let at = if aligned {
                column.max(len + 1)
            } else {
                len + 1
            };
            self.out.extend(std::iter::repeat_n(' ', at - len));
            self.out.push_str(text);
        } else {
            self.pending.push(Pending {
                text: text.to_string(),
                blank: newlines >= 2,
            });
        }
        self.break_next = true;
    }

    /// The text: comments left at the end written, exactly one final newline.
    pub(super) fn finish(mut self) -> String {
        let indent = self.indent();
        self.flush_pending(indent);
        self.trim_line();
        if !self.out.is_empty() {
            self.out.push('\n');
        }
        self.out
    }

    /// The indentation level of the innermost container's items.
    fn indent(&self) -> usize {
        self.frames.last().map_or(0, |f| f.indent)
    }

    /// Places a token that starts an item if one was announced, else goes on.
    fn place_next(&mut self, glue_left: bool) {
        match self.next_item.take() {
            Some(brk) => self.place(Place::Item(brk), glue_left),
            None => self.place(Place::Continue, glue_left),
        }
    }

    /// Moves to where the next token goes: the same line (with a space unless glued), or a new
    /// line at the right indentation after any comments waiting for it.
    fn place(&mut self, place: Place, glue_left: bool) {
        let top = self.indent();
        let (new_line, indent, blank, comments_at) = match place {
            Place::Item(Break::SameLine) => (false, top, false, top),
            Place::Item(Break::Separate { blank }) => (true, top, blank, top),
            // The comments before `}` stay inside the container.
            Place::CloseBroken => (true, top.saturating_sub(1), false, top),
            Place::Continue => (false, top + 1, false, top + 1),
        };
        self.flush_pending(comments_at);
        if self.out.is_empty() {
            // Nothing to separate from.
        } else if new_line || self.break_next {
            self.line_break(blank);
            self.push_indent(indent);
        } else if !(glue_left || self.glue_prev) {
            self.out.push(' ');
        }
        self.break_next = false;
    }

    /// Writes the comments waiting for a line, each on its own at `indent`.
    fn flush_pending(&mut self, indent: usize) {
        for c in std::mem::take(&mut self.pending) {
            if !self.out.is_empty() {
                self.line_break(c.blank);
            }
            self.push_indent(indent);
            self.out.push_str(&c.text);
            self.blank_ok = true;
        }
    }

    /// Ends the current line (and adds an empty one when `blank` and allowed).
    fn line_break(&mut self, blank: bool) {
        self.trim_line();
        self.out.push('\n');
        if blank && self.blank_ok {
            self.out.push('\n');
        }
        self.line_start = self.out.len();
    }

    fn push_indent(&mut self, level: usize) {
        for _ in 0..level {
            self.out.push_str(INDENT);
        }
    }

    /// Drops blanks at the end of the current line.
    fn trim_line(&mut self) {
        let kept = self
            .out
            .trim_end_matches([' ', '\t'])
            .len()
            .max(self.line_start);
        self.out.truncate(kept);
    }
}
