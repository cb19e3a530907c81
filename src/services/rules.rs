//! kube-proxy's rules in one family: what the templates render for one of the proxiers a
//! node runs (kubernetes pkg/proxy: `NewDualStackProxier` makes one per family). Each
//! family has its own table (`iptables` and `ip6tables`; nftables' `ip kube-proxy` and `ip6
//! kube-proxy`) with the same chain names for a Service, its own addresses, and endpoint
//! chains hashed from its own endpoint strings.

use super::names::chains;
use super::{KubeProxy, LocalEndpoints, PortChains, Service, ServicesSpec, TrafficPolicy};
use crate::family::{six_prefix, Family};
use serde::Serialize;
use std::net::{IpAddr, SocketAddr};

/// One family's rules for every Service, with the words its tools spell it with.
#[derive(Debug, Clone, Serialize)]
pub struct FamilyRules {
    pub family: Family,
    pub policy: TrafficPolicy,
    pub masq_mark: &'static str,
    /// nft's family and address type: `ip`/`ipv4_addr` or `ip6`/`ipv6_addr`.
    pub ipx: &'static str,
    pub addr_type: &'static str,
    /// A host route's prefix length, as iptables-save prints `-d`: 32 or 128.
    pub host_len: u8,
    /// kube-proxy's nft guard against NodePorts on loopback (`noLocalhost` in setupNFTables).
    pub no_localhost: &'static str,
    /// The iptables binary, and the multicast range flannel's masquerade leaves alone.
    pub iptables: &'static str,
    pub multicast: &'static str,
    /// The rules file in each host's folder, and the line that loads it.
    pub file: &'static str,
    pub load: &'static str,
    /// All pod subnets in this family: kube-proxy's `--cluster-cidr`.
    pub cluster_cidr: String,
    pub services: Vec<FamilyService>,
}

/// One Service in one family.
#[derive(Debug, Clone, Serialize)]
pub struct FamilyService {
    pub name: String,
    pub cluster_ip: IpAddr,
    pub port: u16,
    pub target_port: u16,
    pub node_port: u16,
    pub endpoints: Vec<FamilyEndpoint>,
    pub ports: Vec<PortChains>,
    pub local: Vec<(usize, LocalEndpoints)>,
}

/// One endpoint in one family: its address, and `ip:port` as DNAT takes it (`[ip]:port` in
/// IPv6, kube-proxy's `epInfo.String()`).
#[derive(Debug, Clone, Serialize)]
pub struct FamilyEndpoint {
    pub pod: String,
    pub ip: IpAddr,
    pub hostport: String,
}

/// The rules of `family` for `services`.
pub fn family_rules(
    family: Family,
    spec: &ServicesSpec,
    cidr: ipnet::Ipv4Net,
    services: &[Service],
) -> FamilyRules {
    let v6 = family == Family::Ipv6;
    let (file, load) = match (spec.kube_proxy, v6) {
        (KubeProxy::Iptables, false) => ("rules.v4", "iptables-restore --noflush"),
        (KubeProxy::Iptables, true) => ("rules.v6", "ip6tables-restore --noflush"),
        (KubeProxy::Nftables, false) => ("rules.nft", "nft -f"),
        (KubeProxy::Nftables, true) => ("rules6.nft", "nft -f"),
    };
    FamilyRules {
        family,
        policy: spec.policy,
        masq_mark: super::MASQ_MARK,
        ipx: if v6 { "ip6" } else { "ip" },
        addr_type: if v6 { "ipv6_addr" } else { "ipv4_addr" },
        host_len: if v6 { 128 } else { 32 },
        no_localhost: if v6 {
            "ip6 daddr != ::1"
        } else {
            "ip daddr != 127.0.0.0/8"
        },
        iptables: if v6 { "ip6tables" } else { "iptables" },
        multicast: if v6 { "ff00::/8" } else { "224.0.0.0/4" },
        file,
        load,
        cluster_cidr: match family {
            Family::Ipv4 => cidr.to_string(),
            Family::Ipv6 => six_prefix(cidr).to_string(),
        },
        services: services.iter().map(|s| in_family(s, family)).collect(),
    }
}

fn in_family(svc: &Service, family: Family) -> FamilyService {
    let ips: Vec<IpAddr> = svc.endpoints.iter().map(|e| e.addr(family)).collect();
    FamilyService {
        name: svc.name.clone(),
        cluster_ip: svc.cluster_ip_in(family),
        port: svc.port,
        target_port: svc.target_port,
        node_port: svc.node_port,
        endpoints: svc
            .endpoints
            .iter()
            .zip(&ips)
            .map(|(e, &ip)| FamilyEndpoint {
                pod: e.pod.clone(),
                ip,
                hostport: SocketAddr::new(ip, svc.target_port).to_string(),
            })
            .collect(),
        ports: ["tcp", "udp"]
            .into_iter()
            .map(|proto| chains(&svc.name, proto, svc.target_port, &ips))
            .collect(),
        local: svc.local.clone(),
    }
}
