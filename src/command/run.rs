//! `ivrc run`: check flow files, refuse what the runtime cannot run yet, then answer SIP calls
//! on a UDP socket until SIGINT or SIGTERM (`ivrc::runtime`).

use crate::cli::RunArgs;
use ivrc::runtime::asr::{Recognizer, Spotter, Vosk};
use ivrc::runtime::blocklist::BlockList;
use ivrc::runtime::dialer::Dialer;
use ivrc::runtime::media::prompts::{AudioFiles, Espeak, Prompts, Voice};
use ivrc::runtime::sip::guard;
use ivrc::runtime::sip::inbound_auth::Users;
use ivrc::runtime::sip::network::Network;
use ivrc::runtime::sip::register::Account;
use ivrc::runtime::sip::stream::{Listeners, TlsTrunk};
use ivrc::runtime::sip::transport::Transport;
use ivrc::runtime::sip::uac::Trunk;
use ivrc::runtime::{self, server, Config};
use ivrc::store::Store;
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

/// How often the block list is read again from the store.
const BLOCK_LIST_READ: Duration = Duration::from_secs(5);

/// Reads every platform record the flows play (`play record ID`, from `--records DIR`), so a
/// missing or unreadable file stops the start instead of a call; or why one cannot be read.
fn records_play(
    program: &ivrc::ir::Program,
    audio: &AudioFiles,
    prompts: &Prompts,
) -> Result<(), String> {
    for flow in &program.flows {
        for (line, id) in runtime::played_records(flow) {
            let path = audio
                .record(id)
                .map_err(|why| format!("flow `{}` plays {why} (line {line})", flow.name))?;
            prompts.file(&path).map_err(|e| {
                format!("flow `{}` plays record {id} (line {line}): {e}", flow.name)
            })?;
        }
    }
    Ok(())
}

/// Downloads every URL without placeholders the flows play, so one that is missing or not
/// audio stops the start instead of a call (and calls find it in the cache); or why one
/// cannot be played.
fn urls_play(program: &ivrc::ir::Program, prompts: &Prompts) -> Result<(), String> {
    let urls: Vec<(&str, u32, String)> = program
        .flows
        .iter()
        .flat_map(|f| {
            runtime::played_urls(f)
                .into_iter()
                .map(move |(line, url)| (f.name.as_str(), line, url))
        })
        .collect();
    if urls.is_empty() {
        return Ok(());
    }
    let downloads = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the downloads: {e}"))?;
    let http = ivrc::fetch::Fetcher::new();
    for (flow, line, url) in urls {
        prompts
            .url(&url, |u| downloads.block_on(http.download(u)))
            .map_err(|e| format!("flow `{flow}` plays (line {line}) {e}"))?;
    }
    Ok(())
}

/// Runs `ivrc run`.
pub fn run(args: &RunArgs) -> u8 {
    let program = match super::check::program_for(&args.files, args.format, runtime::capabilities) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let flow_dir = args
        .files
        .first()
        .and_then(|f| f.parent())
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    if let Some(d) = &args.default_flow {
        if !program.flows.iter().any(|f| &f.name == d) {
            ivrc::errln!("error: --default-flow `{d}` is not a flow of these files");
            return 2;
        }
    }
    let routes = match routes(&program, &args.route) {
        Ok(r) => r,
        Err(message) => {
            ivrc::errln!("error: {message}");
            return 2;
        }
    };
    let public = match public_address(args) {
        Ok(p) => p,
        Err(message) => {
            ivrc::errln!("error: {message}");
            return 2;
        }
    };
    let campaign = match &args.campaign {
        Some(name) => {
            match super::campaign::campaign_of(&program, name, args.leads.as_deref(), &flow_dir)
                .and_then(|c| recordings_for(&c.0, args).map(|()| c))
            {
                Ok(mut c) => {
                    if args.ignore_window {
                        c.0.window = None;
                    }
                    Some(c)
                }
                Err(message) => {
                    ivrc::errln!("error: {message}");
                    return 2;
                }
            }
        }
        None => None,
    };
    let trunk = match trunk(args) {
        Ok(t) => t,
        Err(message) => {
            ivrc::errln!("error: {message}");
            return 2;
        }
    };
    let (tls_server, trunk_tls) = match tls_settings(args, trunk.as_ref()) {
        Ok(t) => t,
        Err(message) => {
            ivrc::errln!("error: {message}");
            return 2;
        }
    };
    if trunk.is_none() {
        if let Some((c, ..)) = &campaign {
            ivrc::errln!(
                "error: campaign `{}` places calls: give the trunk to call through with --trunk sip:HOST:PORT",
                c.name
            );
            return 2;
        }
        for flow in &program.flows {
            if let Some(n) = flow
                .nodes
                .iter()
                .find(|n| matches!(n.op, ivrc::ir::Op::Dial { .. }))
            {
                ivrc::errln!(
                    "error: flow `{}` dials (line {}): give the trunk to call through with --trunk sip:HOST:PORT",
                    flow.name, n.span.line
                );
                return 2;
            }
        }
    }
    // Opened here, before the async runtime starts: the PostgreSQL client must not be used on
    // its threads, and from here on only the writer's own thread uses the store.
    let store = match Store::open_at(&args.store) {
        Ok(s) => s,
        Err(e) => {
            ivrc::errln!("error: cannot open `{}`: {e}", args.store);
            return 2;
        }
    };
    // Calls this instance left running when it last stopped without ending them (killed,
    // crashed) are closed now, before new ones start.
    let instance = public.map_or_else(|| args.listen.clone(), |p| p.to_string());
    // Unique to this process: a restart on the same address must not renew (and so keep
    // forever) the leases its killed predecessor left.
    let owner = super::campaign::owner(&instance);
    match store.interrupt_running(&instance) {
        Ok(0) => {}
        Ok(n) => ivrc::errln!(
            "ivrc: {n} calls were cut off when this instance last stopped; recorded as interrupted"
        ),
        Err(e) => {
            ivrc::errln!("error: cannot read `{}`: {e}", args.store);
            return 2;
        }
    }
    let blocked = match store.blocked_numbers() {
        Ok(numbers) => Arc::new(BlockList::new(numbers.iter().map(String::as_str))),
        Err(e) => {
            ivrc::errln!(
                "error: cannot read the block list from `{}`: {e}",
                args.store
            );
            return 2;
        }
    };
    // Numbers other instances sharing the store block reach this one within seconds.
    BlockList::follow(&blocked, args.store.clone(), BLOCK_LIST_READ);
    let prompts = Arc::new(Prompts::new(Box::new(Espeak), args.cache_dir.clone()));
    for flow in &program.flows {
        let Some(voice) = Voice::of(&flow.settings.lang, &flow.settings.voice) else {
            continue;
        };
        for text in runtime::fixed_prompts(flow) {
            if let Err(e) = prompts.speech(&text, &voice) {
                ivrc::errln!("error: flow `{}`: cannot speak \"{text}\": {e}", flow.name);
                return 2;
            }
        }
    }
    let audio = AudioFiles {
        flow_dir,
        records: args.records.clone(),
    };
    if let Err(message) =
        records_play(&program, &audio, &prompts).and_then(|()| urls_play(&program, &prompts))
    {
        ivrc::errln!("error: {message}");
        return 2;
    }
    let asr = match listening_recognizer(&program, args) {
        Ok(a) => a,
        Err(message) => {
            ivrc::errln!("error: {message}");
            return 2;
        }
    };
    let guard = match guard_settings(args, trunk.as_ref()) {
        Ok(g) => g,
        Err(message) => {
            ivrc::errln!("error: {message}");
            return 2;
        }
    };
    let names: Vec<String> = program.flows.iter().map(|f| f.name.clone()).collect();
    let shared = server::Shared {
        program: Arc::new(program),
        config: Config {
            instance,
            rtp_ip: args.rtp_ip,
            rtp_ports: args.rtp_ports,
            max_calls: args.max_calls,
            default_flow: args.default_flow.clone(),
            grace: Duration::from_secs(args.grace),
            audio,
            recordings: args.recordings.clone(),
            register: register_account(args, trunk.as_ref()),
            // Registered at a provider, calls come from the provider alone.
            trusted: args
                .register
                .then(|| trunk.as_ref().map(|t| vec![t.addr.ip()]))
                .flatten(),
            routes,
            public,
            symmetric_rtp: args.symmetric_rtp,
            srtp: match args.srtp {
                crate::cli::SrtpMode::Off => ivrc::runtime::sdp::SrtpPolicy::Off,
                crate::cli::SrtpMode::Optional => ivrc::runtime::sdp::SrtpPolicy::Optional,
                crate::cli::SrtpMode::Required => ivrc::runtime::sdp::SrtpPolicy::Required,
            },
            trunk,
            rtp_timeout: Duration::from_secs(args.rtp_timeout.max(1)),
            time_scale: args.time_scale,
            amd: args.amd,
            guard,
        },
        prompts,
        records: Some(store.into_writer()),
        blocked,
        http: Arc::new(ivrc::fetch::Fetcher::new().with_rewrites(args.fetch_rewrite.clone())),
        asr,
        ports: Arc::new(ivrc::runtime::media::ports::RtpPorts::new(args.rtp_ports)),
        clock: match ivrc::runtime::media::clock::Clock::start() {
            Ok(c) => Arc::new(c),
            Err(e) => {
                ivrc::errln!("error: cannot start the media clock: {e}");
                return 2;
            }
        },
    };
    let lines = super::lines_stream(args.format);
    let tokio = match super::async_runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    let code = tokio.block_on(async {
        let socket = match tokio::net::UdpSocket::bind(&args.listen).await {
            Ok(s) => s,
            Err(e) => {
                ivrc::errln!("error: cannot listen on {}: {e}", args.listen);
                return 2;
            }
        };
        let addr = socket
            .local_addr()
            .map_or(args.listen.clone(), |a| a.to_string());
        // TCP on the same address and port as UDP.
        let tcp = match tokio::net::TcpListener::bind(&addr).await {
            Ok(l) => l,
            Err(e) => {
                ivrc::errln!("error: cannot listen on {addr} (TCP): {e}");
                return 2;
            }
        };
        // TLS on --tls-listen, else on port 5061 of the same address.
        let tls = match &tls_server {
            Some(config) => {
                let at = args.tls_listen.clone().unwrap_or_else(|| {
                    socket.local_addr().map_or_else(
                        |_| "127.0.0.1:5061".to_string(),
                        |a| std::net::SocketAddr::new(a.ip(), 5061).to_string(),
                    )
                });
                match tokio::net::TcpListener::bind(&at).await {
                    Ok(l) => Some((l, tokio_rustls::TlsAcceptor::from(config.clone()))),
                    Err(e) => {
                        ivrc::errln!("error: cannot listen on {at} (TLS): {e}");
                        return 2;
                    }
                }
            }
            None => None,
        };
        let tls_addr = tls
            .as_ref()
            .and_then(|(l, _)| l.local_addr().ok())
            .map(|a| format!(", sip:{a};transport=tls (TLS)"))
            .unwrap_or_default();
        // Printing may fail (a closed pipe); the server goes on regardless, and `main` makes
        // the exit status 2 when it stops.
        let signals = shutdown_signal();
        ivrc::println_to!(lines, "listening on sip:{addr} (UDP and TCP){tls_addr}");
        for n in &names {
            ivrc::println_to!(lines, "  flow: sip:{n}@{addr}");
        }
        let (place_tx, place_rx) = tokio::sync::mpsc::unbounded_channel();
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let dialer_finished = Arc::new(tokio::sync::Notify::new());
        let dialer = campaign.map(|(c, flow, leads, number_columns)| {
            let finished = dialer_finished.clone();
            let dialer = Dialer {
                number_columns,
                campaign: c,
                flow,
                store: args.store.clone(),
                owner: owner.clone(),
                lease: Duration::from_secs(args.campaign_lease),
                time_scale: args.time_scale,
                results: args.results.clone(),
                progress: std::io::stderr().is_terminal(),
                lines,
            };
            super::campaign::launch(dialer, leads, place_tx.clone(), stop_rx, finished)
        });
        let shutdown = async {
            tokio::select! {
                () = signals => { let _ = stop_tx.send(true); }
                () = dialer_finished.notified() => {}
            }
        };
        let streams = Listeners {
            tcp: Some(tcp),
            tls,
            trunk_tls,
        };
        let served = server::run(socket, streams, shared, place_rx, shutdown).await;
        drop(place_tx);
        let mut code = match served {
            Ok(summary) => {
                ivrc::println_to!(
                    lines,
                    "stopped: {} calls, {} refused, {} hung up at shutdown",
                    summary.calls,
                    summary.refused,
                    summary.cut
                );
                let g = &summary.guard;
                ivrc::println_to!(
                    lines,
                    "defences: {} rate-limited (503), {} dropped over the rate limit, {} not allowed, {} scanners, {} challenged (401), {} failed authentication, {} unroutable (404)",
                    g.rate_limited,
                    g.rate_dropped,
                    g.not_allowed,
                    g.scanners,
                    g.challenged,
                    g.auth_failed,
                    summary.unroutable
                );
                0
            }
            Err(e) => {
                ivrc::errln!("error: the runtime stopped: {e}");
                2
            }
        };
        if let Some(task) = dialer {
            if super::campaign::summarize(task, lines).await != 0 {
                code = 2;
            }
        }
        code
    });
    // Spawned prompt renders may still hold the store's writer; dropping the runtime waits
    // for them, then the writer (inside `shared`) flushes every record.
    drop(tokio);
    code
}

/// A campaign that records its calls needs somewhere to write them.
fn recordings_for(c: &ivrc::ir::Campaign, args: &RunArgs) -> Result<(), String> {
    if c.record_calls.is_some() && args.recordings.is_none() {
        return Err(format!(
            "campaign `{}` records its calls (`record_calls`): give --recordings DIR to write them to",
            c.name
        ));
    }
    Ok(())
}

/// The defences of `--rate-limit`, `--allow`, `--trusted`, `--drop-scanners` and
/// `--inbound-user`; the trunk is trusted.
fn guard_settings(args: &RunArgs, trunk: Option<&Trunk>) -> Result<guard::Settings, String> {
    let mut trusted = args.trusted.clone();
    trusted.extend(trunk.map(|t| Network::host(t.addr.ip())));
    let users = if args.inbound_user.is_empty() {
        None
    } else {
        let mut secret = vec![0u8; 32];
        ivrc::secret::fill_random(&mut secret)
            .map_err(|e| format!("cannot read random bytes for the digest nonces: {e}"))?;
        Some(
            Users::new(args.inbound_user.clone(), secret, std::time::Instant::now())
                .offering(args.inbound_digest.clone()),
        )
    };
    Ok(guard::Settings {
        allow: args.allow.clone(),
        trusted,
        rate: args.rate_limit.0,
        drop_scanners: args.drop_scanners,
        users,
    })
}

/// The trunk of `--trunk sip:HOST:PORT`, its address resolved, with the digest credentials.
fn trunk(args: &RunArgs) -> Result<Option<Trunk>, String> {
    let Some(text) = &args.trunk else {
        return Ok(None);
    };
    // sips: asks for TLS (RFC 3261 §19.1, port 5061 by default).
    let (host, sips) = match (text.strip_prefix("sip:"), text.strip_prefix("sips:")) {
        (Some(h), _) => (h, false),
        (_, Some(h)) => (h, true),
        _ => {
            return Err(format!(
                "--trunk `{text}` is not a SIP URI like sip:HOST:PORT or sips:HOST:PORT"
            ))
        }
    };
    let mut params = host.split(';');
    let host = params.next().unwrap_or(host);
    let mut transport = if sips { Transport::Tls } else { Transport::Udp };
    for p in params {
        let (name, value) = p.split_once('=').unwrap_or((p, ""));
        if !name.eq_ignore_ascii_case("transport") {
            continue;
        }
        transport = match Transport::from_param(value) {
            Some(t) if !sips || t == Transport::Tls => t,
            Some(_) => {
                return Err(format!(
                    "--trunk `{text}`: a sips: URI is reached over TLS only"
                ))
            }
            None => {
                return Err(format!(
                    "--trunk `{text}`: transport `{value}` is not one the runtime speaks (udp, tcp, tls)"
                ))
            }
        };
    }
    if host.is_empty() || host.contains('@') || host.chars().any(|c| c.is_whitespace() || c == '>')
    {
        return Err(format!(
            "--trunk `{text}`: give only the host and port (sip:HOST:PORT); the user goes in --trunk-user"
        ));
    }
    let with_port = if host
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        host.to_string()
    } else if transport == Transport::Tls {
        format!("{host}:5061")
    } else {
        format!("{host}:5060")
    };
    let addr = std::net::ToSocketAddrs::to_socket_addrs(&with_port)
        .map_err(|e| format!("--trunk `{text}`: {e}"))?
        .next()
        .ok_or_else(|| format!("--trunk `{text}`: the host has no address"))?;
    Ok(Some(Trunk {
        addr,
        host: with_port,
        user: args.trunk_user.clone(),
        password: args.trunk_password.clone(),
        transport,
    }))
}

/// The TLS listener's configuration (`--tls-cert`, `--tls-key`, `--tls-client-ca`) and how a
/// TLS trunk is reached (its certificate checked for its host against `--trunk-ca` or Mozilla's
/// roots).
fn tls_settings(
    args: &RunArgs,
    trunk: Option<&Trunk>,
) -> Result<(Option<Arc<rustls::ServerConfig>>, Option<TlsTrunk>), String> {
    use ivrc::runtime::sip::tls;
    let server = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(tls::server_config(
            cert,
            key,
            args.tls_client_ca.as_deref(),
        )?),
        _ => None,
    };
    let trunk_tls = match trunk.filter(|t| t.transport == Transport::Tls) {
        Some(t) => Some(TlsTrunk {
            connector: tokio_rustls::TlsConnector::from(tls::client_config(
                args.trunk_ca.as_deref(),
            )?),
            name: tls::server_name(&t.host).map_err(|e| format!("--trunk: {e}"))?,
        }),
        None => {
            if let Some(ca) = &args.trunk_ca {
                return Err(format!(
                    "--trunk-ca `{}`: the trunk is not reached over TLS (sips:HOST:PORT or ;transport=tls)",
                    ca.display()
                ));
            }
            None
        }
    };
    Ok((server, trunk_tls))
}

/// `--public-address IP[:PORT]`, the port defaulting to `--listen`'s.
fn public_address(args: &RunArgs) -> Result<Option<std::net::SocketAddr>, String> {
    let Some(text) = &args.public_address else {
        return Ok(None);
    };
    if let Ok(addr) = text.parse::<std::net::SocketAddr>() {
        return Ok(Some(addr));
    }
    let ip: std::net::IpAddr = text
        .parse()
        .map_err(|_| format!("--public-address `{text}` is not an IP address or IP:PORT"))?;
    let port = args
        .listen
        .parse::<std::net::SocketAddr>()
        .map(|a| a.port())
        .unwrap_or(5060);
    Ok(Some(std::net::SocketAddr::new(ip, port)))
}

/// The routes of `--route NUMBER=FLOW`: a number with at least three digits, a flow of the
/// program (its index).
fn routes(program: &ivrc::ir::Program, given: &[String]) -> Result<Vec<(String, usize)>, String> {
    let mut out = Vec::new();
    for r in given {
        let (number, flow) = r
            .split_once('=')
            .ok_or_else(|| format!("--route `{r}` is not NUMBER=FLOW"))?;
        if number.chars().filter(char::is_ascii_digit).count() < 3
            || !number
                .chars()
                .all(|c| c.is_ascii_digit() || " +-().".contains(c))
        {
            return Err(format!("--route `{r}`: `{number}` is not a phone number"));
        }
        let index = program
            .flows
            .iter()
            .position(|f| f.name == flow.trim())
            .ok_or_else(|| {
                format!(
                    "--route `{r}`: `{}` is not a flow of these files",
                    flow.trim()
                )
            })?;
        out.push((number.trim().to_string(), index));
    }
    Ok(out)
}

/// The account `--register` registers: the trunk's user and password, the trunk's host as
/// the domain.
fn register_account(args: &RunArgs, trunk: Option<&Trunk>) -> Option<Account> {
    if !args.register {
        return None;
    }
    let trunk = trunk?;
    Some(Account {
        registrar: trunk.addr,
        domain: trunk.host.clone(),
        user: trunk.user.clone()?,
        password: trunk.password.clone()?,
        expires: args.register_expires.max(1),
        keepalive: (args.keepalive > 0).then(|| Duration::from_secs(args.keepalive)),
        transport: trunk.transport,
    })
}

/// The keyword spotter, when a flow listens, prepared for every `listen`'s phrases.
fn listening_recognizer(
    program: &ivrc::ir::Program,
    args: &RunArgs,
) -> Result<Option<Arc<dyn Recognizer>>, String> {
    let listens: Vec<(&str, u32, Vec<String>)> = program
        .flows
        .iter()
        .flat_map(|f| {
            runtime::listened_phrases(f)
                .into_iter()
                .map(move |(line, phrases)| (f.name.as_str(), line, phrases))
        })
        .collect();
    if listens.is_empty() {
        return Ok(None);
    }
    let recognizer: Arc<dyn Recognizer> = match args.asr.strip_prefix("vosk:") {
        Some(url) => Arc::new(Vosk::new(url).map_err(|e| format!("--asr: {e}"))?),
        None if args.asr == "pocketsphinx" => Arc::new(
            Spotter::new(&args.asr_model, args.cache_dir.join("asr")).map_err(|e| e.to_string())?,
        ),
        None => {
            return Err(format!(
                "--asr `{}` is not `pocketsphinx` or `vosk:ws://HOST:PORT`",
                args.asr
            ))
        }
    };
    for (flow, line, phrases) in &listens {
        recognizer.prepare(phrases).map_err(|e| {
            format!(
                "flow `{flow}`, `listen` on line {line}: the recognizer cannot listen for it: {e}"
            )
        })?;
    }
    Ok(Some(recognizer))
}

/// Completes on SIGINT or SIGTERM. The handlers are installed when it is called (inside the
/// async runtime), not when it is first polled: a signal that comes right after `listening
/// on` is a shutdown, not the default action's kill.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{signal, SignalKind};
    let term = signal(SignalKind::terminate()).ok();
    let int = signal(SignalKind::interrupt()).ok();
    async move {
        tokio::select! {
            () = received(term) => {},
            () = received(int) => {},
        }
    }
}

/// Completes when `signal` comes; never without one.
async fn received(signal: Option<tokio::signal::unix::Signal>) {
    match signal {
        Some(mut s) => {
            s.recv().await;
        }
        None => std::future::pending::<()>().await,
    }
}
