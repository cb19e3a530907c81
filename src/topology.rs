//! Reading a containerlab topology file: the subset of containerlab's format that cnilab's
//! runtimes and verifier need, plus containerlab's rule for naming a node's namespace.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize)]
pub struct Topology {
    pub name: String,
    #[serde(default)]
    pub prefix: Option<String>,
    pub topology: Body,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Body {
    #[serde(default)]
    pub nodes: BTreeMap<String, Option<Node>>,
    #[serde(default)]
    pub links: Vec<Link>,
    /// Settings inherited by nodes (`kinds`, `defaults`, `groups`). cnilab does not merge them,
    /// so their presence is reported rather than silently ignored.
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_yaml_ng::Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Node {
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub exec: Vec<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, LabelValue>,
    /// Every other setting (`image`, `network-mode`, `binds`, ...): a runtime that cannot
    /// honour one refuses the file rather than ignoring it.
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_yaml_ng::Value>,
}

/// containerlab allows a label to be a string or a number.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum LabelValue {
    Text(String),
    Number(serde_yaml_ng::Number),
}

impl std::fmt::Display for LabelValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LabelValue::Text(s) => f.write_str(s),
            LabelValue::Number(n) => write!(f, "{n}"),
        }
    }
}

/// A link, in the brief form (`endpoints: ["a:eth1", "b:eth1"]`) or the extended one
/// (`type: veth`, `endpoints: [{node: a, interface: eth1}, ...]`); both read as `node:interface`.
#[derive(Debug, Clone, Deserialize)]
#[serde(from = "RawLink")]
pub struct Link {
    pub endpoints: Vec<String>,
    /// `type:`, `mtu:`, `vars:` and the like; an extended endpoint's own settings appear here
    /// as `endpoint <key>` (e.g. `endpoint mac`), so a runtime can name them.
    pub other: BTreeMap<String, serde_yaml_ng::Value>,
}

#[derive(Deserialize)]
struct RawLink {
    #[serde(default)]
    endpoints: Vec<RawEndpoint>,
    #[serde(flatten)]
    other: BTreeMap<String, serde_yaml_ng::Value>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawEndpoint {
    Brief(String),
    Extended {
        node: String,
        interface: String,
        #[serde(flatten)]
        other: BTreeMap<String, serde_yaml_ng::Value>,
    },
}

impl From<RawLink> for Link {
    fn from(raw: RawLink) -> Link {
        let mut other = raw.other;
        let endpoints = raw
            .endpoints
            .into_iter()
            .map(|end| match end {
                RawEndpoint::Brief(text) => text,
                RawEndpoint::Extended {
                    node,
                    interface,
                    other: settings,
                } => {
                    for (key, value) in settings {
                        other.insert(format!("endpoint {key}"), value);
                    }
                    format!("{node}:{interface}")
                }
            })
            .collect();
        Link { endpoints, other }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TopologyError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a containerlab topology: {detail}")]
    Parse { path: PathBuf, detail: String },
}

impl Topology {
    pub fn load(path: &Path) -> Result<Topology, TopologyError> {
        Topology::load_with_text(path).map(|(topo, _)| topo)
    }

    /// The topology and the text it was read from, for a command that writes the text again.
    pub fn load_with_text(path: &Path) -> Result<(Topology, String), TopologyError> {
        let text = std::fs::read_to_string(path).map_err(|source| TopologyError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let topo = Topology::parse(&text).map_err(|detail| TopologyError::Parse {
            path: path.to_path_buf(),
            detail,
        })?;
        Ok((topo, text))
    }

    pub fn parse(text: &str) -> Result<Topology, String> {
        let topo: Topology = serde_yaml_ng::from_str(text).map_err(|e| e.to_string())?;
        topo.check_names()?;
        Ok(topo)
    }

    /// A lab known only by its name (from cnilab's record, its file gone): no nodes, no links.
    pub fn named(lab: &str) -> Topology {
        Topology {
            name: lab.to_string(),
            prefix: None,
            topology: Body::default(),
        }
    }

    /// Names become namespace and state-file names, so they must be what containerlab's schema
    /// allows: never a path, never empty.
    fn check_names(&self) -> Result<(), String> {
        if !valid_name(&self.name) {
            return Err(format!(
                "lab name `{}` is not valid: letters, digits, '-', '_' or '.', starting with a letter or digit",
                self.name
            ));
        }
        if let Some(prefix) = &self.prefix {
            if !prefix.is_empty() && prefix != "__lab-name" && !valid_name(prefix) {
                return Err(format!("prefix `{prefix}` is not valid"));
            }
        }
        match self.topology.nodes.keys().find(|n| !valid_name(n)) {
            Some(bad) => Err(format!(
                "node name `{bad}` is not valid: letters, digits, '-', '_' or '.', starting with a letter or digit"
            )),
            None => Ok(()),
        }
    }

    /// Nodes in name order; a node written as `name:` with nothing under it has no settings.
    pub fn nodes(&self) -> impl Iterator<Item = (&str, &Node)> {
        static EMPTY: Node = Node {
            kind: None,
            exec: Vec::new(),
            labels: BTreeMap::new(),
            other: BTreeMap::new(),
        };
        self.topology
            .nodes
            .iter()
            .map(|(name, node)| (name.as_str(), node.as_ref().unwrap_or(&EMPTY)))
    }

    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes().find(|(n, _)| *n == name).map(|(_, node)| node)
    }

    /// The name containerlab gives a node's container, and so its namespace under /run/netns.
    pub fn namespace(&self, node: &str) -> String {
        container_name(self.prefix.as_deref(), &self.name, node)
    }
}

/// containerlab's default MTU for veth links; the netns runtime matches it so that one file
/// makes the same lab on both runtimes.
pub const DEFAULT_LINK_MTU: u32 = 9500;

/// containerlab's pattern for lab, prefix and node names, kept short enough that
/// `clab-<lab>-<node>` stays a sensible namespace name. Such a name is never a path.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && name.len() <= 64
}

/// containerlab's naming rule: `clab-<lab>-<node>` by default, `<prefix>-<lab>-<node>` for a
/// custom prefix, `<lab>-<node>` for the special prefix `__lab-name`, and the bare node name
/// for an empty prefix.
pub fn container_name(prefix: Option<&str>, lab: &str, node: &str) -> String {
    match prefix {
        None => format!("clab-{lab}-{node}"),
        Some("") => node.to_string(),
        Some("__lab-name") => format!("{lab}-{node}"),
        Some(p) => format!("{p}-{lab}-{node}"),
    }
}

/// One end of a brief-form link, `node:interface`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub node: String,
    pub iface: String,
}

impl Endpoint {
    pub fn parse(text: &str) -> Option<Endpoint> {
        let (node, iface) = text.split_once(':')?;
        (!node.is_empty() && !iface.is_empty() && !iface.contains(':')).then(|| Endpoint {
            node: node.to_string(),
            iface: iface.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_names_follow_containerlab() {
        assert_eq!(container_name(None, "lab", "pod1"), "clab-lab-pod1");
        assert_eq!(container_name(Some(""), "lab", "pod1"), "pod1");
        assert_eq!(
            container_name(Some("__lab-name"), "lab", "pod1"),
            "lab-pod1"
        );
        assert_eq!(container_name(Some("x"), "lab", "pod1"), "x-lab-pod1");
    }

    #[test]
    fn parses_nodes_labels_and_links() {
        let t = Topology::parse(
            "name: l\ntopology:\n  nodes:\n    a:\n      kind: linux\n      labels: {x: 1, y: b}\n      exec: [ip link]\n    sw:\n  links:\n    - endpoints: [\"a:eth1\", \"sw:p1\"]\n",
        )
        .unwrap();
        let a = t.node("a").unwrap();
        assert_eq!(a.kind.as_deref(), Some("linux"));
        assert_eq!(a.labels["x"].to_string(), "1");
        assert_eq!(a.exec, vec!["ip link"]);
        assert!(t.node("sw").unwrap().kind.is_none());
        assert_eq!(
            Endpoint::parse(&t.topology.links[0].endpoints[1]),
            Some(Endpoint {
                node: "sw".into(),
                iface: "p1".into()
            })
        );
        assert_eq!(Endpoint::parse("nocolon"), None);
    }

    #[test]
    fn extended_links_read_as_brief_ones() {
        let t = Topology::parse(
            "name: l\ntopology:\n  nodes: {a: {kind: linux}, b: {kind: linux}}\n  links:\n    - type: veth\n      endpoints:\n        - {node: a, interface: eth1}\n        - {node: b, interface: eth2, mac: \"02:00:00:00:00:01\"}\n",
        )
        .unwrap();
        let link = &t.topology.links[0];
        assert_eq!(link.endpoints, ["a:eth1", "b:eth2"]);
        assert_eq!(link.other["type"].as_str(), Some("veth"));
        assert!(link.other.contains_key("endpoint mac"));
    }

    #[test]
    fn names_that_could_be_paths_are_refused() {
        let lab = |name: &str, node: &str| {
            Topology::parse(&format!(
                "name: \"{name}\"\ntopology:\n  nodes:\n    \"{node}\":\n"
            ))
        };
        assert!(lab("ok-1.lab_x", "pod1").is_ok());
        assert!(lab("../x", "pod1").unwrap_err().contains("lab name"));
        assert!(lab("", "pod1").is_err());
        assert!(lab("lab", "../../etc").unwrap_err().contains("node name"));
        assert!(lab("lab", "a/b").is_err());
    }
}
