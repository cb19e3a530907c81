//! What encryption costs: each sealed lab's pod-to-pod figures against the same lab's in the
//! clear, measured in the same run.

use super::report::{ModeReport, PathKind, PathReport, Ratios};
use crate::plan::encryption::Encryption;
use serde::Serialize;
use std::fmt::Write;

#[derive(Debug, Clone, Serialize)]
pub struct EncryptionCost {
    /// The sealed lab's label, e.g. `host-gw/flannel+wireguard`.
    pub sealed: String,
    /// The same lab in the clear.
    pub clear: String,
    /// Pod to pod across hosts, sealed over clear: above 1 for round trips and CPU is a cost,
    /// below 1 for throughput.
    pub ratio_to_clear: Ratios,
    /// What sealing adds to each packet, padding aside: 60 bytes for WireGuard over IPv4.
    pub sealed_bytes_per_packet: Option<usize>,
    /// Wire bytes per payload byte, sealed and in the clear.
    pub wire_bytes_per_payload_byte: (Option<f64>, Option<f64>),
}

/// One entry per sealed lab of `modes` whose clear twin was benched too.
pub fn of(modes: &[ModeReport]) -> Vec<EncryptionCost> {
    modes
        .iter()
        .filter(|m| m.encryption != Encryption::None)
        .filter_map(|sealed| {
            let clear = modes.iter().find(|m| {
                m.encryption == Encryption::None
                    && (m.mode, m.flavor) == (sealed.mode, sealed.flavor)
            })?;
            let (s, c) = (pod_to_pod(sealed)?, pod_to_pod(clear)?);
            let wire = |p: &PathReport| p.overhead.as_ref().map(|o| o.wire_bytes_per_payload_byte);
            Some(EncryptionCost {
                sealed: sealed.label(),
                clear: clear.label(),
                ratio_to_clear: Ratios::of(&s.figures, &c.figures),
                sealed_bytes_per_packet: s.overhead.as_ref().map(|o| o.encap_bytes_per_packet),
                wire_bytes_per_payload_byte: (wire(s), wire(c)),
            })
        })
        .collect()
}

fn pod_to_pod(mode: &ModeReport) -> Option<&PathReport> {
    mode.paths.iter().find(|p| p.path == PathKind::PodToPod)
}

/// The text report's section, empty where nothing was sealed.
pub fn table(costs: &[EncryptionCost]) -> String {
    if costs.is_empty() {
        return String::new();
    }
    let mut rows = vec![COLUMNS.iter().map(|c| c.to_string()).collect::<Vec<_>>()];
    for c in costs {
        let r = &c.ratio_to_clear;
        let ratio = |x: Option<f64>| x.map_or("-".into(), |x| format!("{x:.2}"));
        let wire = |x: Option<f64>| x.map_or("-".into(), |x| format!("{x:.3}"));
        rows.push(vec![
            format!("{} / {}", c.sealed, c.clear),
            ratio(r.throughput_1_stream_gbps),
            ratio(r.throughput_n_streams_gbps),
            ratio(r.icmp_rtt_us),
            ratio(r.tcp_rr_us),
            ratio(r.cpu_s_per_gbit),
            c.sealed_bytes_per_packet
                .map_or("-".into(), |b| format!("+{b}")),
            format!(
                "{} / {}",
                wire(c.wire_bytes_per_payload_byte.0),
                wire(c.wire_bytes_per_payload_byte.1)
            ),
        ]);
    }
    let mut out = String::from("\ncost of encryption, pod to pod across hosts (sealed / clear):\n");
    for line in crate::layout::columns(&rows, 1, crate::layout::Align::NameThenFigures) {
        let _ = writeln!(out, "  {}", line.trim_end());
    }
    out
}

const COLUMNS: [&str; 8] = [
    "labs",
    "1 stream",
    "N streams",
    "ICMP RTT",
    "TCP RR",
    "CPU/Gbit",
    "B/packet",
    "wire/byte",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::report::Figures;
    use crate::bench::stats::Stat;
    use crate::plan::{Flavor, Mode};

    fn figures(gbps: f64, rtt_us: f64) -> Figures {
        let stat = |x: f64| Stat::of(vec![x]).unwrap();
        Figures {
            throughput_1_stream_gbps: stat(gbps),
            throughput_n_streams_gbps: stat(gbps * 2.0),
            icmp_rtt_us: stat(rtt_us),
            tcp_rr_us: stat(rtt_us),
            cpu_s_per_gbit: stat(1.0 / gbps),
        }
    }

    fn lab(flavor: Flavor, encryption: Encryption, gbps: f64, rtt_us: f64) -> ModeReport {
        let f = figures(gbps, rtt_us);
        ModeReport {
            mode: Mode::HostGw,
            flavor,
            encryption,
            lab: "l".into(),
            pod_mtu: 1450,
            offloads: Default::default(),
            paths: vec![PathReport {
                path: PathKind::PodToPod,
                family: None,
                from: "pod1".into(),
                to: "pod3".into(),
                ratio_to_host_to_host: Ratios::of(&f, &f),
                figures: f,
                overhead: None,
            }],
        }
    }

    #[test]
    fn a_sealed_lab_is_set_against_its_own_flavor_in_the_clear() {
        let modes = [
            lab(Flavor::Article, Encryption::None, 10.0, 20.0),
            lab(Flavor::Flannel, Encryption::None, 8.0, 25.0),
            lab(Flavor::Flannel, Encryption::Wireguard, 2.0, 50.0),
        ];
        let costs = of(&modes);
        assert_eq!(costs.len(), 1, "the clear labs cost nothing");
        let c = &costs[0];
        assert_eq!(
            (c.sealed.as_str(), c.clear.as_str()),
            ("host-gw/flannel+wireguard", "host-gw/flannel")
        );
        assert_eq!(c.ratio_to_clear.throughput_1_stream_gbps, Some(0.25));
        assert_eq!(c.ratio_to_clear.icmp_rtt_us, Some(2.0));
        assert_eq!(c.ratio_to_clear.cpu_s_per_gbit, Some(4.0));
        let text = table(&costs);
        assert!(
            text.contains("host-gw/flannel+wireguard / host-gw/flannel"),
            "{text}"
        );
        assert!(text.contains("0.25") && text.contains("2.00"), "{text}");
        assert_eq!(table(&[]), "", "no section without a sealed lab");
    }

    #[test]
    fn a_sealed_lab_without_its_clear_twin_has_no_cost() {
        let modes = [lab(Flavor::Flannel, Encryption::Wireguard, 2.0, 50.0)];
        assert!(of(&modes).is_empty());
    }
}
