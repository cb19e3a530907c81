//! The ACCEPT rules containerlab adds for each `kind: bridge` node and never removes
//! (nodes/bridge/bridge.go, `installIPTablesBridgeFwdRule`): one for traffic in from the
//! bridge, one for traffic out to it, IPv4 and (where available) IPv6, with the comment
//! "set by containerlab" (runtime/docker/firewall/definitions). Where it is installed depends
//! on the firewall containerlab found:
//! - nftables (an `ip filter FORWARD` chain exists): chain FORWARD of table filter, made over
//!   netlink as `iifname/oifname <bridge>`, an xt comment match, a counter and accept;
//! - otherwise iptables: `-I DOCKER-USER -i|-o <bridge> -j ACCEPT -m comment --comment
//!   "set by containerlab"` (runtime/docker/firewall/iptables/client.go).
//!
//! cnilab removes them only for the bridges it made itself, in both places.

use crate::runtime::process::{self, which};
use crate::runtime::TeardownError;

const COMMENT: &str = "set by containerlab";

/// Removes containerlab's rules for `bridge`; one error per rule that would not go.
pub fn remove_bridge_rules(bridge: &str) -> Vec<TeardownError> {
    let mut errors = Vec::new();
    for tool in ["iptables", "ip6tables"] {
        if which(tool).is_some() {
            errors.extend(remove_iptables_rules(tool, bridge));
        }
    }
    if which("nft").is_some() {
        for family in ["ip", "ip6"] {
            errors.extend(remove_nft_rules(family, bridge));
        }
    }
    errors
}

fn remove_iptables_rules(tool: &str, bridge: &str) -> Vec<TeardownError> {
    let mut errors = Vec::new();
    for direction in ["-i", "-o"] {
        let rule = |op: &str| {
            let mut argv = process::strings([tool, "-w", "5", op, "DOCKER-USER", direction]);
            argv.extend(process::strings([
                bridge,
                "-j",
                "ACCEPT",
                "-m",
                "comment",
                "--comment",
                COMMENT,
            ]));
            argv
        };
        // containerlab checks before it inserts, but a rule can still be there twice.
        for _ in 0..8 {
            if !process::run(&rule("-C"), None).ok() {
                break;
            }
            let ran = process::run(&rule("-D"), None);
            if !ran.ok() {
                errors.push(TeardownError::Firewall {
                    bridge: bridge.to_string(),
                    detail: format!(
                        "`{tool} -D DOCKER-USER {direction} {bridge}`: {}",
                        ran.stderr
                    ),
                });
                break;
            }
        }
    }
    errors
}

fn remove_nft_rules(family: &str, bridge: &str) -> Vec<TeardownError> {
    let listed = duct::cmd("nft", ["-a", "list", "chain", family, "filter", "FORWARD"])
        .stdin_null()
        .stderr_null()
        .stdout_capture()
        .unchecked()
        .run();
    let Ok(out) = listed else {
        return Vec::new();
    };
    if !out.status.success() {
        // No such chain: containerlab used iptables here, or nothing at all.
        return Vec::new();
    }
    let mut errors = Vec::new();
    for handle in rule_handles(&String::from_utf8_lossy(&out.stdout), bridge) {
        let argv = process::strings([
            "nft", "delete", "rule", family, "filter", "FORWARD", "handle", &handle,
        ]);
        let ran = process::run(&argv, None);
        if !ran.ok() {
            errors.push(TeardownError::Firewall {
                bridge: bridge.to_string(),
                detail: format!("`{}`: {}", argv.join(" "), ran.stderr),
            });
        }
    }
    errors
}

/// The handles of containerlab's accept rules for `bridge` in `nft -a list chain` output.
/// nft shows the xt comment match as `xt match "comment"`, or as `comment "set by
/// containerlab"` where it can translate it: either way the word `comment` is there.
fn rule_handles(listing: &str, bridge: &str) -> Vec<String> {
    let iif = format!("iifname \"{bridge}\" ");
    let oif = format!("oifname \"{bridge}\" ");
    listing
        .lines()
        .map(str::trim)
        .filter(|l| (l.starts_with(&iif) || l.starts_with(&oif)) && l.contains("comment"))
        .filter_map(|l| {
            let (rule, handle) = l.rsplit_once(" # handle ")?;
            (rule.split_whitespace().any(|w| w == "accept")
                && handle.chars().all(|c| c.is_ascii_digit()))
            .then(|| handle.to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_containerlabs_rules_for_the_bridge_only() {
        let listing = r#"table ip filter {
	chain FORWARD { # handle 2
		type filter hook forward priority filter; policy drop;
		oifname "switch" xt match "comment" counter packets 0 bytes 0 accept # handle 12
		iifname "switch" xt match "comment" counter packets 3 bytes 252 accept # handle 11
		iifname "switch2" xt match "comment" counter packets 0 bytes 0 accept # handle 10
		iifname "switch" counter packets 0 bytes 0 accept # handle 9
		oifname "switch" counter packets 0 bytes 0 accept comment "set by containerlab" # handle 8
		counter packets 9 bytes 756 jump DOCKER-USER # handle 5
	}
}
"#;
        assert_eq!(rule_handles(listing, "switch"), ["12", "11", "8"]);
        assert!(rule_handles(listing, "wan").is_empty());
    }

    /// containerlab's iptables rules, made in a scratch network namespace (a thread of its
    /// own), are removed; another bridge's rule and a rule without the comment stay.
    #[test]
    fn removes_the_iptables_rules_containerlab_adds() {
        assert!(
            nix::unistd::geteuid().is_root(),
            "this test makes a network namespace and must run as root"
        );
        assert!(which("iptables").is_some(), "iptables is not on PATH");
        let left = std::thread::spawn(|| {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).expect("unshare");
            let ipt = |args: &[&str]| {
                let mut argv = vec!["iptables".to_string()];
                argv.extend(args.iter().map(|a| a.to_string()));
                let ran = process::run(&argv, None);
                assert!(ran.ok(), "{argv:?}: {}", ran.stderr);
            };
            ipt(&["-N", "DOCKER-USER"]);
            for (dir, br) in [("-i", "switch"), ("-o", "switch"), ("-i", "wan")] {
                ipt(&[
                    "-I",
                    "DOCKER-USER",
                    dir,
                    br,
                    "-j",
                    "ACCEPT",
                    "-w",
                    "5",
                    "-m",
                    "comment",
                    "--comment",
                    COMMENT,
                ]);
            }
            ipt(&["-A", "DOCKER-USER", "-i", "switch", "-j", "ACCEPT"]);
            let errors = remove_iptables_rules("iptables", "switch");
            assert!(errors.is_empty(), "{errors:?}");
            let out = duct::cmd!("iptables", "-S", "DOCKER-USER").read().unwrap();
            out.lines()
                .filter(|l| l.starts_with("-A"))
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .join()
        .unwrap();
        assert_eq!(left.len(), 2, "{left:?}");
        assert!(
            left[0].contains("-i wan") && left[0].contains(COMMENT),
            "{left:?}"
        );
        assert_eq!(left[1], "-A DOCKER-USER -i switch -j ACCEPT");
    }
}
