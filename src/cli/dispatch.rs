//! Each command, run: the one match that picks a command, and a function per command.

use super::args::*;
use super::exclusive::{Activity, Exclusive};
use super::{emit, stderr_is_terminal, to_json, Error};
use crate::gen::{self, Destination, GenRequest};
use crate::lab::file::LabFile;
use crate::lifecycle;
use crate::plan::{Flavor, Mode};
use crate::runtime::{self, DeployOptions, ExecStrategy, RuntimeKind};
use crate::verify::{self, export, VerifyOptions};
use clap::CommandFactory;
use std::path::{Path, PathBuf};

/// Runs one command; its exit code, or the error that stopped it.
pub(super) fn dispatch(command: Command) -> Result<i32, Error> {
    match command {
        Command::Gen {
            shape,
            output,
            force,
        } => gen_lab(&shape, &output, force),
        Command::Deploy {
            topo,
            runtime,
            exec_per_line,
            raise_neigh_limits,
            exec,
        } => deploy_lab(&topo, runtime, exec_per_line, raise_neigh_limits, &exec),
        Command::Destroy {
            topo,
            name,
            all,
            runtime,
        } => destroy(&topo, name, all, runtime),
        Command::Inspect {
            json, all: true, ..
        } => inspect_all(json),
        Command::Inspect { topo, json, .. } => inspect(&topo, json),
        Command::Verify { topo, verify } => {
            verify_and_report(&LabFile::load_running(&topo.file)?, &verify)
        }
        Command::Up(up) => up_lab(up),
        Command::Templates { export, force } => templates(&export, force),
        Command::Label {
            topo,
            output,
            force,
        } => label(&topo.file, output, force),
        Command::Graph {
            topo,
            format,
            output,
        } => {
            let text = crate::graph::draw_file(&topo.file, format)?;
            crate::graph::write(&text, &output)?;
            Ok(0)
        }
        Command::Trace {
            topo,
            from,
            to,
            family,
            cold,
            json,
            pcap,
            format,
            converge,
            no_wait,
        } => trace(
            &topo,
            crate::trace::TraceOptions {
                from,
                to,
                family,
                cold,
                pcap_dir: pcap,
            },
            (json, format),
            converge,
            no_wait,
        ),
        Command::Bench(args) => bench(args),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "cnilab", &mut std::io::stdout());
            Ok(0)
        }
    }
}

fn gen_lab(shape: &LabShape, output: &Path, force: bool) -> Result<i32, Error> {
    let generated = gen::generate_all(&GenRequest {
        mode: shape.mode,
        flavor: shape.flavor,
        hosts: shape.hosts,
        pods_per_host: shape.pods_per_host,
        lab: shape.name.as_deref(),
        underlay: shape.underlay,
        routing: shape.routing,
        direct_routing: shape.hybrid.direct_routing,
        cross_subnet: shape.hybrid.cross_subnet,
        encryption: shape.encryption,
        ip_family: shape.ip_family,
        templates: shape.templates.as_deref(),
        services: shape.services.spec(),
    })?;
    write_topology(&generated, output, force, true)?;
    Ok(0)
}

fn deploy_lab(
    topo: &TopologyArg,
    runtime: RuntimeKind,
    per_line: bool,
    raise_neigh_limits: bool,
    exec: &ExecArgs,
) -> Result<i32, Error> {
    let file = LabFile::load(&topo.file)?;
    neigh_limits(&file, raise_neigh_limits, false)?;
    let strategy = match per_line {
        true => ExecStrategy::PerLine,
        false => ExecStrategy::Batched,
    };
    eprintln!("{}", deploy(&file, runtime, strategy, exec)?);
    Ok(0)
}

fn destroy(
    topo: &TopologyArg,
    name: Option<String>,
    all: bool,
    runtime: Option<RuntimeKind>,
) -> Result<i32, Error> {
    let line = match (all, name) {
        (true, _) => lifecycle::destroy_all()?,
        (false, Some(name)) => lifecycle::destroy_name(&name)?,
        (false, None) => lifecycle::destroy_file(&topo.file, runtime)?,
    };
    eprintln!("{line}");
    let left = crate::runtime::state::LabState::all().map_or(1, |labs| labs.len());
    for restored in crate::neigh_limits::restore_if_last(left)? {
        eprintln!("{restored}");
    }
    Ok(0)
}

fn inspect_all(json: bool) -> Result<i32, Error> {
    let (labs, broken) = lifecycle::list()?;
    for e in &broken {
        eprintln!("cnilab: {e}");
    }
    match json {
        true => emit(&format!("{}\n", to_json(&labs))),
        false => emit(&lifecycle::table(&labs)),
    }
    Ok(0)
}

fn inspect(topo: &TopologyArg, json: bool) -> Result<i32, Error> {
    let inspection = runtime::inspect(&LabFile::load(&topo.file)?)?;
    match json {
        true => emit(&format!("{}\n", to_json(&inspection))),
        false => emit(&inspection.to_string()),
    }
    Ok(0)
}

/// Generates the lab (or takes -t FILE), deploys it and verifies it; the lab stays up.
fn up_lab(up: UpArgs) -> Result<i32, Error> {
    let path = match (&up.file, up.mode, up.hosts) {
        (Some(_), _, _) if up.services.services > 0 => {
            return Err(Error::Usage(
                "--services generates a lab: give --mode and --hosts, not -t FILE".into(),
            ))
        }
        (Some(file), _, _) => file.clone(),
        (None, Some(mode), Some(hosts)) => generate_for_up(&up, mode, hosts)?,
        _ => {
            return Err(Error::Usage(
                "up needs either --mode and --hosts, or -t FILE".into(),
            ))
        }
    };
    if let Some(dir) = &up.verify.pcap {
        lifecycle::check_pcap_dir(dir)?;
    }
    let mut file = LabFile::load(&path)?;
    let line = deploy(&file, up.runtime, ExecStrategy::Batched, &up.exec)?;
    file.read_running();
    // The lab stays up whatever verify says, so the line on how to use it comes last.
    let verified = verify_and_report(&file, &up.verify);
    eprintln!("{line}");
    verified
}

/// Writes the lab `up` was asked to build; returns where.
fn generate_for_up(up: &UpArgs, mode: Mode, hosts: usize) -> Result<PathBuf, Error> {
    let generated = gen::generate_all(&GenRequest {
        mode,
        flavor: up.flavor.unwrap_or(Flavor::Article),
        hosts,
        pods_per_host: up.pods_per_host.unwrap_or(1),
        lab: up.name.as_deref(),
        underlay: up.underlay,
        routing: up.routing.unwrap_or_default(),
        direct_routing: up.hybrid.direct_routing,
        cross_subnet: up.hybrid.cross_subnet,
        encryption: up.encryption.unwrap_or_default(),
        ip_family: Default::default(),
        templates: up.templates.as_deref(),
        services: up.services.spec(),
    })?;
    if up.output == Path::new("-") {
        return Err(Error::Usage(
            "up needs a file to deploy: -o - is not allowed here".into(),
        ));
    }
    write_topology(&generated, &up.output, up.force, false)?;
    Ok(up.output.clone())
}

/// Writes the file at `path` again with the labels its plan was inferred as.
fn label(path: &Path, output: PathBuf, force: bool) -> Result<i32, Error> {
    use crate::lab::infer::label_text;
    let (topo, text) = crate::topology::Topology::load_with_text(path)?;
    let file = LabFile::new_running(path, topo);
    let inference = match (&file.inferred, file.lab()) {
        (Some(inference), Ok(_)) => inference,
        (None, Ok(_)) => {
            return Err(Error::Usage(format!(
                "{}: the file carries cnilab labels already; verify reads them as they are",
                path.display()
            )))
        }
        (_, Err(e)) => return Err(Error::Usage(format!("{}: {e}", path.display()))),
    };
    let labelled = label_text::with_labels(&text, inference)
        .map_err(|e| Error::Usage(format!("{}: {e}", path.display())))?;
    let dest = destination(output.clone(), force);
    gen::write(&labelled, &dest)?;
    let next = match output == Path::new("-") {
        true => String::new(),
        false => format!(
            "; wrote {}; check it, then: {}",
            output.display(),
            runtime::diagnose::as_root(&format!("cnilab verify -t {}", output.display()))
        ),
    };
    eprintln!("plan inferred: {}{next}", inference.summary);
    Ok(0)
}

fn templates(export: &Path, force: bool) -> Result<i32, Error> {
    let written = crate::render::export(export, force)?;
    eprintln!(
        "wrote {} templates into {}; next: edit them, then `cnilab gen --mode vxlan --hosts 3 --templates {}`",
        written.len(),
        std::path::absolute(export).unwrap_or(export.to_path_buf()).display(),
        export.display()
    );
    Ok(0)
}

fn trace(
    topo: &TopologyArg,
    opts: crate::trace::TraceOptions,
    (json, format): (bool, crate::trace::Format),
    converge: ConvergeArg,
    no_wait: bool,
) -> Result<i32, Error> {
    let file = LabFile::load_running(&topo.file)?;
    let to_service = crate::trace::names_service(&file, &opts.to);
    if to_service && !json && format != crate::trace::Format::Text {
        return Err(Error::Usage(
            "--format svg and mermaid draw walks between pods; a walk through a Service prints as text or --json".into(),
        ));
    }
    // A pod that is not in the lab is a mistake in the command, whatever state the lab is in.
    if !to_service {
        crate::trace::endpoints(&file, &opts)?;
    }
    // Checked before the lock too, so a lab that is not up leaves no lock file behind; and
    // again under it, since the lab may change while the run waits.
    lifecycle::ready_to_probe(&file)?;
    let run = Exclusive::take(&file, Activity::Trace, no_wait)?;
    lifecycle::ready_to_probe(&file)?;
    // A walk taken before the routing daemons agree would only show how far they got.
    run.finish(crate::runtime::converge::wait_for_file(
        &file,
        converge.timeout(),
    ))?;
    if to_service {
        let walk = run.finish(crate::trace::trace_service(&file, &opts))?;
        match json {
            true => emit(&format!("{}\n", to_json(&walk))),
            false => emit(&crate::trace::service::text(&walk)),
        }
        return Ok(if walk.replied { 0 } else { 1 });
    }
    let walk = run.finish(crate::trace::trace(&file, &opts))?;
    match json {
        true => emit(&format!("{}\n", to_json(&walk))),
        false => emit(&crate::trace::present(&walk, format)?),
    }
    Ok(if walk.completed() { 0 } else { 1 })
}

fn bench(args: BenchArgs) -> Result<i32, Error> {
    if let Some(path) = &args.plot {
        crate::bench::plot::Format::of(path).map_err(Error::Usage)?;
    }
    let modes: Vec<Mode> = args.modes.to_vec();
    let flavors: Vec<Flavor> = args.flavors.to_vec();
    let named = (!modes.is_empty()).then_some(modes.as_slice());
    let combos =
        crate::bench::selection::select(named, &flavors).map_err(crate::bench::BenchError::from)?;
    let combos = crate::bench::selection::with_encryption(&combos, args.encryption);
    let opts = crate::bench::BenchOptions {
        combos,
        ip_family: args.ip_family,
        topo: args.file,
        name_prefix: args.name,
        duration_s: args.duration,
        repeat: args.repeat,
        streams: args.streams,
        offload: args.offload == OffloadArg::On,
        converge_timeout: args.converge.timeout(),
    };
    // A lab the user brought is held like verify holds it; bench's own labs are its alone.
    let run = match &opts.topo {
        Some(path) => Some(Exclusive::take(
            &LabFile::load(path)?,
            Activity::Bench,
            args.no_wait,
        )?),
        None => None,
    };
    let report = match &run {
        Some(run) => run.finish(crate::bench::run(&opts))?,
        None => crate::bench::run(&opts)?,
    };
    if let Some(path) = &args.plot {
        crate::bench::plot::write(&report, path)?;
    }
    if args.json {
        emit(&format!("{}\n", to_json(&report)));
    } else {
        emit(&report.table());
    }
    Ok(0)
}

fn destination(output: PathBuf, force: bool) -> Destination {
    if output == Path::new("-") {
        Destination::Stdout
    } else {
        Destination::File {
            path: output,
            force,
        }
    }
}

/// Writes a rendered topology where `-o` says, never over the file of a lab that is up, and
/// says what it wrote and what to do next.
fn write_topology(
    generated: &gen::Generated,
    output: &Path,
    force: bool,
    announce: bool,
) -> Result<(), Error> {
    let dest = destination(output.to_path_buf(), force);
    if let Destination::File { path, .. } = &dest {
        lifecycle::check_not_in_use(path)?;
    }
    gen::write_beside(generated, &dest)?;
    gen::write(&generated.text, &dest)?;
    if let (Destination::File { path, .. }, true) = (&dest, announce) {
        let abs = std::path::absolute(path).unwrap_or(path.clone());
        eprintln!(
            "wrote {}; next: {}",
            abs.display(),
            runtime::diagnose::as_root(&format!("cnilab deploy -t {}", abs.display()))
        );
    }
    Ok(())
}

/// Deploys and returns the summary line.
fn deploy(
    file: &LabFile,
    kind: RuntimeKind,
    strategy: ExecStrategy,
    exec: &ExecArgs,
) -> Result<String, Error> {
    if exec.exec_on_host && kind == RuntimeKind::Netns {
        eprintln!(
            "cnilab: warning: --exec-on-host: exec lines run as root on this machine, with \
             nothing but their network namespace apart; use it only for a file you trust"
        );
    }
    let opts = DeployOptions {
        progress: stderr_is_terminal(),
        exec: strategy,
        exec_timeout: std::time::Duration::from_secs(exec.exec_timeout),
        exec_on_host: exec.exec_on_host,
    };
    Ok(lifecycle::deploy(file, kind, &opts)?)
}

/// Says, in one line before anything starts, when the lab needs more neighbour entries than
/// the kernel allows, or raises the cap with `raise`. A lab already `deployed` holds some of
/// the entries in use: they are its own, not counted twice. A file that does not load is left
/// to the command itself to report.
fn neigh_limits(file: &LabFile, raise: bool, deployed: bool) -> Result<(), Error> {
    let Ok(lab) = file.lab() else {
        return Ok(());
    };
    for family in lab.families() {
        let own = || match deployed {
            true => crate::neigh_limits::held_by(family, lab.namespaces()),
            false => 0,
        };
        let hosts = lab.hosts.len();
        if let Some(line) = crate::neigh_limits::check(family, hosts, own, raise)? {
            eprintln!("cnilab: {line}");
        }
    }
    Ok(())
}

/// Says once, before a long cold proof starts, what it will cost and how to avoid the floods.
fn cold_cost_hint(file: &LabFile) {
    let Ok(lab) = file.lab() else {
        return;
    };
    let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
    let backlog = crate::verify::schedule::backlog_queue();
    if let Some(line) = crate::verify::cold_cost::hint(lab, cpus, backlog) {
        eprintln!("cnilab: {line}");
    }
}

fn verify_and_report(file: &LabFile, args: &VerifyArgs) -> Result<i32, Error> {
    // Both checked before any probing, so a bad folder or a half lab wastes nothing.
    if let Some(dir) = &args.pcap {
        lifecycle::check_pcap_dir(dir)?;
    }
    let targets = export::Targets {
        html: args.html.clone(),
        junit: args.junit.clone(),
    };
    targets.check(&file.path).map_err(target_error)?;
    // Checked before the lock too, so a lab that is not up leaves no lock file behind; and
    // again under it, since the lab may change while the run waits.
    lifecycle::ready_to_probe(file)?;
    let run = Exclusive::take(file, Activity::Verify, args.no_wait)?;
    lifecycle::ready_to_probe(file)?;
    neigh_limits(file, false, true)?;
    if !args.warm {
        cold_cost_hint(file);
    }
    let opts = VerifyOptions {
        pcap_dir: args.pcap.clone(),
        progress: stderr_is_terminal() && !args.json,
        warm: args.warm,
        max_loss: args.max_loss / 100.0,
        pairs: args.pairs,
        transports: transports(&args.proto),
        converge_timeout: Some(args.converge.timeout()),
        capture_ring: args.capture_ring_kib.map(|kib| kib as usize * 1024),
        strict: args.strict,
    };
    let report = run.finish(verify::verify(file, &opts))?;
    if args.json {
        emit(&format!("{}\n", to_json(&report.for_json())));
    } else {
        let style = verify::report::Style {
            color: std::io::IsTerminal::is_terminal(&std::io::stdout())
                && !std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
            failed_only: args.failed_only,
            ..Default::default()
        };
        emit(&report.table(&style));
    }
    write_exports(file, &report, &targets)?;
    Ok(if report.passed() { 0 } else { 1 })
}

/// A report file that cannot be written is the caller's to fix, like a bad --pcap folder.
fn target_error(e: export::TargetError) -> Error {
    match e {
        export::TargetError::Output(e) => Error::Output(e),
        other => Error::Usage(other.to_string()),
    }
}

/// Writes the files --html and --junit ask for, once the report is printed.
fn write_exports(
    file: &LabFile,
    report: &verify::Report,
    targets: &export::Targets,
) -> Result<(), Error> {
    let lab = file.lab().map_err(verify::VerifyError::from)?;
    if let Some(path) = &targets.html {
        let graph = crate::graph::LabGraph::from_topology(&file.topo, lab);
        let page = export::html::render(report, lab, &graph);
        crate::output::write_atomically(path, &page, true)?;
        eprintln!("html: {} (open it in a browser)", path.display());
    }
    if let Some(path) = &targets.junit {
        crate::output::write_atomically(path, &export::junit::render(report, lab), true)?;
        eprintln!("junit: {}", path.display());
    }
    Ok(())
}

/// The probes beside ICMP that `--proto` asks for, each once.
fn transports(protos: &[ProbeProto]) -> Vec<verify::transport::Proto> {
    let mut out = Vec::new();
    for (asked, proto) in [
        (ProbeProto::Tcp, verify::transport::Proto::Tcp),
        (ProbeProto::Udp, verify::transport::Proto::Udp),
    ] {
        if protos.contains(&asked) {
            out.push(proto);
        }
    }
    out
}
