//! How much memory this process may use: the machine's (`MemTotal`), or less where a control
//! group limits it (a container, a `systemd` unit with `MemoryMax=`, a batch job); and how much
//! of what it maps it has had to wait for from disk ([`major_faults`]).
//!
//! The writer places its address index from this figure and from the anonymous memory it already
//! holds ([`anonymous_now`]; `crate::column::ScratchTable`). Reading only `/proc/meminfo` would
//! put a 1 GiB table in anonymous memory inside a 512 MiB container on a 24 GiB host, and the
//! kernel would kill the ingest (measured: `docs/performance-history.md`, "Under a memory limit").

use std::path::{Path, PathBuf};

/// Bytes of memory available to this process: the smallest of `MemTotal` and the memory limits
/// of its control group and that group's ancestors (cgroup v2 `memory.max`, v1
/// `memory.limit_in_bytes`); 0 where `MemTotal` cannot be read.
pub(crate) fn available() -> u64 {
    static AVAILABLE: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        let total = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|meminfo| mem_total(&meminfo))
            .unwrap_or(0);
        let cgroups = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        let limit = cgroup_limit(&cgroups, Path::new("/sys/fs/cgroup"), |path| {
            std::fs::read_to_string(path).ok()
        });
        limit.map_or(total, |limit| limit.min(total))
    })
}

/// Bytes of anonymous memory this process holds now (`RssAnon` of `/proc/self/status`); 0 where
/// that cannot be read.
pub(crate) fn anonymous_now() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| kib_field(&status, "RssAnon:"))
        .unwrap_or(0)
}

/// Major page faults of this process so far (`majflt` of `/proc/self/stat`): faults that had to
/// read from disk. 0 where that file cannot be read.
pub(crate) fn major_faults() -> u64 {
    std::fs::read_to_string("/proc/self/stat")
        .map_or(0, |stat| stat_major_faults(&stat).unwrap_or(0))
}

/// `majflt` of a `/proc/PID/stat` line (proc(5)): field 12, counting the command name, which is
/// in parentheses and may itself hold spaces and parentheses, as field 2.
fn stat_major_faults(stat: &str) -> Option<u64> {
    let (_, after_name) = stat.rsplit_once(')')?;
    // After the name: state (field 3), ppid, pgrp, session, tty_nr, tpgid, flags, minflt,
    // cminflt, majflt (field 12).
    after_name.split_whitespace().nth(9)?.parse().ok()
}

/// `MemTotal` of a `/proc/meminfo` text, in bytes.
fn mem_total(meminfo: &str) -> Option<u64> {
    kib_field(meminfo, "MemTotal:")
}

/// The value of the line `name  N kB` of a `/proc` text, in bytes.
fn kib_field(text: &str, name: &str) -> Option<u64> {
    let kib = text
        .lines()
        .find_map(|line| line.strip_prefix(name))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse::<u64>()
        .ok()?;
    kib.checked_mul(1024)
}

/// The smallest memory limit on the path of control groups named in `proc_self_cgroup` (the text
/// of `/proc/self/cgroup`), read through `read` from the hierarchy mounted at `root`; `None`
/// when no group on the path has a limit.
///
/// cgroup v2 (line `0::/path`): `root/path/memory.max`, `max` meaning none. cgroup v1 (a line
/// whose controllers include `memory`): `root/memory/path/memory.limit_in_bytes`, where "no
/// limit" is a huge number that the `min` with `MemTotal` discards. Ancestors are read too:
/// their limits bind the group's processes as well. Inside a container the group is usually `/`
/// of a namespace whose own limit is the mounted root's file, which is read last.
fn cgroup_limit(
    proc_self_cgroup: &str,
    root: &Path,
    read: impl Fn(&Path) -> Option<String>,
) -> Option<u64> {
    let mut smallest: Option<u64> = None;
    for line in proc_self_cgroup.lines() {
        let mut fields = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let (base, file): (PathBuf, &str) = if controllers.is_empty() {
            (root.to_path_buf(), "memory.max")
        } else if controllers.split(',').any(|name| name == "memory") {
            (root.join("memory"), "memory.limit_in_bytes")
        } else {
            continue;
        };
        let mut group = Path::new(path.trim());
        loop {
            let relative = group.strip_prefix("/").unwrap_or(group);
            let limit = read(&base.join(relative).join(file))
                .and_then(|text| text.trim().parse::<u64>().ok());
            if let Some(limit) = limit {
                smallest = Some(smallest.map_or(limit, |current| current.min(limit)));
            }
            match group.parent() {
                Some(parent) => group = parent,
                None => break,
            }
        }
    }
    smallest
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn files(entries: &[(&str, &str)]) -> impl Fn(&Path) -> Option<String> + use<> {
        let map: HashMap<PathBuf, String> =
            entries.iter().map(|(path, text)| (PathBuf::from(path), (*text).to_owned())).collect();
        move |path: &Path| map.get(path).cloned()
    }

    #[test]
    fn major_faults_are_read_past_a_name_with_spaces_and_parentheses() {
        let stat = "4242 (my (odd) name) R 1 4242 4242 0 -1 4194304 1234 0 567 0 10 5 0 0 20 0 3 0";
        assert_eq!(stat_major_faults(stat), Some(567));
        assert_eq!(stat_major_faults("4242 (cut) R 1 2"), None);
        assert_eq!(stat_major_faults("no name at all"), None);
        // This process's own line parses (the count itself depends on the machine).
        let own = std::fs::read_to_string("/proc/self/stat");
        if let Ok(own) = own {
            assert!(stat_major_faults(&own).is_some(), "{own}");
        }
    }

    #[test]
    fn mem_total_is_read_in_bytes() {
        let meminfo = "MemTotal:       24634512 kB\nMemFree:        18000000 kB\n";
        assert_eq!(mem_total(meminfo), Some(24_634_512 * 1024));
        assert_eq!(mem_total("MemFree: 1 kB\n"), None);
        assert_eq!(mem_total("MemTotal: lots\n"), None);
    }

    #[test]
    fn rss_anon_is_read_in_bytes() {
        let status = "Name:\tcointrail\nRssAnon:\t  393216 kB\nRssFile:\t  1024 kB\n";
        assert_eq!(kib_field(status, "RssAnon:"), Some(393_216 * 1024));
        assert_eq!(kib_field(status, "RssShmem:"), None);
    }

    #[test]
    fn a_cgroup_v2_limit_binds_and_max_means_none() {
        let root = Path::new("/sys/fs/cgroup");
        let read = files(&[
            ("/sys/fs/cgroup/system.slice/job.service/memory.max", "536870912\n"),
            ("/sys/fs/cgroup/system.slice/memory.max", "max\n"),
        ]);
        assert_eq!(cgroup_limit("0::/system.slice/job.service\n", root, &read), Some(536_870_912));
        assert_eq!(cgroup_limit("0::/system.slice\n", root, &read), None);
        assert_eq!(cgroup_limit("0::/user.slice\n", root, &read), None, "no files: no limit");
    }

    #[test]
    fn an_ancestors_smaller_limit_binds_the_group() {
        let root = Path::new("/sys/fs/cgroup");
        let read = files(&[
            ("/sys/fs/cgroup/batch/memory.max", "1073741824"),
            ("/sys/fs/cgroup/batch/job/memory.max", "4294967296"),
        ]);
        assert_eq!(cgroup_limit("0::/batch/job", root, &read), Some(1_073_741_824));
    }

    #[test]
    fn a_cgroup_v1_memory_controller_is_found_among_the_others() {
        let root = Path::new("/sys/fs/cgroup");
        let proc_self_cgroup = "9:name=systemd:/\n8:pids:/\n4:cpu,memory:/process_api/abc\n0::/\n";
        let read = files(&[
            ("/sys/fs/cgroup/memory/process_api/abc/memory.limit_in_bytes", "301989888\n"),
            ("/sys/fs/cgroup/memory/process_api/memory.limit_in_bytes", "9223372036854771712\n"),
            ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n"),
        ]);
        assert_eq!(cgroup_limit(proc_self_cgroup, root, &read), Some(301_989_888));
        // Unlimited v1 groups report a huge number; `available` takes the smaller MemTotal.
        assert_eq!(
            cgroup_limit("4:memory:/process_api", root, &read),
            Some(9_223_372_036_854_771_712)
        );
    }

    #[test]
    fn malformed_lines_and_values_are_skipped() {
        let root = Path::new("/sys/fs/cgroup");
        let read = files(&[("/sys/fs/cgroup/memory.max", "garbage")]);
        assert_eq!(cgroup_limit("no colons here\n0::/\n", root, &read), None);
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn this_process_has_some_memory() {
        assert!(available() > 0, "MemTotal is readable on Linux");
        let held = std::hint::black_box(vec![1u8; 64 << 20]);
        assert!(anonymous_now() >= 64 << 20, "RssAnon counts a touched 64 MiB vector");
        drop(held);
    }
}
