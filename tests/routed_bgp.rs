//! host-gw across routers with BGP (BIRD 2 on every host and router), on the netns runtime:
//! every pair passes as plain IPv4 once the sessions are up, and in IPv6 over sessions of its
//! own in dual-stack and IPv6-only labs; routes that never come are named
//! after the timeout, and a daemon that dies is named at once; trace waits for the sessions;
//! no daemon outlives its lab. Root and bird2 only.

mod common;

use common::verify::{pair, verify_healthy};
use common::*;
use std::collections::BTreeSet;

fn require_bird() {
    let ok = std::process::Command::new("bird")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "these tests need BIRD 2: run scripts/install-deps.sh (apt-get install bird2)"
    );
}

/// A BGP lab's files in the guard's folder: the topology and each node's bird.conf beside it.
fn generated(hosts: usize, underlay: &str) -> LabGuard {
    generated_with(hosts, underlay, &[])
}

/// As [`generated`], with `extra` arguments to gen.
fn generated_with(hosts: usize, underlay: &str, extra: &[&str]) -> LabGuard {
    require_root();
    require_bird();
    let name = unique("rtg");
    let lab = LabGuard::from_yaml(&name, "");
    let out = cnilab()
        .args([
            "gen",
            "--mode",
            "host-gw",
            "--underlay",
            underlay,
            "--routing",
            "bgp",
        ])
        .args(["--name", &name, "--hosts", &hosts.to_string(), "--force"])
        .args(extra)
        .arg("-o")
        .arg(&lab.file)
        .output()
        .unwrap();
    assert!(out.status.success(), "gen failed: {}", stderr(&out));
    lab
}

/// The BIRD processes running in the lab's namespaces now.
fn birds_of(lab: &LabGuard) -> BTreeSet<u32> {
    lab.namespaces()
        .iter()
        .flat_map(|ns| {
            let out = std::process::Command::new("ip")
                .args(["netns", "pids", ns])
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .filter(|pid| comm(*pid).as_deref() == Some("bird"))
        .collect()
}

fn comm(pid: u32) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    Some(text.trim().to_string())
}

/// Every BIRD process on the machine that sees this lab's BIRD folder at its /run/bird: the
/// lab's daemons even after its namespaces are gone.
fn birds_bound_to(lab: &LabGuard) -> BTreeSet<u32> {
    let folder = format!("{}.cnilab/bird/", lab.name);
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| comm(*pid).as_deref() == Some("bird"))
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/mountinfo"))
                .is_ok_and(|m| m.contains(&folder))
        })
        .collect()
}

#[test]
fn bgp_carries_every_pod_route_and_a_dead_daemon_is_named() {
    let lab = generated(4, "routed");
    let out = lab.deploy();
    assert!(out.status.success(), "deploy failed: {}", stderr(&out));
    let birds = birds_of(&lab);
    assert_eq!(birds.len(), 8, "a daemon on each of 4 hosts and 4 routers");
    assert_eq!(
        birds_bound_to(&lab),
        birds,
        "each daemon sees the lab's folder"
    );

    let (code, report) = verify_healthy(&lab, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["pairs"].as_array().unwrap().len(), 12);
    let p = pair(&report, "pod1", "pod3");
    assert_eq!(p["passed"], true, "{p:#}");
    assert!(
        p["wire"]
            .as_str()
            .unwrap()
            .starts_with("plain IPv4 10.0.1.2 > 10.0.3.2"),
        "{p:#}"
    );
    assert!(p.get("expected_failure").is_none(), "{p:#}");

    // host1 stops announcing its pods, its daemon alive: verify waits out the timeout and
    // names the routes that never came.
    birdc(&lab, "host1", &["disable", "pods"]);
    let out = lab.run(&["verify", "--converge-timeout", "8"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    for needle in [
        "waiting up to 8 s for BGP to converge",
        "BGP did not converge within 8 s",
        "host2 has no route to 10.0.1.0/24 (host1's pods)",
        "host4 has no route to 10.0.1.0/24 (host1's pods)",
    ] {
        assert!(err.contains(needle), "missing `{needle}` in: {err}");
    }
    assert!(!err.contains("host2 has no route to 10.0.3.0/24"), "{err}");

    // host1's daemon dies: verify says so without waiting out its 60 s.
    let ns = format!("clab-{}-host1", lab.name);
    let host1_bird = birds_of(&lab)
        .into_iter()
        .find(|pid| {
            let out = std::process::Command::new("ip")
                .args(["netns", "identify", &pid.to_string()])
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).trim() == ns
        })
        .expect("host1 runs bird");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(host1_bird as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let out = lab.run(&["verify"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("BIRD on host1 is not running (birdc: Unable to connect"),
        "{err}"
    );
    assert!(err.contains("nothing was probed"), "{err}");
    assert!(
        !err.contains("did not converge"),
        "waited out the timeout: {err}"
    );

    let out = lab.destroy();
    assert!(out.status.success(), "destroy failed: {}", stderr(&out));
    lab.assert_gone();
    let alive: Vec<u32> = birds
        .into_iter()
        .filter(|p| comm(*p).as_deref() == Some("bird"))
        .collect();
    assert!(alive.is_empty(), "daemons outlived their lab: {alive:?}");
}

#[test]
fn trace_right_after_deploy_waits_for_bgp_and_then_walks() {
    let lab = generated(4, "routed");
    let out = lab.deploy();
    assert!(out.status.success(), "deploy failed: {}", stderr(&out));
    // No pause: the sessions are still coming up when the walk is asked for.
    let out = lab.run(&["trace", "pod1", "pod3", "--json"]);
    assert!(out.status.success(), "trace failed: {}", stderr(&out));
    let walk: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let text = walk.to_string();
    assert!(!text.contains("no route to"), "{walk:#}");
    let out = lab.destroy();
    assert!(out.status.success(), "destroy failed: {}", stderr(&out));
    lab.assert_gone();
}

#[test]
fn a_failed_deploy_leaves_no_daemon_behind() {
    let lab = generated(2, "routed");
    // host2's daemon starts, then its next line fails: the deploy rolls back.
    let text = std::fs::read_to_string(&lab.file).unwrap();
    let start = "        - bird -c /run/bird/bird.conf -s /run/bird/bird.ctl\n";
    let at = text.find("    host2:").unwrap();
    let (head, tail) = text.split_at(at);
    let broken = format!(
        "{head}{}",
        tail.replacen(start, &format!("{start}        - false\n"), 1)
    );
    assert_ne!(broken, text);
    std::fs::write(&lab.file, broken).unwrap();
    let out = lab.deploy();
    assert!(!out.status.success(), "the broken lab deployed");
    assert!(stderr(&out).contains("`false`"), "{}", stderr(&out));
    lab.assert_gone();
    let left = birds_bound_to(&lab);
    assert!(
        left.is_empty(),
        "daemons outlived the failed deploy: {left:?}"
    );
}

/// Runs `birdc -s <node's socket> <args>` and asserts it worked.
fn birdc(lab: &LabGuard, node: &str, args: &[&str]) {
    let socket = lab
        .file
        .parent()
        .unwrap()
        .join(format!("{}.cnilab/bird/{node}/bird.ctl", lab.name));
    let out = std::process::Command::new("birdc")
        .arg("-s")
        .arg(&socket)
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "birdc {args:?}: {}", stderr(&out));
}

/// In a dual-stack lab each family has its own BGP sessions: every pair passes in both
/// families, the IPv6 pod routes came by BGP, and host1 withdrawing its IPv6 prefix alone is
/// named as the IPv6 routes that never came, the IPv4 ones untouched.
#[test]
fn bgp_carries_ipv6_pod_routes_in_a_dual_stack_lab() {
    let lab = generated_with(4, "racks:2", &["--ip-family", "dual"]);
    let out = lab.deploy();
    assert!(out.status.success(), "deploy failed: {}", stderr(&out));
    let (code, report) = verify_healthy(&lab, &[]);
    assert_eq!(code, 0, "{report:#}");
    let summary = report["summary"].as_str().unwrap();
    assert!(
        summary.contains("IPv4 12/12, IPv6 12/12: IPv4 and IPv6 proven"),
        "{summary}"
    );
    assert!(
        report["pairs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p.get("expected_failure").is_none()),
        "BGP carries every cross-rack pair: {report:#}"
    );
    let ns = format!("clab-{}-host1", lab.name);
    let routes = std::process::Command::new("ip")
        .args(["-n", &ns, "-6", "route", "show", "fd00:10:0:3::/64"])
        .output()
        .unwrap();
    let routes = String::from_utf8_lossy(&routes.stdout);
    assert!(
        routes.contains("proto bird"),
        "host3's IPv6 pods by BGP: {routes}"
    );

    birdc(&lab, "host1", &["disable", "pods6"]);
    let out = lab.run(&["verify", "--converge-timeout", "8"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("host3 has no route to fd00:10:0:1::/64 (host1's pods)"),
        "{err}"
    );
    assert!(
        !err.contains("no route to 10.0.1.0/24"),
        "IPv4 is untouched: {err}"
    );
}

/// An IPv6-only BGP lab: sessions over the IPv6 underlay alone carry every pod prefix.
#[test]
fn bgp_carries_every_pod_route_in_an_ipv6_lab() {
    let lab = generated_with(4, "racks:2", &["--ip-family", "ipv6"]);
    let out = lab.deploy();
    assert!(out.status.success(), "deploy failed: {}", stderr(&out));
    let (code, report) = verify_healthy(&lab, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(
        report["summary"], "12/12 pairs passed (host-gw, 4 hosts; IPv6 only)",
        "{report:#}"
    );
    let p = pair(&report, "pod1", "pod3");
    assert!(
        p["wire"]
            .as_str()
            .unwrap()
            .starts_with("plain IPv6 fd00:10:0:1::2 > fd00:10:0:3::2"),
        "{p:#}"
    );
}
