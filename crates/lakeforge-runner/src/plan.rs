//! What a command will execute: the selected nodes of the kinds the command runs, the
//! ephemeral models they read (which must be registered in the session before them), and the
//! order constraints between them. In `build`, a model's tests run before its children, so a
//! failing test stops bad data from flowing downstream, and its unit tests run before the model
//! itself.

use std::collections::{BTreeMap, BTreeSet};

use lakeforge_project::{Materialization, Project, ResourceType};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Run,
    Seed,
    Test,
    Build,
    Compile,
    /// Train the selected ML models only.
    Train,
    /// Run the selected snapshots only.
    Snapshot,
}

impl Command {
    pub fn as_str(&self) -> &'static str {
        match self {
            Command::Run => "run",
            Command::Seed => "seed",
            Command::Test => "test",
            Command::Build => "build",
            Command::Compile => "compile",
            Command::Train => "train",
            Command::Snapshot => "snapshot",
        }
    }

    fn runs(&self, t: ResourceType) -> bool {
        match self {
            Command::Run => t == ResourceType::Model,
            Command::Seed => t == ResourceType::Seed,
            Command::Test => matches!(t, ResourceType::Test | ResourceType::UnitTest),
            Command::Build | Command::Compile => t != ResourceType::Source,
            Command::Train => t == ResourceType::MlModel,
            Command::Snapshot => t == ResourceType::Snapshot,
        }
    }
}

/// Nodes to execute, in topological order, with the plan-internal nodes each waits for.
pub(crate) struct Plan {
    pub order: Vec<String>,
    pub waits_on: BTreeMap<String, Vec<String>>,
}

pub(crate) fn plan(project: &Project, selected: &BTreeSet<String>, command: Command) -> Plan {
    let mut chosen: BTreeSet<String> = selected
        .iter()
        .filter(|id| {
            project
                .nodes
                .get(*id)
                .is_some_and(|n| command.runs(n.resource_type))
        })
        .cloned()
        .collect();
    // Ephemeral ancestors are registered in the session (cheap, writes nothing) so that the
    // chosen nodes can read them.
    if command != Command::Compile {
        let mut extra = Vec::new();
        for id in &chosen {
            for a in project.graph.ancestors(id, None) {
                if project
                    .nodes
                    .get(&a)
                    .is_some_and(|n| n.config.materialized == Materialization::Ephemeral)
                {
                    extra.push(a);
                }
            }
        }
        chosen.extend(extra);
    }
    let order: Vec<String> = project
        .graph
        .order
        .iter()
        .filter(|id| chosen.contains(*id))
        .cloned()
        .collect();

    let mut waits_on: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for id in &order {
        // Wait for the nearest chosen ancestors; unchosen ones are assumed built already.
        let mut deps = Vec::new();
        let mut stack: Vec<String> = project.graph.parents.get(id).cloned().unwrap_or_default();
        let mut seen = BTreeSet::new();
        while let Some(p) = stack.pop() {
            if !seen.insert(p.clone()) {
                continue;
            }
            if chosen.contains(&p) {
                deps.push(p);
            } else {
                stack.extend(project.graph.parents.get(&p).cloned().unwrap_or_default());
            }
        }
        waits_on.insert(id.clone(), deps);
    }

    // A unit test runs before its model (in `build`, a failing one keeps the model from being
    // built): it waits for what the model waits for, and the model waits for it.
    for id in &order {
        let node = &project.nodes[id];
        if node.resource_type != ResourceType::UnitTest {
            continue;
        }
        let Some(model) = node.depends_on.first() else {
            continue;
        };
        // A model that is not chosen (only its unit test was) is not waited for: it is not
        // among the test's nearest chosen ancestors either.
        if let Some(model_waits) = waits_on.get_mut(model) {
            let w = model_waits.clone();
            model_waits.push(id.clone());
            waits_on.insert(id.clone(), w);
        }
    }

    if command == Command::Build {
        // Children of a model also wait for the model's tests, unless that would form a cycle
        // (a relationships test reading one of the child's own descendants).
        let tests: Vec<&String> = order
            .iter()
            .filter(|id| project.nodes[*id].resource_type == ResourceType::Test)
            .collect();
        for t in tests {
            let parents = &project.nodes[t].depends_on;
            let test_ancestors: BTreeSet<String> = parents
                .iter()
                .flat_map(|p| {
                    project
                        .graph
                        .ancestors(p, None)
                        .into_iter()
                        .chain([p.clone()])
                })
                .collect();
            for p in parents {
                for child in project.graph.children.get(p).into_iter().flatten() {
                    let is_test = project.nodes.get(child).is_some_and(|n| {
                        matches!(n.resource_type, ResourceType::Test | ResourceType::UnitTest)
                    });
                    if is_test || !chosen.contains(child) || test_ancestors.contains(child) {
                        continue;
                    }
                    let w = waits_on.entry(child.clone()).or_default();
                    if !w.contains(t) {
                        w.push(t.clone());
                    }
                }
            }
        }
    }
    Plan { order, waits_on }
}
