//! The inferred labels written into a copy of the user's file, every other line kept as it
//! was: comments, blank lines and the author's indentation included.
//!
//! Written by hand, as text: serde_yaml_ng would re-emit the whole document and drop its
//! comments, and the point of `cnilab label` is a file the author still recognises.

use super::Inference;
use crate::topology::Topology;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabelTextError {
    #[error("cannot find the `nodes:` section under `topology:`")]
    NoNodes,
    #[error("cannot find node `{0}` in the `nodes:` section")]
    NoNode(String),
    #[error("node `{0}` is written on one line (`{0}: {{...}}`); write it as a block to label it")]
    Inline(String),
}

/// `text` with `inference`'s labels added to each node.
pub fn with_labels(text: &str, inference: &Inference) -> Result<String, LabelTextError> {
    let lines: Vec<&str> = text.lines().collect();
    let blocks = node_blocks(&lines)?;
    let mut inserts: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for (node, labels) in &inference.labels {
        let block = blocks
            .iter()
            .find(|b| &b.name == node)
            .ok_or_else(|| LabelTextError::NoNode(node.clone()))?;
        let (at, lines) = block.insertion(&lines, labels);
        inserts.insert(at, lines);
    }
    let mut out = String::with_capacity(text.len() + 64 * inserts.len());
    for (i, line) in lines.iter().enumerate() {
        out.push_str(line);
        out.push('\n');
        for extra in inserts.get(&i).into_iter().flatten() {
            out.push_str(extra);
            out.push('\n');
        }
    }
    Ok(out)
}

/// A node's lines: the key line `    host1:` and what is indented under it.
struct NodeBlock {
    name: String,
    key_line: usize,
    indent: usize,
    /// One past its last line.
    end: usize,
}

impl NodeBlock {
    /// After which line the labels go, and the lines themselves.
    fn insertion(
        &self,
        lines: &[&str],
        labels: &BTreeMap<&'static str, String>,
    ) -> (usize, Vec<String>) {
        let body = (self.key_line + 1..self.end).filter(|&i| is_content(lines[i]));
        let child = body
            .clone()
            .map(|i| indent(lines[i]))
            .next()
            .unwrap_or(self.indent + 2);
        let existing = body
            .clone()
            .find(|&i| indent(lines[i]) == child && lines[i].trim_start().starts_with("labels:"));
        let (at, label_indent, mut out) = match existing {
            Some(i) => {
                let deeper = body.clone().find(|&j| j > i).map(|j| indent(lines[j]));
                let label_indent = deeper.filter(|&d| d > child).unwrap_or(child + 2);
                (i, label_indent, Vec::new())
            }
            None => (
                self.key_line,
                child + 2,
                vec![format!("{}labels:", " ".repeat(child))],
            ),
        };
        out.extend(
            labels
                .iter()
                .map(|(k, v)| format!("{}{k}: \"{v}\"", " ".repeat(label_indent))),
        );
        (at, out)
    }
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

fn is_content(line: &str) -> bool {
    let t = line.trim_start();
    !t.is_empty() && !t.starts_with('#')
}

/// Every node's block in the `nodes:` section.
fn node_blocks(lines: &[&str]) -> Result<Vec<NodeBlock>, LabelTextError> {
    let topology = lines
        .iter()
        .position(|l| l.trim_end() == "topology:")
        .ok_or(LabelTextError::NoNodes)?;
    let nodes = (topology + 1..lines.len())
        .find(|&i| lines[i].trim() == "nodes:")
        .ok_or(LabelTextError::NoNodes)?;
    let section = indent(lines[nodes]);
    let mut blocks: Vec<NodeBlock> = Vec::new();
    let mut node_indent = None;
    for i in nodes + 1..lines.len() {
        if !is_content(lines[i]) {
            continue;
        }
        let depth = indent(lines[i]);
        if depth <= section {
            break;
        }
        if *node_indent.get_or_insert(depth) == depth {
            if let Some(last) = blocks.last_mut() {
                last.end = i;
            }
            let (key, rest) = lines[i]
                .trim()
                .split_once(':')
                .unwrap_or((lines[i].trim(), ""));
            let key = key.trim_matches(['"', '\'']);
            if is_content(rest) {
                return Err(LabelTextError::Inline(key.to_string()));
            }
            blocks.push(NodeBlock {
                name: key.to_string(),
                key_line: i,
                indent: depth,
                end: lines.len(),
            });
        } else if let Some(last) = blocks.last_mut() {
            last.end = i + 1;
        }
    }
    Ok(blocks)
}

/// Whether the written file says the same as the inference: read back, every node carries its
/// labels.
pub fn reads_back(text: &str, inference: &Inference) -> bool {
    let Ok(topo) = Topology::parse(text) else {
        return false;
    };
    inference.labels.iter().all(|(node, labels)| {
        topo.node(node).is_some_and(|n| {
            labels
                .iter()
                .all(|(k, v)| n.labels.get(*k).is_some_and(|got| got.to_string() == *v))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::super::infer;
    use super::*;

    #[test]
    fn every_line_is_kept_and_the_labels_read_back() {
        let text = include_str!("../../../examples/article/vxlan.clab.yaml");
        let inference = infer(&Topology::parse(text).unwrap()).unwrap();
        let out = with_labels(text, &inference).unwrap();
        assert!(reads_back(&out, &inference), "{out}");
        let kept: Vec<&str> = out
            .lines()
            .filter(|l| !l.contains("cnilab.") && l.trim() != "labels:")
            .collect();
        assert_eq!(kept, text.lines().collect::<Vec<_>>());
        assert!(out.contains("        # 1. 在宿主机上开启IP转发。\n"));
    }

    fn labels_of(nodes: &[(&str, &'static str, &str)]) -> Inference {
        let mut labels: BTreeMap<String, BTreeMap<&'static str, String>> = BTreeMap::new();
        for (node, k, v) in nodes {
            labels
                .entry(node.to_string())
                .or_default()
                .insert(k, v.to_string());
        }
        Inference {
            labels,
            summary: String::new(),
        }
    }

    #[test]
    fn a_node_with_labels_gets_them_beside_its_own() {
        let text = "name: x\ntopology:\n  nodes:\n    a:\n      kind: linux\n      labels:\n        team: red\n      exec:\n        - ip addr add 10.1.0.2/24 dev eth1\n    b:\n";
        let inference = labels_of(&[("a", "cnilab.role", "pod"), ("b", "cnilab.role", "host")]);
        let out = with_labels(text, &inference).unwrap();
        let topo = Topology::parse(&out).unwrap();
        let a = topo.node("a").unwrap();
        assert_eq!(a.labels["team"].to_string(), "red");
        assert_eq!(a.labels["cnilab.role"].to_string(), "pod");
        assert_eq!(a.exec.len(), 1);
        assert_eq!(
            topo.node("b").unwrap().labels["cnilab.role"].to_string(),
            "host"
        );
    }

    #[test]
    fn a_node_on_one_line_is_named() {
        let text = "name: x\ntopology:\n  nodes:\n    a: {kind: linux}\n";
        let inference = labels_of(&[("a", "cnilab.role", "pod")]);
        assert_eq!(
            with_labels(text, &inference).unwrap_err(),
            LabelTextError::Inline("a".into())
        );
    }
}
