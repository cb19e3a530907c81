//! One fact, said once: whatever the plan says, the rendered file says, and reading the file
//! back gives the plan again. Checked for every mode over the whole range of sizes.

use cnilab::lab::Lab;
use cnilab::plan::{Mode, Plan, MAX_HOSTS, MIN_HOSTS};
use cnilab::render::{render, Templates};
use cnilab::topology::Topology;
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
    assert_eq!(lab.hosts.len(), plan.hosts.len());
    assert_eq!(lab.pods.len(), plan.hosts.len());
    for ((h, lh), lp) in plan.hosts.iter().zip(&lab.hosts).zip(&lab.pods) {
        assert_eq!(lh.node, h.name);
        assert_eq!(lh.namespace, ns(plan, &h.name));
        assert_eq!(lh.index, h.index);
        assert_eq!(lh.underlay_if, h.underlay_if);
        assert_eq!(lh.underlay_ip, h.underlay_ip);
        assert_eq!(lh.pod_subnet, h.pod_subnet);
        assert_eq!(lp.node, h.pods[0].name);
        assert_eq!(lp.namespace, ns(plan, &h.pods[0].name));
        assert_eq!(lp.host, h.index);
        assert_eq!(lp.ip, h.pods[0].ip);
        assert_eq!(lp.mtu, plan.pod_mtu);
        assert_eq!(lp.pod_if, h.pod_if);
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
        Mode::HostGw | Mode::Ipip => assert!(lab.encap.vxlan().is_none()),
    }
}

/// The routers and the legs verify captures on, as the plan names them.
fn assert_routers(plan: &Plan, lab: &Lab) {
    let mut want: Vec<(String, Vec<String>)> = match plan.mode {
        Mode::HostGw => vec![],
        Mode::Vxlan => plan
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

#[test]
fn the_listed_sizes_round_trip_in_every_mode() {
    for mode in Mode::ALL {
        for n in [2, 3, 4, 8, 64, 254] {
            assert_round_trip(&Plan::new(mode, n, None).unwrap());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]
    #[test]
    fn every_size_round_trips(mode in prop::sample::select(Mode::ALL.to_vec()),
                              n in MIN_HOSTS..=MAX_HOSTS,
                              name in "[a-z][a-z0-9-]{0,12}") {
        assert_round_trip(&Plan::new(mode, n, Some(&name)).unwrap());
    }
}
