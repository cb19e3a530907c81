//! The `cnilab.services` label: the one text form of a lab's Services, written by gen and read
//! back by the Lab.

use super::Service;
use crate::family::Family;
use serde::Serialize;
use std::net::{IpAddr, SocketAddr};

/// A Service as the `cnilab.services` label states it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatedService {
    pub name: String,
    /// Its ClusterIPs, the primary family's first (Kubernetes' `clusterIPs`): one per family
    /// the lab carries.
    pub cluster_ips: Vec<IpAddr>,
    pub port: u16,
    pub target_port: u16,
    pub node_port: u16,
    /// The endpoints' pod names; their addresses come from the pods' own labels.
    pub endpoints: Vec<String>,
}

impl StatedService {
    /// The ClusterIP in `family`, where the Service has one.
    pub fn cluster_ip(&self, family: Family) -> Option<IpAddr> {
        self.cluster_ips
            .iter()
            .copied()
            .find(|&ip| Family::of(ip) == family)
    }

    /// The families the Service has a ClusterIP in, the primary's first.
    pub fn families(&self) -> Vec<Family> {
        self.cluster_ips.iter().map(|&ip| Family::of(ip)).collect()
    }
}

/// The `cnilab.services` label: `svc1 10.96.0.11:80 8001 30001 pod1,pod2; svc2 …`, i.e. name,
/// ClusterIP:port, targetPort, NodePort and the selected pods. A Service with a ClusterIP in
/// each family lists them comma-separated, IPv6's in brackets as a socket address is written:
/// `svc1 10.96.0.11:80,[fd00:10:96::11]:80 8001 30001 pod1,pod2`.
pub fn label_text(services: &[Service], families: &[Family]) -> String {
    let one = |s: &Service| {
        let pods: Vec<&str> = s.endpoints.iter().map(|e| e.pod.as_str()).collect();
        let vips: Vec<String> = families
            .iter()
            .map(|&f| SocketAddr::new(s.cluster_ip_in(f), s.port).to_string())
            .collect();
        format!(
            "{} {} {} {} {}",
            s.name,
            vips.join(","),
            s.target_port,
            s.node_port,
            pods.join(",")
        )
    };
    services.iter().map(one).collect::<Vec<_>>().join("; ")
}

/// The inverse of [`label_text`].
pub fn parse_label(text: &str) -> Result<Vec<StatedService>, String> {
    text.split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(parse_one)
        .collect()
}

fn parse_one(text: &str) -> Result<StatedService, String> {
    let bad =
        || format!("`{text}` is not `NAME IP:PORT[,[IPV6]:PORT] TARGET-PORT NODE-PORT POD,POD…`");
    let parts: Vec<&str> = text.split_whitespace().collect();
    let [name, vips, target, node_port, pods] = parts.as_slice() else {
        return Err(bad());
    };
    let vips: Vec<SocketAddr> = vips
        .split(',')
        .map(|v| v.parse().map_err(|_| bad()))
        .collect::<Result<_, _>>()?;
    let port = vips[0].port();
    let mut families: Vec<Family> = vips.iter().map(|v| Family::of(v.ip())).collect();
    families.dedup();
    // One port for every ClusterIP, and at most one ClusterIP per family.
    if vips.iter().any(|v| v.port() != port) || families.len() != vips.len() {
        return Err(bad());
    }
    let endpoints: Vec<String> = pods.split(',').map(str::to_string).collect();
    if endpoints.iter().any(String::is_empty) {
        return Err(bad());
    }
    Ok(StatedService {
        name: name.to_string(),
        cluster_ips: vips.iter().map(SocketAddr::ip).collect(),
        port,
        target_port: target.parse().map_err(|_| bad())?,
        node_port: node_port.parse().map_err(|_| bad())?,
        endpoints,
    })
}
