//! The verdicts as a table for people and as JSON for CI. Pure: builds strings, prints nothing.

use super::judge::PairVerdict;
use crate::family::Family;
use crate::layout::{columns, wrap, Align};
use crate::plan::Mode;
use serde::Serialize;
use std::net::IpAddr;
use std::path::PathBuf;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub lab: String,
    /// Where the file carries no labels: what was inferred, in one line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inferred: Option<String>,
    pub mode: Mode,
    pub hosts: usize,
    /// Whether the lab was probed from a cold start or warm, as it was.
    pub start: Start,
    /// Every pod pair, or one per host pair.
    pub probed: super::PairChoice,
    /// The families every pair was probed in; JSON's `families` says how each fared.
    #[serde(skip)]
    pub families: Vec<Family>,
    pub pairs: Vec<PairRow>,
    /// Lab-wide failures that belong to no pair (e.g. untagged pod traffic in plain on the underlay).
    pub findings: Vec<String>,
    /// State the lab programs other than planned, where the wire shows nothing wrong: shown,
    /// and failed on only with `--strict`.
    pub warnings: Vec<Warning>,
    /// `--strict`: warnings fail the lab too.
    pub strict: bool,
    pub captures: Vec<CaptureSummary>,
    /// Every capture point in one file, with `--pcap`.
    pub lab_pcap: Option<PathBuf>,
    /// Frames that could not be dissected; shown, not failed on.
    pub undissectable: usize,
    /// Hints about the machine rather than the lab; shown, not failed on.
    pub notes: Vec<String>,
    pub elapsed_ms: u64,
    /// `gen --services S`: per Service and kind of client, what the Service probes proved.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<super::services::judge::ServiceRow>,
    /// The most memory verify held at once (the kernel's high-water mark of its RSS).
    pub peak_memory_kib: Option<u64>,
}

/// How verify probed: from a cold start (learned state wiped, phases in which no host both
/// sends and receives), or warm (every pair at once on what the lab had learnt).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Start {
    Cold { phases: usize },
    Warm,
}

impl Start {
    pub fn describe(&self) -> String {
        match self {
            Start::Cold { phases } => format!(
                "cold start: learned neighbours and FDB entries flushed before each of {phases} phase(s); no host sent and received in the same phase"
            ),
            Start::Warm => "warm (--warm): probed all at once on what the lab had learnt; a fault that reverse traffic heals can pass".to_string(),
        }
    }
}

/// A difference between what a host programs and what the lab plans, on pairs whose every
/// probe had the right shape on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    /// Stable snake_case, as reasons' kinds: `programmed`.
    pub kind: &'static str,
    pub node: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PairRow {
    pub from: String,
    pub to: String,
    /// The family the pair was probed in, and its pods' addresses in it.
    pub family: Family,
    pub from_ip: IpAddr,
    pub to_ip: IpAddr,
    #[serde(flatten)]
    pub verdict: PairVerdict,
}

#[derive(Debug, Clone, Serialize)]
pub struct CaptureSummary {
    pub point: crate::lab::point::PointId,
    pub frames: usize,
    /// Frames the kernel dropped on this capture socket (PACKET_STATISTICS).
    pub dropped: u32,
    pub pcap: Option<PathBuf>,
}

/// The version of verify's JSON (docs/json.md). It changes when a field is removed or changes
/// meaning; added fields and reason kinds keep it.
pub const SCHEMA_VERSION: u32 = 1;

/// The report as CI reads it: the verdict and summary line up front, then everything else.
#[derive(Debug, Serialize)]
pub struct ReportJson<'a> {
    pub schema_version: u32,
    pub passed: bool,
    pub summary: String,
    /// Per family probed: its pairs, how many passed, and whether that proves it.
    pub families: Vec<FamilyProof>,
    #[serde(flatten)]
    pub report: &'a Report,
}

/// How one family fared: it is proven when it had pairs and every one passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FamilyProof {
    pub family: Family,
    pub pairs: usize,
    pub passed: usize,
    pub proven: bool,
}

impl Report {
    pub fn for_json(&self) -> ReportJson<'_> {
        ReportJson {
            schema_version: SCHEMA_VERSION,
            passed: self.passed(),
            summary: self.summary(),
            families: self.family_proofs(),
            report: self,
        }
    }

    pub fn passed(&self) -> bool {
        self.findings.is_empty()
            && self.pairs.iter().all(|p| p.verdict.passed())
            && self.services.iter().all(|s| s.passed)
            && (!self.strict || self.warnings.is_empty())
    }

    pub fn passed_pairs(&self) -> usize {
        self.pairs.iter().filter(|p| p.verdict.passed()).count()
    }

    /// Per family probed, how its pairs fared.
    pub fn family_proofs(&self) -> Vec<FamilyProof> {
        self.families
            .iter()
            .map(|&family| {
                let rows = self.pairs.iter().filter(|p| p.family == family);
                let pairs = rows.clone().count();
                let passed = rows.filter(|p| p.verdict.passed()).count();
                FamilyProof {
                    family,
                    pairs,
                    passed,
                    proven: pairs > 0 && passed == pairs,
                }
            })
            .collect()
    }

    /// Where the lab carries more than one family: each one's count, and which are proven,
    /// e.g. `IPv4 6/6, IPv6 2/6: IPv4 proven, IPv6 not`. An IPv6-only lab says so; an IPv4 one
    /// says nothing, as before families existed.
    fn families_text(&self) -> Option<String> {
        let proofs = self.family_proofs();
        match proofs.as_slice() {
            [one] if one.family == Family::Ipv6 => return Some("IPv6 only".into()),
            [] | [_] => return None,
            _ => {}
        }
        let counts: Vec<String> = proofs
            .iter()
            .map(|p| format!("{} {}/{}", p.family, p.passed, p.pairs))
            .collect();
        let named = |proven: bool| -> Vec<String> {
            let of = proofs.iter().filter(|p| p.proven == proven);
            of.map(|p| p.family.to_string()).collect()
        };
        let verdict = match (named(true), named(false)) {
            (yes, no) if no.is_empty() => format!("{} proven", yes.join(" and ")),
            (yes, no) if yes.is_empty() => format!("neither {} proven", no.join(" nor ")),
            (yes, no) => format!("{} proven, {} not", yes.join(" and "), no.join(" and ")),
        };
        Some(format!("{}: {verdict}", counts.join(", ")))
    }

    pub fn summary(&self) -> String {
        let families = self
            .families_text()
            .map(|t| format!("; {t}"))
            .unwrap_or_default();
        let mut line = format!(
            "{}/{} pairs passed ({}, {} hosts{families})",
            self.passed_pairs(),
            self.pairs.len(),
            self.mode,
            self.hosts
        );
        let expected = self
            .pairs
            .iter()
            .filter(|p| p.verdict.passed() && p.verdict.expected_failure.is_some())
            .count();
        if expected > 0 {
            line.push_str(&format!("; {expected} of them failed as the lab expects"));
        }
        if self.probed == super::PairChoice::PerHostPair {
            line.push_str("; one pod pair per host pair");
        }
        if !self.services.is_empty() {
            line.push_str(&services_summary(&self.services));
        }
        if !self.findings.is_empty() {
            line.push_str(&format!("; {} lab-wide finding(s)", self.findings.len()));
        }
        if !self.warnings.is_empty() {
            let how = if self.strict {
                "failed by --strict"
            } else {
                "--strict fails them"
            };
            line.push_str(&format!("; {} warning(s), {how}", self.warnings.len()));
        }
        line
    }

    /// How fast the run went and how much the capture copied to user space: the kernel's
    /// filter keeps everything but the probes there.
    pub fn throughput(&self) -> String {
        let secs = (self.elapsed_ms.max(1)) as f64 / 1000.0;
        let frames: usize = self.captures.iter().map(|c| c.frames).sum();
        let dropped: u64 = self.captures.iter().map(|c| u64::from(c.dropped)).sum();
        let mut line = format!(
            "{} pairs in {secs:.1} s ({:.0} pairs/s); {frames} frames copied to user space, {dropped} dropped by the capture",
            self.pairs.len(),
            self.pairs.len() as f64 / secs
        );
        if let Some(kib) = self.peak_memory_kib {
            line += &format!("; peak memory {} MB", kib.div_ceil(1024));
        }
        line
    }

    /// The report for a person, see [`Style`].
    pub fn table(&self, style: &Style) -> String {
        let mut out = String::new();
        let leads = leads(&self.pairs);
        if let Some(inferred) = &self.inferred {
            out.push_str(&wrap(
                &format!("plan inferred from the lab's links and exec lines: {inferred}"),
                style.width,
                6,
            ));
        }
        out.push_str(&format!("{}{WIRE_HEADER}\n", leads[0]));
        if !style.failed_only {
            for (i, row) in self.pairs.iter().enumerate() {
                if row.verdict.passed() {
                    out.push_str(&row_line(row, &leads[i + 1], style));
                }
            }
        }
        for group in failure_groups(&self.pairs) {
            out.push_str(&group_text(&self.pairs, &group, &leads, style));
        }
        out.push_str(&super::services::table::text(&self.services, style));
        for finding in &self.findings {
            out.push_str(&wrap(
                &format!("{}  {finding}", style.fail()),
                style.width,
                6,
            ));
        }
        for warning in &self.warnings {
            out.push_str(&wrap(
                &format!("{}  {}", style.warn(), warning.message),
                style.width,
                6,
            ));
        }
        if self.undissectable > 0 {
            out.push_str(&format!(
                "note: {} captured frame(s) could not be dissected\n",
                self.undissectable
            ));
        }
        for note in &self.notes {
            out.push_str(&wrap(&format!("note: {note}"), style.width, 6));
        }
        for c in &self.captures {
            if let Some(path) = &c.pcap {
                out.push_str(&format!("pcap: {} ({} frames)\n", path.display(), c.frames));
            }
        }
        if let Some(path) = &self.lab_pcap {
            out.push_str(&format!(
                "pcap: {} (every capture point, in time order; opens in Wireshark)\n",
                path.display()
            ));
        }
        out.push_str(&wrap(&self.start.describe(), style.width, 6));
        out.push_str(&wrap(&self.throughput(), style.width, 6));
        out.push_str(&self.summary());
        out.push('\n');
        out
    }
}

/// How the table is drawn: colour only on a terminal that did not ask for NO_COLOR (the CLI
/// decides), only the failures with `--failed-only`, lines wrapped to `width`.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
    pub failed_only: bool,
    pub width: usize,
}

impl Default for Style {
    fn default() -> Style {
        Style {
            color: false,
            failed_only: false,
            width: 80,
        }
    }
}

impl Style {
    fn paint(&self, text: &str, code: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    pub(crate) fn fail(&self) -> String {
        self.paint("FAIL", "1;31")
    }

    pub(crate) fn pass(&self) -> String {
        self.paint("pass", "32")
    }

    fn warn(&self) -> String {
        self.paint("WARN", "33")
    }
}

/// Where a pair's WIRE cell shows a reply, it says so; otherwise it is the request.
const WIRE_HEADER: &str = "WIRE (the request, unless marked reply)";
/// At most this many rows of one group of identical failures are printed.
const GROUP_ROWS: usize = 5;

fn rtt_cell(row: &PairRow) -> String {
    row.verdict
        .rtt
        .map(|d| format!("{:.2}ms", d.as_secs_f64() * 1000.0))
        .unwrap_or_else(|| "-".into())
}

/// Steady-state pings lost of those sent.
fn loss_cell(row: &PairRow) -> String {
    let l = row.verdict.loss;
    if l.sent == 0 {
        "-".into()
    } else {
        format!("{}/{}", l.lost, l.sent)
    }
}

/// The verdict, FROM, TO, RTT and LOSS cells of the titles and of every row, aligned one
/// space apart (so that a 3-host VXLAN row fits 80 columns whole); index 0 is the titles,
/// index i + 1 is row i.
fn leads(rows: &[PairRow]) -> Vec<String> {
    // Only where the pairs are of more than one family: an IPv4 lab's rows stay as they are.
    let mixed = rows.iter().any(|r| r.family != rows[0].family);
    let mut titles = vec!["", "FROM", "TO"];
    titles.extend(mixed.then_some("FAMILY"));
    titles.extend(["RTT", "LOSS"]);
    let mut cells: Vec<Vec<String>> = vec![titles.into_iter().map(String::from).collect()];
    cells.extend(rows.iter().map(|r| {
        let mut row = vec![verdict_word(r).to_string(), r.from.clone(), r.to.clone()];
        row.extend(mixed.then(|| r.family.as_str().to_string()));
        row.extend([rtt_cell(r), loss_cell(r)]);
        row
    }));
    columns(&cells, 1, Align::Left)
}

fn verdict_word(row: &PairRow) -> &'static str {
    if row.verdict.passed() && row.verdict.expected_failure.is_some() {
        "xfail"
    } else if row.verdict.passed() {
        "pass"
    } else {
        "FAIL"
    }
}

fn row_line(row: &PairRow, lead: &str, style: &Style) -> String {
    let word = verdict_word(row);
    let painted = if row.verdict.expected_failure.is_some() && row.verdict.passed() {
        style.paint(word, "33")
    } else if row.verdict.passed() {
        style.pass()
    } else {
        style.fail()
    };
    let indent = lead.chars().count();
    // Wrapped as plain text, so the colour codes do not count as columns.
    let line = wrap(&format!("{lead}{}", row.verdict.wire), style.width, indent);
    let mut out = format!("{painted}{}", &line[word.len()..]);
    if let Some(how) = &row.verdict.expected_failure {
        out.push_str(&wrap(&format!("      ~ {how}"), style.width, 8));
    }
    for remark in &row.verdict.remarks {
        out.push_str(&wrap(&format!("      ~ {remark}"), style.width, 8));
    }
    out
}

/// Failing rows with the same reasons, in the order their first row appears.
fn failure_groups(rows: &[PairRow]) -> Vec<Vec<usize>> {
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (i, row) in rows.iter().enumerate().filter(|(_, r)| !r.verdict.passed()) {
        match groups
            .iter_mut()
            .find(|g| rows[g[0]].verdict.reasons == row.verdict.reasons)
        {
            Some(group) => group.push(i),
            None => groups.push(vec![i]),
        }
    }
    groups
}

/// A group's rows (the first few), then every reason once, each on its own line.
fn group_text(rows: &[PairRow], group: &[usize], leads: &[String], style: &Style) -> String {
    let mut out = String::new();
    for &i in group.iter().take(GROUP_ROWS) {
        out.push_str(&row_line(&rows[i], &leads[i + 1], style));
    }
    if group.len() > GROUP_ROWS {
        out.push_str(&format!(
            "      ... and {} more pairs that failed for the same reasons (--json lists them)\n",
            group.len() - GROUP_ROWS
        ));
    }
    for reason in &rows[group[0]].verdict.reasons {
        out.push_str(&wrap(&format!("      - {reason}"), style.width, 8));
    }
    out
}

/// `; 10/10 Service checks passed`, with each family's share where there are two: a fault in
/// one family says which (`(IPv4 5/5, IPv6 3/5)`).
fn services_summary(rows: &[super::services::judge::ServiceRow]) -> String {
    let passed =
        |rows: &[&super::services::judge::ServiceRow]| rows.iter().filter(|r| r.passed).count();
    let all: Vec<_> = rows.iter().collect();
    let mut line = format!("; {}/{} Service checks passed", passed(&all), all.len());
    let families: std::collections::BTreeSet<_> = rows.iter().map(|r| r.family).collect();
    if families.len() > 1 {
        let each: Vec<String> = families
            .iter()
            .map(|&f| {
                let mine: Vec<_> = rows.iter().filter(|r| r.family == f).collect();
                format!("{f} {}/{}", passed(&mine), mine.len())
            })
            .collect();
        line.push_str(&format!(" ({})", each.join(", ")));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::reason::Reason;
    use std::time::Duration;

    fn row(from: &str, to: &str, passed: bool, reasons: &[&str]) -> PairRow {
        PairRow {
            from: from.into(),
            to: to.into(),
            family: Family::Ipv4,
            from_ip: "172.16.0.2".parse().unwrap(),
            to_ip: "172.16.1.2".parse().unwrap(),
            verdict: PairVerdict {
                rtt: passed.then(|| Duration::from_micros(1234)),
                wire: "VXLAN vni 1 10.0.1.2>10.0.2.2 [172.16.0.2>172.16.1.2]".into(),
                reasons: reasons
                    .iter()
                    .map(|s| Reason::Programmed {
                        node: from.into(),
                        detail: s.to_string(),
                    })
                    .collect(),
                loss: crate::verify::judge::Loss { sent: 13, lost: 0 },
                remarks: vec![],
                expected_failure: None,
            },
        }
    }

    fn report(pairs: Vec<PairRow>) -> Report {
        Report {
            lab: "l".into(),
            inferred: None,
            mode: Mode::Vxlan,
            hosts: 2,
            start: Start::Cold { phases: 2 },
            probed: crate::verify::PairChoice::All,
            families: vec![Family::Ipv4],
            pairs,
            findings: vec![],
            warnings: vec![],
            strict: false,
            captures: vec![],
            lab_pcap: None,
            undissectable: 0,
            notes: vec![],
            elapsed_ms: 5,
            peak_memory_kib: None,
            services: Vec::new(),
        }
    }

    fn plain() -> Style {
        Style::default()
    }

    #[test]
    fn table_has_a_row_per_pair_every_reason_on_its_own_line_and_the_summary() {
        let r = report(vec![
            row("pod1", "pod2", true, &[]),
            row(
                "pod2",
                "pod1",
                false,
                &[
                    "ping: no reply after 3 attempts",
                    "ping request not seen on host2-eth1",
                ],
            ),
        ]);
        let t = r.table(&plain());
        let lines: Vec<&str> = t.lines().collect();
        assert!(
            lines[1].ends_with("10.0.1.2>10.0.2.2 [172.16.0.2>172.16.1.2]"),
            "a VXLAN row is whole: {t}"
        );
        assert!(lines[0].contains("FROM") && lines[0].contains("WIRE (the request"));
        assert!(
            lines[1].starts_with("pass pod1") && lines[1].contains("1.23ms"),
            "{t}"
        );
        assert!(lines[2].starts_with("FAIL pod2 pod1"), "{t}");
        assert_eq!(lines[3], "      - ping: no reply after 3 attempts");
        assert_eq!(lines[4], "      - ping request not seen on host2-eth1");
        assert!(!t.contains("more)"), "no reason is hidden: {t}");
        assert!(lines.iter().any(|l| l.starts_with("cold start")), "{t}");
        assert_eq!(lines.last().unwrap(), &"1/2 pairs passed (vxlan, 2 hosts)");
        assert!(!r.passed());
    }

    #[test]
    fn every_line_fits_80_columns() {
        let long = "expected UDP/4789 VXLAN vni 1 between 10.0.3.2 and 10.0.1.2, saw VXLAN vni 2 10.0.3.2>10.0.1.2 [172.16.2.2>172.16.0.2] on host3-eth1";
        let mut wide = row("pod1", "pod2", false, &[long]);
        wide.verdict.wire = format!("reply {}", wide.verdict.wire);
        let r = report(vec![row("pod1", "pod2", true, &[]), wide]);
        let t = r.table(&plain());
        for line in t.lines() {
            assert!(
                line.chars().count() <= 80,
                "{} columns: {line:?}",
                line.len()
            );
        }
        assert!(t.contains("reply VXLAN"), "{t}");
        let joined = t.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            joined.contains(long),
            "the wrapped reason is all there: {t}"
        );
    }

    #[test]
    fn identical_failures_are_grouped_and_their_reasons_shown_once() {
        let mut pairs = vec![];
        for i in 2..12 {
            pairs.push(row("pod1", &format!("pod{i}"), false, &["ping: no reply"]));
        }
        pairs.push(row("pod2", "pod1", false, &["other"]));
        let t = report(pairs).table(&plain());
        assert_eq!(t.matches("- ping: no reply").count(), 1, "{t}");
        assert_eq!(t.matches("FAIL").count(), GROUP_ROWS + 1, "{t}");
        assert!(
            t.contains("and 5 more pairs that failed for the same reasons"),
            "{t}"
        );
        assert!(t.contains("- other"), "{t}");
    }

    #[test]
    fn failed_only_and_colour() {
        let r = report(vec![
            row("pod1", "pod2", true, &[]),
            row("pod2", "pod1", false, &["why"]),
        ]);
        let only = r.table(&Style {
            failed_only: true,
            ..plain()
        });
        assert!(!only.contains("pass pod1"), "{only}");
        assert!(only.contains("FAIL pod2"), "{only}");
        assert!(!only.contains('\x1b'));
        let colour = r.table(&Style {
            color: true,
            ..plain()
        });
        assert!(colour.contains("\x1b[1;31mFAIL\x1b[0m") && colour.contains("\x1b[32mpass\x1b[0m"));
    }

    #[test]
    fn findings_fail_the_report_even_when_every_pair_passes() {
        let mut r = report(vec![row("pod1", "pod2", true, &[])]);
        assert!(r.passed());
        r.findings.push("plain IPv4 on gw1-eth1".into());
        assert!(!r.passed());
        assert!(r.table(&plain()).contains("FAIL  plain IPv4 on gw1-eth1"));
    }

    #[test]
    fn warnings_are_shown_and_fail_the_report_only_when_strict() {
        let mut r = report(vec![row("pod1", "pod2", true, &[])]);
        r.warnings.push(Warning {
            kind: "programmed",
            node: "host1".into(),
            message: "host1 has no route 10.0.2.0/24 via 192.168.0.200 dev eth1".into(),
        });
        assert!(r.passed());
        let text = r.table(&plain());
        assert!(
            text.contains("WARN  host1 has no route 10.0.2.0/24"),
            "{text}"
        );
        assert!(r.summary().contains("1 warning(s), --strict fails them"));
        let v = serde_json::to_value(r.for_json()).unwrap();
        assert_eq!(v["warnings"][0]["kind"], "programmed");
        assert!(v["warnings"][0]["message"].is_string());
        r.strict = true;
        assert!(!r.passed());
    }

    #[test]
    fn json_carries_the_same_content() {
        let r = report(vec![row("pod2", "pod1", false, &["why"])]);
        let v: serde_json::Value = serde_json::to_value(&r).unwrap();
        assert_eq!(v["mode"], "vxlan");
        assert_eq!(v["pairs"][0]["from"], "pod2");
        assert_eq!(v["pairs"][0]["passed"], false);
        assert_eq!(v["pairs"][0]["reasons"][0]["kind"], "programmed");
        assert_eq!(v["pairs"][0]["reasons"][0]["message"], "why");
        assert_eq!(v["pairs"][0]["rtt_us"], serde_json::Value::Null);
    }

    /// A dual-stack report: a FAMILY column, `family` in each pair's JSON, and a summary and
    /// `families` that say which family was proven.
    #[test]
    fn a_dual_stack_report_names_each_row_s_family_and_what_was_proven() {
        let mut six = row("pod1", "pod2", false, &["ping: no reply"]);
        six.family = Family::Ipv6;
        six.to_ip = "fd00:172:16:1::2".parse().unwrap();
        let mut r = report(vec![row("pod1", "pod2", true, &[]), six]);
        r.families = vec![Family::Ipv4, Family::Ipv6];
        let t = r.table(&plain());
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].contains("TO   FAMILY RTT"), "{t}");
        assert!(lines[1].starts_with("pass pod1 pod2 ipv4"), "{t}");
        assert!(t.contains("FAIL pod1 pod2 ipv6"), "{t}");
        assert_eq!(
            r.summary(),
            "1/2 pairs passed (vxlan, 2 hosts; IPv4 1/1, IPv6 0/1: IPv4 proven, IPv6 not)"
        );
        let v = serde_json::to_value(r.for_json()).unwrap();
        assert_eq!(v["pairs"][1]["family"], "ipv6");
        assert_eq!(v["pairs"][1]["to_ip"], "fd00:172:16:1::2");
        assert_eq!(v["families"][0]["proven"], true);
        assert_eq!(v["families"][1]["family"], "ipv6");
        assert_eq!(v["families"][1]["proven"], false);
        // An IPv4 lab's table and summary have no family in them.
        let four = report(vec![row("pod1", "pod2", true, &[])]);
        assert!(!four.table(&plain()).contains("FAMILY"));
        assert_eq!(four.summary(), "1/1 pairs passed (vxlan, 2 hosts)");
        // An IPv6-only lab's summary says that it is.
        let mut only = row("pod1", "pod2", true, &[]);
        only.family = Family::Ipv6;
        let mut six = report(vec![only]);
        six.families = vec![Family::Ipv6];
        assert_eq!(
            six.summary(),
            "1/1 pairs passed (vxlan, 2 hosts; IPv6 only)"
        );
    }
}
