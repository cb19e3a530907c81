//! Round trips: ICMP echo through `ping`, and TCP request/response (one byte each way, as
//! netperf's TCP_RR does) over a connection whose two sockets live in the two namespaces.

use super::BenchError;
use crate::sys::netns::in_netns;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

const PING_COUNT: &str = "50";
/// Root may ping this fast; it keeps a run short without flooding.
const PING_INTERVAL: &str = "0.01";
/// Request/response stops after this many transactions or the run's duration.
const RR_MAX_TRANSACTIONS: usize = 20_000;
const RR_PORT: u16 = 5202;
const RR_TIMEOUT: Duration = Duration::from_secs(2);

/// Mean ICMP round trip from `namespace` to `target`, in microseconds: ICMPv6 echoes
/// (`ping -6`) to an IPv6 target.
pub fn icmp_us(namespace: &str, target: IpAddr) -> Result<f64, BenchError> {
    let failed = |detail: String| BenchError::Tool {
        what: format!("ping from {namespace} to {target}"),
        detail,
    };
    let out = duct::cmd("ip", ping_args(namespace, target))
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .map_err(|e| failed(e.to_string()))?;
    super::check_interrupt()?;
    let text = String::from_utf8_lossy(&out.stdout);
    parse_ping_avg_ms(&text)
        .map(|ms| ms * 1000.0)
        .ok_or_else(|| {
            failed(format!(
                "no round-trip summary in its output: {}",
                text.trim()
            ))
        })
}

/// `ip netns exec NS ping …`'s arguments after `ip`.
fn ping_args(namespace: &str, target: IpAddr) -> Vec<String> {
    let mut args = vec!["netns", "exec", namespace, "ping"];
    if target.is_ipv6() {
        args.push("-6");
    }
    args.extend(["-q", "-n", "-c", PING_COUNT, "-i", PING_INTERVAL, "-W", "1"]);
    let mut args: Vec<String> = args.into_iter().map(String::from).collect();
    args.push(target.to_string());
    args
}

/// The average of ping's `rtt min/avg/max/mdev = a/b/c/d ms` line.
pub fn parse_ping_avg_ms(output: &str) -> Option<f64> {
    let line = output
        .lines()
        .find(|l| l.starts_with("rtt ") || l.starts_with("round-trip "))?;
    let numbers = line.split('=').nth(1)?.trim();
    numbers.split('/').nth(1)?.trim().parse().ok()
}

/// Median TCP request/response time from `from_ns` to `to_ip` (in `to_ns`), in microseconds.
pub fn tcp_rr_us(
    from_ns: &str,
    to_ns: &str,
    to_ip: IpAddr,
    budget: Duration,
) -> Result<f64, BenchError> {
    let io_err = |what: &str, e: std::io::Error| BenchError::Tool {
        what: format!("TCP request/response from {from_ns} to {to_ip}: {what}"),
        detail: e.to_string(),
    };
    let addr = SocketAddr::new(to_ip, RR_PORT);
    // A socket stays in the namespace it was made in, so only the making happens inside.
    let listener = in_netns(to_ns, || TcpListener::bind(addr))?.map_err(|e| io_err("bind", e))?;
    let server = std::thread::spawn(move || echo_one(listener));
    let client = in_netns(from_ns, || TcpStream::connect_timeout(&addr, RR_TIMEOUT))?
        .map_err(|e| io_err("connect", e));
    let times = client.and_then(|c| transact(c, budget).map_err(|e| io_err("exchange", e)));
    let served = server
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p));
    let times = times?;
    served.map_err(|e| io_err("server", e))?;
    super::check_interrupt()?;
    let stat = super::stats::Stat::of(times).ok_or_else(|| BenchError::Tool {
        what: format!("TCP request/response from {from_ns} to {to_ip}"),
        detail: "no transaction completed".into(),
    })?;
    Ok(stat.median)
}

/// Serves one connection: every byte read is sent back, until the client closes. A client
/// that never comes (its connect failed) ends it after [`RR_TIMEOUT`].
fn echo_one(listener: TcpListener) -> std::io::Result<()> {
    let mut conn = accept_within(&listener, RR_TIMEOUT)?;
    conn.set_nodelay(true)?;
    conn.set_read_timeout(Some(RR_TIMEOUT))?;
    let mut byte = [0u8; 1];
    loop {
        match conn.read(&mut byte)? {
            0 => return Ok(()),
            _ => conn.write_all(&byte)?,
        }
    }
}

fn accept_within(listener: &TcpListener, limit: Duration) -> std::io::Result<TcpStream> {
    listener.set_nonblocking(true)?;
    let deadline = Instant::now() + limit;
    loop {
        match listener.accept() {
            Ok((conn, _)) => {
                conn.set_nonblocking(false)?;
                return Ok(conn);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(e) => return Err(e),
        }
    }
}

fn transact(mut conn: TcpStream, budget: Duration) -> std::io::Result<Vec<f64>> {
    conn.set_nodelay(true)?;
    conn.set_read_timeout(Some(RR_TIMEOUT))?;
    let start = Instant::now();
    let mut times = Vec::new();
    let mut byte = [0u8; 1];
    while times.len() < RR_MAX_TRANSACTIONS && start.elapsed() < budget {
        let sent = Instant::now();
        conn.write_all(b"x")?;
        conn.read_exact(&mut byte)?;
        times.push(sent.elapsed().as_secs_f64() * 1e6);
        if crate::interrupt::requested() {
            break;
        }
    }
    Ok(times)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_average_from_pings_summary() {
        let out = "--- 10.0.2.2 ping statistics ---\n\
                   50 packets transmitted, 50 received, 0% packet loss, time 612ms\n\
                   rtt min/avg/max/mdev = 0.031/0.047/0.102/0.012 ms\n";
        assert_eq!(parse_ping_avg_ms(out), Some(0.047));
        assert_eq!(parse_ping_avg_ms("100% packet loss"), None);
    }

    #[test]
    fn an_ipv6_target_is_pinged_with_icmpv6() {
        let v6 = ping_args("clab-x-pod1", "fd00:172:16:1::2".parse().unwrap());
        assert_eq!(
            v6.join(" "),
            "netns exec clab-x-pod1 ping -6 -q -n -c 50 -i 0.01 -W 1 fd00:172:16:1::2"
        );
        let v4 = ping_args("clab-x-pod1", "172.16.1.2".parse().unwrap());
        assert_eq!(
            v4.join(" "),
            "netns exec clab-x-pod1 ping -q -n -c 50 -i 0.01 -W 1 172.16.1.2"
        );
    }
}
