//! `cnilab graph`'s SVG, measured: the tiers by role, the columns, the width and the labels,
//! read back from the SVG with an XML parser, never by eye.

mod common;

use cnilab::lab::{LABEL_POD_IF, LABEL_ROLE, LABEL_UNDERLAY_IF};
use cnilab::topology::Topology;
use common::cnilab;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The brief's conservative text box: 0.6 em a character, 0.9 em above the baseline and 0.3 em
/// under it.
const EM_ADVANCE: f64 = 0.6;

fn gen(dir: &Path, name: &str, args: &[&str]) -> PathBuf {
    let file = dir.join(format!("{name}.yaml"));
    cnilab()
        .arg("gen")
        .args(args)
        .arg("-o")
        .arg(&file)
        .assert()
        .success();
    file
}

fn svg(file: &Path) -> String {
    let out = cnilab().args(["graph", "-t"]).arg(file).output().unwrap();
    assert!(
        out.status.success(),
        "graph failed: {}",
        common::stderr(&out)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[derive(Debug, Clone, Copy)]
struct Rect {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
}

impl Rect {
    fn right(&self) -> f64 {
        self.x + self.w
    }
    fn bottom(&self) -> f64 {
        self.y + self.h
    }
}

#[derive(Debug)]
struct Node {
    role: String,
    rect: Rect,
    texts: Vec<String>,
    pods: Option<usize>,
}

#[derive(Debug)]
struct Text {
    text: String,
    class: String,
    bounds: (f64, f64, f64, f64),
}

/// What a test needs from the SVG: its size, each `data-node` group, and every `<text>`.
struct Picture {
    width: f64,
    nodes: HashMap<String, Node>,
    texts: Vec<Text>,
}

fn num(n: roxmltree::Node, attr: &str) -> f64 {
    n.attribute(attr)
        .unwrap_or_else(|| panic!("<{}> has no {attr}", n.tag_name().name()))
        .parse()
        .unwrap()
}

fn text_bounds(t: roxmltree::Node) -> (f64, f64, f64, f64) {
    let (x, y, size) = (num(t, "x"), num(t, "y"), num(t, "font-size"));
    let w = t.text().unwrap_or("").chars().count() as f64 * size * EM_ADVANCE;
    let left = match t.attribute("text-anchor").unwrap_or("start") {
        "middle" => x - w / 2.0,
        "end" => x - w,
        _ => x,
    };
    (left, y - 0.9 * size, left + w, y + 0.3 * size)
}

fn parse(svg: &str) -> Picture {
    let doc = roxmltree::Document::parse(svg).expect("the SVG is well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    let mut nodes = HashMap::new();
    for g in doc.descendants().filter(|n| n.has_attribute("data-node")) {
        assert_eq!(g.tag_name().name(), "g", "data-node sits on a group");
        let rect = g
            .children()
            .find(|c| c.has_tag_name("rect"))
            .expect("a node group holds its shape");
        let node = Node {
            role: g.attribute("data-role").expect("data-role").to_string(),
            rect: Rect {
                x: num(rect, "x"),
                y: num(rect, "y"),
                w: num(rect, "width"),
                h: num(rect, "height"),
            },
            texts: g
                .children()
                .filter(|c| c.has_tag_name("text"))
                .map(|c| c.text().unwrap_or("").to_string())
                .collect(),
            pods: g.attribute("data-pods").map(|p| p.parse().unwrap()),
        };
        let name = g.attribute("data-node").unwrap().to_string();
        assert!(
            nodes.insert(name.clone(), node).is_none(),
            "{name} drawn twice"
        );
    }
    let texts = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|t| Text {
            text: t.text().unwrap_or("").to_string(),
            class: t.attribute("class").unwrap_or("").to_string(),
            bounds: text_bounds(t),
        })
        .collect();
    Picture {
        width: num(root, "width"),
        nodes,
        texts,
    }
}

fn overlap(a: (f64, f64, f64, f64), b: (f64, f64, f64, f64)) -> bool {
    a.0 < b.2 && b.0 < a.2 && a.1 < b.3 && b.1 < a.3
}

/// No two texts cover each other. Sorted by left edge, so that a picture with a thousand
/// texts is checked pair by pair only where they can meet.
fn assert_no_overlaps(p: &Picture, what: &str) {
    let mut texts: Vec<&Text> = p.texts.iter().collect();
    texts.sort_by(|a, b| a.bounds.0.total_cmp(&b.bounds.0));
    for (i, a) in texts.iter().enumerate() {
        for b in texts[i + 1..]
            .iter()
            .take_while(|b| b.bounds.0 < a.bounds.2)
        {
            assert!(
                !overlap(a.bounds, b.bounds),
                "{what}: {:?} {:?} overlaps {:?} {:?}",
                a.text,
                a.bounds,
                b.text,
                b.bounds
            );
        }
    }
}

/// Every node of the file is a `data-node` group with the file's role, holding its name.
fn assert_every_node_drawn(p: &Picture, topo: &Topology, pods_drawn: bool, what: &str) {
    for (name, node) in topo.nodes() {
        // A node cnilab did not write has no role label: its kind stands in.
        let role = node
            .labels
            .get(LABEL_ROLE)
            .map(|r| r.to_string())
            .or_else(|| node.kind.clone())
            .unwrap();
        if role == "pod" && !pods_drawn {
            assert!(!p.nodes.contains_key(name), "{what}: pod {name} drawn");
            continue;
        }
        let drawn = p
            .nodes
            .get(name)
            .unwrap_or_else(|| panic!("{what}: no data-node group for {name}"));
        assert_eq!(drawn.role, role, "{what}: {name}'s data-role");
        assert_eq!(
            drawn.texts.first(),
            Some(&name.to_string()),
            "{what}: {name}'s label"
        );
    }
}

fn by_role<'p>(p: &'p Picture, role: &str) -> Vec<(&'p String, &'p Node)> {
    let mut v: Vec<_> = p.nodes.iter().filter(|(_, n)| n.role == role).collect();
    v.sort_by(|a, b| a.0.cmp(b.0));
    v
}

/// The host each pod belongs to, from the file's `cnilab.host` labels.
fn pod_hosts(topo: &Topology) -> Vec<(String, String)> {
    let host_by_index: HashMap<String, String> = topo
        .nodes()
        .filter(|(_, n)| n.labels.get(LABEL_ROLE).map(|r| r.to_string()) == Some("host".into()))
        .map(|(name, n)| {
            (
                n.labels.get("cnilab.host").unwrap().to_string(),
                name.to_string(),
            )
        })
        .collect();
    topo.nodes()
        .filter(|(_, n)| n.labels.get(LABEL_ROLE).map(|r| r.to_string()) == Some("pod".into()))
        .map(|(name, n)| {
            let host = &host_by_index[&n.labels.get("cnilab.host").unwrap().to_string()];
            (name.to_string(), host.clone())
        })
        .collect()
}

/// The tiers: the underlay above every host, the hosts of a row on one line, each pod under its
/// host and inside the host's column.
fn assert_tiers(p: &Picture, topo: &Topology, what: &str) {
    let underlay = |n: &Node| n.role == "router" || n.role == "switch";
    let hosts = by_role(p, "host");
    let host_top = hosts
        .iter()
        .map(|(_, h)| h.rect.y)
        .fold(f64::INFINITY, f64::min);
    let one_row = hosts.iter().all(|(_, h)| h.rect.y == host_top);
    for (name, n) in p.nodes.iter().filter(|(_, n)| underlay(n)) {
        assert!(
            !one_row || n.rect.bottom() < host_top,
            "{what}: underlay node {name} is not above the hosts"
        );
    }
    // In wrapped rows each row has its underlay over it: whatever links to a host is above it.
    for l in &topo.topology.links {
        let ends: Vec<&Node> = l
            .endpoints
            .iter()
            .filter_map(|e| p.nodes.get(e.split_once(':').unwrap().0))
            .collect();
        if let [a, b] = ends[..] {
            for (u, h) in [(a, b), (b, a)] {
                if underlay(u) && h.role == "host" {
                    assert!(
                        u.rect.bottom() < h.rect.y,
                        "{what}: {:?} under its host",
                        l.endpoints
                    );
                }
            }
        }
    }
    for (pod, host) in pod_hosts(topo) {
        let (Some(pod_n), Some(host_n)) = (p.nodes.get(&pod), p.nodes.get(&host)) else {
            continue;
        };
        let (pr, hr) = (pod_n.rect, host_n.rect);
        assert!(pr.y > hr.bottom(), "{what}: {pod} is not below {host}");
        assert!(
            pr.x >= hr.x && pr.right() <= hr.right(),
            "{what}: {pod} ({}..{}) is outside {host}'s column ({}..{})",
            pr.x,
            pr.right(),
            hr.x,
            hr.right()
        );
    }
}

/// How many port labels the picture must show: one per link end, except where the node's box
/// names that interface already (a host's underlay interface, a pod's own).
fn expected_port_labels(topo: &Topology) -> usize {
    let named = |node: &str, iface: &str| {
        topo.node(node).is_some_and(|n| {
            [LABEL_UNDERLAY_IF, LABEL_POD_IF]
                .iter()
                .any(|l| n.labels.get(*l).map(|v| v.to_string()).as_deref() == Some(iface))
        })
    };
    topo.topology
        .links
        .iter()
        .flat_map(|l| l.endpoints.iter())
        .filter(|e| {
            let (node, iface) = e.split_once(':').unwrap();
            !named(node, iface)
        })
        .count()
}

/// Everything that must hold of any picture.
fn check(file: &Path, what: &str) -> Picture {
    let topo = Topology::load(file).unwrap();
    let p = parse(&svg(file));
    let pods_drawn = by_role(&p, "host").iter().all(|(_, h)| h.pods.is_none());
    assert_every_node_drawn(&p, &topo, pods_drawn, what);
    assert_tiers(&p, &topo, what);
    assert!(p.width <= 2400.0, "{what}: {} px wide", p.width);
    assert_no_overlaps(&p, what);
    if pods_drawn {
        let ports = p.texts.iter().filter(|t| t.class == "port").count();
        assert_eq!(
            ports,
            expected_port_labels(&topo),
            "{what}: a link label is missing"
        );
    }
    p
}

fn overlay_labels(p: &Picture) -> Vec<&str> {
    p.texts
        .iter()
        .filter(|t| t.class == "overlay")
        .map(|t| t.text.as_str())
        .collect()
}

#[test]
fn six_hosts_in_each_mode_are_drawn_in_role_tiers() {
    let dir = tempfile::tempdir().unwrap();
    for (mode, encap) in [
        ("host-gw", None),
        ("vxlan", Some("VXLAN vni 1, UDP 4789")),
        ("ipip", Some("IPIP (IP proto 4)")),
    ] {
        let file = gen(dir.path(), mode, &["--mode", mode, "--hosts", "6"]);
        let p = check(&file, mode);
        let hosts = by_role(&p, "host");
        assert_eq!(hosts.len(), 6);
        assert!(
            hosts.iter().all(|(_, h)| h.rect.y == hosts[0].1.rect.y),
            "{mode}: the hosts share one row"
        );
        // The tunnel is said once, not once per pair of hosts.
        let texts: Vec<&str> = p.texts.iter().map(|t| t.text.as_str()).collect();
        match encap {
            Some(e) => {
                assert_eq!(overlay_labels(&p), [e], "{mode}");
                assert_eq!(texts.iter().filter(|t| t.contains(e)).count(), 1, "{mode}");
            }
            None => assert!(overlay_labels(&p).is_empty(), "host-gw has no tunnel"),
        }
    }
}

#[test]
fn a_routed_underlay_puts_each_router_over_its_host() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--mode", "host-gw", "--underlay", "routed", "--hosts", "6"];
    let p = check(&gen(dir.path(), "routed", &args), "routed");
    let centre = |r: Rect| r.x + r.w / 2.0;
    for i in 1..=6 {
        let (gw, host) = (&p.nodes[&format!("gw{i}")], &p.nodes[&format!("host{i}")]);
        assert!((centre(gw.rect) - centre(host.rect)).abs() < 0.5, "gw{i}");
    }
    let wan = &p.nodes["wan"];
    let gw_top = by_role(&p, "router")
        .iter()
        .map(|(_, r)| r.rect.y)
        .fold(f64::INFINITY, f64::min);
    assert!(
        wan.rect.bottom() < gw_top,
        "the switch joining the routers sits above them"
    );
}

#[test]
fn racks_put_each_rack_switch_over_its_hosts_and_routers_above() {
    let dir = tempfile::tempdir().unwrap();
    for (racks, count, hosts) in [("racks:3", 3, 6), ("racks:2", 2, 4)] {
        let n = hosts.to_string();
        let args = ["--mode", "host-gw", "--underlay", racks, "--hosts", &n];
        let p = check(&gen(dir.path(), "racks", &args), racks);
        let per = hosts / count;
        for r in 1..=count {
            let sw = p.nodes[&format!("rack{r}")].rect;
            let first = p.nodes[&format!("host{}", (r - 1) * per + 1)].rect;
            let last = p.nodes[&format!("host{}", r * per)].rect;
            let centre = sw.x + sw.w / 2.0;
            assert!(
                first.x < centre && centre < last.right(),
                "{racks}: rack{r} is not over its hosts"
            );
            let gw = p.nodes[&format!("gw{r}")].rect;
            assert!(gw.bottom() < sw.y, "{racks}: gw{r} is not above rack{r}");
        }
    }
}

#[test]
fn twenty_hosts_wrap_into_rows_and_keep_pods_in_their_columns() {
    let dir = tempfile::tempdir().unwrap();
    for mode in ["host-gw", "vxlan", "ipip"] {
        let file = gen(dir.path(), mode, &["--mode", mode, "--hosts", "20"]);
        let p = check(&file, mode);
        let mut rows: Vec<f64> = by_role(&p, "host").iter().map(|(_, h)| h.rect.y).collect();
        rows.sort_by(f64::total_cmp);
        rows.dedup();
        assert_eq!(rows.len(), 2, "{mode}: 20 hosts in two rows of ten");
        for y in &rows {
            let n = by_role(&p, "host")
                .iter()
                .filter(|(_, h)| h.rect.y == *y)
                .count();
            assert_eq!(n, 10, "{mode}: the rows are even");
        }
        if mode != "host-gw" {
            assert_eq!(
                overlay_labels(&p).len(),
                1,
                "{mode}: one tunnel label for both rows"
            );
        }
    }
}

#[test]
fn many_hosts_collapse_to_hosts_with_their_pods_counted() {
    let dir = tempfile::tempdir().unwrap();
    for (mode, hosts, pods) in [("vxlan", "100", "1"), ("host-gw", "254", "3")] {
        let args = ["--mode", mode, "--hosts", hosts, "--pods-per-host", pods];
        let p = check(&gen(dir.path(), mode, &args), mode);
        assert!(
            by_role(&p, "pod").is_empty(),
            "{mode} x{hosts}: pods are counted, not drawn"
        );
        let per_host: usize = pods.parse().unwrap();
        let word = if per_host == 1 { "pod" } else { "pods" };
        for (name, h) in by_role(&p, "host") {
            assert_eq!(h.pods, Some(per_host), "{name}");
            assert!(
                h.texts.contains(&format!("{pods} {word}")),
                "{name}: {:?}",
                h.texts
            );
        }
        let mut rows: Vec<f64> = by_role(&p, "host").iter().map(|(_, h)| h.rect.y).collect();
        rows.sort_by(f64::total_cmp);
        rows.dedup();
        let widest = rows
            .iter()
            .map(|y| {
                by_role(&p, "host")
                    .iter()
                    .filter(|(_, h)| h.rect.y == *y)
                    .count()
            })
            .max()
            .unwrap();
        assert!(widest <= 16, "{mode} x{hosts}: {widest} hosts in a row");
    }
}

#[test]
fn stacked_pods_hang_in_their_hosts_column() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "--mode",
        "ipip",
        "--flavor",
        "calico",
        "--hosts",
        "4",
        "--pods-per-host",
        "3",
    ];
    let p = check(&gen(dir.path(), "calico", &args), "calico x3 pods");
    let ys: Vec<f64> = ["pod1-1", "pod1-2", "pod1-3"]
        .iter()
        .map(|n| p.nodes[*n].rect.y)
        .collect();
    assert!(
        ys[0] < ys[1] && ys[1] < ys[2],
        "a host's pods are stacked: {ys:?}"
    );
}

#[test]
fn direct_routing_says_which_pairs_go_plain() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "--mode",
        "vxlan",
        "--flavor",
        "flannel",
        "--underlay",
        "racks:2",
        "--direct-routing",
        "--hosts",
        "4",
    ];
    let p = check(&gen(dir.path(), "direct", &args), "direct routing");
    assert_eq!(overlay_labels(&p), ["VXLAN vni 1, UDP 8472"]);
    let notes: Vec<&str> = p
        .texts
        .iter()
        .filter(|t| t.class == "overlay-note")
        .map(|t| t.text.as_str())
        .collect();
    assert_eq!(notes, ["device flannel.1", "plain within a rack"]);
}

/// A file edited by hand may hold links the generator never writes: a node above the switch,
/// and a link between two hosts that are not neighbours in their row. Both are drawn, with
/// their labels, and nothing overlaps.
#[test]
fn a_hand_edited_file_keeps_every_label_apart() {
    let dir = tempfile::tempdir().unwrap();
    let file = gen(dir.path(), "hand", &["--mode", "host-gw", "--hosts", "3"]);
    let text = std::fs::read_to_string(&file).unwrap().replacen(
        "  links:\n",
        "    mgmt:\n      kind: linux\n  links:\n\
         \x20   - endpoints: [\"host1:eth9\", \"host3:eth9\"]\n\
         \x20   - endpoints: [\"mgmt:eth1\", \"switch:mgmt-eth1\"]\n",
        1,
    );
    std::fs::write(&file, text).unwrap();
    let p = check(&file, "hand-edited");
    assert!(p.nodes["mgmt"].rect.bottom() < p.nodes["switch"].rect.y);
    let eth9 = p.texts.iter().filter(|t| t.text == "eth9").count();
    assert_eq!(eth9, 2, "both ends of the host-to-host link are named");
}

/// PNG's IHDR: width and height, big-endian, at bytes 16..24.
fn png_size(png: &[u8]) -> (u32, u32) {
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&png[16..20]), be(&png[20..24]))
}

/// A renderer other than a browser takes the picture whole: rsvg-convert (librsvg, what
/// GNOME and many wikis use) draws it at the size the SVG states.
#[test]
fn rsvg_renders_the_svg_at_its_size() {
    let found = std::process::Command::new("rsvg-convert")
        .arg("--version")
        .output();
    assert!(
        found.is_ok_and(|o| o.status.success()),
        "rsvg-convert is missing: install librsvg2-bin (scripts/install-deps.sh --test)"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = gen(dir.path(), "vxlan", &["--mode", "vxlan", "--hosts", "6"]);
    let svg_file = dir.path().join("lab.svg");
    std::fs::write(&svg_file, svg(&file)).unwrap();
    let p = parse(&std::fs::read_to_string(&svg_file).unwrap());
    let out = std::process::Command::new("rsvg-convert")
        .arg(&svg_file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "rsvg-convert: {}",
        common::stderr(&out)
    );
    assert_eq!(png_size(&out.stdout).0, p.width as u32);
}

/// The checks above are not rubber stamps: a picture with two texts on top of each other, a pod
/// outside its host's column, or a node without its group fails them.
#[test]
fn the_checks_catch_a_bad_picture() {
    let group = |name: &str, role: &str, x: f64, y: f64| {
        format!(
            "<g data-node=\"{name}\" data-role=\"{role}\"><rect x=\"{x}\" y=\"{y}\" width=\"100\" \
             height=\"40\"/><text x=\"{}\" y=\"{}\" font-size=\"12\" text-anchor=\"middle\">{name}</text></g>",
            x + 50.0,
            y + 20.0
        )
    };
    let picture = |body: String| parse(&format!("<svg width=\"500\" height=\"300\">{body}</svg>"));
    let ok = picture(group("host1", "host", 0.0, 0.0) + &group("host2", "host", 200.0, 0.0));
    assert_no_overlaps(&ok, "ok");
    let on_top = picture(group("host1", "host", 0.0, 0.0) + &group("host2", "host", 20.0, 0.0));
    assert!(std::panic::catch_unwind(|| assert_no_overlaps(&on_top, "on top")).is_err());

    let dir = tempfile::tempdir().unwrap();
    let file = gen(dir.path(), "two", &["--mode", "host-gw", "--hosts", "2"]);
    let topo = Topology::load(&file).unwrap();
    let outside = picture(
        group("host1", "host", 0.0, 0.0)
            + &group("host2", "host", 200.0, 0.0)
            + &group("pod1", "pod", 150.0, 100.0)
            + &group("pod2", "pod", 200.0, 100.0)
            + &group("switch", "switch", 100.0, -100.0),
    );
    assert!(std::panic::catch_unwind(|| assert_tiers(&outside, &topo, "outside")).is_err());
    let missing = picture(group("host1", "host", 0.0, 0.0));
    assert!(
        std::panic::catch_unwind(|| assert_every_node_drawn(&missing, &topo, true, "missing"))
            .is_err()
    );
}
