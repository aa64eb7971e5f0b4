//! `--server-cpu`: each `owp serve` process of a run in a Linux control group of its own, limited
//! to a share of the machine's cores, as a replica on a small machine of its own would be.
//!
//! On one machine the server processes, the database and the load generator share the cores, so a
//! second server process can only add throughput where the cores have time to spare. With every
//! process capped, the processes are the limit and the run shows what a second one adds until the
//! database is.
//!
//! Both cgroup layouts are supported: v2 (`cpu.max` in the unified hierarchy) and v1 (the `cpu`
//! controller's `cpu.cfs_quota_us`). Creating groups needs write access to the hierarchy (root).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};

/// The scheduler period of a group, in µs; the quota is this times the number of cores.
const PERIOD_US: u64 = 100_000;

/// Where groups with a CPU limit can be created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Hierarchy {
    /// The unified hierarchy (cgroup v2) mounted at this path.
    V2(PathBuf),
    /// The `cpu` controller's hierarchy (cgroup v1) mounted at this path.
    V1(PathBuf),
}

impl Hierarchy {
    /// The hierarchy under `mount` (normally `/sys/fs/cgroup`).
    pub(super) fn find(mount: &Path) -> anyhow::Result<Hierarchy> {
        if mount.join("cgroup.controllers").is_file() {
            return Ok(Hierarchy::V2(mount.to_path_buf()));
        }
        for name in ["cpu", "cpu,cpuacct"] {
            let dir = mount.join(name);
            if dir.join("cpu.cfs_quota_us").is_file() {
                return Ok(Hierarchy::V1(dir));
            }
        }
        bail!(
            "--server-cpu needs Linux control groups with the cpu controller under {} \
             (cgroup v2, or v1's cpu hierarchy)",
            mount.display()
        )
    }
}

/// The quota of `cores` per [`PERIOD_US`], in µs (at least 1 ms, the kernel's minimum).
pub(super) fn quota_us(cores: f64) -> u64 {
    ((cores * PERIOD_US as f64).round() as u64).max(1_000)
}

/// One process's group. Removed when dropped (once the process has ended).
#[derive(Debug)]
pub(super) struct CpuCap {
    dir: PathBuf,
}

impl CpuCap {
    /// Creates the group `name` in `hierarchy`, limited to `cores`.
    pub(super) fn create(hierarchy: &Hierarchy, name: &str, cores: f64) -> anyhow::Result<CpuCap> {
        if !(cores.is_finite() && cores > 0.0) {
            bail!("--server-cpu must be a positive number of cores, not {cores}");
        }
        let quota = quota_us(cores);
        let (parent, files) = match hierarchy {
            Hierarchy::V2(root) => (root, vec![("cpu.max", format!("{quota} {PERIOD_US}"))]),
            Hierarchy::V1(root) => (
                root,
                vec![
                    ("cpu.cfs_period_us", PERIOD_US.to_string()),
                    ("cpu.cfs_quota_us", quota.to_string()),
                ],
            ),
        };
        let dir = parent.join(name);
        std::fs::create_dir(&dir).with_context(|| {
            format!(
                "cannot create the control group {} (--server-cpu needs root)",
                dir.display()
            )
        })?;
        let cap = CpuCap { dir };
        if let Hierarchy::V2(root) = hierarchy
            && !cap.dir.join("cpu.max").exists()
        {
            // The controller is not yet enabled for the children of the root.
            write(&root.join("cgroup.subtree_control"), "+cpu")?;
        }
        for (file, value) in files {
            write(&cap.dir.join(file), &value)?;
        }
        Ok(cap)
    }

    /// Moves process `pid` (all its threads) into the group.
    pub(super) fn add(&self, pid: u32) -> anyhow::Result<()> {
        write(&self.dir.join("cgroup.procs"), &pid.to_string())
    }
}

impl Drop for CpuCap {
    fn drop(&mut self) {
        // A group can be removed once its processes have exited; a killed server may take a
        // moment to.
        for _ in 0..100 {
            if std::fs::remove_dir(&self.dir).is_ok() || !self.dir.exists() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!(
            "warning: cannot remove the control group {}",
            self.dir.display()
        );
    }
}

/// The caps of one benchmark run: every claim server process gets a group of its own, limited to
/// the same number of cores.
#[derive(Debug)]
pub(super) struct ServerCpu {
    hierarchy: Hierarchy,
    cores: f64,
    groups: AtomicUsize,
}

impl ServerCpu {
    /// Finds the hierarchy under `mount` and makes (and removes) one group, so a run fails
    /// before it loads a database where groups cannot be made.
    pub(super) fn new(mount: &Path, cores: f64) -> anyhow::Result<ServerCpu> {
        let cpu = ServerCpu {
            hierarchy: Hierarchy::find(mount)?,
            cores,
            groups: AtomicUsize::new(0),
        };
        drop(CpuCap::create(&cpu.hierarchy, &cpu.group_name(), cores)?);
        Ok(cpu)
    }

    /// Puts process `pid` in a new group of its own.
    pub(super) fn cap(&self, pid: u32) -> anyhow::Result<CpuCap> {
        let cap = CpuCap::create(&self.hierarchy, &self.group_name(), self.cores)?;
        cap.add(pid)?;
        Ok(cap)
    }

    pub(super) fn cores(&self) -> f64 {
        self.cores
    }

    fn group_name(&self) -> String {
        let n = self.groups.fetch_add(1, Ordering::Relaxed);
        format!("owp-bench-{}-{n}", std::process::id())
    }
}

fn write(path: &Path, value: &str) -> anyhow::Result<()> {
    std::fs::write(path, value)
        .with_context(|| format!("cannot write {value} to {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quota_is_the_share_of_the_period() {
        assert_eq!(quota_us(0.15), 15_000);
        assert_eq!(quota_us(1.0), 100_000);
        assert_eq!(quota_us(2.5), 250_000);
        // Below the kernel's minimum of 1 ms per period.
        assert_eq!(quota_us(0.001), 1_000);
    }

    #[test]
    fn finds_either_layout_or_says_what_is_missing() {
        let v2 = tempfile::tempdir().unwrap();
        std::fs::write(v2.path().join("cgroup.controllers"), "cpu io memory").unwrap();
        assert_eq!(
            Hierarchy::find(v2.path()).unwrap(),
            Hierarchy::V2(v2.path().to_path_buf())
        );

        let v1 = tempfile::tempdir().unwrap();
        std::fs::create_dir(v1.path().join("cpu,cpuacct")).unwrap();
        std::fs::write(v1.path().join("cpu,cpuacct/cpu.cfs_quota_us"), "-1").unwrap();
        assert_eq!(
            Hierarchy::find(v1.path()).unwrap(),
            Hierarchy::V1(v1.path().join("cpu,cpuacct"))
        );

        let none = tempfile::tempdir().unwrap();
        let err = Hierarchy::find(none.path()).unwrap_err().to_string();
        assert!(err.contains("cpu controller"), "{err}");
    }

    #[test]
    fn a_v1_group_gets_the_quota_and_the_process_and_is_removed_when_dropped() {
        let root = tempfile::tempdir().unwrap();
        let h = Hierarchy::V1(root.path().to_path_buf());
        let cap = CpuCap::create(&h, "owp-bench-test", 0.25).unwrap();
        let dir = root.path().join("owp-bench-test");
        let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
        assert_eq!(read("cpu.cfs_quota_us"), "25000");
        assert_eq!(read("cpu.cfs_period_us"), "100000");
        cap.add(4242).unwrap();
        assert_eq!(read("cgroup.procs"), "4242");
        // A real group's files vanish with it; here they must go first.
        for f in ["cpu.cfs_quota_us", "cpu.cfs_period_us", "cgroup.procs"] {
            std::fs::remove_file(dir.join(f)).unwrap();
        }
        drop(cap);
        assert!(!dir.exists());
    }

    #[test]
    fn a_v2_group_gets_cpu_max_and_enables_the_controller_when_needed() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("cgroup.controllers"), "cpu").unwrap();
        let h = Hierarchy::find(root.path()).unwrap();
        let cap = CpuCap::create(&h, "g", 0.5).unwrap();
        let dir = root.path().join("g");
        assert_eq!(
            std::fs::read_to_string(dir.join("cpu.max")).unwrap(),
            "50000 100000"
        );
        assert_eq!(
            std::fs::read_to_string(root.path().join("cgroup.subtree_control")).unwrap(),
            "+cpu"
        );
        std::fs::remove_file(dir.join("cpu.max")).unwrap();
        drop(cap);
    }

    #[test]
    fn a_run_refuses_to_start_where_it_cannot_make_a_group() {
        let root = tempfile::tempdir().unwrap();
        let err = ServerCpu::new(root.path(), 0.5).unwrap_err().to_string();
        assert!(err.contains("cpu controller"), "{err}");
        std::fs::create_dir(root.path().join("cpu")).unwrap();
        std::fs::write(root.path().join("cpu/cpu.cfs_quota_us"), "-1").unwrap();
        // The probe's group name is taken.
        let probe = format!("cpu/owp-bench-{}-0", std::process::id());
        std::fs::create_dir(root.path().join(probe)).unwrap();
        let err = ServerCpu::new(root.path(), 0.5).unwrap_err().to_string();
        assert!(err.contains("cannot create the control group"), "{err}");
    }

    #[test]
    fn each_server_process_gets_a_group_of_its_own() {
        let root = tempfile::tempdir().unwrap();
        // As `ServerCpu::new` leaves it after its probe (a fake hierarchy keeps the probe's files).
        let cpu = ServerCpu {
            hierarchy: Hierarchy::V1(root.path().to_path_buf()),
            cores: 0.5,
            groups: AtomicUsize::new(1),
        };
        assert_eq!(cpu.cores(), 0.5);
        let caps = [cpu.cap(11).unwrap(), cpu.cap(12).unwrap()];
        let group = |n: usize| {
            root.path()
                .join(format!("owp-bench-{}-{n}", std::process::id()))
        };
        for (n, pid) in [(1, "11"), (2, "12")] {
            let read = |f: &str| std::fs::read_to_string(group(n).join(f)).unwrap();
            assert_eq!(read("cgroup.procs"), pid);
            assert_eq!(read("cpu.cfs_quota_us"), "50000");
            for f in ["cpu.cfs_quota_us", "cpu.cfs_period_us", "cgroup.procs"] {
                std::fs::remove_file(group(n).join(f)).unwrap();
            }
        }
        drop(caps);
        assert!(!group(1).exists() && !group(2).exists());
    }

    #[test]
    fn refuses_a_cap_that_is_not_a_positive_number_and_an_existing_group() {
        let root = tempfile::tempdir().unwrap();
        let h = Hierarchy::V1(root.path().to_path_buf());
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let err = CpuCap::create(&h, "x", bad).unwrap_err().to_string();
            assert!(err.contains("positive"), "{err}");
        }
        std::fs::create_dir(root.path().join("taken")).unwrap();
        let err = CpuCap::create(&h, "taken", 0.5).unwrap_err().to_string();
        assert!(err.contains("cannot create the control group"), "{err}");
    }
}
