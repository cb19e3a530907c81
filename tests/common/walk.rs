//! Reading `cnilab trace --json` in tests: the steps as (node, iface, direction) per leg.

use super::*;
use serde_json::Value;

pub fn trace_json(lab: &LabGuard, args: &[&str]) -> (i32, Value) {
    let mut all = vec!["trace", "--json"];
    all.extend_from_slice(args);
    let out = lab.run(&all);
    let walk = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON walk ({e}): {}", stderr(&out)));
    (out.status.code().unwrap_or(-1), walk)
}

pub fn steps<'a>(walk: &'a Value, leg: &str) -> Vec<&'a Value> {
    walk["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter(|s| s["leg"] == leg)
        .collect()
}

/// `node iface direction` of each step of one leg.
pub fn hops(walk: &Value, leg: &str) -> Vec<String> {
    steps(walk, leg)
        .iter()
        .map(|s| {
            format!(
                "{} {} {}",
                s["node"].as_str().unwrap(),
                s["iface"].as_str().unwrap(),
                s["direction"].as_str().unwrap()
            )
        })
        .collect()
}

pub fn step<'a>(walk: &'a Value, leg: &str, hop: &str) -> &'a Value {
    steps(walk, leg)
        .into_iter()
        .find(|s| {
            format!(
                "{} {} {}",
                s["node"].as_str().unwrap(),
                s["iface"].as_str().unwrap(),
                s["direction"].as_str().unwrap()
            ) == hop
        })
        .unwrap_or_else(|| panic!("no {leg} step at {hop}: {walk:#}"))
}

pub fn decision(walk: &Value, leg: &str, hop: &str) -> String {
    step(walk, leg, hop)["decision"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The kernel's timestamps never go backwards along the walk.
pub fn assert_time_ordered(walk: &Value) {
    let t: Vec<u64> = walk["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["t_us"].as_u64().unwrap())
        .collect();
    assert!(
        t.windows(2).all(|w| w[0] <= w[1]),
        "steps out of time order: {t:?}"
    );
}
