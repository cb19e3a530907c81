//! The ACCEPT rules containerlab adds for each `kind: bridge` node and never removes: its
//! bridge node's `Delete` leaves them, because the bridge may serve another lab
//! (nodes/bridge/bridge.go, `installIPTablesBridgeFwdRule` and `Delete`). One rule lets
//! traffic in from the bridge, one out to it, for IPv4 and, where the host has it, IPv6. Where
//! they go depends on the client containerlab picked (runtime/docker/firewall/firewall.go,
//! `NewFirewallClient`):
//! - nftables, wherever table `ip filter` has a FORWARD chain (Docker on iptables-nft, as on
//!   Debian and Ubuntu): chain FORWARD, made over netlink as an `iifname`/`oifname` match, an
//!   xt comment "set by containerlab", a counter and accept (nftables/client.go,
//!   `InstallForwardingRulesForAF`). nft prints the xt comment as `xt match "comment"`,
//!   `comment "…"`, or, as Debian's nft 1.0.6 does, not at all:
//!   `iifname "switch"  counter packets 0 bytes 0 accept # handle 2`;
//! - otherwise iptables: `-I DOCKER-USER -i|-o <bridge> -j ACCEPT -m comment --comment "set by
//!   containerlab"` (iptables/client.go).
//!
//! So a rule is containerlab's when it is exactly that shape: an interface match on the bridge,
//! no comment or containerlab's, a counter, accept. cnilab removes such rules only for bridges
//! it made for this lab, never for a bridge it found or another lab made. It looks through
//! `nft` by handle, and through iptables (which, when it is iptables-nft, also shows the
//! nftables rules in FORWARD) by the rule's own spec.

use crate::runtime::process::{self, which};
use crate::runtime::TeardownError;

const COMMENT: &str = "set by containerlab";
const CHAIN: &str = "FORWARD";

/// Removes containerlab's rules for `bridges`; one error per rule that would not go.
pub fn remove_bridge_rules(bridges: &[String]) -> Vec<TeardownError> {
    if bridges.is_empty() {
        return Vec::new();
    }
    let mut errors = Vec::new();
    let nft = which("nft").is_some();
    if nft {
        for family in ["ip", "ip6"] {
            errors.extend(remove_nft_rules(family, bridges));
        }
    }
    for tool in ["iptables", "ip6tables"] {
        if which(tool).is_some() {
            for chain in ["DOCKER-USER", CHAIN] {
                errors.extend(remove_iptables_rules(tool, chain, bridges));
            }
        }
    }
    if !nft && nftables_unseen() {
        eprintln!("cnilab: warning: {}", blind_spot(bridges));
    }
    errors
}

/// nftables is in use (its module is loaded) but neither `nft` nor an iptables built on
/// nftables is here to show its rules: containerlab's may be left behind unseen.
fn nftables_unseen() -> bool {
    if !std::path::Path::new("/sys/module/nf_tables").exists() {
        return false;
    }
    let version = duct::cmd!("iptables", "-V")
        .stderr_null()
        .unchecked()
        .read()
        .unwrap_or_default();
    !version.contains("nf_tables")
}

fn blind_spot(bridges: &[String]) -> String {
    format!(
        "`nft` is not installed (Debian/Ubuntu package nftables), so containerlab's nftables \
         rules for bridge(s) {} could not be looked for and may be left in chain FORWARD of \
         table ip filter; install nftables and run destroy again, or see `nft -a list chain ip \
         filter FORWARD`",
        bridges.join(", ")
    )
}

/// What a firewall tool lists, or `None` where it fails (no such chain, no such tool).
fn listing(tool: &str, args: &[&str]) -> Option<String> {
    let out = duct::cmd(tool, args)
        .stdin_null()
        .stderr_null()
        .stdout_capture()
        .unchecked()
        .run()
        .ok()
        .filter(|out| out.status.success())?;
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn remove_nft_rules(family: &str, bridges: &[String]) -> Vec<TeardownError> {
    // No such chain: containerlab used iptables here, or made no rule at all.
    let Some(listed) = listing("nft", &["-a", "list", "chain", family, "filter", CHAIN]) else {
        return Vec::new();
    };
    nft_rules(&listed, bridges)
        .into_iter()
        .filter_map(|(bridge, handle)| {
            let argv = process::strings([
                "nft", "delete", "rule", family, "filter", CHAIN, "handle", &handle,
            ]);
            let ran = process::run(&argv, None);
            (!ran.ok()).then(|| TeardownError::Firewall {
                bridge,
                detail: format!("`{}`: {}", argv.join(" "), ran.stderr),
            })
        })
        .collect()
}

fn remove_iptables_rules(tool: &str, chain: &str, bridges: &[String]) -> Vec<TeardownError> {
    // No such chain: Docker (or containerlab) never made it here.
    let Some(listed) = listing(tool, &["-w", "5", "-S", chain]) else {
        return Vec::new();
    };
    iptables_rules(&listed, bridges)
        .into_iter()
        .filter_map(|(bridge, spec)| {
            let mut argv = process::strings([tool, "-w", "5", "-D"]);
            argv.extend(spec);
            let ran = process::run(&argv, None);
            (!ran.ok()).then(|| TeardownError::Firewall {
                bridge,
                detail: format!("`{}`: {}", argv.join(" "), ran.stderr),
            })
        })
        .collect()
}

/// containerlab's rules for `bridges` in `nft -a list chain` output: each rule's bridge and
/// handle.
fn nft_rules(listing: &str, bridges: &[String]) -> Vec<(String, String)> {
    listing
        .lines()
        .filter_map(|line| {
            let (rule, handle) = line.trim().rsplit_once(" # handle ")?;
            let handle = handle.trim();
            if handle.is_empty() || !handle.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let words = shlex::split(rule)?;
            let bridge = nft_shape(&words, bridges)?;
            Some((bridge.to_string(), handle.to_string()))
        })
        .collect()
}

/// The bridge, if `words` are containerlab's rule on one of `bridges`: `iifname|oifname
/// "<bridge>"`, then `xt match "comment"` or `comment "set by containerlab"` or nothing,
/// `counter packets N bytes M`, `accept`, and perhaps the comment again, last.
fn nft_shape<'a>(words: &[String], bridges: &'a [String]) -> Option<&'a str> {
    let (direction, rest) = words.split_first()?;
    let (name, rest) = rest.split_first()?;
    if direction != "iifname" && direction != "oifname" {
        return None;
    }
    let bridge = bridges.iter().find(|b| *b == name)?;
    let rest = strip_comment(rest);
    let [counter, packets, p, bytes, b, accept, rest @ ..] = rest else {
        return None;
    };
    let counted = counter == "counter" && packets == "packets" && bytes == "bytes";
    let numbers = [p, b].iter().all(|n| n.bytes().all(|c| c.is_ascii_digit()));
    let done = strip_comment(rest).is_empty();
    (counted && numbers && accept == "accept" && done).then_some(bridge.as_str())
}

/// `words` without a leading comment of containerlab's; unchanged if it starts otherwise.
fn strip_comment(words: &[String]) -> &[String] {
    match words {
        [xt, m, c, rest @ ..] if xt == "xt" && m == "match" && c == "comment" => rest,
        [c, text, rest @ ..] if c == "comment" && text.starts_with(COMMENT) => rest,
        _ => words,
    }
}

/// containerlab's rules for `bridges` in `iptables -S CHAIN` output: each rule's bridge and
/// the spec that deletes it (`-D` takes what `-A` printed).
fn iptables_rules(listing: &str, bridges: &[String]) -> Vec<(String, Vec<String>)> {
    listing
        .lines()
        .filter_map(|line| {
            let words = shlex::split(line)?;
            let [append, chain, rest @ ..] = words.as_slice() else {
                return None;
            };
            if append != "-A" {
                return None;
            }
            let bridge = iptables_shape(rest, bridges)?;
            let mut spec = vec![chain.clone()];
            spec.extend(rest.iter().cloned());
            Some((bridge.to_string(), spec))
        })
        .collect()
}

/// The bridge, if `words` (a rule after `-A CHAIN`) are `-i|-o <bridge>`, then `-m comment
/// --comment "set by containerlab"` or nothing, then `-j ACCEPT`.
fn iptables_shape<'a>(words: &[String], bridges: &'a [String]) -> Option<&'a str> {
    let [flag, name, rest @ ..] = words else {
        return None;
    };
    if flag != "-i" && flag != "-o" {
        return None;
    }
    let bridge = bridges.iter().find(|b| *b == name)?;
    let rest = match rest {
        [m, c, cc, text, rest @ ..]
            if m == "-m" && c == "comment" && cc == "--comment" && text.starts_with(COMMENT) =>
        {
            rest
        }
        _ => rest,
    };
    matches!(rest, [j, accept] if j == "-j" && accept == "ACCEPT").then_some(bridge.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ours(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    /// What Debian 12's nft 1.0.6 prints for the rules containerlab's nftables client makes:
    /// the xt comment match prints as nothing, leaving two spaces.
    #[test]
    fn finds_the_rules_nft_1_0_6_prints_without_their_comment() {
        let listing = "table ip filter {
\tchain FORWARD { # handle 1
\t\ttype filter hook forward priority filter; policy drop;
\t\toifname \"switch\"  counter packets 0 bytes 0 accept # handle 3
\t\tiifname \"switch\"  counter packets 0 bytes 0 accept # handle 2
\t\tcounter packets 9 bytes 756 jump DOCKER-USER # handle 5
\t}
}
";
        let found = nft_rules(listing, &ours(&["switch"]));
        assert_eq!(
            found,
            [("switch".into(), "3".into()), ("switch".into(), "2".into())]
        );
    }

    #[test]
    fn finds_the_rules_where_nft_shows_the_comment() {
        let listing = r#"
		oifname "br-x" xt match "comment" counter packets 0 bytes 0 accept # handle 12
		iifname "br-x" counter packets 3 bytes 252 accept comment "set by containerlab" # handle 8
		iifname "br-x" comment "set by containerlab" counter packets 1 bytes 84 accept # handle 7
"#;
        let handles: Vec<String> = nft_rules(listing, &ours(&["br-x"]))
            .into_iter()
            .map(|(_, h)| h)
            .collect();
        assert_eq!(handles, ["12", "8", "7"]);
    }

    /// Another lab's bridge, a bridge whose name merely starts the same, Docker's own rules on
    /// the bridge, and a rule someone commented otherwise all stay.
    #[test]
    fn never_takes_a_rule_of_another_bridge_or_another_shape() {
        let listing = r#"
		iifname "switch2"  counter packets 0 bytes 0 accept # handle 10
		iifname "switc"  counter packets 0 bytes 0 accept # handle 11
		iifname "switch" oifname != "switch" counter packets 0 bytes 0 accept # handle 12
		oifname "switch" ct state related,established counter packets 0 bytes 0 accept # handle 13
		iifname "switch" counter packets 0 bytes 0 accept comment "mine, keep" # handle 14
		iifname "switch" counter packets 0 bytes 0 drop # handle 15
		iifname "switch" counter packets 0 bytes 0 accept # handle x
"#;
        assert!(nft_rules(listing, &ours(&["switch"])).is_empty());
        let other = "\t\tiifname \"switch\"  counter packets 0 bytes 0 accept # handle 2\n";
        assert!(nft_rules(other, &ours(&["switch2", "wan"])).is_empty());
    }

    #[test]
    fn finds_the_iptables_rules_and_the_spec_that_deletes_them() {
        let listing = r#"-N DOCKER-USER
-A DOCKER-USER -i switch -m comment --comment "set by containerlab" -j ACCEPT
-A DOCKER-USER -o switch -m comment --comment "set by containerlab" -j ACCEPT
-A FORWARD -i switch -j ACCEPT
-A FORWARD -i switch2 -m comment --comment "set by containerlab" -j ACCEPT
-A FORWARD -i switch ! -o switch -j ACCEPT
-A FORWARD -i switch -m comment --comment "mine" -j ACCEPT
-A DOCKER-USER -j RETURN
"#;
        let found = iptables_rules(listing, &ours(&["switch"]));
        let specs: Vec<String> = found.iter().map(|(_, s)| s.join(" ")).collect();
        assert_eq!(
            specs,
            [
                "DOCKER-USER -i switch -m comment --comment set by containerlab -j ACCEPT",
                "DOCKER-USER -o switch -m comment --comment set by containerlab -j ACCEPT",
                "FORWARD -i switch -j ACCEPT",
            ]
        );
        assert!(found.iter().all(|(b, _)| b == "switch"));
    }

    #[test]
    fn the_missing_nft_is_named_with_the_bridges_and_the_fix() {
        let text = blind_spot(&ours(&["switch", "wan"]));
        assert!(text.contains("`nft` is not installed"), "{text}");
        assert!(text.contains("switch, wan"), "{text}");
        assert!(text.contains("install nftables"), "{text}");
    }

    /// Runs `f` in a network namespace of its own, on a thread of its own: rules made there
    /// never reach the machine's.
    fn in_scratch_netns<T: Send>(f: impl FnOnce() -> T + Send) -> T {
        assert!(
            nix::unistd::geteuid().is_root(),
            "this test makes a network namespace and must run as root"
        );
        std::thread::scope(|s| {
            s.spawn(|| {
                nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).expect("unshare");
                f()
            })
            .join()
            .unwrap()
        })
    }

    fn run(argv: &[&str]) {
        let argv: Vec<String> = argv.iter().map(|w| w.to_string()).collect();
        let ran = process::run(&argv, None);
        assert!(ran.ok(), "{argv:?}: {}", ran.stderr);
    }

    /// containerlab's iptables rules, in DOCKER-USER and (as iptables-nft shows nftables rules)
    /// in FORWARD, are removed; another bridge's rule and a rule of another shape stay.
    #[test]
    fn removes_the_iptables_rules_containerlab_adds() {
        assert!(which("iptables").is_some(), "iptables is not on PATH");
        let left = in_scratch_netns(|| {
            run(&["iptables", "-N", "DOCKER-USER"]);
            for (chain, dir, br) in [
                ("DOCKER-USER", "-i", "switch"),
                ("DOCKER-USER", "-o", "switch"),
                ("DOCKER-USER", "-i", "wan"),
            ] {
                run(&[
                    "iptables",
                    "-I",
                    chain,
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
            run(&["iptables", "-A", "FORWARD", "-i", "switch", "-j", "ACCEPT"]);
            run(&[
                "iptables", "-A", "FORWARD", "-i", "switch", "-p", "tcp", "-j", "ACCEPT",
            ]);
            let errors = remove_bridge_rules(&ours(&["switch"]));
            assert!(errors.is_empty(), "{errors:?}");
            let out = duct::cmd!("iptables", "-S").read().unwrap();
            out.lines()
                .filter(|l| l.starts_with("-A"))
                .map(String::from)
                .collect::<Vec<_>>()
        });
        assert_eq!(
            left,
            [
                "-A FORWARD -i switch -p tcp -j ACCEPT",
                "-A DOCKER-USER -i wan -m comment --comment \"set by containerlab\" -j ACCEPT",
            ]
        );
    }

    /// The rules containerlab's nftables client makes: an interface match, an xt comment
    /// match, a counter and accept. iptables-nft makes the same expressions (nft cannot make
    /// an xt match), and nft 1.0.6 then prints them without the comment; the nft path alone
    /// removes them by handle, and leaves another bridge's.
    #[test]
    fn removes_the_nftables_rules_containerlab_adds() {
        for tool in ["nft", "iptables"] {
            assert!(
                which(tool).is_some(),
                "`{tool}` is not on PATH: run scripts/install-deps.sh"
            );
        }
        let (before, after) = in_scratch_netns(|| {
            for (dir, br) in [("-i", "switch"), ("-o", "switch"), ("-i", "wan")] {
                run(&[
                    "iptables",
                    "-A",
                    CHAIN,
                    dir,
                    br,
                    "-m",
                    "comment",
                    "--comment",
                    COMMENT,
                    "-j",
                    "ACCEPT",
                ]);
            }
            let list = || {
                // nft warns on stderr that iptables-nft manages the table: true, and noise here.
                duct::cmd!("nft", "-a", "list", "chain", "ip", "filter", CHAIN)
                    .stderr_null()
                    .read()
                    .unwrap()
            };
            let before = list();
            let errors = remove_nft_rules("ip", &ours(&["switch"]));
            assert!(errors.is_empty(), "{errors:?}");
            (before, list())
        });
        assert_eq!(
            nft_rules(&before, &ours(&["switch"])).len(),
            2,
            "nft shows containerlab's rules in a shape the parser does not know:\n{before}"
        );
        assert!(!after.contains("\"switch\""), "{after}");
        assert!(after.contains("iifname \"wan\""), "{after}");
    }
}
