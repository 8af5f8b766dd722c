//! Going to definitions, finding references, and the outline of a document (its flows with
//! their labels, its campaigns and tests), from the symbol index.
//!
//! An `import`'s path leads to the imported file. It does not resolve names itself: that is
//! the index's business.

use super::program::{View, ROOT};
use super::symbols::SymbolKind;
use lsp_types::{DocumentSymbol, Location, Position, Range, SymbolKind as Kind};

/// Where the name at `offset` is defined, or the file the `import` at `offset` reads.
pub fn definition(view: &View<'_>, offset: usize) -> Option<Location> {
    let index = &view.program.index;
    if let Some(id) = index.at(ROOT, offset) {
        return view.location(index.symbols[id].name_span);
    }
    let loaded = &view.program.loaded;
    let &(file, ..) = loaded.imported_by.iter().find(|(_, by, at)| {
        *by == ROOT && at.start as usize <= offset && offset <= at.end as usize
    })?;
    let start = Position::new(0, 0);
    Some(Location::new(view.uri(file)?, Range::new(start, start)))
}

/// Every reference to the name at `offset`, its definition first when asked for.
pub fn references(view: &View<'_>, offset: usize, declaration: bool) -> Option<Vec<Location>> {
    let index = &view.program.index;
    let id = index.at(ROOT, offset)?;
    let definition = declaration.then_some(index.symbols[id].name_span);
    Some(
        definition
            .into_iter()
            .chain(index.references_to(id))
            .filter_map(|span| view.location(span))
            .collect(),
    )
}

/// The document's flows (each with its labels), campaigns and tests, in source order.
pub fn document_symbols(view: &View<'_>) -> Vec<DocumentSymbol> {
    let index = &view.program.index;
    let symbol = |id: usize, children: Option<Vec<DocumentSymbol>>| {
        let s = &index.symbols[id];
        let kind = match s.kind {
            SymbolKind::Flow => Kind::FUNCTION,
            SymbolKind::Label => Kind::KEY,
            SymbolKind::Campaign => Kind::EVENT,
            SymbolKind::Test => Kind::METHOD,
            SymbolKind::Parameter | SymbolKind::Variable | SymbolKind::Leg => Kind::VARIABLE,
        };
        #[allow(deprecated)]
        DocumentSymbol {
            name: s.name.clone(),
            detail: s.detail.clone(),
            kind,
            tags: None,
            deprecated: None,
            range: view.range(s.span),
            selection_range: view.range(s.name_span),
            children,
        }
    };
    (0..index.symbols.len())
        .filter(|&id| {
            let s = &index.symbols[id];
            s.span.file == ROOT
                && matches!(
                    s.kind,
                    SymbolKind::Flow | SymbolKind::Campaign | SymbolKind::Test
                )
        })
        .map(|id| match index.symbols[id].kind {
            SymbolKind::Flow => {
                let labels = index
                    .of_flow(id, SymbolKind::Label)
                    .into_iter()
                    .map(|l| symbol(l, None))
                    .collect();
                symbol(id, Some(labels))
            }
            _ => symbol(id, None),
        })
        .collect()
}
