//! `ivrc serve`: check flow files, then answer Twilio's webhooks for them over HTTP.
//!
//! Reads the files, refuses flows with constructs the server cannot run (with the same
//! diagnostics as `ivrc build`), takes its secrets from the environment (`IVRC_STATE_KEY`
//! seals call states, random per start when unset; `TWILIO_AUTH_TOKEN` turns on signature
//! checks; with `TWILIO_ACCOUNT_SID` too, calls can send text messages through the REST API
//! at `TWILIO_API_BASE`, `https://api.twilio.com` by default) and runs `ivrc::serve::http` on
//! a tokio runtime until Ctrl-C — with `--console-listen`, the agent console beside it
//! (`IVRC_CONSOLE_TOKEN` to log in, `IVRC_AGENT_PHONE` for the Call button,
//! `IVRC_CONSOLE_FROM` for texts to contacts who never dealt with one of our numbers).
//! With `--campaign NAME` it also runs the campaign: the dialer of `ivrc run --campaign` places
//! the calls through Twilio (`ivrc::serve::placer`), they come back to this server's webhooks,
//! and it stops when every lead is finished (Ctrl-C: no new calls, those under way finish).

use crate::cli::ServeArgs;
use ivrc::console;
use ivrc::runtime::blocklist::BlockList;
use ivrc::runtime::dialer::Dialer;
use ivrc::serve::capabilities;
use ivrc::serve::http::{self, App, Config};
use ivrc::serve::outbound::TwilioApi;
use ivrc::serve::placer::Placer;
use ivrc::store::Store;
use std::sync::Arc;
use std::time::Duration;

/// A campaign this server runs: the campaign, its flow's index, its leads, the columns of the
/// numbers its calls go to.
type CampaignRun = (ivrc::ir::Campaign, usize, Vec<ivrc::ir::Lead>, Vec<String>);

/// How long a sealed call state stays valid: longer than any call step waits.
const STATE_TTL_SECS: u64 = 4 * 60 * 60;

/// Runs `ivrc serve`.
pub fn run(args: &ServeArgs) -> u8 {
    let program = match super::check::program_for(
        &args.files,
        args.format,
        if args.records.is_some() {
            capabilities::capabilities_with_records
        } else {
            capabilities::capabilities
        },
    ) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let auth_token = std::env::var("TWILIO_AUTH_TOKEN")
        .ok()
        .filter(|t| !t.is_empty());
    if auth_token.is_some() && args.base_url.is_none() {
        ivrc::errln!("error: TWILIO_AUTH_TOKEN is set but --base-url is not: signatures are computed over the public URL");
        return 2;
    }
    let state_key = match std::env::var("IVRC_STATE_KEY") {
        Ok(k) if k.len() >= 16 => k.into_bytes(),
        Ok(_) => {
            ivrc::errln!("error: IVRC_STATE_KEY must be at least 16 characters");
            return 2;
        }
        Err(_) => match random_key() {
            Ok(k) => k,
            Err(e) => {
                ivrc::errln!("error: cannot read random bytes for the state key: {e}");
                return 2;
            }
        },
    };
    let twilio_api = match (
        std::env::var("TWILIO_ACCOUNT_SID")
            .ok()
            .filter(|s| !s.is_empty()),
        auth_token.clone(),
    ) {
        (Some(account_sid), Some(auth_token)) => Some(TwilioApi {
            base: std::env::var("TWILIO_API_BASE")
                .ok()
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "https://api.twilio.com".into())
                .trim_end_matches('/')
                .to_string(),
            account_sid,
            auth_token,
        }),
        _ => None,
    };
    if twilio_api.is_none() {
        if let Some(f) = program
            .flows
            .iter()
            .find(|f| capabilities::sends_sms_in_calls(f))
        {
            ivrc::errln!(
                "error: flow `{}` sends text messages during calls, which needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN",
                f.name
            );
            return 2;
        }
    }
    if let Some(dir) = &args.records {
        // A record that is not there stops the start, not a call.
        for flow in &program.flows {
            for (line, id) in ivrc::runtime::played_records(flow) {
                let file = dir.join(format!("{id}.wav"));
                if let Err(e) = std::fs::File::open(&file) {
                    ivrc::errln!(
                        "error: flow `{}` plays record {id} (line {line}): {}: {e}",
                        flow.name,
                        file.display()
                    );
                    return 2;
                }
            }
        }
    }
    let campaign = match campaign_for(args, &program, twilio_api.as_ref()) {
        Ok(c) => c,
        Err(message) => {
            ivrc::errln!("error: {message}");
            return 2;
        }
    };
    let names: Vec<String> = program.flows.iter().map(|f| f.name.clone()).collect();
    let config = Config {
        state_key,
        state_ttl_secs: STATE_TTL_SECS,
        base_url: args
            .base_url
            .clone()
            .map(|u| u.trim_end_matches('/').to_string()),
        auth_token,
        twilio_api,
        records: args.records.clone(),
    };
    // Two connections: entries are written in batches by a thread, call states at once.
    let (entries, states) =
        match Store::open_at(&args.store).and_then(|e| Ok((e, Store::open_at(&args.store)?))) {
            Ok(s) => s,
            Err(e) => {
                ivrc::errln!("error: cannot open `{}`: {e}", args.store);
                return 2;
            }
        };
    let console = match &args.console_listen {
        None => None,
        Some(listen) => {
            let (console_config, made_up) = match console_config(args, &config, listen) {
                Ok(c) => c,
                Err(code) => return code,
            };
            match Store::open_at(&args.store) {
                Ok(store) => Some((
                    listen.clone(),
                    Arc::new(console::http::Console::new(console_config, store)),
                    made_up,
                )),
                Err(e) => {
                    ivrc::errln!("error: cannot open `{}`: {e}", args.store);
                    return 2;
                }
            }
        }
    };
    // The block list: the store's `blocked` entries, read again every few seconds for what
    // other servers (or `ivrc run`) sharing the store blocked.
    let blocked = match entries.blocked_numbers() {
        Ok(numbers) => Arc::new(BlockList::new(numbers.iter().map(String::as_str))),
        Err(e) => {
            ivrc::errln!("error: cannot read `{}`: {e}", args.store);
            return 2;
        }
    };
    BlockList::follow(&blocked, args.store.clone(), Duration::from_secs(5));
    let placer = campaign.as_ref().and_then(|(c, flow, ..)| {
        Some(Placer {
            api: config.twilio_api.clone()?,
            base: config.base_url.clone()?,
            campaign: c.clone(),
            flow: program.flows[*flow].clone(),
            calls: Arc::default(),
            status_check: Duration::from_secs(args.status_check),
            blocked: Arc::clone(&blocked),
        })
    });
    let mut app = App::new(program, config, entries, states).with_block_list(blocked);
    if let Some(p) = &placer {
        app = app.dialling(&p.campaign.name);
    }
    let app = Arc::new(app);
    let placer = placer.map(|p| Placer {
        calls: app.campaign_calls(),
        ..p
    });
    let runtime = match super::async_runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    runtime.block_on(async {
        let listener = match tokio::net::TcpListener::bind(&args.listen).await {
            Ok(l) => l,
            Err(e) => {
                ivrc::errln!("error: cannot listen on {}: {e}", args.listen);
                return 2;
            }
        };
        let addr = listener
            .local_addr()
            .map_or(args.listen.clone(), |a| a.to_string());
        // Printing may fail (a closed pipe); the server goes on regardless, and `main` makes
        // the exit status 2 when it stops.
        let lines = super::lines_stream(args.format);
        ivrc::println_to!(lines, "listening on http://{addr}");
        for n in &names {
            ivrc::println_to!(
                lines,
                "  voice webhook: POST /voice/{n}   sms webhook: POST /sms/{n}"
            );
        }
        let console_server = match console {
            None => None,
            Some((listen, console, made_up)) => {
                let listener = match tokio::net::TcpListener::bind(&listen).await {
                    Ok(l) => l,
                    Err(e) => {
                        ivrc::errln!("error: cannot listen on {listen} for the console: {e}");
                        return 2;
                    }
                };
                let addr = listener.local_addr().map_or(listen, |a| a.to_string());
                ivrc::println_to!(lines, "console on http://{addr}/console");
                if let Some(token) = made_up {
                    ivrc::println_to!(lines, "  console token (this run only): {token}");
                }
                let shutdown = async {
                    let _ = tokio::signal::ctrl_c().await;
                };
                Some(tokio::spawn(console::http::serve(
                    listener, console, shutdown,
                )))
            }
        };
        let (place_tx, place_rx) = tokio::sync::mpsc::unbounded_channel();
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let dialer_finished = Arc::new(tokio::sync::Notify::new());
        let dialer = campaign
            .zip(placer)
            .map(|((c, flow, leads, number_columns), placer)| {
                tokio::spawn(placer.run(place_rx));
                let owner = super::campaign::owner(&addr);
                let dialer = Dialer {
                    number_columns,
                    campaign: c,
                    flow,
                    store: args.store.clone(),
                    owner,
                    lease: Duration::from_secs(args.campaign_lease),
                    time_scale: args.time_scale,
                    results: args.results.clone(),
                    progress: std::io::IsTerminal::is_terminal(&std::io::stderr()),
                    lines,
                };
                super::campaign::launch(dialer, leads, place_tx, stop_rx, dialer_finished.clone())
            });
        let campaign_running = dialer.is_some();
        let shutdown = async move {
            if campaign_running {
                // Ctrl-C stops the dialer; the server answers the calls under way until it ends.
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {
                        let _ = stop_tx.send(true);
                        dialer_finished.notified().await;
                    }
                    () = dialer_finished.notified() => {}
                }
            } else {
                let _ = tokio::signal::ctrl_c().await;
            }
        };
        let served = http::serve(listener, app, shutdown).await;
        let campaign_code = match dialer {
            None => 0,
            Some(task) => super::campaign::summarize(task, lines).await,
        };
        let console_served = match console_server {
            None => Ok(()),
            Some(task) => task.await.unwrap_or_else(|e| Err(std::io::Error::other(e))),
        };
        match served.and(console_served) {
            Ok(()) => campaign_code,
            Err(e) => {
                ivrc::errln!("error: the server stopped: {e}");
                2
            }
        }
    })
}

/// The campaign of `--campaign`, checked: it needs the Twilio account to place its calls and
/// `--base-url` for Twilio to reach its webhooks.
fn campaign_for(
    args: &ServeArgs,
    program: &ivrc::ir::Program,
    twilio: Option<&TwilioApi>,
) -> Result<Option<CampaignRun>, String> {
    let Some(name) = &args.campaign else {
        return Ok(None);
    };
    if twilio.is_none() {
        return Err(format!(
            "campaign `{name}` places its calls through Twilio: set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN"
        ));
    }
    if args.base_url.is_none() {
        return Err(format!(
            "campaign `{name}`: Twilio must reach this server's webhooks: give --base-url"
        ));
    }
    let flow_dir = args
        .files
        .first()
        .and_then(|f| f.parent())
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    super::campaign::campaign_of(program, name, args.leads.as_deref(), &flow_dir).map(Some)
}

/// 32 random bytes from the operating system.
fn random_key() -> std::io::Result<Vec<u8>> {
    let mut key = vec![0u8; 32];
    ivrc::secret::fill_random(&mut key)?;
    Ok(key)
}

/// The console's setup from the arguments and the environment, and the login token to print
/// when it was made up here (loopback only); or exit status 2 with the reason printed.
fn console_config(
    args: &ServeArgs,
    config: &Config,
    listen: &str,
) -> Result<(console::http::Config, Option<String>), u8> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let loopback = listen
        .parse::<std::net::SocketAddr>()
        .is_ok_and(|a| a.ip().is_loopback())
        || listen.starts_with("localhost:");
    let (token, made_up) = match env("IVRC_CONSOLE_TOKEN") {
        Some(t) if t.len() >= console::auth::MIN_TOKEN_LEN => (t, None),
        Some(_) => {
            ivrc::errln!(
                "error: IVRC_CONSOLE_TOKEN must be at least {} characters",
                console::auth::MIN_TOKEN_LEN
            );
            return Err(2);
        }
        None if loopback => {
            let t: String = random_key()
                .map_err(|e| {
                    ivrc::errln!("error: cannot read random bytes for the console token: {e}");
                    2u8
                })?
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            (t.clone(), Some(t))
        }
        None => {
            ivrc::errln!("error: the console on {listen} is reachable from other machines: set IVRC_CONSOLE_TOKEN (at least {} characters) or listen on 127.0.0.1", console::auth::MIN_TOKEN_LEN);
            return Err(2);
        }
    };
    let phone = |name: &str| -> Result<Option<String>, u8> {
        match env(name) {
            None => Ok(None),
            Some(p) => match ivrc::phone::parse_e164(&p) {
                Ok(p) => Ok(Some(p.to_string())),
                Err(e) => {
                    ivrc::errln!("error: {name} `{p}` is not a number in E.164 form: {e}");
                    Err(2)
                }
            },
        }
    };
    let reply_templates = match &args.reply_templates {
        None => Vec::new(),
        Some(path) => {
            let parsed = std::fs::read_to_string(path)
                .map_err(|e| e.to_string())
                .and_then(|text| console::replies::parse(&text));
            match parsed {
                Ok(t) => t,
                Err(e) => {
                    ivrc::errln!("error: the reply templates `{}`: {e}", path.display());
                    return Err(2);
                }
            }
        }
    };
    // Sessions are signed with a key derived from the state key, so they survive a restart
    // when IVRC_STATE_KEY is set.
    let key = {
        use hmac::Mac;
        let mut m = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(&config.state_key)
            .map_err(|_| 2u8)?;
        m.update(b"ivrc console sessions");
        m.finalize().into_bytes().to_vec()
    };
    Ok((
        console::http::Config {
            token,
            key,
            twilio: config.twilio_api.clone(),
            public_base: config.base_url.clone(),
            agent_phone: phone("IVRC_AGENT_PHONE")?,
            from_number: phone("IVRC_CONSOLE_FROM")?,
            reply_templates,
            recordings: args.recordings.clone(),
        },
        made_up,
    ))
}
