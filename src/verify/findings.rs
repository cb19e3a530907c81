//! What belongs to the run rather than one pair: lab-wide findings, capture drops that excuse
//! a missing frame, each point's capture summary, and notes about the machine.

use super::*;
use crate::family::Family;

/// Each point's frames and capture drops, and a note for each capture that ended early or
/// dropped frames.
pub(super) fn captures_of(
    points: &[CapturePoint],
    captured: Vec<capture::Captured>,
) -> (Vec<Observed>, Vec<u32>, Vec<String>) {
    let mut notes = Vec::new();
    let mut dropped = Vec::with_capacity(points.len());
    let frames = points
        .iter()
        .zip(captured)
        .map(|(point, captured)| {
            if let Some(e) = captured.ended_early {
                notes.push(format!(
                    "capture on {} stopped early ({e}): is the interface down?",
                    point.id
                ));
            }
            if captured.dropped > 0 {
                notes.push(format!(
                    "capture on {} dropped {} frame(s) (its capture ring was full): frames missing there are not blamed on the lab",
                    point.id, captured.dropped
                ));
            }
            dropped.push(captured.dropped);
            captured.observed
        })
        .collect();
    (frames, dropped, notes)
}

/// Problems of the lab as a whole: pod MTUs, and pod traffic no probe claims.
pub(super) fn lab_findings(
    lab: &Lab,
    pod_mtus: &[Option<u32>],
    unclaimed: &[(PointId, crate::wire::Wire)],
) -> Vec<String> {
    let mut findings = judge::pod_mtus(
        lab.pods
            .iter()
            .zip(pod_mtus)
            .map(|(p, &mtu)| (p.node.as_str(), p.pod_if.as_str(), p.mtu, mtu)),
    );
    let pod_ips: BTreeSet<std::net::IpAddr> = (0..lab.pods.len())
        .flat_map(|i| lab.families().into_iter().map(move |f| (i, f)))
        .map(|(i, f)| lab.pod_ip(i, f))
        .collect();
    let pod_nets: Vec<ipnet::IpNet> = lab.hosts.iter().flat_map(|h| h.pod_subnets()).collect();
    findings.extend(judge::leaks(
        &lab.encaps(),
        &pod_ips,
        &pod_nets,
        unclaimed
            .iter()
            .filter(|(_, w)| !direct_plain(lab, w))
            .map(|(p, w)| (p, w)),
    ));
    findings
}

/// A plain packet between pods whose hosts route each other directly (DirectRouting): the
/// lab's own traffic, not a leak out of the tunnel.
pub(super) fn direct_plain(lab: &Lab, wire: &crate::wire::Wire) -> bool {
    matches!(wire, crate::wire::Wire::Plain(ip) if lab.plain_between(ip.src, ip.dst))
}

/// A frame "not seen" where the capture itself dropped frames may simply be one of those:
/// that reason becomes a remark, and the pair is judged on everything else.
pub(super) fn excuse_capture_drops(rows: &mut [PairRow], points: &[CapturePoint], dropped: &[u32]) {
    for (point, &n) in points.iter().zip(dropped).filter(|(_, &n)| n > 0) {
        for row in rows.iter_mut() {
            let v = &mut row.verdict;
            let (excused, kept): (Vec<Reason>, Vec<Reason>) = v
                .reasons
                .drain(..)
                .partition(|r| r.rests_on_absence_at(&point.id));
            v.reasons = kept;
            v.remarks.extend(
                excused
                    .into_iter()
                    .map(|r| format!("{r}, where the capture dropped {n} frame(s): not judged")),
            );
        }
    }
}

/// Each point's frames copied to user space and dropped by the kernel.
pub(super) fn summaries(
    points: &[CapturePoint],
    copied: &[usize],
    dropped: &[u32],
) -> Vec<CaptureSummary> {
    points
        .iter()
        .zip(copied)
        .zip(dropped)
        .map(|((point, &copied), &dropped)| CaptureSummary {
            point: point.id.clone(),
            frames: copied,
            dropped,
            pcap: None,
        })
        .collect()
}

/// Frames the kernel dropped at a full backlog queue while the probes ran: machine-wide, so
/// other traffic's drops count too, and said as such rather than blamed on the lab.
pub(super) fn backlog_note(before: Option<u64>, after: Option<u64>) -> Option<String> {
    let dropped = after?.checked_sub(before?)?;
    (dropped > 0).then(|| {
        format!(
            "the kernel dropped {dropped} frame(s) at a full backlog queue while verify ran \
             (/proc/net/softnet_stat, machine-wide: other traffic counts too; \
             net.core.netdev_max_backlog); a pair that failed with a lost first contact may be \
             a victim of that, not of the lab"
        )
    })
}

/// The most memory this process has held at once (VmHWM), in KiB.
pub(super) fn peak_memory_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The kernel's ARP table is one table for every namespace, capped by the root namespace's
/// gc_thresh3 (1024 by default), and NDP's another with a cap of its own. A 50-host VXLAN lab
/// needs several thousand entries in each family it carries; past a cap, neighbours fail to
/// resolve and pairs fail for a reason no capture shows.
pub(super) fn neighbour_table_notes(families: &[Family]) -> Vec<String> {
    families
        .iter()
        .filter_map(|&f| neighbour_table_note(f))
        .collect()
}

fn neighbour_table_note(family: Family) -> Option<String> {
    let cap = crate::neigh_limits::read(family).ok()?.thresh3;
    let entries = crate::neigh_limits::in_use(family);
    let (table, sysctl) = match family {
        Family::Ipv4 => ("ARP", "net.ipv4.neigh.default.gc_thresh3"),
        Family::Ipv6 => ("NDP", "net.ipv6.neigh.default.gc_thresh3"),
    };
    (entries * 10 >= cap * 9).then(|| {
        format!(
            "the kernel's {table} table, shared by all namespaces, holds {entries} entries of at most {cap} ({sysctl}); failures may come from that cap, not the lab"
        )
    })
}

/// Writes one pcap file per point and `lab.pcapng` into `dir`, then lets go of the frames'
/// bytes: judging needs none of them. Returns the path of `lab.pcapng`.
pub(super) fn write_pcaps(
    lab: &Lab,
    probes: &ProbePlan,
    flows: &Flows,
    points: &[CapturePoint],
    observed: &mut [Observed],
    dir: &Path,
    captures: &mut [CaptureSummary],
) -> Result<PathBuf, VerifyError> {
    let err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| VerifyError::Pcap { path, source }
    };
    std::fs::create_dir_all(dir).map_err(err(dir))?;
    for ((point, observed), summary) in points.iter().zip(observed.iter()).zip(captures) {
        let path = dir.join(format!("{}.pcap", point.id));
        let frames = observed
            .kept
            .iter()
            .filter_map(|k| Some((k.ts, k.raw.as_deref()?)));
        pcap::write(&path, frames).map_err(err(&path))?;
        summary.pcap = Some(path);
    }
    let path = dir.join(pcap::LAB_FILE);
    let who = |pair: usize| {
        let (a, b) = probes.pairs[pair].pods();
        (lab.pods[a].node.clone(), lab.pods[b].node.clone())
    };
    let comment = |s: &observe::Sighting| {
        let segment_of = match s.owner {
            Owner::Segment { flow, .. } => flows.get(&flow).copied(),
            _ => None,
        };
        pcap::comment(s, segment_of, who)
    };
    pcap::write_lab(
        &path,
        &section_comment(lab, probes),
        points,
        observed,
        comment,
    )
    .map_err(err(&path))?;
    for kept in observed.iter_mut().flat_map(|o| o.kept.iter_mut()) {
        kept.raw = None;
    }
    Ok(path)
}

/// What `lab.pcapng` is, and how to read VXLAN on a port Wireshark does not decode itself.
pub(super) fn section_comment(lab: &Lab, probes: &ProbePlan) -> String {
    let mut c = format!(
        "cnilab verify of lab {} ({}, {} hosts), run {:08x}: one interface per capture point",
        lab.name,
        lab.mode(),
        lab.hosts.len(),
        probes.run
    );
    if let Some(how) = lab
        .vxlan()
        .and_then(|v| crate::pcapng::decode_as_vxlan(v.port))
    {
        c += &format!(". {how}");
    }
    c
}
