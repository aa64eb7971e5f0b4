//! The runs of one invocation: every combination of the flags, in the order they run.

use super::*;

/// One run of an invocation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Planned {
    pub(super) shape: Shape,
    /// Its server processes are capped at `--capped-cpu` (a `--capped-replicas` run), not at
    /// `--server-cpu`.
    pub(super) capped: bool,
}

/// The runs of an invocation, in order: per backend and queue size, every combination of
/// `--replicas` (PostgreSQL), `--waiting` and `--path-locks`, then on PostgreSQL the
/// `--capped-replicas` runs.
pub(super) fn plan(args: &BenchArgs, sizes: &[usize]) -> Vec<Planned> {
    let first = |v: &[usize]| v.first().copied().unwrap_or(0);
    let mut out = Vec::new();
    for &backend in &args.backends {
        for &size in sizes {
            let replica_counts: Vec<usize> = match backend {
                BenchBackend::Sqlite | BenchBackend::SqliteSqlx => vec![1],
                BenchBackend::Postgres => args.replicas.iter().map(|r| (*r).max(1)).collect(),
            };
            for &replicas in &replica_counts {
                for &waiting in &args.waiting {
                    for &path_locks in &args.path_locks {
                        out.push(Planned {
                            shape: Shape {
                                backend,
                                size,
                                waiting,
                                path_locks,
                                replicas,
                            },
                            capped: false,
                        });
                    }
                }
            }
            if backend == BenchBackend::Postgres {
                for &replicas in &args.capped_replicas {
                    out.push(Planned {
                        shape: Shape {
                            backend,
                            size,
                            waiting: first(&args.waiting),
                            path_locks: first(&args.path_locks),
                            replicas: replicas.max(1),
                        },
                        capped: true,
                    });
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        args: BenchArgs,
    }

    fn args(line: &[&str]) -> BenchArgs {
        <Cli as clap::Parser>::parse_from(std::iter::once("bench").chain(line.iter().copied())).args
    }

    #[test]
    fn one_run_per_combination_then_the_capped_ones_on_postgres() {
        let a = args(&[
            "--backends",
            "sqlite,postgres",
            "--sizes",
            "10,20",
            "--replicas",
            "1,2",
            "--path-locks",
            "0,1000",
            "--capped-replicas",
            "1,2,4",
        ]);
        let runs = plan(&a, &a.sizes);
        let shapes: Vec<(&str, usize, usize, usize, bool)> = runs
            .iter()
            .map(|p| {
                let s = p.shape;
                (s.backend.name(), s.size, s.replicas, s.path_locks, p.capped)
            })
            .collect();
        let mut expected = Vec::new();
        for size in [10, 20] {
            expected.extend([
                ("sqlite", size, 1, 0, false),
                ("sqlite", size, 1, 1000, false),
            ]);
        }
        for size in [10, 20] {
            for procs in [1, 2] {
                expected.extend([
                    ("postgres", size, procs, 0, false),
                    ("postgres", size, procs, 1000, false),
                ]);
            }
            // Capped runs take the first `--path-locks` value.
            expected.extend([1, 2, 4].map(|procs| ("postgres", size, procs, 0, true)));
        }
        assert_eq!(shapes, expected);
        assert_eq!(a.capped_cpu, 0.15);
    }

    #[test]
    fn the_defaults_make_one_sqlite_run() {
        let a = args(&[]);
        let runs = plan(&a, &a.sizes);
        assert_eq!(
            runs,
            vec![Planned {
                shape: Shape {
                    backend: BenchBackend::Sqlite,
                    size: 100_000,
                    waiting: 0,
                    path_locks: 0,
                    replicas: 1,
                },
                capped: false,
            }]
        );
        // No PostgreSQL run: `--capped-replicas` adds nothing to SQLite.
        let a = args(&["--capped-replicas", "2"]);
        assert!(plan(&a, &a.sizes).iter().all(|p| !p.capped));
    }

    #[test]
    fn a_pool_total_is_shared_by_the_processes_of_a_run() {
        let each = |flags: &[&str]| {
            let a = args(flags);
            [1, 2, 4, 32].map(|replicas| pool_each(&a, replicas))
        };
        assert_eq!(
            each(&[]),
            [None; 4],
            "each process keeps the server's own pool"
        );
        assert_eq!(
            each(&["--pool-total", "16"]),
            [Some(16), Some(8), Some(4), Some(1)]
        );
        let zero = ["bench", "--pool-total", "0"];
        assert!(<Cli as clap::Parser>::try_parse_from(zero).is_err());
    }
}
