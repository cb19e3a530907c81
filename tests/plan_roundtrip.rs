//! One fact, said once: whatever the plan says, the rendered file says, and reading the file
//! back gives the plan again. Checked for every mode and flavor over the whole range of sizes.

use cnilab::lab::{Lab, LabHost};
use cnilab::plan::Host;
use cnilab::plan::{Flavor, LabSpec, Mode, Plan, MAX_HOSTS, MIN_HOSTS};
use cnilab::render::{render, Templates};
use cnilab::topology::Topology;
use cnilab::underlay::Underlay;
use proptest::prelude::*;

fn read_back(plan: &Plan) -> Lab {
    let text = render(plan, Templates::Embedded).unwrap();
    Lab::from_topology(&Topology::parse(&text).unwrap()).unwrap()
}

fn ns(plan: &Plan, node: &str) -> String {
    format!("clab-{}-{node}", plan.lab)
}

/// Every host, pod, router, address, MTU, VNI and port that the plan states.
fn assert_round_trip(plan: &Plan) {
    let lab = read_back(plan);
    assert_eq!(lab.name, plan.lab);
    assert_eq!(lab.mode(), plan.mode);
    assert_eq!(lab.flavor, plan.flavor);
    // The article's labs state no flavor's facts (verify then checks their wire, not their
    // tables); every other flavor states its tunnel device and each host's VTEP.
    let flavored = plan.flavor != Flavor::Article;
    let stated = |fact| if flavored { fact } else { None };
    assert_eq!(
        lab.tunnel_dev.as_deref(),
        stated(plan.tunnel.as_ref().map(|t| t.dev))
    );
    assert_eq!(lab.hosts.len(), plan.hosts.len());
    for (h, lh) in plan.hosts.iter().zip(&lab.hosts) {
        assert_eq!(lh.node, h.name);
        assert_eq!(lh.namespace, ns(plan, &h.name));
        assert_eq!(lh.index, h.index);
        assert_eq!(lh.underlay_if, h.underlay_if);
        assert_eq!(lh.underlay_ip, Some(h.underlay_ip));
        assert_eq!(lh.pod_subnet, Some(h.pod_subnet));
        assert_eq!(lh.vtep_ip, h.vtep_ip.filter(|_| flavored));
        assert_eq!(lh.vtep_mac, h.vtep_mac.clone().filter(|_| flavored));
        assert_expected_failures(plan, h, lh);
    }
    let pods: Vec<_> = plan
        .hosts
        .iter()
        .flat_map(|h| h.pods.iter().map(move |p| (h, p)))
        .collect();
    assert_eq!(lab.pods.len(), pods.len());
    assert!(plan
        .hosts
        .iter()
        .all(|h| h.pods.len() == plan.pods_per_host));
    for ((h, p), lp) in pods.into_iter().zip(&lab.pods) {
        assert_eq!(lp.node, p.name);
        assert_eq!(lp.namespace, ns(plan, &p.name));
        assert_eq!(lp.host, h.index);
        assert_eq!(lp.ip, Some(p.ip));
        assert_eq!(lp.mtu, plan.pod_mtu);
        assert_eq!(lp.pod_if, h.pod_if);
        assert_eq!(lp.host_if.as_deref(), Some(p.veth.as_str()));
    }
    assert_routers(plan, &lab);
    match plan.mode {
        Mode::Vxlan => {
            let v = lab
                .encap
                .vxlan()
                .expect("a vxlan lab reads back its VXLAN parameters");
            assert_eq!((v.vni, v.port), (plan.vni, plan.vxlan_port));
        }
        Mode::HostGw | Mode::Ipip => assert!(lab.vxlan().is_none()),
    }
}

/// The routers and the legs verify captures on, as the plan names them.
fn assert_routers(plan: &Plan, lab: &Lab) {
    let racked = !plan.racks.is_empty();
    let mut want: Vec<(String, Vec<String>)> = match plan.mode {
        // A router per rack (host-gw's racks, or flannel's VXLAN on racks); none on a flat segment.
        Mode::HostGw | Mode::Vxlan if racked || plan.mode == Mode::HostGw => plan
            .racks
            .iter()
            .map(|r| (r.router.clone(), vec!["eth1".into(), "eth2".into()]))
            .collect(),
        Mode::HostGw | Mode::Vxlan => plan
            .hosts
            .iter()
            .map(|h| {
                let legs = [
                    h.router_wan_if.unwrap().to_string(),
                    h.router_lan_if.clone().unwrap(),
                ];
                (h.router.clone().unwrap(), legs.to_vec())
            })
            .collect(),
        Mode::Ipip => vec![(
            "gw".to_string(),
            plan.hosts
                .iter()
                .map(|h| h.router_lan_if.clone().unwrap())
                .collect(),
        )],
    };
    let mut got: Vec<(String, Vec<String>)> = lab
        .routers
        .iter()
        .map(|r| (r.node.clone(), r.capture.clone()))
        .collect();
    want.sort();
    got.sort();
    assert_eq!(got, want);
}

/// Every flavor of every mode, as `gen --flavor F --pods-per-host K` plans it.
fn flavored(mode: Mode, flavor: Flavor, hosts: usize, pods: usize, lab: Option<&str>) -> Plan {
    let spec = LabSpec {
        flavor,
        pods_per_host: pods,
        ..LabSpec::article(mode, hosts, lab)
    };
    Plan::from_spec(&spec).unwrap()
}

fn every_flavor() -> Vec<(Mode, Flavor)> {
    Mode::ALL
        .into_iter()
        .flat_map(|m| Flavor::valid_for(m).iter().map(move |f| (m, *f)))
        .collect()
}

#[test]
fn the_listed_sizes_round_trip_in_every_mode_and_flavor() {
    for (mode, flavor) in every_flavor() {
        for n in [2, 3, 4, 8, 64, 254] {
            // Three pods a host at 254 hosts adds nothing the smaller sizes do not check, and
            // triples the largest files.
            let pods: &[usize] = if n < 254 { &[1, 3] } else { &[1] };
            for &k in pods {
                assert_round_trip(&flavored(mode, flavor, n, k, None));
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]
    #[test]
    fn every_size_round_trips(flavored_mode in prop::sample::select(every_flavor()),
                              n in MIN_HOSTS..=MAX_HOSTS,
                              pods in 1usize..=3,
                              name in "[a-z][a-z0-9-]{0,12}") {
        let (mode, flavor) = flavored_mode;
        assert_round_trip(&flavored(mode, flavor, n, pods, Some(&name)));
    }
}

fn host_gw_on(underlay: Underlay, flavor: Flavor, n: usize, name: Option<&str>) -> Plan {
    host_gw_routed_by(underlay, flavor, n, name, Default::default())
}

fn host_gw_routed_by(
    underlay: Underlay,
    flavor: Flavor,
    n: usize,
    name: Option<&str>,
    routing: cnilab::routing::Routing,
) -> Plan {
    let spec = LabSpec {
        flavor,
        routing,
        underlay: Some(underlay),
        ..LabSpec::article(Mode::HostGw, n, name)
    };
    Plan::from_spec(&spec).unwrap()
}

/// With DirectRouting a host reads back its rack mates as the peers it reaches plain, and no
/// other; without it, none.
fn assert_direct_routes(plan: &Plan, h: &Host, lh: &LabHost) {
    for peer in plan.hosts.iter().filter(|p| p.index != h.index) {
        let direct = (plan.direct_routing || plan.cross_subnet) && peer.rack == h.rack;
        assert_eq!(
            lh.direct_to(peer.index),
            direct,
            "{} -> {}",
            h.name,
            peer.name
        );
    }
}

#[test]
fn vxlan_round_trips_on_racks_with_and_without_the_hybrid_flags() {
    for (flavor, hybrid) in [Flavor::Flannel, Flavor::Calico]
        .into_iter()
        .flat_map(|f| [(f, false), (f, true)])
    {
        for (n, racks) in [(2, 2), (4, 2), (8, 3), (64, 5), (254, 2)] {
            let spec = LabSpec {
                flavor,
                underlay: Some(Underlay::Racks(racks)),
                direct_routing: hybrid && flavor == Flavor::Flannel,
                cross_subnet: hybrid && flavor == Flavor::Calico,
                ..LabSpec::article(Mode::Vxlan, n, None)
            };
            let plan = Plan::from_spec(&spec).unwrap();
            assert_round_trip(&plan);
        }
    }
}

#[test]
fn host_gw_round_trips_on_every_underlay() {
    for flavor in [Flavor::Article, Flavor::Flannel] {
        for underlay in [Underlay::Flat, Underlay::Routed, Underlay::Racks(2)] {
            for n in [2, 3, 4, 8, 64, 254] {
                let plan = host_gw_on(underlay, flavor, n, None);
                assert_eq!(plan.underlay, underlay);
                assert_round_trip(&plan);
                if underlay != Underlay::Flat {
                    let bgp = cnilab::routing::Routing::Bgp;
                    assert_round_trip(&host_gw_routed_by(underlay, flavor, n, None, bgp));
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]
    #[test]
    fn every_rack_count_round_trips(n in MIN_HOSTS..=MAX_HOSTS, racks in 2usize..=MAX_HOSTS) {
        let underlay = Underlay::Racks(racks.min(n));
        assert_round_trip(&host_gw_on(underlay, Flavor::Article, n, Some("racks")));
    }
}

/// A host in a rack declares every pair into another rack an expected failure, dying at its
/// own router; a host on a flat segment declares none.
fn assert_expected_failures(plan: &Plan, h: &Host, lh: &LabHost) {
    let Some(rack) = h.rack else {
        assert!(lh.expect_fail.is_none(), "{}", h.name);
        return;
    };
    if plan.mode == Mode::Vxlan {
        assert!(
            lh.expect_fail.is_none(),
            "{}: VXLAN crosses the routers",
            h.name
        );
        assert_direct_routes(plan, h, lh);
        return;
    }
    assert_eq!(lh.rack, Some(rack));
    if plan.routing == cnilab::routing::Routing::Bgp {
        assert!(
            lh.expect_fail.is_none(),
            "{}: BGP leaves nothing to fail",
            h.name
        );
        return;
    }
    let e = lh
        .expect_fail
        .as_ref()
        .expect("a host in a rack declares its failures");
    assert_eq!(Some(&e.at), h.router.as_ref());
    for peer in &plan.hosts {
        let across = peer.rack != Some(rack);
        assert_eq!(
            e.to.contains(peer.index),
            across,
            "{} -> {}",
            h.name,
            peer.name
        );
    }
}
