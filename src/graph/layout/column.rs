//! A host's column: its pods stacked under it, and the overlay that joins the hosts.
//!
//! One pod hangs straight under its host. Several pods are indented and hang off a trunk down
//! the column's left edge, so that no link runs through another pod. Either way the link's label
//! (the host's end: the pod's box names its own) stands on the link just above the pod.
//!
//! The overlay is a dashed bus under each row of hosts with a VTEP on it for each host, not a
//! curve per pair of hosts: every pair would say the same thing, and N·(N-1)/2 curves cover the
//! picture. The bus says once, on the first row, what the tunnels carry.

use super::place::Margin;
use super::route::Links;
use super::text::{self, OVERLAY, PORT};
use super::tiers::Scene;
use super::{Anchor, Dot, Drawing, Label, LabelKind, Line, POD_INDENT, SLOT};

/// From a host's bottom to its row's bus: room for the overlay's words above the first bus.
const BUS_DROP: f64 = 20.0;
/// The overlay band under a row of hosts, bus included.
const OVERLAY_BAND: f64 = BUS_DROP + 10.0;
/// Between a pod's label slot and the box above it.
const POD_GAP: f64 = 6.0;
/// A host's VTEP stands this far in from the box's right side, clear of the pod links.
const VTEP_INSET: f64 = 12.0;
/// The trunk of stacked pods runs this far in from the host's left side.
const POD_TRUNK: f64 = 10.0;

fn overlay_band(scene: &Scene) -> f64 {
    if scene.graph.overlay.is_some() {
        OVERLAY_BAND
    } else {
        0.0
    }
}

pub fn overlay_label_width(scene: &Scene) -> f64 {
    scene.graph.overlay.as_ref().map_or(0.0, |o| {
        o.notes
            .iter()
            .map(|n| text::width(n, PORT))
            .fold(text::width(&o.encap, OVERLAY), f64::max)
    })
}

/// Places row `r`'s pods under hosts whose tier ends at `y`; returns the row's bottom.
pub fn place_pods(scene: &mut Scene, r: usize, y: f64) -> f64 {
    let mut bottom = y + overlay_band(scene);
    if r == 0 {
        // The overlay's notes hang under the first row's bus, in the margin.
        bottom = bottom.max(y + BUS_DROP + overlay_words_height(scene));
    }
    for h in scene.rows[r].clone() {
        let slot = scene.hosts.iter().position(|&x| x == h).unwrap_or(0);
        let pods = scene.pods[slot].clone();
        let host = scene.items[h].clone();
        let mut top = host.bottom() + overlay_band(scene);
        for &p in &pods {
            top += POD_GAP + SLOT;
            let pod = &mut scene.items[p];
            pod.x = if pods.len() == 1 {
                host.x
            } else {
                host.left() + POD_INDENT + pod.w / 2.0
            };
            pod.y = top;
            top += pod.h;
            bottom = bottom.max(top);
        }
    }
    bottom
}

pub fn draw(scene: &Scene, links: &Links, margin: &Margin, d: &mut Drawing) {
    for l in &links.pods {
        draw_pod_link(scene, l, d);
    }
    if scene.graph.overlay.is_some() {
        draw_overlay(scene, margin, d);
    }
}

fn draw_pod_link(scene: &Scene, l: &super::route::Link, d: &mut Drawing) {
    let (host, pod) = (&scene.items[l.a], &scene.items[l.b]);
    let label_y = pod.y - 4.0 - text::descent(PORT);
    let title = Some(l.title.clone());
    let straight = (pod.x - host.x).abs() < 0.5;
    if straight {
        d.lines.push(Line::link(
            vec![(host.x, host.bottom()), (host.x, pod.y)],
            title,
        ));
    } else {
        let tx = host.left() + POD_TRUNK;
        let mid = pod.y + pod.h / 2.0;
        let points = vec![(tx, host.bottom()), (tx, mid), (pod.left(), mid)];
        d.lines.push(Line::link(points, title));
    }
    if let Some(t) = &l.a_label {
        let (x, anchor) = if straight {
            (host.x, Anchor::Middle)
        } else {
            (host.left() + POD_TRUNK + 4.0, Anchor::Start)
        };
        d.labels.push(Label::port(x, label_y, t, anchor));
    }
}

/// Each row's bus, each host's VTEP on it, the trunk joining the rows' buses, and the words.
fn draw_overlay(scene: &Scene, margin: &Margin, d: &mut Drawing) {
    let mut buses = Vec::new();
    for row in &scene.rows {
        let bottom = row
            .iter()
            .map(|&h| scene.items[h].bottom())
            .fold(0.0, f64::max);
        let y = bottom + BUS_DROP;
        let mut right = margin.overlay_trunk;
        for &h in row {
            let host = &scene.items[h];
            let x = host.right() - VTEP_INSET;
            d.lines.push(Line::tunnel(vec![(x, host.bottom()), (x, y)]));
            d.dots.push(Dot::vtep(x, y));
            right = right.max(x);
        }
        d.lines
            .push(Line::tunnel(vec![(margin.overlay_trunk, y), (right, y)]));
        buses.push(y);
    }
    if let (Some(&first), Some(&last)) = (buses.first(), buses.last()) {
        if buses.len() > 1 {
            let x = margin.overlay_trunk;
            d.lines.push(Line::tunnel(vec![(x, first), (x, last)]));
        }
        overlay_words(scene, margin, first, d);
    }
}

fn overlay_words_height(scene: &Scene) -> f64 {
    scene
        .graph
        .overlay
        .as_ref()
        .map_or(0.0, |o| 4.0 + o.notes.len() as f64 * text::height(PORT))
}

/// The encapsulation just above the first bus, the notes just under it, all in the left margin:
/// on the line itself the dashes would show between the letters.
fn overlay_words(scene: &Scene, margin: &Margin, bus: f64, d: &mut Drawing) {
    let Some(o) = &scene.graph.overlay else {
        return;
    };
    let x = margin.overlay_label;
    let base = bus - 4.0 - text::descent(OVERLAY);
    d.labels.push(Label {
        x,
        y: base,
        text: o.encap.clone(),
        size: OVERLAY,
        anchor: Anchor::Start,
        kind: LabelKind::Overlay,
    });
    let mut y = bus + 4.0;
    for n in &o.notes {
        y += text::height(PORT);
        d.labels.push(Label {
            x,
            y: y - text::descent(PORT),
            text: n.clone(),
            size: PORT,
            anchor: Anchor::Start,
            kind: LabelKind::OverlayNote,
        });
    }
}
