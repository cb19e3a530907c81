//! The pairs as JSON inside the page: what the detail panel shows on hover or click, and what
//! the canvas draws beyond [`super::matrix::DOM_MAX_HOSTS`] hosts. Text is stored once in a
//! string table and pairs point into it, so that 64,516 pairs fit the page's size bound; text
//! past [`TEXT_BUDGET`] is left out, failing pairs' text first in, and the panel says where to
//! read the rest.

use super::super::escape::json_in_script;
use super::super::{host_of, Verdict};
use crate::lab::Lab;
use crate::verify::report::{PairRow, Report};
use serde::Serialize;
use std::collections::HashMap;

/// The most bytes of pair text (wires, reasons, remarks) the page carries. With the pairs'
/// indices (about 45 bytes a pair), the graph and the page itself, a 254-host report stays
/// under 15 MB.
pub const TEXT_BUDGET: usize = 8 * 1024 * 1024;

/// The matrix's rows and columns alike: every pod that is in a pair, in the lab's order.
pub struct Axis<'a> {
    pub pods: Vec<&'a str>,
    /// Each pod's host, by index into `hosts`.
    pub host_of: Vec<Option<usize>>,
    pub hosts: Vec<&'a str>,
    /// Whether a host's block of pods starts at this row and column (never at the first, and
    /// never where every host has one pod: then every line would be a boundary).
    pub host_starts: Vec<bool>,
    index: HashMap<&'a str, usize>,
}

impl<'a> Axis<'a> {
    pub fn of(report: &'a Report, lab: &'a Lab) -> Axis<'a> {
        let in_pairs: std::collections::HashSet<&str> = report
            .pairs
            .iter()
            .flat_map(|r| [r.from.as_str(), r.to.as_str()])
            .collect();
        let mut pods: Vec<&str> = lab
            .pods
            .iter()
            .map(|p| p.node.as_str())
            .filter(|p| in_pairs.contains(p))
            .collect();
        // A pair whose pod the lab does not name still gets a row, after the lab's own.
        for r in &report.pairs {
            for p in [r.from.as_str(), r.to.as_str()] {
                if !pods.contains(&p) {
                    pods.push(p);
                }
            }
        }
        let hosts: Vec<&str> = lab.hosts.iter().map(|h| h.node.as_str()).collect();
        let host_of: Vec<Option<usize>> = pods
            .iter()
            .map(|p| host_of(lab, p).and_then(|h| hosts.iter().position(|x| *x == h)))
            .collect();
        let index = pods.iter().enumerate().map(|(i, p)| (*p, i)).collect();
        let host_starts = host_starts(&host_of);
        Axis {
            pods,
            host_of,
            hosts,
            host_starts,
            index,
        }
    }

    pub fn side(&self) -> usize {
        self.pods.len()
    }

    pub fn position(&self, pod: &str) -> usize {
        self.index[pod]
    }

    pub fn same_host(&self, a: usize, b: usize) -> bool {
        self.host_of[a].is_some() && self.host_of[a] == self.host_of[b]
    }
}

fn host_starts(host_of: &[Option<usize>]) -> Vec<bool> {
    let distinct: std::collections::HashSet<_> = host_of.iter().collect();
    let several = distinct.len() < host_of.len();
    (0..host_of.len())
        .map(|i| several && i > 0 && host_of[i] != host_of[i - 1])
        .collect()
}

/// One pair as a JSON array, to keep 64,516 of them small:
/// `[from, to, verdict, rtt_us, lost, sent, wire, [kind, message, …], [remark, …],
/// expected_failure, trimmed]`; from and to index the axis, verdict the verdict names, and
/// text fields the string table (null where there is none).
#[derive(Serialize)]
struct PairJson(
    usize,
    usize,
    usize,
    Option<u64>,
    u32,
    u32,
    Option<usize>,
    Vec<usize>,
    Vec<usize>,
    Option<usize>,
    u8,
);

#[derive(Serialize)]
struct CaptureJson<'a> {
    node: &'a str,
    point: String,
    frames: usize,
    dropped: u32,
    pcap: Option<String>,
}

#[derive(Serialize)]
struct Data<'a> {
    version: u32,
    lab: &'a str,
    pods: &'a [&'a str],
    pod_ip: Vec<String>,
    host_of: &'a [Option<usize>],
    hosts: &'a [&'a str],
    verdicts: Vec<&'static str>,
    strings: Vec<String>,
    captures: Vec<CaptureJson<'a>>,
    lab_pcap: Option<String>,
    pairs: Vec<PairJson>,
}

/// Strings, each stored once; `bytes` counts them as they appear in the JSON.
#[derive(Default)]
struct Strings {
    list: Vec<String>,
    index: HashMap<String, usize>,
    bytes: usize,
}

impl Strings {
    fn cost(&self, s: &str) -> usize {
        match self.index.contains_key(s) {
            true => 0,
            false => json_len(s),
        }
    }

    fn intern(&mut self, s: &str) -> usize {
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        self.bytes += json_len(s);
        self.list.push(s.to_string());
        self.index.insert(s.to_string(), self.list.len() - 1);
        self.list.len() - 1
    }
}

/// What a string costs in the page: quoted, escaped, with its comma.
fn json_len(s: &str) -> usize {
    json_in_script(&serde_json::to_string(s).unwrap_or_default()).len() + 1
}

/// A pair's texts: the wire, every reason's kind and message, the remarks, how it was
/// expected to fail.
fn texts(row: &PairRow) -> Vec<String> {
    let v = &row.verdict;
    let mut all = vec![v.wire.clone()];
    for r in &v.reasons {
        all.push(r.kind().to_string());
        all.push(r.to_string());
    }
    all.extend(v.remarks.iter().cloned());
    all.extend(v.expected_failure.iter().cloned());
    all
}

/// The JSON for the page's `<script type="application/json">`, safe inside it.
pub fn json(report: &Report, lab: &Lab, axis: &Axis, budget: usize) -> String {
    let (strings, pairs) = pairs(report, axis, budget);
    let pod_ip = axis
        .pods
        .iter()
        .map(|p| {
            lab.pods
                .iter()
                .find(|x| x.node == *p)
                .map(|x| x.addr(crate::family::Family::Ipv4).to_string())
                .unwrap_or_default()
        })
        .collect();
    let data = Data {
        version: 1,
        lab: &report.lab,
        pods: &axis.pods,
        pod_ip,
        host_of: &axis.host_of,
        hosts: &axis.hosts,
        verdicts: Verdict::ALL.iter().map(|v| v.as_str()).collect(),
        strings: strings.list,
        captures: captures(report),
        lab_pcap: report.lab_pcap.as_ref().map(|p| p.display().to_string()),
        pairs,
    };
    json_in_script(&serde_json::to_string(&data).unwrap_or_default())
}

fn captures(report: &Report) -> Vec<CaptureJson<'_>> {
    report
        .captures
        .iter()
        .map(|c| CaptureJson {
            node: &c.point.node,
            point: c.point.to_string(),
            frames: c.frames,
            dropped: c.dropped,
            pcap: c.pcap.as_ref().map(|p| p.display().to_string()),
        })
        .collect()
}

/// Every pair, in the report's order. Text is admitted in order of interest (failures,
/// expected failures, retries, passes) while it fits the budget.
fn pairs(report: &Report, axis: &Axis, budget: usize) -> (Strings, Vec<PairJson>) {
    let mut order: Vec<usize> = (0..report.pairs.len()).collect();
    order.sort_by_key(|&i| Verdict::of(&report.pairs[i].verdict));
    let mut strings = Strings::default();
    let mut out: Vec<Option<PairJson>> = report.pairs.iter().map(|_| None).collect();
    for i in order {
        let row = &report.pairs[i];
        let texts = texts(row);
        let cost: usize = texts.iter().map(|t| strings.cost(t)).sum();
        let fits = strings.bytes + cost <= budget;
        out[i] = Some(pair(row, axis, fits.then_some(&mut strings)));
    }
    (strings, out.into_iter().flatten().collect())
}

/// One pair; its text only when `strings` is given (it fits the budget).
fn pair(row: &PairRow, axis: &Axis, strings: Option<&mut Strings>) -> PairJson {
    let v = &row.verdict;
    let verdict = Verdict::of(v);
    let mut p = PairJson(
        axis.position(&row.from),
        axis.position(&row.to),
        Verdict::ALL.iter().position(|x| *x == verdict).unwrap_or(0),
        v.rtt.map(|d| d.as_micros() as u64),
        v.loss.lost,
        v.loss.sent,
        None,
        Vec::new(),
        Vec::new(),
        None,
        1,
    );
    if let Some(s) = strings {
        p.6 = Some(s.intern(&v.wire));
        for r in &v.reasons {
            p.7.push(s.intern(r.kind()));
            p.7.push(s.intern(&r.to_string()));
        }
        p.8 = v.remarks.iter().map(|r| s.intern(r)).collect();
        p.9 = v.expected_failure.as_deref().map(|e| s.intern(e));
        p.10 = 0;
    }
    p
}
