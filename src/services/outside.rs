//! Where `outside`, the machine outside the cluster, joins the underlay.

use super::{Outside, ServiceError, OUTSIDE_OCTET};
use crate::family::{six, six_prefix, IpFamily};
use crate::plan::{Host, Mode};
use crate::underlay::Rack;
use std::net::Ipv4Addr;

/// `outside` placed by [`place`], with its IPv6 side where the lab carries IPv6: each address
/// and route [`six`] of its IPv4 one, as every other node's.
pub(super) fn outside(
    mode: Mode,
    family: IpFamily,
    hosts: &[Host],
    racks: &[Rack],
) -> Result<Outside, ServiceError> {
    let mut o = place(mode, hosts, racks)?;
    if family.has_v6() {
        o.ip6 = Some(six(o.ip));
        o.routes6 = o
            .routes
            .iter()
            .filter_map(|(net, via)| Some((six_prefix(net.parse().ok()?).to_string(), six(*via))))
            .collect();
    }
    Ok(o)
}

/// `outside` joins the underlay where every host can reach it: host-gw's switch; the WAN the
/// routers share, where there are routers per host or per rack (they then route each host's
/// or rack's subnet towards it); or a leg of its own on ipip's one router. On a shared
/// segment it takes the highest address no node has.
fn place(mode: Mode, hosts: &[Host], racks: &[Rack]) -> Result<Outside, ServiceError> {
    let iface = "eth1";
    let on_wan = |routes: Vec<(String, Ipv4Addr)>, peer: &str| -> Result<Outside, ServiceError> {
        let used: Vec<Ipv4Addr> = hosts
            .iter()
            .flat_map(|h| [Some(h.underlay_ip), h.router_wan_ip])
            .chain(racks.iter().map(|r| Some(r.wan_ip)))
            .flatten()
            .collect();
        let ip = (2..=OUTSIDE_OCTET)
            .rev()
            .map(|o| Ipv4Addr::new(192, 168, 0, o))
            .find(|ip| !used.contains(ip))
            .ok_or(ServiceError::NoRoomForOutside { hosts: hosts.len() })?;
        Ok(Outside {
            ip,
            ip6: None,
            iface,
            routes,
            routes6: Vec::new(),
            peer: format!("{peer}:outside-{iface}"),
            router_leg: None,
        })
    };
    if !racks.is_empty() {
        return on_wan(
            racks.iter().map(|r| (r.subnet.clone(), r.wan_ip)).collect(),
            "wan",
        );
    }
    match mode {
        Mode::HostGw => on_wan(Vec::new(), "switch"),
        Mode::Vxlan => on_wan(
            hosts
                .iter()
                .filter_map(|h| Some((h.underlay_subnet.clone()?, h.router_wan_ip?)))
                .collect(),
            "wan",
        ),
        Mode::Ipip => {
            let leg = format!("eth{}", hosts.len() + 1);
            let gw = Ipv4Addr::new(192, 168, 0, 1);
            Ok(Outside {
                ip: Ipv4Addr::new(192, 168, 0, OUTSIDE_OCTET),
                ip6: None,
                iface,
                routes: vec![("10.0.0.0/16".to_string(), gw)],
                routes6: Vec::new(),
                peer: format!("gw:{leg}"),
                router_leg: Some((leg, gw)),
            })
        }
    }
}
