//! What a bench run found: per mode, per path, each figure as a median with its spread, and
//! as a ratio to the host-to-host baseline of the same lab.

use super::offload::Features;
use super::overhead::Overhead;
use super::selection::Combo;
use super::stats::{ratio, Stat};
use crate::family::Family;
use crate::plan::encryption::Encryption;
use crate::plan::{Flavor, Mode};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub machine: Machine,
    pub settings: Settings,
    pub modes: Vec<ModeReport>,
    /// Each sealed lab against the same lab in the clear (`bench --encryption`).
    pub encryption_cost: Vec<super::cost::EncryptionCost>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub kernel: String,
    pub cpus: usize,
    pub cpu_model: String,
}

impl Machine {
    pub fn this() -> Machine {
        let kernel = nix::sys::utsname::uname()
            .map(|u| u.release().to_string_lossy().into_owned())
            .unwrap_or_default();
        let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|text| {
                text.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, v)| v.trim().to_string())
            })
            .unwrap_or_default();
        Machine {
            kernel,
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu_model,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    pub duration_s: u32,
    pub repeat: u32,
    /// The stream count of the multi-stream throughput figure.
    pub streams: u32,
    /// Whether checksum and segmentation offloads were left on.
    pub offload: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ModeReport {
    pub mode: Mode,
    pub flavor: Flavor,
    /// How its pod traffic crossed hosts: `none`, or sealed in `wireguard`.
    pub encryption: Encryption,
    pub lab: String,
    pub pod_mtu: u16,
    /// `node:interface` to its offload features, as they were during the run.
    pub offloads: BTreeMap<String, Features>,
    pub paths: Vec<PathReport>,
}

impl ModeReport {
    /// `vxlan`, or `vxlan/flannel` for a flavor other than the article's.
    pub fn label(&self) -> String {
        Combo {
            mode: self.mode,
            flavor: self.flavor,
            encryption: self.encryption,
        }
        .label()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PathKind {
    /// Host to host on the lab's underlay, no overlay: the baseline.
    HostToHost,
    /// Pod to pod on one host: two veths and the host between them (bridge or routes), no
    /// underlay. Absent from a lab with one pod per host.
    SameHost,
    /// Pod to pod across hosts, through the mode's data plane.
    PodToPod,
}

impl PathKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PathKind::HostToHost => "host-to-host",
            PathKind::SameHost => "same-host",
            PathKind::PodToPod => "pod-to-pod",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct PathReport {
    pub path: PathKind,
    /// The family the path was measured in; only in a lab that carries IPv6, so an IPv4 lab's
    /// report is as it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family: Option<Family>,
    pub from: String,
    pub to: String,
    pub figures: Figures,
    pub ratio_to_host_to_host: Ratios,
    /// Measured on the sending host's underlay interface; `None` where no underlay is crossed.
    pub overhead: Option<Overhead>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    pub throughput_1_stream_gbps: Stat,
    pub throughput_n_streams_gbps: Stat,
    pub icmp_rtt_us: Stat,
    pub tcp_rr_us: Stat,
    /// CPU seconds of iperf3's client and server per gigabit moved, and in a lab sealed by
    /// wireguard-go, those of its wireguard-go processes too.
    pub cpu_s_per_gbit: Stat,
}

#[derive(Debug, Clone, Serialize)]
pub struct Ratios {
    pub throughput_1_stream_gbps: Option<f64>,
    pub throughput_n_streams_gbps: Option<f64>,
    pub icmp_rtt_us: Option<f64>,
    pub tcp_rr_us: Option<f64>,
    pub cpu_s_per_gbit: Option<f64>,
}

impl Ratios {
    pub fn of(f: &Figures, base: &Figures) -> Ratios {
        Ratios {
            throughput_1_stream_gbps: ratio(
                Some(&f.throughput_1_stream_gbps),
                Some(&base.throughput_1_stream_gbps),
            ),
            throughput_n_streams_gbps: ratio(
                Some(&f.throughput_n_streams_gbps),
                Some(&base.throughput_n_streams_gbps),
            ),
            icmp_rtt_us: ratio(Some(&f.icmp_rtt_us), Some(&base.icmp_rtt_us)),
            tcp_rr_us: ratio(Some(&f.tcp_rr_us), Some(&base.tcp_rr_us)),
            cpu_s_per_gbit: ratio(Some(&f.cpu_s_per_gbit), Some(&base.cpu_s_per_gbit)),
        }
    }
}

impl Report {
    /// A table per mode: one row per path, medians with spread, ratios in brackets.
    pub fn table(&self) -> String {
        let m = &self.machine;
        let s = &self.settings;
        let mut out = format!(
            "machine: {} CPU(s), {}, kernel {}\nrun: {} s per figure, median of {}, {} streams, offloads {}\n",
            m.cpus,
            m.cpu_model,
            m.kernel,
            s.duration_s,
            s.repeat,
            s.streams,
            if s.offload { "on" } else { "off" }
        );
        for mode in &self.modes {
            let _ = writeln!(
                out,
                "\n{} (lab {}, pod MTU {})",
                mode.label(),
                mode.lab,
                mode.pod_mtu
            );
            out.push_str(&layout(&rows(&mode.paths)));
            out.push_str(&offload_lines(&mode.offloads));
        }
        out.push_str(&super::cost::table(&self.encryption_cost));
        out.push_str("\nfigures: median (max-min spread as % of it) [ratio to host-to-host]\n");
        out
    }
}

/// Interfaces with the same offloads on share a line.
fn offload_lines(offloads: &BTreeMap<String, Features>) -> String {
    let mut groups: BTreeMap<Vec<&str>, Vec<&str>> = BTreeMap::new();
    for (iface, features) in offloads {
        let on = features
            .iter()
            .filter(|(_, on)| **on)
            .map(|(n, _)| n.as_str())
            .collect();
        groups.entry(on).or_default().push(iface);
    }
    let mut out = String::new();
    for (on, ifaces) in groups {
        let on = if on.is_empty() {
            "none".to_string()
        } else {
            on.join(", ")
        };
        let _ = writeln!(out, "  offloads on {}: {on}", ifaces.join(" "));
    }
    out
}

fn cell(stat: &Stat, ratio: Option<f64>) -> String {
    let value = three_digits(stat.median);
    let r = ratio.map_or(String::new(), |r| format!(" [{r:.2}]"));
    format!("{value} ±{:.0}%{r}", stat.spread * 100.0)
}

/// About three significant digits: 118, 24.9, 3.11, 0.0812.
fn three_digits(x: f64) -> String {
    let decimals = match x.abs() {
        a if a >= 100.0 => 0,
        a if a >= 10.0 => 1,
        a if a >= 1.0 => 2,
        _ => 3,
    };
    format!("{x:.decimals$}")
}

const COLUMNS: [&str; 9] = [
    "path",
    "1 stream Gbit/s",
    "N streams Gbit/s",
    "ICMP RTT us",
    "TCP RR us",
    "CPU s/Gbit",
    "encap B",
    "MSS",
    "wire/byte",
];

/// The header and a row per path. A `family` column follows `path` where the paths carry
/// their family (a lab with IPv6), as verify's table does; an IPv4 lab's table is as it was.
fn rows(paths: &[PathReport]) -> Vec<Vec<String>> {
    let tagged = paths.iter().any(|p| p.family.is_some());
    let with_family = |mut row: Vec<String>, family: &str| {
        if tagged {
            row.insert(1, family.to_string());
        }
        row
    };
    let header = COLUMNS.iter().map(|c| c.to_string()).collect();
    std::iter::once(with_family(header, "family"))
        .chain(paths.iter().map(|p| {
            let family = p.family.map_or("-", Family::as_str);
            with_family(cells(p), family)
        }))
        .collect()
}

/// A path's row, in [`COLUMNS`] order.
fn cells(p: &PathReport) -> Vec<String> {
    let (f, r) = (&p.figures, &p.ratio_to_host_to_host);
    let (encap, mss, wire) = match &p.overhead {
        Some(o) => (
            o.encap_bytes_per_packet.to_string(),
            o.mss.to_string(),
            format!("{:.3}", o.wire_bytes_per_payload_byte),
        ),
        None => ("-".into(), "-".into(), "-".into()),
    };
    vec![
        p.path.as_str().to_string(),
        cell(&f.throughput_1_stream_gbps, r.throughput_1_stream_gbps),
        cell(&f.throughput_n_streams_gbps, r.throughput_n_streams_gbps),
        cell(&f.icmp_rtt_us, r.icmp_rtt_us),
        cell(&f.tcp_rr_us, r.tcp_rr_us),
        cell(&f.cpu_s_per_gbit, r.cpu_s_per_gbit),
        encap,
        mss,
        wire,
    ]
}

/// Rows indented by two, through the CLI's shared table printer: the first column
/// left-aligned, the figures right-aligned, each column as wide as its widest cell.
fn layout(rows: &[Vec<String>]) -> String {
    let mut out = String::new();
    for line in crate::layout::columns(rows, 1, crate::layout::Align::NameThenFigures) {
        let _ = writeln!(out, "  {}", line.trim_end());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_show_median_spread_and_ratio() {
        let s = Stat::of(vec![20.0, 25.0, 30.0]).unwrap();
        assert_eq!(cell(&s, Some(1.5)), "25.0 ±40% [1.50]");
        let s = Stat::of(vec![0.0812]).unwrap();
        assert_eq!(cell(&s, None), "0.081 ±0%");
        assert_eq!(three_digits(118.4), "118");
        assert_eq!(three_digits(3.114), "3.11");
    }

    #[test]
    fn layout_fits_each_column_to_its_widest_cell() {
        let rows = vec![
            vec!["path".to_string(), "Gbit/s".to_string()],
            vec!["same-host".to_string(), "3.1".to_string()],
        ];
        assert_eq!(layout(&rows), "  path      Gbit/s\n  same-host    3.1\n");
    }

    fn path(kind: PathKind, family: Option<Family>) -> PathReport {
        let one = || Stat::of(vec![1.0]).unwrap();
        let figures = Figures {
            throughput_1_stream_gbps: one(),
            throughput_n_streams_gbps: one(),
            icmp_rtt_us: one(),
            tcp_rr_us: one(),
            cpu_s_per_gbit: one(),
        };
        PathReport {
            path: kind,
            family,
            from: "host1".into(),
            to: "host2".into(),
            ratio_to_host_to_host: Ratios::of(&figures, &figures),
            figures,
            overhead: None,
        }
    }

    #[test]
    fn a_family_column_and_field_only_where_the_paths_carry_one() {
        let v4 = [path(PathKind::HostToHost, None)];
        let rows4 = rows(&v4);
        assert_eq!(rows4[0][..2], ["path", "1 stream Gbit/s"]);
        assert_eq!(rows4[1][0], "host-to-host");
        let json = serde_json::to_value(&v4[0]).unwrap();
        assert!(json.get("family").is_none(), "{json}");

        let dual = [
            path(PathKind::PodToPod, Some(Family::Ipv4)),
            path(PathKind::PodToPod, Some(Family::Ipv6)),
        ];
        let rows6 = rows(&dual);
        assert_eq!(rows6[0][..3], ["path", "family", "1 stream Gbit/s"]);
        assert_eq!(rows6[1][..2], ["pod-to-pod", "ipv4"]);
        assert_eq!(rows6[2][..2], ["pod-to-pod", "ipv6"]);
        assert_eq!(rows6[2].len(), COLUMNS.len() + 1);
        let json = serde_json::to_value(&dual[1]).unwrap();
        assert_eq!(json["family"], "ipv6");
    }

    #[test]
    fn interfaces_with_the_same_offloads_share_a_line() {
        let on = |names: &[&str]| -> Features {
            ["tx-checksumming", "generic-receive-offload"]
                .iter()
                .map(|f| (f.to_string(), names.contains(f)))
                .collect()
        };
        let mut offloads = BTreeMap::new();
        offloads.insert("pod1:eth1".to_string(), on(&["tx-checksumming"]));
        offloads.insert("host1:eth1".to_string(), on(&["tx-checksumming"]));
        offloads.insert("host1:cni0".to_string(), on(&[]));
        assert_eq!(
            offload_lines(&offloads),
            "  offloads on host1:cni0: none\n  offloads on host1:eth1 pod1:eth1: tx-checksumming\n"
        );
    }
}
