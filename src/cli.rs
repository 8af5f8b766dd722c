//! The command line: subcommands and their arguments, with help text and examples.

use clap::{Args, Parser, Subcommand, ValueEnum};
use ivrc::store::Location;
use std::path::PathBuf;

/// ivrc — compile and check phone call flows written in `.ivr`.
#[derive(Debug, Parser)]
#[command(
    name = "ivrc",
    version,
    about,
    propagate_version = true,
    after_help = "Exit status: 0 ok, 1 diagnostics (or a failing test), 2 usage or I/O error. Output that cannot be\nwritten (stdout or stderr a closed pipe, as in `ivrc check --format json f.ivr | head`) is an I/O error:\nexit status 2, said on stderr when stdout failed; `run` and `serve` keep serving and exit 2 when stopped.\nWith --format json, standard output carries one JSON document and nothing else."
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse and check flows; print every problem found.
    #[command(
        after_help = "Examples:\n  ivrc check examples/sum.ivr\n  ivrc check examples/*.ivr --deny-warnings\n  ivrc check flow.ivr --format json\n\nExit status: 0 when clean, 1 when there are errors (or warnings with --deny-warnings), 2 when a file cannot be read."
    )]
    Check(CheckArgs),
    /// Compile a flow file for a target.
    #[command(
        after_help = "Examples:\n  ivrc build examples/sum.ivr --target ir\n  ivrc build examples/callback.ivr --target ir -o callback.ir.json\n  ivrc build examples/callback.ivr --target voximplant -o out/\n  ivrc build examples/robocall.ivr --target twiml --base-url https://ivr.example.com -o out/\n\nExit status: 0 on success, 1 when the flow has errors, 2 when a file cannot be read or written."
    )]
    Build(BuildArgs),
    /// Run the `test` blocks of flow files: scripted conversations in virtual time.
    #[command(
        after_help = "Examples:\n  ivrc test examples/*.ivr\n  ivrc test examples/sum.test.ivr --format json\n\nEach file runs its own tests (those written in it, not in its imports).\nExit status: 0 when every test passes, 1 when one fails or a file has errors, 2 when a file cannot be read."
    )]
    Test(TestArgs),
    /// Talk to a flow on the console: type keys, speech and commands, see what the robot does.
    #[command(
        after_help = "Input, one per line:\n  12#            keys\n  :да, конечно   speech (after a colon)\n  /wait 30s      let virtual time pass\n  /answer op     a dialled leg answers (also /busy, /no_answer, /fail)\n  /hangup [leg]  a party hangs up\n  /fetch {json}  the pending fetch answers (/fetch-fail: it fails)\n  /leg op        send keys and speech to this leg from now on\n\nExamples:\n  ivrc sim examples/sum.ivr\n  printf '12#\\n30#\\n' | ivrc sim examples/sum.ivr\n  ivrc sim examples/callback.ivr --param name=Иван --param product=чайник --param phone=+79001234567"
    )]
    Sim(SimArgs),
    /// Answer Twilio's voice and SMS webhooks with TwiML for flows: `POST /voice/{flow}`,
    /// `POST /sms/{flow}`.
    #[command(
        after_help = "Examples:\n  ivrc serve examples/sum.ivr\n  ivrc serve examples/*.ivr --listen 127.0.0.1:8080 --base-url https://ivr.example.com\n  ivrc serve examples/callback.ivr --store postgresql://ivrc@db.example.com/ivrc   (several servers: one IVRC_STATE_KEY)\n\nPaste https://YOUR-HOST/voice/FLOW into the number's \"A call comes in\" webhook, /sms/FLOW into \"A message comes in\"\nand /status into \"Call status changes\"; calls placed for a campaign use /campaign/NAME (ivrc build --target twiml).\nEvery call and text is written to --store (read it with ivrc entries).\nEnvironment: IVRC_STATE_KEY (at least 16 characters) seals the call state carried in URLs, so it survives restarts and\nworks across servers; without it a random key is used. TWILIO_AUTH_TOKEN turns on X-Twilio-Signature checks\n(then --base-url must be the public address Twilio calls); with TWILIO_ACCOUNT_SID too, calls can send texts.\nExit status: 1 when a flow has errors or constructs the server cannot run, 2 when a file cannot be read or the\naddress cannot be bound."
    )]
    Serve(ServeArgs),
    /// Print a contact's timeline: the calls, recordings and text messages `ivrc serve` wrote.
    #[command(
        after_help = "Examples:\n  ivrc entries --contact +15146300808\n  ivrc entries --contact '+7 916 123-45-67' --store /var/lib/ivrc/entries.db --format json\n\nExit status: 0, or 2 when the number or the store cannot be read."
    )]
    Entries(EntriesArgs),
    /// Answer SIP calls and run flows on them: the bundled runtime (UDP, G.711, RFC 4733).
    #[command(
        after_help = "Examples:\n  ivrc run examples/sum.ivr\n  ivrc run examples/*.ivr --listen 0.0.0.0:5060 --rtp-ip 203.0.113.7 --max-calls 500\n  ivrc run examples/sms_reply.ivr --trunk sip:10.0.0.5:5060 --trunk-user 100   (password: IVRC_TRUNK_PASSWORD)\n  ivrc run examples/sum.ivr --trunk sip:sip.provider.example --trunk-user 74950000001 --register\n  ivrc run examples/callback.ivr --campaign shop_callback --trunk sip:10.0.0.5:5060 --results results.csv\n\nThe request-URI user picks the flow (sip:sum@host runs `sum`); otherwise --default-flow, or the only flow.\nPrompts are spoken by espeak-ng and cached in --cache-dir; every call is written to --store (ivrc calls).\nSIGINT/SIGTERM: new calls get 503, calls have --grace to finish, the rest are hung up.\n`dial`, `sms` and campaign calls go through --trunk; a campaign run exits when every lead is finished, and\nresumes where it was when restarted on the same --store.\nExit status: 1 when a flow has errors or constructs the runtime cannot run, 2 when a file cannot be read or an\naddress cannot be bound."
    )]
    Run(Box<RunArgs>),
    /// List the call records `ivrc run` wrote.
    #[command(
        after_help = "Examples:\n  ivrc calls\n  ivrc calls --since 2026-11-22 --format json\n  ivrc calls --store postgresql://ivrc@127.0.0.1:5432/ivrc\n\nThe human format starts with how each registration at a provider (ivrc run --register) stands.\nExit status: 0, or 2 when the store cannot be read."
    )]
    Calls(CallsArgs),
    /// Look after a store: create or update its tables.
    #[command(subcommand)]
    Store(StoreCommand),
    /// Lay out `.ivr` files in the one canonical style, comments kept.
    #[command(
        after_help = "Examples:\n  ivrc fmt examples/*.ivr\n  ivrc fmt --check examples/*.ivr\n  ivrc fmt - < flow.ivr > formatted.ivr\n\nFiles are rewritten only when they change (through a temporary file in the same directory).\n--check writes nothing and prints a unified diff for each file that would change.\n`-` reads standard input and writes the result to standard output (for editors).\nFiles with syntax errors are reported and left as they are. The rules: docs/fmt.md.\nExit status: 0 when every file is (or now is) formatted, 1 when a file has syntax errors or --check\nfinds one that would change, 2 when a file cannot be read or written."
    )]
    Fmt(FmtArgs),
    /// Draw flows: statements as nodes, edges labelled by outcome.
    #[command(
        after_help = "Examples:\n  ivrc graph examples/callback.ivr --format mermaid\n  ivrc graph examples/sum.ivr --format svg -o sum.svg\n\nsvg is drawn by Graphviz's `dot` (Debian: graphviz).\nExit status: 1 when a flow has errors, 2 when a file cannot be read or written, --flow names no flow, or\n`dot` is missing or fails."
    )]
    Graph(GraphArgs),
    /// Serve the language server protocol on stdin/stdout, for editors: diagnostics, go to
    /// definition, references, hover, completion, outline, formatting.
    #[command(
        after_help = "Editors start it and speak JSON-RPC with it over its standard input and output:\n  VS Code: the extension in editors/vscode starts `ivrc lsp` when ivrc is on PATH\n  Neovim:  vim.lsp.start({ name = 'ivrc', cmd = { 'ivrc', 'lsp' } })\n  Vim:     vim-lsp's lsp#register_server({ 'name': 'ivrc', 'cmd': ['ivrc', 'lsp'], 'allowlist': ['ivr'] })\nSee docs/lsp.md. Imports and leads files are read relative to each document's file.\nExit status: 0 after `shutdown` and `exit`, 1 when the client exits or closes the input without `shutdown`,\n2 on an I/O error."
    )]
    Lsp,
}

/// Arguments of `ivrc run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The `.ivr` files whose flows answer calls.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// The SIP address (UDP) to listen on; loopback by default.
    #[arg(long, default_value = "127.0.0.1:5060")]
    pub listen: String,
    /// The address given in SDP for media; the SIP address's by default.
    #[arg(long)]
    pub rtp_ip: Option<std::net::IpAddr>,
    /// The RTP port range.
    #[arg(long, default_value = "20000-20999", value_parser = parse_port_range)]
    pub rtp_ports: (u16, u16),
    /// Calls at once; more get 503 Service Unavailable.
    #[arg(long, default_value_t = 500)]
    pub max_calls: usize,
    /// The flow for calls whose request-URI names no flow.
    #[arg(long)]
    pub default_flow: Option<String>,
    /// How long calls may go on after SIGINT/SIGTERM (seconds).
    #[arg(long, default_value_t = 30)]
    pub grace: u64,
    /// Where spoken prompts are cached.
    #[arg(long, default_value = ".ivrc-cache/prompts")]
    pub cache_dir: PathBuf,
    /// The directory of platform audio records: `play record 1484915` (a Zvonobot record id)
    /// plays DIR/1484915.wav. Every record a flow plays is read before calls are taken.
    #[arg(long, value_name = "DIR")]
    pub records: Option<PathBuf>,
    /// Answering-machine detection's settings, for `detect_machine`: NAME=VALUE,… of
    /// initial_silence, greeting, after_greeting_silence, total, min_word, max_word,
    /// between_words (ms), max_words, silence_threshold (1–32767), follow_noise (on/off);
    /// Asterisk AMD()'s defaults, the rest as given (docs/runtime.md).
    #[arg(long, value_name = "SETTINGS", default_value = "")]
    pub amd: ivrc::runtime::media::amd::Settings,
    /// Where `record` writes what a party says, one WAV file (8 kHz mono) a recording, named
    /// by the call's id; each is also a voicemail entry of the party (ivrc entries).
    #[arg(long, value_name = "DIR")]
    pub recordings: Option<PathBuf>,
    /// The store call records and entries are written to: a SQLite file, or a PostgreSQL
    /// database (`postgresql://USER@HOST:PORT/DATABASE`) that several instances share.
    #[arg(long, default_value = "ivrc-entries.db")]
    pub store: Location,
    /// The recognizer for `listen`: `pocketsphinx` (the bundled offline keyword spotter) or
    /// `vosk:ws://HOST:PORT` (a Vosk server).
    #[arg(long, default_value = "pocketsphinx")]
    pub asr: String,
    /// The pocketsphinx acoustic model the keyword spotter uses for `listen`.
    #[arg(long, default_value = "/usr/share/pocketsphinx/model/en-us")]
    pub asr_model: PathBuf,
    /// The SIP trunk the legs of `dial` are placed through: `sip:HOST:PORT` (UDP),
    /// `sip:HOST:PORT;transport=tcp`, or over TLS `sips:HOST:PORT` (port 5061 by default) or
    /// `sip:HOST:PORT;transport=tls` (one connection of ours, opened when first needed).
    #[arg(long)]
    pub trunk: Option<String>,
    /// The CA (PEM) that signs a TLS trunk's certificate; without it, the host's CA store
    /// (the system bundle, `SSL_CERT_FILE`, `SSL_CERT_DIR`).
    #[arg(long, value_name = "FILE", requires = "trunk")]
    pub trunk_ca: Option<PathBuf>,
    /// Listen for SIP over TLS too, with this certificate chain (PEM, ours first).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// The TLS address; --listen's IP and port 5061 by default.
    #[arg(long, value_name = "ADDR", requires = "tls_cert")]
    pub tls_listen: Option<String>,
    /// Require TLS clients to present a certificate signed by this CA (PEM): mutual TLS.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,
    /// The user name for the trunk's digest challenges (and the From user without a caller id).
    #[arg(long, env = "IVRC_TRUNK_USER")]
    pub trunk_user: Option<String>,
    /// The password for the trunk's digest challenges.
    #[arg(long, env = "IVRC_TRUNK_PASSWORD", hide_env_values = true)]
    pub trunk_password: Option<String>,
    /// Register --trunk-user at the trunk (RFC 3261 §10) and keep the registration fresh, so
    /// that the provider sends calls for our numbers here; unregistered on shutdown.
    #[arg(long, requires_all = ["trunk", "trunk_user", "trunk_password"])]
    pub register: bool,
    /// Behind NAT: the public address (IP, or IP:PORT when the NAT maps another port) written
    /// in Via, Contact and SDP instead of the socket's; the SIP port defaults to --listen's.
    #[arg(long, value_name = "IP[:PORT]")]
    pub public_address: Option<String>,
    /// Send each party's RTP to where its RTP comes from once the first packet arrives,
    /// rather than to the address in its SDP (a far end behind NAT; Asterisk's
    /// `rtp_symmetric`). The address is learnt once and kept.
    #[arg(long)]
    pub symmetric_rtp: bool,
    /// Encrypt calls' media with SRTP keyed in the SDP (SDES, RFC 4568): `required` offers
    /// and answers only RTP/SAVP with a crypto line (others get 488), `optional` takes what
    /// the party has, `off` refuses RTP/SAVP. SDES keys are readable by anyone who reads the
    /// SIP: use it over TLS.
    #[arg(long, value_enum, default_value = "off")]
    pub srtp: SrtpMode,
    /// Run FLOW for calls to NUMBER (the To user, as a provider sends its numbers, or the
    /// request-URI user; normalized like phones, so `8 (495) 000-00-01` is `+74950000001`);
    /// repeatable. Calls no route, flow name or
    /// --default-flow picks get 404 and a record.
    #[arg(long, value_name = "NUMBER=FLOW")]
    pub route: Vec<String>,
    /// While registered, send a CRLF keep-alive to the registrar every this many seconds, to
    /// hold a NAT's mapping open between refreshes; 0 turns them off.
    #[arg(long, default_value_t = 30, requires = "register")]
    pub keepalive: u64,
    /// The expiry to ask the registrar for, in seconds (it may grant less, or ask for more).
    #[arg(long, default_value_t = ivrc::runtime::sip::register::DEFAULT_EXPIRES, requires = "register")]
    pub register_expires: u32,
    /// A party that sends no RTP for this many seconds is hung up.
    #[arg(long, default_value_t = 30)]
    pub rtp_timeout: u64,
    /// Run this campaign: call its leads through --trunk, then stop.
    #[arg(long)]
    pub campaign: Option<String>,
    /// The campaign's leads from this file instead of the one it names.
    #[arg(long, requires = "campaign")]
    pub leads: Option<PathBuf>,
    /// Write the campaign's results here at the end (`.json`, else CSV).
    #[arg(long, requires = "campaign")]
    pub results: Option<PathBuf>,
    /// How long, in seconds, a lead this instance calls stays its own without a renewal: it
    /// renews every third of it, fences itself (hangs up its campaign calls) after two thirds,
    /// and another instance may rescue the lead once it expires.
    #[arg(long, default_value_t = 15, requires = "campaign", value_parser = clap::value_parser!(u64).range(3..=3600))]
    pub campaign_lease: u64,
    /// Run flow timers, dial timeouts and campaign intervals this many times faster (tests).
    #[arg(long, default_value_t = 1.0, value_parser = parse_time_scale)]
    pub time_scale: f64,
    /// Call at any hour, whatever the campaign's `window` says (tests; a run started outside
    /// the hours on purpose).
    #[arg(long, requires = "campaign")]
    pub ignore_window: bool,
    /// Send `fetch` requests whose URL starts with PREFIX to REPLACEMENT instead, e.g.
    /// `https://crm.example=http://127.0.0.1:8080` (a staging CRM, a test's stand-in);
    /// repeatable, the first matching prefix wins.
    #[arg(long, value_name = "PREFIX=REPLACEMENT", value_parser = parse_rewrite)]
    pub fetch_rewrite: Vec<(String, String)>,
    /// The rate limit of requests per source address (an IPv6 /64) outside calls that are up:
    /// `N/s`, or `N/s,BURST` (the burst defaults to a second's worth), or `off`. Over it a
    /// request gets 503 with Retry-After (at a tenth of the rate), beyond that nothing. The
    /// default leaves room for twice the benchmarks' 1,000 calls/s from one address;
    /// --trusted sources and the trunk are exempt.
    #[arg(long, value_name = "N/s[,BURST]|off", default_value = "2000/s", value_parser = parse_rate_limit)]
    pub rate_limit: RateLimit,
    /// Take requests only from this network (CIDR like 203.0.113.0/24 or 2001:db8::/32, or an
    /// address); repeatable. Requests from elsewhere are dropped unanswered. The trunk and
    /// --trusted sources are always taken.
    #[arg(long, value_name = "CIDR")]
    pub allow: Vec<ivrc::runtime::sip::network::Network>,
    /// A proxy, SBC or PBX in front that sends every caller's requests from its one address
    /// (CIDR or address; repeatable): not rate-limited, not challenged (--inbound-user), and
    /// taken whatever --allow says. The trunk's address is trusted too.
    #[arg(long, value_name = "CIDR")]
    pub trusted: Vec<ivrc::runtime::sip::network::Network>,
    /// Drop, unanswered, requests whose User-Agent is a known scanner's (friendly-scanner,
    /// sipvicious, sipcli, VaxSIPUserAgent, …; docs/runtime.md lists them).
    #[arg(long)]
    pub drop_scanners: bool,
    /// Callers must authenticate with this account (digest, RFC 8760: SHA-256 or MD5, realm
    /// `ivrc`) before an INVITE or MESSAGE starts a flow: for a PBX calling in rather than a
    /// provider. Repeatable; the trunk and --trusted sources are not challenged.
    #[arg(long, value_name = "USER:PASSWORD", env = "IVRC_INBOUND_USER", hide_env_values = true, value_parser = parse_inbound_user)]
    pub inbound_user: Vec<(String, String)>,
    /// The digest algorithms --inbound-user challenges offer, most preferred first (RFC 8760
    /// §2.4); a client takes the first it speaks. Some clients (sipp) read only the first
    /// challenge: `MD5` alone serves them.
    #[arg(long, value_name = "ALGORITHMS", default_value = "SHA-256,MD5", value_delimiter = ',', value_parser = parse_algorithm, requires = "inbound_user")]
    pub inbound_digest: Vec<ivrc::runtime::sip::digest::Algorithm>,
    /// Output format of diagnostics.
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
}

/// `--rate-limit`: a rate, or `None` for `off`.
#[derive(Debug, Clone, Copy)]
pub struct RateLimit(pub Option<ivrc::runtime::sip::rate::Rate>);

/// Reads a `--rate-limit`: `off`, `N/s` or `N/s,BURST`.
fn parse_rate_limit(text: &str) -> Result<RateLimit, String> {
    if text.trim().eq_ignore_ascii_case("off") {
        return Ok(RateLimit(None));
    }
    text.parse().map(|r| RateLimit(Some(r)))
}

/// Reads a digest algorithm: `SHA-256` or `MD5`, any case.
fn parse_algorithm(text: &str) -> Result<ivrc::runtime::sip::digest::Algorithm, String> {
    ivrc::runtime::sip::digest::Algorithm::named(text.trim()).ok_or_else(|| {
        format!("`{text}` is not a digest algorithm the runtime speaks (SHA-256, MD5)")
    })
}

/// Reads an `--inbound-user`: `USER:PASSWORD`, neither empty.
fn parse_inbound_user(text: &str) -> Result<(String, String), String> {
    match text.split_once(':') {
        Some((user, password)) if !user.is_empty() && !password.is_empty() => {
            Ok((user.to_string(), password.to_string()))
        }
        _ => Err("give USER:PASSWORD, neither empty".into()),
    }
}

/// Reads a `--fetch-rewrite`: `PREFIX=REPLACEMENT`, both URLs.
fn parse_rewrite(text: &str) -> Result<(String, String), String> {
    let (from, to) = text
        .split_once('=')
        .ok_or("give PREFIX=REPLACEMENT, e.g. https://crm.example=http://127.0.0.1:8080")?;
    for url in [from, to] {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!("`{url}` is not an http:// or https:// URL"));
        }
    }
    Ok((from.to_string(), to.to_string()))
}

/// Reads a time scale: a number from 1 to 1000.
fn parse_time_scale(text: &str) -> Result<f64, String> {
    let scale: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a number"))?;
    if !(1.0..=1000.0).contains(&scale) {
        return Err(format!("`{text}`: the time scale runs from 1 to 1000"));
    }
    Ok(scale)
}

/// Reads `LOW-HIGH` with at least two ports.
fn parse_port_range(text: &str) -> Result<(u16, u16), String> {
    let (low, high) = text
        .split_once('-')
        .ok_or_else(|| format!("`{text}` is not a range like 20000-20999"))?;
    let low: u16 = low
        .trim()
        .parse()
        .map_err(|_| format!("`{low}` is not a port"))?;
    let high: u16 = high
        .trim()
        .parse()
        .map_err(|_| format!("`{high}` is not a port"))?;
    if low == 0 || high <= low {
        return Err(format!(
            "`{text}`: the range must run from a lower port to a higher one, not 0"
        ));
    }
    Ok((low, high))
}

/// `ivrc run --srtp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SrtpMode {
    /// Plain RTP only.
    Off,
    /// SRTP when the party has it.
    Optional,
    /// SRTP only.
    Required,
}

/// How `ivrc graph` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GraphFormat {
    /// Graphviz DOT.
    Dot,
    /// A Mermaid flowchart (Markdown, GitHub, GitLab).
    Mermaid,
    /// SVG, drawn by Graphviz `dot`.
    Svg,
}

/// Arguments of `ivrc graph`.
#[derive(Debug, Args)]
pub struct GraphArgs {
    /// The `.ivr` file.
    pub file: PathBuf,
    /// Only this flow (all flows otherwise).
    #[arg(long)]
    pub flow: Option<String>,
    /// The output format.
    #[arg(long, value_enum, default_value = "dot")]
    pub format: GraphFormat,
    /// Write here instead of stdout.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

/// Arguments of `ivrc fmt`.
#[derive(Debug, Args)]
pub struct FmtArgs {
    /// The `.ivr` files to format in place; `-` formats standard input to standard output.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Write nothing: print a diff for each file that would change, and exit 1 if one would.
    #[arg(long)]
    pub check: bool,
}

/// Arguments of `ivrc calls`.
#[derive(Debug, Args)]
pub struct CallsArgs {
    /// The store `ivrc run` writes: a SQLite file or a `postgresql://` URL.
    #[arg(long, default_value = "ivrc-entries.db")]
    pub store: Location,
    /// Only calls that started on or after this day (UTC), `YYYY-MM-DD`.
    #[arg(long)]
    pub since: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
}

/// The subcommands of `ivrc store`.
#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Create the store's tables, or bring them up to this version's (as every command that
    /// opens a store does); refuses tables of a later ivrc.
    #[command(
        after_help = "Examples:\n  ivrc store migrate --store postgresql://ivrc@127.0.0.1:5432/ivrc\n  ivrc store migrate --store /var/lib/ivrc/entries.db\n\nRun it once before starting several instances on one PostgreSQL database (they would also\ndo it themselves, one after another). A password goes in the URL\n(postgresql://USER:PASSWORD@HOST/DB) and is never printed.\nExit status: 0 when the tables are up to date, 2 when the store cannot be reached or is newer."
    )]
    Migrate(MigrateArgs),
}

/// Arguments of `ivrc store migrate`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The store: a SQLite file or a `postgresql://` URL.
    #[arg(long, default_value = "ivrc-entries.db")]
    pub store: Location,
}

/// Arguments of `ivrc entries`.
#[derive(Debug, Args)]
pub struct EntriesArgs {
    /// The contact's phone number, in international form (every contact's with `--export`
    /// when left out).
    #[arg(long, required_unless_present = "export")]
    pub contact: Option<String>,
    /// Write the entries as documents of another system instead, one a line:
    /// `talkdesk` is the Talkdesk seed's MongoDB shape in Extended JSON, for `mongoimport`.
    #[arg(long, value_enum)]
    pub export: Option<Export>,
    /// The entries store `ivrc serve` writes: a SQLite file or a `postgresql://` URL.
    #[arg(long, default_value = "ivrc-entries.db")]
    pub store: Location,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
}

/// What `ivrc entries --export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Export {
    /// The Talkdesk seed's entries collection (MongoDB Extended JSON lines).
    Talkdesk,
}

/// Arguments of `ivrc serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The `.ivr` files whose flows to serve.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// The address to listen on (loopback by default; port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// The public address Twilio reaches this server at; action URLs are absolute under it.
    #[arg(long)]
    pub base_url: Option<String>,
    /// The store every call and text message is written to: a SQLite file, or a
    /// `postgresql://` URL that several `ivrc serve` (with one IVRC_STATE_KEY) may share.
    #[arg(long, default_value = "ivrc-entries.db")]
    pub store: Location,
    /// Serve the agent console on this address (its own listener; off when left out). Off
    /// loopback it needs IVRC_CONSOLE_TOKEN (32 characters or more).
    #[arg(long)]
    pub console_listen: Option<String>,
    /// The console's reply templates: one a line, `name | text`.
    #[arg(long, requires = "console_listen")]
    pub reply_templates: Option<PathBuf>,
    /// The directory `ivrc run --recordings` writes to: the console plays its voicemails and
    /// call recordings to logged-in agents.
    #[arg(long, requires = "console_listen")]
    pub recordings: Option<PathBuf>,
    /// The directory of platform audio records: `play record 1484915` (a Zvonobot record id)
    /// plays `DIR/1484915.wav`, served to Twilio at `/records/1484915.wav`.
    #[arg(long)]
    pub records: Option<PathBuf>,
    /// Run this campaign: place its leads' calls through Twilio's REST API (needs --base-url
    /// and TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN) with the rules of `ivrc run --campaign`,
    /// serve their webhooks, and stop when every lead is finished.
    #[arg(long)]
    pub campaign: Option<String>,
    /// The campaign's leads from this file instead of the one it names.
    #[arg(long, requires = "campaign")]
    pub leads: Option<PathBuf>,
    /// Write the campaign's results here at the end (`.json`, else CSV).
    #[arg(long, requires = "campaign")]
    pub results: Option<PathBuf>,
    /// How long, in seconds, a lead this server calls stays its own without a renewal (as
    /// `ivrc run --campaign-lease`).
    #[arg(long, default_value_t = 15, requires = "campaign", value_parser = clap::value_parser!(u64).range(3..=3600))]
    pub campaign_lease: u64,
    /// How long, in seconds, to wait for a call's final status callback before asking Twilio
    /// how the call stands.
    #[arg(long, default_value_t = 60, requires = "campaign", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub status_check: u64,
    /// Run the campaign's intervals (retries, redials) this many times faster (tests).
    #[arg(long, default_value_t = 1.0, requires = "campaign", value_parser = parse_time_scale)]
    pub time_scale: f64,
    /// Output format of diagnostics.
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
}

/// How diagnostics are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Reports with source excerpts, for people.
    Human,
    /// One JSON array of diagnostics, for tools.
    Json,
}

/// Arguments of `ivrc check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The `.ivr` files to check.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Output format of diagnostics.
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
    /// Treat warnings as errors (exit 1).
    #[arg(long)]
    pub deny_warnings: bool,
}

/// Arguments of `ivrc test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// The `.ivr` files whose tests to run.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Output format of the results.
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
}

/// Arguments of `ivrc sim`.
#[derive(Debug, Args)]
pub struct SimArgs {
    /// The `.ivr` file.
    pub file: PathBuf,
    /// The flow to run (the first flow of the file when left out).
    #[arg(long)]
    pub flow: Option<String>,
    /// A parameter value, `name=value`; may be repeated.
    #[arg(long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// The caller's number.
    #[arg(long, default_value = "+79990000000")]
    pub from: String,
}

/// What `ivrc build` produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Target {
    /// The IR as JSON (docs/ir.md), for tools that consume flows.
    Ir,
    /// VoxEngine scenarios (one `.voxengine.js` per flow) and CallList files per campaign.
    Voximplant,
    /// TwiML documents for flows that need no server, and each campaign's Twilio call
    /// requests; the other flows run under `ivrc serve`.
    Twiml,
    /// Zvonobot create-call requests per lead, Salebot `zvonobot_*call` arguments and a
    /// send script, for robocall campaigns.
    Zvonobot,
    /// A Twin24 autoCall task, its candidate batch and a send script per campaign.
    Twin24,
}

/// Arguments of `ivrc build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The `.ivr` file to compile.
    pub file: PathBuf,
    /// The target to emit.
    #[arg(long, value_enum)]
    pub target: Target,
    /// Where to write the output: a file for `ir`, a directory for the other targets
    /// (stdout when left out; required with `--format json`).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Output format of diagnostics; `json` prints them on stdout, so the build's output
    /// then goes to `-o`.
    #[arg(
        long,
        value_enum,
        default_value = "human",
        requires_if("json", "output")
    )]
    pub format: Format,
    /// Treat warnings as errors.
    #[arg(long)]
    pub deny_warnings: bool,
    /// Where documents and `ivrc serve` are reachable (`--target twiml`): URLs in call
    /// requests are made under it.
    #[arg(long, default_value = "https://YOUR-HOST")]
    pub base_url: String,
    /// Twin24: the bot scenario's UUID that runs the dialogue (`defaultExecData`).
    #[arg(
        long,
        value_name = "UUID",
        help_heading = "Twin24",
        required_if_eq("target", "twin24")
    )]
    pub twin24_bot: Option<String>,
    /// Twin24: the number shown: `default`, `gornum:ID` or `pool:ID` (the trunk's default
    /// when left out and the flow sets no `caller_id`).
    #[arg(long, value_name = "SOURCE", help_heading = "Twin24")]
    pub twin24_caller_id: Option<ivrc::codegen::twin24::CallerIdSource>,
    /// Twin24: the channel the bot transfers calls to (`secondExec: ch`).
    #[arg(long, value_name = "UUID", help_heading = "Twin24")]
    pub twin24_transfer_channel: Option<String>,
    /// Twin24: start at this company-local time instead of when the candidates arrive.
    #[arg(long, value_name = "YYYY-MM-DD HH:mm", value_parser = ivrc::codegen::twin24::parse_start_moment, help_heading = "Twin24")]
    pub twin24_start: Option<String>,
    /// Twin24: your own trunk's UUID (`providerId`).
    #[arg(long, value_name = "UUID", help_heading = "Twin24")]
    pub twin24_provider: Option<String>,
    /// Twin24: seconds after which an answered call counts as effective (`fullListTime`).
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 0,
        help_heading = "Twin24"
    )]
    pub twin24_effective_after: u64,
    /// Twin24: send `candidateLimit` as a number (older docs) instead of `{redial, count}`.
    #[arg(long, help_heading = "Twin24")]
    pub twin24_candidate_limit_number: bool,
    /// Twin24: `normalizationErrorAction` as your account's docs name it (sent only when
    /// given; the values are unconfirmed).
    #[arg(long, value_name = "VALUE", help_heading = "Twin24")]
    pub twin24_normalization_error_action: Option<String>,
    /// Zvonobot: the `ivrs` item key that plays another record.
    #[arg(
        long,
        value_name = "KEY",
        default_value = "record",
        help_heading = "Zvonobot"
    )]
    pub zvonobot_record_key: String,
    /// Zvonobot: the `ivrs` item key that transfers to a manager.
    #[arg(
        long,
        value_name = "KEY",
        default_value = "managerPhone",
        help_heading = "Zvonobot"
    )]
    pub zvonobot_transfer_key: String,
    /// Zvonobot: the `gender` value of a female voice (a male voice gets the other).
    #[arg(long, value_name = "0|1", default_value_t = 1, value_parser = clap::value_parser!(u8).range(0..=1), help_heading = "Zvonobot")]
    pub zvonobot_female_gender: u8,
    /// Zvonobot: one request with a `phones` list for leads whose calls are the same.
    #[arg(long, help_heading = "Zvonobot")]
    pub zvonobot_phones_list: bool,
}

impl BuildArgs {
    /// The Twin24 options given.
    pub fn twin24(&self) -> ivrc::codegen::twin24::Options {
        ivrc::codegen::twin24::Options {
            bot: self.twin24_bot.clone().unwrap_or_default(),
            caller_id: self.twin24_caller_id.clone(),
            transfer_channel: self.twin24_transfer_channel.clone(),
            start_at: self.twin24_start.clone(),
            provider: self.twin24_provider.clone(),
            effective_after_s: self.twin24_effective_after,
            candidate_limit_as_number: self.twin24_candidate_limit_number,
            normalization_error_action: self.twin24_normalization_error_action.clone(),
        }
    }

    /// The Zvonobot options given.
    pub fn zvonobot(&self) -> ivrc::codegen::zvonobot::Options {
        ivrc::codegen::zvonobot::Options {
            record_key: self.zvonobot_record_key.clone(),
            transfer_key: self.zvonobot_transfer_key.clone(),
            female_gender: self.zvonobot_female_gender,
            phones_list: self.zvonobot_phones_list,
        }
    }
}
