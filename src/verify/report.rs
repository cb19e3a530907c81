//! The verdicts as a table for people and as JSON for CI. Pure: builds strings, prints nothing.

use super::judge::PairVerdict;
use crate::plan::Mode;
use serde::Serialize;
use std::net::Ipv4Addr;
use std::path::PathBuf;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub lab: String,
    pub mode: Mode,
    pub hosts: usize,
    pub pairs: Vec<PairRow>,
    /// Lab-wide failures that belong to no pair (e.g. untagged pod traffic in plain on the underlay).
    pub findings: Vec<String>,
    pub captures: Vec<CaptureSummary>,
    /// Frames that could not be dissected; shown, not failed on.
    pub undissectable: usize,
    /// Hints about the machine rather than the lab; shown, not failed on.
    pub notes: Vec<String>,
    pub elapsed_ms: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct PairRow {
    pub from: String,
    pub to: String,
    pub from_ip: Ipv4Addr,
    pub to_ip: Ipv4Addr,
    #[serde(flatten)]
    pub verdict: PairVerdict,
}

#[derive(Debug, Clone, Serialize)]
pub struct CaptureSummary {
    pub point: String,
    pub frames: usize,
    pub pcap: Option<PathBuf>,
}

/// The report as CI reads it: the verdict and summary line up front, then everything else.
#[derive(Debug, Serialize)]
pub struct ReportJson<'a> {
    pub passed: bool,
    pub summary: String,
    #[serde(flatten)]
    pub report: &'a Report,
}

impl Report {
    pub fn for_json(&self) -> ReportJson<'_> {
        ReportJson {
            passed: self.passed(),
            summary: self.summary(),
            report: self,
        }
    }

    pub fn passed(&self) -> bool {
        self.findings.is_empty() && self.pairs.iter().all(|p| p.verdict.passed)
    }

    pub fn passed_pairs(&self) -> usize {
        self.pairs.iter().filter(|p| p.verdict.passed).count()
    }

    pub fn summary(&self) -> String {
        let mut line = format!(
            "{}/{} pairs passed ({}, {} hosts)",
            self.passed_pairs(),
            self.pairs.len(),
            self.mode,
            self.hosts
        );
        if !self.findings.is_empty() {
            line.push_str(&format!("; {} lab-wide finding(s)", self.findings.len()));
        }
        line
    }

    /// One row per pair, then findings, capture files and the summary line.
    pub fn table(&self) -> String {
        let header = ["FROM", "TO", "RTT", "WIRE", "VERDICT", "REASON"];
        let rows: Vec<[String; 6]> = self
            .pairs
            .iter()
            .map(|p| {
                let v = &p.verdict;
                [
                    p.from.clone(),
                    p.to.clone(),
                    v.rtt
                        .map(|d| format!("{:.2}ms", d.as_secs_f64() * 1000.0))
                        .unwrap_or_else(|| "-".into()),
                    v.wire.clone(),
                    if v.passed { "pass" } else { "FAIL" }.to_string(),
                    match v.reasons.len() {
                        0 => String::new(),
                        1 => v.reasons[0].clone(),
                        n => format!("{} (+{} more)", v.reasons[0], n - 1),
                    },
                ]
            })
            .collect();
        let mut widths = header.map(str::len);
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |cells: &[String]| {
            let mut out = String::new();
            for (i, cell) in cells.iter().enumerate() {
                if i + 1 == cells.len() {
                    out.push_str(cell);
                } else {
                    out.push_str(&format!("{cell:<w$}  ", w = widths[i]));
                }
            }
            out.trim_end().to_string() + "\n"
        };
        let mut out = line(&header.map(String::from));
        for row in &rows {
            out.push_str(&line(row));
        }
        for finding in &self.findings {
            out.push_str(&format!("FAIL  {finding}\n"));
        }
        if self.undissectable > 0 {
            out.push_str(&format!(
                "note: {} captured frame(s) could not be dissected\n",
                self.undissectable
            ));
        }
        for note in &self.notes {
            out.push_str(&format!("note: {note}\n"));
        }
        for c in &self.captures {
            if let Some(path) = &c.pcap {
                out.push_str(&format!("pcap: {} ({} frames)\n", path.display(), c.frames));
            }
        }
        out.push_str(&self.summary());
        out.push('\n');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn row(from: &str, to: &str, passed: bool, reasons: &[&str]) -> PairRow {
        PairRow {
            from: from.into(),
            to: to.into(),
            from_ip: "172.16.0.2".parse().unwrap(),
            to_ip: "172.16.1.2".parse().unwrap(),
            verdict: PairVerdict {
                passed,
                rtt: passed.then(|| Duration::from_micros(1234)),
                wire: "VXLAN vni 1 10.0.1.2>10.0.2.2 [172.16.0.2>172.16.1.2]".into(),
                reasons: reasons.iter().map(|s| s.to_string()).collect(),
            },
        }
    }

    fn report(pairs: Vec<PairRow>) -> Report {
        Report {
            lab: "l".into(),
            mode: Mode::Vxlan,
            hosts: 2,
            pairs,
            findings: vec![],
            captures: vec![],
            undissectable: 0,
            notes: vec![],
            elapsed_ms: 5,
        }
    }

    #[test]
    fn table_has_a_row_per_pair_and_the_summary() {
        let r = report(vec![
            row("pod1", "pod2", true, &[]),
            row(
                "pod2",
                "pod1",
                false,
                &["ping: no reply after 3 attempts", "x"],
            ),
        ]);
        let t = r.table();
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("FROM"));
        assert!(
            lines[1].contains("pod1") && lines[1].contains("1.23ms") && lines[1].contains("pass")
        );
        assert!(
            lines[2].contains("FAIL")
                && lines[2].ends_with("ping: no reply after 3 attempts (+1 more)")
        );
        assert_eq!(lines.last().unwrap(), &"1/2 pairs passed (vxlan, 2 hosts)");
        assert!(!r.passed());
    }

    #[test]
    fn findings_fail_the_report_even_when_every_pair_passes() {
        let mut r = report(vec![row("pod1", "pod2", true, &[])]);
        assert!(r.passed());
        r.findings.push("plain IPv4 on gw1-eth1".into());
        assert!(!r.passed());
        assert!(r.table().contains("FAIL  plain IPv4 on gw1-eth1"));
    }

    #[test]
    fn json_carries_the_same_content() {
        let r = report(vec![row("pod2", "pod1", false, &["why"])]);
        let v: serde_json::Value = serde_json::to_value(&r).unwrap();
        assert_eq!(v["mode"], "vxlan");
        assert_eq!(v["pairs"][0]["from"], "pod2");
        assert_eq!(v["pairs"][0]["passed"], false);
        assert_eq!(v["pairs"][0]["reasons"][0], "why");
        assert_eq!(v["pairs"][0]["rtt_us"], serde_json::Value::Null);
    }
}
