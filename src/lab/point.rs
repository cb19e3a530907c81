//! A place where packets are captured: one interface of one node.

use serde::Serialize;
use std::fmt;

/// One interface of one node. It prints as `node-iface`, the stem of its pcap file; the node
/// is always read from the field, never split back out of that text (node names hold `-`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct PointId {
    pub node: String,
    pub iface: String,
}

impl PointId {
    pub fn new(node: impl Into<String>, iface: impl Into<String>) -> PointId {
        PointId {
            node: node.into(),
            iface: iface.into(),
        }
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
}
