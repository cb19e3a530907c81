//! The walk for people: text, one step a line with its decision under it; and a sequence
//! diagram, one lifeline per node, as Mermaid or SVG.

use super::decide::Wrap;
use super::walk::{Leg, Step};
use super::Walk;
use std::fmt::Write;

#[derive(Debug, thiserror::Error)]
#[error("cannot draw the walk: {0}")]
pub struct SvgError(String);

pub fn headline(w: &Walk) -> String {
    let outcome = if w.replied {
        "the reply came back"
    } else {
        "no reply"
    };
    format!(
        "trace {} -> {} ({}) in lab {} ({}){}: {outcome}",
        w.from,
        w.to,
        w.to_ip,
        w.lab,
        w.mode.as_str(),
        if w.cold { ", cold" } else { "" }
    )
}

fn marker(s: &Step) -> &'static str {
    match s.wrap {
        Some(Wrap::Encap) => ">> ENCAP",
        Some(Wrap::Decap) => "<< DECAP",
        None => "",
    }
}

/// A hop's number, time, node, interface, direction and leg: the packet follows them.
fn step_cells((n, s): (usize, &Step)) -> Vec<String> {
    vec![
        format!("{:>3}", n + 1),
        format!("{:>8.3} ms", s.t_us as f64 / 1000.0),
        s.node.clone(),
        s.iface.clone(),
        s.direction.to_string(),
        leg(s.leg).to_string(),
    ]
}

pub fn text(w: &Walk) -> String {
    let mut out = headline(w) + "\n\n";
    let rows: Vec<Vec<String>> = w.steps.iter().enumerate().map(step_cells).collect();
    let lines = crate::layout::columns(&rows, 2, crate::layout::Align::Left);
    for (s, lead) in w.steps.iter().zip(lines) {
        let _ = writeln!(out, "{lead}{}", s.packet);
        if !s.decision.is_empty() || s.wrap.is_some() {
            // Under the packet column: the decision reads as a note on that hop.
            let pad = lead.chars().count();
            let _ = writeln!(out, "{:pad$}{} {}", "", marker(s), s.decision);
        }
    }
    if let Some(stop) = &w.stopped {
        let _ = writeln!(
            out,
            "\nstopped: last seen at {} {} ({}): {}",
            stop.node, stop.iface, stop.direction, stop.lacks
        );
    }
    for f in &w.findings {
        let _ = writeln!(out, "finding: {f}");
    }
    if let Some(p) = &w.pcap {
        let _ = writeln!(out, "frames: {}", p.display());
    }
    out
}

fn leg(l: Leg) -> &'static str {
    match l {
        Leg::Request => "request",
        Leg::Reply => "reply",
        Leg::Arp => "arp",
        Leg::Ndp => "ndp",
        Leg::IcmpError => "icmp-err",
    }
}

/// Nodes in the order the walk first meets them.
fn lifelines(w: &Walk) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for s in &w.steps {
        if !out.contains(&s.node.as_str()) {
            out.push(&s.node);
        }
    }
    out
}

/// Mermaid reads `;` and `#` in a message as syntax.
fn clean(s: &str) -> String {
    s.replace(';', ",").replace('#', "")
}

pub fn mermaid(w: &Walk) -> String {
    let nodes = lifelines(w);
    let id = |n: &str| format!("n{}", nodes.iter().position(|x| *x == n).unwrap_or(0));
    let mut out = String::from("sequenceDiagram\n");
    let _ = writeln!(out, "  title {}", clean(&headline(w)));
    for n in &nodes {
        let _ = writeln!(out, "  participant {} as {n}", id(n));
    }
    let mut prev: Option<&Step> = None;
    for s in &w.steps {
        if let Some(p) = prev.filter(|p| p.node != s.node) {
            let _ = writeln!(
                out,
                "  {}->>{}: {} {} to {}",
                id(&p.node),
                id(&s.node),
                leg(s.leg),
                p.iface,
                s.iface
            );
        }
        let mark = marker(s);
        let _ = writeln!(
            out,
            "  Note over {}: {} {} {}<br/>{}<br/>{}",
            id(&s.node),
            s.iface,
            s.direction,
            mark,
            clean(&s.packet),
            clean(&s.decision)
        );
        prev = Some(s);
    }
    if let Some(stop) = &w.stopped {
        let _ = writeln!(
            out,
            "  Note over {}: stopped: {}",
            id(&stop.node),
            clean(&stop.lacks)
        );
    }
    out
}

const COL: usize = 170;
const ROW: usize = 56;
const TOP: usize = 70;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A sequence diagram: one lifeline per node, one row per step, arrows where the packet moves
/// between nodes, encapsulation and decapsulation in colour.
pub fn svg(w: &Walk) -> Result<String, SvgError> {
    let nodes = lifelines(w);
    if nodes.is_empty() {
        return Err(SvgError("the walk has no steps to draw".into()));
    }
    let x = |n: &str| 90 + COL * nodes.iter().position(|m| *m == n).unwrap_or(0);
    // Monospace at 11px is about 7px a character: wide enough for the longest line.
    let longest = w
        .steps
        .iter()
        .map(|s| (s.packet.len() + 10).max(s.decision.len()))
        .max()
        .unwrap_or(0);
    let width = 110 + COL * nodes.len() + 7 * longest;
    let height = TOP + ROW * (w.steps.len() + 2);
    let mut o = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"monospace\" font-size=\"11\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"10\" y=\"20\" font-size=\"14\">{}</text>\n",
        esc(&headline(w))
    );
    for n in &nodes {
        let _ = writeln!(
            o,
            "<text x=\"{}\" y=\"50\" text-anchor=\"middle\" font-weight=\"bold\">{}</text>",
            x(n),
            esc(n)
        );
        let _ = writeln!(o, "<line x1=\"{0}\" y1=\"56\" x2=\"{0}\" y2=\"{1}\" stroke=\"#999\" stroke-dasharray=\"4 3\"/>", x(n), height - 10);
    }
    let text_x = 90 + COL * nodes.len();
    for (i, s) in w.steps.iter().enumerate() {
        let from = i
            .checked_sub(1)
            .map(|p| &w.steps[p])
            .filter(|p| p.node != s.node);
        draw_step(
            &mut o,
            s,
            TOP + ROW * i + 20,
            from.map(|p| x(&p.node)),
            x(&s.node),
            text_x,
        );
    }
    if let Some(stop) = &w.stopped {
        let y = TOP + ROW * w.steps.len() + 20;
        let _ = writeln!(
            o,
            "<text x=\"10\" y=\"{y}\" fill=\"#d33\">stopped at {} {}: {}</text>",
            esc(&stop.node),
            esc(&stop.iface),
            esc(&stop.lacks)
        );
    }
    o.push_str("</svg>\n");
    Ok(o)
}

/// One step: its dot on the node's lifeline, the arrow from the node before, its text.
fn draw_step(o: &mut String, s: &Step, y: usize, from_x: Option<usize>, x: usize, text_x: usize) {
    if let Some(x1) = from_x {
        let _ = writeln!(
            o,
            "<line x1=\"{x1}\" y1=\"{}\" x2=\"{x}\" y2=\"{y}\" stroke=\"black\"/>",
            y - ROW + 4
        );
    }
    let color = match (s.wrap, s.leg) {
        (Some(Wrap::Encap), _) => "#d33",
        (Some(Wrap::Decap), _) => "#36c",
        (_, Leg::Reply) => "#393",
        (_, Leg::Arp | Leg::Ndp) => "#c80",
        _ => "#333",
    };
    let _ = writeln!(
        o,
        "<circle cx=\"{}\" cy=\"{y}\" r=\"5\" fill=\"{color}\"/>",
        x
    );
    let _ = writeln!(
        o,
        "<text x=\"{}\" y=\"{}\" fill=\"{color}\">{} {}</text>",
        x + 8,
        y - 6,
        esc(&s.iface),
        s.direction
    );
    let _ = writeln!(
        o,
        "<text x=\"{text_x}\" y=\"{y}\" fill=\"{color}\">{} {}</text>",
        esc(marker(s)),
        esc(&s.packet)
    );
    let _ = writeln!(
        o,
        "<text x=\"{text_x}\" y=\"{}\" fill=\"#555\">{}</text>",
        y + 14,
        esc(&s.decision)
    );
}
