//! The one deploy sequence both runtimes share: preflight, the already-up check, the record
//! written before anything exists, the build, then commit or roll back. Each runtime supplies
//! only its own steps ([`Runtime`]); the order, the rollback and the rule "remove the record
//! only after a clean teardown" live here, once.

use super::error::TeardownError;
use super::state::{self, LabState, Phase};
use super::{DeployOptions, LabFile, Runtime, RuntimeError};
use crate::interrupt;

/// Deploys `lab` all or nothing: on any failure, whatever was made is torn down again, and the
/// deploy's own error stays the headline.
pub(super) fn deploy<R: Runtime>(
    rt: &R,
    lab: &LabFile,
    opts: &DeployOptions,
) -> Result<(), RuntimeError> {
    let plan = rt.preflight(lab)?;
    ensure_not_up(rt, lab, &plan)?;
    let made = rt.will_make(lab, &plan);
    let mut state = LabState {
        lab: lab.topo.name.clone(),
        runtime: R::KIND,
        file: lab.abs_path(),
        phase: Phase::Deploying,
        namespaces: made.namespaces,
        bridges: made.bridges,
        deployer: crate::sys::pid::ProcessId::this(),
    };
    // Recorded before anything exists: a crash from here on leaves a record that destroy can
    // follow.
    state.create().map_err(|e| already_up_or(lab, e))?;
    let built = rt.build(lab, &plan, opts).and_then(|()| check_interrupt());
    // A Ctrl-C kills the children too; whatever error that causes, it is an interrupt.
    let built = match built {
        Err(_) if interrupt::requested() => Err(RuntimeError::Interrupted),
        other => other,
    };
    let committed = built.and_then(|()| {
        state.phase = Phase::Up;
        state.save()
    });
    committed.map_err(|cause| rollback(rt, lab, &state, cause))
}

/// Destroys what `state` recorded.
pub(super) fn destroy<R: Runtime>(
    rt: &R,
    lab: &LabFile,
    state: &LabState,
) -> Result<(), RuntimeError> {
    match teardown(rt, lab, state) {
        errors if errors.is_empty() => Ok(()),
        errors => Err(RuntimeError::Teardown { errors }),
    }
}

/// Undoes a failed deploy; the deploy's own error stays the headline.
fn rollback<R: Runtime>(
    rt: &R,
    lab: &LabFile,
    state: &LabState,
    cause: RuntimeError,
) -> RuntimeError {
    match teardown(rt, lab, state) {
        errors if errors.is_empty() => cause,
        errors => RuntimeError::RollbackFailed {
            cause: Box::new(cause),
            errors,
        },
    }
}

/// The runtime's teardown, then the record; the record goes only once everything else is gone,
/// so a teardown that failed half-way can be run again.
fn teardown<R: Runtime>(rt: &R, lab: &LabFile, state: &LabState) -> Vec<TeardownError> {
    let mut errors = rt.teardown(lab, state);
    if errors.is_empty() {
        errors.extend(LabState::remove(&state.lab).err());
    }
    errors
}

/// A lab is up if cnilab recorded it, or if the runtime finds signs of it.
fn ensure_not_up<R: Runtime>(rt: &R, lab: &LabFile, plan: &R::Plan) -> Result<(), RuntimeError> {
    let up = |why: String| RuntimeError::AlreadyUp {
        lab: lab.topo.name.clone(),
        file: lab.path.clone(),
        why,
    };
    if let Some(s) = LabState::load(&lab.topo.name)? {
        return Err(up(format!(
            "{} records it (deployed with the {} runtime from {})",
            state::path(&lab.topo.name).display(),
            s.runtime,
            s.file.display()
        )));
    }
    match rt.found_up(lab, plan)? {
        Some(why) => Err(up(why)),
        None => Ok(()),
    }
}

/// A record that appeared between the check and its creation means a deploy raced us.
fn already_up_or(lab: &LabFile, e: RuntimeError) -> RuntimeError {
    match e {
        RuntimeError::State { source, .. }
            if source.kind() == std::io::ErrorKind::AlreadyExists =>
        {
            RuntimeError::AlreadyUp {
                lab: lab.topo.name.clone(),
                file: lab.path.clone(),
                why: "another deploy of it is running or finished".into(),
            }
        }
        e => e,
    }
}

fn check_interrupt() -> Result<(), RuntimeError> {
    if interrupt::requested() {
        Err(RuntimeError::Interrupted)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Made, NodeState, RuntimeKind};
    use super::*;
    use std::cell::RefCell;

    /// A runtime whose build and teardown fail on demand, and which counts what it was asked.
    struct Scripted {
        build_fails: bool,
        teardown_fails: bool,
        calls: RefCell<Vec<&'static str>>,
    }

    impl Runtime for Scripted {
        type Plan = ();
        const KIND: RuntimeKind = RuntimeKind::Netns;
        fn preflight(&self, _: &LabFile) -> Result<(), RuntimeError> {
            self.calls.borrow_mut().push("preflight");
            Ok(())
        }
        fn found_up(&self, _: &LabFile, _: &()) -> Result<Option<String>, RuntimeError> {
            Ok(None)
        }
        fn will_make(&self, _: &LabFile, _: &()) -> Made {
            Made::default()
        }
        fn build(&self, lab: &LabFile, _: &(), _: &DeployOptions) -> Result<(), RuntimeError> {
            self.calls.borrow_mut().push("build");
            assert!(
                state::path(&lab.topo.name).exists(),
                "recorded before the build"
            );
            if self.build_fails {
                return Err(RuntimeError::Setup {
                    step: "building".into(),
                    detail: "scripted".into(),
                });
            }
            Ok(())
        }
        fn teardown(&self, _: &LabFile, _: &LabState) -> Vec<TeardownError> {
            self.calls.borrow_mut().push("teardown");
            if self.teardown_fails {
                vec![TeardownError::HostBridge {
                    bridge: "b".into(),
                    stderr: "scripted".into(),
                }]
            } else {
                Vec::new()
            }
        }
        fn destroy_unrecorded(&self, _: &LabFile) -> Result<(), RuntimeError> {
            Ok(())
        }
        fn status(&self, _: &LabFile, _: &str) -> NodeState {
            NodeState::Missing
        }
    }

    /// A lab with no nodes whose record is removed even when the test fails.
    struct Scratch(LabFile);

    impl std::ops::Deref for Scratch {
        type Target = LabFile;
        fn deref(&self) -> &LabFile {
            &self.0
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(state::path(&self.0.topo.name));
        }
    }

    fn lab(tag: &str) -> Scratch {
        let name = format!("txn{tag}{}", std::process::id());
        let path = format!("/nonexistent/{name}.yaml");
        let text = format!("name: {name}\ntopology:\n  nodes: {{}}\n");
        let topo = crate::topology::Topology::parse(&text).unwrap();
        Scratch(LabFile::new(std::path::Path::new(&path), topo))
    }

    fn scripted(build_fails: bool, teardown_fails: bool) -> Scripted {
        Scripted {
            build_fails,
            teardown_fails,
            calls: RefCell::new(Vec::new()),
        }
    }

    fn needs_root() {
        assert!(
            nix::unistd::geteuid().is_root(),
            "this test writes under {} and must run as root",
            state::STATE_DIR
        );
    }

    #[test]
    fn a_failed_build_rolls_back_and_keeps_its_own_error() {
        needs_root();
        let (lab, rt) = (lab("a"), scripted(true, false));
        let err = deploy(&rt, &lab, &DeployOptions::default()).unwrap_err();
        assert!(matches!(err, RuntimeError::Setup { .. }), "{err}");
        assert_eq!(*rt.calls.borrow(), ["preflight", "build", "teardown"]);
        assert!(!state::path(&lab.topo.name).exists());
    }

    #[test]
    fn the_record_stays_until_a_teardown_is_clean() {
        needs_root();
        let (lab, rt) = (lab("b"), scripted(true, true));
        let err = deploy(&rt, &lab, &DeployOptions::default()).unwrap_err();
        let RuntimeError::RollbackFailed { cause, errors } = &err else {
            panic!("not a rollback failure: {err}");
        };
        assert!(matches!(**cause, RuntimeError::Setup { .. }));
        assert!(matches!(errors[..], [TeardownError::HostBridge { .. }]));
        let recorded = LabState::load(&lab.topo.name).unwrap().expect("kept");
        let err = destroy(&rt, &lab, &recorded).unwrap_err();
        assert!(matches!(err, RuntimeError::Teardown { .. }), "{err}");
        assert!(state::path(&lab.topo.name).exists());
        destroy(&scripted(false, false), &lab, &recorded).unwrap();
        assert!(!state::path(&lab.topo.name).exists());
    }

    #[test]
    fn a_recorded_lab_is_refused_before_preflight_builds_anything() {
        needs_root();
        let (lab, rt) = (lab("c"), scripted(false, false));
        deploy(&rt, &lab, &DeployOptions::default()).unwrap();
        let again = scripted(false, false);
        let err = deploy(&again, &lab, &DeployOptions::default()).unwrap_err();
        assert!(matches!(err, RuntimeError::AlreadyUp { .. }), "{err}");
        assert_eq!(*again.calls.borrow(), ["preflight"]);
        destroy(&rt, &lab, &LabState::load(&lab.topo.name).unwrap().unwrap()).unwrap();
        assert!(!state::path(&lab.topo.name).exists());
    }
}
