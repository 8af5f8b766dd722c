//! The formatter: idempotent, meaning-preserving (same IR), comment-preserving over every
//! example and fixture; hand-written layouts; scrambled generated programs; `ivrc fmt` on
//! files and standard input.

mod common;

use ivrc::fmt::format_source;
use ivrc::span::{FileId, Sources};
use ivrc::syntax::{self, ast};
use proptest::prelude::*;
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn fmt(text: &str) -> String {
    format_source(text).unwrap_or_else(|e| panic!("syntax errors {e:?} in\n{text}"))
}

// ───────────────────────────── meaning and comments ─────────────────────────────

/// The comments of a source text in order (end blanks dropped), found by a scan of its own:
/// `//` outside string literals.
fn comments(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => {
                while let Some((_, c)) = chars.next() {
                    match c {
                        '\\' => {
                            chars.next_if(|(_, c)| *c != '\n' && *c != '\r');
                        }
                        '"' | '\n' | '\r' => break,
                        _ => {}
                    }
                }
            }
            '/' if chars.peek().is_some_and(|(_, c)| *c == '/') => {
                let end = text[i..].find(['\n', '\r']).map_or(text.len(), |n| i + n);
                out.push(text[i..end].trim_end().to_string());
                while chars.next_if(|(j, _)| *j < end).is_some() {}
            }
            _ => {}
        }
    }
    out
}

/// The IR as JSON with every source span (`{file, start, end, line}`) replaced by null:
/// layout moves spans, nothing else may change.
fn without_spans(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&str> = map.keys().map(String::as_str).collect();
            keys.sort_unstable();
            if keys == ["end", "file", "line", "start"] {
                return Value::Null;
            }
            Value::Object(
                map.into_iter()
                    .map(|(k, v)| (k, without_spans(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(without_spans).collect()),
        other => other,
    }
}

/// What compiling `text` as the file `path` gives, as `ivrc build` would (imports and leads
/// files read from beside it): every diagnostic's message, and the IR without spans.
fn compile_at(path: &Path, text: &str) -> (Vec<String>, Option<Value>) {
    let mut sources = Sources::new();
    let mut modules: Vec<(FileId, ast::Module, PathBuf)> = Vec::new();
    let mut messages = Vec::new();
    let mut queue = vec![(path.to_path_buf(), Some(text.to_string()))];
    let mut seen: Vec<PathBuf> = Vec::new();
    while let Some((file, given)) = queue.pop() {
        let key = file.canonicalize().unwrap_or_else(|_| file.clone());
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        let Some(text) = given.or_else(|| std::fs::read_to_string(&file).ok()) else {
            messages.push(format!("cannot read {}", file.display()));
            continue;
        };
        let id = sources.add(file.display().to_string(), text.clone());
        let (module, errors) = syntax::parse(id, &text);
        messages.extend(errors.iter().map(ToString::to_string));
        let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
        for item in &module.items {
            if let ast::Item::Import(import) = item {
                if let Some(rel) = import.path.as_plain() {
                    queue.push((dir.join(rel), None));
                }
            }
        }
        modules.push((id, module, dir));
    }
    if !messages.is_empty() {
        return (messages, None);
    }
    let refs: Vec<(FileId, &ast::Module)> = modules.iter().map(|(f, m, _)| (*f, m)).collect();
    let mut leads = ivrc::check::LeadsFiles::new();
    for (file, rel) in ivrc::check::leads_paths(&refs) {
        let dir = modules
            .iter()
            .find(|(f, _, _)| *f == file)
            .map(|(_, _, d)| d.clone());
        let bytes = dir.and_then(|d| std::fs::read(d.join(&rel)).ok());
        let file_of = bytes.map(|b| ivrc::check::LeadsFile::add(&mut sources, rel.clone(), b));
        leads.insert((file, rel), file_of);
    }
    let (analysis, diags) = ivrc::check::check(&refs, &leads);
    messages.extend(diags.iter().map(|d| d.error.to_string()));
    if diags.iter().any(|d| !d.is_warning()) {
        return (messages, None);
    }
    let program = ivrc::lower::lower(&sources, &refs, &analysis);
    let json = serde_json::to_value(&program).expect("the IR serializes");
    (messages, Some(without_spans(json)))
}

/// Every `.ivr` file under `dir`, recursively, sorted.
fn ivr_files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            out.extend(ivr_files_under(&path));
        } else if path.extension().is_some_and(|e| e == "ivr") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// Formatting `text` (the file `path`) is idempotent, keeps its comments in order and
/// compiles to the same diagnostics and IR.
fn assert_preserved(path: &Path, text: &str, formatted: &str) {
    let name = path.display();
    assert_eq!(
        fmt(formatted),
        formatted,
        "{name}: formatting twice changes the text"
    );
    assert_eq!(
        comments(formatted),
        comments(text),
        "{name}: comments differ"
    );
    let (before_messages, before) = compile_at(path, text);
    let (after_messages, after) = compile_at(path, formatted);
    assert_eq!(
        after_messages, before_messages,
        "{name}: diagnostics differ"
    );
    assert_eq!(after, before, "{name}: the IR differs");
}

#[test]
fn every_example_and_fixture_formats_idempotently_with_the_same_meaning() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = ivr_files_under(&root.join("examples"));
    files.extend(ivr_files_under(&root.join("tests/fixtures")));
    let mut formatted_files = 0;
    for path in &files {
        let Ok(text) = std::fs::read_to_string(path) else {
            continue; // not UTF-8: a syntax error fixture
        };
        let Ok(formatted) = format_source(&text) else {
            continue;
        };
        assert_preserved(path, &text, &formatted);
        formatted_files += 1;
    }
    assert!(
        formatted_files >= 150,
        "only {formatted_files} of {} files formatted",
        files.len()
    );
}

#[test]
fn the_examples_are_canonical() {
    let files = common::ivr_files("examples");
    let mut args = vec!["fmt", "--check"];
    args.extend(files.iter().map(String::as_str));
    let run = common::ivrc(&args);
    assert_eq!(
        run.code, 0,
        "examples not formatted:\n{}{}",
        run.stdout, run.stderr
    );
    assert_eq!(run.stdout, "");
}

#[test]
fn files_with_syntax_errors_are_refused() {
    for text in [
        "flow f { say \"open }",
        "flow f { sayy \"x\" }",
        "",
        "// only a comment\n",
    ] {
        assert!(format_source(text).is_err(), "{text:?} was formatted");
    }
}

// ───────────────────────────── layouts, read by eye ─────────────────────────────

#[test]
fn a_badly_laid_out_flow() {
    let text = "flow   main ( a : text ,b: number, ) {\n    lang ru-RU   voice female\nanswer ; say   \"hi\"\n      collect c :number{prompt \"x\" ; max_digits 4;end_key \"#\"\n     on timeout|invalid->{say \"bye\";hangup}\n  }\n  if a==\"x\"and not(b>-1){say \"y\"}else if b > 2 {\n  hangup\n  } else {\n    repeat 3 times{ say \"z\"\n  }}\n  let z = len ( a ) + crm . items . 0 * - 3\n  fetch crm = get \"https://crm.example/x\" with {a: a,\nb: b,} { timeout 3s }\n  on error -> hangup\n}\ncampaign c for main { leads \"l.csv\"; rate 3 / s ; window 09:00 - 21:00 }\n";
    let expected = r##"flow main(a: text, b: number) {
  lang ru-RU
  voice female
  answer; say "hi"
  collect c: number {
    prompt "x"; max_digits 4; end_key "#"
    on timeout | invalid -> { say "bye"; hangup }
  }
  if a == "x" and not (b > -1) { say "y" } else if b > 2 {
    hangup
  } else {
    repeat 3 times {
      say "z"
    }
  }
  let z = len(a) + crm.items.0 * -3
  fetch crm = get "https://crm.example/x" with {
    a: a,
    b: b
  } { timeout 3s }
  on error -> hangup
}
campaign c for main { leads "l.csv"; rate 3/s; window 09:00-21:00 }
"##;
    assert_eq!(fmt(text), expected);
}

#[test]
fn the_rules_no_example_uses() {
    // Every grammar rule the examples and fixtures do not reach (options, operators,
    // grouping, `else if`, JSON null), in a program that checks clean.
    let text = "flow rare(n: number) {\n  answer\n  fetch crm=post \"https://crm.example/x\"with{ \"k\":n }{header \"Authorization\" \"Bearer x\";timeout 3s\n    on error->hangup}\n  collect c: number { prompt \"Введите\"; barge_in off; max_digits 4\n    on timeout | invalid -> hangup }\n  if (n+c)/2>=10 or n%3<=-1 and not(n-1==0) { say \"a\" } else if n > 1 { say \"b\" } else { say \"c\" }\n  dial +79001234567 as op { caller_id +74950000000; timeout 20s; on busy | no_answer | failed -> hangup }\n  bridge caller and op\n}\ntest \"t\" for rare with { n: 1 } {\n  respond { \"a\": null }\n}\n";
    let expected = r##"flow rare(n: number) {
  answer
  fetch crm = post "https://crm.example/x" with { "k": n } {
    header "Authorization" "Bearer x"; timeout 3s
    on error -> hangup
  }
  collect c: number {
    prompt "Введите"; barge_in off; max_digits 4
    on timeout | invalid -> hangup
  }
  if (n + c) / 2 >= 10 or n % 3 <= -1 and not (n - 1 == 0) { say "a" } else if n > 1 { say "b" } else { say "c" }
  dial +79001234567 as op { caller_id +74950000000; timeout 20s; on busy | no_answer | failed -> hangup }
  bridge caller and op
}
test "t" for rare with { n: 1 } {
  respond { "a": null }
}
"##;
    assert_eq!(fmt(text), expected);
    assert_eq!(ir(expected), ir(text));
}

#[test]
fn own_line_and_trailing_comments() {
    let text = "// header\nflow f { // the flow\n  answer  // two spaces before\n      // own line, badly indented\n  say \"a\" // one space\n  dial +79001234567 // the number\n    as op { timeout 5s }\n  hangup\n  // at the end of the block\n}\n// at the end of the file\n";
    let expected = "// header
flow f { // the flow
  answer  // two spaces before
  // own line, badly indented
  say \"a\" // one space
  dial +79001234567 // the number
    as op { timeout 5s }
  hangup
  // at the end of the block
}
// at the end of the file
";
    assert_eq!(fmt(text), expected);
}

#[test]
fn aligned_trailing_comments_keep_their_column() {
    // As in examples/robocall.ivr: comments aligned by the author stay aligned while the
    // code ends before them; a comment after a single blank gets a single space.
    let text = "campaign c for f {\n      leads \"l.csv\"        // name;phone\n  attempts 4 // tries\n  lines 1     // x\n}\n";
    let expected = "campaign c for f {\n  leads \"l.csv\"            // name;phone\n  attempts 4 // tries\n  lines 1     // x\n}\n";
    assert_eq!(fmt(text), expected);
}

#[test]
fn comments_inside_empty_blocks() {
    let text = "flow f {\n  answer\n  if true {\n  // nothing yet\n  } else { // nor here\n  }\n  menu {\n\n  }\n  hangup\n}\n";
    let expected = "flow f {\n  answer\n  if true {\n    // nothing yet\n  } else { // nor here\n  }\n  menu {}\n  hangup\n}\n";
    assert_eq!(fmt(text), expected);
}

#[test]
fn a_comment_with_braces_and_a_string_with_slashes() {
    let text = "flow f {\n// { not a block }\nsay \"http://example.com // not a comment {\"   \n  hangup // }\n}\n";
    let expected = "flow f {\n  // { not a block }\n  say \"http://example.com // not a comment {\"\n  hangup // }\n}\n";
    assert_eq!(fmt(text), expected);
}

#[test]
fn strings_numbers_and_phones_are_copied_as_written() {
    let text =
        "flow f {\n  say \"a\\\"b\\\\c\\n\\t\\{{{x}} «ё»\"\n  pause 0500ms\n  transfer +0007\n}\n";
    // Odd but valid tokens stay byte for byte (the checker, not the formatter, judges them).
    let formatted = fmt(text);
    assert!(formatted.contains("\"a\\\"b\\\\c\\n\\t\\{{{x}} «ё»\""));
    assert!(formatted.contains("pause 0500ms"));
    assert!(formatted.contains("transfer +0007"));
}

#[test]
fn blank_lines_collapse_to_one_and_none_after_open_or_before_close() {
    let text = "\n\n// a\n\n\n\nflow f {\n\n\n  answer\n\n\n\n  // b\n\n  hangup\n\n\n}\n\n\n\nflow g { hangup }\n\n\n";
    let expected = "// a\n\nflow f {\n  answer\n\n  // b\n\n  hangup\n}\n\nflow g { hangup }\n";
    assert_eq!(fmt(text), expected);
}

#[test]
fn crlf_and_cr_line_endings_become_lf() {
    let text = "flow f {\r\n  answer   \r\n  say \"a\" // c\r\n\r\n\r\n  hangup\r\n}\r\n";
    let expected = "flow f {\n  answer\n  say \"a\" // c\n\n  hangup\n}\n";
    assert_eq!(fmt(text), expected);
    assert_eq!(fmt(&text.replace("\r\n", "\r")), expected);
}

#[test]
fn items_on_one_line_are_joined_by_semicolons() {
    // `;` only between items kept on one line; settings and handlers (which take no `;`)
    // always get lines of their own.
    let text = "flow f { lang ru-RU answer; hangup }\nflow g { answer say \"a\"; hangup; }\ntest \"t\" for g { expect say \"a\" ; expect hangup ; }\n";
    let expected = "flow f {\n  lang ru-RU\n  answer; hangup\n}\nflow g { answer; say \"a\"; hangup }\ntest \"t\" for g { expect say \"a\"; expect hangup }\n";
    assert_eq!(fmt(text), expected);
}

#[test]
fn json_in_tests() {
    let text = "test \"t\" for f {\n  respond {\"a\":[ 1 ,-2.5e3 , null,true ],\"b\" : { } , \"c\":[]}\n  respond {\n\"x\": \"y\"\n}\n}\n";
    let expected = "test \"t\" for f {\n  respond { \"a\": [1, -2.5e3, null, true], \"b\": {}, \"c\": [] }\n  respond {\n    \"x\": \"y\"\n  }\n}\n";
    assert_eq!(fmt(text), expected);
}

#[test]
fn a_comment_inside_an_expression_continues_it_on_the_next_line() {
    let text = "flow f {\n  let a = len( // length\n  \"abc\") + 1\n  hangup\n}\n";
    let expected = "flow f {\n  let a = len( // length\n    \"abc\") + 1\n  hangup\n}\n";
    assert_eq!(fmt(text), expected);
}

// ───────────────────────────── generated programs, scrambled ─────────────────────────────

/// A program cut into tokens, each with the whitespace that followed it (line breaks as
/// `\n`). Strings and comments are whole tokens. With `split`, brackets and `.,:;` are
/// tokens of their own even when nothing separates them from a word, so that blanks can be
/// put there too (not for every file: `09:00` and `2.5` are single tokens).
fn tokens(text: &str, split: bool) -> Vec<(String, String)> {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let mut out: Vec<(String, String)> = vec![(String::new(), String::new())];
    let mut chars = text.chars().peekable();
    let mut word = String::new();
    let push = |token: &mut String, out: &mut Vec<(String, String)>| {
        if !token.is_empty() {
            out.push((std::mem::take(token), String::new()));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                push(&mut word, &mut out);
                let mut s = String::from('"');
                while let Some(c) = chars.next_if(|c| *c != '\n') {
                    s.push(c);
                    if c == '\\' {
                        s.extend(chars.next_if(|c| *c != '\n'));
                    } else if c == '"' {
                        break;
                    }
                }
                push(&mut s, &mut out);
            }
            '/' if chars.peek() == Some(&'/') => {
                push(&mut word, &mut out);
                let mut comment = String::from('/');
                while let Some(c) = chars.next_if(|c| *c != '\n') {
                    comment.push(c);
                }
                push(&mut comment, &mut out);
            }
            ' ' | '\t' | '\n' => {
                push(&mut word, &mut out);
                if let Some(last) = out.last_mut() {
                    last.1.push(c);
                }
            }
            '(' | ')' | '{' | '}' | '.' | ',' | ':' | ';' if split => {
                push(&mut word, &mut out);
                push(&mut c.to_string(), &mut out);
            }
            _ => word.push(c),
        }
    }
    push(&mut word, &mut out);
    out
}

/// The same program with other whitespace: blanks and tabs anywhere between tokens, other
/// indentation, trailing blanks, CRLF, more empty lines where there was one — but a line
/// break only where there was one. When `comments` is set, line breaks and comments (on
/// their own lines and at line ends) are also put in at random between tokens.
fn scramble(tokens: &[(String, String)], choices: &[u8], comments: bool) -> String {
    let mut choice = choices.iter().copied().cycle();
    let mut next = move || choice.next().unwrap_or(0);
    let crlf = next() % 2 == 0;
    let newline = if crlf { "\r\n" } else { "\n" };
    let blanks = |n: u8| -> String {
        (0..n % 4)
            .map(|i| if i % 2 == 0 { ' ' } else { '\t' })
            .collect()
    };
    let mut out = String::new();
    let mut comment_no = 0;
    for (token, space) in tokens {
        out.push_str(token);
        let breaks = space.matches('\n').count();
        let c = next();
        if comments && c % 5 == 0 {
            comment_no += 1;
            if c % 2 == 0 {
                out.push_str(&format!(" // c{comment_no} {{ \"x\"{newline}"));
            } else {
                out.push_str(&format!(
                    "{newline}{}// c{comment_no}{newline}",
                    blanks(next())
                ));
            }
        } else if comments && c % 5 == 1 {
            out.push_str(newline);
        }
        match breaks {
            0 if space.is_empty() => out.push_str(&blanks(next())),
            0 => out.push_str(&format!(" {}", blanks(next()))),
            n => {
                out.push_str(&blanks(next()));
                let extra = if n >= 2 { usize::from(next() % 3) } else { 0 };
                for _ in 0..n + extra {
                    out.push_str(newline);
                }
                out.push_str(&blanks(next()));
                out.push_str(&blanks(next()));
            }
        }
    }
    out
}

/// The text with one space before each trailing comment: an aligned comment keeps the
/// column the author gave it (`aligned_trailing_comments_keep_their_column`), so that column
/// moves with the blanks before it.
fn squeeze_comment_gaps(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let code_len = line.len() - comments(line).first().map_or(0, String::len);
        let (code, comment) = line.split_at(code_len.min(line.len()));
        if comment.is_empty() || code.trim().is_empty() {
            out.push_str(line);
        } else {
            out.push_str(code.trim_end());
            out.push(' ');
            out.push_str(comment);
        }
        out.push('\n');
    }
    out
}

#[test]
fn every_example_and_fixture_scrambled_formats_back() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = ivr_files_under(&root.join("examples"));
    files.extend(ivr_files_under(&root.join("tests/fixtures")));
    let mut seed: u32 = 1;
    for path in &files {
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        let Ok(canonical) = format_source(&text) else {
            continue;
        };
        let cut = tokens(&text, false);
        for round in 0..4 {
            let choices: Vec<u8> = (0..97)
                .map(|_| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                    (seed >> 16) as u8
                })
                .collect();
            let name = format!("{} (round {round})", path.display());
            let scrambled = scramble(&cut, &choices, false);
            assert_eq!(
                squeeze_comment_gaps(&fmt(&scrambled)),
                squeeze_comment_gaps(&canonical),
                "{name}: scrambled\n{scrambled}"
            );
            let scrambled = scramble(&cut, &choices, true);
            let formatted = fmt(&scrambled);
            assert_eq!(comments(&formatted), comments(&scrambled), "{name}");
            assert_preserved(Path::new(&name), &scrambled, &formatted);
            assert_eq!(
                compile_at(path, &formatted),
                compile_at(path, &text),
                "{name}"
            );
        }
    }
}

fn ir(text: &str) -> Value {
    let compiled = ivrc::compile("p.ivr", text);
    let program = compiled
        .program
        .unwrap_or_else(|| panic!("errors in\n{text}\n{:?}", compiled.syntax_errors));
    without_spans(serde_json::to_value(&program).expect("the IR serializes"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn scrambled_whitespace_formats_back_to_the_same_text(
        tape in proptest::collection::vec(any::<u8>(), 0..60),
        choices in proptest::collection::vec(any::<u8>(), 1..64),
    ) {
        let text = common::generate::program(&tape);
        let canonical = fmt(&text);
        let scrambled = scramble(&tokens(&text, true), &choices, false);
        let formatted = fmt(&scrambled);
        prop_assert_eq!(&formatted, &canonical, "scrambled:\n{}", scrambled);
        prop_assert_eq!(ir(&scrambled), ir(&text));
    }

    #[test]
    fn scrambled_lines_and_comments_keep_meaning_and_comments(
        tape in proptest::collection::vec(any::<u8>(), 0..60),
        choices in proptest::collection::vec(any::<u8>(), 1..64),
    ) {
        let text = common::generate::program(&tape);
        let scrambled = scramble(&tokens(&text, true), &choices, true);
        let formatted = fmt(&scrambled);
        prop_assert_eq!(fmt(&formatted), formatted.clone(), "not idempotent; scrambled:\n{}", scrambled);
        prop_assert_eq!(comments(&formatted), comments(&scrambled));
        prop_assert_eq!(ir(&formatted), ir(&text), "formatted:\n{}", formatted);
    }
}

// ───────────────────────────── the command ─────────────────────────────

/// A fresh directory for one test's files.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ivrc-fmt-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Runs `ivrc` with `args` and `stdin`: exit code, stdout, stderr.
fn ivrc(args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ivrc"))
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ivrc starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("stdin written");
    let out = child.wait_with_output().expect("ivrc runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const UNFORMATTED: &str = "flow f {\n    answer\n  say \"a\"  ;hangup\n}\n";
const FORMATTED: &str = "flow f {\n  answer\n  say \"a\"; hangup\n}\n";

#[test]
fn check_prints_a_diff_and_leaves_the_file_alone() {
    let dir = temp_dir("check");
    let file = dir.join("f.ivr");
    std::fs::write(&file, UNFORMATTED).expect("written");
    let name = file.display().to_string();
    let (code, stdout, stderr) = ivrc(&["fmt", "--check", &name], "");
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stdout.starts_with(&format!("--- a/{name}\n+++ b/{name}\n@@ ")),
        "{stdout}"
    );
    assert!(
        stdout.contains("\n-    answer\n") && stdout.contains("\n+  answer\n"),
        "{stdout}"
    );
    assert_eq!(std::fs::read_to_string(&file).expect("read"), UNFORMATTED);

    std::fs::write(&file, FORMATTED).expect("written");
    let (code, stdout, stderr) = ivrc(&["fmt", "--check", &name], "");
    assert_eq!((code, stdout.as_str(), stderr.as_str()), (0, "", ""));
}

#[test]
fn files_are_rewritten_in_place() {
    let dir = temp_dir("in-place");
    let (a, b) = (dir.join("a.ivr"), dir.join("b.ivr"));
    std::fs::write(&a, UNFORMATTED).expect("written");
    std::fs::write(&b, FORMATTED).expect("written");
    let before = std::fs::metadata(&b)
        .and_then(|m| m.modified())
        .expect("mtime");
    let (code, stdout, stderr) = ivrc(
        &["fmt", &a.display().to_string(), &b.display().to_string()],
        "",
    );
    assert_eq!((code, stdout.as_str()), (0, ""), "{stderr}");
    assert_eq!(std::fs::read_to_string(&a).expect("read"), FORMATTED);
    assert_eq!(std::fs::read_to_string(&b).expect("read"), FORMATTED);
    let after = std::fs::metadata(&b)
        .and_then(|m| m.modified())
        .expect("mtime");
    assert_eq!(before, after, "an unchanged file is not rewritten");
    let left: Vec<_> = std::fs::read_dir(&dir).expect("dir").collect();
    assert_eq!(left.len(), 2, "no temporary file is left behind");
}

#[test]
fn dash_formats_stdin_to_stdout() {
    let (code, stdout, stderr) = ivrc(&["fmt", "-"], UNFORMATTED);
    assert_eq!((code, stdout.as_str()), (0, FORMATTED), "{stderr}");
    let (code, stdout, _) = ivrc(&["fmt", "--check", "-"], UNFORMATTED);
    assert_eq!(code, 1);
    assert!(
        stdout.starts_with("--- a/<stdin>\n+++ b/<stdin>\n"),
        "{stdout}"
    );
}

#[test]
fn a_file_with_syntax_errors_is_reported_and_left_alone() {
    let dir = temp_dir("syntax");
    let file = dir.join("bad.ivr");
    let text = "flow f {\n    say \"open\n}\n";
    std::fs::write(&file, text).expect("written");
    let (code, stdout, stderr) = ivrc(&["fmt", &file.display().to_string()], "");
    assert_eq!((code, stdout.as_str()), (1, ""));
    assert!(stderr.contains("unterminated string"), "{stderr}");
    assert!(
        stderr.contains("bad.ivr:2:"),
        "a report with the place: {stderr}"
    );
    assert_eq!(std::fs::read_to_string(&file).expect("read"), text);
    let (code, stdout, _) = ivrc(&["fmt", "-"], text);
    assert_eq!(
        (code, stdout.as_str()),
        (1, ""),
        "nothing on stdout for an editor to take"
    );
}

#[test]
fn a_missing_file_exits_2() {
    let dir = temp_dir("missing");
    let missing = dir.join("nope.ivr").display().to_string();
    let (code, _, stderr) = ivrc(&["fmt", &missing], "");
    assert_eq!(code, 2);
    assert!(stderr.contains("cannot read"), "{stderr}");
    let (code, _, _) = ivrc(&["fmt", "--check", &missing], "");
    assert_eq!(code, 2);
}
