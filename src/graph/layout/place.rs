//! Where each node goes: hosts in equal columns, each underlay node over the middle of what it
//! links down to, then the tiers stacked with room for their lanes and labels.

use super::column;
use super::route::{self, Links};
use super::text::{self, PORT};
use super::tiers::Scene;
use super::{MARGIN, NODE_GAP, ROW_GAP, TRUNK_STEP};

pub fn columns(scene: &mut Scene) {
    let col_w = scene.col_w;
    for row in scene.rows.clone() {
        for (j, h) in row.into_iter().enumerate() {
            scene.items[h].x = (j as f64 + 0.5) * col_w;
        }
    }
}

/// Bottom-up, so that a node's children are placed before it: each underlay node goes over the
/// mean x of its children, then each tier is spread so that no two boxes (with the labels on
/// the drops into them) come closer than [`NODE_GAP`].
pub fn underlay(scene: &mut Scene, links: &Links) {
    let room = incoming_label_room(scene, links);
    for t in (0..scene.tiers.len()).rev() {
        if scene.tiers[t].hosts_of.is_some() {
            continue;
        }
        let desired: Vec<(usize, Option<f64>)> = scene.tiers[t]
            .members
            .iter()
            .map(|&m| (m, mean_child_x(scene, links, m)))
            .collect();
        let order = spread(scene, desired, &room);
        scene.tiers[t].members = order;
    }
}

/// The widest label standing on the drop into each node: its box must keep that much room.
fn incoming_label_room(scene: &Scene, links: &Links) -> Vec<f64> {
    let mut room = vec![0.0_f64; scene.items.len()];
    for l in &links.down {
        for t in l.a_label.iter().chain(&l.b_label) {
            room[l.b] = room[l.b].max(text::width(t, PORT) + 8.0);
        }
    }
    room
}

fn mean_child_x(scene: &Scene, links: &Links, node: usize) -> Option<f64> {
    let xs: Vec<f64> = links
        .down
        .iter()
        .filter(|l| l.a == node)
        .map(|l| scene.items[l.b].x)
        .collect();
    (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
}

/// Each node at its desired x where it can be, pushed right where it would overlap its left
/// neighbour, then the tier shifted back so that the pushes even out. Nodes with no desired x
/// (nothing below them) follow the rest.
fn spread(scene: &mut Scene, mut desired: Vec<(usize, Option<f64>)>, room: &[f64]) -> Vec<usize> {
    desired.sort_by(|a, b| match (a.1, b.1) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.0.cmp(&b.0),
    });
    let width = |m: usize| scene.items[m].w.max(room[m]);
    let mut right = f64::NEG_INFINITY;
    let mut placed = Vec::with_capacity(desired.len());
    for &(m, want) in &desired {
        let half = width(m) / 2.0;
        let min = right + NODE_GAP + half;
        let x = want.map_or(min.max(half), |w| w.max(min));
        right = x + half;
        placed.push(x);
    }
    let wanted: Vec<f64> = desired
        .iter()
        .zip(&placed)
        .filter_map(|(d, x)| d.1.map(|w| w - x))
        .collect();
    let shift = if wanted.is_empty() {
        0.0
    } else {
        wanted.iter().sum::<f64>() / wanted.len() as f64
    };
    for (&(m, _), x) in desired.iter().zip(placed) {
        scene.items[m].x = x + shift;
    }
    desired.into_iter().map(|(m, _)| m).collect()
}

/// What the left margin holds, left to right: the trunks of parents that serve several rows,
/// the overlay's trunk, then the overlay's label on the first row's bus.
#[derive(Debug, Clone, Default)]
pub struct Margin {
    pub trunks: Vec<(usize, f64)>,
    pub overlay_trunk: f64,
    pub overlay_label: f64,
}

/// Moves everything right so that the margin fits, and says where the margin's parts are.
pub fn margin(scene: &mut Scene, trunked: &[usize]) -> Margin {
    let label_w = column::overlay_label_width(scene);
    let mut x = MARGIN;
    let trunks = trunked
        .iter()
        .map(|&p| {
            let at = x;
            x += TRUNK_STEP;
            (p, at)
        })
        .collect();
    let overlay_trunk = x;
    let overlay_label = x + 6.0;
    let content = if label_w > 0.0 {
        overlay_label + label_w + 12.0
    } else {
        x + 4.0
    };
    let min = scene
        .items
        .iter()
        .map(|i| i.left())
        .fold(f64::INFINITY, f64::min);
    let shift = content - min;
    for it in &mut scene.items {
        it.x += shift;
    }
    Margin {
        trunks,
        overlay_trunk,
        overlay_label,
    }
}

/// Top to bottom: each tier under the gap its incoming lanes need, and under each host tier
/// the overlay and the pods.
pub fn vertical(scene: &mut Scene, lanes: &[usize], top: f64) {
    let mut y = top;
    for (t, &lanes) in lanes.iter().enumerate() {
        let gap = if lanes > 0 {
            route::gap_height(lanes)
        } else if t == 0 {
            0.0
        } else {
            ROW_GAP
        };
        scene.tiers[t].channel_top = y;
        y += gap;
        let members = scene.tiers[t].members.clone();
        let h = members
            .iter()
            .map(|&m| scene.items[m].h)
            .fold(0.0, f64::max);
        for &m in &members {
            scene.items[m].y = y + (h - scene.items[m].h) / 2.0;
        }
        scene.tiers[t].y = y;
        scene.tiers[t].h = h;
        y += h;
        if let Some(r) = scene.tiers[t].hosts_of {
            y = column::place_pods(scene, r, y) + ROW_GAP * 0.75;
        }
    }
}
