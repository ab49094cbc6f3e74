//! The DAG between nodes (and sources): parent/child maps, a topological order, and cycle
//! detection that reports the whole cycle so the user sees which refs to break.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::error::{ProjectError, Result};
use crate::node::{Node, SourceTable};

#[derive(Debug, Clone, Default)]
pub struct Graph {
    pub parents: BTreeMap<String, Vec<String>>,
    pub children: BTreeMap<String, Vec<String>>,
    /// Every node and source id in dependency order (parents first).
    pub order: Vec<String>,
}

impl Graph {
    pub fn build(
        nodes: &BTreeMap<String, Node>,
        sources: &BTreeMap<String, SourceTable>,
    ) -> Result<Graph> {
        // Collected, not grown entry by entry: ids are long strings sharing long prefixes
        // (`test.shop.not_null_...`), so each BTreeMap lookup was a dozen string compares.
        let parents: BTreeMap<String, Vec<String>> = sources
            .keys()
            .map(|id| (id.clone(), Vec::new()))
            .chain(
                nodes
                    .iter()
                    .map(|(id, n)| (id.clone(), n.depends_on.clone())),
            )
            .collect();
        let mut readers: HashMap<&str, Vec<String>> = HashMap::new();
        for node in nodes.values() {
            for dep in &node.depends_on {
                readers
                    .entry(dep.as_str())
                    .or_default()
                    .push(node.unique_id.clone());
            }
        }
        let mut children: BTreeMap<String, Vec<String>> = sources
            .keys()
            .chain(nodes.keys())
            .map(|id| (id.clone(), readers.remove(id.as_str()).unwrap_or_default()))
            .collect();
        // Ids read but not defined keep their entry, as before.
        children.extend(readers.into_iter().map(|(id, r)| (id.to_string(), r)));
        let order = topo_order(&parents)?;
        Ok(Graph {
            parents,
            children,
            order,
        })
    }

    /// All ancestors of `id`, up to `depth` levels (None = unlimited).
    pub fn ancestors(&self, id: &str, depth: Option<usize>) -> BTreeSet<String> {
        walk(&self.parents, id, depth)
    }

    pub fn descendants(&self, id: &str, depth: Option<usize>) -> BTreeSet<String> {
        walk(&self.children, id, depth)
    }
}

fn walk(
    edges: &BTreeMap<String, Vec<String>>,
    start: &str,
    depth: Option<usize>,
) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut frontier = vec![start.to_string()];
    let mut level = 0;
    while !frontier.is_empty() && depth.is_none_or(|d| level < d) {
        let mut next = Vec::new();
        for id in frontier {
            for n in edges.get(&id).into_iter().flatten() {
                if seen.insert(n.clone()) {
                    next.push(n.clone());
                }
            }
        }
        frontier = next;
        level += 1;
    }
    seen
}

/// Depth-first topological sort; on a back edge, the stack from the first visit of the repeated
/// node is the cycle.
fn topo_order(parents: &BTreeMap<String, Vec<String>>) -> Result<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Visiting,
        Done,
    }
    let mut marks: HashMap<&str, Mark> = HashMap::with_capacity(parents.len());
    let mut order = Vec::with_capacity(parents.len());
    for start in parents.keys() {
        if marks.contains_key(start.as_str()) {
            continue;
        }
        // Iterative DFS: (node, index of next parent to visit).
        let mut stack: Vec<(&str, usize)> = vec![(start.as_str(), 0)];
        marks.insert(start, Mark::Visiting);
        while let Some((id, i)) = stack.pop() {
            let ps = parents.get(id).map(Vec::as_slice).unwrap_or(&[]);
            if i < ps.len() {
                stack.push((id, i + 1));
                let p = ps[i].as_str();
                match marks.get(p) {
                    None => {
                        marks.insert(p, Mark::Visiting);
                        stack.push((p, 0));
                    }
                    Some(Mark::Visiting) => {
                        // A node marked Visiting is on the stack, so `position` finds it.
                        let pos = stack.iter().position(|(n, _)| *n == p).unwrap_or(0);
                        // The stack runs child -> parent; reversed it is the data-flow order,
                        // and `id` reads from `p`, closing the loop.
                        let mut cycle: Vec<String> =
                            stack[pos..].iter().rev().map(|(n, _)| short(n)).collect();
                        cycle.push(cycle[0].clone());
                        return Err(ProjectError::Cycle { path: cycle });
                    }
                    Some(Mark::Done) => {}
                }
            } else {
                marks.insert(id, Mark::Done);
                order.push(id.to_string());
            }
        }
    }
    Ok(order)
}

fn short(id: &str) -> String {
    id.rsplit('.').next().unwrap_or(id).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parents(edges: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
        edges
            .iter()
            .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
            .collect()
    }

    #[test]
    fn orders_parents_first() {
        let p = parents(&[("m.c", &["m.b"]), ("m.b", &["m.a"]), ("m.a", &[])]);
        assert_eq!(topo_order(&p).unwrap(), vec!["m.a", "m.b", "m.c"]);
    }

    #[test]
    fn reports_the_cycle_path() {
        let p = parents(&[
            ("m.a", &["m.c"]),
            ("m.b", &["m.a"]),
            ("m.c", &["m.b"]),
            ("m.d", &[]),
        ]);
        let e = topo_order(&p).unwrap_err().to_string();
        assert_eq!(
            e.lines().next().unwrap(),
            "Dependency cycle: b -> c -> a -> b"
        );
    }
}
