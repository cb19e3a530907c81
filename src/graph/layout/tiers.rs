//! Which tier each node is drawn in, and which row each host: the roles and the links decide,
//! never the order of the file.
//!
//! A host is in the host tier of its row; a pod hangs in its host's column. An underlay node's
//! tier is its distance in links from the nearest host, so a node one link above the hosts (a
//! rack's switch, a host's router) sits just over them and the core sits on top. An underlay
//! node whose hosts are all in one row is drawn over that row; one that serves several rows
//! (the flat switch, the routed lab's WAN) goes in the top band, over every row.

use super::text::{self, DETAIL, LINE, PORT, TITLE};
use super::{COL_GAP, MARGIN, MAX_PER_ROW, MAX_WIDTH, POD_INDENT, TRUNK_STEP};
use crate::graph::model::{LabGraph, NodeBox};
use std::collections::{BTreeSet, HashMap, VecDeque};

/// Above this many hosts pods are not drawn: each host says how many it runs.
pub const COLLAPSE_ABOVE: usize = 64;

/// Inner space of a node box around its text.
pub const PAD_X: f64 = 8.0;
pub const PAD_Y: f64 = 5.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Underlay,
    Host,
    Pod { host: usize },
}

/// One node's box: `x` is its centre, `y` its top.
#[derive(Debug, Clone)]
pub struct Item {
    pub name: String,
    pub role: String,
    pub details: Vec<String>,
    pub kind: Kind,
    pub pods: Option<usize>,
    pub w: f64,
    pub h: f64,
    pub x: f64,
    pub y: f64,
}

impl Item {
    pub fn left(&self) -> f64 {
        self.x - self.w / 2.0
    }
    pub fn right(&self) -> f64 {
        self.x + self.w / 2.0
    }
    pub fn bottom(&self) -> f64 {
        self.y + self.h
    }
    /// Whether the box already names `iface` (a host's `eth1 10.0.1.2`, a pod's `eth1 ...`):
    /// then a label at that end of a link would only say it twice.
    pub fn names(&self, iface: &str) -> bool {
        self.details
            .iter()
            .any(|d| d.split_whitespace().next() == Some(iface))
    }
}

/// A horizontal band of nodes. `row` is set for a host tier and for the underlay drawn over a
/// single row; `channel_top` is where the gap above the tier, which its incoming lines cross,
/// begins.
#[derive(Debug, Clone)]
pub struct Tier {
    pub members: Vec<usize>,
    pub hosts_of: Option<usize>,
    pub y: f64,
    pub h: f64,
    pub channel_top: f64,
}

pub struct Scene<'g> {
    pub graph: &'g LabGraph,
    pub items: Vec<Item>,
    pub index: HashMap<String, usize>,
    /// Item ids of the hosts, in host order; a host's position here is its index in `pods`.
    pub hosts: Vec<usize>,
    pub pods: Vec<Vec<usize>>,
    /// Host item ids, row by row.
    pub rows: Vec<Vec<usize>>,
    pub tiers: Vec<Tier>,
    pub tier_of: Vec<Option<usize>>,
    pub col_w: f64,
    /// The widest label on a pod's link, which the column must hold.
    pub pod_label_w: f64,
}

pub fn build(graph: &LabGraph) -> Scene<'_> {
    let collapsed = graph.hosts.len() > COLLAPSE_ABOVE;
    let mut scene = items(graph, collapsed);
    scene.pod_label_w = pod_label_width(&scene);
    uniform_columns(&mut scene);
    let per_row = per_row(&scene);
    scene.rows = rows(graph, per_row)
        .into_iter()
        .map(|r| r.into_iter().map(|h| scene.hosts[h]).collect())
        .collect();
    let adj = adjacency(&scene);
    let dist = distances(&scene, &adj);
    let band = bands(&scene, &adj, &dist);
    scene.tiers = tiers(&scene, &dist, &band);
    scene.tier_of = vec![None; scene.items.len()];
    for (t, tier) in scene.tiers.iter().enumerate() {
        for &m in &tier.members {
            scene.tier_of[m] = Some(t);
        }
    }
    scene
}

fn item(b: &NodeBox, kind: Kind, extra: Option<String>) -> Item {
    let mut details = b.details.clone();
    details.extend(extra);
    let (w, h) = box_size(&b.node, &details);
    Item {
        name: b.node.clone(),
        role: b.role.clone(),
        details,
        kind,
        pods: None,
        w,
        h,
        x: 0.0,
        y: 0.0,
    }
}

pub fn box_size(title: &str, details: &[String]) -> (f64, f64) {
    let w = details
        .iter()
        .map(|d| text::width(d, DETAIL))
        .fold(text::width(title, TITLE), f64::max);
    let h = LINE * TITLE + details.len() as f64 * LINE * DETAIL;
    (w + 2.0 * PAD_X, h + 2.0 * PAD_Y)
}

fn items(graph: &LabGraph, collapsed: bool) -> Scene<'_> {
    let mut items = Vec::new();
    let mut hosts = Vec::new();
    for g in &graph.hosts {
        let n = g.pods.len();
        let count = collapsed.then(|| format!("{n} pod{}", if n == 1 { "" } else { "s" }));
        hosts.push(items.len());
        let mut host = item(&g.host, Kind::Host, count);
        host.pods = collapsed.then_some(n);
        items.push(host);
    }
    let mut pods = vec![Vec::new(); hosts.len()];
    if !collapsed {
        for (h, g) in graph.hosts.iter().enumerate() {
            for p in &g.pods {
                pods[h].push(items.len());
                items.push(item(p, Kind::Pod { host: hosts[h] }, None));
            }
        }
    }
    items.extend(graph.others.iter().map(|b| item(b, Kind::Underlay, None)));
    let index = items
        .iter()
        .enumerate()
        .map(|(i, it)| (it.name.clone(), i))
        .collect();
    Scene {
        graph,
        items,
        index,
        hosts,
        pods,
        rows: Vec::new(),
        tiers: Vec::new(),
        tier_of: Vec::new(),
        col_w: 0.0,
        pod_label_w: 0.0,
    }
}

/// The host's end of each pod link is labelled (the pod's box names its own end).
fn pod_label_width(scene: &Scene) -> f64 {
    scene
        .graph
        .links
        .iter()
        .filter_map(|w| {
            let a = &scene.items[*scene.index.get(&w.a)?];
            let b = &scene.items[*scene.index.get(&w.b)?];
            let host_end = match (a.kind, b.kind) {
                (Kind::Host, Kind::Pod { .. }) => &w.a_if,
                (Kind::Pod { .. }, Kind::Host) => &w.b_if,
                _ => return None,
            };
            Some(text::width(host_end, PORT))
        })
        .fold(0.0, f64::max)
}

/// Every host box as wide as the widest column needs, every pod as wide as the widest pod: the
/// hosts then line up as equal columns, like the article's figures.
fn uniform_columns(scene: &mut Scene) {
    let widest = |kind: fn(Kind) -> bool, items: &[Item]| {
        items
            .iter()
            .filter(|i| kind(i.kind))
            .map(|i| i.w)
            .fold(0.0, f64::max)
    };
    let pod_w = widest(|k| matches!(k, Kind::Pod { .. }), &scene.items);
    let stacked = scene.pods.iter().any(|p| p.len() > 1);
    let indent = if stacked { POD_INDENT } else { 0.0 };
    let inner = widest(|k| k == Kind::Host, &scene.items)
        .max(indent + pod_w)
        .max(indent + scene.pod_label_w + 8.0);
    for it in &mut scene.items {
        match it.kind {
            Kind::Host => it.w = inner,
            Kind::Pod { .. } => it.w = pod_w,
            Kind::Underlay => {}
        }
    }
    scene.col_w = inner + COL_GAP;
}

/// As many hosts in a row as fit the width, and never more than [`MAX_PER_ROW`].
fn per_row(scene: &Scene) -> usize {
    let overlay = scene.graph.overlay.as_ref().map_or(0.0, |o| {
        o.notes
            .iter()
            .map(|n| text::width(n, PORT))
            .fold(text::width(&o.encap, text::OVERLAY), f64::max)
    });
    let reserve = 2.0 * MARGIN + overlay + 24.0 + 4.0 * TRUNK_STEP;
    let fit = ((MAX_WIDTH - reserve) / scene.col_w).floor() as usize;
    fit.clamp(1, MAX_PER_ROW)
}

/// Host positions split into rows of about equal length (9 rows for 100 hosts: one of 12 and
/// eight of 11, not eight of 12 and one of 4). A rack's hosts stay in one row where the rack
/// fits, so that the rack's switch can sit over them.
pub fn rows(graph: &LabGraph, per_row: usize) -> Vec<Vec<usize>> {
    let n = graph.hosts.len();
    let per_row = per_row.max(1);
    let count = n.div_ceil(per_row).max(1);
    let mut runs: Vec<Vec<usize>> = Vec::new();
    for (h, g) in graph.hosts.iter().enumerate() {
        match runs.last_mut() {
            Some(run) if g.rack.is_some() && graph.hosts[run[0]].rack == g.rack => run.push(h),
            _ => runs.push(vec![h]),
        }
    }
    let mut rows: Vec<Vec<usize>> = Vec::new();
    let mut row = Vec::new();
    let mut placed = 0;
    for chunk in runs.iter().flat_map(|r| r.chunks(n.div_ceil(count))) {
        // What is left, shared evenly over the rows that are left.
        let target = (n - placed).div_ceil(count.saturating_sub(rows.len()).max(1));
        if !row.is_empty() && (row.len() + chunk.len() > per_row || row.len() >= target) {
            placed += row.len();
            rows.push(std::mem::take(&mut row));
        }
        row.extend_from_slice(chunk);
    }
    rows.push(row);
    rows
}

/// Neighbours over the links, pods left out: they hang under their host, not in the underlay.
fn adjacency(scene: &Scene) -> Vec<Vec<usize>> {
    let mut adj = vec![Vec::new(); scene.items.len()];
    let underlay = |i: usize| !matches!(scene.items[i].kind, Kind::Pod { .. });
    for w in &scene.graph.links {
        let (Some(&a), Some(&b)) = (scene.index.get(&w.a), scene.index.get(&w.b)) else {
            continue;
        };
        if a != b && underlay(a) && underlay(b) {
            adj[a].push(b);
            adj[b].push(a);
        }
    }
    adj
}

/// Links from the nearest host; `None` for a node no host reaches.
fn distances(scene: &Scene, adj: &[Vec<usize>]) -> Vec<Option<usize>> {
    let mut dist = vec![None; scene.items.len()];
    let mut queue: VecDeque<usize> = scene.hosts.iter().copied().collect();
    for &h in &scene.hosts {
        dist[h] = Some(0);
    }
    while let Some(u) = queue.pop_front() {
        let next = dist[u].map(|d| d + 1);
        for &v in &adj[u] {
            if dist[v].is_none() {
                dist[v] = next;
                queue.push_back(v);
            }
        }
    }
    dist
}

/// For each underlay node, the one row it serves (`Some`) or `None` for the top band.
fn bands(scene: &Scene, adj: &[Vec<usize>], dist: &[Option<usize>]) -> Vec<Option<usize>> {
    let mut serves: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); scene.items.len()];
    for (r, row) in scene.rows.iter().enumerate() {
        for &h in row {
            serves[h].insert(r);
        }
    }
    let mut order: Vec<usize> = (0..scene.items.len())
        .filter(|&i| scene.items[i].kind == Kind::Underlay && dist[i].is_some())
        .collect();
    order.sort_by_key(|&i| dist[i]);
    for u in order {
        let below: BTreeSet<usize> = adj[u]
            .iter()
            .filter(|&&v| dist[v].map(|d| d + 1) == dist[u])
            .flat_map(|&v| serves[v].iter().copied().collect::<Vec<_>>())
            .collect();
        serves[u] = below;
    }
    serves
        .iter()
        .map(|s| (s.len() == 1).then(|| *s.iter().next().unwrap()))
        .collect()
}

/// Top to bottom: the top band's tiers, then for each row its own underlay and its hosts.
fn tiers(scene: &Scene, dist: &[Option<usize>], band: &[Option<usize>]) -> Vec<Tier> {
    let underlay = |b: Option<usize>| -> Vec<Vec<usize>> {
        let mut by_dist: Vec<(usize, Vec<usize>)> = Vec::new();
        for (i, it) in scene.items.iter().enumerate() {
            if it.kind != Kind::Underlay || band[i] != b {
                continue;
            }
            // A node no host reaches is drawn on the very top.
            let d = dist[i].unwrap_or(usize::MAX);
            match by_dist.iter_mut().find(|(k, _)| *k == d) {
                Some((_, m)) => m.push(i),
                None => by_dist.push((d, vec![i])),
            }
        }
        by_dist.sort_by_key(|e| std::cmp::Reverse(e.0));
        by_dist.into_iter().map(|(_, m)| m).collect()
    };
    let tier = |members, hosts_of| Tier {
        members,
        hosts_of,
        y: 0.0,
        h: 0.0,
        channel_top: 0.0,
    };
    let mut out: Vec<Tier> = underlay(None).into_iter().map(|m| tier(m, None)).collect();
    for (r, row) in scene.rows.iter().enumerate() {
        out.extend(underlay(Some(r)).into_iter().map(|m| tier(m, None)));
        out.push(tier(row.clone(), Some(r)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::model::HostGroup;
    use crate::plan::Mode;

    fn lab(racks: &[Option<usize>]) -> LabGraph {
        let node = |name: String, role: &str| NodeBox {
            node: name,
            role: role.into(),
            details: Vec::new(),
        };
        LabGraph {
            name: "t".into(),
            mode: Mode::HostGw,
            hosts: racks
                .iter()
                .enumerate()
                .map(|(i, &rack)| HostGroup {
                    host: node(format!("host{}", i + 1), "host"),
                    pods: vec![node(format!("pod{}", i + 1), "pod")],
                    rack,
                })
                .collect(),
            others: Vec::new(),
            links: Vec::new(),
            tunnels: Vec::new(),
            overlay: None,
            services: Vec::new(),
        }
    }

    fn lengths(rows: &[Vec<usize>]) -> Vec<usize> {
        rows.iter().map(Vec::len).collect()
    }

    #[test]
    fn rows_are_even_and_never_longer_than_allowed() {
        assert_eq!(lengths(&rows(&lab(&[None; 6]), 16)), [6]);
        assert_eq!(lengths(&rows(&lab(&[None; 20]), 16)), [10, 10]);
        assert_eq!(
            lengths(&rows(&lab(&[None; 100]), 12)),
            [12, 11, 11, 11, 11, 11, 11, 11, 11]
        );
        let all: Vec<usize> = rows(&lab(&[None; 254]), 14).concat();
        assert_eq!(
            all,
            (0..254).collect::<Vec<_>>(),
            "every host once, in order"
        );
    }

    #[test]
    fn a_rack_stays_in_one_row_where_it_fits() {
        // Three racks of five in rows of at most 12: two rows, no rack cut in half.
        let racks: Vec<Option<usize>> = (0..15).map(|h| Some(h / 5)).collect();
        assert_eq!(lengths(&rows(&lab(&racks), 12)), [10, 5]);
        // A rack wider than a row is cut, but into even pieces.
        let one: Vec<Option<usize>> = vec![Some(1); 20];
        assert_eq!(lengths(&rows(&lab(&one), 16)), [10, 10]);
    }
}
