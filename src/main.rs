//! tmp
use std::collections::HashMap;
fn main() {
    let path = std::env::args().nth(1).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let mut sources = ivrc::span::Sources::new();
    let id = sources.add(&path, text.clone());
    let (m, e) = ivrc::syntax::parse(id, &text);
    for e in e { println!("{:?}", miette::Report::new(e).with_source_code(miette::NamedSource::new(&path, text.clone()))); }
    let mods = vec![(id, &m)];
    let mut leads = HashMap::new();
    for (f, p) in ivrc::check::leads_paths(&mods) {
        let dir = std::path::Path::new(&path).parent().unwrap();
        leads.insert((f, p.clone()), std::fs::read(dir.join(&p)).ok());
    }
    let (_a, d) = ivrc::check::check(&mods, &leads);
    for e in d { println!("{:?}", miette::Report::new(e.error).with_source_code(miette::NamedSource::new(&path, text.clone()))); }
}
