//! The Talkdesk seed's story in headless Chromium against the real binary: the agent logs
//! in; a customer's text appears live on the open page; Call has Twilio ring the agent, and
//! the customer's no-answer appears as a row; the agent replies with a template and the
//! delivered status appears live; a note; the customer's STOP disables the composer; a
//! reload keeps everything in order. Screenshots are saved for review
//! (`target/screenshots/console_story/`).

use super::browser::{Browser, WAIT};
use super::fake_twilio::FakeTwilio;
use super::{start, webhook, AGENT, CONSOLE_TOKEN, CUSTOMER, OURS};
use fantoccini::Locator;
use std::time::Duration;

/// Runs blocking HTTP of the test (the fake customer and Twilio) off the browser's runtime.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f)
        .await
        .expect("the blocking step ran")
}

/// Fills an input or textarea.
async fn type_into(b: &Browser, css: &str, text: &str) {
    let field = b.client().find(Locator::Css(css)).await.expect(css);
    field.send_keys(text).await.expect("typed");
}

/// Whether the page is still the one the test marked (no navigation happened).
async fn same_page(b: &Browser) {
    let marker = b.eval("return window.__marker === 1;").await;
    let navigations = b
        .eval("return performance.getEntriesByType('navigation').length;")
        .await;
    assert_eq!(
        (marker, navigations),
        (serde_json::json!(true), serde_json::json!(1)),
        "the page was reloaded"
    );
}

/// Waits until the page's event stream is open, then marks the page.
async fn live(b: &Browser) {
    b.wait_until("document.body.dataset.live === 'open'", WAIT)
        .await;
    b.eval("window.__marker = 1; return true;").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn console_story() {
    let Some(b) = Browser::start("console_story").await else {
        return;
    };
    let twilio = std::sync::Arc::new(FakeTwilio::start());
    let c = std::sync::Arc::new(start(&twilio, "story"));
    let page = format!("{}/console/contacts/{CUSTOMER}", c.console);

    // Log in: a wrong token first.
    b.goto(&format!("{}/console/login", c.console)).await;
    type_into(&b, "#token", "wrong").await;
    b.click("button[type=submit]").await;
    b.wait_for_text(".error", "That is not the console's token.", WAIT)
        .await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    type_into(&b, "#token", CONSOLE_TOKEN).await;
    b.click("button[type=submit]").await;
    b.wait_until("location.pathname === '/console/contacts'", WAIT)
        .await;
    let cookie_visible = b.eval("return document.cookie;").await;
    assert_eq!(
        cookie_visible,
        serde_json::json!(""),
        "the session cookie is HttpOnly"
    );

    // The customer's page, open and live; their text arrives without a reload.
    b.goto(&page).await;
    live(&b).await;
    let hc = c.clone();
    blocking(move || super::inbound_text(&hc, CUSTOMER, "SMtest1", "Please call me <b>now</b>"))
        .await;
    b.wait_for_text(
        "#timeline [data-sid='SMtest1'] .body",
        "Please call me <b>now</b>",
        WAIT,
    )
    .await;
    same_page(&b).await;
    b.wait_until(
        &format!(
            "document.querySelector(\"#contact-list li[data-contact='{CUSTOMER}']\") !== null"
        ),
        WAIT,
    )
    .await;
    // Another customer texts: their row appears on top of the list with a badge, and the
    // title counts the unread text (the open contact's own texts are read as they arrive).
    let hc = c.clone();
    blocking(move || super::inbound_text(&hc, "+447700900123", "SMother", "Are you open today?"))
        .await;
    let other_badge =
        "document.querySelector(\"#contact-list li[data-contact='+447700900123'] .badge\")";
    b.wait_until(&format!("{other_badge} !== null && {other_badge}.dataset.unread === '1' && !{other_badge}.hidden"), WAIT).await;
    b.wait_until("document.title.startsWith('(1) ')", WAIT)
        .await;
    let first = b
        .eval("return document.querySelector('#contact-list li').dataset.contact;")
        .await;
    assert_eq!(
        first,
        serde_json::json!("+447700900123"),
        "the latest activity first"
    );
    same_page(&b).await;
    b.screenshot("1-text-arrived").await;

    // Call: Twilio rings the agent; the customer does not answer.
    b.click("#call").await;
    let t = twilio.clone();
    let created = blocking(move || t.take(1)).await;
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].resource, "Calls.json");
    assert_eq!(created[0].form["To"], AGENT);
    assert!(created[0].form["Twiml"].contains(&format!("<Number>{CUSTOMER}</Number>")));
    b.wait_until(
        &format!("location.pathname === '/console/contacts/{CUSTOMER}'"),
        WAIT,
    )
    .await;
    live(&b).await;
    let (hc, sid) = (c.clone(), created[0].sid.clone());
    blocking(move || {
        let path = "/twilio/dial-result?contact=%2B15146300808";
        let form = [
            ("CallSid", sid.as_str()),
            ("DialCallStatus", "no-answer"),
            ("From", OURS),
            ("To", AGENT),
        ];
        assert_eq!(webhook(&hc, path, &form).status, 200);
    })
    .await;
    b.wait_for_text("#timeline .call-out .what", "Agent's call: no answer", WAIT)
        .await;
    same_page(&b).await;

    // Reply with a template; the counter counts it; Send.
    let select = b
        .client()
        .find(Locator::Css("#reply-template"))
        .await
        .expect("templates");
    select.select_by_label("Later").await.expect("picked");
    let text = b
        .eval("return document.getElementById('body').value;")
        .await;
    assert_eq!(
        text,
        serde_json::json!("Sorry we missed you — we'll call you back later today.")
    );
    // The page's counter agrees with the server's (console::segments).
    let count =
        ivrc::console::segments::count("Sorry we missed you — we'll call you back later today.");
    assert_eq!(
        count.encoding,
        ivrc::console::segments::Encoding::Ucs2,
        "an em dash is not GSM-7"
    );
    let shown = format!(
        "{} UTF-16 units · {} segment (UCS-2)",
        count.units, count.segments
    );
    b.wait_for_text("#segments", &shown, WAIT).await;
    b.screenshot("2-reply-composed").await;
    b.click("#composer button[type=submit]").await;
    let t = twilio.clone();
    let created = blocking(move || t.take(1)).await;
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].resource, "Messages.json");
    assert_eq!(
        created[0].form["Body"],
        "Sorry we missed you — we'll call you back later today."
    );
    let message = created[0].sid.clone();
    b.wait_until(
        &format!("location.pathname === '/console/contacts/{CUSTOMER}'"),
        WAIT,
    )
    .await;
    b.wait_for_text(
        &format!("#timeline [data-sid='{message}'] .status"),
        "queued",
        WAIT,
    )
    .await;
    live(&b).await;
    let hc = c.clone();
    let sid = message.clone();
    blocking(move || {
        let form = [
            ("MessageSid", sid.as_str()),
            ("MessageStatus", "delivered"),
            ("To", CUSTOMER),
            ("From", OURS),
        ];
        assert_eq!(webhook(&hc, "/twilio/message-status", &form).status, 204);
    })
    .await;
    b.wait_for_text(
        &format!("#timeline [data-sid='{message}'] .status"),
        "delivered",
        WAIT,
    )
    .await;
    same_page(&b).await;

    // A note.
    type_into(&b, "#note", "Left a text after the missed call").await;
    b.click("form[action$='/notes'] button").await;
    b.wait_for_text(
        "#timeline .note .body",
        "Left a text after the missed call",
        WAIT,
    )
    .await;
    live(&b).await;

    // STOP: the composer is disabled without a reload.
    let hc = c.clone();
    blocking(move || super::inbound_text(&hc, CUSTOMER, "SMtest2", "STOP")).await;
    b.wait_until("document.getElementById('body').disabled === true", WAIT)
        .await;
    b.wait_for_text("#opt-state", "opted out", WAIT).await;
    same_page(&b).await;
    b.screenshot("3-opted-out").await;

    // A reload keeps every row, in order, from the store; the flow did not answer STOP
    // (Twilio confirms opt-outs itself).
    b.goto(&page).await;
    let kinds = b
        .eval("return [...document.querySelectorAll('#timeline > li')].map(li => li.dataset.kind);")
        .await;
    assert_eq!(
        kinds,
        serde_json::json!([
            "sms-in", "sms-out", "call-out", "sms-out", "note", "sms-in", "opt-out"
        ]),
    );
    let disabled = b
        .eval("return document.getElementById('body').disabled;")
        .await;
    assert_eq!(disabled, serde_json::json!(true));
    b.screenshot("4-after-reload").await;
    b.close().await;
}
