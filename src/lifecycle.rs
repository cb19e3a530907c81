//! The lab's life as the CLI drives it: each command first reads the lab's condition through
//! the one shared [`Diagnosis`], refuses what would hurt, and ends with a line that says what
//! it did and what to do next.

use crate::family::Family;
use crate::lab::file::LabFile;
use crate::runtime::diagnose::{absolute, as_root, Condition, Diagnosis};
use crate::runtime::lock::{self, LabLock, LockError, Patience, Scope};
use crate::runtime::state::LabState;
use crate::runtime::{self, DeployOptions, RuntimeError, RuntimeKind};
use crate::topology::TopologyError;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error(transparent)]
    Topology(#[from] TopologyError),
    #[error(transparent)]
    Lock(#[from] LockError),
    /// The lab is in a condition the command cannot work on; the text names the fix.
    #[error("{explanation}")]
    NotReady { explanation: String },
    #[error(
        "{command} needs root: it removes network namespaces; run `sudo cnilab {command} {args}`"
    )]
    NotRoot { command: &'static str, args: String },
    #[error("--pcap {}: {why}; nothing was probed", .dir.display())]
    PcapDir { dir: PathBuf, why: String },
    #[error("{} is the topology file of lab `{lab}` ({summary}); replacing it would orphan the lab: tear it down first with `{fix}`, or write the new lab elsewhere with -o", .path.display())]
    FileInUse {
        path: PathBuf,
        lab: String,
        summary: String,
        fix: String,
    },
    #[error("destroy --all left things behind:\n  {}", .errors.join("\n  "))]
    Several { errors: Vec<String> },
}

impl LifecycleError {
    pub fn exit_code(&self) -> i32 {
        match self {
            LifecycleError::Runtime(e) => e.exit_code(),
            LifecycleError::Lock(e) => e.exit_code(),
            LifecycleError::Several { .. } => 1,
            _ => 2,
        }
    }
}

/// Deploys the lab in `file` if nothing of it exists yet; returns the summary line.
pub fn deploy(
    file: &LabFile,
    kind: RuntimeKind,
    opts: &DeployOptions,
) -> Result<String, LifecycleError> {
    let _life = hold_life(&file.topo.name, "deploy")?;
    let diagnosis = Diagnosis::of(&file.topo, &file.path)?;
    if diagnosis.condition != Condition::Absent {
        return Err(LifecycleError::NotReady {
            explanation: diagnosis.explain(),
        });
    }
    let started = Instant::now();
    runtime::deploy(file, kind, opts)?;
    Ok(deployed_line(file, started))
}

/// `deployed LAB: N nodes in T s; try: …; tear down: …`
pub fn deployed_line(lab_file: &LabFile, started: Instant) -> String {
    let (topo, file) = (&lab_file.topo, lab_file.path.as_path());
    let try_ping = lab_file
        .lab()
        .ok()
        .filter(|lab| lab.pods.len() >= 2)
        .map(|lab| {
            let cmd = format!(
                "ip netns exec {} ping -c1 {}",
                lab.pods[0].namespace,
                lab.pods[1].addr(Family::Ipv4)
            );
            format!("; try: {}", as_root(&cmd))
        })
        .unwrap_or_default();
    format!(
        "deployed {}: {} nodes in {:.1} s{try_ping}; tear down: {}",
        topo.name,
        topo.nodes().count(),
        started.elapsed().as_secs_f64(),
        as_root(&format!("cnilab down -t {}", absolute(file).display()))
    )
}

fn require_root(command: &'static str, args: String) -> Result<(), LifecycleError> {
    if nix::unistd::geteuid().is_root() {
        Ok(())
    } else {
        Err(LifecycleError::NotRoot { command, args })
    }
}

/// Destroys the lab in `file`. A lab that is not there is not an error: destroy is safe to
/// run twice. `kind` forces a runtime, for a lab containerlab deployed without cnilab.
pub fn destroy_file(file: &Path, kind: Option<RuntimeKind>) -> Result<String, LifecycleError> {
    require_root("destroy", format!("-t {}", absolute(file).display()))?;
    let lab = LabFile::load(file)?;
    let topo = &lab.topo;
    let held = Held::for_destroy(&topo.name)?;
    let diagnosis = Diagnosis::of(topo, file)?;
    match &diagnosis.condition {
        // containerlab's stopped containers leave no namespace behind, so a lab deployed
        // by hand with it is its to find; without containerlab there is nothing it can have.
        Condition::Absent
            if kind != Some(RuntimeKind::Containerlab)
                || !crate::runtime::diagnose::containerlab_installed() =>
        {
            held.release();
            return Ok(format!("lab `{}` is not up; nothing to destroy", topo.name));
        }
        Condition::Unrecorded { .. } if kind != Some(RuntimeKind::Containerlab) => {
            return Err(LifecycleError::NotReady {
                explanation: diagnosis.explain(),
            })
        }
        _ => {}
    }
    let started = Instant::now();
    let name = topo.name.clone();
    runtime::destroy_loaded(&lab, kind)?;
    held.release();
    Ok(destroyed_line(&[name], started, Some(file)))
}

/// Destroys a lab cnilab recorded, by name, whether or not its file still exists.
pub fn destroy_name(name: &str) -> Result<String, LifecycleError> {
    require_root("destroy", format!("--name {name}"))?;
    let Some(state) = LabState::load(name)? else {
        let known: Vec<String> = LabState::all()?
            .into_iter()
            .filter_map(|r| r.ok().map(|s| s.lab))
            .collect();
        let known = match known.is_empty() {
            true => "cnilab has no lab recorded".to_string(),
            false => format!("recorded labs: {}", known.join(", ")),
        };
        return Ok(format!(
            "no lab `{name}` is recorded ({known}); nothing to destroy"
        ));
    };
    let held = Held::for_destroy(name)?;
    let started = Instant::now();
    runtime::destroy_recorded(&state)?;
    held.release();
    Ok(destroyed_line(&[state.lab], started, None))
}

/// Destroys every lab cnilab recorded, going on past a failure.
pub fn destroy_all() -> Result<String, LifecycleError> {
    require_root("destroy", "--all".into())?;
    let started = Instant::now();
    let mut done = Vec::new();
    let mut errors = Vec::new();
    for record in LabState::all()? {
        let state = match record {
            Ok(state) => state,
            Err(e) => {
                errors.push(e.to_string());
                continue;
            }
        };
        let held = match Held::for_destroy(&state.lab) {
            Ok(held) => held,
            Err(e) => {
                errors.push(format!("lab `{}`: {e}", state.lab));
                continue;
            }
        };
        match runtime::destroy_recorded(&state) {
            Ok(()) => {
                held.release();
                done.push(state.lab);
            }
            Err(e) => errors.push(format!("lab `{}`: {e}", state.lab)),
        }
    }
    if !errors.is_empty() {
        return Err(LifecycleError::Several { errors });
    }
    if done.is_empty() {
        return Ok("no lab is recorded; nothing to destroy".into());
    }
    Ok(destroyed_line(&done, started, None))
}

/// How long a destroy gives a verify, trace or bench on the lab to stop before it removes the
/// lab under it; each stops at its next safe point, a second or two away.
const STOP_LIMIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Takes `lab`'s deploy-and-destroy lock, waiting for the command that holds it.
fn hold_life(lab: &str, command: &str) -> Result<LabLock, LifecycleError> {
    let waiting = |holder: &lock::Holder| eprintln!("cnilab: waiting for {holder} on lab {lab}");
    Ok(lock::take(
        lab,
        Scope::Life,
        command,
        Patience::Forever,
        &waiting,
    )?)
}

/// What a destroy holds: the lab's life lock, whose holder line tells runs on the lab to stop,
/// and then the run lock, once they have (or [`STOP_LIMIT`] passed).
struct Held {
    life: LabLock,
    run: Option<LabLock>,
}

impl Held {
    fn for_destroy(lab: &str) -> Result<Held, LifecycleError> {
        let life = hold_life(lab, "destroy")?;
        let stopping = |holder: &lock::Holder| {
            eprintln!("cnilab: stopping {holder} on lab {lab} first");
        };
        let patience = Patience::Upto(STOP_LIMIT);
        let run = match lock::take(lab, Scope::Run, "destroy", patience, &stopping) {
            Ok(run) => Some(run),
            Err(LockError::Busy { holder, .. }) => {
                eprintln!(
                    "cnilab: {holder} on lab {lab} did not stop within {} s; destroying the \
                     lab under it",
                    STOP_LIMIT.as_secs()
                );
                None
            }
            Err(e) => return Err(e.into()),
        };
        Ok(Held { life, run })
    }

    /// Lets go of a lab that is gone, and removes its lock files.
    fn release(self) {
        if let Some(run) = self.run {
            run.remove();
        }
        self.life.remove();
    }
}

fn destroyed_line(labs: &[String], started: Instant, file: Option<&Path>) -> String {
    let next = match file {
        Some(f) => format!(
            "; bring it back with `{}`",
            as_root(&format!("cnilab deploy -t {}", absolute(f).display()))
        ),
        None => format!("; `{}` lists what is left", "cnilab inspect --all"),
    };
    let labs: Vec<String> = labs.iter().map(|l| format!("`{l}`")).collect();
    format!(
        "destroyed {}{} in {:.1} s{next}",
        if labs.len() > 1 { "labs " } else { "" },
        labs.join(", "),
        started.elapsed().as_secs_f64()
    )
}

/// verify and trace work on a lab whose nodes are all there; anything else gets the shared
/// diagnosis.
pub fn ready_to_probe(file: &LabFile) -> Result<(), LifecycleError> {
    if file.lab().is_err() {
        // Not a file verify can judge at all: verify says why, in its own words.
        return Ok(());
    }
    let diagnosis = Diagnosis::of(&file.topo, &file.path)?;
    if diagnosis.complete() {
        Ok(())
    } else {
        Err(LifecycleError::NotReady {
            explanation: diagnosis.explain(),
        })
    }
}

/// The folder `--pcap` names must take files before any probing starts, or the probing is
/// wasted. A missing folder is made, as verify would make it.
pub fn check_pcap_dir(dir: &Path) -> Result<(), LifecycleError> {
    let bad = |why: String| LifecycleError::PcapDir {
        dir: dir.to_path_buf(),
        why,
    };
    if dir.exists() && !dir.is_dir() {
        return Err(bad("exists and is not a folder".into()));
    }
    std::fs::create_dir_all(dir).map_err(|e| bad(format!("cannot create it: {e}")))?;
    let probe = tempfile::Builder::new()
        .prefix(".cnilab-pcap-check-")
        .tempfile_in(dir)
        .map_err(|e| bad(format!("cannot write into it: {e}")))?;
    drop(probe);
    Ok(())
}

/// gen and up must not replace the file of a lab that is up: its lab could then be neither
/// found nor destroyed from that file.
pub fn check_not_in_use(path: &Path) -> Result<(), LifecycleError> {
    let target = absolute(path);
    let canonical = std::fs::canonicalize(path).ok();
    // A record that cannot be read names no file; it must not stop every gen.
    for state in LabState::all()?.into_iter().flatten() {
        let same = state.file == target
            || canonical.is_some() && std::fs::canonicalize(&state.file).ok() == canonical;
        if !same {
            continue;
        }
        let diagnosis = Diagnosis::of_record(&state);
        return Err(LifecycleError::FileInUse {
            path: target,
            summary: diagnosis.summary(),
            fix: as_root(&format!("cnilab destroy --name {}", state.lab)),
            lab: state.lab,
        });
    }
    Ok(())
}

/// Every lab cnilab recorded, judged now, and the records that could not be read.
pub fn list() -> Result<(Vec<Diagnosis>, Vec<RuntimeError>), LifecycleError> {
    let (mut labs, mut broken) = (Vec::new(), Vec::new());
    for record in LabState::all()? {
        match record {
            Ok(state) => labs.push(Diagnosis::of_record(&state)),
            Err(e) => broken.push(e),
        }
    }
    Ok((labs, broken))
}

/// `inspect --all` as a table: one lab a line.
pub fn table(labs: &[Diagnosis]) -> String {
    if labs.is_empty() {
        return format!(
            "no lab is recorded (cnilab records the labs it deploys in {})\n",
            crate::runtime::state::dir().display()
        );
    }
    let rows: Vec<[String; 5]> = labs
        .iter()
        .map(|d| {
            [
                d.lab.clone(),
                d.runtime.map_or("?".into(), |r| r.to_string()),
                format!("{}/{}", d.nodes_up, d.nodes),
                condition_word(&d.condition).to_string(),
                d.file.display().to_string(),
            ]
        })
        .collect();
    let titles = ["LAB", "RUNTIME", "NODES", "STATE", "FILE"].map(String::from);
    let all: Vec<[String; 5]> = std::iter::once(titles).chain(rows).collect();
    crate::layout::table(&all, 2, crate::layout::Align::Left)
}

fn condition_word(c: &Condition) -> &'static str {
    match c {
        Condition::Absent => "gone",
        Condition::Up => "up",
        Condition::DeployRunning { .. } => "deploy-running",
        Condition::DeployKilled { .. } => "deploy-killed",
        Condition::Damaged { .. } => "damaged",
        Condition::Unrecorded { .. } => "unrecorded",
    }
}
