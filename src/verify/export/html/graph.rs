//! The lab's graph with the failing pairs marked: the SVG of `cnilab graph`, inline, with a
//! red outline on every pod and host of a failing pair and on the links that touch them.

use super::super::escape::{css_string, text};
use super::super::{host_of, Verdict};
use crate::graph::{self, Format, LabGraph};
use crate::lab::Lab;
use crate::verify::report::Report;
use std::collections::BTreeSet;
use std::fmt::Write;

/// The pods and hosts of every failing pair.
pub fn failing_nodes<'a>(report: &'a Report, lab: &'a Lab) -> BTreeSet<&'a str> {
    let mut nodes = BTreeSet::new();
    for row in report
        .pairs
        .iter()
        .filter(|r| Verdict::of(&r.verdict) == Verdict::Fail)
    {
        for pod in [row.from.as_str(), row.to.as_str()] {
            nodes.insert(pod);
            nodes.extend(host_of(lab, pod));
        }
    }
    nodes
}

/// The graph's SVG with the links that touch a failing node in class `fail`; the page's
/// stylesheet outlines those links, and [`stylesheet`] the nodes.
pub fn marked(g: &LabGraph, failing: &BTreeSet<&str>) -> String {
    let svg = graph::draw(g, Format::Svg);
    let titles: BTreeSet<String> = g
        .links
        .iter()
        .filter(|w| failing.contains(w.a.as_str()) || failing.contains(w.b.as_str()))
        .map(|w| link_title(&format!("{}:{} - {}:{}", w.a, w.a_if, w.b, w.b_if)))
        .collect();
    let mut out = String::with_capacity(svg.len() + 1024);
    for line in svg.lines() {
        match failing_link(line, &titles) {
            true => out.push_str(&line.replacen("class=\"link\"", "class=\"link fail\"", 1)),
            false => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// A link's `<title>` as graph::svg writes it: the ends as `node:iface - node:iface`, with
/// `"` escaped beside the markup characters.
fn link_title(ends: &str) -> String {
    format!("<title>{}</title>", text(ends).replace('"', "&quot;"))
}

/// A link path of the SVG (one element a line) whose title is one of `titles`.
fn failing_link(line: &str, titles: &BTreeSet<String>) -> bool {
    let line = line.trim_start();
    if !line.starts_with("<path class=\"link\"") {
        return false;
    }
    line.find("<title>")
        .and_then(|at| line[at..].strip_suffix("</path>"))
        .is_some_and(|title| titles.contains(title))
}

/// The nodes a warning names.
pub fn warned_nodes(report: &Report) -> BTreeSet<&str> {
    report.warnings.iter().map(|w| w.node.as_str()).collect()
}

/// A rule for the failing nodes' shapes (their `[data-node=…]` groups' boxes) and one for the
/// warned nodes that do not fail. CSS outranks the SVG's presentation attributes.
pub fn stylesheet(failing: &BTreeSet<&str>, warned: &BTreeSet<&str>) -> String {
    let mut css = String::new();
    let only_warned: BTreeSet<&str> = warned.difference(failing).copied().collect();
    for (nodes, style) in [
        (failing, "stroke: var(--fail); stroke-width: 3.5;"),
        (
            &only_warned,
            "stroke: #bf8700; stroke-width: 3; stroke-dasharray: 6 3;",
        ),
    ] {
        if nodes.is_empty() {
            continue;
        }
        let selectors: Vec<String> = nodes
            .iter()
            .map(|n| format!("#graph [data-node={}] > rect", css_string(n)))
            .collect();
        let _ = writeln!(css, "{} {{ {style} }}", selectors.join(",\n"));
    }
    css
}
