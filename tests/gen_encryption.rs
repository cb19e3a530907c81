//! `gen --encryption wireguard`: the topology carries public keys only and validates against
//! containerlab's schema; each host's private key is a 0600 file in a 0700 folder beside it;
//! what is not built is refused with exit 2, naming the flag, and nothing written.

mod common;

use cnilab::plan::encryption::keys::public_of;
use common::{cnilab, stderr};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

fn gen(dir: &Path, args: &[&str]) -> std::process::Output {
    cnilab()
        .current_dir(dir)
        .args([
            "gen", "--mode", "host-gw", "--hosts", "3", "--name", "wg-gen",
        ])
        .args(args)
        .args(["-o", "clab.yaml"])
        .output()
        .unwrap()
}

/// `gen` with these flags, `--mode host-gw` unless they name a mode.
fn gen_any(dir: &Path, args: &[&str]) -> std::process::Output {
    cnilab()
        .current_dir(dir)
        .args(["gen", "--hosts", "3", "--name", "wg-gen"])
        .args(if args.contains(&"--mode") {
            &[][..]
        } else {
            &["--mode", "host-gw"][..]
        })
        .args(args)
        .args(["-o", "clab.yaml"])
        .output()
        .unwrap()
}

fn key_file(dir: &Path, host: &str) -> PathBuf {
    dir.join(format!("wg-gen.cnilab/wireguard/{host}/private.key"))
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn keys_are_private_files_and_the_topology_holds_only_public_keys() {
    for flavor in ["article", "flannel"] {
        let dir = tempfile::tempdir().unwrap();
        let out = gen(
            dir.path(),
            &["--flavor", flavor, "--encryption", "wireguard"],
        );
        assert!(out.status.success(), "{flavor}: {}", stderr(&out));
        let topo = std::fs::read_to_string(dir.path().join("clab.yaml")).unwrap();
        let yaml: serde_yaml_ng::Value = serde_yaml_ng::from_str(&topo).unwrap();
        for (i, host) in ["host1", "host2", "host3"].iter().enumerate() {
            let key = key_file(dir.path(), host);
            assert_eq!(mode(&key), 0o600, "{flavor}: {}", key.display());
            assert_eq!(mode(key.parent().unwrap()), 0o700, "{flavor}: its folder");
            let private = std::fs::read_to_string(&key).unwrap();
            assert!(
                !topo.contains(private.trim()),
                "{flavor}: {host}'s private key is in the topology"
            );
            let label = &yaml["topology"]["nodes"][*host]["labels"]["cnilab.wg-public-key"];
            assert_eq!(
                public_of(&private).as_deref(),
                label.as_str(),
                "{flavor}: {host}'s public key label is not its key's"
            );
            let bind = &yaml["topology"]["nodes"][*host]["binds"][0];
            assert_eq!(
                bind.as_str(),
                Some(format!("wg-gen.cnilab/wireguard/{host}:/var/run/wireguard").as_str())
            );
            // Every other host has this host's key as a peer, with this host's pod subnet.
            let peer_line = format!("peer {} endpoint", label.as_str().unwrap());
            let peers = topo.matches(&peer_line).count();
            assert_eq!(peers, 2, "{flavor}: {host} is a peer of each other host");
            assert!(topo.contains(&format!("allowed-ips 10.0.{}.0/24", i + 1)));
        }
        assert!(topo.contains("private-key /var/run/wireguard/private.key"));
    }
}

#[test]
fn flannel_s_layout_and_the_article_s_own_tunnel_differ_as_documented() {
    let dir = tempfile::tempdir().unwrap();
    gen(
        dir.path(),
        &["--flavor", "flannel", "--encryption", "wireguard"],
    );
    let flannel = std::fs::read_to_string(dir.path().join("clab.yaml")).unwrap();
    assert!(flannel.contains("ip link add flannel-wg type wireguard"));
    assert!(flannel.contains("listen-port 51820"));
    assert!(flannel.contains("ip route add 10.0.0.0/16 dev flannel-wg scope link"));
    assert!(flannel.contains("ip addr add 10.0.1.0/32 dev flannel-wg"));
    assert!(
        flannel.contains("ip link set dev flannel-wg mtu 1420"),
        "flannel takes 80 bytes off"
    );
    assert!(
        flannel.contains("pkg/backend/wireguard"),
        "the template cites its source"
    );
    let dir = tempfile::tempdir().unwrap();
    gen(dir.path(), &["--encryption", "wireguard"]);
    let own = std::fs::read_to_string(dir.path().join("clab.yaml")).unwrap();
    assert!(own.contains("ip link add cnilab-wg type wireguard"));
    assert!(own.contains("ip route add 10.0.2.0/24 dev cnilab-wg"));
    assert!(
        own.contains("ip link set dev cnilab-wg mtu 1440"),
        "60 bytes of WireGuard over IPv4"
    );
    assert!(
        !own.contains("via 192.168.0"),
        "no plain host-gw route is left"
    );
}

/// The article's vxlan and ipip modes under cnilab's own tunnel: encap, then encrypt. Each
/// host's cnilab-wg holds its tunnel address, 100.64.0.i/24; the mode's VXLAN or IPIP runs
/// between those addresses; a peer's allowed-ips is its tunnel address; the pods give up 60
/// bytes for WireGuard and the mode's own overhead; no private key is in the topology.
#[test]
fn the_articles_vxlan_and_ipip_run_inside_cnilabs_own_tunnel() {
    for (mode, pod_mtu, lines) in [
        (
            "vxlan",
            1390,
            &[
                "ip link add flannel.1 type vxlan id 1 dev cnilab-wg local 100.64.0.1 dstport 4789",
                "bridge fdb append to 00:00:00:00:00:00 dst 100.64.0.2 dev flannel.1",
                "ip route add 172.16.1.0/24 via 172.16.1.0 dev flannel.1 onlink",
            ][..],
        ),
        (
            "ipip",
            1420,
            &[
                "ip tunnel add tunl1 mode ipip local 100.64.0.1",
                "ip route add 172.16.1.0/24 via 100.64.0.2 dev tunl1 onlink",
            ][..],
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let out = gen_any(dir.path(), &["--mode", mode, "--encryption", "wireguard"]);
        assert!(out.status.success(), "{mode}: {}", stderr(&out));
        let topo = std::fs::read_to_string(dir.path().join("clab.yaml")).unwrap();
        let yaml: serde_yaml_ng::Value = serde_yaml_ng::from_str(&topo).unwrap();
        for line in lines {
            assert!(topo.contains(line), "{mode}: no `{line}`");
        }
        assert!(
            topo.contains("ip addr add 100.64.0.1/24 dev cnilab-wg"),
            "{mode}"
        );
        assert!(
            topo.contains("ip link set dev cnilab-wg mtu 1440"),
            "{mode}"
        );
        assert!(
            topo.contains("cnilab's own WireGuard"),
            "{mode}: not said whose"
        );
        assert!(
            !topo.contains("dst 10.0.2.2 dev") && !topo.contains("via 10.0.2.2 dev"),
            "{mode}: the mode still points at a peer's underlay address"
        );
        for (i, host) in ["host1", "host2", "host3"].iter().enumerate() {
            let labels = &yaml["topology"]["nodes"][*host]["labels"];
            let tunnel = format!("100.64.0.{}", i + 1);
            assert_eq!(labels["cnilab.wg-ip"].as_str(), Some(tunnel.as_str()));
            let public = labels["cnilab.wg-public-key"].as_str().unwrap();
            let peer = format!(
                "peer {public} endpoint 10.0.{}.2:51820 allowed-ips {tunnel}/32",
                i + 1
            );
            assert_eq!(topo.matches(&peer).count(), 2, "{mode}: {host} as a peer");
            let private = std::fs::read_to_string(key_file(dir.path(), host)).unwrap();
            assert!(
                !topo.contains(private.trim()),
                "{mode}: {host}'s private key"
            );
            let pod = &yaml["topology"]["nodes"][format!("pod{}", i + 1)]["labels"];
            assert_eq!(
                pod["cnilab.mtu"].as_str(),
                Some(pod_mtu.to_string().as_str())
            );
        }
    }
}

#[test]
fn encrypted_labs_validate_against_containerlabs_schema_and_need_no_shell() {
    let text = include_str!("schema/clab.schema.json");
    let schema: Value = serde_json::from_str(text).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let variants: [&[&str]; 7] = [
        &["--flavor", "article", "--encryption", "wireguard"],
        &["--mode", "vxlan", "--encryption", "wireguard"],
        &["--mode", "ipip", "--encryption", "wireguard"],
        &["--flavor", "flannel", "--encryption", "wireguard"],
        &[
            "--mode",
            "ipip",
            "--flavor",
            "calico",
            "--encryption",
            "wireguard",
        ],
        &[
            "--mode",
            "vxlan",
            "--flavor",
            "cilium",
            "--encryption",
            "wireguard",
        ],
        &[
            "--mode",
            "vxlan",
            "--flavor",
            "cilium",
            "--encryption",
            "ipsec",
        ],
    ];
    for args in variants {
        let flavor = args.join(" ");
        let dir = tempfile::tempdir().unwrap();
        let out = gen_any(dir.path(), args);
        assert!(out.status.success(), "{flavor}: {}", stderr(&out));
        let topo = std::fs::read_to_string(dir.path().join("clab.yaml")).unwrap();
        let yaml: serde_yaml_ng::Value = serde_yaml_ng::from_str(&topo).unwrap();
        let json = serde_json::to_value(yaml).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&json)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{flavor}: {errors:?}");
        for line in topo.lines().filter_map(|l| l.trim().strip_prefix("- ")) {
            assert!(
                !line.contains('|') && !line.contains('>') && !line.contains('$'),
                "{flavor}: `{line}` would need a shell"
            );
        }
    }
}

#[test]
fn what_is_not_built_is_refused_by_flag_and_nothing_is_written() {
    let cases: [(&[&str], &str); 7] = [
        (
            &[
                "--mode",
                "vxlan",
                "--flavor",
                "calico",
                "--encryption",
                "ipsec",
            ],
            "--encryption ipsec is Cilium's: it is built for --mode vxlan --flavor cilium",
        ),
        (
            &["--ip-family", "dual", "--encryption", "wireguard"],
            "--encryption carries IPv4 only",
        ),
        (
            &["--encryption", "ipsec"],
            "--encryption ipsec is Cilium's: it is built for --mode vxlan --flavor cilium",
        ),
        (
            &[
                "--mode",
                "vxlan",
                "--flavor",
                "flannel",
                "--encryption",
                "wireguard",
            ],
            "--encryption wireguard is built for --mode host-gw",
        ),
        (
            &[
                "--flavor",
                "flannel",
                "--underlay",
                "routed",
                "--encryption",
                "wireguard",
            ],
            "--underlay routed",
        ),
        (
            &[
                "--mode",
                "ipip",
                "--flavor",
                "calico",
                "--underlay",
                "racks:2",
                "--encryption",
                "wireguard",
            ],
            "--underlay racks:2",
        ),
        (
            &[
                "--mode",
                "vxlan",
                "--flavor",
                "calico",
                "--underlay",
                "racks:2",
                "--encryption",
                "wireguard",
            ],
            "--underlay racks:2",
        ),
    ];
    for (args, says) in cases {
        let dir = tempfile::tempdir().unwrap();
        let out = gen_any(dir.path(), args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "{args:?} wrote something"
        );
    }
    let out = cnilab()
        .args([
            "gen",
            "--mode",
            "host-gw",
            "--hosts",
            "2",
            "--encryption",
            "wireguard",
            "-o",
            "-",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--encryption writes each host's private key beside the topology")
    );
    assert!(out.stdout.is_empty(), "no topology without its keys");
}

/// Calico's WireGuard sits on top of the flavor's routing in both its modes: on VXLAN and on
/// IPIP, the same device, mark, table and rule, and the pods' MTU is WireGuard's.
#[test]
fn calicos_layout_is_felixs_table_mark_and_rule() {
    for calico in ["vxlan", "ipip"] {
        let dir = tempfile::tempdir().unwrap();
        let out = cnilab()
            .current_dir(dir.path())
            .args([
                "gen", "--mode", calico, "--flavor", "calico", "--hosts", "3",
            ])
            .args(["--name", "wg-gen", "--encryption", "wireguard"])
            .args(["-o", "clab.yaml"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{calico}: {}", stderr(&out));
        let topo = std::fs::read_to_string(dir.path().join("clab.yaml")).unwrap();
        for line in [
            "ip link add wireguard.cali type wireguard",
            "listen-port 51820 fwmark 0x200000",
            "ip route add 172.16.1.0/24 dev wireguard.cali table 1",
            "ip rule add not fwmark 0x200000/0x200000 table 1 priority 99",
            "sysctl -w net.ipv4.conf.all.src_valid_mark=1",
            "ip link set dev wireguard.cali mtu 1440",
            "felix/wireguard/wireguard.go",
            "cnilab.mtu: \"1440\"",
        ] {
            assert!(topo.contains(line), "{calico}: no `{line}`");
        }
        assert_eq!(mode(&key_file(dir.path(), "host2")), 0o600);
    }
}

/// A 3-host Cilium lab with `--encryption encryption`: its folder and its topology.
fn cilium(encryption: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "--mode",
        "vxlan",
        "--flavor",
        "cilium",
        "--encryption",
        encryption,
    ];
    let out = gen_any(dir.path(), &args);
    assert!(out.status.success(), "{}", stderr(&out));
    let topo = std::fs::read_to_string(dir.path().join("clab.yaml")).unwrap();
    (dir, topo)
}

#[test]
fn ciliums_wireguard_is_cilium_wg0_on_51871_routed_past_its_vxlan() {
    let (dir, topo) = cilium("wireguard");
    for line in [
        "ip link add cilium_wg0 type wireguard",
        "listen-port 51871 fwmark 0x1e00",
        "endpoint 10.0.2.2:51871 allowed-ips 172.16.1.0/24",
        "sysctl -w net.ipv4.conf.cilium_wg0.rp_filter=0",
        "ip link set dev cilium_wg0 mtu 1420",
        "ip route add 172.16.1.0/24 dev cilium_wg0",
        "pkg/wireguard/agent/agent.go",
        "cnilab.wg-port: \"51871\"",
    ] {
        assert!(topo.contains(line), "no `{line}`");
    }
    // The pods bypass Cilium's VXLAN tunnel: no encap route is left for them.
    assert!(!topo.contains("encap ip id"), "a VXLAN route is left");
    assert_eq!(mode(&key_file(dir.path(), "host3")), 0o600);
}

#[test]
fn ciliums_ipsec_keys_are_in_0600_batch_files_and_never_in_the_topology() {
    let (dir, topo) = cilium("ipsec");
    let batch = |host: &str| {
        dir.path()
            .join(format!("wg-gen.cnilab/ipsec/{host}/xfrm.batch"))
    };
    for (i, host) in ["host1", "host2", "host3"].iter().enumerate() {
        let file = batch(host);
        assert_eq!(mode(&file), 0o600, "{}", file.display());
        assert_eq!(mode(file.parent().unwrap()), 0o700, "its folder");
        let text = std::fs::read_to_string(&file).unwrap();
        // Two states and three policies per peer.
        assert_eq!(text.matches("xfrm state add").count(), 4, "{text}");
        assert_eq!(text.matches("xfrm policy add").count(), 6, "{text}");
        for key in text
            .split_whitespace()
            .filter(|w| w.starts_with("0x") && w.len() > 20)
        {
            assert!(!topo.contains(key), "{host}'s key is in the topology");
        }
        // The ESP this host sends carries its own SPI.
        let spi = format!("proto esp spi {:#x} ", ((i + 1) << 8) | 3);
        let sent = format!("xfrm state add src 10.0.{}.2 ", i + 1);
        assert!(
            text.lines()
                .filter(|l| l.starts_with(&sent))
                .all(|l| l.contains(&spi)),
            "{text}"
        );
    }
    for line in [
        "- ip -batch /var/run/cilium-ipsec/xfrm.batch",
        "cnilab.encryption: ipsec",
        "cnilab.ipsec-spi: \"3\"",
        "- wg-gen.cnilab/ipsec/host2:/var/run/cilium-ipsec",
        "pkg/datapath/linux/ipsec/ipsec_linux.go",
    ] {
        assert!(topo.contains(line), "no `{line}`");
    }
    assert!(!topo.contains("encap ip id"), "a VXLAN route is left");
    assert!(
        !topo.contains("xfrm state add"),
        "no key line in the topology"
    );
}
