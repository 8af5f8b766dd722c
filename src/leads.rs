//! Leads files: reading and validating the CSV a campaign calls from.
//!
//! This module owns the rules a leads file must follow (UTF-8 without BOM,
//! one delimiter, a header naming every column the flow uses, one value per
//! column on every row, phones and numbers that parse) and turns the file's
//! bytes into normalized [`Lead`]s plus a list of [`LeadProblem`]s, each with
//! a byte range into the input so it can be shown in place.
//!
//! It deliberately does not read files, render diagnostics, decide which
//! problems are fatal, or know which columns a flow needs: the caller (the
//! checker) supplies the bytes and the [`ExpectedColumn`]s and reports the
//! problems. Phone rules live in [`crate::phone`]. Nothing here panics,
//! whatever the bytes.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use crate::ir::Lead;
use crate::phone::{normalize, Normalization, PhoneError};

/// The UTF-8 byte order mark.
const BOM: &[u8] = b"\xEF\xBB\xBF";
/// Delimiters recognised in a header, in order of preference.
const CANDIDATE_DELIMITERS: [u8; 3] = [b';', b',', b'\t'];
/// The delimiter of a single-column file, and the fallback.
const DEFAULT_DELIMITER: u8 = b';';
/// The CSV quote character.
const QUOTE: u8 = b'"';

/// What a column's values must look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// Any non-empty text, kept as written.
    Text,
    /// A whole number that fits in an `i64`, stored in canonical decimal form.
    Number,
    /// ASCII digits only (leading zeros kept), e.g. an account number.
    Digits,
    /// A phone number, normalized and stored in E.164 form.
    Phone,
}

impl ColumnKind {
    /// What the values of a column read into a parameter of type `ty` must look like.
    pub fn of_type(ty: crate::ir::Type) -> ColumnKind {
        match ty {
            crate::ir::Type::Phone => ColumnKind::Phone,
            crate::ir::Type::Number => ColumnKind::Number,
            crate::ir::Type::Digits => ColumnKind::Digits,
            _ => ColumnKind::Text,
        }
    }
}

/// A column the flow reads from every lead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedColumn {
    /// The header name, compared with the trimmed header cell exactly.
    pub name: String,
    /// What every value in the column must be.
    pub kind: ColumnKind,
}

/// How to read a leads file.
#[derive(Debug, Clone)]
pub struct LeadsOptions {
    /// Columns that must be present and filled on every row.
    pub columns: Vec<ExpectedColumn>,
    /// The required delimiter, or `None` to detect it from the header.
    pub delimiter: Option<u8>,
    /// How phone columns are normalized.
    pub normalization: Normalization,
}

/// Everything learned from a leads file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeadsReport {
    /// The delimiter used (given or detected).
    pub delimiter: u8,
    /// The trimmed header names, in file order.
    pub header: Vec<String>,
    /// The rows that passed every check, in file order.
    pub leads: Vec<Lead>,
    /// For each of `leads`, the byte range of each expected column's cell, by column name
    /// (for diagnostics that point at a good row, such as two rows with one number).
    pub cells: Vec<BTreeMap<String, Range<usize>>>,
    /// Every problem found, in file order.
    pub problems: Vec<LeadProblem>,
}

/// Something wrong with a leads file; `range` is a byte range into the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LeadProblem {
    /// The file starts with a UTF-8 byte order mark (range `0..3`).
    #[error("the leads file starts with a byte order mark; save it as UTF-8 without BOM")]
    Bom {
        /// Where the BOM is.
        range: Range<usize>,
    },
    /// The bytes are not UTF-8; reading stops here.
    #[error("the leads file is not valid UTF-8")]
    InvalidUtf8 {
        /// The first offending byte sequence.
        range: Range<usize>,
    },
    /// There is no header row.
    #[error("the leads file is empty; it needs a header row naming its columns")]
    Empty,
    /// The header is split by another delimiter than the one required.
    #[error(
        "the header is separated by `{}` but the leads file must use `{}`",
        char::from(*found).escape_default(),
        char::from(*expected).escape_default()
    )]
    WrongDelimiter {
        /// The delimiter the options require.
        expected: u8,
        /// The delimiter the header uses.
        found: u8,
        /// The header line.
        range: Range<usize>,
    },
    /// A column the flow needs is not in the header.
    #[error("the header has no column `{name}`")]
    MissingColumn {
        /// The missing column.
        name: String,
        /// The header row.
        range: Range<usize>,
    },
    /// The same name appears more than once in the header.
    #[error("column `{name}` appears more than once in the header")]
    DuplicateColumn {
        /// The repeated name.
        name: String,
        /// The repeated header cell.
        range: Range<usize>,
    },
    /// A row has more or fewer fields than the header; the row is skipped.
    #[error("line {line} has {found} fields but the header has {expected}")]
    WrongFieldCount {
        /// The line the row starts on.
        line: usize,
        /// The number of header fields.
        expected: usize,
        /// The number of fields in the row.
        found: usize,
        /// The row.
        range: Range<usize>,
    },
    /// A needed cell is empty; the row is skipped.
    #[error("line {line}: column `{column}` is empty")]
    EmptyCell {
        /// The line the row starts on.
        line: usize,
        /// The column.
        column: String,
        /// The cell.
        range: Range<usize>,
    },
    /// A phone cell does not hold a phone number; the row is skipped.
    #[error("line {line}: `{value}` in column `{column}` is not a valid phone number: {error}")]
    BadPhone {
        /// The line the row starts on.
        line: usize,
        /// The column.
        column: String,
        /// The cell's text.
        value: String,
        /// Why the phone was rejected.
        error: PhoneError,
        /// The cell.
        range: Range<usize>,
    },
    /// A number or digits cell does not hold one; the row is skipped.
    #[error("line {line}: `{value}` in column `{column}` is not a number")]
    BadNumber {
        /// The line the row starts on.
        line: usize,
        /// The column.
        column: String,
        /// The cell's text.
        value: String,
        /// The cell.
        range: Range<usize>,
    },
}

impl LeadProblem {
    /// Whether the problem is one row's (the row can be left out and the rest read).
    #[must_use]
    pub fn is_row(&self) -> bool {
        matches!(
            self,
            LeadProblem::WrongFieldCount { .. }
                | LeadProblem::EmptyCell { .. }
                | LeadProblem::BadPhone { .. }
                | LeadProblem::BadNumber { .. }
        )
    }

    /// The byte range the problem points at (`0..0` for [`LeadProblem::Empty`]).
    #[must_use]
    pub fn range(&self) -> Range<usize> {
        match self {
            LeadProblem::Empty => 0..0,
            LeadProblem::Bom { range }
            | LeadProblem::InvalidUtf8 { range }
            | LeadProblem::WrongDelimiter { range, .. }
            | LeadProblem::MissingColumn { range, .. }
            | LeadProblem::DuplicateColumn { range, .. }
            | LeadProblem::WrongFieldCount { range, .. }
            | LeadProblem::EmptyCell { range, .. }
            | LeadProblem::BadPhone { range, .. }
            | LeadProblem::BadNumber { range, .. } => range.clone(),
        }
    }
}

/// Reads and validates a leads file.
///
/// A BOM is reported and skipped; invalid UTF-8, an empty file and a wrong
/// delimiter stop reading. Otherwise every row is checked and either becomes
/// a [`Lead`] or yields problems. Rows whose fields are all blank are
/// ignored, like blank lines.
#[must_use]
pub fn read_leads(bytes: &[u8], options: &LeadsOptions) -> LeadsReport {
    let mut report = LeadsReport {
        delimiter: options.delimiter.unwrap_or(DEFAULT_DELIMITER),
        header: Vec::new(),
        leads: Vec::new(),
        cells: Vec::new(),
        problems: Vec::new(),
    };
    let (base, body) = match bytes.strip_prefix(BOM) {
        Some(rest) => {
            report.problems.push(LeadProblem::Bom {
                range: 0..BOM.len(),
            });
            (BOM.len(), rest)
        }
        None => (0, bytes),
    };
    let text = match std::str::from_utf8(body) {
        Ok(text) => text,
        Err(e) => {
            let start = base + e.valid_up_to();
            let end = match e.error_len() {
                Some(len) => start + len,
                None => bytes.len(),
            };
            report
                .problems
                .push(LeadProblem::InvalidUtf8 { range: start..end });
            return report;
        }
    };

    let header_line = find_header_line(text, options.delimiter);
    let delimiter = match (options.delimiter, &header_line) {
        (Some(expected), Some(line)) => {
            let wrong = if options.columns.len() > 1 && !contains_unquoted(line.text, expected) {
                CANDIDATE_DELIMITERS
                    .into_iter()
                    .find(|&d| d != expected && contains_unquoted(line.text, d))
            } else {
                None
            };
            if let Some(found) = wrong {
                report.problems.push(LeadProblem::WrongDelimiter {
                    expected,
                    found,
                    range: base + line.range.start..base + line.range.end,
                });
                return report;
            }
            expected
        }
        (Some(expected), None) => expected,
        (None, Some(line)) => CANDIDATE_DELIMITERS
            .into_iter()
            .find(|&d| contains_unquoted(line.text, d))
            .unwrap_or(DEFAULT_DELIMITER),
        (None, None) => DEFAULT_DELIMITER,
    };
    report.delimiter = delimiter;

    let mut rows = Rows::new(text.as_bytes(), delimiter, base);
    let Some(header) = rows.next() else {
        report.problems.push(LeadProblem::Empty);
        return report;
    };
    let columns = check_header(&header, options, &mut report);
    for row in rows {
        check_row(&row, &columns, options.normalization, &mut report);
    }
    report
}

/// The line the header is on, found before the delimiter is known.
struct HeaderLine<'a> {
    /// The line without its terminator.
    text: &'a str,
    /// Its byte range in the text after the BOM.
    range: Range<usize>,
}

/// Finds the first line with content (anything but spaces, quotes and
/// delimiters), which is where the header row starts.
fn find_header_line(text: &str, delimiter: Option<u8>) -> Option<HeaderLine<'_>> {
    let is_filler = |c: char| {
        c.is_whitespace()
            || c == char::from(QUOTE)
            || CANDIDATE_DELIMITERS.contains(&u8::try_from(c).unwrap_or(0))
            || delimiter.is_some_and(|d| d.is_ascii() && c == char::from(d))
    };
    let mut start = 0;
    for line in text.split_inclusive(['\n', '\r']) {
        let end = start + line.len();
        let content = line.trim_end_matches(['\n', '\r']);
        if !content.chars().all(is_filler) {
            return Some(HeaderLine {
                text: content,
                range: start..start + content.len(),
            });
        }
        start = end;
    }
    None
}

/// Whether `byte` occurs in `text` outside double quotes.
fn contains_unquoted(text: &str, byte: u8) -> bool {
    let mut quoted = false;
    for b in text.bytes() {
        if b == QUOTE {
            quoted = !quoted;
        } else if b == byte && !quoted {
            return true;
        }
    }
    false
}

/// One CSV record with its location.
struct Row {
    /// The 1-based line the record starts on.
    line: usize,
    /// The record's byte range in the original input, without terminator.
    range: Range<usize>,
    /// The fields' values, unquoted.
    fields: Vec<String>,
    /// The fields' byte ranges in the original input.
    spans: Vec<Range<usize>>,
}

impl Row {
    /// The value of field `index`, if the row has it.
    fn field(&self, index: usize) -> Option<&str> {
        self.fields.get(index).map(String::as_str)
    }

    /// The byte range of field `index`, or the whole row if unknown.
    fn span(&self, index: usize) -> Range<usize> {
        self.spans
            .get(index)
            .cloned()
            .unwrap_or_else(|| self.range.clone())
    }

    /// Whether every field is blank, as on an empty line.
    fn is_blank(&self) -> bool {
        self.fields.iter().all(|f| f.trim().is_empty())
    }
}

/// The non-blank records of a CSV text, with lines and byte ranges.
struct Rows<'a> {
    /// The CSV parser.
    reader: csv::Reader<&'a [u8]>,
    /// The text being parsed (after the BOM).
    bytes: &'a [u8],
    /// The delimiter.
    delimiter: u8,
    /// Offset of `bytes` in the original input.
    base: usize,
    /// Offset up to which lines were counted.
    counted_to: usize,
    /// Line number at `counted_to`.
    line: usize,
    /// Reused record buffer.
    record: csv::ByteRecord,
}

impl<'a> Rows<'a> {
    /// Starts reading `bytes` split by `delimiter`; `base` is added to every
    /// reported range.
    fn new(bytes: &'a [u8], delimiter: u8, base: usize) -> Self {
        let reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(delimiter)
            .from_reader(bytes);
        Rows {
            reader,
            bytes,
            delimiter,
            base,
            counted_to: 0,
            line: 1,
            record: csv::ByteRecord::new(),
        }
    }

    /// Reads the next record, blank or not.
    fn next_record(&mut self) -> Option<Row> {
        match self.reader.read_byte_record(&mut self.record) {
            Ok(true) => {}
            Ok(false) | Err(_) => return None,
        }
        let len = self.bytes.len();
        let reported = self
            .record
            .position()
            .map_or(self.counted_to, |p| to_offset(p.byte(), len));
        // The csv crate reports where it started looking, which is before any
        // blank lines and the `\n` of a CRLF; skip those to the record itself.
        let from = reported.max(self.counted_to);
        let skipped = self
            .bytes
            .get(from..)
            .unwrap_or_default()
            .iter()
            .take_while(|&&b| b == b'\n' || b == b'\r')
            .count();
        let start = (from + skipped).min(len);
        let after = to_offset(self.reader.position().byte(), len).max(start);
        // The terminator is the last byte consumed, unless the input ended
        // inside quotes (then the trailing line break is part of the field).
        let consumed = self.bytes.get(start..after).unwrap_or_default();
        let end = match consumed.split_last() {
            Some((&last, rest)) if last == b'\n' || last == b'\r' => {
                let open = after >= len
                    && scan_fields(rest, self.delimiter).is_some_and(|scan| scan.open_quote);
                if open {
                    after
                } else {
                    after - 1
                }
            }
            _ => after,
        };

        self.line += count_line_breaks(self.bytes.get(self.counted_to..start).unwrap_or_default());
        self.counted_to = start;

        let fields: Vec<String> = self
            .record
            .iter()
            .map(|f| String::from_utf8_lossy(f).into_owned())
            .collect();
        let raw = self.bytes.get(start..end).unwrap_or_default();
        let spans = scan_fields(raw, self.delimiter)
            .filter(|scan| scan.spans.len() == fields.len())
            .map(|scan| {
                scan.spans
                    .into_iter()
                    .map(|s| self.base + start + s.start..self.base + start + s.end)
                    .collect()
            })
            .unwrap_or_default();
        Some(Row {
            line: self.line,
            range: self.base + start..self.base + end,
            fields,
            spans,
        })
    }
}

impl Iterator for Rows<'_> {
    type Item = Row;

    fn next(&mut self) -> Option<Row> {
        loop {
            let row = self.next_record()?;
            if !row.is_blank() {
                return Some(row);
            }
        }
    }
}

/// Converts a csv byte position to an offset no larger than `len`.
fn to_offset(position: u64, len: usize) -> usize {
    usize::try_from(position).map_or(len, |p| p.min(len))
}

/// Counts line breaks (`\r\n`, `\n` or a lone `\r`) as an editor would.
fn count_line_breaks(bytes: &[u8]) -> usize {
    let mut count = 0;
    let mut iter = bytes.iter().peekable();
    while let Some(&b) = iter.next() {
        match b {
            b'\n' => count += 1,
            b'\r' => {
                count += 1;
                if iter.peek() == Some(&&b'\n') {
                    iter.next();
                }
            }
            _ => {}
        }
    }
    count
}

/// The fields of one raw record, as found by [`scan_fields`].
#[derive(Debug, PartialEq, Eq)]
struct Scan {
    /// Each field's byte range in the record, quotes included.
    spans: Vec<Range<usize>>,
    /// Whether the record ends inside an unclosed quote.
    open_quote: bool,
}

/// Splits one raw record into field ranges the way the csv crate does
/// (quotes only open a field; `""` inside quotes is a literal quote).
/// Returns `None` for delimiters that make this ambiguous.
fn scan_fields(raw: &[u8], delimiter: u8) -> Option<Scan> {
    /// Where the scanner is inside a field.
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum State {
        /// At the first byte of a field.
        Start,
        /// In an unquoted field, or after a quoted part.
        Plain,
        /// Inside quotes.
        Quoted,
        /// Just after a quote inside quotes.
        QuoteInQuotes,
    }
    if delimiter == QUOTE || delimiter == b'\n' || delimiter == b'\r' {
        return None;
    }
    let mut spans = Vec::new();
    let mut field_start = 0;
    let mut state = State::Start;
    for (i, &b) in raw.iter().enumerate() {
        state = match state {
            State::Start | State::Plain | State::QuoteInQuotes if b == delimiter => {
                spans.push(field_start..i);
                field_start = i + 1;
                State::Start
            }
            State::Start if b == QUOTE => State::Quoted,
            State::Quoted if b == QUOTE => State::QuoteInQuotes,
            State::QuoteInQuotes if b == QUOTE => State::Quoted,
            State::Quoted => State::Quoted,
            State::Start | State::Plain | State::QuoteInQuotes => State::Plain,
        };
    }
    spans.push(field_start..raw.len());
    Some(Scan {
        spans,
        open_quote: state == State::Quoted,
    })
}

/// An expected column that the header has.
struct Column<'a> {
    /// What the flow expects.
    expected: &'a ExpectedColumn,
    /// Its index in the header.
    index: usize,
}

/// Records the header, reports missing and duplicate columns, and returns
/// the expected columns that are present.
fn check_header<'a>(
    header: &Row,
    options: &'a LeadsOptions,
    report: &mut LeadsReport,
) -> Vec<Column<'a>> {
    report.header = header.fields.iter().map(|f| f.trim().to_owned()).collect();
    let mut seen = BTreeSet::new();
    for (index, name) in report.header.iter().enumerate() {
        if !name.is_empty() && !seen.insert(name.as_str()) {
            report.problems.push(LeadProblem::DuplicateColumn {
                name: name.clone(),
                range: header.span(index),
            });
        }
    }
    let mut columns = Vec::new();
    let mut wanted = BTreeSet::new();
    for expected in &options.columns {
        if !wanted.insert(expected.name.as_str()) {
            continue;
        }
        match report.header.iter().position(|h| *h == expected.name) {
            Some(index) => columns.push(Column { expected, index }),
            None => report.problems.push(LeadProblem::MissingColumn {
                name: expected.name.clone(),
                range: header.range.clone(),
            }),
        }
    }
    columns
}

/// Checks one data row and adds it to the leads or its problems to the
/// report.
fn check_row(
    row: &Row,
    columns: &[Column<'_>],
    normalization: Normalization,
    report: &mut LeadsReport,
) {
    if row.fields.len() != report.header.len() {
        report.problems.push(LeadProblem::WrongFieldCount {
            line: row.line,
            expected: report.header.len(),
            found: row.fields.len(),
            range: row.range.clone(),
        });
        return;
    }
    let mut values = BTreeMap::new();
    for (index, name) in report.header.iter().enumerate() {
        if !name.is_empty() {
            if let Some(value) = row.field(index) {
                values
                    .entry(name.clone())
                    .or_insert_with(|| value.to_owned());
            }
        }
    }
    let mut ok = true;
    for column in columns {
        let raw = row.field(column.index).unwrap_or_default();
        match check_cell(raw, column.expected.kind, normalization) {
            Ok(value) => {
                values.insert(column.expected.name.clone(), value);
            }
            Err(problem) => {
                ok = false;
                report
                    .problems
                    .push(problem.at(row, column, raw.to_owned()));
            }
        }
    }
    if ok {
        report.leads.push(Lead {
            line: row.line,
            values,
        });
        report.cells.push(
            columns
                .iter()
                .map(|c| (c.expected.name.clone(), row.span(c.index)))
                .collect(),
        );
    }
}

/// Why a single cell was rejected, before its location is attached.
enum CellError {
    /// Blank cell.
    Empty,
    /// Not a phone number.
    Phone(PhoneError),
    /// Not a number or not digits.
    Number,
}

impl CellError {
    /// Turns the error into a problem located at the cell.
    fn at(self, row: &Row, column: &Column<'_>, value: String) -> LeadProblem {
        let line = row.line;
        let name = column.expected.name.clone();
        let range = row.span(column.index);
        match self {
            CellError::Empty => LeadProblem::EmptyCell {
                line,
                column: name,
                range,
            },
            CellError::Phone(error) => LeadProblem::BadPhone {
                line,
                column: name,
                value,
                error,
                range,
            },
            CellError::Number => LeadProblem::BadNumber {
                line,
                column: name,
                value,
                range,
            },
        }
    }
}

/// Reads one value of a lead that comes from outside a leads file (a scheduler's URL) as a
/// cell of a `kind` column is read there; the error names the column and the value, as the
/// leads-file problems do, without a line.
///
/// # Errors
///
/// The value is blank, or not a phone or number of that kind.
pub fn read_value(
    raw: &str,
    column: &str,
    kind: ColumnKind,
    normalization: Normalization,
) -> Result<String, String> {
    check_cell(raw, kind, normalization).map_err(|e| match e {
        CellError::Empty => format!("column `{column}` is empty"),
        CellError::Phone(error) => {
            format!("`{raw}` in column `{column}` is not a valid phone number: {error}")
        }
        CellError::Number => format!("`{raw}` in column `{column}` is not a number"),
    })
}

/// Validates and normalizes one cell of an expected column.
fn check_cell(
    raw: &str,
    kind: ColumnKind,
    normalization: Normalization,
) -> Result<String, CellError> {
    let value = raw.trim();
    if value.is_empty() {
        return Err(CellError::Empty);
    }
    match kind {
        ColumnKind::Text => Ok(raw.to_owned()),
        ColumnKind::Number => value
            .parse::<i64>()
            .map(|n| n.to_string())
            .map_err(|_| CellError::Number),
        ColumnKind::Digits if value.bytes().all(|b| b.is_ascii_digit()) => Ok(value.to_owned()),
        ColumnKind::Digits => Err(CellError::Number),
        ColumnKind::Phone => normalize(value, normalization)
            .map(String::from)
            .map_err(CellError::Phone),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(columns: &[(&str, ColumnKind)], delimiter: Option<u8>) -> LeadsOptions {
        LeadsOptions {
            columns: columns
                .iter()
                .map(|&(name, kind)| ExpectedColumn {
                    name: name.to_owned(),
                    kind,
                })
                .collect(),
            delimiter,
            normalization: Normalization::Ru,
        }
    }

    fn standard() -> LeadsOptions {
        options(
            &[
                ("name", ColumnKind::Text),
                ("product", ColumnKind::Text),
                ("phone", ColumnKind::Phone),
            ],
            None,
        )
    }

    /// The byte range of the `n`th occurrence (0-based) of `needle`.
    fn find(haystack: &[u8], needle: &str, n: usize) -> Range<usize> {
        let needle = needle.as_bytes();
        let start = haystack
            .windows(needle.len())
            .enumerate()
            .filter(|(_, w)| *w == needle)
            .nth(n)
            .map(|(i, _)| i)
            .unwrap();
        start..start + needle.len()
    }

    #[test]
    fn reads_a_good_semicolon_file() {
        let input = "name;product;phone\nИван Петров;Кредитная карта;8 (495) 123-45-67\nМария;Вклад «Надёжный»;+7 916 000 11 22\n";
        let report = read_leads(input.as_bytes(), &standard());
        assert_eq!(report.problems, vec![]);
        assert_eq!(report.delimiter, b';');
        assert_eq!(report.header, ["name", "product", "phone"]);
        assert_eq!(report.leads.len(), 2);
        assert_eq!(report.leads[0].line, 2);
        assert_eq!(report.leads[0].values["name"], "Иван Петров");
        assert_eq!(report.leads[0].values["phone"], "+74951234567");
        assert_eq!(report.leads[1].line, 3);
        assert_eq!(report.leads[1].values["product"], "Вклад «Надёжный»");
        assert_eq!(report.leads[1].values["phone"], "+79160001122");
    }

    #[test]
    fn detects_delimiters() {
        let one = options(&[("phone", ColumnKind::Phone)], None);
        let cases: [(&str, u8); 5] = [
            ("phone,name\n89160001122,a\n", b','),
            ("phone\tname\n89160001122\ta\n", b'\t'),
            ("phone;name,x\n89160001122;a,b\n", b';'),
            ("phone\n89160001122\n", b';'),
            ("\"a;b\",phone\nx,89160001122\n", b','),
        ];
        for (input, delimiter) in cases {
            let report = read_leads(input.as_bytes(), &one);
            assert_eq!(report.delimiter, delimiter, "{input:?}");
            assert_eq!(report.problems, vec![], "{input:?}");
            assert_eq!(report.leads.len(), 1, "{input:?}");
        }
    }

    #[test]
    fn bom_is_reported_and_skipped() {
        let input = b"\xEF\xBB\xBFname;product;phone\nA;B;89160001122\nA;B\n";
        let report = read_leads(input, &standard());
        assert_eq!(
            report.problems,
            vec![
                LeadProblem::Bom { range: 0..3 },
                LeadProblem::WrongFieldCount {
                    line: 3,
                    expected: 3,
                    found: 2,
                    range: find(input, "A;B\n", 0).start..input.len() - 1,
                },
            ]
        );
        assert_eq!(report.header, ["name", "product", "phone"]);
        assert_eq!(report.leads.len(), 1);
    }

    #[test]
    fn wrong_delimiter_stops() {
        let input = "name,product,phone\nA,B,89160001122\n";
        let mut opts = standard();
        opts.delimiter = Some(b';');
        let report = read_leads(input.as_bytes(), &opts);
        assert_eq!(
            report.problems,
            vec![LeadProblem::WrongDelimiter {
                expected: b';',
                found: b',',
                range: 0..18,
            }]
        );
        assert!(report.leads.is_empty());
        assert_eq!(
            report.problems[0].to_string(),
            "the header is separated by `,` but the leads file must use `;`"
        );
    }

    #[test]
    fn wrong_delimiter_needs_several_columns() {
        let input = "phone,name\n89160001122,a\n";
        let report = read_leads(
            input.as_bytes(),
            &options(&[("phone", ColumnKind::Phone)], Some(b';')),
        );
        assert_eq!(
            report.problems,
            vec![LeadProblem::MissingColumn {
                name: "phone".into(),
                range: 0..10,
            }]
        );
    }

    #[test]
    fn expected_delimiter_is_used() {
        let input = "name\tproduct\tphone\nA\tB,C\t89160001122\n";
        let mut opts = standard();
        opts.delimiter = Some(b'\t');
        let report = read_leads(input.as_bytes(), &opts);
        assert_eq!(report.problems, vec![]);
        assert_eq!(report.leads[0].values["product"], "B,C");
    }

    #[test]
    fn missing_and_duplicate_columns() {
        let input = b"name; phone ;name;extra\nA;89160001122;B;x\n";
        let report = read_leads(input, &standard());
        assert_eq!(report.header, ["name", "phone", "name", "extra"]);
        assert_eq!(
            report.problems,
            vec![
                LeadProblem::DuplicateColumn {
                    name: "name".into(),
                    range: find(input, "name", 1),
                },
                LeadProblem::MissingColumn {
                    name: "product".into(),
                    range: 0..23,
                },
            ]
        );
        // The first of the duplicates wins; extra columns are kept.
        assert_eq!(report.leads.len(), 1);
        assert_eq!(report.leads[0].values["name"], "A");
        assert_eq!(report.leads[0].values["extra"], "x");
    }

    #[test]
    fn field_count_lines_after_multiline_field() {
        let input =
            b"name;product;phone\n\"Ivan\nthe second\";\"say \"\"hi\"\"; bye\";89160001122\nA;B\nC;D;89160001122;E\r\nF;G;89160001122\n";
        let report = read_leads(input, &standard());
        assert_eq!(
            report.problems,
            vec![
                LeadProblem::WrongFieldCount {
                    line: 4,
                    expected: 3,
                    found: 2,
                    range: find(input, "A;B", 0),
                },
                LeadProblem::WrongFieldCount {
                    line: 5,
                    expected: 3,
                    found: 4,
                    range: find(input, "C;D;89160001122;E", 0),
                },
            ]
        );
        assert_eq!(report.leads.len(), 2);
        assert_eq!(report.leads[0].line, 2);
        assert_eq!(report.leads[0].values["name"], "Ivan\nthe second");
        assert_eq!(report.leads[0].values["product"], "say \"hi\"; bye");
        assert_eq!(report.leads[1].line, 6);
    }

    #[test]
    fn bad_cells_point_at_the_cell() {
        let input = b"name;product;phone;age;account\nA;B;12345;42;007\nA;\"B\";\"+1 202\";x;12a\n;B;89160001122;1;1\n";
        let opts = options(
            &[
                ("name", ColumnKind::Text),
                ("product", ColumnKind::Text),
                ("phone", ColumnKind::Phone),
                ("age", ColumnKind::Number),
                ("account", ColumnKind::Digits),
            ],
            None,
        );
        let report = read_leads(input, &opts);
        assert_eq!(
            report.problems,
            vec![
                LeadProblem::BadPhone {
                    line: 2,
                    column: "phone".into(),
                    value: "12345".into(),
                    error: PhoneError::NotRussian("12345".into()),
                    range: find(input, "12345", 0),
                },
                LeadProblem::BadPhone {
                    line: 3,
                    column: "phone".into(),
                    value: "+1 202".into(),
                    error: PhoneError::NotRussian("+1 202".into()),
                    range: find(input, "\"+1 202\"", 0),
                },
                LeadProblem::BadNumber {
                    line: 3,
                    column: "age".into(),
                    value: "x".into(),
                    range: find(input, ";x;", 0).start + 1..find(input, ";x;", 0).end - 1,
                },
                LeadProblem::BadNumber {
                    line: 3,
                    column: "account".into(),
                    value: "12a".into(),
                    range: find(input, "12a", 0),
                },
                LeadProblem::EmptyCell {
                    line: 4,
                    column: "name".into(),
                    range: find(input, "\n;", 0).end - 1..find(input, "\n;", 0).end - 1,
                },
            ]
        );
        assert!(report.leads.is_empty());
    }

    #[test]
    fn numbers_and_digits_are_normalized() {
        let input = "n;d\n +42 ;007\n-5;0\n";
        let opts = options(
            &[("n", ColumnKind::Number), ("d", ColumnKind::Digits)],
            None,
        );
        let report = read_leads(input.as_bytes(), &opts);
        assert_eq!(report.problems, vec![]);
        assert_eq!(report.leads[0].values["n"], "42");
        assert_eq!(report.leads[0].values["d"], "007");
        assert_eq!(report.leads[1].values["n"], "-5");
    }

    #[test]
    fn e164_normalization() {
        let input = "phone\n+375 29 123 45 67\n89160001122\n";
        let mut opts = options(&[("phone", ColumnKind::Phone)], None);
        opts.normalization = Normalization::E164;
        let report = read_leads(input.as_bytes(), &opts);
        assert_eq!(report.leads.len(), 1);
        assert_eq!(report.leads[0].values["phone"], "+375291234567");
        assert!(matches!(
            report.problems.as_slice(),
            [LeadProblem::BadPhone {
                line: 3,
                error: PhoneError::MissingPlus,
                ..
            }]
        ));
    }

    #[test]
    fn blank_lines_and_crlf() {
        let input = b"\r\n\r\nname;product;phone\r\n\r\nA;B;89160001122\r\n  \r\n;;\r\n\r\nC;D;+79160001122\r\nE;F\r\n";
        let report = read_leads(input, &standard());
        assert_eq!(report.header, ["name", "product", "phone"]);
        let lines: Vec<usize> = report.leads.iter().map(|l| l.line).collect();
        assert_eq!(lines, [5, 9]);
        assert_eq!(report.leads[0].values["product"], "B");
        assert_eq!(
            report.problems,
            vec![LeadProblem::WrongFieldCount {
                line: 10,
                expected: 3,
                found: 2,
                range: find(input, "E;F", 0),
            }]
        );
    }

    #[test]
    fn lone_carriage_returns_count_as_lines() {
        let input = b"phone\r89160001122\r\rx\r";
        let report = read_leads(input, &options(&[("phone", ColumnKind::Phone)], None));
        assert_eq!(report.leads[0].line, 2);
        assert!(matches!(
            report.problems.as_slice(),
            [LeadProblem::BadPhone { line: 4, .. }]
        ));
    }

    #[test]
    fn invalid_utf8_stops() {
        let input = b"name;product;phone\nA;\xD0;89160001122\n";
        let report = read_leads(input, &standard());
        assert_eq!(
            report.problems,
            vec![LeadProblem::InvalidUtf8 { range: 21..22 }]
        );
        let truncated = b"\xEF\xBB\xBFphone\n\xE2\x82";
        let report = read_leads(truncated, &standard());
        assert_eq!(
            report.problems,
            vec![
                LeadProblem::Bom { range: 0..3 },
                LeadProblem::InvalidUtf8 { range: 9..11 },
            ]
        );
    }

    #[test]
    fn empty_files() {
        for input in [&b""[..], b"\n\r\n", b"  \n;;;\n"] {
            let report = read_leads(input, &standard());
            assert_eq!(report.problems, vec![LeadProblem::Empty], "{input:?}");
            assert_eq!(report.problems[0].range(), 0..0);
        }
        let report = read_leads(BOM, &standard());
        assert_eq!(
            report.problems,
            vec![LeadProblem::Bom { range: 0..3 }, LeadProblem::Empty]
        );
    }

    #[test]
    fn header_only_is_fine() {
        let report = read_leads(b"name;product;phone", &standard());
        assert_eq!(report.problems, vec![]);
        assert!(report.leads.is_empty());
    }

    #[test]
    fn scan_fields_follows_csv_quoting() {
        let spans = |raw: &[u8], d: u8| scan_fields(raw, d).map(|scan| scan.spans);
        assert_eq!(
            spans(b"a;\"b;\"\"c\";d\"e\";", b';'),
            Some(vec![0..1, 2..9, 10..14, 15..15])
        );
        let empty = spans(b"", b';').unwrap();
        assert_eq!(empty.len(), 1);
        assert_eq!(empty.first(), Some(&(0..0)));
        assert_eq!(spans(b"a\"b", b'"'), None);
        assert_eq!(
            scan_fields(b"a;\"b\n", b';'),
            Some(Scan {
                spans: vec![0..1, 2..5],
                open_quote: true,
            })
        );
    }

    #[test]
    fn unclosed_quote_at_the_end_keeps_its_line_break() {
        let input = b"name;phone;product\nA;89160001122;\"B\n";
        let opts = options(
            &[("name", ColumnKind::Text), ("phone", ColumnKind::Phone)],
            None,
        );
        let report = read_leads(input, &opts);
        assert_eq!(report.problems, vec![]);
        assert_eq!(report.leads[0].values["product"], "B\n");
    }

    #[test]
    fn count_line_breaks_like_an_editor() {
        assert_eq!(count_line_breaks(b"a\r\nb\nc\rd\r\r\n"), 5);
        assert_eq!(count_line_breaks(b""), 0);
    }

    #[test]
    fn problem_ranges_and_messages() {
        let problem = LeadProblem::EmptyCell {
            line: 3,
            column: "name".into(),
            range: 5..9,
        };
        assert_eq!(problem.range(), 5..9);
        assert_eq!(problem.to_string(), "line 3: column `name` is empty");
        let problem = LeadProblem::WrongDelimiter {
            expected: b';',
            found: b'\t',
            range: 0..4,
        };
        assert_eq!(
            problem.to_string(),
            "the header is separated by `\\t` but the leads file must use `;`"
        );
    }

    /// Undoes CSV quoting the way the csv crate does, for checking spans.
    fn unquote(raw: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut quoted = false;
        let mut after_quote = false;
        for (i, &b) in raw.iter().enumerate() {
            if i == 0 && b == QUOTE {
                quoted = true;
            } else if quoted && b == QUOTE && !after_quote {
                after_quote = true;
            } else if quoted && after_quote && b == QUOTE {
                out.push(QUOTE);
                after_quote = false;
            } else if quoted && after_quote {
                quoted = false;
                after_quote = false;
                out.push(b);
            } else {
                out.push(b);
            }
        }
        out
    }

    proptest::proptest! {
        #[test]
        fn spans_and_lines_agree_with_csv(
            text in "[a;,\"\r\n \t]{0,40}",
            delimiter in proptest::sample::select(vec![b';', b',', b'\t']),
        ) {
            let bytes = text.as_bytes();
            let mut rows = Rows::new(bytes, delimiter, 0);
            while let Some(row) = rows.next_record() {
                proptest::prop_assert_eq!(row.spans.len(), row.fields.len());
                let start = row.range.start;
                proptest::prop_assert_eq!(row.line, 1 + count_line_breaks(&bytes[..start]));
                for (span, field) in row.spans.iter().zip(&row.fields) {
                    proptest::prop_assert!(row.range.start <= span.start && span.end <= row.range.end);
                    proptest::prop_assert_eq!(unquote(&bytes[span.clone()]), field.as_bytes().to_vec());
                }
            }
        }
    }
}
