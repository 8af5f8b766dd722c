//! A fixed number of whole callback calls through the engine, for an instruction count that
//! does not move with the machine's load (wall time on a shared machine does):
//!
//! ```text
//! cargo bench --bench engine_calls --no-run      # prints the executable's path
//! IVRC_CALLS=2000 valgrind --tool=callgrind --callgrind-out-file=/dev/null BINARY
//! ```
//!
//! Instructions per call = (count at `IVRC_CALLS=2000` − count at `IVRC_CALLS=0`) / 2000.
//! `IVRC_FLOW` names another version of examples/callback.ivr (the same legs and phrases).

include!("common/callback_call.rs");

fn main() {
    let calls: usize = std::env::var("IVRC_CALLS")
        .map(|n| n.parse().expect("IVRC_CALLS is a count"))
        .unwrap_or(2000);
    let path = std::env::var("IVRC_FLOW").unwrap_or_else(|_| CALLBACK.to_string());
    let program = callback_flow(&path);
    let flow = &program.flows[0];
    let mut commands = 0;
    for _ in 0..calls {
        commands += std::hint::black_box(call(std::hint::black_box(flow)));
    }
    println!("{calls} calls, {commands} commands");
}
