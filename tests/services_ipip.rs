//! `gen --services` on ipip labs (the article's and Calico's): verify proves every Service.
//! This machine's kernel has no IPIP, so these run in make test-vm.

mod common;

use common::services::healthy;

#[test]
#[ignore = "needs a kernel with IPIP: run make test-vm"]
fn ipip_iptables_services_pass() {
    healthy("svc-ii", &["--mode", "ipip"], "iptables");
}

#[test]
#[ignore = "needs a kernel with IPIP: run make test-vm"]
fn calico_ipip_nftables_services_pass() {
    healthy(
        "svc-ci",
        &["--mode", "ipip", "--flavor", "calico"],
        "nftables",
    );
}
