//! Cilium's IPsec (`gen --flavor cilium --encryption ipsec`), end to end as root. This
//! machine's kernel has no ESP, so deploy must refuse the lab here, naming the missing kernel
//! feature; the labs themselves run with `--ignored` inside a stock Debian kernel
//! (`make test-vm`): every pair passes with ESP of the planned SPI between its hosts, and verify
//! names a wrong SPI and catches a wrong key.

mod common;

use common::verify::{exec, pair, reasons as messages, verify};
use common::{require_root, stderr, unique, LabGuard};

/// `gen --mode vxlan --flavor cilium --hosts 3 --encryption ipsec` in the guard's folder.
fn generated(prefix: &str) -> LabGuard {
    require_root();
    let name = unique(prefix);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("clab.yaml");
    let out = common::cnilab()
        .args([
            "gen", "--mode", "vxlan", "--flavor", "cilium", "--hosts", "3",
        ])
        .args(["--encryption", "ipsec", "--name", &name, "-o"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "gen: {}", stderr(&out));
    LabGuard {
        name,
        file,
        dir,
        env: Vec::new(),
    }
}

fn deployed(prefix: &str) -> LabGuard {
    let lab = generated(prefix);
    let out = lab.deploy();
    assert!(out.status.success(), "deploy: {}", stderr(&out));
    lab
}

/// Whether this kernel can hold an ESP state (the check deploy makes).
fn kernel_has_esp() -> bool {
    use cnilab::runtime::preflight::{probe, Feature};
    probe(Feature::Xfrm)
}

/// Deploy refuses the lab, before it builds anything, exactly where the kernel has no ESP,
/// and says which kernel feature is missing; where it has ESP, the lab deploys.
#[test]
fn deploy_refuses_ipsec_by_name_where_the_kernel_has_no_esp() {
    let lab = generated("ips-no-");
    let out = lab.deploy();
    if kernel_has_esp() {
        assert!(out.status.success(), "deploy: {}", stderr(&out));
        return;
    }
    assert_eq!(out.status.code(), Some(2), "deploy: {}", stderr(&out));
    let said = stderr(&out);
    for words in [
        "this kernel has no IPsec",
        "CONFIG_INET_ESP",
        "CONFIG_XFRM_USER",
    ] {
        assert!(said.contains(words), "`{words}` not in: {said}");
    }
    lab.assert_gone();
}

#[test]
#[ignore = "needs a kernel with ESP: run make test-vm"]
fn ciliums_ipsec_passes_every_pair_as_esp_of_the_planned_spi() {
    let lab = deployed("ips-ok-");
    common::verify::assert_every_pair_passes_sealed(&lab, "IPsec ESP SPI 0x");
}

/// Replaces, on `node`, the state from `src` to `dst` (SPI `old`) with one of `spi` and `key`:
/// the lines go through a file, as the lab's own do.
fn replace_state(
    lab: &LabGuard,
    node: &str,
    (src, dst): (&str, &str),
    (old, spi): (u32, u32),
    key: &str,
) {
    let batch = lab.dir.path().join(format!("{node}-fault.batch"));
    std::fs::write(
        &batch,
        format!(
            "xfrm state delete src {src} dst {dst} proto esp spi {old:#x}\n\
             xfrm state add src {src} dst {dst} proto esp spi {spi:#x} reqid 1 mode tunnel \
             replay-window 1024 flag esn aead rfc4106(gcm(aes)) {key} 128\n"
        ),
    )
    .unwrap();
    exec(lab, node, &format!("ip -batch {}", batch.display()));
}

/// The key host1 uses towards host2, as its batch file holds it.
fn key_from(lab: &LabGuard, host: &str, (src, dst): (&str, &str)) -> String {
    let file = lab
        .dir
        .path()
        .join(format!("{}.cnilab/ipsec/{host}/xfrm.batch", lab.name));
    let text = std::fs::read_to_string(file).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with(&format!("xfrm state add src {src} dst {dst} ")))
        .unwrap();
    line.split_whitespace().rev().nth(1).unwrap().to_string()
}

fn underlay(lab: &LabGuard, index: usize) -> String {
    lab.lab().hosts[index].v4_underlay().to_string()
}

/// host1 encrypts for host2 under SPI 0x4 instead of 0x103: host2 has no such state, and
/// verify names the SPI.
#[test]
#[ignore = "needs a kernel with ESP: run make test-vm"]
fn an_esp_spi_other_than_the_planned_one_is_named() {
    let lab = deployed("ips-spi-");
    let (h1, h2) = (underlay(&lab, 0), underlay(&lab, 1));
    let key = key_from(&lab, "host1", (&h1, &h2));
    replace_state(&lab, "host1", (&h1, &h2), (0x103, 4), &key);
    let (code, report) = verify(&lab, &[]);
    let got = messages(pair(&report, "pod1", "pod2"));
    assert!(
        got.iter()
            .any(|m| m.starts_with("ESP SPI 0x4 not the planned 0x103 from host1 to host2")),
        "{got:?}"
    );
    assert_eq!(code, 1, "{report}");
    assert_eq!(pair(&report, "pod3", "pod1")["passed"], true, "{report}");
}

/// host2 decrypts what comes from host1 with a key of its own: the ESP crosses under the
/// planned SPI, and pod2 never sees the probe in the clear.
#[test]
#[ignore = "needs a kernel with ESP: run make test-vm"]
fn a_wrong_esp_key_is_caught() {
    let lab = deployed("ips-key-");
    let (h1, h2) = (underlay(&lab, 0), underlay(&lab, 1));
    let wrong = format!("0x{}", "5a".repeat(20));
    replace_state(&lab, "host2", (&h1, &h2), (0x103, 0x103), &wrong);
    let (code, report) = verify(&lab, &[]);
    let broken = pair(&report, "pod1", "pod2");
    assert_eq!(broken["passed"], false, "{report}");
    let got = messages(broken);
    assert!(
        got.iter().any(|m| m.starts_with(
            "host2 got host1's ESP (SPI 0x103) and sent nothing back sealed (check host2's key"
        )),
        "{got:?}"
    );
    assert!(
        !got.iter().any(|m| m.starts_with("leak:")),
        "a wrong key leaks nothing: {got:?}"
    );
    assert_eq!(code, 1, "{report}");
    assert_eq!(pair(&report, "pod3", "pod1")["passed"], true, "{report}");
}

/// trace names, both ways, the xfrm state that encrypted the probe and the one that decrypted
/// it, each with its SPI, addresses and the policy that chose it.
#[test]
#[ignore = "needs a kernel with ESP: run make test-vm"]
fn trace_names_the_xfrm_states_that_encrypt_and_decrypt() {
    let lab = deployed("e34ipt-");
    let (h1, h2) = (underlay(&lab, 0), underlay(&lab, 1));
    let out = lab.run(&["trace", "--json", "pod1", "pod2"]);
    assert!(out.status.success(), "trace: {}", stderr(&out));
    let walk: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let wraps: Vec<(String, String, String)> = (walk["steps"].as_array().unwrap().iter())
        .filter(|s| !s["wrap"].is_null())
        .map(|s| {
            let text = |k: &str| s[k].as_str().unwrap_or_default().to_string();
            (text("node"), text("wrap"), text("decision"))
        })
        .collect();
    let state = |spi: u32, (a, b): (&str, &str)| {
        format!("xfrm state ESP SPI {spi:#x} {a} → {b} (tunnel, reqid 1)")
    };
    for (node, wrap, says) in [
        (
            "host1",
            "encap",
            format!("encrypted by {} for host2", state(0x103, (&h1, &h2))),
        ),
        (
            "host2",
            "decap",
            format!("decrypted by {} from host1", state(0x103, (&h1, &h2))),
        ),
        (
            "host2",
            "encap",
            format!("encrypted by {} for host1", state(0x203, (&h2, &h1))),
        ),
        (
            "host1",
            "decap",
            format!("decrypted by {} from host2", state(0x203, (&h2, &h1))),
        ),
    ] {
        let has = (wraps.iter()).any(|(n, w, d)| n == node && w == wrap && d.contains(&says));
        assert!(has, "{node} {wrap}: `{says}` not in {wraps:#?}");
    }
}
