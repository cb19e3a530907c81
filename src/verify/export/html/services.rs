//! The page's Services section (`gen --services`): a row per Service and kind of client, with
//! the endpoints reached, the source each saw, the expected failures and every reason.

use super::super::escape::text;
use crate::verify::report::Report;
use crate::verify::services::judge::{ClientKind, ServiceRow};
use std::fmt::Write;

pub fn section(out: &mut String, report: &Report) {
    if report.services.is_empty() {
        return;
    }
    out.push_str(
        "<section id=\"services\"><h2>Services</h2>\n<p class=\"hint\">Every pod to every \
         ClusterIP, <code>outside</code> to every NodePort, every pod to <code>outside</code>: \
         which endpoints answered and the source each saw.</p>\n<table class=\"captures services\">\
         <thead><tr><th>verdict</th><th>service</th><th>client</th><th>address</th>\
         <th>endpoints reached</th><th>sources seen</th><th>why</th></tr></thead><tbody>\n",
    );
    for row in &report.services {
        let _ = writeln!(out, "{}", line(row));
    }
    out.push_str("</tbody></table>\n</section>\n");
}

fn line(row: &ServiceRow) -> String {
    let (verdict, class) = match row.passed {
        true => ("pass", "pass"),
        false => ("FAIL", "fail"),
    };
    let (client, address) = match row.client {
        ClientKind::Pod => match (row.cluster_ip, row.port) {
            (Some(ip), Some(port)) => ("pod", std::net::SocketAddr::new(ip, port).to_string()),
            _ => ("pod", format!("{}:{}", opt(row.cluster_ip), opt(row.port))),
        },
        ClientKind::Outside => ("outside", format!("NodePort {}", opt(row.node_port))),
        ClientKind::Egress => ("egress", format!("outside:{}", opt(row.port))),
    };
    // IPv6's rows say so; a lab with IPv4 only reads as it always did.
    let client = match row.family {
        crate::family::Family::Ipv4 => client.to_string(),
        crate::family::Family::Ipv6 => format!("{client} (IPv6)"),
    };
    let reached = format!(
        "{}/{} {}",
        row.endpoints_reached.len(),
        row.endpoints.len(),
        row.endpoints_reached.join(", ")
    );
    let seen: Vec<String> = row
        .sources_seen
        .iter()
        .map(|s| format!("{} ← {}", s.endpoint, s.source))
        .collect();
    let mut why: Vec<String> = row.reasons.iter().map(|r| r.to_string()).collect();
    why.extend(
        row.expected_failures
            .iter()
            .map(|f| format!("expected failure: {f}")),
    );
    format!(
        "<tr class=\"{class}\"><td>{verdict}</td><td>{}</td><td>{client}</td><td>{}</td>\
         <td>{}</td><td>{}</td><td>{}</td></tr>",
        text(&row.service),
        text(&address),
        text(&reached),
        text(&seen.join("; ")),
        text(&why.join("\n"))
    )
}

fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or("-".to_string(), |v| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::services::judge::{EndpointRef, SourceSeen};

    #[test]
    fn a_row_per_service_escaped_with_its_reasons() {
        let row = ServiceRow {
            service: "svc1<b>".into(),
            client: ClientKind::Outside,
            family: crate::family::Family::Ipv4,
            cluster_ip: Some("10.96.0.11".parse().unwrap()),
            port: Some(80),
            target_port: Some(8001),
            node_port: Some(30001),
            endpoints: vec![EndpointRef {
                pod: "pod1".into(),
                ip: "10.0.1.2".parse().unwrap(),
            }],
            endpoints_reached: vec!["pod1".into()],
            sources_seen: vec![SourceSeen {
                endpoint: "pod1".into(),
                source: "192.168.0.254".parse().unwrap(),
            }],
            hairpins: vec![],
            probes: 3,
            expected_failures: vec!["svc1 NodePort host3:30001/tcp from outside".into()],
            passed: true,
            reasons: vec![],
        };
        let html = line(&row);
        assert!(
            html.contains("<td>svc1&lt;b&gt;</td><td>outside</td><td>NodePort 30001</td>"),
            "{html}"
        );
        assert!(html.contains("pod1 ← 192.168.0.254"), "{html}");
        assert!(
            html.contains("expected failure: svc1 NodePort host3:30001/tcp from outside"),
            "{html}"
        );
        // An IPv6 row says its family, and its ClusterIP in brackets before the port.
        let six = ServiceRow {
            client: ClientKind::Pod,
            family: crate::family::Family::Ipv6,
            cluster_ip: Some("fd00:10:96::11".parse().unwrap()),
            ..row
        };
        let html = line(&six);
        assert!(
            html.contains("<td>pod (IPv6)</td><td>[fd00:10:96::11]:80</td>"),
            "{html}"
        );
    }
}
