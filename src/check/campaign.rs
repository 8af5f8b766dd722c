//! Campaign checks: settings and their ranges, the bound flow, and the leads file's header
//! and rows (through `crate::leads`, with the bytes the caller loaded).

use super::error::CheckError;
use super::suggest::did_you_mean;
use super::values;
use super::{LeadsFiles, Related};
use crate::ir::Type;
use crate::leads::{self, ColumnKind, ExpectedColumn, LeadProblem, LeadsOptions};
use crate::phone::Normalization;
use crate::span::{FileId, Span};
use crate::syntax::ast::{Campaign, CampaignSettingKind, ExprKind, Flow, RatePeriod};
use std::collections::HashMap;

/// At most this many bad rows are reported per leads file.
const MAX_ROW_REPORTS: usize = 20;

/// Checks a campaign; returns the valid leads rows and the delimiter read (`None` when the
/// file is missing). Problems of the leads file go to `in_leads`, with labels in the file.
pub fn check_campaign(
    c: &Campaign,
    flows: &HashMap<&str, &Flow>,
    file: FileId,
    leads_files: &LeadsFiles,
    out: &mut Vec<CheckError>,
    in_leads: &mut Vec<(CheckError, Vec<Related>)>,
) -> super::CampaignLeads {
    let flow = super::flow_named(flows, &c.flow, out);
    let mut seen: HashMap<String, Span> = HashMap::new();
    let mut leads_at = None;
    let mut delimiter = None;
    let mut normalization = Normalization::E164;
    let mut dial_column = None;
    let mut skip_bad_phones = false;
    for s in &c.settings {
        let key = s.kind.key();
        if let Some(first) = seen.get(&key) {
            out.push(CheckError::DuplicateSetting {
                name: key.clone(),
                at: s.span.into(),
                first: Some((*first).into()),
            });
        } else {
            seen.insert(key, s.span);
        }
        match &s.kind {
            CampaignSettingKind::Leads(t) => {
                // Placeholders were refused by the parser.
                leads_at = t.as_plain().map(|p| (p, t.span));
            }
            CampaignSettingKind::Delimiter(t) => match t.as_plain().as_deref() {
                Some(";") => delimiter = Some(b';'),
                Some(",") => delimiter = Some(b','),
                Some("\t") => delimiter = Some(b'\t'),
                _ => out.push(CheckError::InvalidSetting {
                    setting: "delimiter".into(),
                    value: t.source_text(),
                    help: "the delimiter is `\";\"`, `\",\"` or `\"\\t\"`".into(),
                    at: t.span.into(),
                }),
            },
            CampaignSettingKind::Dial(col) => {
                dial_column = Some(col.name.clone());
                match flow.and_then(|f| f.params.iter().find(|p| p.name.name == col.name)) {
                    Some(p) if p.ty.name == "phone" => {}
                    Some(p) => out.push(CheckError::TypeMismatch {
                        expected: "a phone".into(),
                        found: format!("a {}", p.ty.name),
                        help: format!("declare `{}: phone` in the flow's parameters", col.name),
                        at: col.span.into(),
                    }),
                    None if flow.is_some() => {
                        let names: Vec<&str> = flow
                            .map(|f| f.params.iter().map(|p| p.name.name.as_str()).collect())
                            .unwrap_or_default();
                        let help = did_you_mean(&col.name, names, "`dial` names the flow parameter (leads column) holding the number to call");
                        out.push(CheckError::UnknownVariable {
                            name: col.name.clone(),
                            help,
                            at: col.span.into(),
                        });
                    }
                    None => {}
                }
            }
            CampaignSettingKind::Attempts(n) => {
                values::count("attempts", n, 1, 100, out);
            }
            CampaignSettingKind::RetryAfter(d) => {
                values::duration("retry_after", d, values::RETRY_AFTER, out)
            }
            CampaignSettingKind::Lines(n) => {
                values::count("lines", n, 1, 1000, out);
            }
            CampaignSettingKind::Rate { calls, per } => {
                values::count("rate", calls, 1, 1000, out);
                match per {
                    RatePeriod::Duration(d) => values::duration("rate period", d, values::Range { min: 1, max: 24 * 3_600_000 }, out),
                    RatePeriod::Unit(u) if matches!(u.name.as_str(), "s" | "m" | "h") => {}
                    RatePeriod::Unit(u) => out.push(CheckError::InvalidSetting {
                        setting: "rate".into(),
                        value: u.name.clone(),
                        help: "write calls per second, minute or hour (`3/s`, `20/m`, `100/h`) or one call every period (`1/60s`)".into(),
                        at: u.span.into(),
                    }),
                }
            }
            CampaignSettingKind::Window { from, to } => {
                let bad = [from, to].into_iter().find(|t| t.0 > 24 * 60);
                if let Some((_, at)) = bad {
                    out.push(CheckError::InvalidWindow {
                        help: "times are `HH:MM` from 00:00 to 24:00".into(),
                        at: (*at).into(),
                    });
                } else if from.0 >= to.0 {
                    out.push(CheckError::InvalidWindow {
                        help: "the window must start before it ends on the same day; windows across midnight are not supported, split the campaign".into(),
                        at: from.1.to(to.1).into(),
                    });
                }
            }
            CampaignSettingKind::Timezone(t) => {
                let text = t.as_plain().unwrap_or_default();
                if values::utc_offset(&text).is_none() {
                    out.push(CheckError::InvalidSetting {
                        setting: "timezone".into(),
                        value: text,
                        help: "write the recipients' offset from UTC as `\"+03:00\"` (from -12:00 to +14:00)".into(),
                        at: t.span.into(),
                    });
                }
            }
            CampaignSettingKind::Redial { outcome, rule } => {
                let outcomes = ["busy", "no_answer", "machine", "failed", "unproductive"];
                if !outcomes.contains(&outcome.name.as_str()) {
                    let help = did_you_mean(&outcome.name, outcomes, "redial rules are for `busy`, `no_answer`, `machine`, `failed` and `unproductive`");
                    out.push(CheckError::UnknownOutcome {
                        statement: "redial".into(),
                        name: outcome.name.clone(),
                        help,
                        at: outcome.span.into(),
                    });
                }
                if let Some((every, max)) = rule {
                    values::duration("redial every", every, values::RETRY_AFTER, out);
                    values::count("redial max", max, 1, 100, out);
                }
            }
            CampaignSettingKind::Normalize { scheme, on_error } => {
                match scheme.name.as_str() {
                    "ru" => normalization = Normalization::Ru,
                    "e164" => normalization = Normalization::E164,
                    _ => out.push(CheckError::InvalidSetting {
                        setting: "normalize".into(),
                        value: scheme.name.clone(),
                        help: "normalization is `ru` (7XXXXXXXXXX from +7…, 8… or 10 digits) or `e164`".into(),
                        at: scheme.span.into(),
                    }),
                }
                if let Some(a) = on_error {
                    skip_bad_phones = true;
                    if !matches!(a.name.as_str(), "skip" | "flag") {
                        out.push(CheckError::InvalidSetting {
                            setting: "normalize … else".into(),
                            value: a.name.clone(),
                            help: "a phone that cannot be normalized is `skip`ped or kept with a `flag`".into(),
                            at: a.span.into(),
                        });
                    }
                }
            }
            CampaignSettingKind::RecordCalls(trim) => {
                if let Some((word, d)) = trim {
                    if word.name != "trim" {
                        out.push(CheckError::InvalidSetting {
                            setting: "record_calls".into(),
                            value: word.name.clone(),
                            help: "write `record_calls` or `record_calls trim 2s`".into(),
                            at: word.span.into(),
                        });
                    }
                    values::duration("record_calls trim", d, values::RECORD_TRIM, out);
                }
            }
            CampaignSettingKind::DetectMachine => {}
            CampaignSettingKind::ResultWebhook(t) => values::url(t, out),
            CampaignSettingKind::CallerId(e) => match &e.kind {
                ExprKind::Phone(p) => {
                    values::phone_literal(p, e.span, out);
                }
                _ => out.push(CheckError::TypeMismatch {
                    expected: "a phone number".into(),
                    found: "an expression".into(),
                    help: "a campaign's caller id is a number such as `+74950000000`".into(),
                    at: e.span.into(),
                }),
            },
        }
    }
    let Some((path, at)) = leads_at else {
        out.push(CheckError::MissingLeads {
            name: c.name.name.clone(),
            at: c.name.span.into(),
        });
        return super::CampaignLeads::default();
    };
    let Some(flow) = flow else {
        return super::CampaignLeads::default();
    };
    for p in &flow.params {
        if matches!(
            Type::from_name(&p.ty.name),
            Some(Type::Bool | Type::Duration | Type::Json)
        ) {
            out.push(CheckError::InvalidSetting {
                setting: "leads".into(),
                value: format!("{}: {}", p.name.name, p.ty.name),
                help: format!("flow `{}` is run from a leads file, whose columns are text, number, digits or phone; declare `{}` as one of those", flow.name.name, p.name.name),
                at: p.ty.span.into(),
            });
        }
    }
    let Some(Some(leads_file)) = leads_files.get(&(file, path.clone())) else {
        out.push(CheckError::LeadsNotFound {
            path,
            at: at.into(),
        });
        return super::CampaignLeads::default();
    };
    let columns = flow
        .params
        .iter()
        .map(|p| ExpectedColumn {
            name: p.name.name.clone(),
            kind: column_kind(&p.ty.name),
        })
        .collect();
    let report = leads::read_leads(
        &leads_file.bytes,
        &LeadsOptions {
            columns,
            delimiter,
            normalization,
        },
    );
    let csv = |range: std::ops::Range<usize>, label: String| Related {
        at: Span::new(leads_file.file, range.start, range.end),
        label,
    };
    // Call lists take `;` or `,`; a tab-separated export is a wrong delimiter even
    // though it can be read.
    if delimiter.is_none() && report.delimiter == b'\t' {
        let bytes = &leads_file.bytes;
        let header_end = bytes
            .iter()
            .position(|&b| b == b'\n' || b == b'\r')
            .unwrap_or(bytes.len());
        in_leads.push((
            CheckError::LeadsDelimiter {
                path: path.clone(),
                expected: ";".into(),
                found: "\\t".into(),
                at: at.into(),
            },
            vec![csv(0..header_end, "separated by tabs".into())],
        ));
        return super::CampaignLeads::default();
    }
    let header = report.header.join(&(report.delimiter as char).to_string());
    let mut rows = 0;
    for p in &report.problems {
        if p.is_row() {
            rows += 1;
            if rows > MAX_ROW_REPORTS {
                continue;
            }
        }
        let error = match p {
            // `normalize … else skip|flag` asks for such rows to be set aside.
            LeadProblem::BadPhone {
                line,
                column,
                error,
                ..
            } if skip_bad_phones => CheckError::LeadsRowSkipped {
                path: path.clone(),
                line: *line,
                problem: format!("`{column}`: {error}"),
                at: at.into(),
            },
            _ => leads_problem(&path, &header, p, at),
        };
        let related = match p {
            LeadProblem::Empty => Vec::new(),
            _ => vec![csv(p.range(), csv_label(p))],
        };
        in_leads.push((error, related));
    }
    if rows > MAX_ROW_REPORTS {
        in_leads.push((
            CheckError::LeadsUnusable {
                path: path.clone(),
                problem: format!("{} more bad rows", rows - MAX_ROW_REPORTS),
                help: "only the first 20 bad rows are shown".into(),
                at: at.into(),
            },
            Vec::new(),
        ));
    }
    duplicate_numbers(&path, at, dial_column, flow, &report, &csv, in_leads);
    super::CampaignLeads {
        rows: report.leads,
        delimiter: Some(report.delimiter),
    }
}

/// At most this many rows with a number already on an earlier row are reported per file.
const MAX_DUPLICATE_REPORTS: usize = 20;

/// Warns about rows whose number (the `dial` column, or without `dial` each `phone`
/// column) normalizes to the number of an earlier row: a dialer calls the number once at a
/// time, so such rows wait for each other (or, on a call list with several lines, may ring
/// one phone twice at once).
fn duplicate_numbers(
    path: &str,
    at: Span,
    dial_column: Option<String>,
    flow: &Flow,
    report: &leads::LeadsReport,
    csv: &dyn Fn(std::ops::Range<usize>, String) -> Related,
    in_leads: &mut Vec<(CheckError, Vec<Related>)>,
) {
    let columns: Vec<String> = match dial_column {
        Some(c) => vec![c],
        None => flow
            .params
            .iter()
            .filter(|p| p.ty.name == "phone")
            .map(|p| p.name.name.clone())
            .collect(),
    };
    let mut reported = 0;
    for column in &columns {
        let mut first: HashMap<&str, usize> = HashMap::new();
        for (i, lead) in report.leads.iter().enumerate() {
            let Some(number) = lead.values.get(column) else {
                continue;
            };
            let Some(&earlier) = first.get(number.as_str()) else {
                first.insert(number, i);
                continue;
            };
            reported += 1;
            if reported > MAX_DUPLICATE_REPORTS {
                continue;
            }
            let cell = |j: usize| report.cells[j].get(column).cloned().unwrap_or_default();
            let line = lead.line;
            let first_line = report.leads[earlier].line;
            in_leads.push((
                CheckError::LeadsDuplicateNumber {
                    path: path.to_string(),
                    line,
                    first_line,
                    column: column.clone(),
                    number: number.clone(),
                    at: at.into(),
                },
                vec![
                    csv(cell(i), format!("`{number}` again")),
                    csv(cell(earlier), "first here".to_string()),
                ],
            ));
        }
    }
    if reported > MAX_DUPLICATE_REPORTS {
        in_leads.push((
            CheckError::LeadsUnusable {
                path: path.to_string(),
                problem: format!(
                    "{} more rows with a number already on an earlier row",
                    reported - MAX_DUPLICATE_REPORTS
                ),
                help: "only the first 20 are shown".into(),
                at: at.into(),
            },
            Vec::new(),
        ));
    }
}

/// The label of a leads-file problem at its place in the file.
fn csv_label(p: &LeadProblem) -> String {
    match p {
        LeadProblem::Bom { .. } => "byte order mark".into(),
        LeadProblem::InvalidUtf8 { .. } => "not UTF-8".into(),
        LeadProblem::Empty => String::new(),
        LeadProblem::WrongDelimiter { found, .. } => {
            format!("separated by `{}`", show_delimiter(*found))
        }
        LeadProblem::MissingColumn { name, .. } => format!("no `{name}` here"),
        LeadProblem::DuplicateColumn { .. } => "again".into(),
        LeadProblem::WrongFieldCount {
            expected, found, ..
        } => format!("{found} values, not {expected}"),
        LeadProblem::EmptyCell { column, .. } => format!("`{column}` is empty"),
        LeadProblem::BadPhone { .. } => "not a valid phone number".into(),
        LeadProblem::BadNumber { .. } => "not a whole number".into(),
    }
}

/// The leads column kind for a parameter type name.
pub fn column_kind(ty: &str) -> ColumnKind {
    Type::from_name(ty).map_or(ColumnKind::Text, ColumnKind::of_type)
}

fn leads_problem(path: &str, header: &str, p: &LeadProblem, at: Span) -> CheckError {
    let path = path.to_string();
    let at = at.into();
    match p {
        LeadProblem::Bom { .. } => CheckError::LeadsBom { path, at },
        LeadProblem::InvalidUtf8 { range } => CheckError::LeadsUnusable {
            path,
            problem: format!("not valid UTF-8 at byte {}", range.start),
            help: "save the file as UTF-8 without BOM".into(),
            at,
        },
        LeadProblem::Empty => CheckError::LeadsUnusable {
            path,
            problem: "no header row".into(),
            help: "the first line names the columns, e.g. `name;product;phone`".into(),
            at,
        },
        LeadProblem::WrongDelimiter { expected, found, .. } => CheckError::LeadsDelimiter {
            path,
            expected: show_delimiter(*expected),
            found: show_delimiter(*found),
            at,
        },
        LeadProblem::MissingColumn { name, .. } => CheckError::LeadsMissingColumn { path, column: name.clone(), header: header.to_string(), at },
        LeadProblem::DuplicateColumn { name, .. } => CheckError::LeadsUnusable {
            path,
            problem: format!("column `{name}` appears twice in the header"),
            help: "keep one column of each name".into(),
            at,
        },
        LeadProblem::WrongFieldCount { line, expected, found, .. } => CheckError::LeadsBadRow {
            path,
            line: *line,
            problem: format!("{found} values, the header has {expected}"),
            at,
        },
        LeadProblem::EmptyCell { line, column, .. } => CheckError::LeadsBadRow { path, line: *line, problem: format!("`{column}` is empty"), at },
        LeadProblem::BadPhone { line, column, value, error, .. } => CheckError::LeadsBadRow {
            path,
            line: *line,
            problem: if error.to_string().contains(value.as_str()) {
                format!("`{column}`: {error}")
            } else {
                format!("`{column}` value `{value}`: {error}")
            },
            at,
        },
        LeadProblem::BadNumber { line, column, value, .. } => CheckError::LeadsBadRow {
            path,
            line: *line,
            problem: format!("`{column}` value `{value}` is not a whole number between -9223372036854775808 and 9223372036854775807"),
            at,
        },
    }
}

fn show_delimiter(d: u8) -> String {
    match d {
        b'\t' => "\\t".into(),
        other => (other as char).to_string(),
    }
}
