//! `gen --services S`: what it writes (a topology containerlab's schema accepts, kube-proxy's
//! rules beside it, labels the Lab reads back) and what it refuses, with exit 2 naming the flag.

mod common;

use cnilab::family::IpFamily;
use cnilab::gen::{generate_all, GenRequest, Generated};
use cnilab::lab::Lab;
use cnilab::plan::{Flavor, Mode};
use cnilab::routing::Routing;
use cnilab::services::{KubeProxy, ServicesSpec, TrafficPolicy};
use cnilab::topology::Topology;
use cnilab::underlay::Underlay;
use common::*;
use serde_json::Value;
use std::net::Ipv4Addr;

fn request(
    mode: Mode,
    flavor: Flavor,
    hosts: usize,
    services: ServicesSpec,
) -> GenRequest<'static> {
    GenRequest {
        mode,
        flavor,
        hosts,
        pods_per_host: 1,
        lab: Some("svcgen"),
        underlay: None,
        routing: Routing::Static,
        direct_routing: false,
        cross_subnet: false,
        ip_family: Default::default(),
        encryption: Default::default(),
        templates: None,
        services,
    }
}

fn spec(count: usize, kube_proxy: KubeProxy, policy: TrafficPolicy) -> ServicesSpec {
    ServicesSpec {
        count,
        kube_proxy,
        policy,
        ..ServicesSpec::default()
    }
}

/// Every mode and flavor that takes Services, at a few sizes, in both kube-proxy modes and
/// both policies.
fn every_lab() -> Vec<(String, Generated)> {
    let mut labs = Vec::new();
    for (mode, flavor) in [
        (Mode::HostGw, Flavor::Article),
        (Mode::HostGw, Flavor::Flannel),
        (Mode::Vxlan, Flavor::Article),
        (Mode::Vxlan, Flavor::Flannel),
        (Mode::Vxlan, Flavor::Calico),
        (Mode::Vxlan, Flavor::Cilium),
        (Mode::Ipip, Flavor::Article),
        (Mode::Ipip, Flavor::Calico),
    ] {
        for hosts in [2, 3, 20] {
            for kp in [KubeProxy::Iptables, KubeProxy::Nftables] {
                for policy in [TrafficPolicy::Cluster, TrafficPolicy::Local] {
                    let what = format!("{mode} {flavor} x{hosts} {kp} {policy}");
                    let generated =
                        generate_all(&request(mode, flavor, hosts, spec(2, kp, policy)))
                            .unwrap_or_else(|e| panic!("{what}: {e}"));
                    labs.push((what, generated));
                }
            }
        }
    }
    for (mode, flavor, underlay, routing) in [
        (
            Mode::HostGw,
            Flavor::Article,
            Underlay::Routed,
            Routing::Bgp,
        ),
        (
            Mode::HostGw,
            Flavor::Flannel,
            Underlay::Racks(2),
            Routing::Bgp,
        ),
        (
            Mode::Vxlan,
            Flavor::Flannel,
            Underlay::Racks(2),
            Routing::Static,
        ),
    ] {
        let what = format!("{mode} {flavor} {underlay} {routing:?}");
        let req = GenRequest {
            underlay: Some(underlay),
            routing,
            ..request(
                mode,
                flavor,
                4,
                spec(2, KubeProxy::Iptables, TrafficPolicy::Cluster),
            )
        };
        let generated = generate_all(&req).unwrap_or_else(|e| panic!("{what}: {e}"));
        labs.push((what, generated));
    }
    labs
}

fn schema() -> jsonschema::Validator {
    let text = include_str!("schema/clab.schema.json");
    let schema: Value = serde_json::from_str(text).expect("schema is JSON");
    jsonschema::validator_for(&schema).expect("schema compiles")
}

fn json(text: &str) -> Value {
    let yaml: serde_yaml_ng::Value = serde_yaml_ng::from_str(text).expect("output is YAML");
    serde_json::to_value(yaml).expect("YAML maps onto JSON")
}

#[test]
fn labs_with_services_validate_against_containerlabs_schema() {
    let validator = schema();
    for (what, generated) in every_lab() {
        let json = json(&generated.text);
        let errors: Vec<String> = validator
            .iter_errors(&json)
            .map(|e| format!("{} at {}", e, e.instance_path))
            .take(5)
            .collect();
        assert!(errors.is_empty(), "{what}: {errors:#?}");
        assert_eq!(
            json["topology"]["nodes"]["outside"]["kind"], "linux",
            "{what}"
        );
    }
}

#[test]
fn exec_lines_need_no_shell_and_rules_live_beside_the_topology() {
    for (what, generated) in every_lab() {
        let json = json(&generated.text);
        let hosts: Vec<&String> = json["topology"]["nodes"]
            .as_object()
            .unwrap()
            .keys()
            .filter(|n| n.starts_with("host"))
            .collect();
        let rules: Vec<_> = generated
            .files
            .iter()
            .filter(|(rel, _)| rel.starts_with("svcgen.cnilab/kube-proxy/"))
            .collect();
        assert_eq!(rules.len(), hosts.len(), "{what}: a rules file per host");
        for (rel, _) in &generated.files {
            assert!(
                rel.starts_with("svcgen.cnilab/"),
                "{what}: {}",
                rel.display()
            );
        }
        for host in hosts {
            let node = &json["topology"]["nodes"][host];
            let binds: Vec<&str> = node["binds"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| b.as_str().unwrap())
                .collect();
            let mine = format!("svcgen.cnilab/kube-proxy/{host}:/run/kube-proxy");
            assert!(binds.contains(&mine.as_str()), "{what}: {binds:?}");
            let lines: Vec<&str> = node["exec"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l.as_str().unwrap())
                .collect();
            let load = lines
                .iter()
                .find(|l| l.contains("/run/kube-proxy/"))
                .expect("a line loads the rules");
            assert!(
                *load == "iptables-restore --noflush /run/kube-proxy/rules.v4"
                    || *load == "nft -f /run/kube-proxy/rules.nft",
                "{what}: {load}"
            );
            for line in lines {
                for bad in ["|", ">", "<", "$", "&&", ";", "`"] {
                    assert!(!line.contains(bad), "{what} {host}: `{line}` uses `{bad}`");
                }
            }
        }
    }
}

#[test]
fn the_lab_reads_the_services_back_from_its_labels() {
    let spec = ServicesSpec {
        node_port: 31000,
        ..spec(3, KubeProxy::Nftables, TrafficPolicy::Local)
    };
    let generated = generate_all(&request(Mode::Vxlan, Flavor::Flannel, 3, spec)).unwrap();
    let lab = Lab::from_topology(&Topology::parse(&generated.text).unwrap()).unwrap();
    let services = lab.services.as_ref().expect("the lab states Services");
    assert_eq!(services.kube_proxy, KubeProxy::Nftables);
    assert_eq!(services.policy, TrafficPolicy::Local);
    assert_eq!(services.outside.ip, Some(Ipv4Addr::new(192, 168, 0, 254)));
    assert_eq!(services.services.len(), 3);
    let svc3 = &services.services[2];
    assert_eq!(
        svc3.cluster_ips,
        [std::net::IpAddr::V4(Ipv4Addr::new(10, 96, 0, 13))]
    );
    assert_eq!(
        (svc3.port, svc3.target_port, svc3.node_port),
        (80, 8003, 31002)
    );
    let endpoints = services.endpoints(&lab, svc3);
    let hosts: Vec<usize> = endpoints.iter().map(|p| p.host).collect();
    assert_eq!(hosts, [3, 1], "two endpoints on two hosts");
    // A lab without Services states none.
    let plain = generate_all(&request(
        Mode::Vxlan,
        Flavor::Flannel,
        3,
        ServicesSpec::default(),
    ))
    .unwrap();
    assert!(plain.files.is_empty());
    let lab = Lab::from_topology(&Topology::parse(&plain.text).unwrap()).unwrap();
    assert!(lab.services.is_none());
    assert!(!plain.text.contains("cnilab.role: outside"));
}

#[test]
fn iptables_rules_have_kube_proxys_chains_and_shapes() {
    let generated = generate_all(&request(
        Mode::HostGw,
        Flavor::Article,
        3,
        spec(2, KubeProxy::Iptables, TrafficPolicy::Cluster),
    ))
    .unwrap();
    let (_, rules) = &generated.files[0];
    for want in [
        ":KUBE-SERVICES - [0:0]",
        ":KUBE-NODEPORTS - [0:0]",
        "-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000",
        "-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN",
        "-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000",
        "-j MASQUERADE --random-fully",
        "-m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-",
        "-j DNAT --to-destination 10.0.1.2:8001",
        "-m addrtype --dst-type LOCAL -j KUBE-NODEPORTS",
        "--dport 30001 -j KUBE-EXT-",
        "-I POSTROUTING -m comment --comment \"kubernetes postrouting rules\" -j KUBE-POSTROUTING",
    ] {
        assert!(rules.contains(want), "no `{want}` in:\n{rules}");
    }
    assert!(
        !rules.contains("KUBE-SVL-"),
        "the cluster policy has no local chains"
    );
}

#[test]
fn nftables_rules_have_kube_proxys_table_maps_and_numgen() {
    let generated = generate_all(&request(
        Mode::Vxlan,
        Flavor::Article,
        3,
        spec(2, KubeProxy::Nftables, TrafficPolicy::Local),
    ))
    .unwrap();
    let rules: Vec<&String> = generated.files.iter().map(|(_, t)| t).collect();
    for want in [
        "add table ip kube-proxy",
        "add map ip kube-proxy service-ips { type ipv4_addr . inet_proto . inet_service : verdict",
        "add rule ip kube-proxy services ip daddr . meta l4proto . th dport vmap @service-ips",
        "numgen random mod 2 vmap { 0 : goto endpoint-",
        "add rule ip kube-proxy mark-for-masquerade mark set mark or 0x4000",
        "add rule ip kube-proxy masquerading masquerade fully-random",
        "add element ip kube-proxy service-ips { 10.96.0.11 . tcp . 80 : goto service-",
    ] {
        assert!(rules[0].contains(want), "no `{want}` in:\n{}", rules[0]);
    }
    // svc1's endpoints are on host1 and host2: host3 drops its NodePort under the local policy.
    assert!(rules[2].contains("add element ip kube-proxy no-endpoint-nodeports { tcp . 30001 comment \"default/svc1:tcp\" : drop }"));
    assert!(!rules[0].contains("no-endpoint-nodeports { tcp . 30001"));
}

/// The rules load as kube-proxy loads them, in a namespace of their own.
#[test]
fn the_rules_load_with_iptables_restore_and_nft() {
    require_root();
    for kp in [KubeProxy::Iptables, KubeProxy::Nftables] {
        for policy in [TrafficPolicy::Cluster, TrafficPolicy::Local] {
            let generated = generate_all(&GenRequest {
                ip_family: IpFamily::Dual,
                ..request(Mode::Vxlan, Flavor::Flannel, 3, spec(3, kp, policy))
            })
            .unwrap();
            let six = generated.files.iter().filter(|(rel, _)| {
                let name = rel.file_name().unwrap().to_string_lossy();
                name == "rules.v6" || name == "rules6.nft"
            });
            assert_eq!(six.count(), 3, "an IPv6 rules file per host");
            for (rel, text) in &generated.files {
                let ns = ScratchNetns::new(&unique("svc-load"));
                let dir = tempfile::tempdir().unwrap();
                let file = dir.path().join("rules");
                std::fs::write(&file, text).unwrap();
                let v6 = rel.ends_with("rules.v6");
                let tool: &[&str] = match kp {
                    KubeProxy::Iptables if v6 => &["ip6tables-restore", "--noflush"],
                    KubeProxy::Iptables => &["iptables-restore", "--noflush"],
                    KubeProxy::Nftables => &["nft", "-f"],
                };
                let out = std::process::Command::new("ip")
                    .args(["netns", "exec", &ns.name])
                    .args(tool)
                    .arg(&file)
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "{kp} {policy} {}: {}",
                    rel.display(),
                    stderr(&out)
                );
            }
        }
    }
}

fn gen(args: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let out = cnilab()
        .current_dir(dir.path())
        .arg("gen")
        .args(args)
        .args(["-o", "lab.yaml"])
        .output()
        .unwrap();
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    if !out.status.success() {
        assert!(
            left.is_empty(),
            "a refused gen leaves nothing behind: {left:?}"
        );
    }
    out
}

#[test]
fn bad_input_is_refused_with_exit_2_naming_the_flag() {
    let base = ["--mode", "host-gw", "--hosts", "3", "--services", "2"];
    for (extra, flag) in [
        (&["--node-port", "29999"][..], "--node-port 29999"),
        (&["--node-port", "32767"][..], "--node-port 32767"),
        (&["--endpoints", "0"][..], "--endpoints 0"),
        (&["--endpoints", "4"][..], "--endpoints 4"),
    ] {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        let out = gen(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr(&out).contains(flag), "{args:?}: {}", stderr(&out));
    }
    let out = gen(&["--mode", "host-gw", "--hosts", "2", "--endpoints", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--services"), "{}", stderr(&out));
    let out = gen(&[
        "--mode",
        "host-gw",
        "--hosts",
        "4",
        "--underlay",
        "racks:2",
        "--services",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("--services needs pods that reach each other"),
        "{err}"
    );
    assert!(err.contains("--routing bgp"), "{err}");
    let out = gen(&[
        "--mode",
        "host-gw",
        "--hosts",
        "2",
        "--encryption",
        "wireguard",
        "--services",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--services with --encryption"),
        "{}",
        stderr(&out)
    );
    let out = cnilab()
        .args([
            "gen",
            "--mode",
            "host-gw",
            "--hosts",
            "2",
            "--services",
            "1",
            "-o",
            "-",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("--services writes kube-proxy's rules beside the topology: give -o FILE"),
        "{err}"
    );
}

#[test]
fn gen_writes_the_rules_beside_the_topology() {
    let dir = tempfile::tempdir().unwrap();
    let out = cnilab()
        .current_dir(dir.path())
        .args([
            "gen",
            "--mode",
            "vxlan",
            "--hosts",
            "2",
            "--services",
            "1",
            "--kube-proxy",
            "nftables",
            "--name",
            "svcw",
            "-o",
            "lab.yaml",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    for host in ["host1", "host2"] {
        let rules = dir
            .path()
            .join(format!("svcw.cnilab/kube-proxy/{host}/rules.nft"));
        let text = std::fs::read_to_string(&rules).unwrap();
        assert!(text.contains("add table ip kube-proxy"));
    }
    // ipip's one router gets a leg of its own for `outside`.
    let out = cnilab()
        .current_dir(dir.path())
        .args([
            "gen",
            "--mode",
            "ipip",
            "--hosts",
            "3",
            "--services",
            "1",
            "--name",
            "svci",
            "-o",
            "ipip.yaml",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(dir.path().join("ipip.yaml")).unwrap();
    assert!(
        text.contains("- endpoints: [\"outside:eth1\", \"gw:eth4\"]"),
        "{text}"
    );
    assert!(
        text.contains("- ip addr add 192.168.0.1/24 dev eth4"),
        "{text}"
    );
    assert!(
        text.contains("- ip route add 10.0.0.0/16 via 192.168.0.1"),
        "{text}"
    );
    // With Services, two vxlan routers meet on a WAN switch, where `outside` joins them.
    let text = std::fs::read_to_string(dir.path().join("lab.yaml")).unwrap();
    assert!(
        text.contains("- endpoints: [\"outside:eth1\", \"wan:outside-eth1\"]"),
        "{text}"
    );
}

/// graph shows each Service and the pods it selects, in every format.
#[test]
fn graph_shows_services_and_their_endpoints() {
    use cnilab::graph::{dot, mermaid, svg, LabGraph};
    let spec = spec(2, KubeProxy::Iptables, TrafficPolicy::Cluster);
    let generated = generate_all(&request(Mode::Vxlan, Flavor::Flannel, 3, spec)).unwrap();
    let topo = Topology::parse(&generated.text).unwrap();
    let lab = Lab::from_topology(&topo).unwrap();
    let graph = LabGraph::from_topology(&topo, &lab);
    assert_eq!(graph.services.len(), 2);
    assert_eq!(graph.services[0].endpoints, ["pod1", "pod2"]);
    let dot = dot::render(&graph);
    assert!(dot.contains("\"svc1\" -- \"pod1\" [style=dotted"), "{dot}");
    assert!(
        dot.contains("10.96.0.11:80 → 8001, NodePort 30001 (iptables, cluster)"),
        "{dot}"
    );
    let svg = svg::render(&graph);
    assert!(
        svg.contains("data-service=\"svc2\" data-endpoints=\"pod2 pod3\""),
        "{svg}"
    );
    let text = mermaid::render(&graph);
    let parsed = merman_core::Engine::new()
        .parse_diagram_sync(&text, merman_core::ParseOptions::strict())
        .unwrap_or_else(|e| panic!("mermaid rejects the graph: {e}\n{text}"))
        .expect("a diagram is detected");
    assert!(
        parsed.model.to_string().contains("svc1 [service]"),
        "{text}"
    );
    assert!(text.contains("s0 -.-> "), "{text}");
}

#[test]
fn up_takes_services_only_for_a_lab_it_generates() {
    let out = cnilab()
        .args(["up", "-t", "nowhere.yaml", "--services", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--services generates a lab"),
        "{}",
        stderr(&out)
    );
}

/// The file of `generated` whose path ends in `host/name`.
fn file_of<'a>(generated: &'a Generated, host: &str, name: &str) -> Option<&'a str> {
    let want = std::path::Path::new(host).join(name);
    generated
        .files
        .iter()
        .find(|(rel, _)| rel.ends_with(&want))
        .map(|(_, text)| text.as_str())
}

/// A dual host-gw lab with two Services under the cluster policy.
fn dual(kp: KubeProxy) -> GenRequest<'static> {
    GenRequest {
        ip_family: IpFamily::Dual,
        ..request(
            Mode::HostGw,
            Flavor::Article,
            3,
            spec(2, kp, TrafficPolicy::Cluster),
        )
    }
}

#[test]
fn a_dual_lab_gives_every_service_a_clusterip_per_family_and_rules_per_table() {
    let generated = generate_all(&dual(KubeProxy::Iptables)).unwrap();
    let lab = Lab::from_topology(&Topology::parse(&generated.text).unwrap()).unwrap();
    let services = lab.services.as_ref().expect("the lab states Services");
    let vips: Vec<String> = services.services[0]
        .cluster_ips
        .iter()
        .map(|ip| ip.to_string())
        .collect();
    // PreferDualStack in a cluster whose first service CIDR is IPv4: IPv4 first.
    assert_eq!(vips, ["10.96.0.11", "fd00:10:96::11"]);
    assert_eq!(
        services.outside.ip6,
        Some("fd00:192:168::254".parse().unwrap())
    );
    assert!(generated.text.contains(
        "cnilab.services: \"svc1 10.96.0.11:80,[fd00:10:96::11]:80 8001 30001 pod1,pod2;"
    ));
    assert!(generated
        .text
        .contains("- ip6tables-restore --noflush /run/kube-proxy/rules.v6"));
    assert!(generated
        .text
        .contains("- ip6tables -t nat -A POSTROUTING -s fd00:10::/48 ! -d ff00::/8 -j MASQUERADE --random-fully"));
    let v4 = file_of(&generated, "host1", "rules.v4").unwrap();
    let v6 = file_of(&generated, "host1", "rules.v6").unwrap();
    assert!(v6.contains("-d fd00:10:96::11/128 --dport 80"), "{v6}");
    assert!(
        v6.contains("-j DNAT --to-destination [fd00:10:0:1::2]:8001"),
        "{v6}"
    );
    assert!(v6.contains("! -s fd00:10::/48 -j KUBE-MARK-MASQ"), "{v6}");
    // The Service's chains hash no address: the same in both tables; an endpoint's does.
    let chains = |text: &str, prefix: &str| -> Vec<String> {
        let mut names: Vec<String> = text
            .lines()
            .filter_map(|l| l.strip_prefix(':'))
            .filter(|l| l.starts_with(prefix))
            .map(|l| l.split_whitespace().next().unwrap().to_string())
            .collect();
        names.sort();
        names
    };
    assert_eq!(chains(v4, "KUBE-SVC-"), chains(v6, "KUBE-SVC-"));
    let (sep4, sep6) = (chains(v4, "KUBE-SEP-"), chains(v6, "KUBE-SEP-"));
    assert!(sep6.iter().all(|c| !sep4.contains(c)), "{sep4:?} {sep6:?}");
}

#[test]
fn a_dual_lab_has_an_ip6_kube_proxy_table_in_nftables_mode() {
    let nft = generate_all(&dual(KubeProxy::Nftables)).unwrap();
    let six = file_of(&nft, "host1", "rules6.nft").unwrap();
    assert!(six.contains("add table ip6 kube-proxy"), "{six}");
    assert!(six.contains("type ipv6_addr . inet_proto . inet_service : verdict"));
    assert!(
        six.contains("fib daddr type local ip6 daddr != ::1"),
        "{six}"
    );
    assert!(six.contains("dnat to [fd00:10:0:2::2]:8001"), "{six}");
    assert!(
        six.contains("__fd00.10.0.2..2/8001"),
        "nft names an IPv6 endpoint with dots"
    );
    assert!(
        !six.contains(" ip kube-proxy") && !six.contains("ip daddr"),
        "{six}"
    );
    assert!(file_of(&nft, "host1", "rules.nft")
        .unwrap()
        .contains("add table ip kube-proxy"));
}

#[test]
fn a_clusterip_in_a_family_the_lab_does_not_carry_is_refused_by_name() {
    let generated = generate_all(&request(
        Mode::HostGw,
        Flavor::Article,
        2,
        spec(1, KubeProxy::Iptables, TrafficPolicy::Cluster),
    ))
    .unwrap();
    let edited = generated.text.replace(
        "svc1 10.96.0.11:80 ",
        "svc1 10.96.0.11:80,[fd00:10:96::11]:80 ",
    );
    let err = Lab::from_topology(&Topology::parse(&edited).unwrap()).unwrap_err();
    assert!(
        err.to_string().starts_with(
            "Service `svc1` states a ClusterIP in IPv6, which lab `svcgen` does not carry"
        ),
        "{err}"
    );
}

#[test]
fn an_ipv6_lab_states_only_ipv6_clusterips_and_rules() {
    let generated = generate_all(&GenRequest {
        ip_family: IpFamily::Ipv6,
        ..request(
            Mode::Vxlan,
            Flavor::Flannel,
            3,
            spec(1, KubeProxy::Nftables, TrafficPolicy::Local),
        )
    })
    .unwrap();
    let lab = Lab::from_topology(&Topology::parse(&generated.text).unwrap()).unwrap();
    let services = lab.services.as_ref().expect("the lab states Services");
    assert_eq!(
        services.services[0].cluster_ips,
        ["fd00:10:96::11".parse::<std::net::IpAddr>().unwrap()]
    );
    assert_eq!(services.outside.ip, None);
    assert_eq!(services.cluster_cidr.len(), 1);
    assert_eq!(services.cluster_cidr[0].to_string(), "fd00:172:16::/48");
    assert!(!generated.text.contains("cnilab.outside-ip:"));
    assert!(!generated.text.contains("10.96.0.11"));
    assert!(file_of(&generated, "host1", "rules.nft").is_none());
    let six = file_of(&generated, "host1", "rules6.nft").unwrap();
    assert!(six.contains("add element ip6 kube-proxy service-ips { fd00:10:96::11 . tcp . 80"));
    // outside reaches every host's IPv6 subnet through its router, as in IPv4.
    assert!(generated
        .text
        .contains("- ip -6 route add fd00:10:0:2::/64 via fd00:192:168::100"));
}
