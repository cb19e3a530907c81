use super::*;
use crate::verify::export::fixture::{self, unrouted};
use crate::verify::reason::Reason;
use std::collections::BTreeMap;

/// Every cell with a pair, as `FROM>TO` and its verdict.
fn cells(page: &str) -> BTreeMap<String, String> {
    let re = regex::Regex::new(r#"<td [^>]*data-pair="([^"]*)" data-verdict="([^"]*)""#).unwrap();
    re.captures_iter(page)
        .map(|c| (c[1].replace("&gt;", ">"), c[2].to_string()))
        .collect()
}

fn embedded(page: &str) -> serde_json::Value {
    let start = page.find("id=\"cnilab-data\">").unwrap() + "id=\"cnilab-data\">".len();
    let end = start + page[start..].find("</script>").unwrap();
    serde_json::from_str(&page[start..end]).unwrap()
}

#[test]
fn every_pair_has_a_cell_and_exactly_the_failing_ones_say_fail() {
    let fx = fixture::vxlan(4, 1);
    let broken = |a: &str, b: &str| matches!((a, b), ("pod1", "pod2") | ("pod2", "pod1"));
    let report = fixture::report(&fx.lab, |a, b| match broken(a, b) {
        true => unrouted(a, b),
        false => vec![],
    });
    let page = render(&report, &fx.lab, &fx.graph());
    let cells = cells(&page);
    assert_eq!(cells.len(), 12, "{cells:?}");
    for (pair, verdict) in &cells {
        let (a, b) = pair.split_once('>').unwrap();
        let want = if broken(a, b) { "fail" } else { "pass" };
        assert_eq!(verdict, want, "{pair}");
    }
    assert_eq!(page.matches("<td class=\"self").count(), 4, "the diagonal");
    assert!(page.contains("10/12 pairs passed"), "the summary");
    let data = embedded(&page);
    assert_eq!(data["pairs"].as_array().unwrap().len(), 12);
}

#[test]
fn the_graph_outlines_the_failing_pods_hosts_and_their_links() {
    let fx = fixture::vxlan(4, 1);
    let report = fixture::report(&fx.lab, |a, b| match (a, b) {
        ("pod1", "pod2") => unrouted(a, b),
        _ => vec![],
    });
    let page = render(&report, &fx.lab, &fx.graph());
    let css = &page[..page.find("</style>").unwrap()];
    for node in ["pod1", "pod2", "host1", "host2"] {
        assert!(
            css.contains(&format!("[data-node=\"{node}\"] > rect")),
            "{node}"
        );
    }
    assert!(
        !css.contains("[data-node=\"host3\"]"),
        "host3 has no failing pair"
    );
    let marked: Vec<&str> = page
        .lines()
        .filter(|l| l.contains("class=\"link fail\""))
        .collect();
    assert!(
        marked
            .iter()
            .any(|l| l.contains("<title>host1:pod1-veth - pod1:eth1</title>")),
        "{marked:#?}"
    );
    assert!(
        marked
            .iter()
            .all(|l| !l.contains("host3") && !l.contains("host4")),
        "{marked:#?}"
    );
}

#[test]
fn same_host_pairs_are_marked() {
    let fx = fixture::vxlan(2, 2);
    let report = fixture::report(&fx.lab, |_, _| vec![]);
    let page = render(&report, &fx.lab, &fx.graph());
    assert_eq!(cells(&page).len(), 12);
    let same: Vec<&str> = page
        .lines()
        .flat_map(|l| l.split("<td "))
        .filter(|c| c.contains("data-pair=") && c.contains("data-same-host"))
        .collect();
    assert_eq!(
        same.len(),
        4,
        "pod1-1>pod1-2 and back, on each host: {same:#?}"
    );
    assert!(same
        .iter()
        .all(|c| c.contains("data-pair=\"pod1-1&gt;pod1-2\"")
            || c.contains("data-pair=\"pod1-2&gt;pod1-1\"")
            || c.contains("data-pair=\"pod2-1&gt;pod2-2\"")
            || c.contains("data-pair=\"pod2-2&gt;pod2-1\"")));
    assert!(
        page.contains("<tr class=\"hb\">"),
        "a line between the hosts' blocks"
    );
}

#[test]
fn names_and_reasons_are_escaped_everywhere() {
    let fx = fixture::vxlan(2, 1);
    let evil = "</script><img src=x onerror=alert(1)> & \"q\" 'a'";
    let mut report = fixture::report(&fx.lab, |a, _| match a {
        "pod1" => vec![Reason::Programmed {
            node: "host1".into(),
            detail: evil.into(),
        }],
        _ => vec![],
    });
    report.lab = "<b>lab</b>".into();
    report.findings.push(format!("finding {evil}"));
    report.warnings.push(crate::verify::report::Warning {
        kind: "programmed",
        node: "gw1".into(),
        message: format!("warning {evil}"),
    });
    report.notes.push(format!("note {evil}"));
    let page = render(&report, &fx.lab, &fx.graph());
    assert!(!page.contains("<img"), "markup from the lab stays text");
    assert!(!page.contains("<b>lab</b>"));
    assert!(page.contains("&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt; &amp; \"q\" 'a'"));
    assert!(page.contains("<section id=\"warnings\">") && page.contains("warning &lt;/script&gt;"));
    assert!(
        page.contains("[data-node=\"gw1\"] > rect { stroke: #bf8700"),
        "warned, not failing"
    );
    assert_eq!(
        page.matches("</script>").count(),
        2,
        "only the page's own two scripts close"
    );
    let data = embedded(&page);
    let strings: Vec<&str> = data["strings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s.as_str())
        .collect();
    assert!(
        strings.iter().any(|s| s.contains(evil)),
        "the JSON keeps the text as it was"
    );
}

#[test]
fn the_page_loads_nothing_from_elsewhere() {
    let fx = fixture::vxlan(3, 1);
    let page = render(
        &fixture::report(&fx.lab, |_, _| vec![]),
        &fx.lab,
        &fx.graph(),
    );
    for outside in ["<link", " src=", "@import", "url(", "https://"] {
        assert!(!page.contains(outside), "{outside}");
    }
    // The SVG namespace is a name, not an address anything is loaded from.
    assert_eq!(
        page.matches("http://").count(),
        page.matches("http://www.w3.org/2000/svg").count()
    );
    assert!(page.contains("Content-Security-Policy\" content=\"default-src 'none'"));
}

#[test]
fn beyond_64_hosts_a_canvas_draws_the_same_data() {
    let fx = fixture::vxlan(DOM_MAX_HOSTS + 1, 1);
    let report = fixture::report(&fx.lab, |a, b| match (a, b) {
        ("pod3", "pod7") => unrouted(a, b),
        _ => vec![],
    });
    let page = render(&report, &fx.lab, &fx.graph());
    assert!(page.contains("<canvas id=\"matrix-canvas\""));
    assert!(!page.contains("data-pair="));
    let data = embedded(&page);
    let pairs = data["pairs"].as_array().unwrap();
    assert_eq!(pairs.len(), 65 * 64);
    let fail = data["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .position(|v| v == "fail")
        .unwrap();
    let failing: Vec<(String, String)> = pairs
        .iter()
        .filter(|p| p[2] == fail)
        .map(|p| {
            let pod = |i: &serde_json::Value| {
                data["pods"][i.as_u64().unwrap() as usize]
                    .as_str()
                    .unwrap()
                    .to_string()
            };
            (pod(&p[0]), pod(&p[1]))
        })
        .collect();
    assert_eq!(failing, [("pod3".to_string(), "pod7".to_string())]);
}

/// The worst a 254-host report can be: every one of its 64,262 pairs failing (64,516 cells with the diagonal), each with
/// reasons and a wire of its own text.
#[test]
fn a_254_host_report_stays_within_15_mb() {
    let fx = fixture::vxlan(254, 1);
    let all_fail = fixture::report(&fx.lab, unrouted);
    assert_eq!(all_fail.pairs.len(), 254 * 253);
    let page = render(&all_fail, &fx.lab, &fx.graph());
    assert!(page.len() <= 15_000_000, "{} bytes", page.len());
    let data = embedded(&page);
    let trimmed = data["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p[10] == 1)
        .count();
    assert!(trimmed > 0, "this much text cannot all fit");
    assert!(
        page.contains("more groups: the matrix shows"),
        "the failure list is cut"
    );

    let all_pass = fixture::report(&fx.lab, |_, _| vec![]);
    let page = render(&all_pass, &fx.lab, &fx.graph());
    assert!(page.len() <= 15_000_000, "{} bytes", page.len());
    let data = embedded(&page);
    assert!(
        data["pairs"].as_array().unwrap().iter().all(|p| p[10] == 0),
        "a passing lab's wires all fit"
    );
}

#[test]
fn an_inferred_plan_is_said_in_the_header() {
    let fx = fixture::vxlan(2, 1);
    let mut report = fixture::report(&fx.lab, |_, _| vec![]);
    let page = render(&report, &fx.lab, &fx.graph());
    assert!(!page.contains("plan inferred"));
    report.inferred = Some("vxlan (VNI 1, UDP 4789), 2 hosts, 2 pods, 2 routers".into());
    let page = render(&report, &fx.lab, &fx.graph());
    assert!(
        page.contains("<li>plan inferred from the file's links and exec lines <b>vxlan (VNI 1, UDP 4789), 2 hosts, 2 pods, 2 routers</b></li>"),
        "{page}"
    );
}
