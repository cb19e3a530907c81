//! `verify --html` and `verify --junit`: the page rendered in a real browser (headless
//! Chromium) and the JUnit file validated against the common JUnit schema (xmllint), for a
//! lab with a broken route and for made-up reports of every kind. The tools come from
//! `scripts/install-deps.sh --test-tools`; a test without them fails, naming what to install.

mod common;

use cnilab::graph::LabGraph;
use cnilab::lab::Lab;
use cnilab::topology::Topology;
use cnilab::verify::judge::{Loss, Outcome, PairVerdict};
use cnilab::verify::reason::{ProbeName, Reason};
use cnilab::verify::report::{PairRow, Report, Start};
use common::verify::*;
use common::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

const XSD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/schema/junit-10.xsd");

/// A tool the test needs, by any of its names: missing, the test fails and says how to get it.
fn require_tool(names: &[&str], package: &str) -> PathBuf {
    names
        .iter()
        .find_map(|n| which::which(n).ok())
        .unwrap_or_else(|| {
            panic!(
                "this test needs {} (Debian package {package}): run scripts/install-deps.sh --test-tools",
                names.join(" or ")
            )
        })
}

fn chromium() -> PathBuf {
    if let Some(path) = std::env::var_os("CNILAB_CHROMIUM") {
        return PathBuf::from(path);
    }
    let names = [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ];
    require_tool(&names, "chromium")
}

/// The page's DOM after its script ran, as headless Chromium serialises it. Chromium talks
/// to nothing but the file: no background networking, updates, sync or first-run pages.
fn dump_dom(page: &Path) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new("timeout")
        .arg("120")
        .arg(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
        ])
        .args([
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "chromium failed on {}: {}",
        page.display(),
        stderr(&out)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Every element's attributes in the dump, by tag, decoded.
fn elements(dom: &str, tag: &str) -> Vec<BTreeMap<String, String>> {
    let re = regex::Regex::new(&format!(r#"<{tag}\b([^>]*)>"#)).unwrap();
    let attr = regex::Regex::new(r#"([a-zA-Z-]+)(?:="([^"]*)")?"#).unwrap();
    re.captures_iter(dom)
        .map(|c| {
            attr.captures_iter(&c[1])
                .map(|a| {
                    (
                        a[1].to_string(),
                        decode(a.get(2).map_or("", |v| v.as_str())),
                    )
                })
                .collect()
        })
        .collect()
}

fn decode(s: &str) -> String {
    s.replace("&gt;", ">")
        .replace("&lt;", "<")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

/// How long the page took, from the start of loading to the end of its script.
fn ready_ms(dom: &str) -> u64 {
    let html = elements(dom, "html").remove(0);
    let ms = html
        .get("data-ready-ms")
        .expect("the page's script ran to its end");
    ms.parse().unwrap()
}

fn xmllint(file: &Path) {
    let tool = require_tool(&["xmllint"], "libxml2-utils");
    let out = Command::new(tool)
        .args(["--noout", "--schema", XSD])
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{} does not validate against the JUnit schema: {}",
        file.display(),
        stderr(&out)
    );
}

#[test]
fn vendored_junit_schema_is_the_file_its_source_names() {
    let recorded = include_str!("schema/junit-10.xsd.SOURCE")
        .lines()
        .find_map(|l| l.strip_prefix("sha256: "))
        .expect("the SOURCE file records a sha256");
    let out = Command::new("sha256sum").arg(XSD).output().unwrap();
    let sum = String::from_utf8_lossy(&out.stdout);
    assert_eq!(sum.split_whitespace().next(), Some(recorded.trim()));
}

/// The issue's check: a 4-host VXLAN lab whose host1 lost its route to host2's pods. The
/// page has a cell for each of the 12 pairs and says fail on exactly the pairs verify
/// failed; the JUnit file has 12 test cases, one failure per failing pair with its reasons.
#[test]
fn a_broken_route_fails_the_same_pairs_in_the_page_and_in_junit() {
    require_root();
    chromium();
    require_tool(&["xmllint"], "libxml2-utils");
    let lab = deployed("vxlan", 4, "vrep");
    exec(&lab, "host1", "ip route del 172.16.1.0/24");
    let html = lab.dir.path().join("report.html");
    let junit = lab.dir.path().join("junit.xml");
    let (code, report) = verify(
        &lab,
        &[
            "--html",
            html.to_str().unwrap(),
            "--junit",
            junit.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 1, "{report:#}");
    let failed: BTreeSet<String> = report["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["passed"] == false)
        .map(|p| {
            format!(
                "{}>{}",
                p["from"].as_str().unwrap(),
                p["to"].as_str().unwrap()
            )
        })
        .collect();
    assert!(failed.contains("pod1>pod2"), "{failed:?}");

    let dom = dump_dom(&html);
    let cells: Vec<_> = elements(&dom, "td")
        .into_iter()
        .filter(|a| a.contains_key("data-pair"))
        .collect();
    assert_eq!(cells.len(), 12, "one cell per pair");
    let fail_cells: BTreeSet<String> = cells
        .iter()
        .filter(|a| a["data-verdict"] == "fail")
        .map(|a| a["data-pair"].clone())
        .collect();
    assert_eq!(
        fail_cells, failed,
        "the cells that say fail are the pairs verify failed"
    );
    assert!(
        cells
            .iter()
            .any(|a| a.get("class").is_some_and(|c| c.contains("selected"))),
        "the page's script ran and put a failing pair in the panel"
    );

    xmllint(&junit);
    assert_junit_matches(&std::fs::read_to_string(&junit).unwrap(), &report);
}

/// 12 test cases, and a failure exactly for each failing pair, carrying every reason.
fn assert_junit_matches(xml: &str, report: &Value) {
    let doc = roxmltree::Document::parse(xml).unwrap();
    let cases: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), 12);
    for p in report["pairs"].as_array().unwrap() {
        let name = format!(
            "{} -> {}",
            p["from"].as_str().unwrap(),
            p["to"].as_str().unwrap()
        );
        let case = cases
            .iter()
            .find(|c| c.attribute("name") == Some(name.as_str()))
            .unwrap();
        let failures: Vec<_> = case
            .children()
            .filter(|n| n.has_tag_name("failure"))
            .collect();
        if p["passed"] == true {
            assert!(failures.is_empty(), "{name} passed");
            continue;
        }
        assert_eq!(failures.len(), 1, "{name}");
        let why = reasons(p);
        assert_eq!(failures[0].attribute("message"), Some(why[0].as_str()));
        let body = failures[0].text().unwrap_or_default();
        for reason in &why {
            assert!(body.contains(reason.as_str()), "{name}: {reason} in {body}");
        }
    }
}

/// A lab from `cnilab gen`, read back as verify reads it.
fn generated(hosts: usize) -> (Topology, Lab) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("clab.yaml");
    let name = format!("made{hosts}");
    let args = [
        "gen",
        "--mode",
        "vxlan",
        "--hosts",
        &hosts.to_string(),
        "--name",
        &name,
        "-o",
    ];
    cnilab().args(args).arg(&file).assert().success();
    let topo = Topology::load(&file).unwrap();
    let lab = Lab::from_topology(&topo).unwrap();
    (topo, lab)
}

/// Every ordered pod pair; `verdict` makes each pair's verdict from its pods.
fn made_up(lab: &Lab, verdict: impl Fn(&str, &str) -> PairVerdict) -> Report {
    let pairs = lab
        .pods
        .iter()
        .flat_map(|a| {
            lab.pods
                .iter()
                .filter(move |b| b.node != a.node)
                .map(move |b| (a, b))
        })
        .map(|(a, b)| PairRow {
            from: a.node.clone(),
            to: b.node.clone(),
            family: cnilab::family::Family::Ipv4,
            from_ip: a.v4().into(),
            to_ip: b.v4().into(),
            verdict: verdict(&a.node, &b.node),
        })
        .collect();
    Report {
        families: vec![cnilab::family::Family::Ipv4],
        lab: lab.name.clone(),
        inferred: None,
        mode: lab.mode(),
        hosts: lab.hosts.len(),
        start: Start::Cold { phases: 4 },
        probed: cnilab::verify::PairChoice::All,
        pairs,
        findings: vec![],
        warnings: vec![],
        strict: false,
        captures: vec![],
        lab_pcap: None,
        undissectable: 0,
        notes: vec![],
        elapsed_ms: 1234,
        services: vec![],
        peak_memory_kib: None,
    }
}

fn verdict(reasons: Vec<Reason>) -> PairVerdict {
    PairVerdict {
        rtt: reasons
            .is_empty()
            .then(|| std::time::Duration::from_micros(345)),
        wire: "VXLAN vni 1 10.0.1.2>10.0.2.2 [172.16.0.2>172.16.1.2]".into(),
        reasons,
        loss: Loss { sent: 13, lost: 0 },
        remarks: vec![],
        expected_failure: None,
    }
}

fn no_reply() -> Reason {
    Reason::ProbeFailed {
        probe: ProbeName::Ping,
        outcome: Outcome::NoReply { attempts: 3 },
    }
}

/// Each kind of test case the writer makes (passed, failed, skipped, passed with output, a
/// lab-wide finding, a warning failed by --strict), with markup and control characters in
/// its text, is valid JUnit.
#[test]
fn every_kind_of_test_case_validates_against_the_junit_schema() {
    let (_, lab) = generated(3);
    let mut report = made_up(&lab, |a, b| match (a, b) {
        ("pod1", "pod2") => verdict(vec![
            no_reply(),
            Reason::Programmed {
                node: "host1".into(),
                detail: "<route> & \"quotes\" ]]> \u{1b}[0m".into(),
            },
        ]),
        _ => verdict(vec![]),
    });
    report.pairs[1].verdict.expected_failure = Some("a policy refuses it".into());
    report.pairs[2].verdict.remarks = vec!["ping passed on retry: answered on attempt 2".into()];
    report
        .findings
        .push("plain IPv4 172.16.0.2 > 172.16.1.2 on gw1-eth1 <untagged>".into());
    report.warnings.push(cnilab::verify::report::Warning {
        kind: "programmed",
        node: "host2".into(),
        message: "host2 routes 172.16.0.0/16 & not /24 <summary>".into(),
    });
    report.strict = true;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("junit.xml");
    std::fs::write(&file, cnilab::verify::export::junit::render(&report, &lab)).unwrap();
    xmllint(&file);
}

/// At 254 hosts the page draws its 64,262 pairs on a canvas, stays within 15 MB, and
/// Chromium has it ready within 2 s of starting to load it, even with every pair failing.
#[test]
fn a_254_host_page_is_ready_in_chromium_within_2_s() {
    chromium();
    let (topo, lab) = generated(254);
    let graph = LabGraph::from_topology(&topo, &lab);
    let dir = tempfile::tempdir().unwrap();
    for (name, failing) in [("pass", false), ("fail", true)] {
        let report = made_up(&lab, |a, b| match failing {
            true => verdict(vec![
                no_reply(),
                Reason::Programmed {
                    node: a.into(),
                    detail: format!("no route to {b}'s pods"),
                },
            ]),
            false => verdict(vec![]),
        });
        let page = cnilab::verify::export::html::render(&report, &lab, &graph);
        assert!(page.len() <= 15_000_000, "{name}: {} bytes", page.len());
        let file = dir.path().join(format!("{name}.html"));
        std::fs::write(&file, &page).unwrap();
        // The best of three loads: a test machine busy with other tests can slow one.
        let mut times = Vec::new();
        let dom = loop {
            let dom = dump_dom(&file);
            times.push(ready_ms(&dom));
            if times.last() < Some(&2000) || times.len() == 3 {
                break dom;
            }
        };
        assert!(
            times.last() < Some(&2000),
            "{name}: ready after {times:?} ms"
        );
        assert!(dom.contains("<canvas id=\"matrix-canvas\""), "{name}");
    }
}

#[test]
fn report_files_are_checked_before_anything_is_probed() {
    let lab = LabGuard::gen("vxlan", 2, &unique("vrepchk"));
    let dir = lab.dir.path();
    let missing = dir.join("no/such/folder/r.html");
    let same = dir.join("r.out");
    let topo = lab.file.to_str().unwrap().to_string();
    for (args, says) in [
        (vec!["--html", missing.to_str().unwrap()], "does not exist"),
        (vec!["--junit", &topo], "the lab's topology file"),
        (
            vec![
                "--html",
                same.to_str().unwrap(),
                "--junit",
                same.to_str().unwrap(),
            ],
            "both name",
        ),
    ] {
        let mut all = vec!["verify"];
        all.extend(args);
        let out = lab.run(&all);
        assert_eq!(out.status.code(), Some(2), "{all:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{all:?}: {}", stderr(&out));
    }
    for command in ["verify", "up"] {
        let out = cnilab().args([command, "--help"]).output().unwrap();
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(
            help.contains("--html <FILE>") && help.contains("--junit <FILE>"),
            "{command}: {help}"
        );
    }
}
