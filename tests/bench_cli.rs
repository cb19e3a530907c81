//! `cnilab bench` refuses bad input and a missing iperf3 before it deploys anything.

mod common;

use common::*;

#[test]
fn missing_iperf3_is_one_line_with_the_install_command_and_exit_2() {
    let empty = tempfile::tempdir().unwrap();
    let out = cnilab()
        .args(["bench", "--modes", "host-gw", "--name", &unique("bnoip")])
        .env("PATH", empty.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        "cnilab: iperf3 is not installed; install it with `sudo apt-get install iperf3` \
         (or scripts/install-deps.sh)\n"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn a_plot_that_is_neither_svg_nor_png_is_refused_up_front() {
    let out = cnilab()
        .args(["bench", "--modes", "host-gw", "--plot", "chart.jpg"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        "cnilab: --plot chart.jpg: the file name must end in .svg or .png\n"
    );
}

#[test]
fn bad_flags_name_what_they_accept() {
    let out = cnilab()
        .args(["bench", "--modes", "calico"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("host-gw, vxlan, ipip"),
        "{}",
        stderr(&out)
    );
    let out = cnilab().args(["bench", "--repeat", "0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--repeat"), "{}", stderr(&out));
    let out = cnilab()
        .args(["bench", "--modes", "vxlan", "-t", "clab.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "--modes and -t conflict");
}

#[test]
fn a_mode_named_without_a_flavor_named_is_refused_with_the_valid_pairs() {
    let out = cnilab()
        .args(["bench", "--modes", "host-gw,ipip", "--flavors", "flannel"])
        .args(["--name", &unique("bnofl")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        "cnilab: --modes with --flavors names ipip/flannel, which cnilab cannot build; the valid \
         mode/flavor pairs are host-gw/article, host-gw/flannel, vxlan/article, vxlan/flannel, \
         vxlan/calico, vxlan/cilium, ipip/article, ipip/calico\n"
    );
    assert!(out.stdout.is_empty());
    let out = cnilab()
        .args(["bench", "--flavors", "weave"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("article, flannel, calico, cilium"),
        "{}",
        stderr(&out)
    );
    let out = cnilab()
        .args(["bench", "--flavors", "calico", "-t", "clab.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "--flavors and -t conflict");
}

#[test]
fn a_lab_that_cannot_be_sealed_is_refused_before_any_lab_is_deployed() {
    let prefix = unique("bnoenc");
    // flannel's host-gw can be sealed and would come first: nothing of it may be deployed
    // either; flannel's VXLAN has no WireGuard in cnilab.
    let out = cnilab()
        .args(["bench", "--modes", "host-gw,vxlan", "--flavors", "flannel"])
        .args(["--encryption", "wireguard"])
        .args(["--name", &prefix])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let said = stderr(&out);
    assert!(
        said.starts_with("cnilab: --encryption wireguard is built for")
            && said.contains("--mode vxlan"),
        "{said}"
    );
    assert!(!said.contains("deploying"), "{said}");
    assert!(lab_namespaces(&format!("{prefix}-host-gw-flannel")).is_empty());
    let out = cnilab()
        .args(["bench", "--encryption", "wireguard", "-t", "clab.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "--encryption and -t conflict");
}

#[test]
fn help_has_examples_of_modes_and_flavors() {
    let out = cnilab().args(["bench", "--help"]).output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for example in [
        "sudo cnilab bench --modes host-gw,vxlan",
        "sudo cnilab bench --modes vxlan --flavors article,flannel,calico,cilium",
        "sudo cnilab bench --flavors article,flannel,calico",
    ] {
        assert!(help.contains(example), "{example}: {help}");
    }
    assert!(help.contains("not NIC figures"), "{help}");
    assert!(help.contains("pod to pod on one host"), "{help}");
}

/// A family gen does not build for a mode is refused before anything is deployed, naming the
/// flag; with -t the lab's file says its families.
#[test]
fn ip_families_gen_does_not_build_are_refused_up_front() {
    let name = unique("b42fam");
    let out = cnilab()
        .args(["bench", "--ip-family", "ipv6", "--modes", "ipip"])
        .args(["--name", &name])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--ip-family ipv6"),
        "{}",
        stderr(&out)
    );
    assert!(out.stdout.is_empty());
    assert_eq!(
        lab_namespaces(&format!("{name}-ipip")),
        Vec::<String>::new()
    );
    let out = cnilab()
        .args(["bench", "--ip-family", "dual", "-t", "clab.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "-t brings its own families");
}
