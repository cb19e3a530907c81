//! A WireGuard device's state as read back from a node: its peers, their endpoints,
//! allowed-ips and latest handshakes. Two sources give the same value: `wg show DEV dump`
//! (the kernel module, through netlink, in the node's namespace) and wireguard-go's control
//! socket (`get=1`, the cross-platform protocol at wireguard.com/xplatform, whose keys are
//! hex). The parsers are pure; [`ask_socket`] and [`ask_kernel`] do the asking.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ipnet::Ipv4Net;
use serde::Serialize;
use std::io::{Read, Write};
use std::net::SocketAddrV4;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::Duration;

const SOCKET_TIMEOUT: Duration = Duration::from_secs(2);

/// `get=1` on `dir/DEV.sock`, or `None` where no wireguard-go answers there. The socket is
/// reached through the folder's descriptor, so a long folder path cannot exceed the 108 bytes
/// of a socket address.
pub fn ask_socket(dir: &Path, dev: &str) -> Option<String> {
    let folder = std::fs::File::open(dir).ok()?;
    let path = format!("/proc/self/fd/{}/{dev}.sock", folder.as_raw_fd());
    let mut stream = std::os::unix::net::UnixStream::connect(path).ok()?;
    stream.set_read_timeout(Some(SOCKET_TIMEOUT)).ok()?;
    stream.write_all(b"get=1\n\n").ok()?;
    let mut answer = String::new();
    let mut buf = [0u8; 4096];
    // The answer ends with an empty line after `errno=`.
    while !answer.contains("errno=") || !answer.ends_with("\n\n") {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        answer.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    Some(answer)
}

/// Device `dev`'s state: from wireguard-go's control socket in `dir` where one answers,
/// otherwise from the kernel in `namespace`.
pub fn read(dir: &Path, namespace: &str, dev: &str) -> Result<WgState, String> {
    match ask_socket(dir, dev) {
        Some(answer) => parse_uapi(&answer).ok_or_else(|| "wireguard-go refused `get`".into()),
        None => ask_kernel(namespace, dev),
    }
}

/// `wg show DEV dump` in namespace `namespace`: the kernel's device.
pub fn ask_kernel(namespace: &str, dev: &str) -> Result<WgState, String> {
    let out = duct::cmd!("ip", "netns", "exec", namespace, "wg", "show", dev, "dump")
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .map_err(|e| format!("cannot run wg: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
    }
    parse_dump(&String::from_utf8_lossy(&out.stdout))
        .ok_or_else(|| "unreadable `wg show` dump".into())
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WgState {
    /// The device's own public key (the dump's; the control socket gives only the private key).
    pub public_key: Option<String>,
    pub listen_port: Option<u16>,
    pub peers: Vec<WgPeer>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WgPeer {
    /// base64, as `wg` prints it.
    pub public_key: String,
    pub endpoint: Option<SocketAddrV4>,
    pub allowed_ips: Vec<Ipv4Net>,
    /// Seconds since the epoch of the latest completed handshake; 0 for none.
    pub latest_handshake: u64,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
}

impl WgState {
    pub fn peer(&self, public_key: &str) -> Option<&WgPeer> {
        self.peers.iter().find(|p| p.public_key == public_key)
    }
}

/// `wg show DEV dump`: the device's line (private key, public key, port, fwmark), then one
/// tab-separated line per peer (key, preshared key, endpoint, allowed-ips, latest handshake,
/// rx, tx, keepalive).
pub fn parse_dump(text: &str) -> Option<WgState> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let device: Vec<&str> = lines.next()?.split('\t').collect();
    let mut state = WgState {
        public_key: device.get(1).map(|k| k.to_string()),
        listen_port: device.get(2).and_then(|p| p.parse().ok()),
        peers: Vec::new(),
    };
    for line in lines {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 7 {
            return None;
        }
        state.peers.push(WgPeer {
            public_key: f[0].to_string(),
            endpoint: f[2].parse().ok(),
            allowed_ips: f[3].split(',').filter_map(|n| n.parse().ok()).collect(),
            latest_handshake: f[4].parse().ok()?,
            rx_bytes: f[5].parse().ok()?,
            tx_bytes: f[6].parse().ok()?,
        });
    }
    Some(state)
}

/// The answer to `get=1` on a wireguard-go control socket: `key=value` lines, each
/// `public_key` starting a peer, ending with `errno=0`.
pub fn parse_uapi(text: &str) -> Option<WgState> {
    let mut state = WgState::default();
    let mut errno = None;
    for line in text.lines().filter(|l| !l.is_empty()) {
        let (key, value) = line.split_once('=')?;
        let peer = state.peers.last_mut();
        match (key, peer) {
            ("listen_port", _) => state.listen_port = value.parse().ok(),
            ("public_key", _) => state.peers.push(WgPeer {
                public_key: STANDARD.encode(hex32(value)?),
                ..WgPeer::default()
            }),
            ("endpoint", Some(p)) => p.endpoint = value.parse().ok(),
            ("allowed_ip", Some(p)) => p.allowed_ips.extend(value.parse::<Ipv4Net>().ok()),
            ("last_handshake_time_sec", Some(p)) => p.latest_handshake = value.parse().ok()?,
            ("rx_bytes", Some(p)) => p.rx_bytes = value.parse().ok()?,
            ("tx_bytes", Some(p)) => p.tx_bytes = value.parse().ok()?,
            ("errno", _) => errno = value.parse::<i32>().ok(),
            _ => {}
        }
    }
    (errno == Some(0)).then_some(state)
}

fn hex32(text: &str) -> Option<[u8; 32]> {
    let bytes: Vec<u8> = (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect::<Option<_>>()?;
    bytes.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_A: &str = "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=";

    #[test]
    fn reads_a_dump() {
        let text = "cHJpdg==\tcHVi\t51820\toff\n\
                    hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=\t(none)\t192.168.0.100:51820\t10.0.2.0/24\t1733400000\t1240\t980\toff\n\
                    cGVlcg==\t(none)\t(none)\t(none)\t0\t0\t148\toff\n";
        let state = parse_dump(text).unwrap();
        assert_eq!(state.listen_port, Some(51820));
        let a = state.peer(KEY_A).unwrap();
        assert_eq!(a.endpoint, Some("192.168.0.100:51820".parse().unwrap()));
        assert_eq!(
            a.allowed_ips,
            vec!["10.0.2.0/24".parse::<Ipv4Net>().unwrap()]
        );
        assert_eq!(a.latest_handshake, 1733400000);
        let b = state.peer("cGVlcg==").unwrap();
        assert!(b.endpoint.is_none() && b.allowed_ips.is_empty());
        assert_eq!(b.latest_handshake, 0);
    }

    #[test]
    fn reads_a_control_socket_answer_with_hex_keys() {
        let text = "private_key=77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a\n\
                    listen_port=51820\n\
                    public_key=8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a\n\
                    endpoint=192.168.0.100:51820\n\
                    last_handshake_time_sec=1733400000\n\
                    last_handshake_time_nsec=5\n\
                    rx_bytes=1240\ntx_bytes=980\n\
                    allowed_ip=10.0.2.0/24\nallowed_ip=10.0.3.0/24\n\
                    errno=0\n\n";
        let state = parse_uapi(text).unwrap();
        let a = state.peer(KEY_A).unwrap();
        assert_eq!(a.allowed_ips.len(), 2);
        assert_eq!(a.rx_bytes, 1240);
        assert_eq!(a.latest_handshake, 1733400000);
        assert!(
            parse_uapi("errno=1\n").is_none(),
            "a refused get is not a state"
        );
    }
}
