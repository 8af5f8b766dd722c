//! The browser harness (tests/browser/) against a real page: a small server of this test on
//! 127.0.0.1 serves a page under a strict Content-Security-Policy (no inline script, as the
//! agent console will have), its script and a stream of server-sent events; headless Chromium
//! clicks, sees the page change without a reload, and shows an event the test sends.

mod browser;

use std::convert::Infallible;

use axum::http::header;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use axum::Router;
use browser::{Browser, WAIT};
use futures_util::Stream;
use tokio::sync::broadcast;

/// The page: a button, a status line and a list of events; all script is in /app.js.
const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>ivrc browser smoke</title></head>
<body>
<h1>Browser smoke</h1>
<button id="go" type="button">Go</button>
<p id="status">waiting</p>
<p id="live">connecting</p>
<ul id="events"></ul>
<script src="/app.js"></script>
</body>
</html>
"#;

/// The page's script: the click changes the status; each server event becomes a list item.
const SCRIPT: &str = r#""use strict";
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.cspViolations.push(e.violatedDirective);
});
document.getElementById("go").addEventListener("click", () => {
  document.getElementById("status").textContent = "clicked";
});
const events = new EventSource("/events");
events.addEventListener("open", () => {
  document.getElementById("live").textContent = "live";
});
events.addEventListener("message", (e) => {
  const item = document.createElement("li");
  item.textContent = e.data;
  document.getElementById("events").append(item);
});
"#;

/// No inline script or style, nothing from another origin.
const CSP: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; \
                   base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Serves the page on a free port of 127.0.0.1 until the test ends; answers its address and
/// the sender of the events that open pages receive.
async fn serve() -> (String, broadcast::Sender<String>) {
    let (events, _) = broadcast::channel::<String>(16);
    let sender = events.clone();
    let app = Router::new()
        .route(
            "/",
            get(|| async {
                (
                    [
                        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                        (header::CONTENT_SECURITY_POLICY, CSP),
                    ],
                    PAGE,
                )
            }),
        )
        .route(
            "/app.js",
            get(|| async { ([(header::CONTENT_TYPE, "text/javascript")], SCRIPT) }),
        )
        .route(
            "/events",
            get(move || {
                let events = sender.subscribe();
                async move { Sse::new(stream(events)).keep_alive(KeepAlive::default()) }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let addr = listener.local_addr().expect("its address");
    tokio::spawn(async move {
        axum::serve(listener, app)
            .await
            .expect("the page is served")
    });
    (format!("http://{addr}"), events)
}

/// The events sent after a page subscribed, as server-sent events.
fn stream(
    events: broadcast::Receiver<String>,
) -> impl Stream<Item = Result<Event, Infallible>> + Send {
    futures_util::stream::unfold(events, |mut events| async move {
        let text = events.recv().await.ok()?;
        Some((Ok(Event::default().data(text)), events))
    })
}

/// The page answers a click through its external script, in place: the same document (one
/// navigation, a value set before the click still there) and no CSP violation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_click_changes_the_page_in_place() {
    let Some(browser) = Browser::start("a_click_changes_the_page_in_place").await else {
        return;
    };
    let (url, _events) = serve().await;
    browser.goto(&url).await;
    assert_eq!(browser.text("#status").await, "waiting");
    browser.eval("window.beforeClick = 42; return null;").await;

    browser.click("#go").await;
    browser.wait_for_text("#status", "clicked", WAIT).await;

    let same_page = browser
        .eval(
            "return performance.getEntriesByType('navigation').length === 1 \
             && window.beforeClick === 42;",
        )
        .await;
    assert_eq!(same_page, true, "the click reloaded or left the page");
    let violations = browser.eval("return window.cspViolations;").await;
    assert_eq!(violations, serde_json::json!([]), "the page broke its CSP");
    let shot = browser.screenshot("clicked").await;
    let png = std::fs::read(&shot).expect("the screenshot is saved");
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{} is no PNG",
        shot.display()
    );
    browser.close().await;
}

/// An event the test sends on the server reaches the open page live, without a reload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_event_reaches_the_open_page() {
    let Some(browser) = Browser::start("a_server_event_reaches_the_open_page").await else {
        return;
    };
    let (url, events) = serve().await;
    browser.goto(&url).await;
    browser.wait_for_text("#live", "live", WAIT).await;

    events
        .send("call from +15550100 is ringing".to_string())
        .expect("the page is subscribed");
    browser
        .wait_for_text("#events li", "call from +15550100 is ringing", WAIT)
        .await;
    browser
        .wait_until(
            "document.querySelectorAll('#events li').length === 1 \
             && performance.getEntriesByType('navigation').length === 1",
            WAIT,
        )
        .await;
    browser.screenshot("event").await;
    browser.close().await;
}
