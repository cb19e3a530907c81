//! The plan as the file states it: what `cnilab gen` wrote into node labels, read back.
//!
//! verify checks a lab against this and nothing else, so a file a user edited by hand is judged
//! by what it says about itself.

use crate::plan::Mode;
use crate::topology::{Node, Topology};
use crate::verify::expect::ExpectFail;
use serde::Serialize;
use std::net::Ipv4Addr;
use std::str::FromStr;

pub const LABEL_MODE: &str = "cnilab.mode";
pub const LABEL_ROLE: &str = "cnilab.role";
pub const LABEL_HOST: &str = "cnilab.host";
pub const LABEL_UNDERLAY_IF: &str = "cnilab.underlay-if";
pub const LABEL_UNDERLAY_IP: &str = "cnilab.underlay-ip";
pub const LABEL_POD_SUBNET: &str = "cnilab.pod-subnet";
pub const LABEL_POD_IP: &str = "cnilab.pod-ip";
pub const LABEL_MTU: &str = "cnilab.mtu";
pub const LABEL_VNI: &str = "cnilab.vni";
pub const LABEL_VXLAN_PORT: &str = "cnilab.vxlan-port";
pub const LABEL_CAPTURE: &str = "cnilab.capture";
/// `route` where a host's tunnel device is flow-based (external): no FDB, the key per packet.
pub const LABEL_TUNNEL_KEY: &str = "cnilab.tunnel-key";

/// A host's expected failures (see [`crate::verify::expect`]): the hosts its pods cannot
/// reach, the node where their packets die, and why.
pub const LABEL_RACK: &str = "cnilab.rack";
pub const LABEL_EXPECT_FAIL_TO: &str = "cnilab.expect-fail-to";
pub const LABEL_EXPECT_FAIL_AT: &str = "cnilab.expect-fail-at";
pub const LABEL_EXPECT_FAIL_WHY: &str = "cnilab.expect-fail-why";

/// The interface a pod reaches its host through.
pub const POD_IF: &str = "eth1";

#[derive(Debug, Clone, Serialize)]
pub struct Lab {
    pub name: String,
    pub mode: Mode,
    pub hosts: Vec<LabHost>,
    pub pods: Vec<LabPod>,
    pub routers: Vec<LabRouter>,
    /// Present in vxlan labs.
    pub vxlan: Option<VxlanParams>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct VxlanParams {
    pub vni: u32,
    pub port: u16,
}

#[derive(Debug, Clone, Serialize)]
pub struct LabHost {
    pub node: String,
    pub namespace: String,
    pub index: usize,
    pub underlay_if: String,
    pub underlay_ip: Ipv4Addr,
    pub pod_subnet: String,
    /// The tunnel device is flow-based (Cilium): it has no FDB, and needs none.
    pub flow_based: bool,
    /// The pairs from this host's pods that the lab declares cannot work.
    pub expect_fail: Option<ExpectFail>,
    /// The L2 segment the host is in, where the underlay has several (`cnilab.rack`).
    pub rack: Option<usize>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LabPod {
    pub node: String,
    pub namespace: String,
    pub host: usize,
    pub ip: Ipv4Addr,
    pub mtu: u16,
}

#[derive(Debug, Clone, Serialize)]
pub struct LabRouter {
    pub node: String,
    pub namespace: String,
    pub capture: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabError {
    #[error("the file carries no cnilab labels (no node has `cnilab.mode`); verify needs a file made by `cnilab gen`")]
    NotCnilab,
    #[error("node `{node}` has no `{label}` label")]
    Missing { node: String, label: &'static str },
    #[error("node `{node}`: label `{label}` is `{value}`: {why}")]
    Bad {
        node: String,
        label: &'static str,
        value: String,
        why: String,
    },
    #[error("nodes disagree on the mode: `{first}` says {a}, `{second}` says {b}")]
    MixedModes {
        first: String,
        a: Mode,
        second: String,
        b: Mode,
    },
    #[error("hosts disagree on the VXLAN tunnel: `{first}` says vni {} port {}, `{second}` says vni {} port {}", .a.vni, .a.port, .b.vni, .b.port)]
    MixedVxlan {
        first: String,
        a: VxlanParams,
        second: String,
        b: VxlanParams,
    },
    #[error("pod `{pod}` belongs to host {host}, and no node is that host")]
    OrphanPod { pod: String, host: usize },
    #[error("the lab needs at least two pods to verify, it has {0}")]
    TooFewPods(usize),
}

impl Lab {
    pub fn from_topology(topo: &Topology) -> Result<Lab, LabError> {
        let mut mode: Option<(String, Mode)> = None;
        // The host whose VXLAN labels came first: every other host must say the same.
        let mut vxlan_from: Option<String> = None;
        let mut lab = Lab {
            name: topo.name.clone(),
            mode: Mode::HostGw,
            hosts: Vec::new(),
            pods: Vec::new(),
            routers: Vec::new(),
            vxlan: None,
        };
        for (name, node) in topo.nodes() {
            let Some(node_mode) = optional::<Mode>(name, node, LABEL_MODE)? else {
                continue;
            };
            match &mode {
                None => mode = Some((name.to_string(), node_mode)),
                Some((first, m)) if *m != node_mode => {
                    return Err(LabError::MixedModes {
                        first: first.clone(),
                        a: *m,
                        second: name.to_string(),
                        b: node_mode,
                    })
                }
                Some(_) => {}
            }
            let namespace = topo.namespace(name);
            let role: String = required(name, node, LABEL_ROLE)?;
            match role.as_str() {
                "host" => {
                    lab.hosts.push(LabHost {
                        node: name.to_string(),
                        namespace,
                        index: required(name, node, LABEL_HOST)?,
                        underlay_if: required(name, node, LABEL_UNDERLAY_IF)?,
                        underlay_ip: required(name, node, LABEL_UNDERLAY_IP)?,
                        pod_subnet: required(name, node, LABEL_POD_SUBNET)?,
                        flow_based: optional::<String>(name, node, LABEL_TUNNEL_KEY)?
                            .is_some_and(|k| k == "route"),
                        expect_fail: expect_fail(name, node)?,
                        rack: optional(name, node, LABEL_RACK)?,
                    });
                    if node_mode == Mode::Vxlan {
                        let params = VxlanParams {
                            vni: required(name, node, LABEL_VNI)?,
                            port: required(name, node, LABEL_VXLAN_PORT)?,
                        };
                        match &vxlan_from {
                            None => {
                                vxlan_from = Some(name.to_string());
                                lab.vxlan = Some(params);
                            }
                            Some(first) if lab.vxlan != Some(params) => {
                                return Err(LabError::MixedVxlan {
                                    first: first.clone(),
                                    a: lab.vxlan.expect("set with vxlan_from"),
                                    second: name.to_string(),
                                    b: params,
                                })
                            }
                            Some(_) => {}
                        }
                    }
                }
                "pod" => lab.pods.push(LabPod {
                    node: name.to_string(),
                    namespace,
                    host: required(name, node, LABEL_HOST)?,
                    ip: required(name, node, LABEL_POD_IP)?,
                    mtu: required(name, node, LABEL_MTU)?,
                }),
                "router" => {
                    let capture: String = required(name, node, LABEL_CAPTURE)?;
                    lab.routers.push(LabRouter {
                        node: name.to_string(),
                        namespace,
                        capture: capture.split(',').map(|s| s.trim().to_string()).collect(),
                    });
                }
                "switch" => {}
                other => {
                    return Err(LabError::Bad {
                        node: name.to_string(),
                        label: LABEL_ROLE,
                        value: other.to_string(),
                        why: "expected host, pod, router or switch".into(),
                    })
                }
            }
        }
        let Some((_, mode)) = mode else {
            return Err(LabError::NotCnilab);
        };
        lab.mode = mode;
        lab.hosts.sort_by_key(|h| h.index);
        lab.pods.sort_by_key(|p| p.host);
        for pod in &lab.pods {
            if lab.host(pod.host).is_none() {
                return Err(LabError::OrphanPod {
                    pod: pod.node.clone(),
                    host: pod.host,
                });
            }
        }
        if lab.pods.len() < 2 {
            return Err(LabError::TooFewPods(lab.pods.len()));
        }
        Ok(lab)
    }

    pub fn host(&self, index: usize) -> Option<&LabHost> {
        self.hosts.iter().find(|h| h.index == index)
    }
}

fn expect_fail(name: &str, node: &Node) -> Result<Option<ExpectFail>, LabError> {
    let Some(to) = optional(name, node, LABEL_EXPECT_FAIL_TO)? else {
        return Ok(None);
    };
    Ok(Some(ExpectFail {
        to,
        at: required(name, node, LABEL_EXPECT_FAIL_AT)?,
        why: required(name, node, LABEL_EXPECT_FAIL_WHY)?,
    }))
}

fn optional<T: FromStr>(
    node_name: &str,
    node: &Node,
    label: &'static str,
) -> Result<Option<T>, LabError>
where
    T::Err: std::fmt::Display,
{
    let Some(value) = node.labels.get(label) else {
        return Ok(None);
    };
    let text = value.to_string();
    text.parse().map(Some).map_err(|e: T::Err| LabError::Bad {
        node: node_name.to_string(),
        label,
        value: text,
        why: e.to_string(),
    })
}

fn required<T: FromStr>(node_name: &str, node: &Node, label: &'static str) -> Result<T, LabError>
where
    T::Err: std::fmt::Display,
{
    optional(node_name, node, label)?.ok_or_else(|| LabError::Missing {
        node: node_name.to_string(),
        label,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::plan::Plan;
    use crate::render::{render, Templates};

    /// The lab `cnilab gen` would write for `mode` and `n` hosts, read back.
    pub(crate) fn lab(mode: Mode, n: usize) -> Lab {
        let text = render(&Plan::new(mode, n, None).unwrap(), Templates::Embedded).unwrap();
        Lab::from_topology(&Topology::parse(&text).unwrap()).unwrap()
    }

    #[test]
    fn a_rendered_vxlan_lab_reads_back_as_planned() {
        let l = lab(Mode::Vxlan, 3);
        assert_eq!(l.mode, Mode::Vxlan);
        assert_eq!(l.hosts.len(), 3);
        assert_eq!(l.pods.len(), 3);
        assert_eq!(l.routers.len(), 3);
        assert_eq!(l.vxlan, Some(VxlanParams { vni: 1, port: 4789 }));
        assert_eq!(l.hosts[2].underlay_ip, Ipv4Addr::new(10, 0, 3, 2));
        assert_eq!(l.hosts[2].namespace, "clab-flannel-vxlan-host3");
        assert_eq!(l.pods[0].ip, Ipv4Addr::new(172, 16, 0, 2));
        assert_eq!(l.pods[0].mtu, 1450);
        assert_eq!(l.routers[0].capture, vec!["eth1", "eth2"]);
    }

    #[test]
    fn every_mode_reads_back() {
        for mode in Mode::ALL {
            let l = lab(mode, 4);
            assert_eq!(l.mode, mode);
            assert_eq!(l.pods.len(), 4);
            assert_eq!(l.vxlan.is_some(), mode == Mode::Vxlan);
        }
        assert_eq!(lab(Mode::Ipip, 3).routers[0].capture.len(), 3);
    }

    #[test]
    fn hosts_that_disagree_on_the_tunnel_are_an_error() {
        let text = render(
            &Plan::new(Mode::Vxlan, 3, None).unwrap(),
            Templates::Embedded,
        )
        .unwrap();
        // Only host3's label changes: the first `cnilab.vni: "1"` after `host3:`.
        let at = text.find("    host3:").unwrap();
        let (head, tail) = text.split_at(at);
        let edited = format!(
            "{head}{}",
            tail.replacen("cnilab.vni: \"1\"", "cnilab.vni: \"2\"", 1)
        );
        let err = Lab::from_topology(&Topology::parse(&edited).unwrap()).unwrap_err();
        assert!(
            matches!(&err, LabError::MixedVxlan { second, b, .. } if second == "host3" && b.vni == 2),
            "{err}"
        );
        assert!(err.to_string().contains("says vni 1 port 4789"), "{err}");
    }

    #[test]
    fn broken_labels_are_named() {
        let text = render(
            &Plan::new(Mode::HostGw, 2, None).unwrap(),
            Templates::Embedded,
        )
        .unwrap()
        .replace("cnilab.pod-ip: 10.0.2.2", "cnilab.pod-ip: 10.0.2.x");
        let err = Lab::from_topology(&Topology::parse(&text).unwrap()).unwrap_err();
        assert!(matches!(&err, LabError::Bad { node, label: LABEL_POD_IP, .. } if node == "pod2"));
        let plain = Topology::parse("name: x\ntopology:\n  nodes:\n    a:\n").unwrap();
        assert_eq!(Lab::from_topology(&plain).unwrap_err(), LabError::NotCnilab);
    }
}
