//! The peers' sipp scenarios, written from a block's [`Plan`]: the caller of an inbound flow
//! and the trunk that answers as every party the runtime calls; and what they saw on the wire
//! (REFERs, MESSAGEs), read from their message traces.

use super::plan::{Act, Party, Plan, Start, MACHINE_GREETING};
use super::KEY_GAP_MS;
use ivrc::ir::Outcome;
use std::fmt::Write as _;
use std::path::Path;

/// The REFERs' targets and the MESSAGEs the peers received, from their message traces.
pub(super) fn wire(peers: &Path) -> (Vec<String>, Vec<String>) {
    let (mut refers, mut texts) = (Vec::new(), Vec::new());
    let Ok(entries) = std::fs::read_dir(peers) else {
        return (refers, texts);
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.ends_with("_messages.log") {
            continue;
        }
        let log = std::fs::read_to_string(e.path()).unwrap_or_default();
        // sipp writes each message after a line of dashes with the time and direction.
        for block in log.split("----------------------------------------------- ") {
            let Some((_, body)) = block.split_once("message received") else {
                continue;
            };
            let body = body.split_once('\n').map_or("", |(_, b)| b).trim_start();
            if body.starts_with("REFER ") {
                if let Some(to) = body.lines().find_map(|l| {
                    l.strip_prefix("Refer-To:")
                        .or_else(|| l.strip_prefix("Refer-to:"))
                }) {
                    let user = to.trim().trim_start_matches('<').trim_start_matches("sip:");
                    refers.push(user.split('@').next().unwrap_or_default().to_string());
                }
            }
            if body.starts_with("MESSAGE ") {
                let to = body
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or_default()
                    .trim_start_matches("sip:")
                    .split('@')
                    .next()
                    .unwrap_or_default()
                    .to_string();
                let text = body
                    .split_once("\r\n\r\n")
                    .or_else(|| body.split_once("\n\n"))
                    .map_or("", |(_, t)| t)
                    .trim_end();
                texts.push(format!("sms to {to} \"{text}\""));
            }
        }
    }
    (refers, texts)
}

/// An XML-safe copy of `text` (for CDATA-free attributes and comments).
pub(super) fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// sipp steps for `party`'s acts from `since` (its answer, on the call's clock) on; `bye` is
/// the party's BYE request.
pub(super) fn acts_xml(
    party: &Party,
    since: u64,
    bye: &str,
    dir: &Path,
    who: &str,
) -> (String, bool) {
    let mut xml = String::new();
    let mut at = since;
    let mut hung_up = false;
    for (n, (when, act)) in party.acts.iter().enumerate() {
        let pause = when.saturating_sub(at);
        if pause > 0 {
            let _ = writeln!(xml, "  <pause milliseconds=\"{pause}\"/>");
        }
        at = (*when).max(at);
        match act {
            Act::Press(keys) => {
                for (i, k) in keys.chars().enumerate() {
                    let name = match k {
                        '*' => "star".to_string(),
                        '#' => "pound".to_string(),
                        d => d.to_string(),
                    };
                    let _ = writeln!(
                        xml,
                        "  <nop><action><exec play_pcap_audio=\"/usr/share/sip-tester/dtmf_2833_{name}.pcap\"/></action></nop>"
                    );
                    // No pause after the last key: the flow may answer it at once (a REFER).
                    if i + 1 < keys.len() {
                        let _ = writeln!(xml, "  <pause milliseconds=\"{KEY_GAP_MS}\"/>");
                        at += KEY_GAP_MS;
                    }
                }
            }
            Act::Speak(text) => {
                // The words stream on while the party's later acts wait their turn.
                let name = format!("{who}-{n}");
                crate::calls::speak(dir, text, &name);
                let _ = writeln!(
                    xml,
                    "  <nop><action><exec rtp_stream=\"{name}.ulaw,1,0\"/></action></nop>"
                );
            }
            Act::Hangup => {
                let _ = writeln!(
                    xml,
                    "  <send retrans=\"500\"><![CDATA[\n{bye}\n  ]]></send>\n  <recv response=\"200\" crlf=\"true\"/>"
                );
                hung_up = true;
                break;
            }
        }
    }
    (xml, hung_up)
}

/// Answers `method` with 200 (or `status`) copying the request's dialog headers.
pub(super) fn reply(status: &str) -> String {
    format!(
        "  <send><![CDATA[\nSIP/2.0 {status}\n[last_Via:]\n[last_From:]\n[last_To:]\n[last_Call-ID:]\n[last_CSeq:]\nContent-Length: 0\n  ]]></send>\n"
    )
}

/// How a party that did not hang up itself ends: a REFER (202) then BYE from the runtime when
/// the flow transfers it, a BYE when the call ends, else its own BYE after a while.
pub(super) fn tail_xml(party: &Party, ends: bool, bye: &str) -> String {
    let mut xml = String::new();
    if party.transferred {
        let _ = writeln!(xml, "  <recv request=\"REFER\" timeout=\"60000\"/>");
        xml.push_str(&reply("202 Accepted"));
    }
    if ends || party.transferred {
        let _ = writeln!(xml, "  <recv request=\"BYE\" timeout=\"60000\"/>");
        xml.push_str(&reply("200 OK"));
    } else {
        let _ = writeln!(
            xml,
            "  <pause milliseconds=\"2000\"/>\n  <send retrans=\"500\"><![CDATA[\n{bye}\n  ]]></send>\n  <recv response=\"200\" crlf=\"true\"/>"
        );
    }
    xml
}

pub(super) const SDP: &str = "v=0\no=peer 1 1 IN IP[local_ip_type] [local_ip]\ns=-\nc=IN IP[media_ip_type] [media_ip]\nt=0 0\nm=audio [rtp_sink] RTP/AVP 0 101\na=rtpmap:0 PCMU/8000\na=rtpmap:101 telephone-event/8000\na=fmtp:101 0-15";

/// The caller of an inbound block.
pub(super) fn caller_scenario(plan: &Plan, dir: &Path) -> String {
    let from = &plan.from;
    let party = &plan.parties["caller"];
    let bye = format!("BYE sip:[service]@[remote_ip]:[remote_port] SIP/2.0\nVia: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\nFrom: <sip:{from}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]\nTo: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]\nCall-ID: [call_id]\nCSeq: 2 BYE\nContact: <sip:sipp@[local_ip]:[local_port]>\nMax-Forwards: 70\nContent-Length: 0");
    let (acts, hung_up) = acts_xml(party, 0, &bye, dir, "caller");
    let tail = if hung_up {
        String::new()
    } else {
        tail_xml(party, plan.ends, &bye)
    };
    let (acts, tail) = if plan.answered {
        (acts, tail)
    } else {
        (String::new(), String::new())
    };
    let setup = call_setup(plan.answered, from);
    format!(
        r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="differential caller">
  <send retrans="500"><![CDATA[
INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=z9hG4bK-inv-[call_number]-[pid]
From: <sip:{from}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: <sip:sipp@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

{SDP}
  ]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
{setup}{acts}{tail}  <timewait milliseconds="300"/>
</scenario>
"#
    )
}

/// The end of the caller's INVITE transaction: the 200 and its ACK, or the 480 of a flow that
/// never answered it and its ACK (in the INVITE's transaction).
pub(super) fn call_setup(answered: bool, from: &str) -> String {
    let (status, branch) = if answered {
        ("200", "[branch]")
    } else {
        ("480", "z9hG4bK-inv-[call_number]-[pid]")
    };
    format!(
        r#"  <recv response="{status}" rtd="true"/>
  <send><![CDATA[
ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch={branch}
From: <sip:{from}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
Contact: <sip:sipp@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Length: 0
  ]]></send>
"#
    )
}

/// The trunk: every party the runtime calls (told apart by the number called) and a 200 for
/// each text.
pub(super) fn trunk_scenario(plan: &Plan, dir: &Path) -> String {
    let mut branches = String::new();
    let mut tests = String::new();
    let mut eregs = String::new();
    for (i, (name, party)) in plan.parties.iter().enumerate() {
        if name == "caller" && !matches!(plan.start, Start::Lead(_)) {
            continue;
        }
        let number = party.number.replace('+', "\\+");
        let _ = writeln!(
            eregs,
            "      <ereg regexp=\"^INVITE sip:{number}@\" search_in=\"msg\" check_it=\"false\" assign_to=\"p{i}\"/>"
        );
        let _ = writeln!(tests, "  <nop hide=\"true\" test=\"p{i}\" next=\"p{i}\"/>");
        let _ = writeln!(
            branches,
            "  <label id=\"p{i}\"/>  <!-- {} -->",
            xml_escape(name)
        );
        let ringing = "  <send><![CDATA[\nSIP/2.0 180 Ringing\n[last_Via:]\n[last_From:]\n[last_To:];tag=[pid]SIPpTag01[call_number]\n[last_Call-ID:]\n[last_CSeq:]\nContent-Length: 0\n  ]]></send>\n";
        let refuse = |status: &str| {
            format!("  <send><![CDATA[\nSIP/2.0 {status}\n[last_Via:]\n[last_From:]\n[last_To:];tag=[pid]SIPpTag01[call_number]\n[last_Call-ID:]\n[last_CSeq:]\nContent-Length: 0\n  ]]></send>\n  <recv request=\"ACK\"/>\n")
        };
        match party.outcome.clone().unwrap_or(Outcome::NoAnswer) {
            Outcome::Busy => branches.push_str(&refuse("486 Busy Here")),
            Outcome::Failed => branches.push_str(&refuse("403 Forbidden")),
            Outcome::NoAnswer => {
                branches.push_str(ringing);
                branches.push_str("  <recv request=\"CANCEL\" timeout=\"60000\"/>\n");
                branches.push_str(&reply("200 OK"));
                branches.push_str("  <send><![CDATA[\nSIP/2.0 487 Request Terminated\n[last_Via:]\n[last_From:]\n[last_To:];tag=[pid]SIPpTag01[call_number]\n[last_Call-ID:]\nCSeq: 1 INVITE\nContent-Length: 0\n  ]]></send>\n  <recv request=\"ACK\"/>\n");
            }
            _ => {
                branches.push_str(ringing);
                let _ = write!(
                    branches,
                    "  <send retrans=\"500\"><![CDATA[\nSIP/2.0 200 OK\n[last_Via:]\n[last_From:]\n[last_To:];tag=[pid]SIPpTag01[call_number]\n[last_Call-ID:]\n[last_CSeq:]\nContact: <sip:party@[local_ip]:[local_port]>\nContent-Type: application/sdp\nContent-Length: [len]\n\n{SDP}\n  ]]></send>\n  <recv request=\"ACK\"/>\n"
                );
                let bye = "BYE [$contact] SIP/2.0\nVia: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\nFrom: <sip:party@[local_ip]:[local_port]>;tag=[pid]SIPpTag01[call_number]\nTo: [$ivrc]\nCall-ID: [$callid]\nCSeq: 1 BYE\nMax-Forwards: 70\nContent-Length: 0";
                if party.outcome == Some(Outcome::Machine) {
                    crate::campaign::spoken_ulaw(dir, MACHINE_GREETING, "0.4", "3", "machine.ulaw");
                    branches.push_str(
                        "  <nop><action><exec rtp_stream=\"machine.ulaw,1,0\"/></action></nop>\n",
                    );
                }
                if party.greets {
                    crate::campaign::spoken_ulaw(dir, "алло", "0.6", "3", "hello.ulaw");
                    branches.push_str(
                        "  <nop><action><exec rtp_stream=\"hello.ulaw,1,0\"/></action></nop>\n",
                    );
                }
                let (acts, hung_up) = acts_xml(party, party.answered_at, bye, dir, name);
                branches.push_str(&acts);
                if !hung_up {
                    branches.push_str(&tail_xml(party, plan.ends, bye));
                }
            }
        }
        branches.push_str("  <nop hide=\"true\" next=\"end\"/>\n");
    }
    format!(
        r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="differential trunk">
  <recv request="MESSAGE" optional="true" next="text" crlf="true"/>
  <recv request="INVITE" crlf="true">
    <action>
      <ereg regexp=".*" search_in="hdr" header="From:" assign_to="ivrc"/>
      <ereg regexp=".*" search_in="hdr" header="Call-ID:" assign_to="callid"/>
      <ereg regexp="&lt;(sip:[^&gt;]*)&gt;" search_in="hdr" header="Contact:" assign_to="dummy,contact"/>
{eregs}    </action>
  </recv>
  <nop><action><log message="[$ivrc] [$callid] [$dummy] [$contact]"/></action></nop>
{tests}  <nop hide="true" next="end"/>
{branches}  <label id="text"/>
{ok}  <label id="end"/>
  <timewait milliseconds="300"/>
</scenario>
"#,
        ok = reply("200 OK")
    )
}
