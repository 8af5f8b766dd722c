//! The formatter: one canonical layout for `.ivr` text, comments kept (`ivrc fmt`, and the
//! language server's formatting).
//!
//! Owns the walk of the parse tree into tokens, brackets, item breaks and comments (here) and
//! their layout (`printer.rs`). It works on pest's tree rather than the AST because the AST
//! keeps no punctuation; the grammar drops comments, so they are read back from the source
//! text between tokens (never from inside a string). Text is copied token by token as
//! written: strings, numbers, durations and phones are never rewritten. Refuses text with
//! syntax errors; does no I/O. The rules are in docs/fmt.md.

mod printer;

use crate::span::FileId;
use crate::syntax::{self, Rule, SyntaxError};
use pest::iterators::Pair;
use printer::{Break, Printer};

/// Formats a whole `.ivr` source text, or returns its syntax errors (spans into `text`).
///
/// ```
/// let text = "flow sum{answer;say \"hi\" // greet\nhangup}";
/// let formatted = ivrc::fmt::format_source(text).expect("no syntax errors");
/// assert_eq!(formatted, "flow sum {\n  answer; say \"hi\" // greet\n  hangup\n}\n");
/// ```
pub fn format_source(text: &str) -> Result<String, Vec<SyntaxError>> {
    let pairs = syntax::parse_tree(FileId(0), text)?;
    let mut walker = Walker {
        text,
        printer: Printer::new(),
        last_end: 0,
        last_code_end: 0,
    };
    for pair in pairs {
        walker.node(pair);
    }
    Ok(walker.printer.finish())
}

/// How a bracketed container lays out its items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// Items separated by `;` when on one line (flow, block, body, campaign, test).
    Block,
    /// Items separated by `,`, one per line when the list is broken (maps, JSON, parameters).
    List,
    /// Part of an expression (grouping, call arguments): never broken by the layout.
    Inline,
}

/// A rule whose text is a bracketed container.
struct Container {
    open: &'static str,
    close: &'static str,
    shape: Shape,
    /// Written glued to the name before it: `f(x)`, `flow f(x: text)`.
    glue_left: bool,
}

impl Container {
    fn of(rule: Rule) -> Option<Container> {
        let (open, close, shape, glue_left) = match rule {
            Rule::flow | Rule::block | Rule::body | Rule::campaign | Rule::test => {
                ("{", "}", Shape::Block, false)
            }
            Rule::map | Rule::json_object => ("{", "}", Shape::List, false),
            Rule::json_array => ("[", "]", Shape::List, false),
            Rule::params => ("(", ")", Shape::List, true),
            Rule::call => ("(", ")", Shape::Inline, true),
            Rule::paren => ("(", ")", Shape::Inline, false),
            _ => return None,
        };
        Some(Container {
            open,
            close,
            shape,
            glue_left,
        })
    }
}

/// One piece of a rule's text: a child rule, or what lies between children — a literal
/// token (`{`, `->`, `:`…) or a comment. Whitespace is dropped.
enum Piece<'i> {
    Child(Pair<'i, Rule>),
    Literal(usize, usize),
    Comment(usize, usize),
}

/// Walks the parse tree in source order, telling the printer what each token is.
struct Walker<'t> {
    text: &'t str,
    printer: Printer,
    /// End of the last token or comment written.
    last_end: usize,
    /// End of the last token written.
    last_code_end: usize,
}

impl<'t> Walker<'t> {
    fn node(&mut self, pair: Pair<'t, Rule>) {
        let rule = pair.as_rule();
        let (start, end) = (pair.as_span().start(), pair.as_span().end());
        let container = Container::of(rule);
        let mut pieces = Vec::new();
        let mut pos = start;
        for child in pair.clone().into_inner() {
            self.lex_gap(pos, child.as_span().start(), &mut pieces);
            pos = child.as_span().end();
            pieces.push(Piece::Child(child));
        }
        if pieces.is_empty() && container.is_none() {
            // A token: an atomic rule, or an operator — a rule of one literal whose span may
            // run on over the blanks and comments before a look-ahead (`op_sub`).
            let len = if is_operator(rule) {
                literal_len(&self.text[start..end])
            } else {
                end - start
            };
            if rule != Rule::EOI {
                self.code(start, start + len, false, rule == Rule::op_neg);
            }
            self.lex_gap(start + len, end, &mut pieces);
            for piece in pieces {
                self.other(piece);
            }
            return;
        }
        self.lex_gap(pos, end, &mut pieces);
        match container {
            Some(c) => self.container(&c, pieces),
            None => self.sequence(pieces, rule == Rule::file),
        }
    }

    /// The pieces of a rule that is not a container; the items of a file (`top`) each start
    /// a line.
    fn sequence(&mut self, pieces: Vec<Piece<'t>>, top: bool) {
        for piece in pieces {
            if let (true, Piece::Child(child)) = (top, &piece) {
                let blank = self.blank_before(child.as_span().start());
                self.printer.item(Break::Separate { blank });
            }
            self.other(piece);
        }
    }

    /// The pieces of a bracketed container: what precedes the bracket, then its items with
    /// separators made anew (`;` between items kept on one line, `,` between list entries).
    fn container(&mut self, c: &Container, pieces: Vec<Piece<'t>>) {
        let is =
            |p: &Piece<'_>, s: &str| matches!(p, Piece::Literal(a, b) if &self.text[*a..*b] == s);
        let open_at = pieces.iter().position(|p| is(p, c.open));
        let close_at = pieces.iter().rposition(|p| is(p, c.close));
        let (Some(open_at), Some(close_at)) = (open_at, close_at) else {
            // Not the shape the grammar gives a container; keep every piece as a token.
            return self.sequence(pieces, false);
        };
        let items: Vec<Rule> = pieces[open_at..close_at]
            .iter()
            .filter_map(|p| match p {
                Piece::Child(child) => Some(child.as_rule()),
                _ => None,
            })
            .collect();
        let flat =
            c.shape == Shape::Inline || self.stays_flat(c, &pieces[open_at..=close_at], &items);
        let mut index = 0;
        let mut prev: Option<Rule> = None;
        for (i, piece) in pieces.into_iter().enumerate() {
            match piece {
                Piece::Literal(a, _) if i == open_at => {
                    self.printer.open(
                        c.open,
                        flat,
                        c.shape != Shape::Inline && c.open == "{",
                        c.glue_left,
                    );
                    self.advance(a + c.open.len(), true);
                }
                Piece::Literal(a, _) if i == close_at => {
                    self.printer.close(c.close);
                    self.advance(a + c.close.len(), true);
                }
                Piece::Child(child) if i > open_at && i < close_at => {
                    let child_start = child.as_span().start();
                    if c.shape != Shape::Inline {
                        let brk = match prev {
                            None if flat => Break::SameLine,
                            Some(p)
                                if flat
                                    || (c.shape == Shape::Block && self.joins(p, child_start)) =>
                            {
                                if c.shape == Shape::Block {
                                    self.printer.separator(";");
                                }
                                Break::SameLine
                            }
                            _ => Break::Separate {
                                blank: self.blank_before(child_start),
                            },
                        };
                        self.printer.item(brk);
                    }
                    prev = Some(child.as_rule());
                    self.node(child);
                    index += 1;
                    if c.shape != Shape::Block && index < items.len() {
                        self.printer.separator(",");
                    }
                }
                other => self.other(other),
            }
        }
    }

    /// Whether a container stays on one line: it is on one line in the source and its items
    /// can be joined with `;`, or it is empty (without comments).
    fn stays_flat(&self, c: &Container, inside: &[Piece<'_>], items: &[Rule]) -> bool {
        let (Some(Piece::Literal(from, _)), Some(Piece::Literal(_, to))) =
            (inside.first(), inside.last())
        else {
            return true;
        };
        let one_line = !has_line_break(&self.text[*from..*to]);
        let joinable = c.shape != Shape::Block || items.iter().rev().skip(1).all(|r| can_join(*r));
        let empty = items.is_empty() && !inside.iter().any(|p| matches!(p, Piece::Comment(..)));
        (one_line && joinable) || empty
    }

    /// Whether an item starting at `start` stays on the line of the item before (of rule
    /// `prev`): the source has them on one line and `;` may follow the item before.
    fn joins(&self, prev: Rule, start: usize) -> bool {
        can_join(prev) && !has_line_break(&self.text[self.last_code_end.min(start)..start])
    }

    /// A literal or comment between children.
    fn other(&mut self, piece: Piece<'t>) {
        match piece {
            Piece::Literal(a, b) => {
                let text = &self.text[a..b];
                // Separators are written anew by `container`.
                if text == ";" || text == "," {
                    self.advance(b, false);
                } else {
                    // `crm.hint`, `rate 3/s`, `window 09:00-21:00`, `a: number`.
                    let (glue_left, glue_right) = match text {
                        "." | "/" | "-" => (true, true),
                        ":" => (true, false),
                        _ => (false, false),
                    };
                    self.code(a, b, glue_left, glue_right);
                }
            }
            Piece::Comment(a, b) => {
                let newlines = count_line_breaks(&self.text[self.last_end.min(a)..a]);
                let line_start = self.text[..a].rfind(['\n', '\r']).map_or(0, |p| p + 1);
                let column = self.text[line_start..a].chars().count();
                let blanks = self.text[line_start..a]
                    .chars()
                    .rev()
                    .take_while(|c| *c == ' ' || *c == '\t')
                    .count();
                self.printer
                    .comment(&self.text[a..b], newlines, column, blanks >= 2);
                self.advance(b, false);
            }
            Piece::Child(child) => self.node(child),
        }
    }

    /// Writes the token `start..end` as it is in the source.
    fn code(&mut self, start: usize, end: usize, glue_left: bool, glue_right: bool) {
        self.printer
            .token(&self.text[start..end], glue_left, glue_right);
        self.advance(end, true);
    }

    fn advance(&mut self, end: usize, code: bool) {
        self.last_end = end;
        if code {
            self.last_code_end = end;
        }
    }

    /// Whether the source has an empty line between the last token or comment and `start`.
    fn blank_before(&self, start: usize) -> bool {
        count_line_breaks(&self.text[self.last_end.min(start)..start]) >= 2
    }

    /// Splits the text between two children into literals and comments.
    fn lex_gap(&self, from: usize, to: usize, pieces: &mut Vec<Piece<'t>>) {
        let gap = self.text.get(from..to).unwrap_or("");
        let mut chars = gap.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            let next = chars.peek().map(|(_, n)| *n);
            match (c, next) {
                (' ' | '\t' | '\n' | '\r', _) => {}
                ('/', Some('/')) => {
                    let len = gap[i..].find(['\n', '\r']).unwrap_or(gap.len() - i);
                    pieces.push(Piece::Comment(from + i, from + i + len));
                    while chars.peek().is_some_and(|(j, _)| *j < i + len) {
                        chars.next();
                    }
                }
                ('-', Some('>')) => {
                    chars.next();
                    pieces.push(Piece::Literal(from + i, from + i + 2));
                }
                _ => pieces.push(Piece::Literal(from + i, from + i + c.len_utf8())),
            }
        }
    }
}

/// The operators: rules of one literal, not atomic.
fn is_operator(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::op_eq
            | Rule::op_ne
            | Rule::op_le
            | Rule::op_ge
            | Rule::op_lt
            | Rule::op_gt
            | Rule::op_add
            | Rule::op_sub
            | Rule::op_mul
            | Rule::op_div
            | Rule::op_rem
            | Rule::op_neg
    )
}

/// The length of the operator at the start of `text`: up to a blank or a comment.
fn literal_len(text: &str) -> usize {
    let mut len = text.find([' ', '\t', '\n', '\r']).unwrap_or(text.len());
    if let Some(comment) = text.get(1..len).and_then(|rest| rest.find("//")) {
        len = comment + 1;
    }
    len
}

/// Whether `;` may follow an item of this rule (the grammar allows none after a flow's
/// settings and handlers).
fn can_join(rule: Rule) -> bool {
    !matches!(rule, Rule::setting | Rule::handler)
}

fn has_line_break(text: &str) -> bool {
    text.contains(['\n', '\r'])
}

/// Line breaks in `text`: `\n`, `\r\n` or a lone `\r` each count once.
fn count_line_breaks(text: &str) -> usize {
    text.matches('\n').count() + text.matches('\r').count() - text.matches("\r\n").count()
}
