//! `gen --services` end to end (netns runtime): for host-gw, vxlan and flannel's vxlan, with
//! kube-proxy's iptables and nftables modes, verify proves every Service; and each way of
//! breaking kube-proxy's rules or an endpoint makes verify fail naming it. Root only; without
//! root these tests fail loudly rather than pass.

mod common;

use common::services::*;
use common::verify::verify;
use common::*;
use serde_json::Value;

#[test]
fn host_gw_iptables_services_pass() {
    healthy("svc-hi", &["--mode", "host-gw"], "iptables");
}

#[test]
fn host_gw_nftables_services_pass() {
    healthy("svc-hn", &["--mode", "host-gw"], "nftables");
}

#[test]
fn vxlan_iptables_services_pass() {
    healthy("svc-vi", &["--mode", "vxlan"], "iptables");
}

#[test]
fn vxlan_nftables_services_pass() {
    healthy("svc-vn", &["--mode", "vxlan"], "nftables");
}

#[test]
fn flannel_vxlan_iptables_services_pass() {
    healthy(
        "svc-fi",
        &["--mode", "vxlan", "--flavor", "flannel"],
        "iptables",
    );
}

#[test]
fn flannel_vxlan_nftables_services_pass() {
    healthy(
        "svc-fn",
        &["--mode", "vxlan", "--flavor", "flannel"],
        "nftables",
    );
}

fn broken(prefix: &str, policy: &str, fault: impl Fn(&LabGuard)) -> (LabGuard, Value) {
    let lab = services_lab(
        prefix,
        &[
            "--mode",
            "vxlan",
            "--hosts",
            "3",
            "--services",
            "2",
            "--external-traffic-policy",
            policy,
        ],
    );
    fault(&lab);
    let (code, report) = verify(&lab, &[]);
    assert_eq!(code, 1, "a broken lab must fail: {report:#}");
    (lab, report)
}

/// The KUBE-SEP chain on `host` that DNATs svc1's TCP to `endpoint` (172.16.x.2:8001).
fn sep_of(lab: &LabGuard, host: &str, endpoint: &str) -> String {
    let path = format!("{}.cnilab/kube-proxy/{host}/rules.v4", lab.name);
    let rules = std::fs::read_to_string(lab.dir.path().join(path)).unwrap();
    let dnat = format!("-j DNAT --to-destination {endpoint}:8001");
    let line = rules
        .lines()
        .find(|l| l.contains(&dnat) && l.contains("-p tcp"))
        .unwrap();
    line.split_whitespace().nth(1).unwrap().to_string()
}

fn delete_dnat(lab: &LabGuard, host: &str, endpoint: &str) {
    let sep = sep_of(lab, host, endpoint);
    exec(lab, host, &format!("iptables -t nat -D {sep} -m comment --comment default/svc1:tcp -p tcp -m tcp -j DNAT --to-destination {endpoint}:8001"));
}

/// svc1 selects pod1 (172.16.0.2) and pod2 (172.16.1.2). Without host2's DNAT to pod1, its
/// KUBE-SEP returns and KUBE-SVC goes on to pod2: pod1 is never reached from host2. Without
/// host3's DNAT to pod2, the last endpoint, host3 lets the VIP out on the underlay. host2's
/// pods send 11 probes, then 4 × 11 more when one endpoint stayed unreached.
#[test]
fn a_deleted_dnat_rule_is_caught_and_named() {
    let (_lab, report) = broken("svc-dn", "cluster", |lab| {
        delete_dnat(lab, "host2", "172.16.0.2");
        delete_dnat(lab, "host3", "172.16.1.2");
    });
    assert_eq!(row(&report, "svc1", "pod")["passed"], false);
    let text = messages(&report);
    let sep = sep_of(&_lab, "host2", "172.16.0.2");
    assert!(
        text.contains(&format!("svc1 (10.96.0.11:80)/tcp: pod1 never answered host2's pods over 55 probes: check host2's {sep} DNAT to 172.16.0.2:8001")),
        "{text}"
    );
    assert!(
        text.contains("svc1 (10.96.0.11:80)/tcp from pod3: host3 did not DNAT it; the VIP crossed the underlay"),
        "{text}"
    );
    assert_eq!(row(&report, "svc2", "pod")["passed"], true, "{report:#}");
}

#[test]
fn masquerade_removed_from_kube_postrouting_is_caught() {
    let (_lab, report) = broken("svc-mq", "cluster", |lab| {
        for host in ["host1", "host2", "host3"] {
            exec(lab, host, "iptables -t nat -D KUBE-POSTROUTING 3");
        }
    });
    let r = row(&report, "svc1", "outside");
    assert_eq!(r["passed"], false, "{report:#}");
    let kinds: Vec<&str> = r["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    // UDP answers come back un-NATed from the endpoint itself, which saw outside's address.
    assert!(kinds.contains(&"wrong-source"), "{r:#}");
    assert!(kinds.contains(&"reply-not-un-nated"), "{r:#}");
    let text = messages(&report);
    assert!(text.contains("saw the source 192.168.0.254"), "{text}");
    assert!(
        text.contains("check KUBE-MARK-MASQ and the MASQUERADE in KUBE-POSTROUTING"),
        "{text}"
    );
}

#[test]
fn a_dnat_to_the_wrong_port_is_caught() {
    let (_lab, report) = broken("svc-wp", "cluster", |lab| {
        let sep = sep_of(lab, "host1", "172.16.0.2");
        exec(
            lab,
            "host1",
            &format!(
                "iptables -t nat -R {sep} 2 -p tcp -m tcp -j DNAT --to-destination 172.16.0.2:8999"
            ),
        );
    });
    assert_eq!(row(&report, "svc1", "pod")["passed"], false);
    let text = messages(&report);
    assert!(
        text.contains("svc1 (10.96.0.11:80)/tcp from pod1: no answer"),
        "{text}"
    );
}

#[test]
fn an_endpoint_whose_listener_is_down_is_caught() {
    let (_lab, report) = broken("svc-ld", "cluster", |lab| {
        exec(
            lab,
            "pod2",
            "iptables -A INPUT -p tcp --dport 8001 -j REJECT --reject-with tcp-reset",
        );
        exec(
            lab,
            "pod2",
            "iptables -A INPUT -p udp --dport 8001 -j REJECT",
        );
    });
    assert_eq!(row(&report, "svc1", "pod")["passed"], false);
    assert_eq!(
        row(&report, "svc2", "pod")["passed"],
        true,
        "svc2 listens on 8002: {report:#}"
    );
    assert!(messages(&report).contains("no answer"));
    // The JUnit file fails the same Service, and validates against the JUnit schema.
    let junit = _lab.dir.path().join("verify.xml");
    let out = _lab.run(&["verify", "--junit", junit.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let xml = std::fs::read_to_string(&junit).unwrap();
    let svc1 = xml
        .split("<testcase name=\"svc1 from pod\"")
        .nth(1)
        .expect("a case for svc1");
    let svc1 = svc1.split("</testcase>").next().unwrap();
    assert!(
        svc1.contains("<failure message=\"svc1 (10.96.0.11:80)/"),
        "{svc1}"
    );
    let svc2 = xml
        .split("<testcase name=\"svc2 from pod\"")
        .nth(1)
        .expect("a case for svc2");
    assert!(
        !svc2
            .split("</testcase>")
            .next()
            .unwrap()
            .contains("<failure"),
        "{xml}"
    );
    let xmllint = which::which("xmllint")
        .expect("xmllint (libxml2-utils): run scripts/install-deps.sh --test-tools");
    let xsd = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/schema/junit-10.xsd");
    let out = std::process::Command::new(xmllint)
        .args(["--noout", "--schema", xsd])
        .arg(&junit)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn local_policy_passes_with_the_nodes_without_an_endpoint_as_expected_failures() {
    let lab = services_lab(
        "svc-lo",
        &[
            "--mode",
            "host-gw",
            "--hosts",
            "3",
            "--services",
            "2",
            "--external-traffic-policy",
            "local",
        ],
    );
    let (code, report) = verify(&lab, &[]);
    assert_eq!(code, 0, "{report:#}");
    let r = row(&report, "svc1", "outside");
    let failures: Vec<&str> = r["expected_failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    // svc1's endpoints are pod1 and pod2: host3 has none, over TCP and UDP.
    assert_eq!(
        failures,
        [
            "svc1 NodePort host3:30001/tcp from outside",
            "svc1 NodePort host3:30001/udp from outside"
        ]
    );
    for s in r["sources_seen"].as_array().unwrap() {
        assert_eq!(
            s["source"], "192.168.0.254",
            "local keeps outside's address: {r:#}"
        );
    }
    let out = lab.run(&["verify"]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("expected failure: svc1 NodePort host3:30001/tcp"),
        "{table}"
    );
}

/// `trace pod VIP:PORT` walks the probe through the DNAT and back through conntrack's reverse
/// NAT, naming the rule and the conntrack entry, in both kube-proxy modes.
#[test]
fn trace_walks_through_the_dnat_with_its_rule_and_conntrack_entry() {
    for (prefix, kube_proxy, rule) in [
        ("svc-ti", "iptables", "-j DNAT --to-destination"),
        ("svc-tn", "nftables", "# handle "),
    ] {
        let lab = services_lab(
            prefix,
            &[
                "--mode",
                "vxlan",
                "--hosts",
                "3",
                "--services",
                "2",
                "--kube-proxy",
                kube_proxy,
            ],
        );
        // pod3 is not among svc1's endpoints (pod1, pod2): the probe must cross to another host.
        let out = lab.run(&["trace", "--json", "pod3", "10.96.0.11:80"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let walk: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(walk["replied"], true, "{walk:#}");
        let endpoint = walk["endpoint"].as_str().unwrap();
        assert!(["pod1", "pod2"].contains(&endpoint), "{walk:#}");
        let sightings = walk["sightings"].as_array().unwrap();
        let first = &sightings[0];
        assert_eq!(first["at"], "pod3:eth1");
        assert_eq!(first["dst"], "10.96.0.11:80");
        let dnat = sightings
            .iter()
            .find(|s| {
                s["rewritten"]
                    .as_str()
                    .is_some_and(|r| r.starts_with("DNAT"))
            })
            .expect("a DNAT sighting");
        assert!(
            dnat["at"].as_str().unwrap().starts_with("host3:"),
            "{dnat:#}"
        );
        // Nothing with the VIP crosses the underlay, and the reply reaches pod3 from the VIP.
        for s in sightings.iter().filter(|s| !s["outer"].is_null()) {
            assert_ne!(s["dst"], "10.96.0.11:80", "{s:#}");
        }
        let last = sightings.last().unwrap();
        assert_eq!(
            (last["at"].as_str(), last["src"].as_str()),
            (Some("pod3:eth1"), Some("10.96.0.11:80"))
        );
        assert!(sightings.iter().any(|s| s["rewritten"]
            .as_str()
            .is_some_and(|r| r.starts_with("reverse NAT"))));
        let rule_text = walk["rule"].as_str().unwrap();
        assert!(
            rule_text.starts_with("host3: ") && rule_text.contains(rule),
            "{rule_text}"
        );
        let ct = walk["conntrack"].as_str().unwrap();
        assert!(
            ct.contains("src=172.16.2.2 dst=10.96.0.11") && ct.contains("dport=80"),
            "{ct}"
        );
        let text = lab.run(&["trace", "pod3", "10.96.0.11:80"]);
        let text = String::from_utf8_lossy(&text.stdout);
        assert!(
            text.contains("(DNAT: destination 10.96.0.11:80 → 172.16."),
            "{text}"
        );
    }
}

/// With br_netfilter, a pod's packet DNATed back to itself goes out the bridge port it came
/// in on: without the bridge plugin's hairpinMode it is lost, and verify's hairpin probes say so.
#[test]
fn a_bridge_port_without_hairpin_mode_is_caught() {
    let (_lab, report) = broken("svc-hp", "cluster", |lab| {
        exec(
            lab,
            "host1",
            "ip link set dev pod1-veth type bridge_slave hairpin off",
        );
    });
    let r = row(&report, "svc1", "pod");
    assert_eq!(r["passed"], false, "{r:#}");
    let text = messages(&report);
    assert!(
        text.contains("svc1 (10.96.0.11:80)/tcp from pod1: no answer"),
        "{text}"
    );
    assert!(
        !r["hairpins"]
            .as_array()
            .is_some_and(|h| h.iter().any(|p| p == "pod1")),
        "{r:#}"
    );
}

/// `--kube-proxy nftables` on a machine without `nft`: deploy fails before making anything,
/// naming the package to install.
#[test]
fn nftables_without_nft_fails_at_deploy_naming_the_package() {
    require_root();
    let bin = tempfile::tempdir().unwrap();
    // Every program of the machine but nft.
    for dir in ["/usr/sbin", "/usr/bin", "/sbin", "/bin"] {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name();
            let link = bin.path().join(&name);
            if name != "nft" && !link.exists() {
                let _ = std::os::unix::fs::symlink(e.path(), link);
            }
        }
    }
    let name = unique("svc-nn");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("clab.yaml");
    let args = [
        "--mode",
        "host-gw",
        "--hosts",
        "2",
        "--services",
        "1",
        "--kube-proxy",
        "nftables",
    ];
    let out = cnilab()
        .arg("gen")
        .args(args)
        .args(["--name", &name, "-o"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let lab = LabGuard {
        name,
        file,
        dir,
        env: Vec::new(),
    };
    let out = cnilab()
        .env("PATH", bin.path())
        .args(["deploy", "-t"])
        .arg(&lab.file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("`nft` is not on PATH") && err.contains("install nftables"),
        "{err}"
    );
    assert!(
        lab.namespaces().is_empty(),
        "nothing is made: {:?}",
        lab.namespaces()
    );
}

/// `up --services` generates, deploys and verifies a lab with Services in one go.
#[test]
fn up_with_services_generates_deploys_and_verifies() {
    require_root();
    let name = unique("svc-up");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("clab.yaml");
    let out = cnilab()
        .current_dir(dir.path())
        .args([
            "up",
            "--mode",
            "host-gw",
            "--hosts",
            "2",
            "--services",
            "1",
            "--name",
            &name,
            "-o",
        ])
        .arg(&file)
        .output()
        .unwrap();
    let _lab = LabGuard {
        name: name.clone(),
        file: file.clone(),
        dir,
        env: Vec::new(),
    };
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("3/3 Service checks passed"), "{table}");
    assert!(_lab
        .dir
        .path()
        .join(format!("{name}.cnilab/kube-proxy/host1/rules.v4"))
        .exists());
}

/// Services on underlays with routers: host-gw across routers with BGP carrying the pod
/// routes, and flannel's VXLAN with DirectRouting over racks; `outside` joins the WAN.
#[test]
fn services_pass_on_routed_underlays() {
    healthy(
        "svc-rb",
        &[
            "--mode",
            "host-gw",
            "--underlay",
            "routed",
            "--routing",
            "bgp",
        ],
        "nftables",
    );
    healthy(
        "svc-rk",
        &[
            "--mode",
            "vxlan",
            "--flavor",
            "flannel",
            "--underlay",
            "racks:2",
            "--direct-routing",
        ],
        "iptables",
    );
}
