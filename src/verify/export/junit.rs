//! `verify --junit FILE`: the verdicts as JUnit XML, the format CI systems show as test
//! results. One test suite per address family, one test case per pair named `FROM -> TO`, a
//! `<failure>` with every reason, `<skipped>` for a pair that fails as the lab expects. It
//! follows the schema Jenkins' xunit plugin publishes (tests/schema/junit-10.xsd), which
//! GitHub's and GitLab's JUnit readers accept.

use super::escape::{attr, text};
use super::{pair_pcaps, Family, Verdict};
use crate::lab::Lab;
use crate::verify::report::{PairRow, Report};
use std::collections::BTreeMap;
use std::fmt::Write;

/// The names of the suites that hold the lab-wide findings and warnings, which belong to no
/// pair.
pub const FINDINGS_SUITE: &str = "lab-wide findings";
pub const WARNINGS_SUITE: &str = "lab-wide warnings";

pub fn render(report: &Report, lab: &Lab) -> String {
    let mut by_family: BTreeMap<Family, Vec<&PairRow>> = BTreeMap::new();
    for row in &report.pairs {
        by_family.entry(row.family).or_default().push(row);
    }
    let failing_warnings = if report.strict {
        report.warnings.len()
    } else {
        0
    };
    let failures = report.pairs.iter().filter(|r| !r.verdict.passed()).count()
        + report.findings.len()
        + failing_warnings
        + report.services.iter().filter(|s| !s.passed).count();
    let tests =
        report.pairs.len() + report.findings.len() + report.warnings.len() + report.services.len();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" time=\"{}\">",
        attr(&format!("cnilab verify {}", report.lab)),
        seconds(report.elapsed_ms),
    );
    for (family, rows) in &by_family {
        suite(&mut out, report, lab, *family, rows);
    }
    lab_wide(&mut out, report, lab);
    services(&mut out, report, lab);
    out.push_str("</testsuites>\n");
    out
}

/// `gen --services`: a case per Service, family and kind of client, failing with every reason; the
/// expected failures (NodePorts without a local endpoint) are said in its output.
fn services(out: &mut String, report: &Report, lab: &Lab) {
    if report.services.is_empty() {
        return;
    }
    let failures = report.services.iter().filter(|s| !s.passed).count();
    let _ = writeln!(
        out,
        "  <testsuite name=\"services\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\">",
        report.services.len()
    );
    properties(out, report, lab);
    // A lab with IPv6 names each case's family in its class, as the pairs' suites do.
    let six = report.services.iter().any(|r| r.family == Family::Ipv6);
    for row in &report.services {
        let class = match six {
            true => attr(&format!("{}.services.{}", report.lab, row.family.as_str())),
            false => attr(&format!("{}.services", report.lab)),
        };
        let client = serde_json::to_value(row.client).unwrap_or_default();
        let name = format!(
            "{} from {}",
            row.service,
            client.as_str().unwrap_or_default()
        );
        let _ = writeln!(
            out,
            "    <testcase name=\"{}\" classname=\"{class}\">",
            attr(&name)
        );
        if !row.passed {
            let all: Vec<String> = row.reasons.iter().map(|r| r.to_string()).collect();
            let first = all.first().cloned().unwrap_or_default();
            let kind = row.reasons.first().map_or("failed", |r| r.kind());
            let _ = writeln!(
                out,
                "      <failure message=\"{}\" type=\"{}\">{}</failure>",
                attr(&first),
                attr(kind),
                text(&all.join("\n"))
            );
        }
        if !row.expected_failures.is_empty() {
            let said = format!("expected failures: {}", row.expected_failures.join(", "));
            let _ = writeln!(out, "      <system-out>{}</system-out>", text(&said));
        }
        out.push_str("    </testcase>\n");
    }
    out.push_str("  </testsuite>\n");
}

/// One family's pairs.
fn suite(out: &mut String, report: &Report, lab: &Lab, family: Family, rows: &[&PairRow]) {
    let count = |v: Verdict| rows.iter().filter(|r| Verdict::of(&r.verdict) == v).count();
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{}\">",
        family.as_str(),
        rows.len(),
        count(Verdict::Fail),
        count(Verdict::ExpectedFailure),
        seconds(report.elapsed_ms),
    );
    properties(out, report, lab);
    let class = format!("{}.{}", report.lab, family.as_str());
    for row in rows {
        testcase(out, report, lab, &class, row);
    }
    out.push_str("  </testsuite>\n");
}

/// What a CI reader needs to tell one run from another: the lab and how it was probed.
fn properties(out: &mut String, report: &Report, lab: &Lab) {
    let start = match report.start {
        crate::verify::report::Start::Cold { .. } => "cold",
        crate::verify::report::Start::Warm => "warm",
    };
    let probed = match report.probed {
        crate::verify::PairChoice::All => "all",
        crate::verify::PairChoice::PerHostPair => "per-host-pair",
    };
    out.push_str("    <properties>\n");
    let inferred = report.inferred.clone().map(|i| ("inferred", i));
    for (name, value) in [
        ("lab", report.lab.clone()),
        ("mode", report.mode.to_string()),
        ("flavor", lab.flavor.to_string()),
        ("hosts", report.hosts.to_string()),
        ("start", start.to_string()),
        ("pairs", probed.to_string()),
        ("cnilab", env!("CARGO_PKG_VERSION").to_string()),
    ]
    .into_iter()
    .chain(inferred)
    {
        let _ = writeln!(
            out,
            "      <property name=\"{name}\" value=\"{}\"/>",
            attr(&value)
        );
    }
    out.push_str("    </properties>\n");
}

fn testcase(out: &mut String, report: &Report, lab: &Lab, class: &str, row: &PairRow) {
    let _ = write!(
        out,
        "    <testcase name=\"{}\" classname=\"{}\"",
        attr(&format!("{} -> {}", row.from, row.to)),
        attr(class),
    );
    let v = &row.verdict;
    match Verdict::of(v) {
        Verdict::Fail => {
            let first = &v.reasons[0];
            let _ = writeln!(
                out,
                ">\n      <failure message=\"{}\" type=\"{}\">{}</failure>",
                attr(&first.to_string()),
                first.kind(),
                text(&failure_body(report, lab, row)),
            );
        }
        Verdict::ExpectedFailure => {
            let how = v.expected_failure.as_deref().unwrap_or_default();
            let _ = writeln!(
                out,
                ">\n      <skipped message=\"{}\"/>",
                attr(&format!("fails as the lab expects: {how}"))
            );
        }
        Verdict::Retry | Verdict::Pass if v.remarks.is_empty() => {
            out.push_str("/>\n");
            return;
        }
        Verdict::Retry | Verdict::Pass => out.push_str(">\n"),
    }
    if !v.remarks.is_empty() {
        let _ = writeln!(
            out,
            "      <system-out>{}</system-out>",
            text(&v.remarks.join("\n"))
        );
    }
    out.push_str("    </testcase>\n");
}

/// Every reason on a line of its own with its kind, then what the wire showed and where
/// the pair's captures are.
fn failure_body(report: &Report, lab: &Lab, row: &PairRow) -> String {
    let v = &row.verdict;
    let mut body = String::from("\n");
    for reason in &v.reasons {
        let _ = writeln!(body, "- {reason} [{}]", reason.kind());
    }
    let _ = writeln!(body, "wire: {}", v.wire);
    let rtt = v
        .rtt
        .map(|d| format!("{:.2} ms", d.as_secs_f64() * 1000.0))
        .unwrap_or_else(|| "-".into());
    let loss = match v.loss.sent {
        0 => "-".to_string(),
        sent => format!("{}/{sent}", v.loss.lost),
    };
    let _ = writeln!(body, "rtt: {rtt}; steady-state pings lost: {loss}");
    if let Some(how) = &v.expected_failure {
        let _ = writeln!(body, "expected to fail: {how}");
    }
    for pcap in pair_pcaps(report, lab, row) {
        let _ = writeln!(body, "pcap: {}", pcap.display());
    }
    if let Some(all) = &report.lab_pcap {
        let _ = writeln!(body, "pcap (every point): {}", all.display());
    }
    body.push_str("      ");
    body
}

/// Lab-wide findings and warnings, each a test case of a suite of its own, so that a CI
/// view fails exactly when verify does: a finding always fails, a warning only with
/// --strict (otherwise it passes, its text in the case's output).
fn lab_wide(out: &mut String, report: &Report, lab: &Lab) {
    let findings: Vec<(&str, &str)> = report
        .findings
        .iter()
        .map(|f| ("finding", f.as_str()))
        .collect();
    let warnings: Vec<(&str, &str)> = report
        .warnings
        .iter()
        .map(|w| (w.kind, w.message.as_str()))
        .collect();
    for (suite, items, fail) in [
        (FINDINGS_SUITE, findings, true),
        (WARNINGS_SUITE, warnings, report.strict),
    ] {
        if items.is_empty() {
            continue;
        }
        let (n, failures) = (items.len(), if fail { items.len() } else { 0 });
        let _ = writeln!(
            out,
            "  <testsuite name=\"{suite}\" tests=\"{n}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\">"
        );
        properties(out, report, lab);
        let class = attr(&format!("{}.lab", report.lab));
        for (i, (kind, message)) in items.iter().enumerate() {
            let _ = write!(
                out,
                "    <testcase name=\"{} {}\" classname=\"{class}\">\n      ",
                suite_item(suite),
                i + 1
            );
            let _ = match fail {
                true => writeln!(
                    out,
                    "<failure message=\"{}\" type=\"{}\">{}</failure>",
                    attr(message),
                    attr(kind),
                    text(message)
                ),
                false => writeln!(out, "<system-out>{}</system-out>", text(message)),
            };
            out.push_str("    </testcase>\n");
        }
        out.push_str("  </testsuite>\n");
    }
}

/// What one case of a lab-wide suite is called, with its number.
fn suite_item(suite: &str) -> &'static str {
    match suite {
        FINDINGS_SUITE => "finding",
        _ => "warning",
    }
}

/// Seconds with three decimals, the form the schema's SUREFIRE_TIME allows.
fn seconds(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::export::fixture::{self, unrouted};
    use crate::verify::reason::Reason;

    fn parse(xml: &str) -> roxmltree::Document<'_> {
        roxmltree::Document::parse(xml).unwrap_or_else(|e| panic!("{e}\n{xml}"))
    }

    fn case<'a>(doc: &'a roxmltree::Document<'a>, name: &str) -> roxmltree::Node<'a, 'a> {
        doc.descendants()
            .find(|n| n.has_tag_name("testcase") && n.attribute("name") == Some(name))
            .unwrap_or_else(|| panic!("no test case {name}"))
    }

    #[test]
    fn a_suite_per_family_a_case_per_pair_and_every_reason_in_the_failure() {
        let fx = fixture::vxlan(4, 1);
        let report = fixture::report(&fx.lab, |a, b| match (a, b) {
            ("pod1", "pod2") => unrouted(a, b),
            _ => vec![],
        });
        let xml = render(&report, &fx.lab);
        let doc = parse(&xml);
        let suites: Vec<_> = doc
            .descendants()
            .filter(|n| n.has_tag_name("testsuite"))
            .collect();
        assert_eq!(suites.len(), 1);
        assert_eq!(suites[0].attribute("name"), Some("ipv4"));
        assert_eq!(suites[0].attribute("tests"), Some("12"));
        assert_eq!(suites[0].attribute("failures"), Some("1"));
        let cases = doc
            .descendants()
            .filter(|n| n.has_tag_name("testcase"))
            .count();
        assert_eq!(cases, 12);
        let failure = case(&doc, "pod1 -> pod2")
            .children()
            .find(|n| n.has_tag_name("failure"))
            .unwrap();
        let reasons = &report
            .pairs
            .iter()
            .find(|r| r.from == "pod1" && r.to == "pod2")
            .unwrap()
            .verdict
            .reasons;
        assert_eq!(
            failure.attribute("message"),
            Some(reasons[0].to_string().as_str())
        );
        assert_eq!(failure.attribute("type"), Some("misfit"));
        let body = failure.text().unwrap();
        for r in reasons {
            assert!(body.contains(&r.to_string()), "{r} in {body}");
        }
        assert!(case(&doc, "pod2 -> pod1")
            .children()
            .all(|n| !n.is_element()));
        let props: Vec<(&str, &str)> = doc
            .descendants()
            .filter(|n| n.has_tag_name("property"))
            .map(|n| (n.attribute("name").unwrap(), n.attribute("value").unwrap()))
            .collect();
        for want in [
            ("lab", "fx"),
            ("mode", "vxlan"),
            ("flavor", "article"),
            ("hosts", "4"),
        ] {
            assert!(props.contains(&want), "{want:?} in {props:?}");
        }
    }

    #[test]
    fn expected_failures_are_skipped_retries_say_so_and_findings_fail() {
        let fx = fixture::vxlan(2, 1);
        let mut report = fixture::report(&fx.lab, |_, _| vec![]);
        report.pairs[0].verdict.expected_failure = Some("refused by a policy".into());
        report.pairs[1].verdict.remarks =
            vec!["first contact passed on retry: answered on attempt 2".into()];
        report.findings.push("plain IPv4 on gw1-eth1".into());
        report.warnings.push(crate::verify::report::Warning {
            kind: "programmed",
            node: "host1".into(),
            message: "host1 routes 172.16.1.0/24 via a summary route".into(),
        });
        let xml = render(&report, &fx.lab);
        let doc = parse(&xml);
        let skipped = case(&doc, "pod1 -> pod2")
            .children()
            .find(|n| n.has_tag_name("skipped"))
            .unwrap();
        assert!(skipped
            .attribute("message")
            .unwrap()
            .contains("refused by a policy"));
        let out = case(&doc, "pod2 -> pod1")
            .children()
            .find(|n| n.has_tag_name("system-out"))
            .unwrap();
        assert!(out.text().unwrap().contains("passed on retry"));
        let lab_wide = doc
            .descendants()
            .find(|n| n.has_tag_name("testsuite") && n.attribute("name") == Some(FINDINGS_SUITE))
            .unwrap();
        assert_eq!(lab_wide.attribute("failures"), Some("1"));
        let warning = case(&doc, "warning 1");
        assert!(
            warning.children().all(|n| !n.has_tag_name("failure")),
            "not without --strict"
        );
        let root = doc.root_element();
        assert_eq!(
            root.attribute("failures"),
            Some("1"),
            "the finding, not the skipped pair"
        );
        assert_eq!(root.attribute("tests"), Some("4"));
        report.strict = true;
        let xml = render(&report, &fx.lab);
        let doc = parse(&xml);
        let warning = case(&doc, "warning 1");
        assert!(
            warning.children().any(|n| n.has_tag_name("failure")),
            "--strict fails it"
        );
        assert_eq!(doc.root_element().attribute("failures"), Some("2"));
    }

    #[test]
    fn an_inferred_plan_is_a_property() {
        let fx = fixture::vxlan(2, 1);
        let mut report = fixture::report(&fx.lab, |_, _| vec![]);
        let has = |report: &Report| {
            let xml = render(report, &fx.lab);
            parse(&xml)
                .descendants()
                .filter(|n| n.has_tag_name("property"))
                .any(|n| n.attribute("name") == Some("inferred"))
        };
        assert!(!has(&report));
        report.inferred = Some("host-gw, 2 hosts, 2 pods, 0 routers".into());
        assert!(has(&report));
    }

    #[test]
    fn markup_and_control_characters_stay_text() {
        let fx = fixture::vxlan(2, 1);
        let evil = "a <b> & \"c\" ]]> \u{1}\u{1b}[31m\ttab\nline";
        let mut report = fixture::report(&fx.lab, |a, _| match a {
            "pod1" => vec![Reason::Programmed {
                node: "host1".into(),
                detail: evil.into(),
            }],
            _ => vec![],
        });
        report.lab = "l<&>\"".into();
        let xml = render(&report, &fx.lab);
        let doc = parse(&xml);
        let failure = doc
            .descendants()
            .find(|n| n.has_tag_name("failure"))
            .unwrap();
        let clean = "a <b> & \"c\" ]]> \u{fffd}\u{fffd}[31m\ttab\nline";
        assert!(
            failure.attribute("message").unwrap().ends_with(clean),
            "{xml}"
        );
        assert!(failure.text().unwrap().contains(clean));
        assert!(doc
            .root_element()
            .attribute("name")
            .unwrap()
            .ends_with("l<&>\""));
    }
}
