//! tmp
fn main() {
    let path = std::env::args().nth(1).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let (m, e) = ivrc::syntax::parse(ivrc::span::FileId(0), &text);
    println!("{:#?}\n{:#?}", m.items.len(), e);
}
