//! kube-proxy's names for a Service port's chains, and its endpoint probabilities, computed
//! as kube-proxy computes them so that the rules read like a real node's.

use super::{PortChains, NAMESPACE};
use data_encoding::BASE32;
use sha2::{Digest, Sha256};
use std::net::{IpAddr, SocketAddr};

/// kube-proxy's chain names for one Service port. The port is named after its protocol, as
/// a Service with a TCP and a UDP port on the same number must name both. The Service's own
/// chains hash no address, so they are named alike in both families' tables; an endpoint's
/// chain hashes the endpoint as kube-proxy writes it (`net.JoinHostPort`: `[fd00::2]:8001` in
/// IPv6), so it differs.
pub(super) fn chains(name: &str, proto: &'static str, target: u16, eps: &[IpAddr]) -> PortChains {
    let port_name = format!("{NAMESPACE}/{name}:{proto}");
    let nft_base = nft_name_base(&format!("{NAMESPACE}/{name}/{proto}/{proto}"));
    let ep_strings: Vec<String> = eps
        .iter()
        .map(|&ip| SocketAddr::new(ip, target).to_string())
        .collect();
    PortChains {
        proto,
        svc: format!("KUBE-SVC-{}", port_proto_hash(&port_name, proto)),
        ext: format!("KUBE-EXT-{}", port_proto_hash(&port_name, proto)),
        svl: format!("KUBE-SVL-{}", port_proto_hash(&port_name, proto)),
        seps: ep_strings
            .iter()
            .map(|e| {
                format!(
                    "KUBE-SEP-{}",
                    port_proto_hash(&port_name, &format!("{proto}{e}"))
                )
            })
            .collect(),
        nft_service: format!("service-{nft_base}"),
        nft_external: format!("external-{nft_base}"),
        nft_local: format!("local-{nft_base}"),
        nft_endpoints: eps
            .iter()
            .map(|ip| {
                // nft chain names allow no `:`: kube-proxy writes an IPv6 endpoint's as `.`.
                let ip = ip.to_string().replace(':', ".");
                let ep = format!("{NAMESPACE}/{name}/{proto}/{proto}__{ip}/{target}");
                format!("endpoint-{}", nft_name_base(&ep))
            })
            .collect(),
        probabilities: probabilities(eps.len()),
        comment: port_name,
    }
}

/// The chains that DNAT to one endpoint of Service `name`, TCP then UDP, in each mode.
pub struct EndpointChains {
    pub iptables: Vec<String>,
    pub nft: Vec<String>,
}

pub fn endpoint_chains(name: &str, target: u16, ip: IpAddr) -> EndpointChains {
    let ep = [ip];
    let both: Vec<PortChains> = ["tcp", "udp"]
        .into_iter()
        .map(|p| chains(name, p, target, &ep))
        .collect();
    EndpointChains {
        iptables: both.iter().map(|c| c.seps[0].clone()).collect(),
        nft: both.iter().map(|c| c.nft_endpoints[0].clone()).collect(),
    }
}

/// kube-proxy iptables' `portProtoHash` and `servicePortEndpointChainName`
/// (pkg/proxy/iptables/proxier.go): base32 of the SHA-256 of the name, first 16 characters.
fn port_proto_hash(port_name: &str, suffix: &str) -> String {
    let hash = Sha256::digest(format!("{port_name}{suffix}").as_bytes());
    BASE32.encode(&hash)[..16].to_string()
}

/// kube-proxy nftables' `hashAndTruncate` (pkg/proxy/nftables/proxier.go): 8 characters of
/// the base32 SHA-256, a dash, then the readable name, cut to 200 characters.
fn nft_name_base(name: &str) -> String {
    let hash = Sha256::digest(name.as_bytes());
    let full = format!("{}-{name}", &BASE32.encode(&hash)[..8]);
    match full.len() > 200 {
        true => format!("{}...", &full[..197]),
        false => full,
    }
}

/// `-m statistic --mode random --probability` for endpoint `k` of `n`: 1/(n−k), printed with
/// kube-proxy's `%0.10f`; the last endpoint takes what is left, without a match.
pub fn probabilities(n: usize) -> Vec<Option<String>> {
    (0..n)
        .map(|k| (k + 1 < n).then(|| format!("{:.10}", 1.0 / (n - k) as f64)))
        .collect()
}
