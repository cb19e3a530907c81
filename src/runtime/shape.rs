//! The part of a clab.yaml the netns runtime can realise, checked: `linux` and `bridge` nodes,
//! brief-form veth links. Anything else is named in an error instead of being skipped.

use super::RuntimeError;
use crate::topology::{Endpoint, Topology};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

pub use crate::topology::DEFAULT_LINK_MTU;
/// Linux's limit for interface names (IFNAMSIZ minus the terminating NUL).
pub const MAX_IFNAME: usize = 15;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    Linux,
    Bridge,
}

#[derive(Debug, Clone)]
pub struct ShapeNode {
    pub name: String,
    pub kind: NodeKind,
    pub namespace: String,
    /// Each exec line split as containerlab splits it (shlex, no shell).
    pub exec: Vec<ExecLine>,
    /// This node's link ends, in link order.
    pub ifaces: Vec<String>,
    /// Host paths the node sees at its own paths (containerlab's `binds:`).
    pub binds: Vec<Bind>,
}

/// A node's `binds:` entry as containerlab reads it: a host path seen at `target` inside the
/// node, read-only with `:ro`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    /// Absolute: a relative source is relative to the topology file, as in containerlab.
    pub source: PathBuf,
    pub target: PathBuf,
    pub read_only: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecLine {
    pub text: String,
    pub argv: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeLink {
    pub a: Endpoint,
    pub b: Endpoint,
    pub mtu: u32,
}

#[derive(Debug, Clone)]
pub struct Shape {
    pub nodes: Vec<ShapeNode>,
    pub links: Vec<ShapeLink>,
}

impl Shape {
    pub fn from_topology(topo: &Topology, file: &Path) -> Result<Shape, RuntimeError> {
        let unsupported = |what: String| RuntimeError::Unsupported {
            file: file.to_path_buf(),
            what,
        };
        if let Some(section) = topo.topology.other.keys().next() {
            return Err(unsupported(format!(
                "the topology has a `{section}` section; the netns runtime does not merge \
                 kinds, defaults or groups into nodes: write the settings on each node"
            )));
        }
        let mut nodes = topo
            .nodes()
            .map(|(name, node)| shape_node(topo, name, node, file))
            .collect::<Result<Vec<_>, String>>()
            .map_err(unsupported)?;
        let links = shape_links(topo, &mut nodes).map_err(unsupported)?;
        Ok(Shape { nodes, links })
    }

    pub fn node(&self, name: &str) -> &ShapeNode {
        self.nodes
            .iter()
            .find(|n| n.name == name)
            .expect("links were checked against the nodes")
    }

    pub fn namespaces(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.namespace.clone()).collect()
    }

    /// All exec lines of the lab, for preflight's scan of what the kernel must support.
    pub fn exec_lines(&self) -> impl Iterator<Item = &ExecLine> {
        self.nodes.iter().flat_map(|n| n.exec.iter())
    }
}

/// One node, checked: its kind, settings, binds and exec lines.
fn shape_node(
    topo: &Topology,
    name: &str,
    node: &crate::topology::Node,
    file: &Path,
) -> Result<ShapeNode, String> {
    let kind = node_kind(name, node)?;
    check_settings(name, node)?;
    let binds = binds(name, node, file)?;
    if kind == NodeKind::Bridge {
        check_bridge(name, node, &binds)?;
    }
    Ok(ShapeNode {
        name: name.to_string(),
        kind,
        namespace: topo.namespace(name),
        exec: exec_lines(name, node)?,
        ifaces: Vec::new(),
        binds,
    })
}

fn node_kind(name: &str, node: &crate::topology::Node) -> Result<NodeKind, String> {
    match node.kind.as_deref() {
        Some("linux") => Ok(NodeKind::Linux),
        Some("bridge") => Ok(NodeKind::Bridge),
        Some(other) => Err(format!(
            "node `{name}` has kind `{other}`; the netns runtime supports only \
             `linux` and `bridge` (try `--runtime containerlab`)"
        )),
        None => Err(format!(
            "node `{name}` has no `kind`; the netns runtime needs `kind: linux` or \
             `kind: bridge` on every node"
        )),
    }
}

/// A bridge node is only a bridge: no file system, no commands, and a name Linux takes.
fn check_bridge(name: &str, node: &crate::topology::Node, binds: &[Bind]) -> Result<(), String> {
    if !binds.is_empty() {
        return Err(format!(
            "bridge node `{name}` has binds; a bridge has no file system"
        ));
    }
    if !valid_ifname(name) {
        return Err(format!(
            "bridge node `{name}` cannot name a Linux bridge (at most {MAX_IFNAME} \
             characters, no `/`, `:` or spaces)"
        ));
    }
    if !node.exec.is_empty() {
        return Err(format!(
            "bridge node `{name}` has exec lines; containerlab runs none on bridges"
        ));
    }
    Ok(())
}

/// Each exec line split as containerlab splits it: shell words, no shell.
fn exec_lines(name: &str, node: &crate::topology::Node) -> Result<Vec<ExecLine>, String> {
    node.exec
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let argv = shlex::split(text)
                .filter(|a| !a.is_empty())
                .ok_or_else(|| {
                    format!(
                        "node `{name}`, exec line {}: cannot split `{text}` into words",
                        i + 1
                    )
                })?;
            Ok(ExecLine {
                text: text.clone(),
                argv,
            })
        })
        .collect()
}

/// Every link, checked, with each node's interfaces recorded in link order.
fn shape_links(topo: &Topology, nodes: &mut [ShapeNode]) -> Result<Vec<ShapeLink>, String> {
    let index: BTreeMap<String, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.name.clone(), i))
        .collect();
    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    let mut links = Vec::new();
    for (li, link) in topo.topology.links.iter().enumerate() {
        let n = li + 1;
        let mtu = link_mtu(n, link)?;
        if link.endpoints.len() != 2 {
            return Err(format!(
                "link {n} has {} endpoints; a veth link has exactly two",
                link.endpoints.len()
            ));
        }
        let mut ends = Vec::new();
        for text in &link.endpoints {
            let (ep, ni) = link_end(n, text, &index, nodes)?;
            if !seen.insert((ep.node.clone(), ep.iface.clone())) {
                return Err(format!(
                    "link {n}: interface `{text}` is used by more than one link"
                ));
            }
            nodes[ni].ifaces.push(ep.iface.clone());
            ends.push(ep);
        }
        let b = ends.pop().expect("two ends");
        let a = ends.pop().expect("two ends");
        links.push(ShapeLink { a, b, mtu });
    }
    Ok(links)
}

/// A link's MTU (containerlab's default unless it says), refusing settings that would change
/// the wiring.
fn link_mtu(n: usize, link: &crate::topology::Link) -> Result<u32, String> {
    let mut mtu = DEFAULT_LINK_MTU;
    for (key, value) in &link.other {
        match key.as_str() {
            "mtu" => {
                mtu = value
                    .as_u64()
                    .and_then(|m| u32::try_from(m).ok())
                    .filter(|m| (68..=65535).contains(m))
                    .ok_or_else(|| format!("link {n}: `mtu` must be 68..65535"))?
            }
            // Metadata only; containerlab does not change the wiring for them.
            "labels" | "vars" => {}
            "type" if value.as_str() == Some("veth") => {}
            "type" => {
                return Err(format!(
                    "link {n} has `type: {}`; the netns runtime supports only veth links \
                     between two nodes of the lab",
                    value.as_str().unwrap_or("?")
                ))
            }
            other => {
                return Err(format!(
                    "link {n} has `{other}`, which the netns runtime does not support"
                ))
            }
        }
    }
    Ok(mtu)
}

/// One end of link `n`: a node of the lab and an interface name Linux takes.
fn link_end(
    n: usize,
    text: &str,
    index: &BTreeMap<String, usize>,
    nodes: &[ShapeNode],
) -> Result<(Endpoint, usize), String> {
    let ep = Endpoint::parse(text)
        .ok_or_else(|| format!("link {n}: `{text}` is not of the form node:interface"))?;
    let Some(&ni) = index.get(&ep.node) else {
        let why = match ep.node.as_str() {
            "host" | "mgmt-net" | "macvlan" => {
                " (it would connect the lab to the machine's root namespace, which the \
                 netns runtime never touches)"
            }
            _ => "",
        };
        return Err(format!(
            "link {n}: endpoint `{text}` names no node of the lab{why}"
        ));
    };
    if !valid_ifname(&ep.iface) {
        return Err(format!(
            "link {n}: interface name `{}` is not valid on Linux (at most \
             {MAX_IFNAME} characters, no `/` or spaces)",
            ep.iface
        ));
    }
    if nodes[ni].kind == NodeKind::Bridge && ep.iface == ep.node {
        return Err(format!("link {n}: port `{text}` has the bridge's own name"));
    }
    Ok((ep, ni))
}

/// Node settings beyond kind, labels and exec. `image` names what containerlab would run; the
/// netns runtime runs the machine's own tools instead, which is the point of it. `group` only
/// orders drawings; `restart-policy` has nothing to act on. Anything else changes what a node is, so it is refused by name.
/// A node's `binds:` as containerlab reads them: `source:target[:ro|:rw]`, the source
/// relative to the topology file, the target absolute.
fn binds(name: &str, node: &crate::topology::Node, file: &Path) -> Result<Vec<Bind>, String> {
    let Some(value) = node.other.get("binds") else {
        return Ok(Vec::new());
    };
    let bad = |why: String| format!("node `{name}`: {why}");
    let list = value
        .as_sequence()
        .ok_or_else(|| bad("`binds` must be a list of `source:target[:ro]`".into()))?;
    let dir = file.parent().unwrap_or(Path::new("."));
    list.iter()
        .map(|entry| {
            let text = entry.as_str().unwrap_or_default();
            let parts: Vec<&str> = text.split(':').collect();
            let (source, target, read_only) = match parts[..] {
                [s, t] => (s, t, false),
                [s, t, "ro"] => (s, t, true),
                [s, t, "rw"] => (s, t, false),
                _ => {
                    return Err(bad(format!(
                        "bind `{text}` is not `source:target[:ro|:rw]`"
                    )))
                }
            };
            if !target.starts_with('/') || source.is_empty() {
                return Err(bad(format!(
                    "bind `{text}`: the target must be an absolute path"
                )));
            }
            Ok(Bind {
                source: dir.join(source),
                target: PathBuf::from(target),
                read_only,
            })
        })
        .collect()
}

fn check_settings(name: &str, node: &crate::topology::Node) -> Result<(), String> {
    for (key, value) in &node.other {
        let shown = match value {
            serde_yaml_ng::Value::String(s) => format!("`{key}: {s}`"),
            _ => format!("`{key}`"),
        };
        match key.as_str() {
            // A namespace runs no process of its own that could stop, so it has nothing to
            // restart: every restart policy holds.
            "image" | "group" | "restart-policy" | "binds" => {}
            // No management network is exactly what a namespace of its own gives.
            "network-mode" if value.as_str() == Some("none") => {}
            "network-mode" => {
                return Err(format!(
                    "node `{name}` has {shown}; the netns runtime keeps every node in a \
                     namespace of its own and supports only `network-mode: none` (try \
                     `--runtime containerlab`)"
                ))
            }
            _ => {
                return Err(format!(
                    "node `{name}` has {shown}, which the netns runtime cannot honour (it \
                     supports kind, image, network-mode: none, restart-policy, labels and exec; try \
                     `--runtime containerlab`)"
                ))
            }
        }
    }
    Ok(())
}

fn valid_ifname(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_IFNAME
        && name != "."
        && name != ".."
        && !name
            .chars()
            .any(|c| c == '/' || c == ':' || c.is_whitespace())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(yaml: &str) -> Result<Shape, String> {
        Shape::from_topology(&Topology::parse(yaml).unwrap(), Path::new("t.yaml"))
            .map_err(|e| e.to_string())
    }

    const OK: &str = "name: l\ntopology:\n  nodes:\n    sw: {kind: bridge}\n    a:\n      kind: linux\n      exec: [\"ip addr add 10.0.0.1/24 dev eth1\", \"echo 'a b'\"]\n  links:\n    - endpoints: [\"a:eth1\", \"sw:p1\"]\n      mtu: 1500\n";

    #[test]
    fn accepts_linux_bridge_and_brief_links() {
        let s = shape(OK).unwrap();
        assert_eq!(s.node("a").namespace, "clab-l-a");
        assert_eq!(s.node("a").exec[1].argv, vec!["echo", "a b"]);
        assert_eq!(s.node("sw").ifaces, vec!["p1"]);
        assert_eq!(s.links[0].mtu, 1500);
    }

    #[test]
    fn accepts_extended_veth_links_and_settings_it_honours() {
        let extended = OK
            .replace("kind: linux", "kind: linux\n      image: x\n      network-mode: none")
            .replace(
                "- endpoints: [\"a:eth1\", \"sw:p1\"]",
                "- type: veth\n      endpoints: [{node: a, interface: eth1}, {node: sw, interface: p1}]",
            );
        let s = shape(&extended).unwrap();
        assert_eq!(s.links[0].a.node, "a");
        assert_eq!(s.links[0].b.iface, "p1");
        assert_eq!(s.links[0].mtu, 1500);
    }

    #[test]
    fn names_what_it_rejects() {
        let kind = shape(&OK.replace("kind: linux", "kind: nokia_srlinux")).unwrap_err();
        assert!(kind.contains("node `a` has kind `nokia_srlinux`"), "{kind}");
        let typed = shape(&OK.replace("mtu: 1500", "type: macvlan")).unwrap_err();
        assert!(typed.contains("link 1 has `type: macvlan`"), "{typed}");
        let host = shape(&OK.replace("kind: linux", "kind: linux\n      network-mode: host"));
        let host = host.unwrap_err();
        assert!(host.contains("node `a` has `network-mode: host`"), "{host}");
        let binds = shape(&OK.replace("kind: linux", "kind: linux\n      binds: [x:/y:ro, /x:/z]"));
        let a = binds.unwrap().node("a").binds.clone();
        assert_eq!(a[0].source, Path::new("x"));
        assert!(a[0].read_only && !a[1].read_only && a[1].target == Path::new("/z"));
        for bad in ["[x]", "[x:y]", "[x:/y:maybe]", "x:/y"] {
            let yaml = OK.replace("kind: linux", &format!("kind: linux\n      binds: {bad}"));
            assert!(shape(&yaml).unwrap_err().contains("node `a`"), "{bad}");
        }
        let mac = OK.replace(
            "- endpoints: [\"a:eth1\", \"sw:p1\"]",
            "- endpoints: [{node: a, interface: eth1, mac: \"02:00:00:00:00:01\"}, \"sw:p1\"]",
        );
        assert!(shape(&mac).unwrap_err().contains("`endpoint mac`"));
        let kinds = shape(&OK.replace("  nodes:", "  kinds: {linux: {}}\n  nodes:")).unwrap_err();
        assert!(kinds.contains("`kinds` section"), "{kinds}");
        let host = shape(&OK.replace("sw:p1", "host:p1")).unwrap_err();
        assert!(host.contains("root namespace"), "{host}");
        let long = shape(&OK.replace("a:eth1", "a:averyveryverylongname")).unwrap_err();
        assert!(long.contains("not valid on Linux"), "{long}");
    }
}
