//! The real-CNI flavors: each renders the state its project programs (pinned line by line at
//! the smallest size), every flavor and size is a file containerlab accepts, and a flavor a
//! mode does not have is a usage error that names the valid ones.

mod common;

use cnilab::plan::{Flavor, LabSpec, Mode, Plan};
use cnilab::render::{render, Templates};
use common::{cnilab, stderr};
use serde_json::Value;

fn text(mode: Mode, flavor: Flavor, hosts: usize, pods_per_host: usize) -> String {
    let spec = LabSpec {
        mode,
        flavor,
        hosts,
        pods_per_host,
        lab: None,
        underlay: None,
        routing: Default::default(),
        direct_routing: false,
        cross_subnet: false,
        ip_family: Default::default(),
    };
    render(&Plan::from_spec(&spec).unwrap(), Templates::Embedded).unwrap()
}

/// Every (mode, flavor) pair that exists, the article's included.
fn combinations() -> Vec<(Mode, Flavor)> {
    Mode::ALL
        .into_iter()
        .flat_map(|m| Flavor::valid_for(m).iter().map(move |f| (m, *f)))
        .collect()
}

/// The exec lines of one node, trimmed of the YAML list marker.
fn exec_of(text: &str, node: &str) -> Vec<String> {
    let yaml: serde_yaml_ng::Value = serde_yaml_ng::from_str(text).unwrap();
    yaml["topology"]["nodes"][node]["exec"]
        .as_sequence()
        .unwrap_or_else(|| panic!("node {node} has no exec"))
        .iter()
        .map(|l| l.as_str().unwrap().to_string())
        .collect()
}

fn label(text: &str, node: &str, key: &str) -> Option<String> {
    let yaml: serde_yaml_ng::Value = serde_yaml_ng::from_str(text).unwrap();
    yaml["topology"]["nodes"][node]["labels"][key]
        .as_str()
        .map(str::to_string)
}

fn assert_has(lines: &[String], expected: &[&str], what: &str) {
    for want in expected {
        assert!(
            lines.iter().any(|l| l == want),
            "{what}: missing `{want}` in {lines:#?}"
        );
    }
}

#[test]
fn the_rendered_examples_in_topologies_are_current() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies");
    for (mode, flavor) in combinations() {
        if flavor == Flavor::Article {
            continue;
        }
        let file = dir.join(format!("{mode}-{flavor}-2.yaml"));
        let on_disk = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("{}: {e} (run `make topologies`)", file.display()));
        assert_eq!(
            on_disk,
            text(mode, flavor, 2, 1),
            "{} is stale: run `make topologies`",
            file.display()
        );
    }
}

#[test]
fn flannel_vxlan_programs_static_peers_on_8472_and_no_flood_entry() {
    let t = text(Mode::Vxlan, Flavor::Flannel, 2, 1);
    let host1 = exec_of(&t, "host1");
    assert_has(
        &host1,
        &[
            "ip link add flannel.1 type vxlan id 1 dev eth1 local 10.0.1.2 dstport 8472 nolearning",
            "ip link set dev flannel.1 address 02:cb:00:00:00:01",
            "ip link set dev flannel.1 mtu 1450",
            "ip addr add 172.16.0.0/32 dev flannel.1",
            "ip link set dev pod1-veth type bridge_slave hairpin on",
            "ip route add 172.16.1.0/24 via 172.16.1.0 dev flannel.1 onlink",
            "ip neigh add 172.16.1.0 lladdr 02:cb:00:00:00:02 dev flannel.1 nud permanent",
            "bridge fdb add 02:cb:00:00:00:02 dst 10.0.2.2 dev flannel.1 self permanent",
        ],
        "flannel host1",
    );
    assert!(
        !t.contains("00:00:00:00:00:00"),
        "flannel programs no all-zeros flood entry"
    );
    assert_eq!(
        label(&t, "host2", "cnilab.vxlan-port").as_deref(),
        Some("8472")
    );
    assert_eq!(
        label(&t, "host2", "cnilab.tunnel-dev").as_deref(),
        Some("flannel.1")
    );
    assert_eq!(
        label(&t, "host2", "cnilab.vtep-mac").as_deref(),
        Some("02:cb:00:00:00:02")
    );
    assert_eq!(
        label(&t, "host2", "cnilab.flavor").as_deref(),
        Some("flannel")
    );
}

#[test]
fn calico_vxlan_uses_its_device_vni_and_routed_cali_veths() {
    let t = text(Mode::Vxlan, Flavor::Calico, 2, 1);
    let host2 = exec_of(&t, "host2");
    assert_has(
        &host2,
        &[
            "ip link add vxlan.calico type vxlan id 4096 dev eth1 local 10.0.2.2 dstport 4789 nolearning",
            "ip link set dev vxlan.calico mtu 1450",
            "ip addr add 172.16.1.0/32 dev vxlan.calico",
            // felix's route protocol on its blackhole; its VXLAN routes carry `ip route`'s own.
            "ip route add blackhole 172.16.1.0/24 proto 80",
            "ip link set dev calipod2 address ee:ee:ee:ee:ee:ee",
            "sysctl -w net.ipv4.conf.calipod2.proxy_arp=1",
            "ip route add 172.16.1.2/32 dev calipod2 scope link",
            "ip route add 172.16.0.0/24 via 172.16.0.0 dev vxlan.calico onlink",
            "ip neigh add 172.16.0.0 lladdr 02:cb:00:00:00:01 dev vxlan.calico nud permanent",
            "bridge fdb add 02:cb:00:00:00:01 dst 10.0.1.2 dev vxlan.calico self permanent",
        ],
        "calico vxlan host2",
    );
    assert!(!t.contains("cni0"), "Calico has no bridge");
    assert_has(
        &exec_of(&t, "pod2"),
        &[
            "ip addr add 172.16.1.2/32 dev eth1",
            "ip route add 169.254.1.1 dev eth1 scope link",
            "ip route add default via 169.254.1.1 dev eth1",
        ],
        "calico pod2",
    );
    assert_eq!(label(&t, "host1", "cnilab.vni").as_deref(), Some("4096"));
}

#[test]
fn calico_ipip_configures_tunl0_with_a_32_and_blackholes_its_block() {
    let t = text(Mode::Ipip, Flavor::Calico, 2, 1);
    let host1 = exec_of(&t, "host1");
    assert_has(
        &host1,
        &[
            "ip tunnel change tunl0 mode ipip",
            "ip link set dev tunl0 mtu 1480",
            "ip addr add 172.16.0.0/32 dev tunl0",
            // felix's route protocol on its blackhole and on its IPIP routes.
            "ip route add blackhole 172.16.0.0/24 proto 80",
            "ip route add 172.16.1.0/24 via 10.0.2.2 dev tunl0 onlink proto 80",
            "sysctl -w net.ipv4.conf.calipod1.proxy_arp=1",
            "ip route add 172.16.0.2/32 dev calipod1 scope link",
        ],
        "calico ipip host1",
    );
    assert!(!t.contains("tunl1") && !t.contains("cni0"));
    assert_eq!(
        label(&t, "host1", "cnilab.tunnel-dev").as_deref(),
        Some("tunl0")
    );
}

#[test]
fn cilium_keys_an_external_vxlan_device_by_route() {
    let t = text(Mode::Vxlan, Flavor::Cilium, 2, 1);
    let host1 = exec_of(&t, "host1");
    assert_has(
        &host1,
        &[
            "ip link add cilium_vxlan type vxlan external dstport 8472",
            "ip addr add 172.16.0.1/32 dev cilium_host",
            "ip route add 172.16.0.2/32 dev lxcpod1 scope link",
            "ip neigh add 172.16.1.0 lladdr 02:cb:00:00:00:02 dev cilium_vxlan nud permanent",
            "ip route add 172.16.1.0/24 via 172.16.1.0 dev cilium_vxlan onlink encap ip id 256 dst 10.0.2.2",
        ],
        "cilium host1",
    );
    assert!(!t.contains("bridge fdb"), "a flow-based device has no FDB");
    assert_eq!(
        label(&t, "host1", "cnilab.tunnel-key").as_deref(),
        Some("route")
    );
    let flannel = text(Mode::Vxlan, Flavor::Flannel, 2, 1);
    assert_eq!(label(&flannel, "host1", "cnilab.tunnel-key"), None);
}

#[test]
fn flannel_host_gw_is_the_article_plus_hairpin() {
    let article = text(Mode::HostGw, Flavor::Article, 2, 1);
    let flannel = text(Mode::HostGw, Flavor::Flannel, 2, 1);
    let added: Vec<&str> = flannel
        .lines()
        .filter(|l| !article.lines().any(|a| a == *l))
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect();
    assert_eq!(
        added,
        [
            "name: host-gw-flannel",
            "        cnilab.flavor: flannel",
            "        - ip link set dev pod1-veth type bridge_slave hairpin on",
            "        cnilab.flavor: flannel",
            "        - ip link set dev pod2-veth type bridge_slave hairpin on",
        ]
    );
}

#[test]
fn several_pods_per_host_get_their_own_names_addresses_and_links() {
    let t = text(Mode::Vxlan, Flavor::Calico, 2, 3);
    for (pod, ip) in [
        ("pod1-1", "172.16.0.2"),
        ("pod1-3", "172.16.0.4"),
        ("pod2-2", "172.16.1.3"),
    ] {
        assert_eq!(label(&t, pod, "cnilab.pod-ip").as_deref(), Some(ip));
    }
    assert!(t.contains(r#"- endpoints: ["host2:calipod2-3", "pod2-3:eth1"]"#));
    assert_has(
        &exec_of(&t, "host1"),
        &["ip route add 172.16.0.4/32 dev calipod1-3 scope link"],
        "host1 routes its third pod",
    );
    // The article keeps its own names and bridge when it carries several pods.
    let article = text(Mode::HostGw, Flavor::Article, 2, 3);
    assert!(article.contains(r#"- endpoints: ["host1:pod1-2-veth", "pod1-2:eth1"]"#));
    assert_has(
        &exec_of(&article, "host1"),
        &["ip link set dev pod1-3-veth master cni0"],
        "article host1",
    );
}

fn schema() -> jsonschema::Validator {
    let text = include_str!("schema/clab.schema.json");
    let schema: Value = serde_json::from_str(text).expect("schema is JSON");
    jsonschema::validator_for(&schema).expect("schema compiles")
}

#[test]
fn every_flavor_size_and_pod_count_validates_and_needs_no_shell() {
    let validator = schema();
    for (mode, flavor) in combinations() {
        for hosts in [2, 3, 8] {
            for pods in [1, 3] {
                let t = text(mode, flavor, hosts, pods);
                let yaml: serde_yaml_ng::Value = serde_yaml_ng::from_str(&t).unwrap();
                let json = serde_json::to_value(yaml).unwrap();
                let errors: Vec<String> = validator
                    .iter_errors(&json)
                    .map(|e| format!("{} at {}", e, e.instance_path))
                    .take(5)
                    .collect();
                assert!(
                    errors.is_empty(),
                    "{mode}/{flavor} x{hosts}x{pods}: {errors:#?}"
                );
                for (node, def) in json["topology"]["nodes"].as_object().unwrap() {
                    for line in def["exec"].as_array().into_iter().flatten() {
                        let line = line.as_str().unwrap();
                        let words = shlex::split(line).unwrap_or_default();
                        assert!(
                            !words.is_empty() && words.iter().all(|w| !w.contains(' ')),
                            "{mode}/{flavor} {node}: `{line}`"
                        );
                        assert!(
                            !["|", ">", "$", ";", "&&"].iter().any(|b| line.contains(b)),
                            "{mode}/{flavor} {node}: `{line}` needs a shell"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn interface_names_fit_at_the_largest_plan() {
    use cnilab::plan::{MAX_HOSTS, MAX_PODS_PER_HOST};
    for (mode, flavor) in combinations() {
        let spec = LabSpec {
            mode,
            flavor,
            hosts: MAX_HOSTS,
            pods_per_host: MAX_PODS_PER_HOST,
            lab: None,
            underlay: None,
            routing: Default::default(),
            direct_routing: false,
            cross_subnet: false,
            ip_family: Default::default(),
        };
        let plan = Plan::from_spec(&spec).unwrap();
        let last = plan.hosts.last().unwrap().pods.last().unwrap();
        assert!(last.veth.len() <= 15, "{mode}/{flavor}: `{}`", last.veth);
        assert_eq!(last.ip.octets()[3], 101, "{mode}/{flavor}");
    }
}

#[test]
fn a_flavor_the_mode_lacks_is_a_usage_error_naming_the_valid_ones() {
    let dir = tempfile::tempdir().unwrap();
    for (mode, flavor, valid) in [
        ("ipip", "flannel", "article, calico"),
        ("ipip", "cilium", "article, calico"),
        ("host-gw", "calico", "article, flannel"),
    ] {
        let out = cnilab()
            .current_dir(dir.path())
            .args(["gen", "--mode", mode, "--flavor", flavor, "--hosts", "2"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{mode}/{flavor}");
        let err = stderr(&out);
        assert!(
            err.contains(&format!("valid flavors for {mode} are {valid}")),
            "{mode}/{flavor}: {err}"
        );
        assert!(!dir.path().join("clab.yaml").exists(), "no file on error");
    }
    let out = cnilab()
        .current_dir(dir.path())
        .args([
            "gen",
            "--mode",
            "vxlan",
            "--hosts",
            "2",
            "--pods-per-host",
            "0",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--pods-per-host"), "{}", stderr(&out));
}

#[test]
fn gen_writes_a_flavor_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    cnilab()
        .current_dir(dir.path())
        .args([
            "gen", "--mode", "vxlan", "--flavor", "flannel", "--hosts", "2", "-o", "-",
        ])
        .assert()
        .success()
        .stdout(predicates::str::contains("dstport 8472 nolearning"))
        .stdout(predicates::str::contains("name: vxlan-flannel"));
}
