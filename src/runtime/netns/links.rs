//! The lab's skeleton as `ip -batch` lines: namespaces, veth pairs made directly inside their
//! namespaces (the root namespace never holds a lab link), and each node's link set-up.

use crate::runtime::shape::{NodeKind, Shape, ShapeNode};

pub fn namespaces(shape: &Shape) -> Vec<String> {
    shape
        .nodes
        .iter()
        .map(|n| format!("netns add {}", n.namespace))
        .collect()
}

pub fn veths(shape: &Shape) -> Vec<String> {
    shape
        .links
        .iter()
        .enumerate()
        .map(|(k, l)| {
            let (a, b) = (shape.node(&l.a.node), shape.node(&l.b.node));
            let (index_a, index_b) = veth_indexes(k);
            format!(
                "link add name {} netns {} index {index_a} mtu {} type veth peer name {} netns {} index {index_b} mtu {}",
                l.a.iface, a.namespace, l.mtu, l.b.iface, b.namespace, l.mtu
            )
        })
        .collect()
}

/// Interface indexes for the two ends of link `k`: unique in the lab, so unique in every
/// namespace, and never equal to each other. Left to the kernel, the first veth of two fresh
/// namespaces both get index 2; the kernel's link watcher then takes the pair for an ordinary
/// device, not a stacked one, and brings it up with a delay of up to a second, during which a
/// bridge drops what it would forward through it.
fn veth_indexes(k: usize) -> (usize, usize) {
    (VETH_INDEX_BASE + 2 * k, VETH_INDEX_BASE + 2 * k + 1)
}

const VETH_INDEX_BASE: usize = 100;

/// What containerlab and Docker do before the exec lines run: loopback up, every link end up,
/// and for a bridge node the bridge itself with its ports enslaved.
///
/// Every name follows its keyword (`name`, `dev`): iproute2 reads a bare word that is, or
/// abbreviates, one of its keywords as that keyword, so an interface called `a` or `name`
/// would otherwise change what the line means.
pub fn prelude(node: &ShapeNode) -> Vec<String> {
    let mut lines = vec!["link set dev lo up".to_string()];
    if node.kind == NodeKind::Bridge {
        lines.push(format!("link add name {} type bridge", node.name));
        lines.push(format!("link set dev {} up", node.name));
        for port in &node.ifaces {
            lines.push(format!("link set dev {port} master {}", node.name));
        }
    }
    for iface in &node.ifaces {
        lines.push(format!("link set dev {iface} up"));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::Topology;
    use std::path::Path;

    #[test]
    fn veths_are_born_in_their_namespaces() {
        let t = Topology::parse(
            "name: l\ntopology:\n  nodes:\n    sw: {kind: bridge}\n    a: {kind: linux}\n  links:\n    - endpoints: [\"a:eth1\", \"sw:p1\"]\n",
        )
        .unwrap();
        let s = Shape::from_topology(&t, Path::new("x")).unwrap();
        assert_eq!(
            veths(&s),
            vec!["link add name eth1 netns clab-l-a index 100 mtu 9500 type veth peer name p1 netns clab-l-sw index 101 mtu 9500"]
        );
        assert_eq!(
            prelude(s.node("sw")),
            vec![
                "link set dev lo up",
                "link add name sw type bridge",
                "link set dev sw up",
                "link set dev p1 master sw",
                "link set dev p1 up"
            ]
        );
        assert_eq!(
            namespaces(&s),
            vec!["netns add clab-l-a", "netns add clab-l-sw"]
        );
    }
}
