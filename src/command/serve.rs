//! `ivrc serve`: check flow files, then answer Twilio's webhooks for them over HTTP.
//!
//! Reads the files, refuses flows with constructs the server cannot run (with the same
//! diagnostics as `ivrc build`), takes its secrets from the environment (`IVRC_STATE_KEY`
//! seals call states, random per start when unset; `TWILIO_AUTH_TOKEN` turns on signature
//! checks; with `TWILIO_ACCOUNT_SID` too, calls can send text messages through the REST API
//! at `TWILIO_API_BASE`, `https://api.twilio.com` by default) and runs `ivrc::serve::http` on
//! a tokio runtime until Ctrl-C.

use crate::cli::ServeArgs;
use ivrc::serve::capabilities;
use ivrc::serve::http::{self, App, Config};
use ivrc::serve::outbound::TwilioApi;
use ivrc::store::Store;
use std::io::Read;
use std::sync::Arc;

/// How long a sealed call state stays valid: longer than any call step waits.
const STATE_TTL_SECS: u64 = 4 * 60 * 60;

/// Runs `ivrc serve`.
pub fn run(args: &ServeArgs) -> u8 {
    let program =
        match super::check::program_for(&args.files, args.format, capabilities::capabilities) {
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
    };
    // Two connections: entries are written in batches by a thread, call states at once.
    let (entries, states) =
        match Store::open(&args.store).and_then(|e| Ok((e, Store::open(&args.store)?))) {
            Ok(s) => s,
            Err(e) => {
                ivrc::errln!("error: cannot open `{}`: {e}", args.store.display());
                return 2;
            }
        };
    let app = Arc::new(App::new(program, config, entries, states));
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
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        match http::serve(listener, app, shutdown).await {
            Ok(()) => 0,
            Err(e) => {
                ivrc::errln!("error: the server stopped: {e}");
                2
            }
        }
    })
}

/// 32 random bytes from the operating system.
fn random_key() -> std::io::Result<Vec<u8>> {
    let mut key = vec![0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut key)?;
    Ok(key)
}
