//! Checksum and segmentation offloads, read and switched with `ethtool` in the lab's namespaces.
//! On veths these are software shortcuts (no NIC), but they change what the kernel does per
//! byte, and a bug in one of them is a real case: flannel #1279, VXLAN checksum offload.

use super::BenchError;
use crate::sys::tool;
use std::collections::BTreeMap;

pub const INSTALL_ETHTOOL: &str =
    "ethtool is not installed; install it with `sudo apt-get install ethtool` (or scripts/install-deps.sh)";

/// The features reported, as `ethtool -k` names them.
pub const FEATURES: [&str; 6] = [
    "tx-checksumming",
    "rx-checksumming",
    "scatter-gather",
    "tcp-segmentation-offload",
    "generic-segmentation-offload",
    "generic-receive-offload",
];

/// What `--offload off` turns off: checksums both ways, and segmentation/receive coalescing.
const OFF_ARGS: [&str; 10] = [
    "tx", "off", "rx", "off", "tso", "off", "gso", "off", "gro", "off",
];

/// One interface's offload features, `true` for on.
pub type Features = BTreeMap<String, bool>;

pub fn check_installed() -> Result<(), BenchError> {
    duct::cmd!("ethtool", "--version")
        .stdout_null()
        .stderr_null()
        .unchecked()
        .run()
        .map(|_| ())
        .map_err(|_| BenchError::Missing(INSTALL_ETHTOOL))
}

/// `ethtool -k` for one interface in a namespace.
pub fn read(namespace: &str, iface: &str) -> Result<Features, BenchError> {
    let out = tool::run_in(namespace, "ethtool", &["-k", iface])
        .map_err(|e| tool_error(namespace, iface, e.to_string()))?;
    Ok(parse(&out))
}

/// Picks [`FEATURES`] out of `ethtool -k` output (`name: on [fixed]`).
pub fn parse(output: &str) -> Features {
    output
        .lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(name, _)| FEATURES.contains(&name.trim()))
        .map(|(name, value)| (name.trim().to_string(), value.trim().starts_with("on")))
        .collect()
}

/// Turns checksum and segmentation offload off on every interface of a namespace but `lo`.
/// Features a driver has fixed stay as they are; [`read`] afterwards says what really holds.
pub fn turn_off(namespace: &str) -> Result<(), BenchError> {
    for iface in interfaces(namespace)? {
        let mut args = vec!["-K", &iface];
        args.extend(OFF_ARGS);
        // A driver that refuses a feature keeps it: `read` afterwards says what holds.
        let _ = tool::run_in(namespace, "ethtool", &args);
    }
    Ok(())
}

/// Every interface of a namespace but `lo`.
pub fn interfaces(namespace: &str) -> Result<Vec<String>, BenchError> {
    let out = tool::run_in(namespace, "ip", &["-o", "link", "show"])
        .map_err(|e| tool_error(namespace, "*", e.to_string()))?;
    Ok(parse_link_names(&out))
}

/// Interface names from `ip -o link show` (`2: eth1@if7: <...>`), without `lo`.
pub fn parse_link_names(output: &str) -> Vec<String> {
    output
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|name| name.split('@').next().unwrap_or(name).to_string())
        .filter(|name| name != "lo")
        .collect()
}

fn tool_error(namespace: &str, iface: &str, detail: String) -> BenchError {
    BenchError::Tool {
        what: format!("ethtool on {iface} in {namespace}"),
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_named_features_and_their_state() {
        let out = "Features for eth1:\nrx-checksumming: on\ntx-checksumming: off\n\
                   \ttx-checksum-ip-generic: off\nscatter-gather: on [fixed]\n\
                   tcp-segmentation-offload: off\ngeneric-receive-offload: off\n";
        let f = parse(out);
        assert_eq!(f.get("rx-checksumming"), Some(&true));
        assert_eq!(f.get("tx-checksumming"), Some(&false));
        assert_eq!(f.get("scatter-gather"), Some(&true));
        assert_eq!(f.get("tx-checksum-ip-generic"), None);
        assert_eq!(f.len(), 5);
    }

    #[test]
    fn link_names_drop_the_peer_and_lo() {
        let out = "1: lo: <LOOPBACK,UP> mtu 65536\n2: eth1@if7: <BROADCAST> mtu 1450\n\
                   3: flannel.1: <BROADCAST> mtu 1450\n";
        assert_eq!(parse_link_names(out), vec!["eth1", "flannel.1"]);
    }
}
