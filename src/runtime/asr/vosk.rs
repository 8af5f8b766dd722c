//! A client for a Vosk server (alphacep's vosk-server, WebSocket protocol), the recognizer
//! Russian-speaking Asterisk users run with a Russian model: per listening one connection;
//! a text message `{"config": {"sample_rate": 8000, "phrase_list": […], "words": true}}`, then
//! the caller's audio as binary frames of 16-bit little-endian PCM; the server answers each
//! frame with `{"partial": …}` or, at the end of an utterance, `{"text": …, "result": [{"conf":
//! …}, …]}`; `{"eof" : 1}` asks for the final result before closing.

use super::{AsrError, Heard, Listening, Recognizer};
use futures_util::{SinkExt, StreamExt};
use std::sync::mpsc::sync_channel;
use tokio_tungstenite::tungstenite::Message;

/// Audio sent per frame: 0.1 s at 8 kHz.
const FRAME_SAMPLES: usize = 800;

/// A Vosk server at a `ws://` address.
#[derive(Debug, Clone)]
pub struct Vosk {
    url: String,
}

impl Vosk {
    /// A client for the server at `url` (`ws://host:port`).
    ///
    /// # Errors
    ///
    /// [`AsrError::Setup`] for an address that is not `ws://…`.
    pub fn new(url: &str) -> Result<Vosk, AsrError> {
        let rest = url
            .strip_prefix("ws://")
            .ok_or_else(|| AsrError::Setup(format!("`{url}` is not a ws:// address")))?;
        if rest.is_empty() || rest.contains(char::is_whitespace) {
            return Err(AsrError::Setup(format!("`{url}` is not a ws:// address")));
        }
        Ok(Vosk {
            url: url.to_string(),
        })
    }
}

impl Recognizer for Vosk {
    fn prepare(&self, _phrases: &[String]) -> Result<(), AsrError> {
        // The server's model decides what it can hear; nothing to check offline.
        Ok(())
    }

    fn listen(&self, phrases: &[String]) -> Result<Listening, AsrError> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| AsrError::Setup("the Vosk client needs the runtime's tokio".into()))?;
        let (audio, input) = sync_channel::<Vec<i16>>(super::QUEUE);
        let (heard_tx, heard) = tokio::sync::mpsc::unbounded_channel();
        // The call sends audio on a std channel; a thread moves it to the connection's task.
        let (frames_tx, mut frames) = tokio::sync::mpsc::unbounded_channel::<Vec<i16>>();
        std::thread::Builder::new()
            .name("ivrc-vosk-audio".into())
            .spawn(move || {
                while let Ok(samples) = input.recv() {
                    if frames_tx.send(samples).is_err() {
                        break;
                    }
                }
            })
            .map_err(|e| AsrError::Setup(format!("cannot start the Vosk client: {e}")))?;
        let config = serde_json::json!({
            "config": {
                "sample_rate": 8000,
                "phrase_list": phrases.iter().map(String::as_str).chain(["[unk]"]).collect::<Vec<_>>(),
                "words": true,
            }
        })
        .to_string();
        let url = self.url.clone();
        runtime.spawn(async move {
            let Ok((socket, _)) = tokio_tungstenite::connect_async(url.as_str()).await else {
                crate::errln!("ivrc: cannot reach the Vosk server at {url}");
                return;
            };
            let (mut send, mut receive) = socket.split();
            if send.send(Message::Text(config)).await.is_err() {
                return;
            }
            let mut pending: Vec<i16> = Vec::with_capacity(FRAME_SAMPLES);
            loop {
                tokio::select! {
                    frame = frames.recv() => match frame {
                        Some(samples) => {
                            pending.extend_from_slice(&samples);
                            if pending.len() >= FRAME_SAMPLES {
                                let bytes: Vec<u8> = pending.drain(..).flat_map(i16::to_le_bytes).collect();
                                if send.send(Message::Binary(bytes)).await.is_err() {
                                    break;
                                }
                            }
                        }
                        None => {
                            let _ = send.send(Message::Text(r#"{"eof" : 1}"#.into())).await;
                            // the final result, then the server closes
                            while let Some(Ok(m)) = receive.next().await {
                                if let Some(h) = result(&m) {
                                    let _ = heard_tx.send(h);
                                }
                            }
                            break;
                        }
                    },
                    answer = receive.next() => match answer {
                        Some(Ok(m)) => {
                            if let Some(h) = result(&m) {
                                if heard_tx.send(h).is_err() {
                                    break;
                                }
                            }
                        }
                        _ => break,
                    },
                }
            }
        });
        Ok(Listening { audio, heard })
    }
}

/// The text of a final result, with the mean word confidence; `None` for partials, empty
/// results and anything unreadable. `[unk]` — speech outside the phrase list — is passed on
/// as heard: it matches no phrase, so the flow takes `nomatch`.
fn result(message: &Message) -> Option<Heard> {
    let Message::Text(text) = message else {
        return None;
    };
    let json: serde_json::Value = serde_json::from_str(text).ok()?;
    let said = json.get("text")?.as_str()?.trim();
    if said.is_empty() {
        return None;
    }
    let confs: Vec<f64> = json
        .get("result")
        .and_then(|r| r.as_array())
        .map(|words| {
            words
                .iter()
                .filter_map(|w| w.get("conf")?.as_f64())
                .collect()
        })
        .unwrap_or_default();
    let confidence = if confs.is_empty() {
        1.0
    } else {
        (confs.iter().sum::<f64>() / confs.len() as f64) as f32
    };
    Some(Heard {
        text: said.to_string(),
        confidence,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_and_addresses() {
        let m = |t: &str| Message::Text(t.into());
        assert_eq!(result(&m(r#"{"partial": "гот"}"#)), None);
        assert_eq!(result(&m(r#"{"text": ""}"#)), None);
        let unknown = result(&m(r#"{"text": "[unk]"}"#)).expect("speech outside the list");
        assert_eq!((unknown.text.as_str(), unknown.confidence), ("[unk]", 1.0));
        assert_eq!(result(&m("not json")), None);
        let h = result(&m(r#"{"result": [{"word": "готов", "conf": 0.5}, {"word": "да", "conf": 1.0}], "text": "готов да"}"#)).expect("a result");
        assert_eq!((h.text.as_str(), h.confidence), ("готов да", 0.75));
        assert!(Vosk::new("ws://127.0.0.1:2700").is_ok());
        assert!(Vosk::new("http://127.0.0.1:2700").is_err());
        assert!(Vosk::new("ws://").is_err());
    }
}
