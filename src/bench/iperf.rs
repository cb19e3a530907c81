//! iperf3, the traffic tool users trust: a server in the receiving namespace, a client in the
//! sending one (both through `ip netns exec`), and the client's `--json` read back.

use super::BenchError;
use serde::Deserialize;
use std::net::IpAddr;
use std::time::Duration;

pub const INSTALL_IPERF3: &str = "iperf3 is not installed; install it with `sudo apt-get install iperf3` (or scripts/install-deps.sh)";

/// The port bench's servers listen on; each lives in a lab namespace, so it clashes with nothing.
pub const PORT: u16 = 5201;

/// How often, and how far apart, a client retries while its server is still starting.
const CONNECT_TRIES: u32 = 50;
const CONNECT_PAUSE: Duration = Duration::from_millis(100);
const CONNECT_TIMEOUT_MS: u32 = 3000;
/// Unacknowledged data for this long means the path is broken, not busy.
const SEND_TIMEOUT_MS: u32 = 10_000;

/// Fails with the install line when iperf3 is missing.
pub fn check_installed() -> Result<(), BenchError> {
    match duct::cmd!("iperf3", "--version")
        .stdout_null()
        .stderr_null()
        .unchecked()
        .run()
    {
        Ok(_) => Ok(()),
        Err(_) => Err(BenchError::Missing(INSTALL_IPERF3)),
    }
}

/// An `iperf3 -s` running in a namespace until dropped.
pub struct Server {
    handle: duct::Handle,
}

impl Server {
    pub fn start(namespace: &str) -> Result<Server, BenchError> {
        let port = PORT.to_string();
        let handle = duct::cmd!("ip", "netns", "exec", namespace, "iperf3", "-s", "-p", port)
            .stdout_null()
            .stderr_null()
            .unchecked()
            .start()
            .map_err(|e| BenchError::Tool {
                what: format!("starting iperf3 -s in {namespace}"),
                detail: e.to_string(),
            })?;
        Ok(Server { handle })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // `ip netns exec` execs iperf3, so this kills the server itself.
        let _ = self.handle.kill();
    }
}

/// How long a client sends: for a time (a measurement), or a number of bytes (a capture).
#[derive(Debug, Clone, Copy)]
pub enum Length {
    Seconds(u32),
    Bytes(u64),
}

#[derive(Debug, Clone)]
pub struct ClientRun {
    pub namespace: String,
    /// The server's address; an IPv6 one makes the client speak IPv6 only (`-6`).
    pub server: IpAddr,
    pub streams: u32,
    pub length: Length,
}

impl ClientRun {
    fn args(&self) -> Vec<String> {
        let mut args: Vec<String> = ["netns", "exec", &self.namespace, "iperf3", "--json", "-c"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.push(self.server.to_string());
        if self.server.is_ipv6() {
            args.push("-6".into());
        }
        args.extend(["-p".into(), PORT.to_string()]);
        args.extend(["-P".into(), self.streams.to_string()]);
        // A broken path fails in seconds rather than after TCP's minutes of retries.
        args.extend(["--connect-timeout".into(), CONNECT_TIMEOUT_MS.to_string()]);
        args.extend(["--snd-timeout".into(), SEND_TIMEOUT_MS.to_string()]);
        match self.length {
            Length::Bytes(n) => args.extend(["-n".into(), n.to_string()]),
            Length::Seconds(n) => args.extend(["-t".into(), n.to_string()]),
        }
        args
    }

    /// Runs the client, retrying while the server is not ready for it.
    pub fn run(&self) -> Result<Throughput, BenchError> {
        let mut last = String::new();
        for _ in 0..CONNECT_TRIES {
            super::check_interrupt()?;
            let out = duct::cmd("ip", self.args())
                .stdout_capture()
                .stderr_capture()
                .unchecked()
                .run()
                .map_err(|e| self.failed(e.to_string()))?;
            super::check_interrupt()?;
            let text = String::from_utf8_lossy(&out.stdout);
            match parse(&text) {
                Ok(t) => return Ok(t),
                Err(why) if server_not_ready(&why) => {
                    last = why;
                    std::thread::sleep(CONNECT_PAUSE);
                }
                Err(why) => return Err(self.failed(why)),
            }
        }
        Err(self.failed(last))
    }

    fn failed(&self, detail: String) -> BenchError {
        BenchError::Tool {
            what: format!("iperf3 from {} to {}", self.namespace, self.server),
            detail,
        }
    }
}

/// The server is still starting, or still closing the previous test: worth another try.
fn server_not_ready(why: &str) -> bool {
    why.contains("Connection refused") || why.contains("server is busy")
}

/// What bench takes from one iperf3 client report.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Throughput {
    /// As the receiver counted it.
    pub bits_per_second: f64,
    pub bytes: u64,
    pub seconds: f64,
    /// User + system CPU of the client and the server process, in seconds.
    pub cpu_seconds: f64,
}

impl Throughput {
    /// Sender plus receiver CPU seconds per gigabit moved.
    pub fn cpu_seconds_per_gbit(&self) -> Option<f64> {
        let gbit = self.bytes as f64 * 8.0 / 1e9;
        (gbit > 0.0).then(|| self.cpu_seconds / gbit)
    }
}

#[derive(Deserialize)]
struct Report {
    error: Option<String>,
    end: Option<End>,
}

#[derive(Deserialize)]
struct End {
    sum_received: Option<Sum>,
    cpu_utilization_percent: Option<Cpu>,
}

#[derive(Deserialize)]
struct Sum {
    seconds: f64,
    bytes: u64,
    bits_per_second: f64,
}

#[derive(Deserialize)]
struct Cpu {
    host_total: f64,
    remote_total: f64,
}

/// Reads iperf3's `--json` client report; the error is iperf3's own message.
pub fn parse(json: &str) -> Result<Throughput, String> {
    let report: Report =
        serde_json::from_str(json).map_err(|e| format!("unreadable iperf3 --json output: {e}"))?;
    if let Some(error) = report.error {
        return Err(error);
    }
    let end = report.end.ok_or("iperf3 reported no `end` section")?;
    let sum = end
        .sum_received
        .ok_or("iperf3 reported no `sum_received`")?;
    let cpu = end
        .cpu_utilization_percent
        .ok_or("iperf3 reported no `cpu_utilization_percent`")?;
    // iperf3's percentages are each process's CPU time over the test's wall time.
    let cpu_seconds = (cpu.host_total + cpu.remote_total) / 100.0 * sum.seconds;
    Ok(Throughput {
        bits_per_second: sum.bits_per_second,
        bytes: sum.bytes,
        seconds: sum.seconds,
        cpu_seconds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const REPORT: &str = r#"{"start": {}, "intervals": [], "end": {
        "sum_sent": {"seconds": 1.0, "bytes": 700, "bits_per_second": 5600},
        "sum_received": {"seconds": 2.0, "bytes": 1250000000, "bits_per_second": 5.0e9},
        "cpu_utilization_percent": {"host_total": 30.0, "remote_total": 20.0}}}"#;

    #[test]
    fn reads_the_receiver_side_and_both_cpus() {
        let t = parse(REPORT).unwrap();
        assert_eq!(t.bits_per_second, 5.0e9);
        assert_eq!(t.bytes, 1_250_000_000);
        // 50% of 2 s is one CPU second, for 10 Gbit moved.
        assert!((t.cpu_seconds - 1.0).abs() < 1e-9);
        assert!((t.cpu_seconds_per_gbit().unwrap() - 0.1).abs() < 1e-9);
    }

    #[test]
    fn passes_iperf3s_own_error_on() {
        let json = r#"{"start": {}, "end": {}, "error": "unable to connect to server: Connection refused"}"#;
        assert_eq!(
            parse(json).unwrap_err(),
            "unable to connect to server: Connection refused"
        );
        assert!(parse("not json").unwrap_err().contains("unreadable"));
        assert!(server_not_ready(&parse(json).unwrap_err()));
        let busy = r#"{"error": "the server is busy running a test. try again later"}"#;
        assert!(server_not_ready(&parse(busy).unwrap_err()));
        assert!(!server_not_ready(
            "unable to connect to server: No route to host"
        ));
    }

    #[test]
    fn an_ipv6_server_makes_the_client_speak_ipv6() {
        let run = ClientRun {
            namespace: "clab-x-pod1".into(),
            server: "fd00:172:16:1::2".parse().unwrap(),
            streams: 1,
            length: Length::Seconds(1),
        };
        assert_eq!(
            run.args().join(" "),
            "netns exec clab-x-pod1 iperf3 --json -c fd00:172:16:1::2 -6 -p 5201 -P 1 \
             --connect-timeout 3000 --snd-timeout 10000 -t 1"
        );
    }

    #[test]
    fn client_arguments_name_the_namespace_streams_and_length() {
        let run = ClientRun {
            namespace: "clab-x-pod1".into(),
            server: Ipv4Addr::new(10, 0, 2, 2).into(),
            streams: 4,
            length: Length::Seconds(3),
        };
        assert_eq!(
            run.args().join(" "),
            "netns exec clab-x-pod1 iperf3 --json -c 10.0.2.2 -p 5201 -P 4 \
             --connect-timeout 3000 --snd-timeout 10000 -t 3"
        );
        let short = ClientRun {
            length: Length::Bytes(2_000_000),
            ..run
        };
        assert!(short
            .args()
            .join(" ")
            .ends_with("--snd-timeout 10000 -n 2000000"));
    }
}
