//! `cnilab graph`: every format from every mode's file, checked by a parser, not by eye.

mod common;

use cnilab::topology::Topology;
use common::cnilab;
use std::path::Path;

fn gen(dir: &Path, mode: &str, hosts: usize) -> std::path::PathBuf {
    let file = dir.join(format!("{mode}.yaml"));
    cnilab()
        .args(["gen", "--mode", mode, "--hosts", &hosts.to_string(), "-o"])
        .arg(&file)
        .assert()
        .success();
    file
}

fn graph(file: &Path, format: &str) -> String {
    let out = cnilab()
        .args(["graph", "--format", format, "-t"])
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "graph failed: {}",
        common::stderr(&out)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn node_names(file: &Path) -> Vec<String> {
    Topology::load(file)
        .unwrap()
        .nodes()
        .map(|(n, _)| n.to_string())
        .collect()
}

#[test]
fn svg_is_well_formed_and_names_every_node() {
    let dir = tempfile::tempdir().unwrap();
    for (mode, hosts) in [("host-gw", 2), ("vxlan", 3), ("ipip", 4)] {
        let file = gen(dir.path(), mode, hosts);
        let svg = graph(&file, "svg");
        let doc = roxmltree::Document::parse(&svg)
            .unwrap_or_else(|e| panic!("{mode}: the SVG is not well-formed XML: {e}"));
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        for name in node_names(&file) {
            let group = doc
                .descendants()
                .find(|n| n.attribute("data-node") == Some(name.as_str()))
                .unwrap_or_else(|| panic!("{mode}: node {name} is not drawn"));
            let label = group.children().find(|c| c.has_tag_name("text"));
            assert_eq!(label.and_then(|t| t.text()), Some(name.as_str()), "{mode}");
        }
    }
}

#[test]
fn svg_says_the_tunnel_once_and_labels_links_with_interfaces() {
    let dir = tempfile::tempdir().unwrap();
    let svg = graph(&gen(dir.path(), "vxlan", 3), "svg");
    let texts = |svg: &str| -> Vec<String> {
        let doc = roxmltree::Document::parse(svg).unwrap();
        doc.descendants()
            .filter(|n| n.has_tag_name("text"))
            .map(|n| n.text().unwrap_or("").to_string())
            .collect()
    };
    let words = texts(&svg);
    let said = |w: &[String], s: &str| w.iter().filter(|t| t.contains(s)).count();
    assert_eq!(
        said(&words, "VXLAN vni 1, UDP 4789"),
        1,
        "one label for all pairs"
    );
    // The router's end of gw1's link to host1; host1's end is in host1's box.
    assert_eq!(said(&words, "eth2"), 3);
    assert!(svg.contains("<title>gw1:eth2 - host1:eth1</title>"));
    let svg = graph(&gen(dir.path(), "ipip", 2), "svg");
    assert_eq!(said(&texts(&svg), "IPIP (IP proto 4)"), 1);
    let svg = graph(&gen(dir.path(), "host-gw", 2), "svg");
    assert!(
        !svg.contains("VXLAN") && !svg.contains("IPIP") && !svg.contains("class=\"tunnel\""),
        "host-gw has no tunnels"
    );
    assert!(
        svg.contains("10.0.1.0/24"),
        "a host's pod subnet comes from its label"
    );
}

#[test]
fn mermaid_passes_a_mermaid_parser() {
    let dir = tempfile::tempdir().unwrap();
    let engine = merman_core::Engine::new();
    for (mode, hosts) in [("host-gw", 2), ("vxlan", 3), ("ipip", 8)] {
        let file = gen(dir.path(), mode, hosts);
        let text = graph(&file, "mermaid");
        let parsed = engine
            .parse_diagram_sync(&text, merman_core::ParseOptions::strict())
            .unwrap_or_else(|e| panic!("{mode}: mermaid rejects the graph: {e}\n{text}"))
            .expect("a diagram is detected");
        assert!(
            parsed.meta.diagram_type.contains("flowchart"),
            "{}",
            parsed.meta.diagram_type
        );
        let model = parsed.model.to_string();
        for name in node_names(&file) {
            assert!(
                model.contains(&format!("{name} [")),
                "{mode}: {name} missing from the parsed model"
            );
        }
    }
    // The parser is not a rubber stamp: a broken diagram fails.
    assert!(engine
        .parse_diagram_sync(
            "flowchart TB\n  a[\"x\"] ---|\"y| b\n  subgraph\n",
            merman_core::ParseOptions::strict()
        )
        .is_err());
}

#[test]
fn dot_groups_pods_under_their_host_and_writes_to_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = gen(dir.path(), "vxlan", 2);
    let out = dir.path().join("lab.dot");
    cnilab()
        .args(["graph", "--format", "dot", "-t"])
        .arg(&file)
        .arg("-o")
        .arg(&out)
        .assert()
        .success();
    let dot = std::fs::read_to_string(&out).unwrap();
    assert!(dot.starts_with("graph \"flannel-vxlan\" {"));
    let cluster = dot.split("subgraph \"cluster_host2\"").nth(1).unwrap();
    let cluster = cluster.split("  }").next().unwrap();
    assert!(cluster.contains("\"pod2\"") && !cluster.contains("\"pod1\""));
    assert!(dot.contains("style=dashed"));
    let file = gen(dir.path(), "ipip", 4);
    let dot = graph(&file, "dot");
    assert_eq!(
        dot.matches("style=dashed").count(),
        6,
        "a tunnel per pair of hosts"
    );
    assert_eq!(dot.matches("IPIP (IP proto 4)").count(), 1, "said once");
}

#[test]
fn a_file_without_cnilab_labels_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain.yaml");
    std::fs::write(
        &file,
        "name: x\ntopology:\n  nodes:\n    a: {kind: linux}\n",
    )
    .unwrap();
    let out = cnilab().args(["graph", "-t"]).arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(common::stderr(&out).contains("cnilab labels"));
}

/// A dual-stack lab's graph shows both families in every format: each host's IPv4 and IPv6
/// underlay address and pod prefix, each pod's two addresses, and the IPv6 VTEP beside the
/// IPv4 overlay. The addresses are read back from the file's own labels, not from the plan.
#[test]
fn a_dual_stack_graph_shows_both_families_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dual.yaml");
    cnilab()
        .args([
            "gen",
            "--mode",
            "vxlan",
            "--hosts",
            "3",
            "--ip-family",
            "dual",
            "-o",
        ])
        .arg(&file)
        .assert()
        .success();
    let topo = Topology::load(&file).unwrap();
    let label = |node: &str, key: &str| -> String {
        let (_, n) = topo.nodes().find(|(name, _)| *name == node).unwrap();
        n.labels
            .get(key)
            .unwrap_or_else(|| panic!("{node} has no {key}"))
            .to_string()
    };
    let mut wanted = Vec::new();
    for i in 1..=3 {
        let (host, pod) = (format!("host{i}"), format!("pod{i}"));
        for key in [
            "cnilab.underlay-ip",
            "cnilab.underlay-ip6",
            "cnilab.pod-subnet6",
        ] {
            wanted.push(label(&host, key));
        }
        for key in ["cnilab.pod-ip", "cnilab.pod-ip6"] {
            wanted.push(label(&pod, key));
        }
    }
    assert!(wanted.iter().any(|w| w.starts_with("fd00:")), "{wanted:?}");
    for format in ["svg", "mermaid", "dot"] {
        let drawn = graph(&file, format);
        for w in &wanted {
            assert!(drawn.contains(w.as_str()), "{format} lacks {w}:\n{drawn}");
        }
        assert!(
            drawn.contains("flannel-v6.1"),
            "{format} lacks the IPv6 VTEP"
        );
    }
    let mermaid = graph(&file, "mermaid");
    merman_core::Engine::new()
        .parse_diagram_sync(&mermaid, merman_core::ParseOptions::strict())
        .unwrap_or_else(|e| panic!("mermaid rejects the dual-stack graph: {e}\n{mermaid}"))
        .expect("a diagram is detected");
}

/// An IPv6-only Calico lab's graph shows its IPv6 addresses and its IPv6 VTEP, and no IPv4
/// device or address: the lab makes none.
#[test]
fn an_ipv6_graph_draws_only_what_the_lab_makes() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("six.yaml");
    cnilab()
        .args(["gen", "--mode", "vxlan", "--flavor", "calico"])
        .args(["--hosts", "3", "--ip-family", "ipv6", "-o"])
        .arg(&file)
        .assert()
        .success();
    for format in ["svg", "mermaid", "dot"] {
        let drawn = graph(&file, format);
        for want in ["fd00:10:0:2::2", "fd00:172:16:1::/64", "vxlan-v6.calico"] {
            assert!(drawn.contains(want), "{format} lacks {want}:\n{drawn}");
        }
        assert!(
            !drawn.contains("device vxlan.calico") && !drawn.contains("172.16.1.2"),
            "{format} draws an IPv4 side the lab does not have:\n{drawn}"
        );
    }
}

/// A dual ipip lab crosses in two ways, and its graph names both in every format: IPv4 in
/// IPIP, IPv6 in Calico's IPv6 VXLAN, with both devices of Calico's flavor (tunl0 and
/// vxlan-v6.calico).
#[test]
fn a_dual_ipip_graph_names_each_familys_tunnel_and_both_devices() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ipip.yaml");
    cnilab()
        .args([
            "gen", "--mode", "ipip", "--flavor", "calico", "--hosts", "3",
        ])
        .args(["--ip-family", "dual", "-o"])
        .arg(&file)
        .assert()
        .success();
    for format in ["svg", "mermaid", "dot"] {
        let drawn = graph(&file, format);
        for want in [
            "IPv4 in IPIP (IP proto 4)",
            "IPv6 in VXLAN vni 4096, UDP 4789",
            "tunl0",
            "vxlan-v6.calico",
            "fd00:172:16:2::/64",
        ] {
            assert!(drawn.contains(want), "{format} lacks {want}:\n{drawn}");
        }
    }
    let mermaid = graph(&file, "mermaid");
    merman_core::Engine::new()
        .parse_diagram_sync(&mermaid, merman_core::ParseOptions::strict())
        .unwrap_or_else(|e| panic!("mermaid rejects the dual ipip graph: {e}\n{mermaid}"))
        .expect("a diagram is detected");
}

/// Cilium's dual stack has one device for both families, over the IPv4 underlay, and its
/// graph says so rather than draw an IPv6 underlay its tunnel does not use.
#[test]
fn a_dual_cilium_graph_says_ipv6_crosses_over_the_ipv4_underlay() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cilium.yaml");
    cnilab()
        .args([
            "gen", "--mode", "vxlan", "--flavor", "cilium", "--hosts", "3",
        ])
        .args(["--ip-family", "dual", "-o"])
        .arg(&file)
        .assert()
        .success();
    let svg = graph(&file, "svg");
    assert!(
        svg.contains("IPv6 in cilium_vxlan, over the IPv4 underlay"),
        "{svg}"
    );
    assert!(!svg.contains("over the IPv6 underlay"), "{svg}");
    for format in ["mermaid", "dot"] {
        let drawn = graph(&file, format);
        assert!(
            drawn.contains("VXLAN vni 256, UDP 8472"),
            "{format}: {drawn}"
        );
        assert!(drawn.contains("fd00:172:16:2::2"), "{format}: {drawn}");
    }
}
