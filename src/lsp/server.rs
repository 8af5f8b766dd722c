//! The message loop: JSON-RPC requests and notifications in, responses and notifications
//! out, the lifecycle (`initialize` … `shutdown`, `exit`), and the open documents with their
//! analyses.
//!
//! Owns answering everything a client may send, well-formed or not: a body that is not JSON
//! is a parse error, a message that is not a request a bad request, an unknown method
//! "method not found", parameters that do not fit "invalid params"; the loop goes on after
//! each. What a request answers is the business of the feature modules.

use super::document::Document;
use super::program::{document_path, normalize, Overlay, Program, View};
use super::transport::{self, Frame};
use super::{completion, diagnostics, formatting, hover, navigation};
use crate::load::Files;
use lsp_types::notification::{self as note, Notification as _};
use lsp_types::request::{self as req, Request as _};
use lsp_types::{
    CompletionOptions, HoverProviderCapability, InitializeResult, OneOf, Position,
    PositionEncodingKind, PublishDiagnosticsParams, ServerCapabilities, ServerInfo,
    TextDocumentSyncCapability, TextDocumentSyncKind, TextDocumentSyncOptions, Url,
};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{self, BufRead, Write};
use std::path::PathBuf;

/// JSON-RPC's error codes, and the protocol's own.
mod code {
    pub const PARSE_ERROR: i64 = -32700;
    pub const INVALID_REQUEST: i64 = -32600;
    pub const METHOD_NOT_FOUND: i64 = -32601;
    pub const INVALID_PARAMS: i64 = -32602;
    pub const INTERNAL_ERROR: i64 = -32603;
    pub const SERVER_NOT_INITIALIZED: i64 = -32002;
}

/// An error answer to a request.
#[derive(Debug)]
pub struct Error {
    code: i64,
    message: String,
}

impl Error {
    /// Parameters that do not fit the method, or name something that is not there.
    pub fn invalid_params(message: impl Into<String>) -> Error {
        Error {
            code: code::INVALID_PARAMS,
            message: message.into(),
        }
    }
}

/// What answering a request gives.
pub type Answer = Result<Value, Error>;

/// Where the session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before `initialize`.
    Uninitialized,
    /// Between `initialize` and `shutdown`.
    Running,
    /// After `shutdown`: only `exit` is expected.
    ShutDown,
}

/// An open document and the analysis of its program.
struct Open {
    path: PathBuf,
    doc: Document,
    program: Option<Program>,
}

/// The language server: the state between messages.
pub struct Server<F: Files> {
    files: F,
    state: State,
    docs: HashMap<Url, Open>,
    outbox: Vec<Value>,
}

/// Serves one client on `input` and `output` until `exit` or the end of the input. Returns
/// whether the session ended as the protocol asks: `exit` after `shutdown`.
pub fn serve(
    input: &mut impl BufRead,
    output: &mut impl Write,
    files: impl Files,
) -> io::Result<bool> {
    let mut server = Server::new(files);
    loop {
        let (outgoing, exit) = match transport::read(input)? {
            Frame::End => return Ok(server.state == State::ShutDown),
            Frame::Malformed(why) => (vec![error(Value::Null, code::PARSE_ERROR, &why)], None),
            Frame::Body(body) => server.receive(&body),
        };
        for message in &outgoing {
            transport::write(output, message)?;
        }
        if let Some(clean) = exit {
            return Ok(clean);
        }
    }
}

impl<F: Files> Server<F> {
    /// A server that reads the files of programs through `files`.
    pub fn new(files: F) -> Server<F> {
        Server {
            files,
            state: State::Uninitialized,
            docs: HashMap::new(),
            outbox: Vec::new(),
        }
    }

    /// Handles one message body. Returns the messages to send and, when the message was
    /// `exit`, whether the session ended cleanly.
    pub fn receive(&mut self, body: &[u8]) -> (Vec<Value>, Option<bool>) {
        let exit = match serde_json::from_slice::<Value>(body) {
            Err(e) => {
                let message = format!("the message is not JSON: {e}");
                self.outbox
                    .push(error(Value::Null, code::PARSE_ERROR, &message));
                None
            }
            Ok(message) => {
                // A panic is a bug; it costs the client one answer, not the session.
                let id = request_id(&message);
                match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    self.message(message)
                })) {
                    Ok(exit) => exit,
                    Err(_) => {
                        if let Some(id) = id {
                            let answer = error(id, code::INTERNAL_ERROR, "internal error");
                            self.outbox.push(answer);
                        }
                        None
                    }
                }
            }
        };
        (std::mem::take(&mut self.outbox), exit)
    }

    fn message(&mut self, message: Value) -> Option<bool> {
        let Value::Object(mut fields) = message else {
            let answer = error(
                Value::Null,
                code::INVALID_REQUEST,
                "a message is a JSON object",
            );
            self.outbox.push(answer);
            return None;
        };
        let params = fields.remove("params").unwrap_or(Value::Null);
        let id = fields.remove("id");
        let method = match fields.remove("method") {
            Some(Value::String(m)) => m,
            // A response to a request of ours: the server sends none, so there is nothing to do.
            None if fields.contains_key("result") || fields.contains_key("error") => return None,
            _ => {
                let id = id.filter(valid_id).unwrap_or(Value::Null);
                let answer = error(id, code::INVALID_REQUEST, "a request needs a method name");
                self.outbox.push(answer);
                return None;
            }
        };
        match id {
            None => return self.notification(&method, params),
            Some(id) if valid_id(&id) => {
                let answer = self.request(&method, params);
                self.outbox.push(match answer {
                    Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
                    Err(e) => error(id, e.code, &e.message),
                });
            }
            Some(_) => {
                let answer = error(
                    Value::Null,
                    code::INVALID_REQUEST,
                    "an id is a number or a string",
                );
                self.outbox.push(answer);
            }
        }
        None
    }

    fn request(&mut self, method: &str, params: Value) -> Answer {
        match (self.state, method) {
            (State::Uninitialized, req::Initialize::METHOD) => {
                self.state = State::Running;
                Ok(json!(initialize_result()))
            }
            (State::Uninitialized, _) => Err(Error {
                code: code::SERVER_NOT_INITIALIZED,
                message: "the server is not initialized".into(),
            }),
            (State::ShutDown, _) => Err(Error {
                code: code::INVALID_REQUEST,
                message: "the server is shutting down".into(),
            }),
            (State::Running, req::Initialize::METHOD) => Err(Error {
                code: code::INVALID_REQUEST,
                message: "the server is already initialized".into(),
            }),
            (State::Running, req::Shutdown::METHOD) => {
                self.state = State::ShutDown;
                Ok(Value::Null)
            }
            (State::Running, req::GotoDefinition::METHOD) => {
                let p: lsp_types::GotoDefinitionParams = parse(params)?;
                let at = p.text_document_position_params;
                self.with_view(&at.text_document.uri, at.position, navigation::definition)
            }
            (State::Running, req::References::METHOD) => {
                let p: lsp_types::ReferenceParams = parse(params)?;
                let at = p.text_document_position;
                let declaration = p.context.include_declaration;
                self.with_view(&at.text_document.uri, at.position, |view, offset| {
                    navigation::references(view, offset, declaration)
                })
            }
            (State::Running, req::HoverRequest::METHOD) => {
                let p: lsp_types::HoverParams = parse(params)?;
                let at = p.text_document_position_params;
                self.with_view(&at.text_document.uri, at.position, hover::hover)
            }
            (State::Running, req::Completion::METHOD) => {
                let p: lsp_types::CompletionParams = parse(params)?;
                let at = p.text_document_position;
                let triggered = p.context.and_then(|c| c.trigger_character);
                self.with_view(&at.text_document.uri, at.position, |view, offset| {
                    completion::complete(view, offset, triggered.as_deref())
                })
            }
            (State::Running, req::DocumentSymbolRequest::METHOD) => {
                let p: lsp_types::DocumentSymbolParams = parse(params)?;
                Ok(match self.view(&p.text_document.uri) {
                    Some(view) => json!(navigation::document_symbols(&view)),
                    None => Value::Null,
                })
            }
            (State::Running, req::Formatting::METHOD) => {
                let p: lsp_types::DocumentFormattingParams = parse(params)?;
                let doc = self.docs.get(&p.text_document.uri).map(|o| &o.doc);
                Ok(json!(doc.and_then(formatting::format)))
            }
            (State::Running, _) => Err(Error {
                code: code::METHOD_NOT_FOUND,
                message: format!("unknown method `{method}`"),
            }),
        }
    }

    /// Answers with `f` at `position` of the open document `uri`: null when the document is
    /// not open or not analysed, an error when the position is past its end.
    fn with_view<T: serde::Serialize>(
        &self,
        uri: &Url,
        position: Position,
        f: impl FnOnce(&View<'_>, usize) -> T,
    ) -> Answer {
        let Some(view) = self.view(uri) else {
            return Ok(Value::Null);
        };
        let offset = view.doc.offset(position).ok_or_else(|| {
            Error::invalid_params(format!(
                "line {} is past the end of the document",
                position.line
            ))
        })?;
        Ok(json!(f(&view, offset)))
    }

    fn view<'a>(&'a self, uri: &'a Url) -> Option<View<'a>> {
        let open = self.docs.get(uri)?;
        Some(View {
            uri,
            doc: &open.doc,
            program: open.program.as_ref()?,
        })
    }

    fn notification(&mut self, method: &str, params: Value) -> Option<bool> {
        if method == note::Exit::METHOD {
            return Some(self.state == State::ShutDown);
        }
        if self.state != State::Running {
            return None;
        }
        let result = match method {
            note::DidOpenTextDocument::METHOD => parse(params).map(|p| self.open(p)),
            note::DidChangeTextDocument::METHOD => parse(params).map(|p| self.change(p)),
            note::DidCloseTextDocument::METHOD => parse(params).map(|p| self.close(p)),
            // `initialized`, `$/cancelRequest` (answers are never late), settings, saves: no
            // state to change.
            _ => Ok(()),
        };
        if let Err(e) = result {
            self.log(&format!("`{method}` ignored: {}", e.message));
        }
        None
    }

    fn open(&mut self, p: lsp_types::DidOpenTextDocumentParams) {
        let d = p.text_document;
        let path = normalize(&document_path(&d.uri));
        let doc = Document::new(d.text, d.version);
        let open = Open {
            path: path.clone(),
            doc,
            program: None,
        };
        self.docs.insert(d.uri, open);
        self.reanalyse(&path);
    }

    fn change(&mut self, p: lsp_types::DidChangeTextDocumentParams) {
        let uri = p.text_document.uri;
        let Some(open) = self.docs.get_mut(&uri) else {
            self.log(&format!("a change to `{uri}`, which is not open, ignored"));
            return;
        };
        open.doc.apply(p.content_changes, p.text_document.version);
        let path = open.path.clone();
        self.reanalyse(&path);
    }

    fn close(&mut self, p: lsp_types::DidCloseTextDocumentParams) {
        let uri = p.text_document.uri;
        if let Some(open) = self.docs.remove(&uri) {
            self.publish(uri, Vec::new(), None);
            self.reanalyse(&open.path);
        }
    }

    /// Analyses again every open document whose program reads the file at `path` (the
    /// document at `path` included), and publishes their diagnostics.
    fn reanalyse(&mut self, path: &std::path::Path) {
        let stale: Vec<Url> = self
            .docs
            .iter()
            .filter(|(_, o)| o.path == path || o.program.as_ref().is_some_and(|p| p.reads(path)))
            .map(|(uri, _)| uri.clone())
            .collect();
        for uri in stale {
            let program = {
                let open = self
                    .docs
                    .values()
                    .map(|o| (o.path.clone(), o.doc.text.as_str()))
                    .collect();
                let mut overlay = Overlay {
                    open,
                    disk: &mut self.files,
                };
                let root = self
                    .docs
                    .get(&uri)
                    .map(|o| o.path.clone())
                    .unwrap_or_default();
                Program::analyse(&root, &mut overlay)
            };
            let Some(open) = self.docs.get_mut(&uri) else {
                continue;
            };
            open.program = program;
            let version = Some(open.doc.version);
            let diagnostics = self
                .view(&uri)
                .map(|view| diagnostics::of_document(&view))
                .unwrap_or_default();
            self.publish(uri, diagnostics, version);
        }
    }

    fn publish(&mut self, uri: Url, diagnostics: Vec<lsp_types::Diagnostic>, version: Option<i32>) {
        let params = PublishDiagnosticsParams {
            uri,
            diagnostics,
            version,
        };
        self.outbox.push(json!({
            "jsonrpc": "2.0",
            "method": note::PublishDiagnostics::METHOD,
            "params": params,
        }));
    }

    /// Tells the client something went wrong with a notification, which has no answer.
    fn log(&mut self, message: &str) {
        self.outbox.push(json!({
            "jsonrpc": "2.0",
            "method": note::LogMessage::METHOD,
            "params": {"type": lsp_types::MessageType::WARNING, "message": message},
        }));
    }
}

/// What the server can do: exactly what it answers.
fn initialize_result() -> InitializeResult {
    InitializeResult {
        capabilities: ServerCapabilities {
            position_encoding: Some(PositionEncodingKind::UTF16),
            text_document_sync: Some(TextDocumentSyncCapability::Options(
                TextDocumentSyncOptions {
                    open_close: Some(true),
                    change: Some(TextDocumentSyncKind::INCREMENTAL),
                    ..Default::default()
                },
            )),
            definition_provider: Some(OneOf::Left(true)),
            references_provider: Some(OneOf::Left(true)),
            hover_provider: Some(HoverProviderCapability::Simple(true)),
            completion_provider: Some(CompletionOptions {
                trigger_characters: Some(vec![completion::TRIGGER.into()]),
                ..Default::default()
            }),
            document_symbol_provider: Some(OneOf::Left(true)),
            document_formatting_provider: Some(OneOf::Left(true)),
            ..Default::default()
        },
        server_info: Some(ServerInfo {
            name: "ivrc".into(),
            version: Some(env!("CARGO_PKG_VERSION").into()),
        }),
    }
}

fn parse<T: DeserializeOwned>(params: Value) -> Result<T, Error> {
    serde_json::from_value(params).map_err(|e| Error::invalid_params(e.to_string()))
}

/// The id of a request, if `message` is one.
fn request_id(message: &Value) -> Option<Value> {
    let id = message.get("id")?;
    (message.get("method").is_some() && valid_id(id)).then(|| id.clone())
}

fn valid_id(id: &Value) -> bool {
    id.is_number() || id.is_string()
}

fn error(id: Value, code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}
