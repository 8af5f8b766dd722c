//! `ivrc run --campaign`: the dialer calls the leads through the trunk (sipp as the leads'
//! phones), the flow reports, and the campaign's state, results and call records agree.

use super::harness::{free_port, rtp_sink, sipp_uas, Runtime};
use std::time::Duration;

/// A result webhook on 127.0.0.1: answers the first POST with 500 and the rest with 200;
/// its URL and a handle that yields the bodies of the POSTs (after `posts` of them, or 30 s).
fn webhook(posts: usize) -> (String, std::thread::JoinHandle<Vec<serde_json::Value>>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/results", listener.local_addr().expect("addr"));
    let handle = std::thread::spawn(move || {
        let _ = listener.set_nonblocking(false);
        let mut bodies = Vec::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let mut seen = 0;
        while bodies.len() < posts && std::time::Instant::now() < deadline {
            let Ok((stream, _)) = listener.accept() else {
                break;
            };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut reader = BufReader::new(stream);
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            seen += 1;
            let status = if seen == 1 {
                "500 Internal Server Error"
            } else {
                "200 OK"
            };
            let _ = reader.get_mut().write_all(
                format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            );
            if seen > 1 {
                bodies.push(serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null));
            }
        }
        bodies
    });
    (url, handle)
}

#[test]
fn a_campaign_calls_every_lead_redials_the_busy_one_and_exports_the_results() {
    let trunk = free_port();
    let trunk_arg = format!("sip:127.0.0.1:{trunk}");
    let (sink, _) = rtp_sink(Duration::from_secs(1), Duration::from_secs(1));
    let results_path = format!(
        "{}/runtime-campaign-results.json",
        env!("CARGO_TARGET_TMPDIR")
    );
    let dir = super::harness::scratch("campaign-trunk");
    // The fixture with a result webhook of this test's own.
    let (url, posted) = webhook(3);
    let source = std::fs::read_to_string("tests/fixtures/runtime/campaign.ivr").expect("fixture");
    let flow_file = dir.join("campaign.ivr");
    std::fs::write(
        &flow_file,
        source.replace(
            "  rate 5/s\n",
            &format!("  rate 5/s\n  result_webhook \"{url}\"\n"),
        ),
    )
    .expect("flow");
    std::fs::copy(
        "tests/fixtures/runtime/campaign_leads.csv",
        dir.join("campaign_leads.csv"),
    )
    .expect("leads");
    let flow_arg = flow_file.display().to_string();
    // Иван and Мария answer; Борис is busy twice (attempts 2).
    let leads = sipp_uas(&dir, trunk, "uas_lead.xml", sink, &["-m", "4"]);
    let rt = Runtime::start(
        "campaign",
        &[flow_arg.as_str()],
        &[
            "--trunk",
            &trunk_arg,
            "--campaign",
            "notify",
            "--time-scale",
            "60",
            "--results",
            &results_path,
        ],
    );
    let store = rt.dir.join("calls.db");
    let (code, stdout, stderr) = rt.wait(Duration::from_secs(60));
    assert_eq!(code, 0, "{stderr}\n{stdout:#?}");
    let leads = leads.wait_with_output().expect("sipp");
    assert!(
        leads.status.success(),
        "the leads' sipp: {}",
        String::from_utf8_lossy(&leads.stderr)
    );
    assert!(
        stderr.contains("line 5: `phone`: `12` cannot be read"),
        "the bad row is reported: {stderr}"
    );
    assert!(
        stdout
            .iter()
            .any(|l| l == "campaign: 2 done, 1 failed, 0 pending; 4 calls placed"),
        "{stdout:#?}"
    );
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&results_path).expect("results"))
            .expect("json");
    let by_name = |name: &str| {
        results
            .as_array()
            .and_then(|a| a.iter().find(|l| l["params"]["name"] == name))
            .unwrap_or_else(|| panic!("{name} in {results:#}"))
            .clone()
    };
    let ivan = by_name("Иван");
    assert_eq!(
        (&ivan["state"], &ivan["attempts"], &ivan["result"]),
        (
            &serde_json::json!("done"),
            &serde_json::json!(1),
            &serde_json::json!({"heard": true})
        ),
        "{ivan:#}"
    );
    assert_eq!(ivan["params"]["phone"], "+79001111111", "normalized");
    assert_eq!(by_name("Мария")["state"], "done");
    let boris = by_name("Борис");
    assert_eq!(
        (&boris["state"], &boris["attempts"], &boris["outcome"]),
        (
            &serde_json::json!("failed"),
            &serde_json::json!(2),
            &serde_json::json!("busy")
        ),
        "{boris:#}"
    );
    // The calls themselves: Иван heard his name.
    let records = Runtime::calls(store.parent().expect("dir"));
    let ivan_call = records
        .iter()
        .find(|r| r["called"] == "+79001111111")
        .unwrap_or_else(|| panic!("{records:#?}"));
    assert_eq!(
        ivan_call["prompts"],
        serde_json::json!(["Здравствуйте, Иван."])
    );
    assert_eq!(ivan_call["report"]["ok"], true);
    let busy: Vec<_> = records
        .iter()
        .filter(|r| r["called"] == "+79000000000")
        .collect();
    assert_eq!(busy.len(), 2, "{records:#?}");
    assert!(busy.iter().all(|r| r["ended_by"] == "busy"));
    // The redial waited retry_after (1 min at 60×: 1 s).
    let gap =
        busy[1]["started_ms"].as_u64().unwrap_or(0) - busy[0]["ended_ms"].as_u64().unwrap_or(0);
    assert!(gap >= 950, "redialled after {gap} ms");
    // Each final lead was posted to the webhook, the first after a retry.
    let mut posted = posted.join().expect("webhook");
    posted.sort_by_key(|p| p["line"].as_u64());
    let states: Vec<(u64, &str)> = posted
        .iter()
        .map(|p| {
            (
                p["line"].as_u64().unwrap_or(0),
                p["state"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        states,
        [(2, "done"), (3, "done"), (4, "failed")],
        "{posted:#?}"
    );
    assert_eq!(posted[0]["lead"]["name"], "Иван");
    assert_eq!(posted[0]["result"], serde_json::json!({"heard": true}));
}

#[test]
fn a_campaign_killed_with_sigkill_resumes_without_losing_or_repeating_a_lead() {
    use ivrc::store::campaign::{CampaignState, LeadState};
    use ivrc::store::Location;
    let trunk = free_port();
    let trunk_arg = format!("sip:127.0.0.1:{trunk}");
    let (sink, _) = rtp_sink(Duration::from_secs(1), Duration::from_secs(1));
    let sipp_dir = super::harness::scratch("crash-trunk");
    let mut leads_csv = String::from("phone\n");
    for i in 1..=200 {
        leads_csv.push_str(&format!("+7900100{i:04}\n"));
    }
    let leads_file = sipp_dir.join("leads.csv");
    std::fs::write(&leads_file, leads_csv).expect("leads");
    let leads_arg = leads_file.display().to_string();
    let mut answering = sipp_uas(
        &sipp_dir,
        trunk,
        "uas_lead.xml",
        sink,
        &["-m", "1000", "-timeout", "150s"],
    );
    let args = [
        "--trunk",
        trunk_arg.as_str(),
        "--campaign",
        "crash",
        "--leads",
        leads_arg.as_str(),
        "--time-scale",
        "30",
        // Leases of 3 s: the killed run's leads are rescued 3 s after its last renewal.
        "--campaign-lease",
        "3",
    ];
    let files = ["tests/fixtures/runtime/crash.ivr"];
    let first = Runtime::start("crash", &files, &args);
    std::thread::sleep(Duration::from_secs(5));
    let dir = first.kill9();
    let store = Location::File(dir.join("calls.db"));
    let cut = {
        let mut state = CampaignState::open(&store, "crash", "test", 3_000).expect("state");
        let leads = state.leads().expect("leads");
        assert!(
            leads.iter().any(|l| l.state == LeadState::Calling),
            "the kill came while calls were on"
        );
        assert!(
            leads.iter().any(|l| l.state == LeadState::Pending),
            "and before the campaign was over"
        );
        leads
            .iter()
            .filter(|l| l.state == LeadState::Calling)
            .count()
    };
    let second = Runtime::start_in(dir, &files, &args);
    let (code, stdout, stderr) = second.wait(Duration::from_secs(120));
    let _ = answering.kill();
    let _ = answering.wait();
    assert_eq!(code, 0, "{stderr}\n{stdout:#?}");
    // The killed run's attempts were rescued once their leases expired, each once.
    let rescued: usize = stderr
        .lines()
        .filter_map(|l| l.split_once(" attempts were cut off ("))
        .filter_map(|(head, _)| head.rsplit(' ').next()?.parse::<usize>().ok())
        .sum();
    assert_eq!(rescued, cut, "{stderr}");
    let mut state = CampaignState::open(&store, "crash", "test", 3_000).expect("state");
    let leads = state.leads().expect("leads");
    assert_eq!(leads.len(), 200, "no lead lost");
    for l in &leads {
        assert_eq!(l.state, LeadState::Done, "line {}: {l:?}", l.line);
        assert!((1..=3).contains(&l.attempts), "line {}: {l:?}", l.line);
    }
    let interrupted = leads.iter().filter(|l| l.attempts == 2).count();
    assert_eq!(
        interrupted, cut,
        "exactly the cut-off leads were called again"
    );
    let attempts = state.attempts().expect("attempts");
    assert_eq!(
        attempts.len(),
        200 + cut,
        "one attempt per lead plus one per cut-off call"
    );
    for pair in attempts.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        if a.line == b.line {
            let ended = a.ended_ms.expect("every attempt closed");
            assert!(
                b.started_ms >= ended,
                "line {}: attempt {} started before attempt {} ended",
                a.line,
                b.attempt,
                a.attempt
            );
        }
    }
}

/// The same person listed twice, written two ways (`89001111111`, `+7 (900) 111-11-11`), with
/// lines to spare: the dialer calls the number once at a time — the second row waits until
/// the first row's call is over — and both rows are done.
#[test]
fn a_number_on_two_rows_is_never_called_twice_at_once() {
    let trunk = free_port();
    let trunk_arg = format!("sip:127.0.0.1:{trunk}");
    let (sink, _) = rtp_sink(Duration::from_secs(1), Duration::from_secs(1));
    let dir = super::harness::scratch("campaign-duplicates-trunk");
    let source = std::fs::read_to_string("tests/fixtures/runtime/campaign.ivr").expect("fixture");
    let flow_file = dir.join("campaign.ivr");
    std::fs::write(&flow_file, source.replace("  lines 2\n", "  lines 3\n")).expect("flow");
    std::fs::write(
        dir.join("campaign_leads.csv"),
        "name;phone\nИван;89001111111\nИван Петрович;+7 (900) 111-11-11\nМария;+79002222222\n",
    )
    .expect("leads");
    let flow_arg = flow_file.display().to_string();
    let leads = sipp_uas(&dir, trunk, "uas_lead.xml", sink, &["-m", "3"]);
    let rt = Runtime::start(
        "campaign-duplicates",
        &[flow_arg.as_str()],
        &["--trunk", &trunk_arg, "--campaign", "notify"],
    );
    let store_dir = rt.dir.clone();
    let (code, stdout, stderr) = rt.wait(Duration::from_secs(60));
    assert_eq!(code, 0, "{stderr}\n{stdout:#?}");
    let leads = leads.wait_with_output().expect("sipp");
    assert!(
        leads.status.success(),
        "the leads' sipp: {}",
        String::from_utf8_lossy(&leads.stderr)
    );
    assert!(
        stdout
            .iter()
            .any(|l| l == "campaign: 3 done, 0 failed, 0 pending; 3 calls placed"),
        "{stdout:#?}"
    );
    let records = Runtime::calls(&store_dir);
    let mut same: Vec<(u64, u64)> = records
        .iter()
        .filter(|r| r["called"] == "+79001111111")
        .map(|r| {
            (
                r["started_ms"].as_u64().unwrap_or(0),
                r["ended_ms"].as_u64().unwrap_or(u64::MAX),
            )
        })
        .collect();
    same.sort_unstable();
    assert_eq!(same.len(), 2, "{records:#?}");
    assert!(
        same[1].0 >= same[0].1,
        "the second call to +79001111111 started at {} before the first ended at {}",
        same[1].0,
        same[0].1
    );
    // Мария, on her own number, was called beside the first Иван, not after both.
    let maria = records
        .iter()
        .find(|r| r["called"] == "+79002222222")
        .unwrap_or_else(|| panic!("{records:#?}"));
    assert!(maria["started_ms"].as_u64().unwrap_or(u64::MAX) < same[0].1);
}

/// `text` spoken by espeak-ng (Russian) as headerless 8 kHz μ-law at `path`, `lead` seconds of
/// silence before it and `tail` after (as sipp's `rtp_stream` plays it).
pub fn spoken_ulaw(dir: &std::path::Path, text: &str, lead: &str, tail: &str, path: &str) {
    let wav = dir.join(format!("{path}.wav"));
    let spoke = std::process::Command::new("espeak-ng")
        .args(["-v", "ru", "-w"])
        .arg(&wav)
        .arg(text)
        .status()
        .is_ok_and(|s| s.success());
    assert!(spoke, "espeak-ng is required; run scripts/setup.sh");
    let converted = std::process::Command::new("sox")
        .arg(&wav)
        .args(["-r", "8000", "-c", "1", "-t", "ul"])
        .arg(dir.join(path))
        .args(["pad", lead, tail])
        .status()
        .is_ok_and(|s| s.success());
    assert!(converted, "sox is required; run scripts/setup.sh");
}

#[test]
fn a_campaign_with_detect_machine_greets_people_leaves_machines_alone_and_records_calls() {
    super::harness::require("espeak-ng", "--version");
    super::harness::require("sox", "--version");
    let trunk = free_port();
    let trunk_arg = format!("sip:127.0.0.1:{trunk}");
    let dir = super::harness::scratch("amd-trunk");
    for f in ["machine.ivr", "machine_leads.csv"] {
        std::fs::copy(format!("tests/fixtures/runtime/{f}"), dir.join(f)).expect("fixture");
    }
    spoken_ulaw(
        &dir,
        "Здравствуйте. Вы позвонили Ивану. Оставьте сообщение после сигнала.",
        "0.4",
        "3",
        "machine.ulaw",
    );
    spoken_ulaw(&dir, "алло", "0.6", "8", "person.ulaw");
    let results = dir.join("results.json");
    let (sink, _) = rtp_sink(Duration::from_secs(1), Duration::from_secs(1));
    let leads = sipp_uas(&dir, trunk, "uas_amd.xml", sink, &["-m", "2"]);
    let flow = dir.join("machine.ivr").display().to_string();
    let rt = Runtime::start_in(
        dir.clone(),
        &[&flow],
        &[
            "--trunk",
            &trunk_arg,
            "--campaign",
            "machines",
            "--results",
            &results.display().to_string(),
            "--recordings",
            &dir.join("recordings").display().to_string(),
        ],
    );
    let (code, stdout, stderr) = rt.wait(Duration::from_secs(60));
    assert_eq!(code, 0, "{stderr}\n{stdout:#?}");
    assert!(
        !stderr.contains("answering-machine"),
        "no warning any more: {stderr}"
    );
    let leads = leads.wait_with_output().expect("sipp");
    assert!(
        leads.status.success(),
        "{}",
        String::from_utf8_lossy(&leads.stderr)
    );
    let of = |phone: &str| super::harness::lead_result(&results, phone);
    let machine = of("+79000000001");
    assert_eq!(
        (&machine["state"], &machine["outcome"], &machine["attempts"]),
        (
            &serde_json::json!("failed"),
            &serde_json::json!("machine"),
            &serde_json::json!(1)
        ),
        "{machine:#}"
    );
    assert_eq!(of("+79000000002")["state"], "done");
    let calls = Runtime::calls(&dir);
    let call_of = |phone: &str| {
        calls
            .iter()
            .find(|r| r["called"] == phone)
            .unwrap_or_else(|| panic!("{phone}: {calls:#?}"))
            .clone()
    };
    let machine_call = call_of("+79000000001");
    assert_eq!(machine_call["ended_by"], "machine", "{machine_call:#}");
    assert_eq!(
        machine_call["prompts"],
        serde_json::json!([]),
        "not greeted"
    );
    let person_call = call_of("+79000000002");
    assert_eq!(
        person_call["prompts"],
        serde_json::json!(["Здравствуйте."]),
        "{person_call:#}"
    );
    // The person's call, recorded whole: «алло» on the left, our greeting on the right.
    let recording =
        super::harness::entry_of(&dir.join("calls.db"), "+79000000002", "call_recording");
    let file = recording["url"].as_str().unwrap_or_default();
    let reader = hound::WavReader::open(file).expect("the call's WAV");
    assert_eq!(
        (reader.spec().channels, reader.spec().sample_rate),
        (2, 8000)
    );
    let samples: Vec<i16> = reader
        .into_samples()
        .map(|s| s.expect("a sample"))
        .collect();
    let loud = |channel: usize| {
        samples
            .iter()
            .skip(channel)
            .step_by(2)
            .filter(|s| s.unsigned_abs() > 1_000)
            .count()
    };
    let (party, heard) = (loud(0), loud(1));
    eprintln!("loud samples: party {party}, heard {heard}");
    assert!(party > 300, "the person's «алло»: {party} loud samples");
    assert!(
        heard > 1_000,
        "the greeting they heard: {heard} loud samples"
    );
    // The machine's call is recorded too, from its answer: both calls, one file each.
    let files = std::fs::read_dir(dir.join("recordings"))
        .expect("the recordings")
        .count();
    assert_eq!(files, 2);
}
