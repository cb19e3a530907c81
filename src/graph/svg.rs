//! SVG without an external program: the role tiers of [`super::layout`], written out.
//!
//! Every node is a `<g data-node="NAME" data-role="ROLE">` holding its box and its text, so that
//! CSS, tests and the verify report can address it. Colours and strokes are presentation
//! attributes rather than a stylesheet, so that any renderer (a browser, GitHub's image view,
//! rsvg-convert) draws the same.

use super::layout::{self, text, Anchor, Dot, Drawing, Label, LabelKind, Line, NodeShape, Stroke};
use super::model::LabGraph;
use std::fmt::Write;

const LINK: &str = "#555555";
const TUNNEL: &str = "#1d5fd1";

pub fn render(graph: &LabGraph) -> String {
    write(graph, &layout::layout(graph))
}

fn write(graph: &LabGraph, d: &Drawing) -> String {
    let mut out = String::new();
    let legend = services_legend(graph);
    let width = legend.iter().map(|(_, w)| *w).fold(d.width, f64::max);
    let height = d.height + legend.len() as f64 * SERVICE_LINE;
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
         viewBox=\"0 0 {w} {h}\" font-family=\"{}\" data-lab=\"{}\" data-mode=\"{}\">",
        text::FONT,
        esc(&graph.name),
        graph.mode.as_str(),
        w = num(width),
        h = num(height),
    );
    out.push_str("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
    out.push_str("<g class=\"links\" fill=\"none\">\n");
    for l in d.lines.iter().filter(|l| l.stroke == Stroke::Link) {
        line(&mut out, l);
    }
    dots(&mut out, d, Stroke::Link);
    out.push_str("</g>\n");
    overlay(&mut out, graph, d);
    out.push_str("<g class=\"nodes\">\n");
    for n in &d.nodes {
        node(&mut out, n);
    }
    out.push_str("</g>\n<g class=\"labels\">\n");
    for l in &d.labels {
        label(&mut out, l);
    }
    out.push_str("</g>\n");
    services(&mut out, graph, &legend, d.height);
    out.push_str("</svg>\n");
    out
}

/// The height of a line of the Services legend.
const SERVICE_LINE: f64 = text::DETAIL * 1.8;

/// One line per Service under the drawing: its addresses and the pods it selects, each with
/// the width it needs.
fn services_legend(graph: &LabGraph) -> Vec<(String, f64)> {
    graph
        .services
        .iter()
        .map(|s| {
            let line = format!("{}: {} → {}", s.name, s.summary, s.endpoints.join(", "));
            let w = text::width(&line, text::DETAIL) + 2.0 * SERVICE_LINE;
            (line, w)
        })
        .collect()
}

fn services(out: &mut String, graph: &LabGraph, legend: &[(String, f64)], top: f64) {
    if legend.is_empty() {
        return;
    }
    out.push_str("<g class=\"services\">\n");
    for (i, (s, (line, _))) in graph.services.iter().zip(legend).enumerate() {
        let _ = writeln!(
            out,
            "<text data-service=\"{}\" data-endpoints=\"{}\" x=\"{}\" y=\"{}\" font-size=\"{}\" fill=\"#1f7a1f\">{}</text>",
            esc(&s.name),
            esc(&s.endpoints.join(" ")),
            num(SERVICE_LINE),
            num(top + (i as f64 + 0.8) * SERVICE_LINE),
            num(text::DETAIL),
            esc(line)
        );
    }
    out.push_str("</g>\n");
}

fn overlay(out: &mut String, graph: &LabGraph, d: &Drawing) {
    let Some(o) = &graph.overlay else {
        return;
    };
    let _ = writeln!(
        out,
        "<g class=\"overlay\" data-encap=\"{}\" fill=\"none\">",
        esc(&o.encap)
    );
    for l in d.lines.iter().filter(|l| l.stroke == Stroke::Tunnel) {
        line(out, l);
    }
    dots(out, d, Stroke::Tunnel);
    out.push_str("</g>\n");
}

fn line(out: &mut String, l: &Line) {
    let path: Vec<String> = l
        .points
        .iter()
        .enumerate()
        .map(|(i, (x, y))| format!("{}{} {}", if i == 0 { "M" } else { "L" }, num(*x), num(*y)))
        .collect();
    let (class, style) = match l.stroke {
        Stroke::Link => ("link", format!("stroke=\"{LINK}\" stroke-width=\"1.4\"")),
        Stroke::Tunnel => (
            "tunnel",
            format!("stroke=\"{TUNNEL}\" stroke-width=\"2\" stroke-dasharray=\"7 4\""),
        ),
    };
    let _ = write!(
        out,
        "  <path class=\"{class}\" d=\"{}\" {style}",
        path.join(" ")
    );
    match &l.title {
        Some(t) => {
            let _ = writeln!(out, "><title>{}</title></path>", esc(t));
        }
        None => out.push_str("/>\n"),
    }
}

fn dots(out: &mut String, d: &Drawing, stroke: Stroke) {
    for Dot { x, y, .. } in d.dots.iter().filter(|p| p.stroke == stroke) {
        let _ = match stroke {
            Stroke::Link => writeln!(
                out,
                "  <circle cx=\"{}\" cy=\"{}\" r=\"2.5\" fill=\"{LINK}\"/>",
                num(*x),
                num(*y)
            ),
            Stroke::Tunnel => writeln!(
                out,
                "  <circle class=\"vtep\" cx=\"{}\" cy=\"{}\" r=\"4\" fill=\"{TUNNEL}\" \
                 stroke=\"white\" stroke-width=\"1.5\"/>",
                num(*x),
                num(*y)
            ),
        };
    }
}

/// Fill and outline by role, so that a tier reads at a glance.
fn colours(role: &str) -> (&'static str, &'static str) {
    match role {
        "host" => ("#dbe8fb", "#2a5aa0"),
        "pod" => ("#fdf3c4", "#9a6b00"),
        "router" => ("#e4e4e4", "#555555"),
        "switch" => ("#eef3ee", "#4d6b4d"),
        _ => ("#ffffff", "#555555"),
    }
}

fn node(out: &mut String, n: &NodeShape) {
    let pods = n
        .pods
        .map(|p| format!(" data-pods=\"{p}\""))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "  <g data-node=\"{}\" data-role=\"{}\"{pods}>",
        esc(&n.name),
        esc(&n.role)
    );
    let (fill, edge) = colours(&n.role);
    let _ = writeln!(
        out,
        "    <rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"4\" fill=\"{fill}\" \
         stroke=\"{edge}\" stroke-width=\"1.2\"/>",
        num(n.x),
        num(n.y),
        num(n.w),
        num(n.h)
    );
    for t in &n.text {
        out.push_str("  ");
        label(out, t);
    }
    out.push_str("  </g>\n");
}

fn label(out: &mut String, l: &Label) {
    if l.kind == LabelKind::Port {
        // A label standing on a line gets a white ground, so that the line does not strike it
        // out; a halo alone leaves the line showing between the letters.
        let (x0, y0, x1, y1) = l.bounds();
        let _ = writeln!(
            out,
            "  <rect class=\"port-ground\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"white\"/>",
            num(x0),
            num(y0 + 0.1 * l.size),
            num(x1 - x0),
            num(y1 - y0 - 0.15 * l.size)
        );
    }
    let anchor = match l.anchor {
        Anchor::Start => "start",
        Anchor::Middle => "middle",
        Anchor::End => "end",
    };
    let (class, style) = match l.kind {
        LabelKind::Heading => ("heading", " font-weight=\"bold\" fill=\"#222222\""),
        LabelKind::Name => ("name", " font-weight=\"bold\" fill=\"#111111\""),
        LabelKind::Detail => ("detail", " fill=\"#333333\""),
        LabelKind::Port => ("port", " fill=\"#333333\""),
        LabelKind::Overlay => ("overlay", " fill=\"#1d5fd1\" font-weight=\"bold\""),
        LabelKind::OverlayNote => ("overlay-note", OVERLAY_STYLE),
    };
    let _ = writeln!(
        out,
        "  <text class=\"{class}\" x=\"{}\" y=\"{}\" font-size=\"{}\" text-anchor=\"{anchor}\"{style}>{}</text>",
        num(l.x),
        num(l.y),
        num(l.size),
        esc(&l.text)
    );
}

const OVERLAY_STYLE: &str = " fill=\"#1d5fd1\"";

/// A coordinate to a tenth of a pixel, without trailing zeros.
fn num(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    if r.fract() == 0.0 {
        format!("{}", r as i64)
    } else {
        format!("{r:.1}")
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
