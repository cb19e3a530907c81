//! The Services plan: addresses, endpoints, the label and kube-proxy's names, in each family.

use super::names::chains;
use super::*;
use crate::plan::{LabSpec, Plan};
use data_encoding::BASE32;
use sha2::{Digest, Sha256};

fn hosts(n: usize, k: usize) -> Vec<Host> {
    let spec = LabSpec {
        pods_per_host: k,
        ..LabSpec::article(Mode::HostGw, n, None)
    };
    Plan::from_spec(&spec).unwrap().hosts
}

fn plan_at(
    spec: &ServicesSpec,
    mode: Mode,
    family: IpFamily,
    hosts: &[Host],
) -> Result<Option<ServicePlan>, ServiceError> {
    let site = Site {
        lab: "t",
        mode,
        family,
        hosts,
        racks: &[],
    };
    plan(spec, &site)
}

fn spec(count: usize) -> ServicesSpec {
    ServicesSpec {
        count,
        ..ServicesSpec::default()
    }
}

#[test]
fn endpoints_spread_over_two_hosts_and_addresses_follow_the_range() {
    let plan = plan_at(&spec(2), Mode::HostGw, IpFamily::Ipv4, &hosts(3, 1))
        .unwrap()
        .unwrap();
    let s1 = &plan.services[0];
    assert_eq!(s1.cluster_ip, Ipv4Addr::new(10, 96, 0, 11));
    assert_eq!((s1.port, s1.target_port, s1.node_port), (80, 8001, 30001));
    let on: Vec<usize> = s1.endpoints.iter().map(|e| e.host).collect();
    assert_eq!(on, [1, 2]);
    let on: Vec<usize> = plan.services[1].endpoints.iter().map(|e| e.host).collect();
    assert_eq!(on, [2, 3]);
    assert_eq!(plan.services[1].node_port, 30002);
}

#[test]
fn the_label_reads_back_as_written() {
    let plan = plan_at(&spec(3), Mode::Vxlan, IpFamily::Ipv4, &hosts(2, 2))
        .unwrap()
        .unwrap();
    let read = parse_label(&plan.label).unwrap();
    assert_eq!(read.len(), 3);
    assert_eq!(read[2].cluster_ips, [IpAddr::from([10, 96, 0, 13])]);
    assert_eq!(read[2].endpoints, ["pod1-2", "pod2-2"]);
    assert!(parse_label("svc1 10.96.0.11 80").is_err());
}

#[test]
fn a_dual_lab_gives_each_service_a_clusterip_per_family_ipv4_first() {
    let lab = LabSpec {
        ip_family: IpFamily::Dual,
        ..LabSpec::article(Mode::HostGw, 3, None)
    };
    let hosts = Plan::from_spec(&lab).unwrap().hosts;
    let plan = plan_at(&spec(2), Mode::HostGw, IpFamily::Dual, &hosts)
        .unwrap()
        .unwrap();
    let fams: Vec<Family> = plan.families.iter().map(|f| f.family).collect();
    assert_eq!(fams, [Family::Ipv4, Family::Ipv6]);
    let six = &plan.families[1];
    assert_eq!(six.services[0].cluster_ip.to_string(), "fd00:10:96::11");
    assert_eq!(
        six.services[0].endpoints[0].hostport,
        "[fd00:10:0:1::2]:8001"
    );
    assert_eq!(
        (six.file, six.cluster_cidr.as_str()),
        ("rules.v6", "fd00:10::/48")
    );
    assert_eq!(plan.cluster_cidr, "10.0.0.0/16,fd00:10::/48");
    assert_eq!(plan.outside.ip6, Some("fd00:192:168::254".parse().unwrap()));
    // One NodePort per Service across families, as in Kubernetes.
    assert_eq!(
        six.services[1].node_port,
        plan.families[0].services[1].node_port
    );
    let read = parse_label(&plan.label).unwrap();
    assert_eq!(read[0].cluster_ips[0], IpAddr::from([10, 96, 0, 11]));
    assert_eq!(
        read[0].cluster_ip(Family::Ipv6),
        Some(six.services[0].cluster_ip)
    );
    assert_eq!(read[1].families(), [Family::Ipv4, Family::Ipv6]);
}

#[test]
fn an_ipv6_lab_states_only_ipv6_clusterips() {
    let hosts = hosts(2, 1);
    let plan = plan_at(&spec(1), Mode::HostGw, IpFamily::Ipv6, &hosts)
        .unwrap()
        .unwrap();
    assert_eq!(plan.label, "svc1 [fd00:10:96::11]:80 8001 30001 pod1,pod2");
    let read = parse_label(&plan.label).unwrap();
    assert_eq!(read[0].cluster_ip(Family::Ipv4), None);
    assert_eq!(plan.families.len(), 1);
    assert_eq!(plan.families[0].ipx, "ip6");
}

#[test]
fn ipip_with_ipv6_is_refused_with_the_mode_to_use() {
    let err = plan_at(&spec(1), Mode::Ipip, IpFamily::Dual, &hosts(2, 1)).unwrap_err();
    assert_eq!(err, ServiceError::IpipIpv6(IpFamily::Dual));
    assert!(err.to_string().contains("use --mode vxlan"), "{err}");
}

#[test]
fn the_label_keeps_its_ipv4_form_and_refuses_what_kubernetes_would() {
    let v4 = "svc1 10.96.0.11:80 8001 30001 pod1,pod2";
    assert_eq!(parse_label(v4).unwrap()[0].cluster_ips.len(), 1);
    for bad in [
        // Two ports: a Service's ClusterIPs share its port.
        "svc1 10.96.0.11:80,[fd00:10:96::11]:81 8001 30001 pod1",
        // Two ClusterIPs of one family.
        "svc1 10.96.0.11:80,10.96.0.12:80 8001 30001 pod1",
        "svc1 fd00:10:96::11:80 8001 30001 pod1",
    ] {
        assert!(parse_label(bad).is_err(), "{bad}");
    }
}

#[test]
fn bad_input_names_the_flag() {
    let refuse =
        |s: ServicesSpec| plan_at(&s, Mode::HostGw, IpFamily::Ipv4, &hosts(2, 1)).unwrap_err();
    let low = refuse(ServicesSpec {
        node_port: 80,
        ..spec(1)
    });
    assert!(low.to_string().starts_with("--node-port 80"), "{low}");
    let high = refuse(ServicesSpec {
        node_port: 32767,
        ..spec(2)
    });
    assert!(high.to_string().contains("32767–32768"), "{high}");
    let none = refuse(ServicesSpec {
        endpoints: 0,
        ..spec(1)
    });
    assert!(none.to_string().contains("selects no pod"), "{none}");
    let full = refuse_at(254);
    assert!(
        full.to_string().contains("254 hosts leave no address free"),
        "{full}"
    );
    // At 127 hosts .254 is host127's: outside takes .253.
    let plan = plan_at(&spec(1), Mode::HostGw, IpFamily::Ipv4, &hosts(127, 1))
        .unwrap()
        .unwrap();
    assert_eq!(plan.outside.ip, Ipv4Addr::new(192, 168, 0, 253));
}

fn refuse_at(n: usize) -> ServiceError {
    plan_at(&spec(1), Mode::HostGw, IpFamily::Ipv4, &hosts(n, 1)).unwrap_err()
}

#[test]
fn probabilities_are_kube_proxys() {
    assert_eq!(
        probabilities(3),
        [
            Some("0.3333333333".to_string()),
            Some("0.5000000000".to_string()),
            None
        ]
    );
}

#[test]
fn an_ipv6_endpoint_is_hashed_as_kube_proxy_writes_it() {
    let v6: IpAddr = "fd00:10:0:1::2".parse().unwrap();
    let c = chains("svc1", "tcp", 8001, &[v6]);
    let four = chains("svc1", "tcp", 8001, &[IpAddr::from([10, 0, 1, 2])]);
    // The Service's chain hashes no address; the endpoint's hashes `[ip]:port`.
    assert_eq!(c.svc, four.svc);
    let hash = Sha256::digest(b"default/svc1:tcptcp[fd00:10:0:1::2]:8001");
    assert_eq!(
        c.seps[0],
        format!("KUBE-SEP-{}", &BASE32.encode(&hash)[..16])
    );
    assert!(
        c.nft_endpoints[0].ends_with("-default/svc1/tcp/tcp__fd00.10.0.1..2/8001"),
        "{}",
        c.nft_endpoints[0]
    );
}

#[test]
fn chain_names_have_kube_proxys_shape() {
    let c = chains("svc1", "tcp", 8001, &[]);
    assert!(
        c.svc.starts_with("KUBE-SVC-") && c.svc.len() == 25,
        "{}",
        c.svc
    );
    assert!(
        c.nft_service.ends_with("-default/svc1/tcp/tcp"),
        "{}",
        c.nft_service
    );
}
