//! The tests' own helpers, tested without root: the root-namespace comparison, waiting on a
//! condition, and pairing cnilab's frames with tcpdump's.

mod common;

use common::captures::assert_same_times;
use common::*;
use std::time::Duration;

const LINKS: &str = "\
1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN mode DEFAULT group default qlen 1000\\    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00
2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc fq_codel state UP mode DEFAULT group default qlen 1000\\    link/ether 52:54:00:12:34:56 brd ff:ff:ff:ff:ff:ff
";
const ADDRS: &str = "\
1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever
2: eth0    inet 10.9.8.7/24 brd 10.9.8.255 scope global dynamic eth0\\       valid_lft 86000sec preferred_lft 86000sec
";
const ROUTES: &str = "\
default via 10.9.8.1 dev eth0
10.9.8.0/24 dev eth0 proto kernel scope link src 10.9.8.7
local 10.9.8.7 dev eth0 table local proto kernel scope host src 10.9.8.7
";

fn lab() -> Footprint {
    let yaml = std::fs::read_to_string("topologies/vxlan-2.yaml").unwrap();
    Footprint::of_yamls(&[yaml])
}

fn changes(links: &str, addrs: &str, routes: &str) -> Vec<String> {
    let before = RootSnapshot::parse(LINKS, ADDRS, ROUTES);
    before.lab_changes(&RootSnapshot::parse(links, addrs, routes), &lab())
}

#[test]
fn an_unchanged_root_namespace_has_no_lab_changes() {
    assert_eq!(changes(LINKS, ADDRS, ROUTES), Vec::<String>::new());
}

#[test]
fn changes_elsewhere_on_the_machine_pass() {
    let links = format!(
        "{LINKS}7: wg0: <POINTOPOINT,NOARP,UP,LOWER_UP> mtu 1420 qdisc noqueue state UNKNOWN\\    link/none\n\
         8: docker0: <NO-CARRIER,BROADCAST,MULTICAST,UP> mtu 1500 qdisc noqueue state DOWN\\    link/ether 02:42:ac:11:00:01 brd ff:ff:ff:ff:ff:ff\n"
    )
    .replace("state UP", "state DOWN");
    // Address lifetimes count down, and a VPN brings its own address and routes.
    let addrs =
        format!("{ADDRS}7: wg0    inet 100.64.0.2/32 scope global wg0\\       valid_lft forever\n")
            .replace("86000sec", "85000sec");
    let routes = format!("{ROUTES}100.64.0.0/10 dev wg0 scope link\n172.17.0.0/16 dev docker0 proto kernel scope link src 172.17.0.1 linkdown\n")
        .replace("default via 10.9.8.1", "default via 10.9.8.254");
    assert_eq!(changes(&links, &addrs, &routes), Vec::<String>::new());
}

#[test]
fn a_link_named_like_the_labs_is_a_leak() {
    for name in [
        "flannel.1",
        "cni0",
        "pod1-veth",
        "host1-eth1",
        "clab-flannel-vxlan-host1",
    ] {
        let links = format!("{LINKS}9: {name}: <BROADCAST,MULTICAST> mtu 1500 state DOWN\\    link/ether 02:00:00:00:00:09\n");
        assert_eq!(changes(&links, ADDRS, ROUTES), vec![format!("+ {name}")]);
    }
}

#[test]
fn an_address_or_route_in_the_labs_space_is_a_leak() {
    let addrs = format!(
        "{ADDRS}2: eth0    inet 172.16.0.1/24 scope global eth0\\       valid_lft forever\n"
    );
    let found = changes(LINKS, &addrs, ROUTES);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("172.16.0.1/24"), "{found:?}");

    let routes = format!("{ROUTES}10.0.2.0/24 via 10.9.8.1 dev eth0\n");
    let found = changes(LINKS, ADDRS, &routes);
    assert_eq!(
        found,
        vec!["+ 10.0.2.0/24 via 10.9.8.1 dev eth0".to_string()]
    );
}

#[test]
fn a_lab_route_that_goes_away_is_a_change_too() {
    let before = RootSnapshot::parse(LINKS, ADDRS, &format!("{ROUTES}172.16.1.0/24 dev eth0\n"));
    let found = before.lab_changes(&RootSnapshot::parse(LINKS, ADDRS, ROUTES), &lab());
    assert_eq!(found, vec!["- 172.16.1.0/24 dev eth0".to_string()]);
}

#[test]
fn wait_for_returns_the_value_once_the_condition_holds() {
    let mut polls = 0;
    let got = wait_for(GENEROUS, "the third poll", || {
        polls += 1;
        (polls == 3).then_some(polls)
    });
    assert_eq!(got, 3);
}

#[test]
#[should_panic(expected = "for the impossible, and it never happened")]
fn wait_until_fails_naming_what_never_happened() {
    wait_until(Duration::ZERO, "the impossible", || false);
}

fn frame(tag: u8) -> Vec<u8> {
    vec![0xff, 0xff, 0xff, 0xff, 0xff, 0xff, tag]
}

fn at(ms: u64) -> Duration {
    Duration::from_millis(1000 + ms)
}

#[test]
fn a_resent_frame_pairs_with_tcpdumps_copy_of_the_same_sending() {
    // An ARP request sent, then sent again a second later: the same bytes twice.
    let arp = frame(1);
    let ours = vec![
        (at(0), arp.clone()),
        (at(5), frame(2)),
        (at(1000), arp.clone()),
    ];
    let theirs = vec![(at(0), arp.clone()), (at(5), frame(2)), (at(1000), arp)];
    let compared = assert_same_times(&ours, &theirs, Duration::from_micros(20), "test");
    assert_eq!(compared, 3);
}

#[test]
#[should_panic(expected = "apart")]
fn a_frame_stamped_differently_still_fails() {
    let ours = vec![(at(0), frame(1)), (at(1000), frame(1))];
    let theirs = vec![(at(0), frame(1)), (at(1001), frame(1))];
    assert_same_times(&ours, &theirs, Duration::from_micros(20), "test");
}

#[test]
fn a_frame_tcpdump_missed_is_not_compared() {
    let ours = vec![(at(0), frame(1)), (at(1), frame(2))];
    let theirs = vec![(at(1), frame(2))];
    assert_eq!(
        assert_same_times(&ours, &theirs, Duration::from_micros(20), "test"),
        1
    );
}
