//! The links between tiers, drawn orthogonally: a parent drops to a lane in the gap under its
//! tier, the lane runs over its children, and each child's drop comes down onto the child. A
//! switch with many ports so becomes a bus, and a router over its one host a straight line.
//! A parent with children in other rows runs down a trunk in the left margin to a lane above
//! each of those rows.
//!
//! Each drop carries its labels: the parent's interface just under the lanes, the child's just
//! above the child. Drops stand at their children's centres, which sit at least a box apart, so
//! two labels in one gap never meet.

use super::text::{self, PORT};
use super::tiers::{Kind, Scene};
use super::{Anchor, Dot, Drawing, Label, Line, CH_PAD, LANE_STEP, SLOT};

/// A link with its ends ordered: `a` is the upper end (or the left one in a tier), and each
/// end's label is `None` where that node's box names the interface already.
#[derive(Debug, Clone)]
pub struct Link {
    pub a: usize,
    pub b: usize,
    pub a_label: Option<String>,
    pub b_label: Option<String>,
    pub title: String,
}

#[derive(Debug, Default)]
pub struct Links {
    /// From a tier down to a lower one.
    pub down: Vec<Link>,
    /// Between two nodes of one tier.
    pub across: Vec<Link>,
    /// From a host to one of its pods.
    pub pods: Vec<Link>,
}

pub fn classify(scene: &Scene) -> Links {
    let mut links = Links::default();
    for w in &scene.graph.links {
        let (Some(&a), Some(&b)) = (scene.index.get(&w.a), scene.index.get(&w.b)) else {
            continue;
        };
        let link = Link {
            a,
            b,
            a_label: label(scene, a, &w.a_if),
            b_label: label(scene, b, &w.b_if),
            title: format!("{}:{} - {}:{}", w.a, w.a_if, w.b, w.b_if),
        };
        let (ka, kb) = (scene.items[a].kind, scene.items[b].kind);
        match (ka, kb) {
            (Kind::Pod { host }, _) | (_, Kind::Pod { host }) => {
                let other = if matches!(ka, Kind::Pod { .. }) { b } else { a };
                // A wire from a pod to anything but its host has no place in the columns.
                if other == host && a != b {
                    links.pods.push(host_first(link, host));
                }
            }
            _ => match scene.tier_of[a].cmp(&scene.tier_of[b]) {
                std::cmp::Ordering::Less => links.down.push(link),
                std::cmp::Ordering::Greater => links.down.push(swap(link)),
                std::cmp::Ordering::Equal if a != b => links.across.push(link),
                std::cmp::Ordering::Equal => {}
            },
        }
    }
    links
}

fn label(scene: &Scene, node: usize, iface: &str) -> Option<String> {
    (!scene.items[node].names(iface)).then(|| iface.to_string())
}

fn swap(l: Link) -> Link {
    Link {
        a: l.b,
        b: l.a,
        a_label: l.b_label,
        b_label: l.a_label,
        title: l.title,
    }
}

fn host_first(l: Link, host: usize) -> Link {
    if l.a == host {
        l
    } else {
        swap(l)
    }
}

/// Order the links in one tier left to right, once x is known.
pub fn order_across(scene: &Scene, links: &mut Links) {
    for l in &mut links.across {
        if scene.items[l.a].x > scene.items[l.b].x {
            *l = swap(l.clone());
        }
    }
}

/// Every node that is the upper end of a down link, with the indices of those links.
fn parents(links: &Links) -> Vec<(usize, Vec<usize>)> {
    let mut out: Vec<(usize, Vec<usize>)> = Vec::new();
    for (i, l) in links.down.iter().enumerate() {
        match out.iter_mut().find(|(p, _)| *p == l.a) {
            Some((_, v)) => v.push(i),
            None => out.push((l.a, vec![i])),
        }
    }
    out
}

/// The parents that need a trunk: some child is not in the tier right under the parent.
pub fn trunked(scene: &Scene, links: &Links) -> Vec<usize> {
    parents(links)
        .into_iter()
        .filter(|(p, kids)| {
            let below = scene.tier_of[*p].map(|t| t + 1);
            kids.iter()
                .any(|&k| scene.tier_of[links.down[k].b] != below)
        })
        .map(|(p, _)| p)
        .collect()
}

/// A horizontal run in the gap above tier `channel`, at lane `lane`.
#[derive(Debug, Clone)]
pub struct Leg {
    pub channel: usize,
    pub lane: usize,
    pub x0: f64,
    pub x1: f64,
    /// The down links whose drops hang from this leg.
    pub drops: Vec<usize>,
}

#[derive(Debug, Clone)]
pub struct Net {
    pub parent: usize,
    pub trunk: Option<f64>,
    /// The first leg is the one the parent drops onto.
    pub legs: Vec<Leg>,
}

/// A link between two nodes of a tier that are not neighbours: up into the gap above, along a
/// lane, and down, instead of straight through the nodes between them.
#[derive(Debug, Clone)]
pub struct Bracket {
    pub link: usize,
    pub channel: usize,
    pub lane: usize,
}

#[derive(Debug, Default)]
pub struct Routes {
    pub nets: Vec<Net>,
    pub brackets: Vec<Bracket>,
    /// How many lanes each gap holds, by the tier under it.
    pub lanes: Vec<usize>,
}

pub fn plan(scene: &Scene, links: &Links, trunk_x: &[(usize, f64)]) -> Routes {
    let mut routes = Routes {
        lanes: vec![0; scene.tiers.len()],
        ..Routes::default()
    };
    for (p, kids) in parents(links) {
        let trunk = trunk_x.iter().find(|(t, _)| *t == p).map(|(_, x)| *x);
        routes.nets.push(net(scene, links, p, &kids, trunk));
    }
    for (i, l) in links.across.iter().enumerate() {
        if !neighbours(scene, l.a, l.b) {
            let channel = scene.tier_of[l.a].unwrap_or(0);
            routes.brackets.push(Bracket {
                link: i,
                channel,
                lane: 0,
            });
        }
    }
    assign_lanes(scene, links, &mut routes);
    routes
}

fn neighbours(scene: &Scene, a: usize, b: usize) -> bool {
    let Some(t) = scene.tier_of[a] else {
        return false;
    };
    let (lo, hi) = (
        scene.items[a].x.min(scene.items[b].x),
        scene.items[a].x.max(scene.items[b].x),
    );
    !scene.tiers[t]
        .members
        .iter()
        .any(|&m| m != a && m != b && scene.items[m].x > lo && scene.items[m].x < hi)
}

fn net(scene: &Scene, links: &Links, p: usize, kids: &[usize], trunk: Option<f64>) -> Net {
    let px = scene.items[p].x;
    let first = scene.tier_of[p].map_or(0, |t| t + 1);
    let mut legs = vec![Leg {
        channel: first,
        lane: 0,
        x0: trunk.unwrap_or(px).min(px),
        x1: px,
        drops: Vec::new(),
    }];
    for &k in kids {
        let child = links.down[k].b;
        let channel = scene.tier_of[child].unwrap_or(first);
        let leg = match legs.iter().position(|l| l.channel == channel) {
            Some(i) => i,
            None => {
                let x = trunk.unwrap_or(px);
                legs.push(Leg {
                    channel,
                    lane: 0,
                    x0: x,
                    x1: x,
                    drops: Vec::new(),
                });
                legs.len() - 1
            }
        };
        let cx = scene.items[child].x;
        let leg = &mut legs[leg];
        leg.x0 = leg.x0.min(cx);
        leg.x1 = leg.x1.max(cx);
        leg.drops.push(k);
    }
    legs.sort_by_key(|l| l.channel);
    Net {
        parent: p,
        trunk,
        legs,
    }
}

enum Run {
    Leg(usize, usize),
    Bracket(usize),
}

/// Runs in one gap that overlap along x get different lanes: each takes the first lane free over
/// its span, leftmost run first, so the trunks' long runs from the margin take the top lanes.
fn assign_lanes(scene: &Scene, links: &Links, routes: &mut Routes) {
    let mut runs: Vec<(usize, f64, f64, Run)> = Vec::new();
    for (n, net) in routes.nets.iter().enumerate() {
        for (l, leg) in net.legs.iter().enumerate() {
            runs.push((leg.channel, leg.x0, leg.x1, Run::Leg(n, l)));
        }
    }
    for (b, br) in routes.brackets.iter().enumerate() {
        let (x0, x1) = bracket_xs(scene, &links.across[br.link]);
        runs.push((br.channel, x0, x1, Run::Bracket(b)));
    }
    runs.sort_by(|a, b| a.1.total_cmp(&b.1));
    let mut taken: Vec<Vec<(usize, f64, f64)>> = vec![Vec::new(); scene.tiers.len()];
    for (channel, x0, x1, run) in runs {
        let lanes = &mut taken[channel];
        let clash =
            |&(l, a, b): &(usize, f64, f64), lane| l == lane && x1 + 6.0 >= a && x0 <= b + 6.0;
        let mut lane = 0;
        while lanes.iter().any(|t| clash(t, lane)) {
            lane += 1;
        }
        lanes.push((lane, x0, x1));
        routes.lanes[channel] = routes.lanes[channel].max(lane + 1);
        match run {
            Run::Leg(n, l) => routes.nets[n].legs[l].lane = lane,
            Run::Bracket(b) => routes.brackets[b].lane = lane,
        }
    }
}

/// Where a bracket leaves its two nodes: near their facing sides, clear of the drops that come
/// down onto their centres.
fn bracket_xs(scene: &Scene, l: &Link) -> (f64, f64) {
    (
        scene.items[l.a].right() - 10.0,
        scene.items[l.b].left() + 10.0,
    )
}

fn lane_y(scene: &Scene, channel: usize, lane: usize) -> f64 {
    scene.tiers[channel].channel_top + CH_PAD + lane as f64 * LANE_STEP
}

/// The baseline of the labels at the upper end of drops: just under the gap's last lane.
fn upper_slot(scene: &Scene, routes: &Routes, channel: usize) -> f64 {
    let last = routes.lanes[channel].max(1) - 1;
    lane_y(scene, channel, last) + 4.0 + text::ascent(PORT)
}

/// The baseline of the labels at the lower end of drops: just above the tier.
fn lower_slot(scene: &Scene, channel: usize) -> f64 {
    scene.tiers[channel].y - 4.0 - text::descent(PORT)
}

/// The height of the gap above a tier whose incoming lines take `lanes` lanes.
pub fn gap_height(lanes: usize) -> f64 {
    CH_PAD + (lanes.max(1) - 1) as f64 * LANE_STEP + 4.0 + 2.0 * SLOT + 4.0
}

pub fn draw(scene: &Scene, links: &Links, routes: &Routes, d: &mut Drawing) {
    for net in &routes.nets {
        draw_net(scene, links, routes, net, d);
    }
    for (i, l) in links.across.iter().enumerate() {
        match routes.brackets.iter().find(|b| b.link == i) {
            Some(b) => draw_bracket(scene, l, b, d),
            None => draw_straight(scene, l, d),
        }
    }
}

fn draw_net(scene: &Scene, links: &Links, routes: &Routes, net: &Net, d: &mut Drawing) {
    let p = &scene.items[net.parent];
    let ly = |leg: &Leg| lane_y(scene, leg.channel, leg.lane);
    let (first, last) = (&net.legs[0], &net.legs[net.legs.len() - 1]);
    d.lines
        .push(Line::link(vec![(p.x, p.bottom()), (p.x, ly(first))], None));
    if p.x > first.x0 + 0.5 && p.x < first.x1 - 0.5 {
        d.dots.push(Dot::link(p.x, ly(first)));
    }
    if let Some(tx) = net.trunk {
        d.lines
            .push(Line::link(vec![(tx, ly(first)), (tx, ly(last))], None));
        for leg in &net.legs[1..net.legs.len() - 1] {
            d.dots.push(Dot::link(tx, ly(leg)));
        }
    }
    for leg in &net.legs {
        let y = ly(leg);
        if leg.x1 - leg.x0 > 0.5 {
            d.lines
                .push(Line::link(vec![(leg.x0, y), (leg.x1, y)], None));
        }
        for &k in &leg.drops {
            draw_drop(scene, routes, &links.down[k], leg, y, d);
        }
    }
}

fn draw_drop(scene: &Scene, routes: &Routes, link: &Link, leg: &Leg, y: f64, d: &mut Drawing) {
    let c = &scene.items[link.b];
    let title = Some(link.title.clone());
    d.lines.push(Line::link(vec![(c.x, y), (c.x, c.y)], title));
    if c.x > leg.x0 + 0.5 && c.x < leg.x1 - 0.5 {
        d.dots.push(Dot::link(c.x, y));
    }
    if let Some(t) = &link.a_label {
        let y = upper_slot(scene, routes, leg.channel);
        d.labels.push(Label::port(c.x, y, t, Anchor::Middle));
    }
    if let Some(t) = &link.b_label {
        let y = lower_slot(scene, leg.channel);
        d.labels.push(Label::port(c.x, y, t, Anchor::Middle));
    }
}

/// Neighbours in a tier: one line between their facing sides, each label beside its node.
fn draw_straight(scene: &Scene, l: &Link, d: &mut Drawing) {
    let (a, b) = (&scene.items[l.a], &scene.items[l.b]);
    let y = a.y + a.h / 2.0;
    d.lines.push(Line::link(
        vec![(a.right(), y), (b.left(), y)],
        Some(l.title.clone()),
    ));
    let base = y - text::height(PORT) / 2.0 + text::ascent(PORT);
    if let Some(t) = &l.a_label {
        d.labels
            .push(Label::port(a.right() + 4.0, base, t, Anchor::Start));
    }
    if let Some(t) = &l.b_label {
        d.labels
            .push(Label::port(b.left() - 4.0, base, t, Anchor::End));
    }
}

fn draw_bracket(scene: &Scene, l: &Link, br: &Bracket, d: &mut Drawing) {
    let (a, b) = (&scene.items[l.a], &scene.items[l.b]);
    let (ax, bx) = bracket_xs(scene, l);
    let y = lane_y(scene, br.channel, br.lane);
    let points = vec![(ax, a.y), (ax, y), (bx, y), (bx, b.y)];
    d.lines.push(Line::link(points, Some(l.title.clone())));
    let base = lower_slot(scene, br.channel);
    if let Some(t) = &l.a_label {
        d.labels.push(Label::port(ax + 3.0, base, t, Anchor::Start));
    }
    if let Some(t) = &l.b_label {
        d.labels.push(Label::port(bx - 3.0, base, t, Anchor::End));
    }
}
