//! This machine's name, as run locks and working directories record it: hosts that share a
//! destination tell their own leftovers from another's by it.

/// The kernel's host name, or `this-host` when it cannot be read.
pub fn name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "this-host".into())
}

/// This machine as a file name's part: its host name, and the start of its machine id when it
/// has one (cloned machines and containers often share a host name). Anything but letters,
/// digits, `.` and `_` becomes `_` (a `-` separates the name from the pid that follows it).
pub fn file_part() -> String {
    let id = std::fs::read_to_string("/etc/machine-id")
        .ok()
        .map(|id| id.trim().chars().take(8).collect::<String>())
        .filter(|id| !id.is_empty());
    match id {
        Some(id) => format!("{}_{}", name_part(), plain(&id)),
        None => name_part(),
    }
}

/// The host name alone, as acc releases before the machine id named their directories.
pub fn name_part() -> String {
    plain(&name())
}

fn plain(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Whether a process of this host with that id is running (another run of acc on this host,
/// with a run lock of its own, may be at work beside this one).
pub fn process_alive(pid: u32) -> bool {
    pid == std::process::id() || std::path::Path::new(&format!("/proc/{pid}")).exists()
}
