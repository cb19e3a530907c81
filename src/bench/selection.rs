//! Which labs a bench deploys: `--modes` crossed with `--flavors`, checked against the flavors
//! each mode has before anything is deployed, and with `--encryption` each lab twice: in the
//! clear and sealed, so that the cost of encryption is measured against the same lab.

use crate::plan::encryption::Encryption;
use crate::plan::{Flavor, Mode};
use std::fmt;

/// One lab to bench: a mode built the way a flavor builds it, in the clear or sealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Combo {
    pub mode: Mode,
    pub flavor: Flavor,
    pub encryption: Encryption,
}

impl Combo {
    /// A lab whose pod traffic crosses hosts in the clear.
    pub fn clear(mode: Mode, flavor: Flavor) -> Combo {
        Combo {
            mode,
            flavor,
            encryption: Encryption::None,
        }
    }

    /// `vxlan` for the article's lab, which cnilab names by its mode alone, else `vxlan/flannel`;
    /// `+wireguard` after it for a sealed lab.
    pub fn label(self) -> String {
        let base = match self.flavor {
            Flavor::Article => self.mode.to_string(),
            flavor => format!("{}/{flavor}", self.mode),
        };
        match self.encryption {
            Encryption::None => base,
            sealed => format!("{base}+{sealed}"),
        }
    }

    /// The lab's name: `<prefix>-<mode>`, `-<flavor>` after it for any but the article's, and
    /// `-<encryption>` for a sealed lab.
    pub fn lab_name(self, prefix: &str) -> String {
        let base = match self.flavor {
            Flavor::Article => format!("{prefix}-{}", self.mode),
            flavor => format!("{prefix}-{}-{flavor}", self.mode),
        };
        match self.encryption {
            Encryption::None => base,
            sealed => format!("{base}-{sealed}"),
        }
    }

    /// The same lab in the clear: what a sealed lab's cost is measured against.
    pub fn in_the_clear(self) -> Combo {
        Combo::clear(self.mode, self.flavor)
    }
}

/// Each lab of `combos`, and after it the same lab sealed in `encryption` (none: as given).
pub fn with_encryption(combos: &[Combo], encryption: Encryption) -> Vec<Combo> {
    combos
        .iter()
        .flat_map(|&c| {
            let sealed = Combo { encryption, ..c };
            match encryption {
                Encryption::None => vec![c],
                _ => vec![c, sealed],
            }
        })
        .collect()
}

impl fmt::Display for Combo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}

/// Pairs the user named that do not exist, e.g. `--modes host-gw --flavors calico`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--modes with --flavors names {}, which cnilab cannot build; the valid mode/flavor pairs are {}", list(.invalid), list(&all_valid()))]
pub struct InvalidCombos {
    pub invalid: Vec<Combo>,
}

fn list(combos: &[Combo]) -> String {
    let names: Vec<String> = combos
        .iter()
        .map(|c| format!("{}/{}", c.mode, c.flavor))
        .collect();
    names.join(", ")
}

/// Every mode/flavor pair cnilab can generate, mode by mode.
pub fn all_valid() -> Vec<Combo> {
    Mode::ALL
        .iter()
        .flat_map(|&mode| {
            Flavor::valid_for(mode)
                .iter()
                .map(move |&flavor| Combo::clear(mode, flavor))
        })
        .collect()
}

/// The labs to bench, mode by mode. Modes the user named must each have every flavor named;
/// without `--modes`, each flavor runs in the modes that have it. No flavor means the article's.
pub fn select(modes: Option<&[Mode]>, flavors: &[Flavor]) -> Result<Vec<Combo>, InvalidCombos> {
    let flavors = if flavors.is_empty() {
        vec![Flavor::Article]
    } else {
        dedup(flavors)
    };
    let explicit = modes.is_some();
    let modes = dedup(modes.unwrap_or(&Mode::ALL));
    let mut chosen = Vec::new();
    let mut invalid = Vec::new();
    for &mode in &modes {
        for &flavor in &flavors {
            let combo = Combo::clear(mode, flavor);
            if Flavor::valid_for(mode).contains(&flavor) {
                chosen.push(combo);
            } else if explicit {
                invalid.push(combo);
            }
        }
    }
    if invalid.is_empty() {
        Ok(chosen)
    } else {
        Err(InvalidCombos { invalid })
    }
}

/// In the order given, each once: a mode named twice is one lab, not two of the same name.
fn dedup<T: PartialEq + Copy>(items: &[T]) -> Vec<T> {
    let mut out: Vec<T> = Vec::new();
    for &item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use Flavor::*;
    use Mode::*;

    fn combos(pairs: &[(Mode, Flavor)]) -> Vec<Combo> {
        pairs
            .iter()
            .map(|&(mode, flavor)| Combo::clear(mode, flavor))
            .collect()
    }

    #[test]
    fn no_flavor_is_the_article_in_every_mode_named() {
        assert_eq!(
            select(Some(&[HostGw, Vxlan]), &[]).unwrap(),
            combos(&[(HostGw, Article), (Vxlan, Article)])
        );
        assert_eq!(
            select(None, &[]).unwrap(),
            combos(&[(HostGw, Article), (Vxlan, Article), (Ipip, Article)])
        );
    }

    #[test]
    fn without_modes_each_flavor_runs_where_it_exists() {
        assert_eq!(
            select(None, &[Article, Flannel, Calico]).unwrap(),
            combos(&[
                (HostGw, Article),
                (HostGw, Flannel),
                (Vxlan, Article),
                (Vxlan, Flannel),
                (Vxlan, Calico),
                (Ipip, Article),
                (Ipip, Calico),
            ])
        );
        assert_eq!(select(None, &[Cilium]).unwrap(), combos(&[(Vxlan, Cilium)]));
    }

    #[test]
    fn named_modes_must_have_every_named_flavor() {
        let err = select(Some(&[HostGw, Vxlan]), &[Flannel, Calico, Cilium]).unwrap_err();
        assert_eq!(err.invalid, combos(&[(HostGw, Calico), (HostGw, Cilium)]));
        assert_eq!(
            err.to_string(),
            "--modes with --flavors names host-gw/calico, host-gw/cilium, which cnilab cannot \
             build; the valid mode/flavor pairs are host-gw/article, host-gw/flannel, vxlan/article, vxlan/flannel, vxlan/calico, \
             vxlan/cilium, ipip/article, ipip/calico"
        );
        assert_eq!(
            select(Some(&[Vxlan]), &[Flannel, Calico, Cilium]).unwrap(),
            combos(&[(Vxlan, Flannel), (Vxlan, Calico), (Vxlan, Cilium)])
        );
    }

    #[test]
    fn names_given_twice_are_one_lab() {
        assert_eq!(
            select(Some(&[Vxlan, Vxlan]), &[Flannel, Flannel]).unwrap(),
            combos(&[(Vxlan, Flannel)])
        );
    }

    #[test]
    fn labels_and_lab_names_keep_the_article_short() {
        let article = Combo::clear(Vxlan, Article);
        let calico = Combo::clear(Ipip, Calico);
        assert_eq!(article.label(), "vxlan");
        assert_eq!(calico.label(), "ipip/calico");
        assert_eq!(article.lab_name("cb"), "cb-vxlan");
        assert_eq!(calico.lab_name("cb"), "cb-ipip-calico");
    }

    #[test]
    fn with_encryption_each_lab_is_benched_in_the_clear_then_sealed() {
        let clear = combos(&[(HostGw, Article), (HostGw, Flannel)]);
        assert_eq!(with_encryption(&clear, Encryption::None), clear);
        let both = with_encryption(&clear, Encryption::Wireguard);
        let labels: Vec<String> = both.iter().map(|c| c.label()).collect();
        assert_eq!(
            labels,
            [
                "host-gw",
                "host-gw+wireguard",
                "host-gw/flannel",
                "host-gw/flannel+wireguard"
            ]
        );
        assert_eq!(both[3].lab_name("cb"), "cb-host-gw-flannel-wireguard");
        assert_eq!(both[3].in_the_clear(), both[2]);
    }
}
