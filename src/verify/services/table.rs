//! The Services table of verify's text report.

use super::judge::{ClientKind, ServiceRow};
use crate::family::Family;
use crate::verify::report::Style;
use std::net::SocketAddr;

/// One line per Service, family and kind of client, then each reason on a line of its own.
/// A lab with IPv6 has a FAMILY column, as the pairs' table; an IPv4 lab's table is without.
pub fn text(rows: &[ServiceRow], style: &Style) -> String {
    if rows.is_empty() {
        return String::new();
    }
    let families = rows.iter().any(|r| r.family == Family::Ipv6);
    let mut out = match families {
        true => String::from("\nSERVICE  CLIENT   FAMILY VIP / PORT                ENDPOINTS REACHED          SOURCES SEEN\n"),
        false => String::from(
            "\nSERVICE  CLIENT   VIP / PORT            ENDPOINTS REACHED          SOURCES SEEN\n",
        ),
    };
    for row in rows {
        if style.failed_only && row.passed {
            continue;
        }
        out.push_str(&line(row, families, style));
        if !row.hairpins.is_empty() {
            out.push_str(&format!(
                "      hairpin: {} each reached itself through the Service\n",
                row.hairpins.join(", ")
            ));
        }
        for failed in &row.expected_failures {
            out.push_str(&format!("      expected failure: {failed} (no local endpoint, externalTrafficPolicy: Local)\n"));
        }
        for reason in &row.reasons {
            out.push_str(&format!("      {reason}\n"));
        }
    }
    out
}

/// A row's own line: verdict, Service, client, (family,) address, endpoints, sources.
fn line(row: &ServiceRow, families: bool, style: &Style) -> String {
    let verdict = if row.passed {
        style.pass()
    } else {
        style.fail()
    };
    let vip = match (row.client, row.cluster_ip, row.port) {
        (ClientKind::Outside, _, _) => {
            format!("NodePort {}", row.node_port.unwrap_or_default())
        }
        (_, Some(ip), Some(port)) => SocketAddr::new(ip, port).to_string(),
        (_, _, port) => format!("outside:{}", port.unwrap_or_default()),
    };
    let client = match row.client {
        ClientKind::Pod => "pod",
        ClientKind::Outside => "outside",
        ClientKind::Egress => "egress",
    };
    let reached = format!(
        "{}/{} {}",
        row.endpoints_reached.len(),
        row.endpoints.len(),
        row.endpoints_reached.join(",")
    );
    let sources: Vec<String> = row
        .sources_seen
        .iter()
        .map(|s| format!("{}←{}", s.endpoint, s.source))
        .collect();
    let sources = sources.join(" ");
    match families {
        true => format!(
            "{verdict}  {:<7} {client:<8} {:<6} {vip:<25} {reached:<26} {sources}\n",
            row.service,
            row.family.as_str(),
        ),
        false => format!(
            "{verdict}  {:<7} {client:<8} {vip:<21} {reached:<26} {sources}\n",
            row.service,
        ),
    }
}
