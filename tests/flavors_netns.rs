//! Every flavor that this kernel can run, at N in {2, 3, 8} hosts and K in {1, 3} pods per
//! host, deploys on the netns runtime and passes `cnilab verify` (every ordered pod pair, on the
//! wire), and the kernel holds the state the flavor stands for (device, port, static peers). The IPIP flavor runs in the VM
//! (tests/flavors_ipip.rs).

mod common;

use common::*;
use std::process::Command;

const SIZES: [(usize, usize); 6] = [(2, 1), (2, 3), (3, 1), (3, 3), (8, 1), (8, 3)];

fn gen(mode: &str, flavor: &str, hosts: usize, pods: usize) -> LabGuard {
    let (hosts, pods) = (hosts.to_string(), pods.to_string());
    LabGuard::gen_with(
        "fv",
        &[
            "--mode",
            mode,
            "--flavor",
            flavor,
            "--hosts",
            &hosts,
            "--pods-per-host",
            &pods,
        ],
    )
}

/// `ip -n <lab's node> <args>`, its standard output.
fn ip(lab: &LabGuard, node: &str, args: &[&str]) -> String {
    let out = Command::new("ip")
        .arg("-n")
        .arg(format!("clab-{}-{node}", lab.name))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ip {args:?} on {node}: {}",
        stderr(&out)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn bridge_fdb(lab: &LabGuard, node: &str, dev: &str) -> String {
    let out = Command::new("ip")
        .args(["netns", "exec", &format!("clab-{}-{node}", lab.name)])
        .args(["bridge", "fdb", "show", "dev", dev])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}

/// Deploys each size, checks that all pods reach each other, runs `check` on the live lab,
/// and destroys it leaving nothing behind.
fn each_size(mode: &str, flavor: &str, check: impl Fn(&LabGuard, usize)) {
    require_root();
    for (hosts, pods) in SIZES {
        let lab = gen(mode, flavor, hosts, pods);
        let out = lab.deploy();
        assert!(
            out.status.success(),
            "{mode}/{flavor} x{hosts}x{pods}: deploy failed: {}",
            stderr(&out)
        );
        let n = lab.lab().pods.len();
        assert_eq!(n, hosts * pods, "{mode}/{flavor}");
        // Six of these run at once on a shared machine: the tests' one loss rule.
        let (code, report) = common::verify::verify_healthy(&lab, &[]);
        let pairs = report["pairs"].as_array().unwrap();
        let failed: Vec<&serde_json::Value> =
            pairs.iter().filter(|p| p["passed"] == false).collect();
        assert!(
            code == 0 && failed.is_empty(),
            "{mode}/{flavor} x{hosts}x{pods}: verify exited {code}; failed pairs {failed:#?}; findings {}",
            report["findings"]
        );
        assert_eq!(
            pairs.len(),
            n * (n - 1),
            "{mode}/{flavor}: every ordered pair"
        );
        check(&lab, hosts);
        let out = lab.destroy();
        assert!(out.status.success(), "destroy failed: {}", stderr(&out));
        lab.assert_gone();
    }
}

#[test]
fn article_vxlan_with_several_pods() {
    each_size("vxlan", "article", |_, _| {});
}

#[test]
fn article_host_gw_with_several_pods() {
    each_size("host-gw", "article", |_, _| {});
}

#[test]
fn flannel_host_gw() {
    each_size("host-gw", "flannel", |lab, _| {
        let link = ip(lab, "host1", &["-d", "link", "show", "master", "cni0"]);
        assert!(link.contains("hairpin on"), "{link}");
    });
}

#[test]
fn flannel_vxlan_has_static_peers_and_no_flood_entry() {
    each_size("vxlan", "flannel", |lab, hosts| {
        let dev = ip(lab, "host1", &["-d", "link", "show", "flannel.1"]);
        assert!(
            dev.contains("vxlan id 1 ") && dev.contains("dstport 8472"),
            "{dev}"
        );
        assert!(
            dev.contains("nolearning") && dev.contains("mtu 1450"),
            "{dev}"
        );
        let fdb = bridge_fdb(lab, "host1", "flannel.1");
        assert_eq!(fdb.matches("self permanent").count(), hosts - 1, "{fdb}");
        assert!(!fdb.contains("00:00:00:00:00:00"), "{fdb}");
        let neigh = ip(lab, "host1", &["neigh", "show", "dev", "flannel.1"]);
        assert_eq!(neigh.matches("PERMANENT").count(), hosts - 1, "{neigh}");
    });
}

#[test]
fn calico_vxlan_routes_pods_over_cali_veths() {
    each_size("vxlan", "calico", |lab, hosts| {
        let dev = ip(lab, "host1", &["-d", "link", "show", "vxlan.calico"]);
        assert!(
            dev.contains("vxlan id 4096 ") && dev.contains("dstport 4789"),
            "{dev}"
        );
        let fdb = bridge_fdb(lab, "host1", "vxlan.calico");
        assert_eq!(fdb.matches("self permanent").count(), hosts - 1, "{fdb}");
        let routes = ip(lab, "host1", &["route", "show"]);
        assert!(routes.contains("blackhole 172.16.0.0/24"), "{routes}");
        assert!(routes.contains("172.16.0.2 dev calipod1"), "{routes}");
        let veth = ip(lab, "host1", &["link", "show", "type", "veth"]);
        assert!(veth.contains("link/ether ee:ee:ee:ee:ee:ee"), "{veth}");
    });
}

#[test]
fn cilium_vxlan_is_one_external_device_keyed_by_routes() {
    each_size("vxlan", "cilium", |lab, hosts| {
        let dev = ip(lab, "host1", &["-d", "link", "show", "cilium_vxlan"]);
        assert!(
            dev.contains("vxlan external") && dev.contains("dstport 8472"),
            "{dev}"
        );
        assert_eq!(bridge_fdb(lab, "host1", "cilium_vxlan").trim(), "");
        let routes = ip(lab, "host1", &["route", "show", "dev", "cilium_vxlan"]);
        assert_eq!(
            routes.matches("encap ip id 256").count(),
            hosts - 1,
            "{routes}"
        );
    });
}
