//! Time of each front-end phase (parse, check, lower) on generated 10,000 and 100,000-line
//! flows, to see where time goes; `cargo bench --bench phases`.

use ivrc::span::Sources;
use std::time::Instant;
include!("common/generated_flow.rs");
/// Prints the time of each phase.
fn main() {
    for lines in [10_000, 100_000] {
        let text = flow(lines);
        let t0 = Instant::now();
        let mut sources = Sources::new();
        let id = sources.add("big.ivr", text.as_str());
        let t1 = Instant::now();
        let (module, _e) = ivrc::syntax::parse(id, &text);
        let t2 = Instant::now();
        let modules = vec![(id, &module)];
        let (analysis, _d) = ivrc::check::check(&modules, &Default::default());
        let t3 = Instant::now();
        let p = ivrc::lower::lower(&sources, &modules, &analysis);
        let t4 = Instant::now();
        drop(p);
        drop(analysis);
        drop(module);
        let t5 = Instant::now();
        println!(
            "{lines}: sources {:?} parse {:?} check {:?} lower {:?} drop {:?}",
            t1 - t0,
            t2 - t1,
            t3 - t2,
            t4 - t3,
            t5 - t4
        );
    }
}
