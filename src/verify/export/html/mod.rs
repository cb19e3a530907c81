//! `verify --html FILE`: one self-contained page (no external script, font or style; it opens
//! from disk) with the summary, the findings and notes, the pair matrix with a detail panel,
//! the failing pairs grouped by reason, the Services (where the lab has them), the lab's graph with the failing pairs marked, and
//! the capture files. Every name and reason is escaped; the page's script builds its text
//! with `textContent` only.

mod data;
mod graph;
mod matrix;
mod services;
#[cfg(test)]
mod tests;

pub use data::TEXT_BUDGET;
pub use matrix::{DOM_MAX_HOSTS, DOM_MAX_SIDE};

use super::escape::text;
use super::Verdict;
use crate::graph::LabGraph;
use crate::lab::Lab;
use crate::verify::report::{PairRow, Report, Start};
use crate::verify::PairChoice;
use data::Axis;
use std::collections::HashMap;
use std::fmt::Write;

const STYLE: &str = include_str!("page.css");
const SCRIPT: &str = include_str!("page.js");
/// At most this many groups of failing pairs are listed, and this many pairs of each; the
/// matrix and `--json` hold the rest.
const MAX_GROUPS: usize = 30;
const GROUP_PAIRS: usize = 12;
/// At most this many pairs that passed with a remark are listed.
const MAX_REMARKED: usize = 30;

pub fn render(report: &Report, lab: &Lab, graph: &LabGraph) -> String {
    render_within(report, lab, graph, TEXT_BUDGET)
}

/// The page, with at most `budget` bytes of pair text in its JSON.
pub fn render_within(report: &Report, lab: &Lab, g: &LabGraph, budget: usize) -> String {
    let axis = Axis::of(report, lab);
    let failing = graph::failing_nodes(report, lab);
    let mut out = String::with_capacity(64 * 1024 + report.pairs.len() * 160);
    head(
        &mut out,
        report,
        &graph::stylesheet(&failing, &graph::warned_nodes(report)),
    );
    out.push_str("<body>\n");
    header(&mut out, report, lab, &axis);
    out.push_str("<main>\n");
    findings(&mut out, report);
    warnings(&mut out, report);
    services::section(&mut out, report);
    out.push_str("<div class=\"overview\">\n<div class=\"pictures\">\n");
    matrix_section(&mut out, report, &axis);
    let svg = graph::marked(g, &failing);
    let hint = match (failing.is_empty(), report.warnings.is_empty()) {
        (true, true) => "No pair failed: nothing is marked.",
        (false, true) => "Pods, hosts and links of failing pairs are outlined in red.",
        (true, false) => "Nodes with a warning are outlined in amber, dashed.",
        (false, false) => {
            "Pods, hosts and links of failing pairs are outlined in red; nodes \
                           with a warning in amber, dashed."
        }
    };
    let _ = writeln!(
        out,
        "<section id=\"graph\"><h2>The lab</h2>\n<p class=\"hint\">{hint}</p>\n\
         <div class=\"graph\">\n{svg}</div>\n</section>"
    );
    out.push_str("</div>\n");
    detail_panel(&mut out, report);
    out.push_str("</div>\n");
    groups(&mut out, report);
    remarked(&mut out, report);
    notes(&mut out, report);
    captures(&mut out, report);
    out.push_str("</main>\n");
    let _ = writeln!(
        out,
        "<script type=\"application/json\" id=\"cnilab-data\">{}</script>\n<script>\n{SCRIPT}</script>",
        data::json(report, lab, &axis, budget)
    );
    out.push_str("</body>\n</html>\n");
    out
}

fn head(out: &mut String, report: &Report, node_css: &str) {
    let verdict = if report.passed() { "PASS" } else { "FAIL" };
    let _ = writeln!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n\
         <meta name=\"generator\" content=\"cnilab {}\">\n<title>{}</title>\n<style>\n{STYLE}{node_css}</style>\n</head>",
        env!("CARGO_PKG_VERSION"),
        text(&format!("cnilab verify {}: {verdict}, {}", report.lab, report.summary())),
    );
}

fn header(out: &mut String, report: &Report, lab: &Lab, axis: &Axis) {
    let (class, word) = match report.passed() {
        true => ("pass", "PASS"),
        false => ("fail", "FAIL"),
    };
    let _ = writeln!(
        out,
        "<header class=\"{class}\">\n<h1><span class=\"badge\">{word}</span> cnilab verify \
         <span class=\"lab\">{}</span></h1>\n<p class=\"summary\">{}</p>\n<ul class=\"facts\">",
        text(&report.lab),
        text(&report.summary())
    );
    let start = match report.start {
        Start::Cold { phases } => format!("cold, {phases} phase(s)"),
        Start::Warm => "warm".to_string(),
    };
    let probed = match report.probed {
        PairChoice::All => "every pod pair",
        PairChoice::PerHostPair => "one pod pair per host pair",
    };
    let mut facts = vec![
        ("mode", report.mode.to_string()),
        ("flavor", lab.flavor.to_string()),
        ("hosts", report.hosts.to_string()),
        ("pods", axis.side().to_string()),
        ("probed", probed.to_string()),
        ("start", start),
        (
            "took",
            format!("{:.1} s", report.elapsed_ms as f64 / 1000.0),
        ),
    ];
    if let Some(kib) = report.peak_memory_kib {
        facts.push(("peak memory", format!("{} MB", kib.div_ceil(1024))));
    }
    if let Some(inferred) = &report.inferred {
        facts.push((
            "plan inferred from the file's links and exec lines",
            inferred.clone(),
        ));
    }
    for (name, value) in facts {
        let _ = writeln!(out, "<li>{name} <b>{}</b></li>", text(&value));
    }
    out.push_str("</ul>\n</header>\n");
}

fn findings(out: &mut String, report: &Report) {
    if report.findings.is_empty() {
        return;
    }
    out.push_str(
        "<section id=\"findings\"><h2>Lab-wide findings</h2>\n<p class=\"hint\">Failures that \
         belong to no pair; each fails the run.</p>\n<ul class=\"findings\">\n",
    );
    for f in &report.findings {
        let _ = writeln!(out, "<li>{}</li>", text(f));
    }
    out.push_str("</ul>\n</section>\n");
}

/// What the lab does other than its plan, or by luck, where the wire showed nothing wrong: shown,
/// and failed on only with --strict.
fn warnings(out: &mut String, report: &Report) {
    if report.warnings.is_empty() {
        return;
    }
    let how = match report.strict {
        true => "--strict fails the run on each of them.",
        false => "They do not fail the run; --strict would.",
    };
    let _ = writeln!(
        out,
        "<section id=\"warnings\"><h2>Warnings</h2>\n<p class=\"hint\">What the lab does \
         other than its plan, or works by luck, where the wire showed nothing wrong. {how}</p>\n\
         <ul class=\"warnings\">"
    );
    for w in &report.warnings {
        let _ = writeln!(
            out,
            "<li><span class=\"kind\">{}</span> {}</li>",
            text(w.kind),
            text(&w.message)
        );
    }
    out.push_str("</ul>\n</section>\n");
}

fn matrix_section(out: &mut String, report: &Report, axis: &Axis) {
    out.push_str(
        "<section id=\"pairs\"><h2>Pairs: sender (row) to receiver (column)</h2>\n\
         <p class=\"hint\">Hover over a cell for its pair; click to keep it in the panel.</p>\n",
    );
    matrix::legend(out, report);
    out.push_str("<div class=\"matrix-scroll\">\n");
    match matrix::as_elements(report, axis) {
        true => matrix::table(out, report, axis),
        false => matrix::canvas(out, axis),
    }
    out.push_str("</div>\n</section>\n");
}

/// The panel beside the matrix and the graph, which the page's script fills with the pair
/// under the pointer, or the one clicked (at first, the first failing pair).
fn detail_panel(out: &mut String, report: &Report) {
    let hint = match report.pairs.is_empty() {
        true => "No pair was probed.",
        false => "Hover over a cell to see its pair's wire, RTT, loss and reasons.",
    };
    let _ = writeln!(
        out,
        "<aside id=\"detail\" aria-live=\"polite\"><p class=\"hint\">{hint}</p></aside>"
    );
}

/// Failing pairs with the same reasons, biggest group first; each group's reasons once.
fn groups(out: &mut String, report: &Report) {
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (i, row) in report.pairs.iter().enumerate() {
        if Verdict::of(&row.verdict) != Verdict::Fail {
            continue;
        }
        let key = row.verdict.texts().join("\n");
        let g = *index.entry(key).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[g].push(i);
    }
    if groups.is_empty() {
        return;
    }
    groups.sort_by_key(|g| std::cmp::Reverse(g.len()));
    out.push_str("<section id=\"failures\"><h2>Failing pairs, grouped by their reasons</h2>\n");
    for g in groups.iter().take(MAX_GROUPS) {
        group(out, report, g);
    }
    if groups.len() > MAX_GROUPS {
        let _ = writeln!(
            out,
            "<p class=\"hint\">… and {} more groups: the matrix shows each of their pairs.</p>",
            groups.len() - MAX_GROUPS
        );
    }
    out.push_str("</section>\n");
}

fn group(out: &mut String, report: &Report, members: &[usize]) {
    out.push_str("<div class=\"group\">\n<p class=\"members\">");
    let links: Vec<String> = members
        .iter()
        .take(GROUP_PAIRS)
        .map(|&i| pair_link(&report.pairs[i], i))
        .collect();
    out.push_str(&links.join(", "));
    if members.len() > GROUP_PAIRS {
        let _ = write!(out, " and {} more", members.len() - GROUP_PAIRS);
    }
    out.push_str("</p>\n<ul class=\"reasons\">\n");
    for reason in &report.pairs[members[0]].verdict.reasons {
        let _ = writeln!(
            out,
            "<li><span class=\"kind\">{}</span> {}</li>",
            reason.kind(),
            text(&reason.to_string())
        );
    }
    out.push_str("</ul>\n</div>\n");
}

/// A pair's name that selects it in the panel when clicked.
fn pair_link(row: &PairRow, i: usize) -> String {
    format!(
        "<a href=\"#pairs\" data-i=\"{i}\">{} → {}</a>",
        text(&row.from),
        text(&row.to)
    )
}

/// Pairs that passed but are worth a look: those that fail as the lab expects, and those
/// that needed a retry or lost pings within --max-loss.
fn remarked(out: &mut String, report: &Report) {
    let rows: Vec<(usize, &PairRow)> = report
        .pairs
        .iter()
        .enumerate()
        .filter(|(_, r)| r.verdict.passed())
        .filter(|(_, r)| r.verdict.expected_failure.is_some() || !r.verdict.remarks.is_empty())
        .collect();
    if rows.is_empty() {
        return;
    }
    out.push_str(
        "<section id=\"remarks\"><h2>Passed, with a remark</h2>\n<ul class=\"remarked\">\n",
    );
    for (i, row) in rows.iter().take(MAX_REMARKED) {
        let v = &row.verdict;
        let words: Vec<String> = v
            .expected_failure
            .iter()
            .map(|e| format!("fails as the lab expects: {e}"))
            .chain(v.remarks.iter().cloned())
            .collect();
        let _ = writeln!(
            out,
            "<li><span class=\"swatch\" data-verdict=\"{}\"></span>{} {}</li>",
            Verdict::of(v).as_str(),
            pair_link(row, *i),
            text(&words.join("; "))
        );
    }
    if rows.len() > MAX_REMARKED {
        let _ = writeln!(out, "<li>… and {} more</li>", rows.len() - MAX_REMARKED);
    }
    out.push_str("</ul>\n</section>\n");
}

fn notes(out: &mut String, report: &Report) {
    out.push_str("<section id=\"notes\"><h2>Notes</h2>\n<ul class=\"notes\">\n");
    for note in &report.notes {
        let _ = writeln!(out, "<li class=\"warning\">{}</li>", text(note));
    }
    if report.undissectable > 0 {
        let _ = writeln!(
            out,
            "<li class=\"warning\">{} captured frame(s) could not be dissected</li>",
            report.undissectable
        );
    }
    for line in [report.start.describe(), report.throughput()] {
        let _ = writeln!(out, "<li>{}</li>", text(&line));
    }
    out.push_str("</ul>\n</section>\n");
}

fn captures(out: &mut String, report: &Report) {
    let written = report.captures.iter().filter(|c| c.pcap.is_some()).count();
    let _ = writeln!(
        out,
        "<section id=\"captures\"><details><summary><h2>Capture points: {}, {written} pcap \
         file(s)</h2></summary>",
        report.captures.len()
    );
    match &report.lab_pcap {
        Some(p) => {
            let _ = writeln!(
                out,
                "<p>Every point in one file, in time order: <code>{}</code> (opens in Wireshark)</p>",
                text(&p.display().to_string())
            );
        }
        None => out.push_str(
            "<p class=\"hint\">No pcap files were kept: run verify with <code>--pcap DIR</code> \
             to keep one per capture point.</p>\n",
        ),
    }
    out.push_str("<table class=\"captures\"><thead><tr><th>point</th><th>frames</th><th>dropped</th><th>pcap</th></tr></thead><tbody>\n");
    for c in &report.captures {
        let pcap = c.pcap.as_ref().map(|p| p.display().to_string());
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            text(&c.point.to_string()),
            c.frames,
            c.dropped,
            text(pcap.as_deref().unwrap_or("-"))
        );
    }
    out.push_str("</tbody></table>\n</details></section>\n");
}
