//! Graphviz DOT: hosts as clusters holding their pods, links labelled with both interface
//! names, tunnels dashed.

use super::model::{LabGraph, NodeBox};
use std::fmt::Write;

pub fn render(graph: &LabGraph) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "graph {} {{", quote(&graph.name));
    let _ = writeln!(out, "  label={};", quote(&title(graph)));
    out.push_str("  node [shape=box];\n");
    for group in &graph.hosts {
        let _ = writeln!(
            out,
            "  subgraph {} {{",
            quote(&format!("cluster_{}", group.host.node))
        );
        let _ = writeln!(out, "    label={};", quote(&group.host.node));
        for b in std::iter::once(&group.host).chain(&group.pods) {
            let _ = writeln!(out, "    {}", node(b));
        }
        out.push_str("  }\n");
    }
    for b in &graph.others {
        let _ = writeln!(out, "  {}", node(b));
    }
    for w in &graph.links {
        // Written from the upper tier down, so the layout puts switches and routers above
        // hosts and hosts above their pods.
        let (a, a_if, b, b_if) = if tier(graph, &w.a) <= tier(graph, &w.b) {
            (&w.a, &w.a_if, &w.b, &w.b_if)
        } else {
            (&w.b, &w.b_if, &w.a, &w.a_if)
        };
        let label = format!("{a}:{a_if} - {b}:{b_if}");
        let _ = writeln!(
            out,
            "  {} -- {} [label={}];",
            quote(a),
            quote(b),
            quote(&label)
        );
    }
    tunnels(graph, &mut out);
    services(graph, &mut out);
    out.push_str("}\n");
    out
}

/// Each Service as an ellipse, dotted to the pods it selects.
fn services(graph: &LabGraph, out: &mut String) {
    for s in &graph.services {
        let label = format!("{} [service]\\n{}", s.name, s.summary);
        let _ = writeln!(
            out,
            "  {} [label={}, shape=ellipse, style=filled, fillcolor=palegreen];",
            quote(&s.name),
            quote(&label)
        );
        for pod in &s.endpoints {
            let _ = writeln!(
                out,
                "  {} -- {} [style=dotted, color=darkgreen];",
                quote(&s.name),
                quote(pod)
            );
        }
    }
}

/// Every tunnel carries the same thing: saying it on each of N·(N-1)/2 edges buries the picture
/// in one repeated label, so only the first says it.
fn tunnels(graph: &LabGraph, out: &mut String) {
    for (i, t) in graph.tunnels.iter().enumerate() {
        let label = if i == 0 {
            format!("label={}, ", quote(&t.kind))
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "  {} -- {} [{label}style=dashed, color=blue];",
            quote(&t.a),
            quote(&t.b),
        );
    }
}

fn tier(graph: &LabGraph, node: &str) -> u8 {
    let role = graph
        .hosts
        .iter()
        .flat_map(|g| std::iter::once(&g.host).chain(&g.pods))
        .chain(&graph.others)
        .find(|b| b.node == node)
        .map_or("", |b| b.role.as_str());
    match role {
        "switch" => 0,
        "router" => 1,
        "host" => 2,
        "pod" => 3,
        _ => 1,
    }
}

pub fn title(graph: &LabGraph) -> String {
    format!("{} ({})", graph.name, graph.mode.as_str())
}

fn node(b: &NodeBox) -> String {
    let mut lines = vec![format!("{} [{}]", b.node, b.role)];
    lines.extend(b.details.iter().cloned());
    let fill = match b.role.as_str() {
        "host" => "lightblue",
        "pod" => "lightyellow",
        "router" => "lightgray",
        _ => "white",
    };
    format!(
        "{} [label={}, style=filled, fillcolor={fill}];",
        quote(&b.node),
        quote(&lines.join("\\n"))
    )
}

/// A DOT string literal. Names are letters, digits, `-`, `_` and `.`, but a quote is escaped
/// anyway so that no label can end the string early.
fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\\\""))
}
