//! The lab's addresses as a walk reads them, in the walk's family: the one place in trace that
//! knows where a pod's and a host's IPv4 and IPv6 sides live, and which family a walk is in.
//! Pure.

use crate::family::Family;
use crate::lab::{Lab, LabHost, LabPod};
use ipnet::IpNet;
use std::net::IpAddr;

/// Why the family a walk asks for cannot be walked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FamilyError {
    #[error("`{end}` is an {of} address, but --family (or the other pod's address) asks for {asked}: name the pod, or use one family")]
    Mismatch {
        end: String,
        of: Family,
        asked: Family,
    },
    #[error("lab `{lab}` has no {family} (it was made with --ip-family {made}): an {family} trace (--family {flag}, or a pod named by its {family} address) needs a lab that carries {family}: `cnilab gen --ip-family dual`")]
    NotInLab {
        lab: String,
        family: Family,
        flag: &'static str,
        made: crate::family::IpFamily,
    },
}

/// Pod `pod`'s address in `family`, where it has one (never the other family's instead).
pub fn pod_ip(pod: &LabPod, family: Family) -> Option<IpAddr> {
    pod.addrs().into_iter().find(|ip| Family::of(*ip) == family)
}

/// Whether `what` names `pod`: its node name or one of its addresses.
pub fn names_pod(pod: &LabPod, what: &str) -> bool {
    pod.node == what || what.parse().is_ok_and(|ip| pod.owns(ip))
}

/// Host `host`'s pod prefix in `family`, where it has one.
pub fn pod_prefix(host: &LabHost, family: Family) -> Option<IpNet> {
    host.pod_subnet_in(family)
}

/// The device host `host` tunnels IPv6 in, where the lab gives IPv6 a VTEP of its own: not
/// where one device carries both families (Cilium's), which serves either walk.
pub fn tunnel6_dev(lab: &Lab, host: &LabHost) -> Option<String> {
    let dev = host.v6.as_ref()?.tunnel_dev.clone()?;
    (lab.tunnel_dev.as_ref() != Some(&dev)).then_some(dev)
}

/// The family of the walk: `asked` (`--family`), else the family of FROM or TO where one is
/// an address, else the lab's first (IPv4 in a dual-stack lab). It must be one the lab carries.
pub fn pick(
    lab: &Lab,
    asked: Option<Family>,
    (from, to): (&str, &str),
) -> Result<Family, FamilyError> {
    let mut family = asked;
    for end in [to, from] {
        let Some(of) = end.parse::<IpAddr>().ok().map(Family::of) else {
            continue;
        };
        match family {
            Some(f) if f != of => {
                return Err(FamilyError::Mismatch {
                    end: end.to_string(),
                    of,
                    asked: f,
                })
            }
            _ => family = Some(of),
        }
    }
    let family = family.unwrap_or_else(|| lab.families().first().copied().unwrap_or_default());
    if !lab.families().contains(&family) {
        return Err(FamilyError::NotInLab {
            lab: lab.name.clone(),
            family,
            flag: family.as_str(),
            made: lab.ip_family,
        });
    }
    Ok(family)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::family::IpFamily;
    use crate::lab::tests::{lab, lab_of_spec};
    use crate::plan::{LabSpec, Mode};

    fn dual(mode: Mode) -> Lab {
        lab_of_spec(&LabSpec {
            ip_family: IpFamily::Dual,
            ..LabSpec::article(mode, 3, None)
        })
    }

    #[test]
    fn the_family_is_the_flags_else_tos_else_ipv4() {
        let l = dual(Mode::Vxlan);
        let v6 = "fd00:172:16:1::2";
        let pick = |asked, to| pick(&l, asked, ("pod1", to));
        assert_eq!(pick(None, "pod2"), Ok(Family::Ipv4));
        assert_eq!(pick(None, "172.16.1.2"), Ok(Family::Ipv4));
        assert_eq!(pick(None, v6), Ok(Family::Ipv6));
        assert_eq!(pick(Some(Family::Ipv6), "pod2"), Ok(Family::Ipv6));
        assert_eq!(pick(Some(Family::Ipv6), v6), Ok(Family::Ipv6));
        let err = pick(Some(Family::Ipv4), v6).unwrap_err();
        assert!(matches!(err, FamilyError::Mismatch { .. }), "{err}");
        assert!(err.to_string().contains("--family"), "{err}");
        // FROM's address speaks too, and the two ends must agree.
        assert_eq!(
            super::pick(&l, None, ("fd00:172:16::2", "pod2")),
            Ok(Family::Ipv6)
        );
        let mixed = super::pick(&l, None, ("172.16.0.2", v6)).unwrap_err();
        assert!(matches!(mixed, FamilyError::Mismatch { .. }), "{mixed}");
    }

    #[test]
    fn an_ipv6_only_lab_is_walked_in_ipv6_by_default_and_refuses_ipv4() {
        let l = lab_of_spec(&LabSpec {
            ip_family: IpFamily::Ipv6,
            ..LabSpec::article(Mode::Vxlan, 3, None)
        });
        assert_eq!(pick(&l, None, ("pod1", "pod2")), Ok(Family::Ipv6));
        let err = pick(&l, Some(Family::Ipv4), ("pod1", "pod2")).unwrap_err();
        assert!(err.to_string().contains("has no IPv4"), "{err}");
        assert_eq!(pod_ip(&l.pods[0], Family::Ipv4), None);
    }

    #[test]
    fn an_ipv6_walk_of_an_ipv4_lab_is_refused_naming_the_flag() {
        let l = lab(Mode::HostGw, 2);
        assert_eq!(pick(&l, None, ("pod1", "pod2")), Ok(Family::Ipv4));
        for (asked, to) in [(Some(Family::Ipv6), "pod2"), (None, "fd00:10:0:2::2")] {
            let err = pick(&l, asked, ("pod1", to)).unwrap_err();
            assert!(
                err.to_string().contains("--family ipv6")
                    && err.to_string().contains("--ip-family dual"),
                "{err}"
            );
        }
    }

    #[test]
    fn a_pod_is_named_by_its_node_or_either_address_and_hosts_give_each_familys_prefix() {
        let l = dual(Mode::HostGw);
        let pod = &l.pods[1];
        for what in ["pod2", "10.0.2.2", "fd00:10:0:2::2"] {
            assert!(names_pod(pod, what), "{what}");
        }
        assert!(!names_pod(pod, "fd00:10:0:3::2") && !names_pod(pod, "pod3"));
        assert_eq!(
            pod_ip(pod, Family::Ipv6),
            Some("fd00:10:0:2::2".parse().unwrap())
        );
        let host = &l.hosts[1];
        let prefix = |f| pod_prefix(host, f).map(|p| p.to_string());
        assert_eq!(prefix(Family::Ipv4).as_deref(), Some("10.0.2.0/24"));
        assert_eq!(prefix(Family::Ipv6).as_deref(), Some("fd00:10:0:2::/64"));
        assert_eq!(tunnel6_dev(&l, host), None, "host-gw tunnels nothing");
        let vxlan = dual(Mode::Vxlan);
        assert_eq!(
            tunnel6_dev(&vxlan, &vxlan.hosts[0]).as_deref(),
            Some("flannel-v6.1")
        );
        // Cilium's one device serves both walks: it is no IPv6 device of its own.
        let cilium = crate::lab::tests::lab_of_spec(&crate::plan::LabSpec {
            flavor: crate::plan::Flavor::Cilium,
            ip_family: crate::family::IpFamily::Dual,
            ..crate::plan::LabSpec::article(Mode::Vxlan, 2, None)
        });
        assert_eq!(tunnel6_dev(&cilium, &cilium.hosts[0]), None);
        let v4_only = lab(Mode::HostGw, 2);
        assert_eq!(pod_ip(&v4_only.pods[1], Family::Ipv6), None);
        assert_eq!(pod_prefix(&v4_only.hosts[1], Family::Ipv6), None);
    }
}
