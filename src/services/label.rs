//! The `cnilab.services` label: the one text form of a lab's Services, written by gen and read
//! back by the Lab.

use super::Service;
use serde::Serialize;
use std::net::Ipv4Addr;

/// A Service as the `cnilab.services` label states it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatedService {
    pub name: String,
    pub cluster_ip: Ipv4Addr,
    pub port: u16,
    pub target_port: u16,
    pub node_port: u16,
    /// The endpoints' pod names; their addresses come from the pods' own labels.
    pub endpoints: Vec<String>,
}

/// The `cnilab.services` label: `svc1 10.96.0.11:80 8001 30001 pod1,pod2; svc2 …`, i.e. name,
/// ClusterIP:port, targetPort, NodePort and the selected pods.
pub fn label_text(services: &[Service]) -> String {
    let one = |s: &Service| {
        let pods: Vec<&str> = s.endpoints.iter().map(|e| e.pod.as_str()).collect();
        format!(
            "{} {}:{} {} {} {}",
            s.name,
            s.cluster_ip,
            s.port,
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
    let bad = || format!("`{text}` is not `NAME IP:PORT TARGET-PORT NODE-PORT POD,POD…`");
    let parts: Vec<&str> = text.split_whitespace().collect();
    let [name, vip, target, node_port, pods] = parts.as_slice() else {
        return Err(bad());
    };
    let (ip, port) = vip.split_once(':').ok_or_else(bad)?;
    let endpoints: Vec<String> = pods.split(',').map(str::to_string).collect();
    if endpoints.iter().any(String::is_empty) {
        return Err(bad());
    }
    Ok(StatedService {
        name: name.to_string(),
        cluster_ip: ip.parse().map_err(|_| bad())?,
        port: port.parse().map_err(|_| bad())?,
        target_port: target.parse().map_err(|_| bad())?,
        node_port: node_port.parse().map_err(|_| bad())?,
        endpoints,
    })
}
