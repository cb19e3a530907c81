//! End to end, as root, on this machine: WireGuard labs (`gen --encryption wireguard`) at 3
//! hosts deploy (through wireguard-go where the kernel has no WireGuard), verify passes every
//! pair, the underlay shows UDP 51820 and no pod address while iputils ping runs, trace names
//! where the probe is encrypted and decrypted, destroy ends every wireguard-go, and verify names
//! each fault the issue lists. One test, ignored here, is the VM stage's: the same lab in the
//! kernel's WireGuard.

mod common;

use common::captures::Tcpdump;
use common::verify::verify;
use common::{require_root, stderr, unique, LabGuard};
use serde_json::Value;
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;

/// wireguard-go and wg must be installed: a missing tool fails the test, never skips it.
fn require_wireguard_tools() {
    require_root();
    for (tool, package) in [("wg", "wireguard-tools"), ("wireguard-go", "wireguard-go")] {
        assert!(
            which::which(tool).is_ok(),
            "this test needs `{tool}` on PATH: install {package} (scripts/install-deps.sh)"
        );
    }
}

/// A deployed 3-host encrypted host-gw lab of `flavor`, its keys in the guard's folder.
fn deployed(prefix: &str, flavor: &str) -> LabGuard {
    deployed_saying(prefix, flavor).0
}

/// [`deployed`], and whether deploy said it ran wireguard-go (rather than the kernel's).
fn deployed_saying(prefix: &str, flavor: &str) -> (LabGuard, bool) {
    deployed_mode(prefix, "host-gw", flavor)
}

/// A deployed 3-host encrypted lab of `mode` and `flavor`, and whether deploy said it ran
/// wireguard-go.
fn deployed_mode(prefix: &str, mode: &str, flavor: &str) -> (LabGuard, bool) {
    require_wireguard_tools();
    let name = unique(prefix);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("clab.yaml");
    let out = common::cnilab()
        .args(["gen", "--mode", mode, "--hosts", "3", "--flavor", flavor])
        .args(["--encryption", "wireguard", "--name", &name, "-o"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "gen: {}", stderr(&out));
    let lab = LabGuard {
        name,
        file,
        dir,
        env: Vec::new(),
    };
    let out = lab.deploy();
    assert!(out.status.success(), "deploy: {}", stderr(&out));
    let said = stderr(&out);
    assert!(
        said.contains("run in wireguard-go in each node")
            || said.contains("run in the kernel's WireGuard"),
        "deploy does not say which WireGuard it used: {said}"
    );
    (lab, said.contains("wireguard-go"))
}

/// The inode of a network namespace, to tell which processes are in it.
fn netns_inode(path: &Path) -> Option<u64> {
    std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(path).ok()?).into()
}

/// The wireguard-go processes in the lab's namespaces, by host node.
fn wireguard_go(lab: &LabGuard) -> Vec<(String, i32)> {
    let mut found = Vec::new();
    for ns in lab.namespaces() {
        let Some(inode) = netns_inode(&Path::new("/run/netns").join(&ns)) else {
            continue;
        };
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            let there = netns_inode(Path::new(&format!("/proc/{pid}/ns/net"))) == Some(inode);
            if comm.trim() == "wireguard-go" && there {
                found.push((ns.clone(), pid));
            }
        }
    }
    found
}

/// Runs `wg ARGS` on host `node` where its device lives: in wireguard-go's mount namespace
/// (its control socket is in the node's /var/run/wireguard) or, with the kernel's WireGuard,
/// in the node's network namespace.
fn wg(lab: &LabGuard, node: &str, args: &[&str]) {
    let ns = format!("clab-{}-{node}", lab.name);
    let userspace = wireguard_go(lab).into_iter().find(|(n, _)| *n == ns);
    let mut cmd = match userspace {
        Some((_, pid)) => {
            let mut c = Command::new("nsenter");
            c.args(["-t", &pid.to_string(), "-m", "-n", "wg"]);
            c
        }
        None => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", &ns, "wg"]);
            c
        }
    };
    let out = cmd.args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{node}: wg {args:?}: {}",
        stderr(&out)
    );
}

fn pair<'a>(report: &'a Value, from: &str, to: &str) -> &'a Value {
    report["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["from"] == from && p["to"] == to)
        .unwrap_or_else(|| panic!("no pair {from} -> {to} in {report}"))
}

fn messages(p: &Value) -> Vec<String> {
    p["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["message"].as_str().unwrap().to_string())
        .collect()
}

fn assert_every_pair_passes_sealed(lab: &LabGuard) {
    common::verify::assert_every_pair_passes_sealed(lab, "WireGuard");
}

#[test]
fn host_gw_with_cnilabs_own_wireguard_passes_every_pair_and_destroy_ends_wireguard_go() {
    let (lab, userspace) = deployed_saying("wg-own-", "article");
    assert_every_pair_passes_sealed(&lab);
    let running = wireguard_go(&lab);
    let hosts: std::collections::BTreeSet<&String> = running.iter().map(|(ns, _)| ns).collect();
    let expected = if userspace { 3 } else { 0 };
    assert_eq!(
        hosts.len(),
        expected,
        "one wireguard-go per host where deploy said so: {running:?}"
    );
    let sockets = || wireguard_folder_files(&lab, "sock");
    assert_eq!(
        sockets().len(),
        expected,
        "wireguard-go's sockets while it runs"
    );
    let out = lab.destroy();
    assert!(out.status.success(), "destroy: {}", stderr(&out));
    lab.assert_gone();
    for (ns, pid) in running {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "wireguard-go {pid} of {ns} outlived its lab"
        );
    }
    assert_eq!(
        sockets(),
        Vec::<std::path::PathBuf>::new(),
        "sockets left behind"
    );
    assert_eq!(
        wireguard_folder_files(&lab, "key").len(),
        3,
        "gen's keys stay"
    );
}

/// The files ending in `.ext` in the hosts' WireGuard folders, `<lab>.cnilab/wireguard/<host>/`.
fn wireguard_folder_files(lab: &LabGuard, ext: &str) -> Vec<std::path::PathBuf> {
    let root = lab.file.parent().unwrap();
    let folders = root.join(format!("{}.cnilab/wireguard", lab.name));
    let hosts = std::fs::read_dir(&folders).unwrap_or_else(|e| panic!("{folders:?}: {e}"));
    hosts
        .flat_map(|host| std::fs::read_dir(host.unwrap().path()).unwrap())
        .map(|f| f.unwrap().path())
        .filter(|f| f.extension().is_some_and(|e| e == ext))
        .collect()
}

/// Addresses of a frame's IPv4 header, its protocol and UDP ports (0 for others).
fn ipv4(frame: &[u8]) -> Option<(Ipv4Addr, Ipv4Addr, u8, u16, u16)> {
    if frame.get(12..14)? != [0x08, 0x00] {
        return None;
    }
    let ip = frame.get(14..)?;
    let at = |o: usize| Ipv4Addr::new(ip[o], ip[o + 1], ip[o + 2], ip[o + 3]);
    let header = usize::from(ip[0] & 0x0f) * 4;
    let port = |o: usize| {
        ip.get(header + o..header + o + 2)
            .map_or(0, |b| u16::from_be_bytes([b[0], b[1]]))
    };
    let (sport, dport) = if ip[9] == 17 {
        (port(0), port(2))
    } else {
        (0, 0)
    };
    Some((at(12), at(16), ip[9], sport, dport))
}

#[test]
fn flannel_wireguard_passes_every_pair_and_an_underlay_shows_only_udp_51820() {
    let lab = deployed("wg-fl-", "flannel");
    assert_underlay_shows_only_wireguard(&lab, 51820);
    assert_every_pair_passes_sealed(&lab);
    assert_trace_shows_where_it_is_sealed(&lab);
}

/// tcpdump on host1's underlay during an iputils ping from pod1 to pod2: at least the 3
/// echoes and 3 replies as UDP to `port`, no pod address, no ICMP and no VXLAN (the tunnels
/// of Cilium's and flannel's unencrypted labs, which an encrypted one bypasses).
fn assert_underlay_shows_only_wireguard(lab: &LabGuard, port: u16) {
    let l = lab.lab();
    let pcap = lab.dir.path().join("host1-eth1.pcap");
    let ns = |node: &str| format!("clab-{}-{node}", lab.name);
    let dump = Tcpdump::start(&ns("host1"), "eth1", &pcap);
    let out = Command::new("ip")
        .args(["netns", "exec", &ns("pod1")])
        .args(["ping", "-c", "3", "-i", "0.2", "-W", "2"])
        .arg(l.pods[1].v4().to_string())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "iputils ping pod1 -> pod2: {}",
        stderr(&out)
    );
    let frames = dump.stop();
    let pods: Vec<Ipv4Addr> = l.pods.iter().map(|p| p.v4()).collect();
    let headers: Vec<_> = frames.iter().filter_map(|(_, f)| ipv4(f)).collect();
    let sealed = headers.iter().filter(|h| h.2 == 17 && h.4 == port).count();
    assert!(
        sealed >= 6,
        "3 echoes and 3 replies as UDP {port} on host1-eth1, saw {sealed}: {headers:?}"
    );
    for (src, dst, proto, _, dport) in &headers {
        assert!(
            !pods.contains(src) && !pods.contains(dst),
            "a pod address crossed the underlay in the clear: {src} > {dst} protocol {proto}"
        );
        assert_ne!(*proto, 1, "ICMP on the underlay: {src} > {dst}");
        assert!(
            ![4789, 8472].contains(dport),
            "VXLAN on the underlay: {src} > {dst}"
        );
    }
}

/// `trace` names the device and the peer that encrypted the probe, and the one that decrypted
/// it, both ways.
fn assert_trace_shows_where_it_is_sealed(lab: &LabGuard) {
    let out = lab.run(&["trace", "--json", "pod1", "pod2"]);
    assert!(out.status.success(), "trace: {}", stderr(&out));
    let walk: Value = serde_json::from_slice(&out.stdout).unwrap();
    let wraps: Vec<(String, String, String)> = walk["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| !s["wrap"].is_null())
        .map(|s| {
            let text = |k: &str| s[k].as_str().unwrap_or_default().to_string();
            (text("node"), text("wrap"), text("decision"))
        })
        .collect();
    let has = |node: &str, wrap: &str, says: &str| {
        wraps
            .iter()
            .any(|(n, w, d)| n == node && w == wrap && d.contains(says))
    };
    let l = lab.lab();
    let wg_ = l.encryption.clone().unwrap();
    let at = |i: usize| format!("{}:{}", l.hosts[i].v4_underlay(), wg_.port);
    let dev = &wg_.dev;
    for says in [
        (
            "host1",
            "encap",
            format!("encrypted by {dev} for host2 ({})", at(1)),
        ),
        (
            "host2",
            "decap",
            format!("decrypted by {dev} from host1 ({})", at(0)),
        ),
        ("host2", "encap", format!("encrypted by {dev} for host1")),
        ("host1", "decap", format!("decrypted by {dev} from host2")),
    ] {
        assert!(has(says.0, says.1, &says.2), "{says:?} not in {wraps:?}");
    }
}

/// Verify of a broken lab: it fails, `from -> to` gives every message in `says` and every
/// reason kind in `kinds`, and pod3 -> pod1, which the fault does not touch, passes.
fn assert_caught(lab: &LabGuard, pair_: (&str, &str), says: &[&str], kinds: &[&str]) {
    assert_caught_sparing(lab, pair_, says, kinds, ("pod3", "pod1"));
}

/// [`assert_caught`] with the pair that must still pass.
fn assert_caught_sparing(
    lab: &LabGuard,
    (from, to): (&str, &str),
    says: &[&str],
    kinds: &[&str],
    spared: (&str, &str),
) {
    let (code, report) = verify(lab, &[]);
    let broken = pair(&report, from, to);
    let got = messages(broken);
    for kind in kinds {
        let has = broken["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["kind"] == *kind);
        assert!(
            has,
            "{from} -> {to} has no reason of kind `{kind}`: {got:?}"
        );
    }
    for s in says {
        assert!(
            got.iter().any(|m| m.starts_with(s)),
            "{from} -> {to} lacks `{s}`: {got:?}"
        );
    }
    assert_eq!(code, 1, "verify must fail: {report}");
    // The pairs that do not touch the fault still pass.
    assert_eq!(
        pair(&report, spared.0, spared.1)["passed"],
        true,
        "{report}"
    );
}

/// host2 loses its peer for host1 and gets a stranger's key at host1's endpoint instead, as a
/// mistyped key would.
fn break_one_peer_key(lab: &LabGuard) {
    let l = lab.lab();
    let wg_ = l.encryption.clone().unwrap();
    let host1 = l.hosts[0].wg.clone().unwrap().public_key;
    let stranger = cnilab::plan::encryption::keys::KeyPair::generate()
        .unwrap()
        .public;
    let endpoint = format!("{}:{}", l.hosts[0].v4_underlay(), wg_.port);
    // What the tunnel carries for host1: its pods, or its tunnel address where the mode's
    // encapsulation runs inside.
    let subnet = match l.hosts[0].tunnel_ip() {
        Some(ip) => format!("{ip}/32"),
        None => l.hosts[0].pod_subnet.unwrap().to_string(),
    };
    wg(lab, "host2", &["set", &wg_.dev, "peer", &host1, "remove"]);
    wg(
        lab,
        "host2",
        &[
            "set",
            &wg_.dev,
            "peer",
            &stranger,
            "endpoint",
            &endpoint,
            "allowed-ips",
            &subnet,
        ],
    );
}

const WRONG_KEY_SAYS: [&str; 2] = [
    "no WireGuard handshake answer from host2 (check its peer key for host1)",
    "host2 has no WireGuard peer with host1's public key",
];

#[test]
fn a_wrong_public_key_for_one_peer_on_one_host_is_caught() {
    let lab = deployed("wg-key-", "flannel");
    break_one_peer_key(&lab);
    assert_caught(&lab, ("pod1", "pod2"), &WRONG_KEY_SAYS, &["wg_peer"]);
}

/// The VM stage's: the same lab in the kernel's WireGuard, whose state verify reads back
/// through `wg show dump` (netlink) rather than wireguard-go's socket.
#[test]
#[ignore = "needs a kernel with WireGuard: the VM stage runs it (make test-vm)"]
fn flannel_in_the_kernels_wireguard_passes_every_pair_and_a_wrong_key_is_caught() {
    let lab = deployed_in_the_kernel("wg-kern-", "host-gw", "flannel");
    assert_every_pair_passes_sealed(&lab);
    assert_a_broken_key_is_caught_in_the_kernel(&lab);
}

/// Cilium's cilium_wg0 in the kernel's WireGuard: only UDP 51871 on the underlay, every pair
/// sealed, and a wrong key named from the state read back over netlink.
#[test]
#[ignore = "needs a kernel with WireGuard: the VM stage runs it (make test-vm)"]
fn cilium_in_the_kernels_wireguard_passes_every_pair_and_a_wrong_key_is_caught() {
    let lab = deployed_in_the_kernel("wg-kci-", "vxlan", "cilium");
    assert_underlay_shows_only_wireguard(&lab, 51871);
    assert_every_pair_passes_sealed(&lab);
    assert_a_broken_key_is_caught_in_the_kernel(&lab);
}

fn deployed_in_the_kernel(prefix: &str, mode: &str, flavor: &str) -> LabGuard {
    let (lab, userspace) = deployed_mode(prefix, mode, flavor);
    assert!(
        !userspace,
        "deploy fell back to wireguard-go: this kernel has no WireGuard module, and this \
         test is for the kernel's (run it with make test-vm)"
    );
    assert!(
        wireguard_go(&lab).is_empty(),
        "no wireguard-go in a kernel lab"
    );
    lab
}

fn assert_a_broken_key_is_caught_in_the_kernel(lab: &LabGuard) {
    break_one_peer_key(lab);
    // host1 still holds the session of the healthy run, so it sends data rather than
    // handshakes: the state read back from host2 is what names the fault.
    let says = ["host2 has no WireGuard peer with host1's public key"];
    assert_caught(lab, ("pod1", "pod2"), &says, &["wg_peer"]);
}

#[test]
fn a_route_around_the_tunnel_is_caught_as_a_leak() {
    let lab = deployed("wg-leak-", "flannel");
    let l = lab.lab();
    let (host2, subnet) = (
        l.hosts[1].v4_underlay().to_string(),
        l.hosts[1].pod_subnet.unwrap().to_string(),
    );
    common::verify::exec(
        &lab,
        "host1",
        &format!("ip route add {subnet} via {host2} dev eth1"),
    );
    assert_pod1_to_pod2_leaks_at_host1(&lab, 51820);
}

/// host1's peer host2 gets allowed-ips without host2's pod subnet; returns that subnet.
fn drop_one_allowed_subnet(lab: &LabGuard) -> String {
    let l = lab.lab();
    let dev = l.encryption.clone().unwrap().dev;
    let host2 = l.hosts[1].wg.clone().unwrap().public_key;
    wg(
        lab,
        "host1",
        &["set", &dev, "peer", &host2, "allowed-ips", "10.99.99.0/24"],
    );
    l.hosts[1].pod_subnet.unwrap().to_string()
}

/// pod1 → pod2 crossed host1's underlay in the clear and not as WireGuard on `port`; pod2 →
/// pod3, which the fault does not touch, still passes.
fn assert_pod1_to_pod2_leaks_at_host1(lab: &LabGuard, port: u16) {
    let not_sealed = format!(
        "ping request from host1 to host2 not seen as WireGuard transport data on UDP {port}"
    );
    let says = [
        "leak: pod1 → pod2 crossed host1-eth1 (host underlay) in the clear",
        &not_sealed,
    ];
    assert_caught_sparing(
        lab,
        ("pod1", "pod2"),
        &says,
        &["leak", "not_sealed"],
        ("pod2", "pod3"),
    );
}

#[test]
fn allowed_ips_missing_a_peers_subnet_is_caught() {
    let lab = deployed("wg-aip-", "flannel");
    let subnet = drop_one_allowed_subnet(&lab);
    let says = [format!(
        "host1's WireGuard peer host2 lacks {subnet} in its allowed-ips"
    )];
    let says: Vec<&str> = says.iter().map(String::as_str).collect();
    assert_caught(&lab, ("pod1", "pod2"), &says, &["wg_peer"]);
}

#[test]
fn calicos_wireguard_on_vxlan_passes_every_pair_and_a_missing_rule_is_a_leak() {
    let (lab, _) = deployed_mode("wg-ca-", "vxlan", "calico");
    assert_every_pair_passes_sealed(&lab);
    // Without felix's rule, pod traffic takes the main table's VXLAN routes: in the clear.
    common::verify::exec(&lab, "host1", "ip rule del priority 99");
    assert_pod1_to_pod2_leaks_at_host1(&lab, 51820);
}

/// Calico's WireGuard on its IPIP mode (the VM stage's: this kernel has no IPIP): every pair
/// sealed, tunl0 unused; without felix's rule, pod traffic takes the IPIP routes in the clear.
#[test]
#[ignore = "needs a kernel with IPIP: the VM stage runs it (make test-vm)"]
fn calicos_wireguard_on_ipip_passes_every_pair_and_a_missing_rule_is_a_leak() {
    common::require_ipip();
    let (lab, _) = deployed_mode("wg-cai-", "ipip", "calico");
    assert_underlay_shows_only_wireguard(&lab, 51820);
    assert_every_pair_passes_sealed(&lab);
    common::verify::exec(&lab, "host1", "ip rule del priority 99");
    assert_pod1_to_pod2_leaks_at_host1(&lab, 51820);
}

/// Cilium's WireGuard on its VXLAN lab (`--flavor cilium --encryption wireguard`): cilium_wg0
/// on UDP 51871, every pair passes sealed, and an underlay sees UDP 51871 and no pod address.
#[test]
fn ciliums_wireguard_passes_every_pair_and_an_underlay_shows_only_udp_51871() {
    let (lab, _) = deployed_mode("wg-ci-", "vxlan", "cilium");
    let wg_ = lab.lab().encryption.unwrap();
    assert_eq!((wg_.dev.as_str(), wg_.port), ("cilium_wg0", 51871));
    assert_underlay_shows_only_wireguard(&lab, 51871);
    assert_every_pair_passes_sealed(&lab);
    assert_trace_shows_where_it_is_sealed(&lab);
}

#[test]
fn ciliums_wireguard_with_a_wrong_public_key_for_one_peer_is_caught() {
    let (lab, _) = deployed_mode("wg-cik-", "vxlan", "cilium");
    break_one_peer_key(&lab);
    assert_caught(&lab, ("pod1", "pod2"), &WRONG_KEY_SAYS, &["wg_peer"]);
}

/// host1 sends host2's pods by Cilium's own VXLAN tunnel again (the route its unencrypted lab
/// has), around cilium_wg0: verify looks into the VXLAN frames and finds the pods in the clear.
#[test]
fn ciliums_wireguard_with_a_route_around_the_tunnel_is_caught_as_a_leak() {
    let (lab, _) = deployed_mode("wg-cil-", "vxlan", "cilium");
    let l = lab.lab();
    let cnilab::wire::encap::Encap::Vxlan(vxlan) = l.encap else {
        panic!("Cilium's lab is VXLAN: {:?}", l.encap)
    };
    let host2 = &l.hosts[1];
    let line = format!(
        "ip route replace {} via {} dev {} onlink encap ip id {} dst {}",
        host2.pod_subnet.unwrap(),
        host2.vtep_ip.unwrap(),
        l.tunnel_dev.clone().unwrap(),
        vxlan.vni,
        host2.v4_underlay()
    );
    common::verify::exec(&lab, "host1", &line);
    assert_pod1_to_pod2_leaks_at_host1(&lab, 51871);
}

#[test]
fn ciliums_wireguard_with_allowed_ips_missing_a_peers_subnet_is_caught() {
    let (lab, _) = deployed_mode("wg-cia-", "vxlan", "cilium");
    let subnet = drop_one_allowed_subnet(&lab);
    let says = [format!(
        "host1's WireGuard peer host2 lacks {subnet} in its allowed-ips"
    )];
    let says: Vec<&str> = says.iter().map(String::as_str).collect();
    assert_caught(&lab, ("pod1", "pod2"), &says, &["wg_peer"]);
}

/// The article's vxlan mode inside cnilab's own tunnel (`--mode vxlan --encryption wireguard`):
/// the underlay shows UDP 51820 and no VXLAN, every pair passes sealed, and verify judged the
/// mode's VXLAN where it is, on each host's cnilab-wg.
#[test]
fn vxlan_inside_cnilabs_own_wireguard_passes_every_pair_with_vxlan_only_inside() {
    let (lab, _) = deployed_mode("e34-wgvx-", "vxlan", "article");
    assert_underlay_shows_only_wireguard(&lab, 51820);
    assert_every_pair_passes_sealed(&lab);
    let (code, report) = verify(&lab, &[]);
    assert_eq!(code, 0, "{report}");
    for host in ["host1", "host2", "host3"] {
        let inside = report["captures"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["point"]["node"] == host && c["point"]["iface"] == "cnilab-wg")
            .unwrap_or_else(|| panic!("verify did not listen on {host}'s cnilab-wg: {report}"));
        assert_eq!(inside["point"]["role"], "host_wireguard", "{inside}");
        assert!(
            inside["frames"].as_u64().unwrap() > 0,
            "nothing seen inside {host}'s tunnel: {inside}"
        );
    }
}

#[test]
fn vxlan_inside_cnilabs_own_wireguard_with_a_wrong_public_key_is_caught() {
    let (lab, _) = deployed_mode("e34-wgvk-", "vxlan", "article");
    break_one_peer_key(&lab);
    assert_caught(&lab, ("pod1", "pod2"), &WRONG_KEY_SAYS, &["wg_peer"]);
}

/// host1 routes host2's pod subnet out of its underlay, to its router: around the tunnel and
/// its VXLAN, the pods in the clear.
#[test]
fn vxlan_inside_cnilabs_own_wireguard_with_a_route_around_the_tunnel_is_caught() {
    let (lab, _) = deployed_mode("e34-wgvl-", "vxlan", "article");
    let l = lab.lab();
    let (host1, host2) = (&l.hosts[0], &l.hosts[1]);
    let line = format!(
        "ip route replace {} via {} dev {}",
        host2.pod_subnet.unwrap(),
        // Its router, the .1 of its underlay subnet (docs/address-plan.md).
        Ipv4Addr::from(u32::from(host1.v4_underlay()) & 0xffff_ff00 | 1),
        host1.underlay_if
    );
    common::verify::exec(&lab, "host1", &line);
    // The leak, and the mode's shape, which the plan wants between the tunnel addresses.
    let says = [
        "leak: pod1 → pod2 crossed host1-eth1 (host underlay) in the clear",
        "request: expected UDP/4789 VXLAN vni 1 between 100.64.0.1 and 100.64.0.2, saw plain IPv4 172.16.0.2 > 172.16.1.2 on host1-eth1",
    ];
    assert_caught_sparing(&lab, ("pod1", "pod2"), &says, &["leak"], ("pod2", "pod3"));
}

/// The VM stage's: the article's ipip inside cnilab's own tunnel (`--mode ipip --encryption
/// wireguard`), which needs the kernel's IPIP. Every pair passes sealed, the underlay shows
/// UDP 51820 and no IPIP, and a route that sends one peer's pod subnet around the tunnel is a
/// leak.
#[test]
#[ignore = "needs a kernel with IPIP: the VM stage runs it (make test-vm)"]
fn ipip_inside_cnilabs_own_wireguard_passes_every_pair_and_a_route_around_is_caught() {
    let (lab, _) = deployed_mode("e34-wgip-", "ipip", "article");
    assert_underlay_shows_only_wireguard(&lab, 51820);
    assert_every_pair_passes_sealed(&lab);
    let (code, report) = verify(&lab, &[]);
    assert_eq!(code, 0, "{report}");
    let inside = (report["captures"].as_array().unwrap().iter())
        .filter(|c| c["point"]["role"] == "host_wireguard" && c["frames"].as_u64() > Some(0))
        .count();
    assert_eq!(
        inside, 3,
        "verify saw IPIP inside each host's cnilab-wg: {report}"
    );
    let l = lab.lab();
    let (host1, host2) = (&l.hosts[0], &l.hosts[1]);
    let line = format!(
        "ip route replace {} via {} dev {}",
        host2.pod_subnet.unwrap(),
        // Its router's leg, the .1 of its underlay subnet (docs/address-plan.md).
        Ipv4Addr::from(u32::from(host1.v4_underlay()) & 0xffff_ff00 | 1),
        host1.underlay_if
    );
    common::verify::exec(&lab, "host1", &line);
    let says = ["leak: pod1 → pod2 crossed host1-eth1 (host underlay) in the clear"];
    assert_caught_sparing(&lab, ("pod1", "pod2"), &says, &["leak"], ("pod2", "pod3"));
}
