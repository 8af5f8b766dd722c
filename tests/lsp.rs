//! `ivrc lsp` as an editor sees it: a client written here speaks JSON-RPC to the real binary
//! over its standard input and output, with its own Content-Length framing. Every answer is
//! awaited with a time limit and the process is killed if it outlives its test, so no test
//! can hang. Positions are in UTF-16 units; the files have Cyrillic before the positions.

mod common;

use serde_json::{json, Value};
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

/// The longest the server may take to answer one message or to exit.
const PATIENCE: Duration = Duration::from_secs(30);

/// A client of one `ivrc lsp` process.
struct Client {
    child: Child,
    stdin: Option<ChildStdin>,
    incoming: Receiver<Value>,
    /// Notifications received while waiting for something else.
    pending: VecDeque<Value>,
    next_id: i64,
}

impl Client {
    fn start() -> Client {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ivrc"))
            .arg("lsp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("ivrc lsp starts");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout");
        let (tx, incoming) = mpsc::channel();
        std::thread::spawn(move || {
            let mut out = BufReader::new(stdout);
            while let Some(message) = read_message(&mut out) {
                if tx.send(message).is_err() {
                    return;
                }
            }
        });
        Client {
            child,
            stdin,
            incoming,
            pending: VecDeque::new(),
            next_id: 0,
        }
    }

    fn send_raw(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(bytes).expect("the server reads");
        stdin.flush().expect("flush");
    }

    fn send(&mut self, message: &Value) {
        let body = message.to_string();
        let frame = format!("Content-Length: {}\r\n\r\n{body}", body.len());
        self.send_raw(frame.as_bytes());
    }

    fn recv(&mut self) -> Value {
        self.incoming
            .recv_timeout(PATIENCE)
            .expect("the server answers in time")
    }

    /// Sends a request and returns the whole response; notifications that come first are
    /// kept.
    fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        self.response(&json!(id))
    }

    fn response(&mut self, id: &Value) -> Value {
        loop {
            let message = self.recv();
            if message.get("method").is_none() && message["id"] == *id {
                return message;
            }
            assert!(
                message.get("method").is_some(),
                "an unexpected response: {message}"
            );
            self.pending.push_back(message);
        }
    }

    /// The result of a request that must succeed.
    fn call(&mut self, method: &str, params: Value) -> Value {
        let response = self.request(method, params);
        assert!(response.get("error").is_none(), "{method}: {response}");
        response["result"].clone()
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// The next notification `method`, skipping others.
    fn notification(&mut self, method: &str) -> Value {
        if let Some(i) = self.pending.iter().position(|m| m["method"] == method) {
            return self.pending.remove(i).unwrap_or_default();
        }
        loop {
            let message = self.recv();
            if message["method"] == method {
                return message;
            }
            self.pending.push_back(message);
        }
    }

    /// The next diagnostics published for `uri`.
    fn diagnostics(&mut self, uri: &str) -> Value {
        let wanted = |m: &Value| {
            m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == uri
        };
        if let Some(i) = self.pending.iter().position(wanted) {
            return self.pending.remove(i).unwrap_or_default()["params"].clone();
        }
        loop {
            let message = self.recv();
            if wanted(&message) {
                return message["params"].clone();
            }
            self.pending.push_back(message);
        }
    }

    fn initialize(&mut self) -> Value {
        let result = self.call(
            "initialize",
            json!({"processId": null, "rootUri": null, "capabilities": {}}),
        );
        self.notify("initialized", json!({}));
        result
    }

    fn open(&mut self, uri: &str, text: &str) {
        let document = json!({"uri": uri, "languageId": "ivr", "version": 1, "text": text});
        self.notify("textDocument/didOpen", json!({"textDocument": document}));
    }

    fn change(&mut self, uri: &str, version: i32, changes: Value) {
        let document = json!({"uri": uri, "version": version});
        let params = json!({"textDocument": document, "contentChanges": changes});
        self.notify("textDocument/didChange", params);
    }

    /// Waits for the process to exit and returns its status code.
    fn exit_code(mut self) -> i32 {
        drop(self.stdin.take());
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status.code().unwrap_or(-1);
            }
            assert!(Instant::now() < deadline, "ivrc lsp did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        // A failed test must not leave the server running.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One framed message from the server, or `None` at the end of its output.
fn read_message(out: &mut impl BufRead) -> Option<Value> {
    let mut length = None;
    loop {
        let mut line = String::new();
        if out.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        if name.eq_ignore_ascii_case("content-length") {
            length = value.trim().parse::<usize>().ok();
        }
    }
    let mut body = vec![0; length?];
    out.read_exact(&mut body).ok()?;
    Some(serde_json::from_slice(&body).expect("the server writes JSON"))
}

/// A scratch directory for one test's files.
fn scratch(test: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("lsp")
        .join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn write(dir: &Path, name: &str, text: &str) -> (PathBuf, String) {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("scratch file");
    let uri = format!("file://{}", path.display());
    (path, uri)
}

fn position(line: u32, character: u32) -> Value {
    json!({"line": line, "character": character})
}

fn range(line: u32, start: u32, end_line: u32, end: u32) -> Value {
    json!({"start": position(line, start), "end": position(end_line, end)})
}

fn at(uri: &str, line: u32, character: u32) -> Value {
    json!({"textDocument": {"uri": uri}, "position": position(line, character)})
}

/// The diagnostics `ivrc check --format json` gives for `path`, as the protocol's: the
/// first label is the range, the others related information, the help on its own line.
/// The files have no characters outside the BMP, so `ivrc check`'s columns (characters)
/// are UTF-16 columns.
fn check_diagnostics(path: &Path, uri: &str) -> Vec<Value> {
    let run = common::ivrc(&["check", "--format", "json", &path.display().to_string()]);
    let problems: Value = serde_json::from_str(&run.stdout).expect("JSON from ivrc check");
    let to_range = |l: &Value| {
        let n = |k: &str| u32::try_from(l[k].as_u64().expect("number") - 1).expect("small");
        range(n("line"), n("column"), n("end_line"), n("end_column"))
    };
    problems
        .as_array()
        .expect("an array")
        .iter()
        .map(|p| {
            let labels = p["labels"].as_array().expect("labels");
            let mut message = p["message"].as_str().expect("message").to_string();
            if let Some(help) = p["help"].as_str() {
                message.push_str(&format!("\nhelp: {help}"));
            }
            let mut d = json!({
                "range": to_range(&labels[0]),
                "severity": if p["severity"] == "warning" { 2 } else { 1 },
                "code": p["code"],
                "source": "ivrc",
                "message": message,
            });
            let mut related: Vec<Value> = labels[1..]
                .iter()
                .map(|l| json!({"location": {"uri": uri, "range": to_range(l)}, "message": l["label"]}))
                .collect();
            // Places in other files (a leads file's rows), with that file's URI.
            for r in p["related"].as_array().into_iter().flatten() {
                let file_uri = format!("file://{}", r["file"].as_str().expect("file"));
                for l in r["labels"].as_array().expect("labels") {
                    related.push(json!({"location": {"uri": file_uri, "range": to_range(l)}, "message": l["label"]}));
                }
            }
            if !related.is_empty() {
                d["relatedInformation"] = json!(related);
            }
            d
        })
        .collect()
}

const BROKEN: &str = "// Ошибки: неизвестный участник
flow main {
  say \"Привет\"; say to operator \"Клиент на линии\"
  hangup
  say \"никогда\"
}
";

const SYNTAX_ERROR: &str = "flow f {
  say \"Привет\" hangupp
}
";

const MISSING_IMPORT: &str = "import \"нет.ivr\"
flow g { hangup }
";

#[test]
fn diagnostics_are_those_of_ivrc_check_and_go_when_fixed() {
    let dir = scratch("diagnostics");
    let (broken_path, broken) = write(&dir, "broken.ivr", BROKEN);
    let (syntax_path, syntax) = write(&dir, "syntax.ivr", SYNTAX_ERROR);
    let (import_path, import) = write(&dir, "import.ivr", MISSING_IMPORT);
    let mut client = Client::start();
    client.initialize();

    client.open(&broken, BROKEN);
    let published = client.diagnostics(&broken);
    assert_eq!(published["version"], 1);
    let published = published["diagnostics"].as_array().expect("array").clone();
    assert_eq!(published, check_diagnostics(&broken_path, &broken));
    // The unknown leg is an error after Cyrillic text: 23 UTF-16 units (29 bytes) in.
    assert_eq!(published[0]["code"], "ivrc::check::unknown_leg");
    assert_eq!(published[0]["range"], range(2, 23, 2, 31));
    assert_eq!(published[0]["severity"], 1);
    assert_eq!(
        published[0]["message"],
        "unknown leg `operator`\nhelp: create the leg first with `dial NUMBER as NAME`"
    );
    assert_eq!(published[1]["code"], "ivrc::check::unreachable");
    assert_eq!(published[1]["severity"], 2);

    client.open(&syntax, SYNTAX_ERROR);
    let published = client.diagnostics(&syntax)["diagnostics"].clone();
    assert_eq!(published, json!(check_diagnostics(&syntax_path, &syntax)));
    assert_eq!(published[0]["code"], "ivrc::syntax::unexpected_token");

    client.open(&import, MISSING_IMPORT);
    let published = client.diagnostics(&import)["diagnostics"].clone();
    assert_eq!(published, json!(check_diagnostics(&import_path, &import)));
    assert_eq!(published[0]["code"], "ivrc::source::import_not_found");

    // The whole text replaced, and a range edited: no problems left.
    let fixed = BROKEN
        .replace("say to operator", "say")
        .replace("  hangup\n  say", "  say");
    client.change(&broken, 2, json!([{"text": fixed}]));
    let published = client.diagnostics(&broken);
    assert_eq!(published["diagnostics"], json!([]));
    assert_eq!(published["version"], 2);
    let edit = json!([{"range": range(1, 15, 1, 22), "text": "hangup"}]);
    client.change(&syntax, 2, edit);
    assert_eq!(client.diagnostics(&syntax)["diagnostics"], json!([]));

    // Closing clears a document's diagnostics.
    client.notify(
        "textDocument/didClose",
        json!({"textDocument": {"uri": import}}),
    );
    assert_eq!(client.diagnostics(&import)["diagnostics"], json!([]));
}

const CAMPAIGN: &str = "campaign c for f {
  leads \"leads.csv\"
  dial phone
  normalize ru
}
flow f(name: text, phone: phone) {
  say \"Здравствуйте, {{name}}\"
  report ok
}
";

const LEADS: &str = "name;phone\nИван;89161112246\nМария;12345\nИван П.;+7 (916) 111-22-46\n";

#[test]
fn leads_file_problems_point_into_the_leads_file() {
    let dir = scratch("leads");
    let (path, uri) = write(&dir, "campaign.ivr", CAMPAIGN);
    let (_, csv_uri) = write(&dir, "leads.csv", LEADS);
    let mut client = Client::start();
    client.initialize();
    client.open(&uri, CAMPAIGN);
    let published = client.diagnostics(&uri)["diagnostics"].clone();
    assert_eq!(published, json!(check_diagnostics(&path, &uri)));
    // The bad phone of line 3: at the `leads` line, with the cell as related information
    // (columns in UTF-16 units: `Мария;` is 6).
    assert_eq!(published[0]["code"], "ivrc::check::leads_bad_row");
    assert_eq!(published[0]["range"], range(1, 8, 1, 19));
    let cell = &published[0]["relatedInformation"][0];
    assert_eq!(cell["location"]["uri"], csv_uri.as_str());
    assert_eq!(cell["location"]["range"], range(2, 6, 2, 11));
    assert_eq!(cell["message"], "not a valid phone number");
    // One number on lines 2 and 4: both rows are named.
    assert_eq!(published[1]["code"], "ivrc::check::leads_duplicate_number");
    let rows = &published[1]["relatedInformation"];
    assert_eq!(rows[0]["location"]["range"], range(3, 8, 3, 26));
    assert_eq!(rows[1]["location"]["range"], range(1, 5, 1, 16));
    assert_eq!(rows[1]["message"], "first here");
    assert_eq!(rows[1]["location"]["uri"], csv_uri.as_str());
}

#[test]
fn imports_are_read_from_disk_unless_open() {
    let dir = scratch("imports");
    let common = "flow greet {\n  say \"Привет\"\n  hangup\n}\n";
    let (_, common_uri) = write(&dir, "common.ivr", common);
    let main =
        "import \"common.ivr\"\ntest \"приветствие\" for greet {\n  expect say \"Привет\"\n}\n";
    let (_, main_uri) = write(&dir, "main.ivr", main);
    let mut client = Client::start();
    client.initialize();
    client.open(&main_uri, main);
    assert_eq!(client.diagnostics(&main_uri)["diagnostics"], json!([]));
    // The flow is defined in the imported file; the import's path leads to it.
    let definition = client.call("textDocument/definition", at(&main_uri, 1, 26));
    assert_eq!(
        definition,
        json!({"uri": common_uri, "range": range(0, 5, 0, 10)})
    );
    let file = client.call("textDocument/definition", at(&main_uri, 0, 10));
    assert_eq!(file, json!({"uri": common_uri, "range": range(0, 0, 0, 0)}));

    // The editor's text of an open file comes before the disk's.
    client.open(&common_uri, "flow hello { hangup }\n");
    assert_eq!(client.diagnostics(&common_uri)["diagnostics"], json!([]));
    let main_diagnostics = client.diagnostics(&main_uri)["diagnostics"].clone();
    assert_eq!(main_diagnostics[0]["code"], "ivrc::check::unknown_flow");
    assert_eq!(main_diagnostics[0]["range"], range(1, 23, 1, 28));

    // A syntax error there is shown at the import too.
    let edit = json!([{"text": "flow greet { say }\n"}]);
    client.change(&common_uri, 2, edit);
    client.diagnostics(&common_uri);
    let main_diagnostics = client.diagnostics(&main_uri)["diagnostics"].clone();
    assert_eq!(
        main_diagnostics[0]["code"],
        "ivrc::syntax::unexpected_token"
    );
    assert_eq!(main_diagnostics[0]["range"], range(0, 7, 0, 19));
    let common_path = dir.join("common.ivr").display().to_string();
    let message = main_diagnostics[0]["message"].as_str().expect("message");
    assert!(
        message.starts_with(&format!("unexpected `}}` (in `{common_path}`)")),
        "{message}"
    );
    assert_eq!(
        main_diagnostics[0]["relatedInformation"][0]["location"]["uri"],
        common_uri
    );

    // Closed, the file is read from disk again.
    client.notify(
        "textDocument/didClose",
        json!({"textDocument": {"uri": common_uri}}),
    );
    assert_eq!(client.diagnostics(&common_uri)["diagnostics"], json!([]));
    assert_eq!(client.diagnostics(&main_uri)["diagnostics"], json!([]));
}

const CALLBACK: &str = "// Обратный звонок: сначала клиент, потом оператор
flow callback(name: text, phone: phone) {
  say \"Здравствуйте, {{name}}! Соединяю.\"
  let tries = 0
  label again
  dial phone as client {
    on answered -> { say \"Соединено\"; say to client \"{{name}}, ожидайте\" }
    on busy | no_answer | failed -> {
      set tries = tries + 1
      say \"Попытка {{tries}}\"; goto again max 3
      hangup
    }
  }
  bridge caller and client
  hangup
}

test \"соединение\" for callback with { name: \"Иван\", phone: +79001234567 } {
  expect say \"Здравствуйте*\"
  expect dial client
  answer client
}
";

#[test]
fn navigation_hover_and_symbols_on_a_valid_flow() {
    let dir = scratch("navigation");
    let (_, uri) = write(&dir, "callback.ivr", CALLBACK);
    let mut client = Client::start();
    client.initialize();
    client.open(&uri, CALLBACK);
    assert_eq!(client.diagnostics(&uri)["diagnostics"], json!([]));
    let location = |line, start, end| json!({"uri": uri, "range": range(line, start, line, end)});

    // Definitions: a variable in a placeholder, a leg, a label, a flow.
    let definition = |client: &mut Client, line, character| {
        client.call("textDocument/definition", at(&uri, line, character))
    };
    assert_eq!(definition(&mut client, 9, 22), location(3, 6, 11));
    assert_eq!(definition(&mut client, 6, 47), location(5, 16, 22));
    assert_eq!(definition(&mut client, 9, 38), location(4, 8, 13));
    assert_eq!(definition(&mut client, 17, 25), location(1, 5, 13));
    assert_eq!(definition(&mut client, 2, 3), Value::Null, "a keyword");

    // References: of the leg with its definition, of the variable without.
    let mut params = at(&uri, 13, 22);
    params["context"] = json!({"includeDeclaration": true});
    assert_eq!(
        client.call("textDocument/references", params),
        json!([
            location(5, 16, 22),
            location(6, 45, 51),
            location(13, 20, 26),
            location(19, 14, 20),
            location(20, 9, 15)
        ])
    );
    let mut params = at(&uri, 3, 7);
    params["context"] = json!({"includeDeclaration": false});
    assert_eq!(
        client.call("textDocument/references", params),
        json!([
            location(8, 10, 15),
            location(8, 18, 23),
            location(9, 21, 26)
        ])
    );

    // Hover: a statement keyword, a variable, a parameter.
    assert_eq!(
        client.call("textDocument/hover", at(&uri, 2, 3)),
        json!({
            "contents": {"kind": "markdown", "value": "```ivr\nsay [to LEG] \"TEXT\"\n```\nSpeaks the text with the flow's `lang` and `voice`, and goes on when it has been said. Placeholders are filled in when the statement runs."},
            "range": range(2, 2, 2, 5)
        })
    );
    assert_eq!(
        client.call("textDocument/hover", at(&uri, 9, 23)),
        json!({
            "contents": {"kind": "markdown", "value": "variable `tries`: number\n\nDefined on line 4."},
            "range": range(9, 21, 9, 26)
        })
    );
    assert_eq!(
        client.call("textDocument/hover", at(&uri, 2, 24))["contents"]["value"],
        "parameter `name`: text\n\nDefined on line 2."
    );
    assert_eq!(
        client.call("textDocument/hover", at(&uri, 0, 20)),
        Value::Null,
        "a comment"
    );

    // The outline: the flow with its label, and the test.
    assert_eq!(
        client.call(
            "textDocument/documentSymbol",
            json!({"textDocument": {"uri": uri}})
        ),
        json!([
            {
                "name": "callback", "detail": "(name: text, phone: phone)", "kind": 12,
                "range": range(1, 0, 15, 1), "selectionRange": range(1, 5, 1, 13),
                "children": [
                    {"name": "again", "kind": 20, "range": range(4, 2, 4, 13), "selectionRange": range(4, 8, 4, 13)}
                ]
            },
            {
                "name": "соединение", "detail": "for callback", "kind": 6,
                "range": range(17, 0, 21, 1), "selectionRange": range(17, 5, 17, 17)
            }
        ])
    );
}

/// The labels of a completion answer.
fn labels(result: &Value) -> Vec<&str> {
    result
        .as_array()
        .expect("a list of items")
        .iter()
        .map(|i| i["label"].as_str().expect("label"))
        .collect()
}

#[test]
fn completion_of_keywords_names_and_placeholders() {
    let dir = scratch("completion");
    let (_, uri) = write(&dir, "callback.ivr", CALLBACK);
    let mut client = Client::start();
    client.initialize();
    client.open(&uri, CALLBACK);
    client.diagnostics(&uri);
    let mut version = 1;
    // Replaces line `line` of the flow with `text` and asks for completion at its end.
    let mut complete_line = |client: &mut Client, line: usize, text: &str| {
        let mut lines: Vec<&str> = CALLBACK.lines().collect();
        lines[line] = text;
        version += 1;
        client.change(&uri, version, json!([{"text": lines.join("\n")}]));
        client.diagnostics(&uri);
        let character = u32::try_from(text.encode_utf16().count()).expect("short");
        let line = u32::try_from(line).expect("short");
        client.call("textDocument/completion", at(&uri, line, character))
    };

    // Statements at the start of a line in the flow's body (the line does not parse yet).
    let items = complete_line(&mut client, 14, "  b");
    assert_eq!(labels(&items), ["bridge", "block", "break"]);
    assert_eq!(
        items[0],
        json!({
            "label": "bridge", "kind": 14,
            "detail": "bridge LEG [and] LEG [{ max_length DURATION }]",
            "documentation": {"kind": "markdown", "value": "Connects the media of two legs (either may be `caller`) until one of them hangs up, then goes on with the next statement. `max_length` is 1 minute to 24 hours, 4 hours by default."},
            "textEdit": {"range": range(14, 2, 14, 3), "newText": "bridge"}
        })
    );
    // Options in a statement's body; statements after an arm's `->`.
    assert_eq!(
        labels(&complete_line(&mut client, 6, "    ti")),
        ["timeout"]
    );
    assert_eq!(
        labels(&complete_line(&mut client, 6, "    on busy -> h")),
        ["hangup"]
    );

    // Values in scope in a failure arm: the parameters and `tries`, not the leg `client`.
    let items = complete_line(&mut client, 10, "      let left = ");
    assert_eq!(
        labels(&items),
        [
            "name",
            "phone",
            "tries",
            "caller.number",
            "called.number",
            "call.id",
            "true",
            "false",
            "not",
            "number",
            "text",
            "digits",
            "phone",
            "len"
        ]
    );
    assert_eq!(items[2]["detail"], "variable: number");
    let items = complete_line(&mut client, 14, "  say to c");
    assert_eq!(labels(&items), ["caller", "client"]);
    assert_eq!(
        labels(&complete_line(&mut client, 14, "  goto ")),
        ["again"]
    );
    assert_eq!(
        labels(&complete_line(&mut client, 17, "test \"т\" for ")),
        ["callback"]
    );

    // A placeholder in a string after Cyrillic text: completed and closed.
    let items = complete_line(&mut client, 14, "  say \"Привет, {{na");
    assert_eq!(
        items,
        json!([{
            "label": "name", "kind": 6, "detail": "parameter: text",
            "textEdit": {"range": range(14, 17, 14, 19), "newText": "name}}"}
        }])
    );
    let items = complete_line(&mut client, 14, "  say \"Привет, {{");
    assert_eq!(
        labels(&items),
        [
            "name",
            "phone",
            "tries",
            "caller.number",
            "client.number",
            "called.number",
            "call.id",
            "plural",
            "words",
            "digits",
            "money",
            "date",
            "time",
            "#if",
            "#unless"
        ]
    );
    // A helper: its name, then its arguments.
    let items = complete_line(&mut client, 14, "  say \"{{wo");
    assert_eq!(items[0]["label"], "words");
    assert_eq!(items[0]["textEdit"]["newText"], "words ");
    assert!(items[0]["documentation"]["value"]
        .as_str()
        .is_some_and(|d| d.contains("gender='feminine'")));
    let items = complete_line(&mut client, 14, "  say \"{{words tr");
    assert_eq!(labels(&items), ["tries"]);
    assert_eq!(items[0]["textEdit"]["newText"], "tries");
    assert_eq!(
        complete_line(&mut client, 14, "  say \"{{plural n 'ру"),
        json!([]),
        "nothing inside a quoted argument"
    );
    // Nothing in plain text or comments.
    assert_eq!(complete_line(&mut client, 14, "  say \"Прив"), json!([]));
    assert_eq!(complete_line(&mut client, 0, "// b"), json!([]));
}

#[test]
fn completion_offers_what_the_statement_around_takes() {
    let dir = scratch("completion_options");
    let (_, uri) = write(&dir, "callback.ivr", CALLBACK);
    let mut client = Client::start();
    client.initialize();
    let flow = |body: &str| format!("flow o(p: phone) {{\n{body}\n}}\n");
    // `^` marks the position in a flow added to CALLBACK.
    let cases = [
        // A statement's own options, then `on` and `else` if it has arms.
        (
            flow("  dial p as x {\n    ^\n  }"),
            vec!["timeout", "caller_id", "detect_machine", "on", "else"],
        ),
        (flow("  dial p as x {\n    m^\n  }"), vec![]),
        (
            flow("  collect n: digits {\n    m^\n  }"),
            vec!["min_digits", "max_digits"],
        ),
        (
            flow("  record r {\n    ^\n  }"),
            vec!["max_length", "end_key"],
        ),
        // The statement's outcomes after `on` and `|`.
        (
            flow("  dial p as x {\n    on ^\n  }"),
            vec!["answered", "busy", "no_answer", "failed", "machine"],
        ),
        (
            flow("  fetch r = get \"https://crm.example\" {\n    on ok | ^\n  }"),
            vec!["ok", "error"],
        ),
        // `sms.text` and `sms.from` inside `on sms` only.
        (
            flow("  hangup\n  on sms -> {\n    say \"{{s^}}\"\n  }"),
            vec!["sms.text", "sms.from"],
        ),
        (flow("  say \"{{s^}}\""), vec![]),
        (flow("  say \"{{#^}}\""), vec!["#if", "#unless"]),
        (flow("  say \"{{#if p^}}\""), vec!["p"]),
    ];
    for (version, (extra, expected)) in cases.into_iter().enumerate() {
        let text = format!("{CALLBACK}{}", extra.replace('^', ""));
        let marker =
            CALLBACK.lines().count() + extra.lines().position(|l| l.contains('^')).unwrap_or(0);
        let line = extra.lines().find(|l| l.contains('^')).unwrap_or_default();
        let character = line
            .split('^')
            .next()
            .unwrap_or_default()
            .encode_utf16()
            .count();
        let version = i32::try_from(version).unwrap_or(0) + 1;
        if version == 1 {
            client.open(&uri, &text);
        } else {
            client.change(&uri, version, json!([{"text": text}]));
        }
        let items = client.call(
            "textDocument/completion",
            at(&uri, marker as u32, character as u32),
        );
        assert_eq!(labels(&items), expected, "{extra}");
    }
}

#[test]
fn completion_in_campaigns_tests_and_between_items() {
    let dir = scratch("completion_items");
    let (_, uri) = write(&dir, "callback.ivr", CALLBACK);
    let mut client = Client::start();
    client.initialize();
    // `|` marks the position; each text is opened as the document and asked about there.
    let cases = [
        (
            "campaign c for callback {\n  leads \"l.csv\"\n  dial |\n}\n",
            vec!["name", "phone"],
        ),
        (
            "campaign c for callback {\n  re|\n}\n",
            vec!["retry_after", "redial", "record_calls", "result_webhook"],
        ),
        (
            "test \"т2\" for callback {\n  answer |\n}\n",
            vec!["caller", "client"],
        ),
        (
            "test \"т2\" for callback {\n  expect b|\n}\n",
            vec!["bridge", "block"],
        ),
        ("f|\n", vec!["flow"]),
        ("flow z(a: d|) { hangup }\n", vec!["digits", "duration"]),
    ];
    for (version, (extra, expected)) in cases.into_iter().enumerate() {
        let text = format!("{CALLBACK}{}", extra.replace('|', ""));
        let marker =
            CALLBACK.lines().count() + extra.lines().position(|l| l.contains('|')).unwrap_or(0);
        let line = extra.lines().find(|l| l.contains('|')).unwrap_or_default();
        let character = line
            .split('|')
            .next()
            .unwrap_or_default()
            .encode_utf16()
            .count();
        let version = i32::try_from(version).unwrap_or(0) + 1;
        if version == 1 {
            client.open(&uri, &text);
        } else {
            client.change(&uri, version, json!([{"text": text}]));
        }
        let items = client.call(
            "textDocument/completion",
            at(&uri, marker as u32, character as u32),
        );
        assert_eq!(labels(&items), expected, "{extra}");
    }
}

#[test]
fn formatting_is_one_edit_of_the_whole_document() {
    let dir = scratch("formatting");
    let messy = "flow f{say \"Привет\";hangup} // конец";
    let (_, uri) = write(&dir, "f.ivr", messy);
    let mut client = Client::start();
    client.initialize();
    client.open(&uri, messy);
    client.diagnostics(&uri);
    let options = json!({"tabSize": 8, "insertSpaces": false});
    let request = json!({"textDocument": {"uri": uri}, "options": options});
    let formatted = ivrc::fmt::format_source(messy).expect("formats");
    assert_ne!(formatted, messy);
    // The end of the text is 36 UTF-16 units (47 bytes) into its only line.
    assert_eq!(
        client.call("textDocument/formatting", request.clone()),
        json!([{"range": range(0, 0, 0, 36), "newText": formatted}])
    );
    client.change(&uri, 2, json!([{"text": formatted}]));
    assert_eq!(
        client.call("textDocument/formatting", request.clone()),
        json!([])
    );
    // With a syntax error there is nothing to format.
    client.change(&uri, 3, json!([{"text": "flow f { say }"}]));
    assert_eq!(client.call("textDocument/formatting", request), Value::Null);
}

#[test]
fn malformed_input_gets_errors_and_the_server_goes_on() {
    let dir = scratch("malformed");
    let (_, uri) = write(&dir, "callback.ivr", CALLBACK);
    let mut client = Client::start();
    let error_code = |response: &Value| response["error"]["code"].as_i64().expect("an error");

    // Before `initialize`.
    let early = client.request("textDocument/hover", at(&uri, 0, 0));
    assert_eq!(error_code(&early), -32002);
    let capabilities = client.initialize()["capabilities"].clone();
    assert_eq!(
        capabilities,
        json!({
            "positionEncoding": "utf-16",
            "textDocumentSync": {"openClose": true, "change": 2},
            "completionProvider": {"triggerCharacters": ["{"]},
            "hoverProvider": true,
            "definitionProvider": true,
            "referencesProvider": true,
            "documentSymbolProvider": true,
            "documentFormattingProvider": true
        })
    );
    client.open(&uri, CALLBACK);
    client.diagnostics(&uri);

    // A body that is not JSON, headers without a length, a message that is not an object.
    client.send_raw(b"Content-Length: 8\r\n\r\nnot json");
    let parse_error = client.response(&Value::Null);
    assert_eq!(error_code(&parse_error), -32700);
    client.send_raw(b"Garbage\r\n\r\n");
    assert_eq!(error_code(&client.response(&Value::Null)), -32700);
    client.send(&json!([1, 2]));
    assert_eq!(error_code(&client.response(&Value::Null)), -32600);

    // An unknown method; an unknown notification is ignored.
    client.notify("workspace/somethingElse", json!({}));
    assert_eq!(
        error_code(&client.request("textDocument/rename", json!({}))),
        -32601
    );
    assert_eq!(
        error_code(&client.request("textDocument/hover", json!({"x": 1}))),
        -32602
    );

    // A position past the end is an error; a column past its line's end means the end.
    let past = client.request("textDocument/hover", at(&uri, 99, 0));
    assert_eq!(error_code(&past), -32602);
    assert_eq!(
        past["error"]["message"],
        "line 99 is past the end of the document"
    );
    let clamped = client.call("textDocument/definition", at(&uri, 4, 999));
    assert_eq!(clamped, json!({"uri": uri, "range": range(4, 8, 4, 13)}));
    // A change to a document that is not open is reported, not applied.
    client.change("file:///nowhere.ivr", 2, json!([{"text": ""}]));
    let log = client.notification("window/logMessage");
    assert_eq!(log["params"]["type"], 2);

    // Still serving.
    let hover = client.call("textDocument/hover", at(&uri, 14, 3));
    assert!(hover["contents"]["value"]
        .as_str()
        .expect("text")
        .contains("hangup LEG"));

    assert_eq!(client.call("shutdown", Value::Null), Value::Null);
    let late = client.request("textDocument/hover", at(&uri, 14, 3));
    assert_eq!(error_code(&late), -32600);
    client.notify("exit", Value::Null);
    assert_eq!(client.exit_code(), 0);
}

#[test]
fn leaving_without_shutdown_exits_with_1() {
    let mut client = Client::start();
    client.initialize();
    client.notify("exit", Value::Null);
    assert_eq!(client.exit_code(), 1);
    // The input closed without `exit`.
    let mut client = Client::start();
    client.initialize();
    assert_eq!(client.exit_code(), 1);
}

/// The files of the real disk, for the server run in this process.
struct Disk;

impl ivrc::load::Files for Disk {
    fn read(&mut self, path: &Path) -> std::io::Result<Vec<u8>> {
        std::fs::read(path)
    }

    fn identity(&mut self, path: &Path) -> PathBuf {
        path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
    }
}

#[test]
fn every_fixture_and_example_answers_without_internal_errors() {
    // The server in this process, over messages in memory: each file of the repository is
    // opened, and every line is asked about at its start, middle and end.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut server = ivrc::lsp::Server::new(Disk);
    let mut id = 0;
    let mut ask = |server: &mut ivrc::lsp::Server<Disk>, method: &str, params: Value| {
        id += 1;
        let message = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let (answers, _) = server.receive(message.to_string().as_bytes());
        for a in &answers {
            assert!(a.get("error").is_none(), "{method} {params}: {a}");
        }
        answers
    };
    ask(&mut server, "initialize", json!({"capabilities": {}}));
    let mut files = Vec::new();
    for dir in ["examples", "tests/fixtures/ok", "tests/fixtures/err"] {
        for f in common::ivr_files(dir) {
            files.push(root.join(f));
        }
    }
    assert!(files.len() > 100, "{} files", files.len());
    for path in files {
        let text = String::from_utf8_lossy(&std::fs::read(&path).expect("readable")).into_owned();
        let uri = format!("file://{}", path.display());
        let open = json!({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {
            "textDocument": {"uri": uri, "languageId": "ivr", "version": 1, "text": text}}});
        let (published, _) = server.receive(open.to_string().as_bytes());
        assert!(
            published
                .iter()
                .all(|m| m["method"] == "textDocument/publishDiagnostics"),
            "{published:?}"
        );
        for (line, content) in text.lines().enumerate().take(200) {
            let width = content.encode_utf16().count();
            for character in [0, width / 2, width] {
                let p = at(&uri, line as u32, character as u32);
                ask(&mut server, "textDocument/hover", p.clone());
                ask(&mut server, "textDocument/definition", p.clone());
                ask(&mut server, "textDocument/completion", p.clone());
                let mut r = p;
                r["context"] = json!({"includeDeclaration": true});
                ask(&mut server, "textDocument/references", r);
            }
        }
        ask(
            &mut server,
            "textDocument/documentSymbol",
            json!({"textDocument": {"uri": uri}}),
        );
        let close = json!({"jsonrpc": "2.0", "method": "textDocument/didClose",
            "params": {"textDocument": {"uri": uri}}});
        server.receive(close.to_string().as_bytes());
    }
}
