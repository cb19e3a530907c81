//! Where everything goes in `cnilab graph`'s SVG: tiers by role, laid out by hand.
//!
//! Why no layout crate: general graph layout (Graphviz's dot, layout-rs, the Sugiyama crates)
//! ranks nodes from the edges alone. It knows nothing of roles, so routers land at whatever
//! height the edges suggest, a tunnel mesh of N·(N-1)/2 edges becomes N² crossing curves, and
//! labels go wherever a spline bends. cnilab knows every node's role, so the picture can always
//! be the article's: the underlay on top, the hosts in a row, each host's pods in its column,
//! the overlay as one bus. With places fixed by role, what is left (an underlay node's x over
//! its children, lanes for the lines between tiers) takes a few passes and no solver, and the
//! same file always gives the same picture.
//!
//! The passes: `tiers` puts nodes in tiers and hosts in rows; `place` gives each node its
//! x, then each tier its y; `route` draws the links between tiers through lanes with their
//! labels on them; [`column`] draws each host's pods and the overlay. All lengths are px.

mod column;
mod place;
mod route;
pub mod text;
mod tiers;

use crate::graph::model::LabGraph;
pub use tiers::COLLAPSE_ABOVE;

/// Around the whole picture.
const MARGIN: f64 = 16.0;
/// Between two host columns.
const COL_GAP: f64 = 24.0;
/// Between two boxes in an underlay tier.
const NODE_GAP: f64 = 24.0;
/// Between two lanes in one gap, and between two trunks in the margin.
const LANE_STEP: f64 = 8.0;
const TRUNK_STEP: f64 = 10.0;
/// From the top of a gap to its first lane.
const CH_PAD: f64 = 8.0;
/// The height a link label takes, with air.
const SLOT: f64 = 14.0;
/// Between the pods of one row and what comes under them, and between tiers that no line joins.
const ROW_GAP: f64 = 28.0;
/// How far stacked pods are indented from their host's left side.
const POD_INDENT: f64 = 22.0;
/// The picture's width is kept under this by wrapping rows of hosts.
pub const MAX_WIDTH: f64 = 2400.0;
/// Hosts in one row at most.
pub const MAX_PER_ROW: usize = 16;

#[derive(Debug, Clone, Default)]
pub struct Drawing {
    pub width: f64,
    pub height: f64,
    pub nodes: Vec<NodeShape>,
    pub lines: Vec<Line>,
    pub dots: Vec<Dot>,
    pub labels: Vec<Label>,
}

/// A node's box, `x`/`y` its top-left corner, and its text, placed.
#[derive(Debug, Clone)]
pub struct NodeShape {
    pub name: String,
    pub role: String,
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
    pub text: Vec<Label>,
    /// Set when pods are not drawn: how many the host runs.
    pub pods: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stroke {
    Link,
    Tunnel,
}

#[derive(Debug, Clone)]
pub struct Line {
    pub points: Vec<(f64, f64)>,
    pub stroke: Stroke,
    /// The link in words (`gw1:eth2 - host1:eth1`), shown on hover.
    pub title: Option<String>,
}

impl Line {
    fn link(points: Vec<(f64, f64)>, title: Option<String>) -> Line {
        Line {
            points,
            stroke: Stroke::Link,
            title,
        }
    }
    fn tunnel(points: Vec<(f64, f64)>) -> Line {
        Line {
            points,
            stroke: Stroke::Tunnel,
            title: None,
        }
    }
}

/// A junction on a bus, or a VTEP on the overlay.
#[derive(Debug, Clone, Copy)]
pub struct Dot {
    pub x: f64,
    pub y: f64,
    pub stroke: Stroke,
}

impl Dot {
    fn link(x: f64, y: f64) -> Dot {
        Dot {
            x,
            y,
            stroke: Stroke::Link,
        }
    }
    fn vtep(x: f64, y: f64) -> Dot {
        Dot {
            x,
            y,
            stroke: Stroke::Tunnel,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    Start,
    Middle,
    End,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelKind {
    Heading,
    Name,
    Detail,
    Port,
    Overlay,
    OverlayNote,
}

/// A line of text; `y` is its baseline.
#[derive(Debug, Clone)]
pub struct Label {
    pub x: f64,
    pub y: f64,
    pub text: String,
    pub size: f64,
    pub anchor: Anchor,
    pub kind: LabelKind,
}

impl Label {
    fn port(x: f64, y: f64, text: &str, anchor: Anchor) -> Label {
        Label {
            x,
            y,
            text: text.to_string(),
            size: text::PORT,
            anchor,
            kind: LabelKind::Port,
        }
    }

    /// The box the text may cover: [`text::width`] wide, from ascent above to descent below.
    pub fn bounds(&self) -> (f64, f64, f64, f64) {
        let w = text::width(&self.text, self.size);
        let left = match self.anchor {
            Anchor::Start => self.x,
            Anchor::Middle => self.x - w / 2.0,
            Anchor::End => self.x - w,
        };
        let top = self.y - text::ascent(self.size);
        (left, top, left + w, self.y + text::descent(self.size))
    }
}

pub fn layout(graph: &LabGraph) -> Drawing {
    let mut scene = tiers::build(graph);
    let mut links = route::classify(&scene);
    place::columns(&mut scene);
    place::underlay(&mut scene, &links);
    route::order_across(&scene, &mut links);
    let trunked = route::trunked(&scene, &links);
    let margin = place::margin(&mut scene, &trunked);
    let routes = route::plan(&scene, &links, &margin.trunks);
    let top = MARGIN + text::height(text::HEADING) + 12.0;
    place::vertical(&mut scene, &routes.lanes, top);
    let mut d = Drawing::default();
    d.labels.push(heading(graph));
    d.nodes = scene.items.iter().map(shape).collect();
    route::draw(&scene, &links, &routes, &mut d);
    column::draw(&scene, &links, &margin, &mut d);
    drop_colliding_ports(&mut d);
    size(&mut d);
    d
}

fn heading(graph: &LabGraph) -> Label {
    let n = graph.hosts.len();
    Label {
        x: MARGIN,
        y: MARGIN + text::ascent(text::HEADING),
        text: format!("{}: {}, {n} hosts", graph.name, graph.mode.as_str()),
        size: text::HEADING,
        anchor: Anchor::Start,
        kind: LabelKind::Heading,
    }
}

/// The box with its name on the first line and its details under it, all centred.
fn shape(it: &tiers::Item) -> NodeShape {
    let mut text = Vec::new();
    let mut top = it.y + tiers::PAD_Y;
    let lines = std::iter::once((&it.name, text::TITLE, LabelKind::Name)).chain(
        it.details
            .iter()
            .map(|d| (d, text::DETAIL, LabelKind::Detail)),
    );
    for (line, size, kind) in lines {
        let pitch = text::LINE * size;
        let base = top + (pitch - text::height(size)) / 2.0 + text::ascent(size);
        text.push(Label {
            x: it.x,
            y: base,
            text: line.clone(),
            size,
            anchor: Anchor::Middle,
            kind,
        });
        top += pitch;
    }
    NodeShape {
        name: it.name.clone(),
        role: it.role.clone(),
        x: it.left(),
        y: it.y,
        w: it.w,
        h: it.h,
        text,
        pods: it.pods,
    }
}

fn overlaps(a: (f64, f64, f64, f64), b: (f64, f64, f64, f64)) -> bool {
    a.0 < b.2 && b.0 < a.2 && a.1 < b.3 && b.1 < a.3
}

/// The layout keeps labels apart by construction; a hand-edited file can still bring two
/// together (say a link between two nodes of one tier, next to a drop's label). A port label
/// that would cover other text is left out rather than drawn over it: its link still names both
/// ends on hover.
fn drop_colliding_ports(d: &mut Drawing) {
    let mut kept: Vec<(f64, f64, f64, f64)> = d
        .nodes
        .iter()
        .flat_map(|n| n.text.iter())
        .chain(d.labels.iter().filter(|l| l.kind != LabelKind::Port))
        .map(Label::bounds)
        .collect();
    d.labels.retain(|l| {
        if l.kind != LabelKind::Port {
            return true;
        }
        let b = l.bounds();
        if kept.iter().any(|&k| overlaps(k, b)) {
            return false;
        }
        kept.push(b);
        true
    });
}

/// Wide and tall enough for every box, line and label, plus the margin.
fn size(d: &mut Drawing) {
    let (mut w, mut h) = (0.0_f64, 0.0_f64);
    for n in &d.nodes {
        w = w.max(n.x + n.w);
        h = h.max(n.y + n.h);
    }
    for p in d.lines.iter().flat_map(|l| &l.points) {
        w = w.max(p.0);
        h = h.max(p.1);
    }
    for l in d.nodes.iter().flat_map(|n| &n.text).chain(&d.labels) {
        let b = l.bounds();
        w = w.max(b.2);
        h = h.max(b.3);
    }
    d.width = (w + MARGIN).ceil();
    d.height = (h + MARGIN).ceil();
}
