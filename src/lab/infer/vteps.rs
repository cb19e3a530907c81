//! VTEPs programmed statically, as flannel does: each host's VXLAN device has a MAC its exec
//! lines fix, and every peer adds an FDB entry for that MAC. Stated as labels (the device, its
//! address, its MAC), verify then checks each peer's neighbour, FDB entry and route and names
//! the one that is missing, rather than a flood entry the lab never meant to have.

use super::exec_facts::{NodeFacts, Tunnel};
use crate::lab::{LABEL_TUNNEL_DEV, LABEL_VTEP_IP, LABEL_VTEP_MAC};
use std::collections::BTreeMap;

/// Per host, the labels of its static VTEP; empty unless every host has one that every peer
/// programs (a lab that floods keeps verify's flood checks).
pub fn labels(
    hosts: &[&str],
    facts: &BTreeMap<String, NodeFacts>,
    tunnel: &Option<(String, Tunnel)>,
) -> BTreeMap<String, [(&'static str, String); 3]> {
    let Some((dev, Tunnel::Vxlan { .. })) = tunnel else {
        return BTreeMap::new();
    };
    let programmed_by_peers = |host: &str, mac: &String| {
        hosts
            .iter()
            .filter(|p| **p != host)
            .all(|p| facts[*p].fdb_macs.contains(mac))
    };
    let vtep = |host: &&str| {
        let f = &facts[*host];
        let mac = f.macs.get(dev).filter(|m| programmed_by_peers(host, m))?;
        let ip = f.addrs_on(dev).next()?.addr();
        Some((
            host.to_string(),
            [
                (LABEL_TUNNEL_DEV, dev.clone()),
                (LABEL_VTEP_IP, ip.to_string()),
                (LABEL_VTEP_MAC, mac.clone()),
            ],
        ))
    };
    hosts
        .iter()
        .map(vtep)
        .collect::<Option<BTreeMap<_, _>>>()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use crate::lab::infer::infer;
    use crate::lab::{Lab, LABEL_VTEP_MAC};
    use crate::topology::Topology;

    const STATIC: &str =
        include_str!("../../../tests/fixtures/handmade/vxlan-static-fdb.clab.yaml");

    #[test]
    fn macs_every_peer_programs_become_vtep_labels() {
        let topo = Topology::parse(STATIC).unwrap();
        let inference = infer(&topo).unwrap();
        assert_eq!(inference.labels["bob"][LABEL_VTEP_MAC], "aa:bb:cc:00:00:02");
        let lab = Lab::from_topology(&inference.labelled(&topo)).unwrap();
        assert_eq!(lab.tunnel_dev.as_deref(), Some("vx0"));
        let vteps: Vec<_> = lab
            .hosts
            .iter()
            .map(|h| h.vtep_ip.unwrap().to_string())
            .collect();
        assert_eq!(vteps, ["172.20.1.0", "172.20.2.0"]);
    }

    #[test]
    fn a_mac_no_peer_programs_leaves_the_lab_flooding() {
        let text = STATIC.replace(
            "bridge fdb append aa:bb:cc:00:00:02",
            "bridge fdb append 00:00:00:00:00:00",
        );
        let inference = infer(&Topology::parse(&text).unwrap()).unwrap();
        assert!(inference
            .labels
            .values()
            .all(|l| !l.contains_key(LABEL_VTEP_MAC)));
    }
}
