//! Cilium's IPsec (`--flavor cilium --encryption ipsec`): static xfrm states and policies, ESP
//! in tunnel mode between the hosts' underlay addresses, as cilium/cilium
//! pkg/datapath/linux/ipsec/ipsec_linux.go programs them:
//! - `ipSecNewState`: mode tunnel, proto esp, ESN, replay window 1024, the key's SPI and reqid
//!   `DefaultReqID` 1, an AEAD key (`rfc4106(gcm(aes))`, ICV 128 bits, Cilium's documented
//!   secret format `SPI rfc4106(gcm(aes)) KEY 128`);
//! - one key per node pair and direction (`getNodeIPsecKey`: the key that encrypts on A for B
//!   is the one that decrypts on B from A); Cilium derives them from one secret, the lab draws
//!   each at random;
//! - `ipSecAttachPolicyTempl`: out, in and fwd policies between the pod CIDRs whose template is
//!   ESP in tunnel mode with that reqid between the node addresses.
//!
//! Cilium's states and policies also match marks its eBPF sets; the lab has no eBPF, so its
//! states and policies carry none and match the pods' addresses alone.
//!
//! The keys never reach the topology or a process's arguments: each host's whole xfrm
//! configuration is a file of `ip -batch` lines (mode 0600) in its folder beside the topology,
//! and the exec line names that file.

use serde::Serialize;
use std::io::Read;

/// The SPI of Cilium's key: the number its secret starts with, 3 in Cilium's documentation
/// (`kubectl create secret generic cilium-ipsec-keys --from-literal=keys="3+ rfc4106(gcm(aes))
/// ... 128"`, Documentation/security/network/encryption-ipsec.rst). Every state of the key
/// carries it (`ipSecNewState`: `Spi: int(keys.Spi)`).
pub const CILIUM_IPSEC_SPI: u32 = 3;

/// The SPI of the ESP host `sender` (its index) sends under key `key`.
///
/// The kernel finds an inbound state by destination, SPI and mark. Cilium's states towards one
/// node share the key's SPI and differ by the mark, which carries the sending node's ID
/// (`IPSecParameters.RemoteNodeID`: "used for SPI identification and appropriate packet mark
/// matching") and which its eBPF sets on each packet. The lab has no eBPF to set marks, so the
/// sender's ID goes into the SPI itself, above the key's number: host1 sends 0x103, host2 0x203.
pub fn esp_spi(key: u32, sender: usize) -> u32 {
    ((sender as u32) << 8) | key
}
/// `DefaultReqID`.
pub const REQID: u32 = 1;
/// `ipSecNewState`'s replay window.
pub const REPLAY_WINDOW: u32 = 1024;
pub const AEAD: &str = "rfc4106(gcm(aes))";
pub const ICV_BITS: u32 = 128;
/// AES-128 key and the 4-byte salt RFC 4106 appends to it.
const KEY_BYTES: usize = 20;
/// What ESP in tunnel mode costs a pod packet over IPv4: outer IPv4 20, ESP header 8, GCM's IV
/// 8, ICV 16, and a trailer of 2 plus padding to 4 bytes (at most 3): 1500 − 57, rounded down
/// to a multiple of 4.
pub const POD_MTU: u16 = 1440;
/// Where a host's folder is bound inside the node.
pub const NODE_DIR: &str = "/var/run/cilium-ipsec";
/// The file of `ip -batch` lines in it.
pub const BATCH_FILE: &str = "xfrm.batch";

/// One host's side for the templates: its folder (relative to the topology file) and the SPI
/// it sends.
#[derive(Debug, Clone, Serialize)]
pub struct Ipsec {
    /// The key's number ([`CILIUM_IPSEC_SPI`]).
    pub spi: u32,
    /// Per host: the SPI of the ESP it sends ([`esp_spi`]).
    pub spis: Vec<u32>,
    pub dirs: Vec<String>,
    /// Per host: its `ip -batch` file, keys and all. Never serialised.
    #[serde(skip)]
    batches: Vec<String>,
}

/// What the plan of each host says about itself and its peers.
pub struct HostSide {
    pub underlay_ip: std::net::Ipv4Addr,
    pub pod_subnet: ipnet::Ipv4Net,
}

impl Ipsec {
    /// The states and policies of every host, with a fresh key per ordered pair of hosts.
    pub fn plan(hosts: &[HostSide], dirs: Vec<String>) -> Result<Ipsec, super::EncryptionError> {
        let n = hosts.len();
        let mut keys = vec![vec![String::new(); n]; n];
        for (a, row) in keys.iter_mut().enumerate() {
            for (b, key) in row.iter_mut().enumerate() {
                if a != b {
                    *key = random_key()?;
                }
            }
        }
        let batches = (0..n).map(|h| batch(hosts, h, &keys)).collect();
        Ok(Ipsec {
            spi: CILIUM_IPSEC_SPI,
            spis: (1..=n).map(|i| esp_spi(CILIUM_IPSEC_SPI, i)).collect(),
            dirs,
            batches,
        })
    }

    /// Each host's batch file, at its path relative to the topology file.
    pub fn files(&self) -> Vec<(std::path::PathBuf, String)> {
        (self.dirs.iter().zip(&self.batches))
            .map(|(dir, text)| (std::path::Path::new(dir).join(BATCH_FILE), text.clone()))
            .collect()
    }
}

/// Host `h`'s lines: for each peer, the state that encrypts towards it and the one that
/// decrypts from it, and the out, in and fwd policies between the two pod CIDRs.
fn batch(hosts: &[HostSide], h: usize, keys: &[Vec<String>]) -> String {
    let me = &hosts[h];
    let mut out = String::new();
    for (p, peer) in hosts.iter().enumerate().filter(|(p, _)| *p != h) {
        for (src, dst, from, key) in [(me, peer, h, &keys[h][p]), (peer, me, p, &keys[p][h])] {
            out += &format!(
                "xfrm state add src {} dst {} proto esp spi {spi:#x} reqid {REQID} mode tunnel \
                 replay-window {REPLAY_WINDOW} flag esn aead {AEAD} 0x{key} {ICV_BITS}\n",
                src.underlay_ip,
                dst.underlay_ip,
                spi = esp_spi(CILIUM_IPSEC_SPI, from + 1),
            );
        }
        let tmpl = |src: &HostSide, dst: &HostSide| {
            format!(
                "tmpl src {} dst {} proto esp reqid {REQID} mode tunnel",
                src.underlay_ip, dst.underlay_ip
            )
        };
        out += &format!(
            "xfrm policy add dir out src {} dst {} {}\n",
            me.pod_subnet,
            peer.pod_subnet,
            tmpl(me, peer)
        );
        for dir in ["in", "fwd"] {
            out += &format!(
                "xfrm policy add dir {dir} src {} dst {} {}\n",
                peer.pod_subnet,
                me.pod_subnet,
                tmpl(peer, me)
            );
        }
    }
    out
}

/// A key in hex, from the operating system's random source.
fn random_key() -> Result<String, super::EncryptionError> {
    let mut bytes = [0u8; KEY_BYTES];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| super::EncryptionError::Keys(format!("/dev/urandom: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts() -> Vec<HostSide> {
        vec![
            HostSide {
                underlay_ip: "10.0.1.2".parse().unwrap(),
                pod_subnet: "172.16.0.0/24".parse().unwrap(),
            },
            HostSide {
                underlay_ip: "10.0.2.2".parse().unwrap(),
                pod_subnet: "172.16.1.0/24".parse().unwrap(),
            },
        ]
    }

    #[test]
    fn the_key_that_encrypts_on_one_host_decrypts_on_the_other() {
        let plan = Ipsec::plan(&hosts(), vec!["a".into(), "b".into()]).unwrap();
        let key_of = |text: &str, src: &str| {
            let line = text
                .lines()
                .find(|l| l.contains(&format!("state add src {src} ")))
                .unwrap();
            line.split_whitespace().rev().nth(1).unwrap().to_string()
        };
        let (a, b) = (&plan.batches[0], &plan.batches[1]);
        assert_eq!(key_of(a, "10.0.1.2"), key_of(b, "10.0.1.2"));
        assert_eq!(key_of(a, "10.0.2.2"), key_of(b, "10.0.2.2"));
        assert_ne!(key_of(a, "10.0.1.2"), key_of(a, "10.0.2.2"));
        assert_eq!(key_of(a, "10.0.1.2").len(), 2 + 2 * KEY_BYTES);
        assert!(a.contains(
            "xfrm policy add dir out src 172.16.0.0/24 dst 172.16.1.0/24 tmpl src 10.0.1.2 \
             dst 10.0.2.2 proto esp reqid 1 mode tunnel"
        ));
        assert!(a.contains("dir fwd src 172.16.1.0/24 dst 172.16.0.0/24"));
        assert!(a.contains(
            "src 10.0.1.2 dst 10.0.2.2 proto esp spi 0x103 reqid 1 mode tunnel replay-window 1024 flag esn"
        ));
        assert!(a.contains("src 10.0.2.2 dst 10.0.1.2 proto esp spi 0x203 "));
    }

    #[test]
    fn the_keys_never_serialise() {
        let plan = Ipsec::plan(&hosts(), vec!["a".into(), "b".into()]).unwrap();
        let json = serde_json::to_string(&plan).unwrap();
        assert!(!json.contains("0x"), "{json}");
    }
}
