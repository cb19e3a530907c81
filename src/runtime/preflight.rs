//! Checks made before anything is created, each failure one line a person can act on.

use super::process::{self, is_root, which};
use super::shape::{ExecLine, Shape};
use crate::topology::Topology;
use std::collections::BTreeSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Feature {
    Vxlan,
    Ipip,
    Wireguard,
    /// IPsec: ESP states in the kernel's xfrm, with AES-GCM (Cilium's `--encryption ipsec`).
    Xfrm,
}

impl Feature {
    pub fn module(self) -> &'static str {
        match self {
            Feature::Vxlan => "vxlan",
            Feature::Ipip => "ipip",
            Feature::Wireguard => "wireguard",
            Feature::Xfrm => "esp4",
        }
    }

    pub fn problem(self) -> String {
        match self {
            Feature::Vxlan => {
                "this kernel cannot create vxlan devices (CONFIG_VXLAN; try `modprobe vxlan`)"
                    .into()
            }
            Feature::Ipip => {
                "this kernel cannot create ipip tunnels (CONFIG_NET_IPIP; try `modprobe ipip`)"
                    .into()
            }
            Feature::Wireguard => "this kernel cannot create wireguard devices \
                 (CONFIG_WIREGUARD; try `modprobe wireguard`)"
                .into(),
            Feature::Xfrm => "this kernel has no IPsec: it cannot add an ESP xfrm state with \
                 rfc4106(gcm(aes)) (CONFIG_XFRM_USER, CONFIG_INET_ESP, CONFIG_CRYPTO_GCM; try \
                 `modprobe xfrm_user esp4`), so this lab's `ip -batch` xfrm lines cannot run"
                .into(),
        }
    }

    /// A command that creates one such device in the current namespace.
    fn probe(self) -> Vec<String> {
        match self {
            Feature::Vxlan => process::strings([
                "ip",
                "link",
                "add",
                "cnilab-probe",
                "type",
                "vxlan",
                "id",
                "1",
                "dstport",
                "4789",
            ]),
            // Without a local address the tunnel would collide with the kernel's fallback
            // device tunl0 ("File exists") wherever ipip is loaded. No packet is ever sent.
            Feature::Ipip => process::strings([
                "ip",
                "tunnel",
                "add",
                "cnilab-probe",
                "mode",
                "ipip",
                "local",
                "127.0.0.1",
            ]),
            Feature::Wireguard => {
                process::strings(["ip", "link", "add", "cnilab-probe", "type", "wireguard"])
            }
            // A throwaway all-zero key between two loopback addresses: no secret, no packet.
            Feature::Xfrm => {
                let key = format!("0x{}", "0".repeat(40));
                let line = "ip xfrm state add src 127.0.0.1 dst 127.0.0.2 proto esp spi 0x1 \
                            mode tunnel aead rfc4106(gcm(aes)) KEY 128";
                line.split_whitespace()
                    .map(|w| {
                        if w == "KEY" {
                            key.clone()
                        } else {
                            w.to_string()
                        }
                    })
                    .collect()
            }
        }
    }
}

/// Kernel features the exec lines rely on, found by looking for the device types they create.
pub fn features<'a>(lines: impl Iterator<Item = &'a ExecLine>) -> BTreeSet<Feature> {
    let mut found = BTreeSet::new();
    for line in lines {
        if line.argv.first().map(String::as_str) != Some("ip") {
            continue;
        }
        for pair in line.argv.windows(2) {
            match (pair[0].as_str(), pair[1].as_str()) {
                ("-batch", file) if is_xfrm_batch(file) => found.insert(Feature::Xfrm),
                ("type", "vxlan") => found.insert(Feature::Vxlan),
                ("type", "ipip") | ("mode", "ipip") => found.insert(Feature::Ipip),
                ("type", "wireguard") => found.insert(Feature::Wireguard),
                _ => false,
            };
        }
    }
    found
}

/// Whether an `ip -batch` file is an IPsec lab's xfrm lines (its name says so).
fn is_xfrm_batch(file: &str) -> bool {
    std::path::Path::new(file).file_name()
        == Some(std::ffi::OsStr::new(
            crate::plan::encryption::ipsec::BATCH_FILE,
        ))
}

/// Every exec line split as containerlab splits it (shlex, no shell), or one problem per line
/// that cannot be: containerlab only warns about such a line, then crashes on it.
pub fn split_exec_lines(topo: &Topology) -> Result<Vec<ExecLine>, Vec<String>> {
    let mut lines = Vec::new();
    let mut problems = Vec::new();
    for (name, node) in topo.nodes() {
        for (i, text) in node.exec.iter().enumerate() {
            match shlex::split(text).filter(|argv| !argv.is_empty()) {
                Some(argv) => lines.push(ExecLine {
                    text: text.clone(),
                    argv,
                }),
                None => problems.push(format!(
                    "node `{name}`, exec line {}: cannot split `{text}` into words (an \
                     unclosed quote?)",
                    i + 1
                )),
            }
        }
    }
    if problems.is_empty() {
        Ok(lines)
    } else {
        Err(problems)
    }
}

pub fn root_problem() -> Option<String> {
    (!is_root()).then(|| {
        "cnilab must run as root to create network namespaces and links (try `sudo cnilab ...`)"
            .to_string()
    })
}

/// Everything the netns runtime needs: root, iproute2, every program the exec lines call,
/// and kernel support for the devices they create.
pub fn netns(shape: &Shape) -> Vec<String> {
    let mut problems = Vec::new();
    problems.extend(root_problem());
    if which("ip").is_none() {
        problems.push("`ip` (iproute2) is not on PATH; install iproute2".into());
    }
    let mut missing: BTreeSet<&str> = BTreeSet::new();
    // Each program is looked up once: a 254-host lab has 200,000 lines and a handful of programs.
    let mut found: BTreeSet<&str> = BTreeSet::from(["ip"]);
    for node in &shape.nodes {
        for (i, line) in node.exec.iter().enumerate() {
            let program = line.argv[0].as_str();
            if found.contains(program) || missing.contains(program) {
                continue;
            }
            if which(program).is_some() {
                found.insert(program);
            } else if missing.insert(program) {
                let install =
                    package_of(program).map_or(String::new(), |p| format!("; install {p}"));
                problems.push(format!(
                    "`{program}` is not on PATH (node `{}`, exec line {}: `{}`){install}",
                    node.name,
                    i + 1,
                    line.text
                ));
            }
        }
    }
    if problems.is_empty() {
        for feature in features(shape.exec_lines()) {
            if !probe(feature) {
                problems.push(feature.problem());
            }
        }
    }
    problems
}

/// The Debian package that brings a program labs call, for the programs people's own labs
/// (the article's among them) use beside iproute2.
fn package_of(program: &str) -> Option<&'static str> {
    Some(match program {
        "brctl" => "bridge-utils",
        "iptables" | "ip6tables" => "iptables",
        "nft" => "nftables",
        "sysctl" => "procps",
        "ethtool" => "ethtool",
        "tcpdump" => "tcpdump",
        "bird" | "birdc" => "bird2",
        "ping" => "iputils-ping",
        "modprobe" => "kmod",
        "wg" => "wireguard-tools",
        "wireguard-go" => "wireguard-go",
        _ => return None,
    })
}

/// Creates one device of the kind in a scratch namespace that only a short-lived thread ever
/// enters; the namespace and the device vanish with the thread.
pub fn probe(feature: Feature) -> bool {
    std::thread::scope(|s| {
        s.spawn(|| {
            if nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).is_err() {
                return false;
            }
            process::run(&feature.probe(), None).ok()
        })
        .join()
        .unwrap_or(false)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_missing_program_names_its_package() {
        assert_eq!(super::package_of("brctl"), Some("bridge-utils"));
        assert_eq!(super::package_of("my-own-tool"), None);
    }

    use super::*;

    #[test]
    fn finds_tunnel_types_in_exec_lines() {
        let line = |t: &str| ExecLine {
            text: t.into(),
            argv: shlex::split(t).unwrap(),
        };
        let lines = [
            line("ip link add flannel.1 type vxlan id 1 dev eth1"),
            line("ip tunnel add tunl1 mode ipip local 10.0.1.2"),
            line("echo type vxlan"),
            line("ip -batch /var/run/cilium-ipsec/xfrm.batch"),
        ];
        let f = features(lines.iter());
        assert_eq!(
            f.into_iter().collect::<Vec<_>>(),
            vec![Feature::Vxlan, Feature::Ipip, Feature::Xfrm]
        );
        assert!(features([line("ip link add b type bridge")].iter()).is_empty());
    }
}
