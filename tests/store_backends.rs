//! The store's conformance tests: every case runs on a SQLite file and on a PostgreSQL
//! database (tests/pg_server: `IVRC_PG_URL`, or a throwaway server started here) through the
//! one public `Store`, and must see the same behaviour on both.

#[path = "pg_server/mod.rs"]
mod pg_server;

use ivrc::store::calls::{TransferRecord, INTERRUPTED, RUNNING};
use ivrc::store::{
    CallRecord, Entry, EntryKind, LegRecord, Location, MediaQuality, PeerReport, RegistrationState,
    Row, SavedState, Store, StoreError,
};
use std::path::PathBuf;

/// One backend of a case: where its store is.
struct Backend {
    name: &'static str,
    location: Location,
}

/// The two backends for case `name`, each fresh: a SQLite file under target/tmp and a
/// database of its own on the test PostgreSQL (left out, with the reason printed, where
/// there is none and `CI` is not `true`).
fn backends(name: &str) -> Vec<Backend> {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("store-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    let mut out = vec![Backend {
        name: "sqlite",
        location: Location::File(dir.join("store.db")),
    }];
    if let Some(url) = pg_server::database(name) {
        out.push(Backend {
            name: "postgresql",
            location: url.parse().expect("the test server's URL"),
        });
    }
    out
}

fn record(call_id: &str, started_ms: u64) -> CallRecord {
    CallRecord {
        call_id: call_id.into(),
        flow: "sum".into(),
        caller: "+79001234567".into(),
        called: "sum".into(),
        started_ms,
        answered_ms: Some(started_ms + 100),
        ended_ms: started_ms + 9_000,
        ended_by: "flow".into(),
        keys: "12#30#".into(),
        path: vec![3, 4, 7],
        values: vec![
            ("a".into(), "12".into()),
            ("b".into(), "30".into()),
            ("sum".into(), "42".into()),
        ],
        prompts: vec!["Сумма равна сорока двум.".into()],
        phrases: vec![],
        report: Some(serde_json::json!({"status": "ok", "data": {"sum": 42, "z": [1, "два"]}})),
        errors: vec!["a prompt with \"quotes\" and \\ failed".into()],
        legs: vec![LegRecord {
            leg: "op".into(),
            number: "+74950000001".into(),
            sip_id: "leg-1".into(),
            started_ms: started_ms + 200,
            answered_ms: None,
            ended_ms: Some(started_ms + 300),
            outcome: "busy".into(),
            detail: "486 Busy Here".into(),
            ended_by: "callee".into(),
            media: None,
        }],
        texts: vec![],
        transfers: vec![TransferRecord {
            leg: "caller".into(),
            number: "+74951234567".into(),
            how: "bridge".into(),
            detail: "REFER 501, INVITE 200".into(),
        }],
        commands: vec![
            "say to caller \"Сумма равна сорока двум.\"".into(),
            "hangup".into(),
        ],
        instance: String::new(),
        media: Some(MediaQuality {
            packets_sent: 450,
            packets_received: 440,
            packets_lost: 10,
            jitter_ms: 1.25,
            rtcp_sent: 3,
            rtcp_received: 2,
            peer: Some(PeerReport {
                fraction_lost: 0.023,
                packets_lost: -1,
                jitter_ms: 0.5,
                round_trip_ms: Some(12.5),
            }),
            srtp: Some(ivrc::store::SrtpUse {
                suite: "AES_CM_128_HMAC_SHA1_32".into(),
                refused: 2,
            }),
        }),
    }
}

fn entry(at_ms: u64, kind: EntryKind, contact: &str, body: &str) -> Entry {
    Entry {
        at_ms,
        kind,
        contact: contact.into(),
        our_number: "+16502907793".into(),
        flow: "support".into(),
        sid: format!("SM{at_ms}"),
        body: Some(body.into()),
        url: None,
    }
}

#[test]
fn call_records_come_back_whole_oldest_first_and_from_a_day_on() {
    for b in backends("calls") {
        let store = Store::open_at(&b.location).expect("opens");
        assert!(store.calls(0).expect("reads").is_empty(), "{}", b.name);
        let (early, late, same) = (
            record("c1", 1_000),
            record("c2", 5_000),
            record("c3", 1_000),
        );
        store
            .add_rows(&[
                Row::Call(Box::new(late.clone())),
                Row::Call(Box::new(early.clone())),
                Row::Call(Box::new(same.clone())),
            ])
            .expect("written");
        // By start, and in the order written within one start.
        assert_eq!(
            store.calls(0).expect("reads"),
            [early.clone(), same.clone(), late.clone()],
            "{}",
            b.name
        );
        assert_eq!(store.calls(1_001).expect("reads"), [late], "{}", b.name);
        assert!(store.calls(5_001).expect("reads").is_empty(), "{}", b.name);
    }
}

#[test]
fn a_record_written_at_the_start_is_replaced_at_the_end_or_closed_after_a_crash() {
    for b in backends("running") {
        let store = Store::open_at(&b.location).expect("opens");
        let running = |call_id: &str, instance: &str| CallRecord {
            ended_by: RUNNING.into(),
            ended_ms: 1_000,
            instance: instance.into(),
            ..record(call_id, 1_000)
        };
        // Three calls start on two instances; one of instance A ends normally.
        let ended = CallRecord {
            instance: "198.18.0.4:5060".into(),
            ..record("ends", 1_000)
        };
        store
            .add_rows(&[
                Row::Call(Box::new(running("ends", "198.18.0.4:5060"))),
                Row::Call(Box::new(running("cut", "198.18.0.4:5060"))),
                Row::Call(Box::new(running("elsewhere", "198.18.0.5:5060"))),
            ])
            .expect("written");
        store
            .add_rows(&[Row::Call(Box::new(ended.clone()))])
            .expect("written");
        let by_id = |store: &Store| -> Vec<(String, String)> {
            store
                .calls(0)
                .expect("reads")
                .into_iter()
                .map(|c| (c.call_id, c.ended_by))
                .collect()
        };
        assert_eq!(
            by_id(&store),
            [
                ("cut".to_string(), RUNNING.to_string()),
                ("elsewhere".to_string(), RUNNING.to_string()),
                ("ends".to_string(), "flow".to_string()),
            ],
            "{}",
            b.name
        );
        // Instance A restarts: its cut-off call is closed, instance B's call is not touched.
        assert_eq!(
            store.interrupt_running("198.18.0.4:5060").expect("closes"),
            1
        );
        let calls = store.calls(0).expect("reads");
        let cut = calls.iter().find(|c| c.call_id == "cut").expect("kept");
        assert_eq!(cut.ended_by, INTERRUPTED, "{}", b.name);
        assert_eq!(cut.ended_ms, cut.started_ms);
        assert!(
            cut.errors
                .iter()
                .any(|e| e.contains("its instance stopped")),
            "{cut:?}"
        );
        assert_eq!(calls.len(), 3, "{}: {calls:#?}", b.name);
        assert!(calls.contains(&ended), "{}", b.name);
        assert_eq!(
            store.interrupt_running("198.18.0.4:5060").expect("again"),
            0
        );
    }
}

#[test]
fn the_last_change_of_each_account_is_kept_in_byte_order() {
    for b in backends("registrations") {
        let store = Store::open_at(&b.location).expect("opens");
        let state = |account: &str, state: &str, at_ms: u64, until_ms| RegistrationState {
            account: account.into(),
            state: state.into(),
            detail: if state == "failed" {
                "timeout".into()
            } else {
                String::new()
            },
            at_ms,
            until_ms,
        };
        store
            .add_rows(&[
                Row::Registration(state("sip:b@p", "failed", 1, Some(5_000))),
                Row::Registration(state("sip:B@p", "registered", 2, Some(60_000))),
                Row::Registration(state("sip:a@p", "registered", 3, Some(60_000))),
                Row::Registration(state("sip:b@p", "refused", 4, None)),
            ])
            .expect("written");
        assert_eq!(
            store.registrations().expect("reads"),
            [
                state("sip:B@p", "registered", 2, Some(60_000)),
                state("sip:a@p", "registered", 3, Some(60_000)),
                state("sip:b@p", "refused", 4, None),
            ],
            "{}",
            b.name
        );
    }
}

#[test]
fn entries_read_back_by_contact_by_page_and_after_an_id() {
    for b in backends("entries") {
        let store = Store::open_at(&b.location).expect("opens");
        let (a, c) = ("+15146300808", "+79001234567");
        assert_eq!(store.last_entry_id().expect("reads"), 0, "{}", b.name);
        let first = store
            .add(&entry(2_000, EntryKind::SmsIn, a, "Перезвоните мне"))
            .expect("added");
        let second = store
            .add(&entry(1_000, EntryKind::SmsOut, a, "100% _sure_"))
            .expect("added");
        let status = store
            .add(&entry(3_000, EntryKind::SmsStatus, a, "delivered"))
            .expect("added");
        let other = store
            .add(&entry(1_500, EntryKind::Call, c, ""))
            .expect("added");
        assert!(
            first < second && second < status && status < other,
            "{}",
            b.name
        );
        assert_eq!(store.last_entry_id().expect("reads"), other, "{}", b.name);

        // A timeline is in time order, whatever the order written.
        let timeline = store.timeline(a).expect("reads");
        assert_eq!(
            timeline
                .iter()
                .map(|e| (e.at_ms, e.kind))
                .collect::<Vec<_>>(),
            [
                (1_000, EntryKind::SmsOut),
                (2_000, EntryKind::SmsIn),
                (3_000, EntryKind::SmsStatus)
            ],
            "{}",
            b.name
        );
        assert_eq!(timeline[1].body.as_deref(), Some("Перезвоните мне"));
        assert_eq!(timeline[1].url, None);
        assert!(store.timeline("+10000000000").expect("reads").is_empty());

        // A page is in the order written, statuses left out; statuses alone.
        let page = store.timeline_page(a, None, 10).expect("reads");
        assert_eq!(
            page.iter().map(|s| s.id).collect::<Vec<_>>(),
            [first, second],
            "{}",
            b.name
        );
        let page = store.timeline_page(a, Some(second), 1).expect("reads");
        assert_eq!(page.iter().map(|s| s.id).collect::<Vec<_>>(), [first]);
        let statuses = store.delivery_statuses(a).expect("reads");
        assert_eq!(statuses.len(), 1);
        assert_eq!(statuses[0].id, status);
        assert_eq!(statuses[0].entry.body.as_deref(), Some("delivered"));

        // After an id, every contact's, at most `limit`.
        let after = store.entries_after(first, 2).expect("reads");
        assert_eq!(
            after.iter().map(|s| s.id).collect::<Vec<_>>(),
            [second, status],
            "{}",
            b.name
        );
        assert_eq!(
            store.entries_after(0, usize::MAX).expect("reads").len(),
            4,
            "{}",
            b.name
        );
    }
}

/// Several writers (servers sharing a store, the console) add entries at once while a reader
/// follows "the entries after the last one I saw", as the console's live feed does: the
/// reader sees every entry, none skipped because it committed after a later id.
#[test]
fn a_reader_following_new_entries_misses_none_of_several_writers() {
    const WRITERS: usize = 4;
    const EACH: usize = 150;
    for b in backends("entries_follow") {
        let done = std::sync::atomic::AtomicUsize::new(0);
        let seen = std::thread::scope(|scope| {
            for w in 0..WRITERS {
                let (location, done) = (&b.location, &done);
                scope.spawn(move || {
                    let store = Store::open_at(location).expect("opens");
                    for i in 0..EACH {
                        let contact = format!("+1555000{w:02}{i:02}");
                        store
                            .add(&entry(1_000, EntryKind::SmsIn, &contact, "hi"))
                            .expect("added");
                    }
                    done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                });
            }
            let reader = Store::open_at(&b.location).expect("opens");
            let mut last = 0;
            let mut seen = Vec::new();
            loop {
                let finished = done.load(std::sync::atomic::Ordering::SeqCst) == WRITERS;
                let rows = reader.entries_after(last, 1_000).expect("reads");
                if let Some(l) = rows.last() {
                    last = l.id;
                }
                seen.extend(rows.into_iter().map(|r| r.id));
                if finished && seen.len() >= WRITERS * EACH {
                    break seen;
                }
                if finished {
                    // One more read after the writers are done, then judge.
                    let rest = reader.entries_after(last, 100_000).expect("reads");
                    seen.extend(rest.into_iter().map(|r| r.id));
                    break seen;
                }
            }
        });
        let all = Store::open_at(&b.location)
            .expect("opens")
            .entries_after(0, 100_000)
            .expect("reads");
        assert_eq!(all.len(), WRITERS * EACH, "{}", b.name);
        let all: Vec<i64> = all.into_iter().map(|r| r.id).collect();
        assert_eq!(
            seen, all,
            "{}: the reader skipped or repeated entries",
            b.name
        );
    }
}

#[test]
fn the_writer_writes_everything_queued_before_it_is_dropped() {
    for b in backends("writer") {
        let writer = Store::open_at(&b.location).expect("opens").into_writer();
        for i in 0..2_000u64 {
            writer.add(entry(i, EntryKind::SmsIn, "+15146300808", "x"));
            if i % 500 == 0 {
                writer.add_call(record(&format!("c{i}"), i));
            }
        }
        writer.set_registration(RegistrationState {
            account: "sip:a@p".into(),
            state: "unregistered".into(),
            detail: String::new(),
            at_ms: 7,
            until_ms: None,
        });
        drop(writer);
        let store = Store::open_at(&b.location).expect("reopens");
        let timeline = store.timeline("+15146300808").expect("reads");
        assert_eq!(timeline.len(), 2_000, "{}", b.name);
        assert!(timeline.windows(2).all(|w| w[0].at_ms < w[1].at_ms));
        assert_eq!(store.calls(0).expect("reads").len(), 4, "{}", b.name);
        assert_eq!(store.registrations().expect("reads").len(), 1, "{}", b.name);
    }
}

#[test]
fn tables_are_made_once_and_a_newer_schema_is_refused() {
    for b in backends("schema") {
        let made = Store::migrate(&b.location).expect("made");
        assert_eq!(made.from, 0, "{}", b.name);
        assert!(made.to >= 1, "{}", b.name);
        let again = Store::migrate(&b.location).expect("up to date");
        assert_eq!((again.from, again.to), (made.to, made.to), "{}", b.name);
        // What a later ivrc would leave behind.
        let later = made.to + 1;
        match &b.location {
            Location::File(path) => rusqlite::Connection::open(path)
                .and_then(|db| db.pragma_update(None, "user_version", later))
                .expect("a later version"),
            Location::Postgres(_) => {
                let url = b.location.to_string();
                postgres::Client::connect(&url, postgres::NoTls)
                    .and_then(|mut db| db.execute("UPDATE ivrc_schema SET version = $1", &[&later]))
                    .map(drop)
                    .expect("a later version");
            }
        }
        for refused in [
            Store::migrate(&b.location).map(drop),
            Store::open_at(&b.location).map(drop),
        ] {
            match refused {
                Err(StoreError::Newer { found, known }) => {
                    assert_eq!((found, known), (later, made.to), "{}", b.name)
                }
                other => panic!("{}: a newer schema was not refused: {other:?}", b.name),
            }
        }
        let message = Store::open_at(&b.location)
            .err()
            .expect("refused")
            .to_string();
        assert_eq!(
            message,
            format!(
                "the store's tables are version {later}, newer than this ivrc's {}",
                made.to
            )
        );
    }
}

#[test]
fn contacts_come_by_last_activity_with_unread_counts_and_opt_outs() {
    for b in backends("contacts") {
        let store = Store::open_at(&b.location).expect("opens");
        let (x, y) = ("+15146300808", "+79001234567");
        let add = |kind, contact, body| {
            store
                .add(&entry(1_000, kind, contact, body))
                .expect("added")
        };
        add(EntryKind::SmsIn, x, "Please call me");
        let seen = add(EntryKind::SmsIn, x, "100% _sure_");
        add(EntryKind::SmsIn, y, "Перезвоните");
        let last_y = add(EntryKind::SmsOut, y, "Звоню");
        add(EntryKind::SmsStatus, y, "delivered");

        let all = store.contacts(None, None, 50).expect("lists");
        let order: Vec<(&str, u32)> = all.iter().map(|c| (c.contact.as_str(), c.unread)).collect();
        assert_eq!(
            order,
            [(y, 1), (x, 2)],
            "{}: statuses are no activity",
            b.name
        );
        assert_eq!(all[0].last.id, last_y, "{}", b.name);
        assert_eq!(store.unread_total().expect("counts"), 3, "{}", b.name);
        store.mark_read(x, seen).expect("read");
        store.mark_read(x, seen - 1).expect("never back");
        assert_eq!(store.unread(x).expect("counts"), 0, "{}", b.name);
        store.mark_unread(x, seen).expect("unread");
        assert_eq!(store.unread(x).expect("counts"), 1, "{}", b.name);
        assert_eq!(store.unread_total().expect("counts"), 2, "{}", b.name);

        // Paging by the last row seen, and searching digits or text (LIKE's wildcards literal).
        let next = store
            .contacts(None, Some(all[0].last.id), 50)
            .expect("lists");
        let next: Vec<&str> = next.iter().map(|c| c.contact.as_str()).collect();
        assert_eq!(next, [x], "{}", b.name);
        let found = |q: &str| -> Vec<String> {
            store
                .contacts(Some(q), None, 50)
                .expect("searches")
                .into_iter()
                .map(|c| c.contact)
                .collect()
        };
        assert_eq!(found("900 123"), [y], "{}", b.name);
        assert_eq!(
            found("please CALL"),
            [x],
            "{}: ASCII case is folded",
            b.name
        );
        assert_eq!(found("Перезвон"), [y], "{}", b.name);
        // SQLite's LIKE folds ASCII letters only; PostgreSQL's ILIKE every letter.
        let cyrillic_folded = found("перезвон") == [y];
        assert_eq!(cyrillic_folded, b.name == "postgresql", "{}", b.name);
        assert_eq!(found("100%"), [x], "{}", b.name);
        assert_eq!(found("0% _s"), [x], "{}", b.name);
        assert_eq!(found("%"), [x], "{}: a literal percent sign", b.name);
        assert!(found("no such text").is_empty(), "{}", b.name);

        assert!(!store.opted_out(x).expect("reads"), "{}", b.name);
        add(EntryKind::OptOut, x, "STOP");
        assert!(store.opted_out(x).expect("reads"), "{}", b.name);
        add(EntryKind::OptIn, x, "START");
        assert!(!store.opted_out(x).expect("reads"), "{}", b.name);
    }
}

#[test]
fn a_served_call_keeps_its_latest_state_until_it_is_forgotten() {
    for b in backends("call_states") {
        let store = Store::open_at(&b.location).expect("opens");
        let saved = |turn: u32, state: &str| SavedState {
            call_sid: "CA1".into(),
            flow: "callback".into(),
            turn,
            state: state.into(),
        };
        store
            .keep_call_state(&saved(2, "second"), 1_000)
            .expect("kept");
        // A turn that arrives late (from another server) does not replace a later one.
        store
            .keep_call_state(&saved(1, "first"), 1_001)
            .expect("kept");
        let kept = store.call_state("CA1").expect("reads");
        assert_eq!(kept, Some(saved(2, "second")), "{}", b.name);
        store
            .keep_call_state(&saved(3, "third"), 1_002)
            .expect("kept");
        let kept = store.call_state("CA1").expect("reads");
        assert_eq!(kept, Some(saved(3, "third")), "{}", b.name);
        assert_eq!(store.call_state("CA2").expect("reads"), None, "{}", b.name);
        store.forget_call_state("CA1", 0).expect("forgotten");
        assert_eq!(store.call_state("CA1").expect("reads"), None, "{}", b.name);
        // States older than the cut-off go with any forgotten call.
        store.keep_call_state(&saved(1, "old"), 500).expect("kept");
        store.forget_call_state("CA9", 600).expect("forgotten");
        assert_eq!(store.call_state("CA1").expect("reads"), None, "{}", b.name);
    }
}

#[test]
fn a_postgresql_store_reconnects_after_the_server_drops_it() {
    let Some(url) = pg_server::database("reconnect") else {
        return;
    };
    let store = Store::open_at(&url.parse().expect("a URL")).expect("opens");
    store
        .add_rows(&[Row::Call(Box::new(record("c1", 1)))])
        .expect("written");
    // Another session ends ours, as a server restart or a network cut would.
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).expect("connects");
    let ended = admin
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = current_database() AND application_name = 'ivrc'",
            &[],
        )
        .expect("terminates");
    assert_eq!(ended, 1);
    // The query on the dead connection fails (a clear error, no panic); the next one runs
    // on a fresh connection.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut failures = 0;
    let calls = loop {
        match store.calls(0) {
            Ok(c) => break c,
            Err(e) => {
                assert!(matches!(e, StoreError::Postgres(_)), "{e}");
                failures += 1;
                assert!(std::time::Instant::now() < deadline, "no reconnection: {e}");
            }
        }
    };
    assert!(failures <= 1, "{failures} failures before reconnecting");
    assert_eq!(calls.len(), 1);
    store
        .add_rows(&[Row::Call(Box::new(record("c2", 2)))])
        .expect("written after reconnecting");
    assert_eq!(store.calls(0).expect("reads").len(), 2);

    // The writer loses no batch to a connection closed while it was idle.
    let writer = store.into_writer();
    writer.add_call(record("c3", 3));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while Store::open_at(&url.parse().expect("a URL"))
        .and_then(|s| s.calls(0))
        .expect("reads")
        .len()
        < 3
    {
        assert!(std::time::Instant::now() < deadline, "c3 was not written");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let ended = admin
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = current_database() AND application_name = 'ivrc'",
            &[],
        )
        .expect("terminates");
    assert!(ended >= 1);
    writer.add_call(record("c4", 4));
    drop(writer);
    let ids: Vec<String> = Store::open_at(&url.parse().expect("a URL"))
        .and_then(|s| s.calls(0))
        .expect("reads")
        .into_iter()
        .map(|c| c.call_id)
        .collect();
    assert_eq!(ids, ["c1", "c2", "c3", "c4"]);
}

/// Milliseconds since the epoch (SQLite takes the caller's clock; PostgreSQL uses its own).
fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// `n` leads on lines 1..=n, each with a number of its own.
fn leads(n: usize) -> Vec<ivrc::ir::Lead> {
    (1..=n)
        .map(|line| ivrc::ir::Lead {
            line,
            values: [("phone".to_string(), format!("+7900{line:07}"))].into(),
        })
        .collect()
}

/// The campaign `c` of backend `b`, opened for `owner` with leases of `lease_ms`.
fn campaign_of(b: &Backend, owner: &str, lease_ms: u64) -> ivrc::store::campaign::CampaignState {
    ivrc::store::campaign::CampaignState::open(&b.location, "c", owner, lease_ms).expect("opens")
}

/// A claimed attempt ended as `state` (no retry).
fn ended(
    claimed: &ivrc::store::campaign::Claimed,
    state: ivrc::store::campaign::LeadState,
) -> ivrc::store::campaign::LeadRow {
    ivrc::store::campaign::LeadRow {
        state,
        outcome: "ok".into(),
        ..claimed.lead.clone()
    }
}

#[test]
fn two_instances_claiming_at_once_never_get_the_same_lead() {
    use ivrc::store::campaign::{Finished, LeadState, Limits};
    for b in backends("claim_race") {
        let limits = Limits {
            lines: 1_000,
            rate: None,
        };
        assert_eq!(
            campaign_of(&b, "loader", 15_000)
                .prepare(limits, &leads(300), now_ms())
                .expect("loads"),
            300
        );
        // Both instances load the same file again: nothing is added twice.
        let b = std::sync::Arc::new(b);
        let threads: Vec<_> = ["a", "b"]
            .into_iter()
            .map(|owner| {
                let b = b.clone();
                std::thread::spawn(move || {
                    let mut st = campaign_of(&b, owner, 15_000);
                    assert_eq!(st.prepare(limits, &leads(300), now_ms()).expect("loads"), 0);
                    let mut mine = Vec::new();
                    loop {
                        let claim = st
                            .claim(7, &["phone".to_string()], now_ms())
                            .expect("claims");
                        if claim.leads.is_empty() {
                            if claim.unfinished == 0 {
                                break;
                            }
                            continue;
                        }
                        for c in &claim.leads {
                            assert_eq!(c.attempt, 1);
                            assert!(
                                c.call_id.starts_with(&format!("c-{}-1-", c.lead.line)),
                                "{}",
                                c.call_id
                            );
                            let written = st
                                .finish(c, &ended(c, LeadState::Done), 0, now_ms())
                                .expect("finishes");
                            assert_eq!(written, Finished::Written);
                            mine.push(c.lead.line);
                        }
                    }
                    mine
                })
            })
            .collect();
        let mut all: Vec<usize> = Vec::new();
        let mut each = Vec::new();
        for t in threads {
            let mine = t.join().expect("an instance");
            each.push(mine.len());
            all.extend(mine);
        }
        all.sort_unstable();
        assert_eq!(
            all,
            (1..=300).collect::<Vec<_>>(),
            "{}: every lead once",
            b.name
        );
        // On PostgreSQL the two really interleave (SQLite's one writer may let one instance
        // take every lead before the other gets the file; the leads are still disjoint).
        if b.name == "postgresql" {
            assert!(
                each.iter().all(|n| *n > 0),
                "{}: both claimed: {each:?}",
                b.name
            );
        }
        let mut st = campaign_of(&b, "reader", 15_000);
        let attempts = st.attempts().expect("reads");
        assert_eq!(attempts.len(), 300, "{}", b.name);
        assert!(st
            .leads()
            .expect("reads")
            .iter()
            .all(|l| l.state == LeadState::Done && l.attempts == 1));
    }
}

#[test]
fn the_line_limit_and_the_rate_hold_across_instances() {
    use ivrc::store::campaign::{Finished, LeadState, Limits, LOOKAHEAD_MS};
    for b in backends("claim_limits") {
        // Three lines over two instances.
        let limits = Limits {
            lines: 3,
            rate: None,
        };
        let (mut a, mut z) = (campaign_of(&b, "a", 15_000), campaign_of(&b, "z", 15_000));
        a.prepare(limits, &leads(10), now_ms()).expect("loads");
        let first = a.claim(5, &[], now_ms()).expect("claims");
        assert_eq!(first.leads.len(), 3, "{}", b.name);
        let none = z.claim(5, &[], now_ms()).expect("claims");
        assert!(none.leads.is_empty(), "{}: the lines are taken", b.name);
        assert_eq!(none.unfinished, 10);
        let c = &first.leads[0];
        assert_eq!(
            a.finish(c, &ended(c, LeadState::Done), 0, now_ms())
                .expect("finishes"),
            Finished::Written
        );
        let one = z.claim(5, &[], now_ms()).expect("claims");
        assert_eq!(one.leads.len(), 1, "{}: one line came free", b.name);
        assert_eq!((one.finished, one.unfinished), (1, 9));
    }
    for b in backends("claim_rate") {
        // 20 calls a second, evenly spaced, over two instances claiming as fast as they can.
        let limits = Limits {
            lines: 10_000,
            rate: Some((20, 1_000)),
        };
        campaign_of(&b, "loader", 15_000)
            .prepare(limits, &leads(2_000), now_ms())
            .expect("loads");
        let b = std::sync::Arc::new(b);
        let threads: Vec<_> = ["a", "z"]
            .into_iter()
            .map(|owner| {
                let b = b.clone();
                std::thread::spawn(move || {
                    let mut st = campaign_of(&b, owner, 15_000);
                    let start = std::time::Instant::now();
                    let mut claimed = 0;
                    while start.elapsed() < std::time::Duration::from_millis(1_500) {
                        let claim = st.claim(50, &[], now_ms()).expect("claims");
                        for c in &claim.leads {
                            assert!(c.start_in_ms <= LOOKAHEAD_MS);
                        }
                        claimed += claim.leads.len();
                        std::thread::sleep(std::time::Duration::from_millis(5));
                    }
                    claimed
                })
            })
            .collect();
        let claimed: Vec<usize> = threads
            .into_iter()
            .map(|t| t.join().expect("runs"))
            .collect();
        assert!(claimed.iter().all(|n| *n > 0), "{}: {claimed:?}", b.name);
        let mut starts: Vec<u64> = campaign_of(&b, "reader", 15_000)
            .attempts()
            .expect("reads")
            .iter()
            .map(|a| a.started_ms)
            .collect();
        starts.sort_unstable();
        // 1.5 s of claims reserve slots up to LOOKAHEAD_MS ahead: 1.75 s × 20, + 1 for the
        // first slot.
        assert!(
            (25..=36).contains(&starts.len()),
            "{}: {} starts",
            b.name,
            starts.len()
        );
        // Evenly spaced: never closer than the rate's interval, so never more than the rate
        // within a second (a late start pushes the next back).
        assert!(
            starts.windows(2).all(|p| p[1] - p[0] >= 50),
            "{}: {starts:?}",
            b.name
        );
    }
}

#[test]
fn an_expired_lease_is_rescued_and_the_late_finish_of_its_old_owner_is_refused() {
    use ivrc::store::campaign::{Finished, LeadState, Limits};
    let interrupted = |lead: &mut ivrc::store::campaign::LeadRow, now: u64| {
        lead.state = LeadState::Pending;
        lead.outcome = "interrupted".into();
        lead.next_at_ms = now;
    };
    for b in backends("rescue") {
        let limits = Limits {
            lines: 10,
            rate: None,
        };
        // Instance a dies holding lead 1 (a 300 ms lease); z holds lead 2 and renews it; y
        // holds lead 3 on a long lease.
        let (mut a, mut z, mut y) = (
            campaign_of(&b, "a", 300),
            campaign_of(&b, "z", 300),
            campaign_of(&b, "y", 60_000),
        );
        a.prepare(limits, &leads(3), now_ms()).expect("loads");
        let zombie = a.claim(1, &[], now_ms()).expect("claims").leads.remove(0);
        let live = z.claim(1, &[], now_ms()).expect("claims").leads.remove(0);
        let long = y.claim(1, &[], now_ms()).expect("claims").leads.remove(0);
        assert_eq!(
            (zombie.lead.line, live.lead.line, long.lead.line),
            (1, 2, 3)
        );
        // A starting instance finds every lease live: it touches nothing.
        let mut starting = campaign_of(&b, "s", 300);
        assert!(
            starting
                .rescue(now_ms(), interrupted)
                .expect("rescues")
                .is_empty(),
            "{}",
            b.name
        );
        for _ in 0..6 {
            std::thread::sleep(std::time::Duration::from_millis(100));
            assert_eq!(z.renew(&[2], now_ms()).expect("renews"), 1, "{}", b.name);
        }
        // Only a's lease has expired.
        let rescued = starting.rescue(now_ms(), interrupted).expect("rescues");
        assert_eq!(
            rescued.iter().map(|l| l.line).collect::<Vec<_>>(),
            [1],
            "{}",
            b.name
        );
        assert!(starting
            .rescue(now_ms(), interrupted)
            .expect("again")
            .is_empty());
        let attempts = starting.attempts().expect("reads");
        assert_eq!(attempts[0].outcome.as_deref(), Some("interrupted"));
        assert!(attempts[0].ended_ms.is_some());
        assert_eq!((attempts[0].owner.as_str(), attempts[0].fence), ("a", 1));
        // The old owner comes back and finishes: refused, the lead untouched.
        assert_eq!(
            a.finish(&zombie, &ended(&zombie, LeadState::Done), 0, now_ms())
                .expect("answers"),
            Finished::LeaseLost,
            "{}",
            b.name
        );
        // Another instance claims the lead again (a new fence); the zombie is refused again,
        // and even a renewal of it by its old owner does nothing.
        let again = starting.claim(5, &[], now_ms()).expect("claims").leads;
        assert_eq!(again.len(), 1, "{}", b.name);
        assert_eq!(
            (again[0].lead.line, again[0].attempt, again[0].fence),
            (1, 2, 2)
        );
        assert_eq!(a.renew(&[1], now_ms()).expect("renews"), 0);
        assert_eq!(
            a.finish(&zombie, &ended(&zombie, LeadState::Done), 0, now_ms())
                .expect("answers"),
            Finished::LeaseLost
        );
        assert_eq!(
            starting
                .finish(&again[0], &ended(&again[0], LeadState::Done), 0, now_ms())
                .expect("finishes"),
            Finished::Written
        );
        let leads = starting.leads().expect("reads");
        assert_eq!(
            leads
                .iter()
                .map(|l| (l.state, l.attempts))
                .collect::<Vec<_>>(),
            [
                (LeadState::Done, 2),
                (LeadState::Calling, 1),
                (LeadState::Calling, 1)
            ],
            "{}",
            b.name
        );
    }
}

#[test]
fn a_claim_that_waited_for_the_campaigns_row_times_its_slots_from_when_it_got_it() {
    use ivrc::store::campaign::Limits;
    let Some(url) = pg_server::database("claim_wait") else {
        return;
    };
    let b = Backend {
        name: "postgresql",
        location: url.parse().expect("the test server's URL"),
    };
    let limits = Limits {
        lines: 100,
        rate: Some((20, 1_000)),
    };
    let mut a = campaign_of(&b, "a", 15_000);
    a.prepare(limits, &leads(10), now_ms()).expect("loads");
    // Another instance holds the campaign's row for 600 ms, its pacing 300 ms ahead of the
    // moment it took it.
    let mut other = postgres::Client::connect(&url, postgres::NoTls).expect("connects");
    let mut tx = other.transaction().expect("begins");
    tx.execute(
        "UPDATE campaigns SET pace_next_ms = extract(epoch FROM clock_timestamp()) * 1000 + 300
         WHERE name = 'c'",
        &[],
    )
    .expect("locks the row");
    let claimer = std::thread::spawn(move || {
        let asked = std::time::Instant::now();
        let claim = a.claim(1, &[], now_ms()).expect("claims");
        (asked.elapsed(), claim)
    });
    std::thread::sleep(std::time::Duration::from_millis(600));
    tx.commit().expect("commits");
    let (waited, claim) = claimer.join().expect("the claimer");
    assert!(
        waited >= std::time::Duration::from_millis(500),
        "{waited:?}"
    );
    // The slot 300 ms after the lock was taken was due when the claim got the row: its call
    // starts at once, not 300 ms after the answer.
    assert!(
        claim.leads[0].start_in_ms < 100,
        "{}: {:?}",
        b.name,
        claim.leads[0]
    );
}
