//! `gen --ip-family`: IPv6 and dual-stack labs. What is built validates and deploys, and pods on
//! different hosts reach each other with iputils' `ping -6`; what is not built is refused at
//! gen; verify refuses these labs rather than judge one family and pass the other unchecked.

mod common;

use cnilab::family::IpFamily;
use cnilab::plan::{Flavor, LabSpec, Mode, Plan};
use cnilab::render::{render, Templates};
use common::{cnilab, require_root, stderr, LabGuard};
use serde_json::Value;
use std::process::Command;

fn plan(mode: Mode, family: IpFamily, hosts: usize, lab: Option<&str>) -> Plan {
    flavored(mode, Flavor::Article, family, hosts, lab)
}

fn flavored(mode: Mode, flavor: Flavor, family: IpFamily, hosts: usize, lab: Option<&str>) -> Plan {
    Plan::from_spec(&LabSpec {
        ip_family: family,
        flavor,
        ..LabSpec::article(mode, hosts, lab)
    })
    .unwrap()
}

fn as_json(text: &str) -> Value {
    let yaml: serde_yaml_ng::Value = serde_yaml_ng::from_str(text).expect("output is YAML");
    serde_json::to_value(yaml).expect("YAML maps onto JSON")
}

fn exec_lines(json: &Value, node: &str) -> Vec<String> {
    json["topology"]["nodes"][node]["exec"]
        .as_array()
        .unwrap_or_else(|| panic!("{node} has exec lines"))
        .iter()
        .map(|l| l.as_str().unwrap().to_string())
        .collect()
}

const BUILT: [(Mode, IpFamily); 5] = [
    (Mode::HostGw, IpFamily::Dual),
    (Mode::HostGw, IpFamily::Ipv6),
    (Mode::Vxlan, IpFamily::Dual),
    (Mode::Vxlan, IpFamily::Ipv6),
    (Mode::Ipip, IpFamily::Dual),
];

#[test]
fn ipv6_and_dual_labs_validate_against_containerlabs_schema() {
    let schema: Value = serde_json::from_str(include_str!("schema/clab.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let flavors = [Flavor::Article, Flavor::Flannel, Flavor::Calico];
    let built = BUILT.into_iter().flat_map(|b| flavors.map(|f| (b, f)));
    // Cilium's dual stack: IPv6 pods over its IPv4 underlay.
    let built = built.chain([((Mode::Vxlan, IpFamily::Dual), Flavor::Cilium)]);
    // Calico has no host-gw flavor: its dual-stack and IPv6 labs are its VXLAN and IPIP ones.
    for ((mode, family), flavor) in built.filter(|((m, _), f)| Flavor::valid_for(*m).contains(f)) {
        for hosts in [2, 3, 20] {
            let p = flavored(mode, flavor, family, hosts, None);
            let json = as_json(&render(&p, Templates::Embedded).unwrap());
            let errors: Vec<String> = validator
                .iter_errors(&json)
                .map(|e| format!("{e} at {}", e.instance_path))
                .take(5)
                .collect();
            assert!(
                errors.is_empty(),
                "{mode} {flavor} {family} x{hosts}: {errors:#?}"
            );
            for (node, def) in json["topology"]["nodes"].as_object().unwrap() {
                for line in def["exec"].as_array().into_iter().flatten() {
                    let line = line.as_str().expect("every exec line is a string");
                    let words = shlex::split(line).unwrap_or_default();
                    assert!(
                        !words.is_empty() && words.iter().all(|w| !w.contains(' ')),
                        "{mode} {family} {node}: `{line}` needs a shell"
                    );
                }
            }
        }
    }
}

#[test]
fn an_ipv6_lab_has_no_ipv4_address_and_a_dual_one_has_both() {
    for mode in [Mode::HostGw, Mode::Vxlan] {
        let six =
            as_json(&render(&plan(mode, IpFamily::Ipv6, 3, None), Templates::Embedded).unwrap());
        let lines = exec_lines(&six, "host1").join("\n") + &exec_lines(&six, "pod1").join("\n");
        assert!(!lines.contains("ip addr add"), "{mode} ipv6: {lines}");
        assert!(lines.contains("ip -6 addr add"), "{mode} ipv6: {lines}");
        assert!(lines.contains("accept_dad=0") && lines.contains("router_solicitations=0"));
        // Each interface's IPv6 goes off and on again once (see ipv6_quiet); nothing stays off.
        assert!(
            !lines.contains("all.disable_ipv6=1"),
            "{mode} ipv6 keeps IPv6 on"
        );
        assert_eq!(
            lines.matches("disable_ipv6=1").count(),
            lines.matches("disable_ipv6=0").count(),
            "{mode}: {lines}"
        );
        let pod = &six["topology"]["nodes"]["pod1"]["labels"];
        assert_eq!(pod["cnilab.ip-family"], "ipv6");
        assert!(
            pod.get("cnilab.pod-ip").is_none(),
            "{mode}: no IPv4 pod label"
        );
        let dual =
            as_json(&render(&plan(mode, IpFamily::Dual, 3, None), Templates::Embedded).unwrap());
        let lines = exec_lines(&dual, "pod1").join("\n");
        assert!(
            lines.contains("ip addr add") && lines.contains("ip -6 addr add"),
            "{lines}"
        );
    }
}

/// The rule of docs/address-plan.md: a.b.c.d of the IPv4 plan is fd00:a:b:c::d.
#[test]
fn the_ipv6_plan_mirrors_the_ipv4_plan() {
    let p = plan(Mode::Vxlan, IpFamily::Dual, 3, None);
    let h = &p.hosts[1];
    let v6 = h.v6.as_ref().unwrap();
    assert_eq!(h.underlay_ip.to_string(), "10.0.2.2");
    assert_eq!(v6.underlay_ip.to_string(), "fd00:10:0:2::2");
    assert_eq!(v6.pod_subnet.to_string(), "fd00:172:16:1::/64");
    assert_eq!(v6.vtep_ip.unwrap().to_string(), "fd00:172:16:1::");
    assert_eq!(h.pods[0].ip6.unwrap().to_string(), "fd00:172:16:1::2");
    assert_eq!(v6.router_wan_ip.unwrap().to_string(), "fd00:192:168::100");
    assert_eq!(p.pod_mtu, 1430, "VXLAN over IPv6 costs 70 bytes");
    assert_eq!(plan(Mode::HostGw, IpFamily::Ipv6, 2, None).pod_mtu, 1500);
    assert_eq!(plan(Mode::Vxlan, IpFamily::Ipv4, 2, None).pod_mtu, 1450);
    let gw = plan(Mode::HostGw, IpFamily::Ipv6, 2, None);
    assert_eq!(
        gw.hosts[1].v6.as_ref().unwrap().underlay_ip.to_string(),
        "fd00:192:168::200"
    );
}

#[test]
fn ipip_in_ipv6_is_refused_with_the_command_to_use() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("clab.yaml");
    let out = cnilab()
        .args([
            "gen",
            "--mode",
            "ipip",
            "--hosts",
            "3",
            "--ip-family",
            "ipv6",
            "-o",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("IPIP carries IPv4 only"), "{err}");
    assert!(
        err.contains("cnilab gen --mode vxlan --ip-family ipv6 --hosts 3"),
        "{err}"
    );
    assert!(!file.exists(), "nothing half-made is left");
}

#[test]
fn what_is_not_built_is_refused_at_gen_with_a_reason() {
    let refused: [&[&str]; 2] = [
        &[
            "--mode",
            "ipip",
            "--flavor",
            "calico",
            "--underlay",
            "racks:2",
            "--ip-family",
            "dual",
        ],
        &[
            "--mode",
            "vxlan",
            "--flavor",
            "cilium",
            "--ip-family",
            "ipv6",
        ],
    ];
    for args in refused {
        let out = cnilab()
            .arg("gen")
            .args(args)
            .args(["--hosts", "4", "-o", "-"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = stderr(&out);
        assert!(err.contains("is not built for"), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    let bad = cnilab()
        .args([
            "gen",
            "--mode",
            "vxlan",
            "--hosts",
            "2",
            "--ip-family",
            "ipv5",
            "-o",
            "-",
        ])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn ipv4_stays_the_default() {
    let default = cnilab()
        .args(["gen", "--mode", "vxlan", "--hosts", "3", "-o", "-"])
        .output()
        .unwrap();
    let asked = cnilab()
        .args([
            "gen",
            "--mode",
            "vxlan",
            "--hosts",
            "3",
            "--ip-family",
            "ipv4",
            "-o",
            "-",
        ])
        .output()
        .unwrap();
    assert!(default.status.success());
    assert_eq!(default.stdout, asked.stdout);
    let text = String::from_utf8(default.stdout).unwrap();
    assert!(text.contains("disable_ipv6=1") && !text.contains("ip -6"));
}

/// verify judges every family (tests/verify_dual_stack.rs, tests/verify_ipv6.rs), trace walks
/// every family (tests/trace_dual_stack.rs) and bench measures every family
/// (tests/bench_dual_stack.rs): bench reads an IPv6-only or dual-stack lab, and what stops it
/// here is only that the lab is not up.
#[test]
fn bench_takes_ipv6_and_dual_labs() {
    for family in ["ipv6", "dual"] {
        let lab = LabGuard::gen_with(
            "ds-ref-",
            &["--mode", "vxlan", "--hosts", "2", "--ip-family", family],
        );
        let out = lab.run(&["bench"]);
        assert_eq!(out.status.code(), Some(2), "bench: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("is not up; deploy it first"),
            "bench {family}: {err}"
        );
    }
}

/// Pings `to` from the pod namespace `from` with iputils, IPv6 or IPv4, for at most 5 s.
fn pings(from: &str, to: &str, six: bool) -> bool {
    let family = if six { "-6" } else { "-4" };
    Command::new("ip")
        .args(["netns", "exec", from, "ping", family, "-c1", "-w5", to])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Every pod pings every pod on another host in each family the lab carries; returns the pairs
/// that failed.
fn failed_pairs(lab: &LabGuard, p: &Plan) -> Vec<String> {
    let pods: Vec<_> = p
        .hosts
        .iter()
        .flat_map(|h| h.pods.iter().map(move |pod| (h.index, pod)))
        .collect();
    let ns = |name: &str| format!("clab-{}-{name}", lab.name);
    let mut failed = Vec::new();
    for (hi, from) in &pods {
        for (hj, to) in pods.iter().filter(|(hj, _)| hj != hi) {
            let six = to.ip6.unwrap().to_string();
            if !pings(&ns(&from.name), &six, true) {
                failed.push(format!(
                    "{} -> {} ({six}), host {hi} -> {hj}",
                    from.name, to.name
                ));
            }
            if p.ipv4 && !pings(&ns(&from.name), &to.ip.to_string(), false) {
                failed.push(format!("{} -> {} ({})", from.name, to.name, to.ip));
            }
        }
    }
    failed
}

fn deploys_and_pings(mode: Mode, family: IpFamily) -> LabGuard {
    deploys_and_pings_as(mode, Flavor::Article, family)
}

fn deploys_and_pings_as(mode: Mode, flavor: Flavor, family: IpFamily) -> LabGuard {
    require_root();
    let args = [
        "--mode",
        mode.as_str(),
        "--flavor",
        flavor.as_str(),
        "--hosts",
        "3",
        "--ip-family",
        family.as_str(),
    ];
    let lab = LabGuard::deployed_with("ds-", &args);
    let p = flavored(mode, flavor, family, 3, Some(&lab.name));
    let failed = failed_pairs(&lab, &p);
    assert!(failed.is_empty(), "{mode} {family}: {failed:#?}");
    for node in ["pod1", "host1"] {
        let tentative = Command::new("ip")
            .args([
                "-n",
                &format!("clab-{}-{node}", lab.name),
                "-6",
                "addr",
                "show",
                "tentative",
            ])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&tentative.stdout);
        assert!(text.is_empty(), "{node} has tentative addresses: {text}");
    }
    lab
}

#[test]
fn host_gw_dual_deploys_and_pings_in_both_families() {
    deploys_and_pings(Mode::HostGw, IpFamily::Dual);
}

#[test]
fn host_gw_ipv6_deploys_and_pings6() {
    deploys_and_pings(Mode::HostGw, IpFamily::Ipv6);
}

/// inspect shows both families' addresses.
#[test]
fn vxlan_dual_deploys_and_pings_in_both_families() {
    let lab = deploys_and_pings(Mode::Vxlan, IpFamily::Dual);
    let out = lab.run(&["inspect"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let pod2 = text
        .lines()
        .find(|l| l.starts_with("pod2 "))
        .unwrap_or_default();
    assert!(
        pod2.contains("172.16.1.2") && pod2.contains("fd00:172:16:1::2"),
        "{text}"
    );
}

/// tcpdump on host1's underlay sees what the mode promises: `IP6 … > ….4789: VXLAN`.
#[test]
fn vxlan_ipv6_deploys_pings6_and_tcpdump_sees_vxlan_over_ipv6() {
    assert!(
        which::which("tcpdump").is_ok(),
        "this test needs tcpdump on PATH: run scripts/install-deps.sh"
    );
    let lab = deploys_and_pings(Mode::Vxlan, IpFamily::Ipv6);
    let host1 = format!("clab-{}-host1", lab.name);
    let mut dump = Command::new("ip")
        .args([
            "netns", "exec", &host1, "timeout", "10", "tcpdump", "-nn", "-l", "-i", "eth1",
        ])
        .args(["-c", "1", "udp", "port", "4789"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // tcpdump says "listening on" once its socket is bound (after a line about verbosity).
    let err = std::io::BufReader::new(dump.stderr.take().unwrap());
    let started = std::io::BufRead::lines(err)
        .take(3)
        .map_while(Result::ok)
        .any(|l| l.contains("listening on"));
    assert!(started, "tcpdump did not start");
    let p = plan(Mode::Vxlan, IpFamily::Ipv6, 3, Some(&lab.name));
    let pod2 = p.hosts[1].pods[0].ip6.unwrap().to_string();
    assert!(pings(&format!("clab-{}-pod1", lab.name), &pod2, true));
    let out = dump.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let underlay = p.hosts[0].v6.as_ref().unwrap().underlay_ip.to_string();
    assert!(
        text.contains(&format!("IP6 {underlay}.")) && text.contains(".4789: VXLAN"),
        "tcpdump saw: {text}"
    );
}

/// flannel's dual-stack VXLAN: flannel.1 and flannel-v6.1 on port 8472 with static peers
/// (permanent neighbour and FDB entries, no flooding), IPv6 VTEP MACs of their own.
#[test]
fn flannel_vxlan_dual_deploys_and_pings_in_both_families() {
    let lab = deploys_and_pings_as(Mode::Vxlan, Flavor::Flannel, IpFamily::Dual);
    let host1 = format!("clab-{}-host1", lab.name);
    let neigh = Command::new("ip")
        .args([
            "-n",
            &host1,
            "-6",
            "neigh",
            "show",
            "dev",
            "flannel-v6.1",
            "nud",
            "permanent",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&neigh.stdout);
    assert!(
        text.contains("fd00:172:16:1:: lladdr 02:cb:00:00:06:02"),
        "{text}"
    );
}

#[test]
fn flannel_vxlan_ipv6_deploys_and_pings6() {
    deploys_and_pings_as(Mode::Vxlan, Flavor::Flannel, IpFamily::Ipv6);
}

#[test]
fn flannel_host_gw_dual_deploys_and_pings_in_both_families() {
    deploys_and_pings_as(Mode::HostGw, Flavor::Flannel, IpFamily::Dual);
}

fn racked(underlay: &str, family: IpFamily, hosts: usize) -> Plan {
    Plan::from_spec(&LabSpec {
        ip_family: family,
        underlay: Some(underlay.parse().unwrap()),
        ..LabSpec::article(Mode::HostGw, hosts, None)
    })
    .unwrap()
}

/// The IPv6 twin of an IPv4 exec line by the plan's one rule: `ip addr add a.b.c.d/24 dev D`
/// is `ip -6 addr add fd00:a:b:c::d/64 dev D nodad`, and `ip route add N via G` is
/// `ip -6 route add six(N) via six(G)`.
fn six_of(line: &str) -> Option<String> {
    let six = |v4: &str| {
        let (addr, len) = v4.split_once('/').map_or((v4, None), |(a, l)| (a, Some(l)));
        let a = cnilab::family::six(addr.parse().ok()?);
        Some(match len {
            Some(_) if line.starts_with("ip addr") => format!("{a}/64"),
            Some(_) => format!("{}", cnilab::family::six_net(v4.parse().ok()?)),
            None => a.to_string(),
        })
    };
    let w: Vec<&str> = line.split(' ').collect();
    match w.as_slice() {
        ["ip", "addr", "add", a, "dev", d] => {
            Some(format!("ip -6 addr add {} dev {d} nodad", six(a)?))
        }
        ["ip", "route", verb, n, "via", g, rest @ ..] if *n != "default" => Some(
            format!(
                "ip -6 route {verb} {} via {} {}",
                six(n)?,
                six(g)?,
                rest.join(" ")
            )
            .trim_end()
            .to_string(),
        ),
        ["ip", "route", verb, "default", "via", g, rest @ ..] => Some(
            format!(
                "ip -6 route {verb} default via {} {}",
                six(g)?,
                rest.join(" ")
            )
            .trim_end()
            .to_string(),
        ),
        _ => None,
    }
}

/// host-gw on a routed or racks underlay: routers and hosts get IPv6 by the same rule as
/// IPv4, line for line, nothing special-cased; ipv6 drops the IPv4 lines and keeps the rest.
#[test]
fn racked_host_gw_routes_ipv6_line_for_line_as_ipv4() {
    let schema: Value = serde_json::from_str(include_str!("schema/clab.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    for (underlay, hosts) in [("routed", 3), ("racks:2", 5), ("routed", 20)] {
        let v4 = as_json(
            &render(
                &racked(underlay, IpFamily::Ipv4, hosts),
                Templates::Embedded,
            )
            .unwrap(),
        );
        for family in [IpFamily::Dual, IpFamily::Ipv6] {
            let p = racked(underlay, family, hosts);
            let json = as_json(&render(&p, Templates::Embedded).unwrap());
            assert!(
                validator.is_valid(&json),
                "{underlay} {family} x{hosts} is schema-valid"
            );
            let nodes = v4["topology"]["nodes"].as_object().unwrap();
            for (node, def) in nodes.iter().filter(|(_, d)| d.get("exec").is_some()) {
                if node.starts_with("pod") || node == "outside" {
                    continue;
                }
                let got = exec_lines(&json, node);
                for line in def["exec"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|l| l.as_str().unwrap())
                {
                    let Some(twin) = six_of(line) else { continue };
                    assert!(
                        got.contains(&twin),
                        "{underlay} {family} {node}: no `{twin}` for `{line}`"
                    );
                    let kept = got.iter().any(|l| l == line);
                    assert_eq!(
                        kept,
                        family == IpFamily::Dual,
                        "{underlay} {family} {node}: `{line}`"
                    );
                }
            }
            assert!(
                p.racks.iter().all(|r| r.v6.is_some()),
                "{underlay} {family}: racks have IPv6"
            );
        }
    }
    let p = racked("routed", IpFamily::Dual, 3);
    let r = p.racks[1].v6.as_ref().unwrap();
    assert_eq!(p.racks[1].gateway.to_string(), "192.168.2.1");
    assert_eq!(r.gateway.to_string(), "fd00:192:168:2::1");
    assert_eq!(r.subnet.to_string(), "fd00:192:168:2::/64");
}

/// host-gw on racks:2 at 3 hosts (hosts 1 and 2 in rack 1, host 3 in rack 2), as the IPv4 lab
/// promises in each family: rack mates' pods ping, pods across racks do not (the routers know
/// no pod prefix), and the routers route IPv6 between the racks' hosts.
fn racked_deploys_and_pings(family: IpFamily) {
    require_root();
    let args = [
        "--mode",
        "host-gw",
        "--underlay",
        "racks:2",
        "--hosts",
        "3",
        "--ip-family",
        family.as_str(),
    ];
    let lab = LabGuard::deployed_with("r29-", &args);
    let p = racked("racks:2", family, 3);
    let failed = failed_pairs(&lab, &p);
    let across = |line: &String| line.contains("pod3");
    assert!(
        failed.iter().all(across),
        "{family}: rack mates fail: {failed:#?}"
    );
    let per_family = if family == IpFamily::Dual { 2 } else { 1 };
    assert_eq!(
        failed.len(),
        4 * per_family,
        "{family}: every cross-rack pair fails: {failed:#?}"
    );
    let host3 = p.hosts[2].v6.as_ref().unwrap().underlay_ip.to_string();
    assert!(
        pings(&format!("clab-{}-host1", lab.name), &host3, true),
        "{family}: host1 reaches host3 ({host3}) through the routers in IPv6"
    );
}

#[test]
fn host_gw_racks_dual_deploys_and_pings_in_both_families() {
    racked_deploys_and_pings(IpFamily::Dual);
}

#[test]
fn host_gw_racks_ipv6_deploys_and_pings6() {
    racked_deploys_and_pings(IpFamily::Ipv6);
}

/// flannel's and Calico's VXLAN on racks in dual and IPv6, with DirectRouting or CrossSubnet
/// and without: the file validates, and each host routes a peer's IPv6 pods as it routes their
/// IPv4 ones, plain via the rack mate where the lab is hybrid (with felix's protocol in
/// Calico's), through the IPv6 VTEP otherwise. Only the VTEPs a host tunnels to get its
/// neighbour and FDB entries in flannel; Calico programs every VTEP's.
#[test]
fn vxlan_on_racks_routes_ipv6_as_it_routes_ipv4() {
    let schema: Value = serde_json::from_str(include_str!("schema/clab.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    for (flavor, hybrid) in [Flavor::Flannel, Flavor::Calico]
        .into_iter()
        .flat_map(|f| [(f, false), (f, true)])
    {
        for family in [IpFamily::Dual, IpFamily::Ipv6] {
            let p = Plan::from_spec(&LabSpec {
                flavor,
                ip_family: family,
                underlay: Some("racks:2".parse().unwrap()),
                direct_routing: hybrid && flavor == Flavor::Flannel,
                cross_subnet: hybrid && flavor == Flavor::Calico,
                ..LabSpec::article(Mode::Vxlan, 5, None)
            })
            .unwrap();
            let json = as_json(&render(&p, Templates::Embedded).unwrap());
            let what = format!("{flavor} {family} hybrid={hybrid}");
            assert!(validator.is_valid(&json), "{what} is schema-valid");
            assert_ipv6_rack_routes(&p, &json, hybrid, &what);
        }
    }
}

fn assert_ipv6_rack_routes(p: &Plan, json: &Value, hybrid: bool, what: &str) {
    let dev = p.tunnel6_dev.expect("an IPv6 VXLAN lab has its IPv6 VTEP");
    let proto = match p.flavor {
        Flavor::Calico => " onlink proto 80",
        _ => "",
    };
    for h in &p.hosts {
        let lines = exec_lines(json, &h.name);
        for peer in p.hosts.iter().filter(|q| q.index != h.index) {
            let v6 = peer.v6.as_ref().unwrap();
            let plain = hybrid && peer.rack == h.rack;
            let route = match plain {
                true => format!(
                    "ip -6 route add {} via {} dev {}{proto}",
                    v6.pod_subnet, v6.underlay_ip, h.underlay_if
                ),
                false => format!(
                    "ip -6 route add {} via {} dev {dev} onlink",
                    v6.pod_subnet,
                    v6.vtep_ip.unwrap()
                ),
            };
            assert!(lines.contains(&route), "{what} {}: no `{route}`", h.name);
            let neigh = format!("ip -6 neigh add {} ", v6.vtep_ip.unwrap());
            let has_neigh = lines.iter().any(|l| l.starts_with(&neigh));
            let wants_neigh = !plain || p.flavor == Flavor::Calico;
            assert_eq!(has_neigh, wants_neigh, "{what} {} -> {}", h.name, peer.name);
        }
    }
}

/// A dual ipip lab, both flavors: IPv4 in the IPIP device at underlay − 20, IPv6 in
/// `vxlan-v6.calico` (VNI 4096, UDP 4789, underlay − 70) with a permanent neighbour and FDB
/// entry per peer, the router routing both families, and the pods at the smaller MTU.
#[test]
fn a_dual_ipip_lab_tunnels_ipv6_in_calicos_ipv6_vxlan() {
    for (flavor, dev) in [(Flavor::Article, "tunl1"), (Flavor::Calico, "tunl0")] {
        let p = flavored(Mode::Ipip, flavor, IpFamily::Dual, 3, None);
        let json = as_json(&render(&p, Templates::Embedded).unwrap());
        let host = exec_lines(&json, "host1").join("\n");
        for line in [
            format!("ip link set dev {dev} mtu 1480"),
            "ip link add vxlan-v6.calico type vxlan id 4096 dev eth1 local fd00:10:0:1::2 dstport 4789 nolearning".into(),
            "ip link set dev vxlan-v6.calico mtu 1430".into(),
            "ip -6 route add fd00:172:16:2::/64 via fd00:172:16:2:: dev vxlan-v6.calico onlink".into(),
            "ip -6 neigh add fd00:172:16:1:: lladdr 02:cb:00:00:06:02 dev vxlan-v6.calico nud permanent".into(),
            "bridge fdb add 02:cb:00:00:06:03 dst fd00:10:0:3::2 dev vxlan-v6.calico self permanent".into(),
            "ip -6 route replace default via fd00:10:0:1::1 dev eth1".into(),
        ] {
            assert!(host.contains(&line), "{flavor}: no `{line}` in\n{host}");
        }
        assert!(
            !host.contains("vxlan.calico "),
            "{flavor}: IPv4 goes in IPIP"
        );
        let gw = exec_lines(&json, "gw").join("\n");
        assert!(
            gw.contains("ip -6 addr add fd00:10:0:3::1/64 dev eth3 nodad"),
            "{gw}"
        );
        assert!(gw.contains("net.ipv6.conf.all.forwarding=1"), "{gw}");
        let labels = &json["topology"]["nodes"]["host2"]["labels"];
        assert_eq!(labels["cnilab.encap6"], "vxlan");
        assert_eq!(labels["cnilab.vni"], "4096");
        assert_eq!(labels["cnilab.tunnel6-dev"], "vxlan-v6.calico");
        assert_eq!(
            json["topology"]["nodes"]["pod3"]["labels"]["cnilab.mtu"],
            "1430"
        );
    }
}
