//! Finding a lab's containers the way containerlab itself does: by the `containerlab=<lab>`
//! label it puts on each of them (constants/labels.go), running or stopped. A stopped one
//! leaves a dangling /run/netns link behind, so namespaces alone cannot tell.

use crate::runtime::process::which;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    /// The full container name, e.g. `clab-flannel-vxlan-host1`.
    pub name: String,
    /// The node's short name, from the `clab-node-name` label.
    pub node: String,
    /// Docker's state: `running`, `exited`, `created`...
    pub state: String,
}

impl Container {
    pub fn running(&self) -> bool {
        self.state == "running"
    }
}

/// Every container labelled as part of `lab`; `Err` says why docker could not be asked.
pub fn containers(lab: &str) -> Result<Vec<Container>, String> {
    if which("docker").is_none() {
        return Err("`docker` is not on PATH".into());
    }
    let out = duct::cmd(
        "docker",
        [
            "ps".to_string(),
            "--all".into(),
            "--no-trunc".into(),
            "--filter".into(),
            format!("label=containerlab={lab}"),
            "--format".into(),
            "{{.Names}}\t{{.Label \"clab-node-name\"}}\t{{.State}}".into(),
        ],
    )
    .stdin_null()
    .stderr_capture()
    .stdout_capture()
    .unchecked()
    .run()
    .map_err(|e| format!("cannot run `docker ps`: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "`docker ps` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(parse(&String::from_utf8_lossy(&out.stdout)))
}

fn parse(text: &str) -> Vec<Container> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split('\t');
            let name = f.next()?.trim();
            (!name.is_empty()).then(|| Container {
                name: name.to_string(),
                node: f.next().unwrap_or("").trim().to_string(),
                state: f.next().unwrap_or("").trim().to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_names_nodes_and_states() {
        let c = parse("clab-l-a\ta\trunning\nclab-l-b\tb\texited\n\n");
        assert_eq!(c.len(), 2);
        assert!(c[0].running() && !c[1].running());
        assert_eq!((c[1].name.as_str(), c[1].node.as_str()), ("clab-l-b", "b"));
    }
}
