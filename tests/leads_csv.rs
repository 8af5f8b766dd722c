//! Tests for `ivrc::leads`: reading leads CSV files the way the checker
//! does, with every problem located by line and byte range.

use ivrc::ir::Lead;
use ivrc::leads::{read_leads, ColumnKind, ExpectedColumn, LeadProblem, LeadsOptions};
use ivrc::phone::{Normalization, PhoneError};
use proptest::prelude::*;
use std::ops::Range;

fn column(name: &str, kind: ColumnKind) -> ExpectedColumn {
    ExpectedColumn {
        name: name.to_owned(),
        kind,
    }
}

/// The usual campaign: name, product and a Russian phone.
fn campaign(delimiter: Option<u8>) -> LeadsOptions {
    LeadsOptions {
        columns: vec![
            column("name", ColumnKind::Text),
            column("product", ColumnKind::Text),
            column("phone", ColumnKind::Phone),
        ],
        delimiter,
        normalization: Normalization::Ru,
    }
}

/// The byte range of the first occurrence of `needle` in `haystack`.
fn find(haystack: &[u8], needle: &str) -> Range<usize> {
    let needle = needle.as_bytes();
    let start = haystack
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap_or_else(|| panic!("{needle:?} not found"));
    start..start + needle.len()
}

fn lines(leads: &[Lead]) -> Vec<usize> {
    leads.iter().map(|lead| lead.line).collect()
}

#[test]
fn good_semicolon_file() {
    let input = "name;product;phone\n\
                 Анна Смирнова;Ипотека;8 916 123-45-67\n\
                 Пётр;Страховка «Дом»;+7 (495) 765-43-21\n\
                 Ольга;Кредит;9031112233\n";
    let report = read_leads(input.as_bytes(), &campaign(Some(b';')));
    assert_eq!(report.problems, []);
    assert_eq!(report.delimiter, b';');
    assert_eq!(report.header, ["name", "product", "phone"]);
    assert_eq!(lines(&report.leads), [2, 3, 4]);
    let phones: Vec<&str> = report
        .leads
        .iter()
        .map(|lead| lead.values["phone"].as_str())
        .collect();
    assert_eq!(phones, ["+79161234567", "+74957654321", "+79031112233"]);
    assert_eq!(report.leads[0].values["name"], "Анна Смирнова");
    assert_eq!(report.leads[1].values["product"], "Страховка «Дом»");
}

#[test]
fn comma_file_is_detected() {
    let input = "phone,name,product,city\n\
                 89161234567,\"Иванов, Иван\",Карта,Москва\n";
    let report = read_leads(input.as_bytes(), &campaign(None));
    assert_eq!(report.problems, []);
    assert_eq!(report.delimiter, b',');
    assert_eq!(report.leads.len(), 1);
    assert_eq!(report.leads[0].values["name"], "Иванов, Иван");
    assert_eq!(report.leads[0].values["city"], "Москва");
}

#[test]
fn bom_is_a_problem_but_reading_goes_on() {
    let input = b"\xEF\xBB\xBFname;product;phone\nA;B;89161234567\nC;D;123\n";
    let report = read_leads(input, &campaign(None));
    assert_eq!(report.header, ["name", "product", "phone"]);
    assert_eq!(lines(&report.leads), [2]);
    assert_eq!(report.problems.len(), 2);
    assert_eq!(report.problems[0], LeadProblem::Bom { range: 0..3 });
    assert!(matches!(
        &report.problems[1],
        LeadProblem::BadPhone { line: 3, value, .. } if value == "123"
    ));
    assert_eq!(
        report.problems[1].range(),
        find(input, "123\n").start..input.len() - 1
    );
}

#[test]
fn wrong_delimiter() {
    let input = b"name,product,phone\nA,B,89161234567\n";
    let report = read_leads(input, &campaign(Some(b';')));
    assert_eq!(
        report.problems,
        [LeadProblem::WrongDelimiter {
            expected: b';',
            found: b',',
            range: find(input, "name,product,phone"),
        }]
    );
    assert!(report.leads.is_empty());
}

#[test]
fn missing_column() {
    let input = b"name;phone\nA;89161234567\n";
    let report = read_leads(input, &campaign(None));
    assert_eq!(
        report.problems,
        [LeadProblem::MissingColumn {
            name: "product".into(),
            range: find(input, "name;phone"),
        }]
    );
}

#[test]
fn duplicate_column() {
    let input = b"phone;name;product;phone\n89161234567;A;B;89160000000\n";
    let report = read_leads(input, &campaign(None));
    assert_eq!(
        report.problems,
        [LeadProblem::DuplicateColumn {
            name: "phone".into(),
            range: find(input, ";phone").start + 1..find(input, ";phone").end,
        }]
    );
    assert_eq!(report.leads[0].values["phone"], "+79161234567");
}

#[test]
fn wrong_field_count_with_line_numbers() {
    let input = b"name;product;phone\n\
                  \"Multi\nline\nname\";B;89161234567\n\
                  too;few\n\
                  A;\"quoted;delimiter\";89161234567\n\
                  x;y;89161234567;z\n";
    let report = read_leads(input, &campaign(None));
    assert_eq!(lines(&report.leads), [2, 6]);
    assert_eq!(report.leads[0].values["name"], "Multi\nline\nname");
    assert_eq!(report.leads[1].values["product"], "quoted;delimiter");
    assert_eq!(
        report.problems,
        [
            LeadProblem::WrongFieldCount {
                line: 5,
                expected: 3,
                found: 2,
                range: find(input, "too;few"),
            },
            LeadProblem::WrongFieldCount {
                line: 7,
                expected: 3,
                found: 4,
                range: find(input, "x;y;89161234567;z"),
            },
        ]
    );
}

#[test]
fn bad_phone_has_the_right_line_and_cell() {
    let input =
        b"name;product;phone\nA;B;89161234567\n\"C\nD\";E;+1 (202) 555-0123\nF;G;8 916 12\n";
    let report = read_leads(input, &campaign(None));
    assert_eq!(lines(&report.leads), [2]);
    assert_eq!(
        report.problems,
        [
            LeadProblem::BadPhone {
                line: 3,
                column: "phone".into(),
                value: "+1 (202) 555-0123".into(),
                error: PhoneError::NotRussian("+1 (202) 555-0123".into()),
                range: find(input, "+1 (202) 555-0123"),
            },
            LeadProblem::BadPhone {
                line: 5,
                column: "phone".into(),
                value: "8 916 12".into(),
                error: PhoneError::NotRussian("8 916 12".into()),
                range: find(input, "8 916 12"),
            },
        ]
    );
}

#[test]
fn empty_cell() {
    let input = b"name;product;phone\nA; ;89161234567\n";
    let report = read_leads(input, &campaign(None));
    assert_eq!(
        report.problems,
        [LeadProblem::EmptyCell {
            line: 2,
            column: "product".into(),
            range: 21..22,
        }]
    );
}

#[test]
fn numbers() {
    let input = b"phone;debt;contract\n89161234567;1500;00123\n89161234567;1,5;12\n";
    let options = LeadsOptions {
        columns: vec![
            column("phone", ColumnKind::Phone),
            column("debt", ColumnKind::Number),
            column("contract", ColumnKind::Digits),
        ],
        delimiter: None,
        normalization: Normalization::Ru,
    };
    let report = read_leads(input, &options);
    assert_eq!(report.leads.len(), 1);
    assert_eq!(report.leads[0].values["debt"], "1500");
    assert_eq!(report.leads[0].values["contract"], "00123");
    assert_eq!(
        report.problems,
        [LeadProblem::BadNumber {
            line: 3,
            column: "debt".into(),
            value: "1,5".into(),
            range: find(input, "1,5"),
        }]
    );
}

#[test]
fn blank_lines_are_ignored() {
    let input = b"\nname;product;phone\n\n\nA;B;89161234567\n   \n\nC;D;89161234568\n\n";
    let report = read_leads(input, &campaign(None));
    assert_eq!(report.problems, []);
    assert_eq!(lines(&report.leads), [5, 8]);
}

#[test]
fn crlf_line_endings() {
    let input = b"name;product;phone\r\nA;B;89161234567\r\n\r\nC;D\r\nE;F;89161234568\r\n";
    let report = read_leads(input, &campaign(None));
    assert_eq!(lines(&report.leads), [2, 5]);
    assert_eq!(report.leads[0].values["phone"], "+79161234567");
    assert_eq!(
        report.problems,
        [LeadProblem::WrongFieldCount {
            line: 4,
            expected: 3,
            found: 2,
            range: find(input, "C;D"),
        }]
    );
}

#[test]
fn invalid_utf8() {
    // "Иван" in Windows-1251, a common mistake.
    let input = b"name;product;phone\n\xC8\xE2\xE0\xED;B;89161234567\n";
    let report = read_leads(input, &campaign(None));
    assert_eq!(
        report.problems,
        [LeadProblem::InvalidUtf8 { range: 19..20 }]
    );
    assert!(report.leads.is_empty());
    assert!(report.header.is_empty());
}

#[test]
fn empty_file() {
    let report = read_leads(b"", &campaign(None));
    assert_eq!(report.problems, [LeadProblem::Empty]);
    assert_eq!(report.problems[0].range(), 0..0);
    let report = read_leads(b"\n\n", &campaign(None));
    assert_eq!(report.problems, [LeadProblem::Empty]);
}

/// One generated lead: name, product, national digits, phone prefix.
fn lead_row() -> impl Strategy<Value = (String, String, String, &'static str)> {
    (
        "[A-Za-zА-Яа-яЁё;,\"][A-Za-zА-Яа-яЁё ;,\"\n]{0,11}",
        "[A-Za-zА-Яа-я0-9][A-Za-zА-Яа-я0-9 ]{0,9}",
        "[0-9]{10}",
        prop::sample::select(vec!["8", "+7", "7", "", "8 "]),
    )
}

/// Quotes a CSV field when it needs it.
fn quote(field: &str) -> String {
    if field.contains([';', '"', '\n', '\r']) || field.trim() != field {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_owned()
    }
}

proptest! {
    #[test]
    fn never_panics_on_arbitrary_bytes(
        bytes in prop::collection::vec(any::<u8>(), 0..300),
        delimiter in prop::option::of(any::<u8>()),
        ru in any::<bool>(),
    ) {
        let options = LeadsOptions {
            normalization: if ru { Normalization::Ru } else { Normalization::E164 },
            ..campaign(delimiter)
        };
        let report = read_leads(&bytes, &options);
        for problem in &report.problems {
            let range = problem.range();
            prop_assert!(range.start <= range.end && range.end <= bytes.len(), "{:?}", problem);
        }
    }

    #[test]
    fn never_panics_on_csv_like_text(
        text in "[a-z0-9;,\t\"\r\n +()-]{0,200}",
        delimiter in prop::option::of(prop::sample::select(vec![b';', b',', b'\t', b'|'])),
    ) {
        let report = read_leads(text.as_bytes(), &campaign(delimiter));
        for problem in &report.problems {
            let range = problem.range();
            prop_assert!(range.start <= range.end && range.end <= text.len(), "{:?}", problem);
            prop_assert!(text.is_char_boundary(range.start) && text.is_char_boundary(range.end));
        }
        for lead in &report.leads {
            prop_assert!(lead.line >= 2);
        }
    }

    #[test]
    fn generated_files_read_back(
        rows in prop::collection::vec((lead_row(), 0..3usize), 0..8),
        crlf in any::<bool>(),
    ) {
        let newline = if crlf { "\r\n" } else { "\n" };
        let mut text = format!("name;product;phone{newline}");
        let mut line = 2;
        let mut expected = Vec::new();
        for ((name, product, digits, prefix), blanks) in &rows {
            for _ in 0..*blanks {
                text.push_str(newline);
                line += 1;
            }
            let name_cell = quote(name);
            text.push_str(&format!("{name_cell};{product};{prefix}{digits}{newline}"));
            expected.push((line, name.clone(), format!("+7{digits}")));
            line += 1 + name.matches('\n').count();
        }
        let report = read_leads(text.as_bytes(), &campaign(None));
        prop_assert_eq!(&report.problems, &vec![], "{:?}", text);
        let got: Vec<(usize, String, String)> = report
            .leads
            .iter()
            .map(|lead| (lead.line, lead.values["name"].clone(), lead.values["phone"].clone()))
            .collect();
        prop_assert_eq!(got, expected);
    }
}
