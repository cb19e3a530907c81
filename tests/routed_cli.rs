//! `cnilab gen --underlay` and `--routing`: what they write, and the usage errors (exit 2)
//! that name the flag.

mod common;

use common::*;

fn gen(args: &[&str]) -> std::process::Output {
    cnilab().arg("gen").args(args).output().unwrap()
}

#[test]
fn bad_underlays_and_routings_are_usage_errors_naming_the_fix() {
    let cases: [(&[&str], &str); 5] = [
        (
            &[
                "--mode",
                "vxlan",
                "--hosts",
                "4",
                "--underlay",
                "racks:2",
                "-o",
                "-",
            ],
            "--underlay racks:2 is for --mode host-gw",
        ),
        (
            &[
                "--mode",
                "host-gw",
                "--hosts",
                "4",
                "--underlay",
                "racks:9",
                "-o",
                "-",
            ],
            "racks:9 needs 2 to 4 racks",
        ),
        (
            &[
                "--mode",
                "host-gw",
                "--hosts",
                "4",
                "--underlay",
                "rack:2",
                "-o",
                "-",
            ],
            "unknown underlay `rack:2`",
        ),
        (
            &[
                "--mode",
                "host-gw",
                "--hosts",
                "2",
                "--routing",
                "bgp",
                "-o",
                "-",
            ],
            "--routing bgp needs routers",
        ),
        (
            &[
                "--mode",
                "host-gw",
                "--hosts",
                "2",
                "--underlay",
                "routed",
                "--routing",
                "bgp",
                "-o",
                "-",
            ],
            "give -o FILE",
        ),
    ];
    for (args, needle) in cases {
        let out = gen(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(needle), "{args:?}: {}", stderr(&out));
        assert!(out.stdout.is_empty(), "{args:?} wrote a topology");
    }
}

#[test]
fn bgp_writes_each_daemon_s_config_beside_the_topology() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lab.yaml");
    let out = cnilab()
        .args([
            "gen",
            "--mode",
            "host-gw",
            "--underlay",
            "racks:2",
            "--routing",
            "bgp",
        ])
        .args(["--hosts", "3", "--name", "bgpcli", "-o"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.contains("underlay=racks:2"),
        "the header names the underlay"
    );
    for node in ["host1", "host2", "host3", "gw1", "gw2"] {
        let conf = dir
            .path()
            .join(format!("bgpcli.cnilab/bird/{node}/bird.conf"));
        let conf = std::fs::read_to_string(&conf).unwrap_or_else(|e| panic!("{node}: {e}"));
        assert!(conf.contains("protocol bgp"), "{node}: {conf}");
        assert!(
            text.contains(&format!("- bgpcli.cnilab/bird/{node}:/run/bird")),
            "{node}"
        );
    }
    let host3 =
        std::fs::read_to_string(dir.path().join("bgpcli.cnilab/bird/host3/bird.conf")).unwrap();
    assert!(host3.contains("route 10.0.3.0/24 via \"cni0\""), "{host3}");
    assert!(host3.contains("neighbor 192.168.2.1 as 65002"), "{host3}");
    let gw1 = std::fs::read_to_string(dir.path().join("bgpcli.cnilab/bird/gw1/bird.conf")).unwrap();
    for peer in [
        "protocol bgp host1",
        "protocol bgp host2",
        "protocol bgp gw2",
    ] {
        assert!(gw1.contains(peer), "{peer}: {gw1}");
    }
    assert!(
        !gw1.contains("protocol bgp host3"),
        "host3 is in rack 2: {gw1}"
    );
}
