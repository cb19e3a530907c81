//! A host's pod subnet: the subnet of the bridge its pods hang on (flannel's cni0); else of
//! the address on its own end of a pod's link (one pod, no bridge, as CNI's ptp plugin); else,
//! where pods are routed per /32 (Calico), what the other nodes route to the host.

use super::exec_facts::NodeFacts;
use super::roles::{Neighbour, Roles};
use ipnet::Ipv4Net;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// The host's pod subnet, or why it cannot be told.
pub fn of(
    node: &str,
    all: &BTreeMap<String, NodeFacts>,
    to_pods: &[&Neighbour],
    roles: &Roles,
) -> Result<Ipv4Net, String> {
    match bridged(&all[node], to_pods).or_else(|| on_veth(&all[node], to_pods)) {
        Some(net) => Ok(net),
        None => routed(node, all, to_pods, roles),
    }
}

/// Where the host's end of a pod's link itself carries a subnet (one pod, no bridge).
fn on_veth(facts: &NodeFacts, to_pods: &[&Neighbour]) -> Option<Ipv4Net> {
    to_pods
        .iter()
        .flat_map(|n| facts.addrs_on(&n.iface))
        .find(|a| a.prefix_len() < 32)
        .map(|a| a.trunc())
}

/// The subnet of the bridge the pods hang on, where it has an address.
fn bridged(facts: &NodeFacts, to_pods: &[&Neighbour]) -> Option<Ipv4Net> {
    to_pods
        .iter()
        .filter_map(|n| facts.ports.get(&n.iface))
        .find_map(|bridge| facts.addrs_on(bridge).next())
        .map(|a| a.trunc())
}

/// Where pods hang on no bridge (Calico routes each pod's /32 to its veth), the subnet is what
/// the other nodes route to this host: the most specific of their routes via one of its
/// addresses that holds every one of its pods.
fn routed(
    node: &str,
    all: &BTreeMap<String, NodeFacts>,
    to_pods: &[&Neighbour],
    roles: &Roles,
) -> Result<Ipv4Net, String> {
    let own: Vec<Ipv4Addr> = all[node].addrs.iter().map(|(_, a)| a.addr()).collect();
    let pod_ips: Vec<Ipv4Addr> = to_pods
        .iter()
        .filter_map(|n| all[&n.node].addrs_on(&n.their_iface).next())
        .map(|a| a.addr())
        .collect();
    all.iter()
        .filter(|(other, _)| *other != node && !roles.pods.contains_key(*other))
        .flat_map(|(_, f)| &f.routes)
        .filter(|r| r.via.is_some_and(|via| own.contains(&via)))
        .filter_map(|r| r.dest)
        .filter(|d| d.prefix_len() < 32 && pod_ips.iter().all(|ip| d.contains(ip)))
        .max_by_key(|d| d.prefix_len())
        .ok_or_else(|| {
            let ips: Vec<String> = pod_ips.iter().map(ToString::to_string).collect();
            format!(
                "its pods ({}) hang on no bridge with an address, and no other node routes a \
                 subnet holding them via one of its addresses, so its pod subnet cannot be told",
                ips.join(", ")
            )
        })
}

#[cfg(test)]
mod tests {
    use crate::lab::infer::infer;
    use crate::topology::Topology;

    const CALICO: &str = include_str!("../../../tests/fixtures/handmade/calico-routed.clab.yaml");

    #[test]
    fn pods_routed_without_a_bridge_take_the_subnet_their_peers_route() {
        let inference = infer(&Topology::parse(CALICO).unwrap()).unwrap();
        assert_eq!(inference.summary, "host-gw, 2 hosts, 4 pods, 0 routers");
        assert_eq!(
            inference.labels["alice"]["cnilab.pod-subnet"],
            "10.8.1.0/24"
        );
        assert_eq!(inference.labels["bob"]["cnilab.pod-subnet"], "10.8.2.0/24");
        assert_eq!(inference.labels["bee"]["cnilab.pod-ip"], "10.8.2.10");
    }

    #[test]
    fn pods_on_no_bridge_and_in_no_peer_route_are_refused_by_name() {
        let text = CALICO.replace("ip route add 10.8.1.0/24 via 192.168.8.1", "true");
        let e = infer(&Topology::parse(&text).unwrap()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "node `alice`: its pods (10.8.1.10, 10.8.1.11) hang on no bridge with an address, \
             and no other node routes a subnet holding them via one of its addresses, so its \
             pod subnet cannot be told"
        );
    }

    /// Calico's IPIP: the kernel's own tunl0, never added, and pods routed per /32.
    #[test]
    fn calico_ipip_over_the_kernels_tunl0_is_ipip() {
        let text = CALICO
            .replace(
                "ip route add 10.8.2.0/24 via 192.168.8.2",
                "ip route add 10.8.2.0/24 via 192.168.8.2 dev tunl0 onlink",
            )
            .replace(
                "ip route add 10.8.1.0/24 via 192.168.8.1",
                "ip route add 10.8.1.0/24 via 192.168.8.1 dev tunl0 onlink",
            )
            .replace(
                "ip link set eth1 up",
                "ip link set eth1 up\n      - ip link set tunl0 mtu 1440 up",
            );
        let topo = Topology::parse(&text).unwrap();
        let inference = infer(&topo).unwrap();
        assert_eq!(inference.summary, "ipip, 2 hosts, 4 pods, 0 routers");
        assert_eq!(
            inference.labels["alice"]["cnilab.pod-subnet"],
            "10.8.1.0/24"
        );
        assert_eq!(inference.labels["ant"]["cnilab.mtu"], "1440");
        let lab = crate::lab::Lab::from_topology(&inference.labelled(&topo)).unwrap();
        assert_eq!(lab.encap, crate::lab::Encap::Ipip);
    }

    /// One pod on a veth with a subnet of its own, and peers that reach it by a default route.
    #[test]
    fn a_subnet_on_the_hosts_end_of_a_pods_link_is_its_pod_subnet() {
        let text = "name: ptp\ntopology:\n  nodes:\n    left:\n      exec:\n      - ip addr add 192.168.5.1/30 dev e0\n      - ip addr add 10.5.1.1/24 dev vp\n      - ip route add default via 192.168.5.2\n    right:\n      exec:\n      - ip addr add 192.168.5.2/30 dev e0\n      - ip addr add 10.5.2.1/24 dev vp\n      - ip route add default via 192.168.5.1\n    p:\n      exec:\n      - ip addr add 10.5.1.10/24 dev e0\n    q:\n      exec:\n      - ip addr add 10.5.2.10/24 dev e0\n  links:\n  - endpoints: [left:e0, right:e0]\n  - endpoints: [left:vp, p:e0]\n  - endpoints: [right:vp, q:e0]\n";
        let inference = infer(&Topology::parse(text).unwrap()).unwrap();
        assert_eq!(inference.labels["left"]["cnilab.pod-subnet"], "10.5.1.0/24");
        assert_eq!(
            inference.labels["right"]["cnilab.pod-subnet"],
            "10.5.2.0/24"
        );
    }
}
