//! Finding the processes a test started, by a command line no other test uses.

/// A sleep duration no other test, run or helper uses at the same time, so process checks
/// see only ours.
pub fn unique_sleep() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{}.{}", 4000 + std::process::id() % 1000, nanos % 1_000_000)
}

/// Processes whose command line is exactly `sleep <secs>` (zombies have none).
pub fn sleeps(secs: &str) -> Vec<i32> {
    let want = format!("sleep\0{secs}\0");
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c == want.as_bytes())
        })
        .collect()
}

/// Starts `cnilab deploy` on `lab` and returns once it runs the exec line `sleep <secs>`.
pub fn deploy_stuck_on_a_line(lab: &super::LabGuard, secs: &str) -> std::process::Child {
    let child = std::process::Command::new(super::bin())
        .arg("deploy")
        .arg("-t")
        .arg(&lab.file)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    super::wait_until(
        super::GENEROUS,
        &format!("deploy to run its exec line `sleep {secs}`"),
        || !sleeps(secs).is_empty(),
    );
    child
}
