//! `ivrc calls`: the call records `ivrc run` wrote, oldest first — in the human format after
//! how each registration at a provider stands.

use crate::cli::{CallsArgs, Format};
use ivrc::store::{self, MediaQuality, RegistrationState, Store};

/// Milliseconds since the epoch at the start of a `YYYY-MM-DD` day (UTC).
fn day_start_ms(day: &str) -> Option<u64> {
    let mut parts = day.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let (y, m, d): (i64, i64, i64) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || y < 1970 {
        return None;
    }
    // Days from civil date (proleptic Gregorian), the inverse of store::utc.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400_000).ok()
}

/// Runs `ivrc calls`.
pub fn run(args: &CallsArgs) -> u8 {
    let since = match &args.since {
        None => 0,
        Some(day) => match day_start_ms(day) {
            Some(ms) => ms,
            None => {
                ivrc::errln!("error: --since `{day}` is not a day like 2026-11-22");
                return 2;
            }
        },
    };
    if let Some(file) = args.store.file().filter(|f| !f.exists()) {
        ivrc::errln!("error: no store at `{}`", file.display());
        return 2;
    }
    let read = Store::open_at(&args.store).and_then(|s| Ok((s.calls(since)?, s.registrations()?)));
    let (calls, registrations) = match read {
        Ok(c) => c,
        Err(e) => {
            ivrc::errln!("error: {e}");
            return 2;
        }
    };
    match args.format {
        Format::Json => match serde_json::to_string_pretty(&calls) {
            Ok(text) => ivrc::outln!("{text}"),
            Err(e) => {
                ivrc::errln!("error: {e}");
                return 2;
            }
        },
        Format::Human => {
            for r in &registrations {
                ivrc::outln!("{}", registration_line(r));
            }
            if calls.is_empty() {
                ivrc::outln!("no calls");
            }
            for c in &calls {
                // A call still going on (or whose instance stopped and has not started again).
                let ended = if c.ended_by == store::calls::RUNNING {
                    "still running".to_string()
                } else {
                    let seconds = c.ended_ms.saturating_sub(c.started_ms) as f64 / 1000.0;
                    format!("{seconds:.1} s  ended by {}", c.ended_by)
                };
                let values: Vec<String> =
                    c.values.iter().map(|(k, v)| format!("{k}={v}")).collect();
                ivrc::outln!(
                    "{}  {} → {}  flow {}  {ended}  keys \"{}\"  {}",
                    store::utc(c.started_ms),
                    c.caller,
                    c.called,
                    c.flow,
                    c.keys,
                    values.join(" ")
                );
                if let Some(r) = &c.report {
                    ivrc::outln!("    report {r}");
                }
                for t in &c.transfers {
                    let how = match t.how.as_str() {
                        "refer" => "took our REFER",
                        "redirect" => "was redirected (302)",
                        "bridge" => "refused REFER, bridged by us",
                        "failed" => "could not be handed over",
                        _ => "was being handed over",
                    };
                    let (leg, number, detail) = (&t.leg, &t.number, &t.detail);
                    ivrc::outln!("    transfer: {leg} to {number} {how} ({detail})");
                }
                if let Some(m) = &c.media {
                    ivrc::outln!("    {}", media_line(m));
                }
                for e in &c.errors {
                    ivrc::outln!("    error: {e}");
                }
            }
        }
    }
    0
}

/// The caller's media quality, in one line: what we measured, then what the caller reported.
fn media_line(m: &MediaQuality) -> String {
    let srtp = m
        .srtp
        .as_ref()
        .map(|s| format!(" (SRTP {}, {} refused)", s.suite, s.refused))
        .unwrap_or_default();
    let mut line = format!(
        "media{srtp}: sent {}, received {}, lost {}, jitter {:.1} ms",
        m.packets_sent, m.packets_received, m.packets_lost, m.jitter_ms
    );
    if let Some(p) = &m.peer {
        line.push_str(&format!(
            "; the caller lost {} ({:.1} % lately), jitter {:.1} ms",
            p.packets_lost,
            p.fraction_lost * 100.0,
            p.jitter_ms
        ));
        if let Some(rtt) = p.round_trip_ms {
            line.push_str(&format!(", round trip {rtt:.1} ms"));
        }
    }
    line
}

/// How a registration stands, in one line.
fn registration_line(r: &RegistrationState) -> String {
    let at = store::utc(r.at_ms);
    let until = r.until_ms.map(store::utc).unwrap_or_default();
    let how = match r.state.as_str() {
        "registered" => format!("registered at {at}, the binding holds until {until}"),
        "failed" => format!("failed at {at}: {}; next attempt at {until}", r.detail),
        "refused" => format!("refused at {at}: {}; not trying again", r.detail),
        "unregistered" => format!("unregistered at {at}"),
        _ => format!("{} at {at}: {}", r.state.replace('_', " "), r.detail),
    };
    format!("registration {}: {how}", r.account)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_lines() {
        let r = |state: &str, detail: &str, until_ms: Option<u64>| RegistrationState {
            account: "sip:ivrc@provider.test".into(),
            state: state.into(),
            detail: detail.into(),
            at_ms: 1_795_312_861_000,
            until_ms,
        };
        assert_eq!(
            registration_line(&r("registered", "", Some(1_795_312_921_000))),
            "registration sip:ivrc@provider.test: registered at 2026-11-22 02:01:01, the binding holds until 2026-11-22 02:02:01"
        );
        assert_eq!(
            registration_line(&r("failed", "the registrar did not answer", Some(1_795_312_866_000))),
            "registration sip:ivrc@provider.test: failed at 2026-11-22 02:01:01: the registrar did not answer; next attempt at 2026-11-22 02:01:06"
        );
        assert_eq!(
            registration_line(&r("refused", "403 Forbidden", None)),
            "registration sip:ivrc@provider.test: refused at 2026-11-22 02:01:01: 403 Forbidden; not trying again"
        );
        assert_eq!(
            registration_line(&r("not_unregistered", "no answer", None)),
            "registration sip:ivrc@provider.test: not unregistered at 2026-11-22 02:01:01: no answer"
        );
    }

    #[test]
    fn media_lines() {
        let mut m = MediaQuality {
            packets_sent: 251,
            packets_received: 226,
            packets_lost: 25,
            jitter_ms: 8.618,
            rtcp_sent: 2,
            rtcp_received: 0,
            peer: None,
            srtp: None,
        };
        assert_eq!(
            media_line(&m),
            "media: sent 251, received 226, lost 25, jitter 8.6 ms"
        );
        m.peer = Some(store::PeerReport {
            fraction_lost: 0.199,
            packets_lost: 7,
            jitter_ms: 20.0,
            round_trip_ms: Some(0.397),
        });
        assert_eq!(
            media_line(&m),
            "media: sent 251, received 226, lost 25, jitter 8.6 ms; the caller lost 7 (19.9 % lately), jitter 20.0 ms, round trip 0.4 ms"
        );
        m.peer = None;
        m.srtp = Some(store::SrtpUse {
            suite: "AES_CM_128_HMAC_SHA1_80".into(),
            refused: 1,
        });
        assert_eq!(
            media_line(&m),
            "media (SRTP AES_CM_128_HMAC_SHA1_80, 1 refused): sent 251, received 226, lost 25, jitter 8.6 ms"
        );
    }

    #[test]
    fn days() {
        assert_eq!(day_start_ms("1970-01-01"), Some(0));
        assert_eq!(
            day_start_ms("2026-11-22").map(store::utc),
            Some("2026-11-22 00:00:00".into())
        );
        assert_eq!(
            day_start_ms("2024-02-29").map(store::utc),
            Some("2024-02-29 00:00:00".into())
        );
        for bad in [
            "2026-13-01",
            "2026-1-01",
            "yesterday",
            "2026-11-22-1",
            "1969-12-31",
        ] {
            assert_eq!(day_start_ms(bad), None, "{bad}");
        }
    }
}
