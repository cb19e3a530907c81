//! Mermaid flowchart, for GitHub markdown: one subgraph per host holding its pods, links
//! labelled with both interface names, tunnels dotted.

use super::model::{LabGraph, NodeBox};
use std::collections::HashMap;
use std::fmt::Write;

pub fn render(graph: &LabGraph) -> String {
    // Node names may hold `-` and `.`, which Mermaid reads as edge syntax: give each an id.
    let ids: HashMap<&str, String> = graph
        .node_names()
        .into_iter()
        .enumerate()
        .map(|(i, n)| (n, format!("n{i}")))
        .collect();
    let id = |n: &str| {
        ids.get(n)
            .cloned()
            .unwrap_or_else(|| format!("x_{}", n.replace(['-', '.'], "_")))
    };
    let mut out = String::from("flowchart TB\n");
    for (g, group) in graph.hosts.iter().enumerate() {
        let _ = writeln!(out, "  subgraph g{g} [{}]", text(&group.host.node));
        for b in std::iter::once(&group.host).chain(&group.pods) {
            let _ = writeln!(out, "    {}", node(&id(&b.node), b));
        }
        out.push_str("  end\n");
    }
    for b in &graph.others {
        let _ = writeln!(out, "  {}", node(&id(&b.node), b));
    }
    for w in &graph.links {
        let label = format!("{}:{} - {}:{}", w.a, w.a_if, w.b, w.b_if);
        let _ = writeln!(out, "  {} ---|{}| {}", id(&w.a), text(&label), id(&w.b));
    }
    for (i, svc) in graph.services.iter().enumerate() {
        let label = format!("{} [service]<br/>{}", svc.name, svc.summary);
        let _ = writeln!(out, "  s{i}([{}])", text(&label));
        for pod in &svc.endpoints {
            let _ = writeln!(out, "  s{i} -.-> {}", id(pod));
        }
    }
    // The same words on every tunnel would repeat N·(N-1)/2 times: only the first says them.
    for (i, t) in graph.tunnels.iter().enumerate() {
        if i == 0 {
            let _ = writeln!(out, "  {} -.-|{}| {}", id(&t.a), text(&t.kind), id(&t.b));
        } else {
            let _ = writeln!(out, "  {} -.- {}", id(&t.a), id(&t.b));
        }
    }
    out
}

fn node(id: &str, b: &NodeBox) -> String {
    let mut lines = vec![format!("{} [{}]", b.node, b.role)];
    lines.extend(b.details.iter().cloned());
    format!("{id}[{}]", text(&lines.join("<br/>")))
}

/// A quoted Mermaid label; `"` becomes Mermaid's entity so it cannot end the string.
fn text(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "#quot;"))
}
