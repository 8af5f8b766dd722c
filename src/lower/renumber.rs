//! Renumbering of a lowered flow's nodes in path order, dropping what no path reaches.

use crate::ir::{self, Node, NodeId};

/// Renumbers nodes in path order from the entry, then the handlers. Nodes no path reaches
/// (statements after a `hangup`, the end of a flow that always reports) are dropped.
pub(super) fn renumber(
    nodes: Vec<Node>,
    entry: NodeId,
    handlers: ir::Handlers,
) -> (Vec<Node>, NodeId, ir::Handlers) {
    let mut order: Vec<usize> = Vec::with_capacity(nodes.len());
    let mut seen = vec![false; nodes.len()];
    let roots = [Some(entry), handlers.hangup, handlers.error, handlers.sms];
    let mut stack: Vec<usize> = Vec::new();
    for root in roots.into_iter().flatten() {
        stack.push(root.0 as usize);
        while let Some(i) = stack.pop() {
            if i >= nodes.len() || seen[i] {
                continue;
            }
            seen[i] = true;
            order.push(i);
            for e in nodes[i].edges.iter().rev() {
                stack.push(e.to.0 as usize);
            }
        }
    }
    let mut new_id = vec![NodeId(0); nodes.len()];
    for (new, &old) in order.iter().enumerate() {
        new_id[old] = NodeId(new as u32);
    }
    let map = |id: NodeId| new_id.get(id.0 as usize).copied().unwrap_or(id);
    let mut slots: Vec<Option<Node>> = nodes.into_iter().map(Some).collect();
    let mut out = Vec::with_capacity(slots.len());
    for &old in &order {
        if let Some(mut n) = slots[old].take() {
            n.id = map(n.id);
            for e in &mut n.edges {
                e.to = map(e.to);
            }
            out.push(n);
        }
    }
    let handlers = ir::Handlers {
        hangup: handlers.hangup.map(map),
        error: handlers.error.map(map),
        sms: handlers.sms.map(map),
    };
    (out, map(entry), handlers)
}
