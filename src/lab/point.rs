//! A place where packets are captured: one interface of one node.

use serde::Serialize;
use std::fmt;

/// One interface of one node. It prints as `node-iface`, the stem of its pcap file; the node
/// is always read from the field, never split back out of that text (node names hold `-`).
///
/// A point is the node and interface alone: its [`Role`] follows from the node, so it takes no
/// part in comparing, hashing or ordering points, and a point named without it is the same
/// point.
#[derive(Debug, Clone, Serialize)]
pub struct PointId {
    pub node: String,
    pub iface: String,
    /// The part the point plays in the lab, where the lab that named it knows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
}

/// The part a capture point plays, which is what a person needs to read a reason: a pod's own
/// interface, a host's side towards its pods, a host's underlay interface, a router's leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Pod,
    HostPodSide,
    HostUnderlay,
    /// A host's WireGuard device where the mode's encapsulation runs inside the tunnel: the
    /// mode's shape is seen here, in the clear of the tunnel, not on the underlay.
    HostWireguard,
    Router,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Pod => "pod",
            Role::HostPodSide => "host, pod side",
            Role::HostUnderlay => "host underlay",
            Role::HostWireguard => "host, inside WireGuard",
            Role::Router => "router",
        })
    }
}

impl PointId {
    pub fn new(node: impl Into<String>, iface: impl Into<String>) -> PointId {
        PointId {
            node: node.into(),
            iface: iface.into(),
            role: None,
        }
    }

    /// The point, knowing the part it plays.
    pub fn with_role(node: impl Into<String>, iface: impl Into<String>, role: Role) -> PointId {
        PointId {
            role: Some(role),
            ..PointId::new(node, iface)
        }
    }

    /// The point as a reason names it: `pod1-3-eth1 (pod)`, or its bare name where its role
    /// is not known.
    pub fn described(&self) -> String {
        match self.role {
            Some(role) => format!("{self} ({role})"),
            None => self.to_string(),
        }
    }

    fn key(&self) -> (&str, &str) {
        (&self.node, &self.iface)
    }
}

impl PartialEq for PointId {
    fn eq(&self, other: &PointId) -> bool {
        self.key() == other.key()
    }
}

impl Eq for PointId {}

impl std::hash::Hash for PointId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.key().hash(state)
    }
}

impl PartialOrd for PointId {
    fn partial_cmp(&self, other: &PointId) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for PointId {
    fn cmp(&self, other: &PointId) -> std::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}

impl fmt::Display for PointId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.node, self.iface)
    }
}

/// Tests name points as they print; interfaces in a lab have no `-`, so the node is everything
/// before the last one.
#[cfg(test)]
impl From<&str> for PointId {
    fn from(text: &str) -> PointId {
        let (node, iface) = text.rsplit_once('-').expect("a point is `node-iface`");
        PointId::new(node, iface)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pod_with_a_dash_in_its_name_keeps_it() {
        let p = PointId::new("pod1-2", "eth1");
        assert_eq!(p.to_string(), "pod1-2-eth1");
        assert_eq!(p.node, "pod1-2");
    }

    #[test]
    fn a_point_is_the_same_point_with_or_without_its_role() {
        let bare = PointId::new("pod1-3", "eth1");
        let known = PointId::with_role("pod1-3", "eth1", Role::Pod);
        assert_eq!(bare, known);
        assert_eq!(known.described(), "pod1-3-eth1 (pod)");
        assert_eq!(bare.described(), "pod1-3-eth1");
        let json = serde_json::to_value(&known).unwrap();
        assert_eq!(json["role"], "pod");
        assert!(serde_json::to_value(&bare).unwrap().get("role").is_none());
    }
}
