//! The two observers' checks of the race (see the parent module), and a test that each can fail.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{Holding, Scenario, TaskInfo, WorkerInfo};

/// Checks one admin snapshot against every rule; returns what is wrong.
pub(super) fn check_snapshot(sc: &Scenario, state: &Value) -> Vec<String> {
    let mut bad = Vec::new();
    let caps: HashMap<&str, &WorkerInfo> = sc.workers.iter().map(|w| (w.id.as_str(), w)).collect();
    let mut per_repo: HashMap<String, i64> = HashMap::new();
    let mut per_area: HashMap<(String, String), Vec<String>> = HashMap::new();
    let mut per_worker: HashMap<String, (i64, i64)> = HashMap::new();
    let mut leases: HashSet<String> = HashSet::new();
    let mut holding_paths: Vec<(String, String, Vec<String>)> = Vec::new();
    for t in state["tasks"].as_array().into_iter().flatten() {
        let status = t["status"].as_str().unwrap_or_default();
        let repo = t["repo"].as_str().unwrap_or_default().to_string();
        let task_id = t["task_id"].as_str().unwrap_or_default().to_string();
        let holds_area = matches!(status, "leased" | "in_progress" | "pr_opened");
        let active = matches!(status, "leased" | "in_progress");
        if holds_area {
            *per_repo.entry(repo.clone()).or_default() += 1;
            // The task's paths as imported (a snapshot's own list could hide a lost one).
            if let Some(info) = sc.tasks.get(&task_id)
                && !info.paths.is_empty()
            {
                for (other_repo, other, their) in &holding_paths {
                    if *other_repo == repo && paths_overlap(&info.paths, their) {
                        bad.push(format!(
                            "{repo}: {task_id} {:?} and {other} {their:?} hold overlapping paths",
                            info.paths
                        ));
                    }
                }
                holding_paths.push((repo.clone(), task_id.clone(), info.paths.clone()));
            }
            if let Some(area) = t["area"].as_str() {
                per_area
                    .entry((repo.clone(), area.to_string()))
                    .or_default()
                    .push(task_id.clone());
            }
        }
        if active {
            let Some(wid) = t["assigned_worker_id"].as_str() else {
                bad.push(format!("{status} task without a worker: {t}"));
                continue;
            };
            let e = per_worker.entry(wid.to_string()).or_default();
            e.0 += t["estimate_points"].as_i64().unwrap_or(0);
            e.1 += 1;
            match t["lease_id"].as_str() {
                Some(l) => {
                    if !leases.insert(l.to_string()) {
                        bad.push(format!("lease {l} on two tasks"));
                    }
                }
                None => bad.push(format!("{status} task without a lease: {t}")),
            }
        }
    }
    for (repo, n) in &per_repo {
        let max = sc.budgets.get(repo).copied().unwrap_or(i64::MAX);
        if *n > max {
            bad.push(format!(
                "{repo}: {n} tasks leased/in progress/in review > budget {max}"
            ));
        }
    }
    for ((repo, area), ids) in &per_area {
        if ids.len() > 1 {
            bad.push(format!("{repo} area {area} held by {ids:?}"));
        }
    }
    for (wid, (points, count)) in &per_worker {
        if let Some(w) = caps.get(wid.as_str())
            && (*points > w.capacity || *count > w.max)
        {
            bad.push(format!(
                "worker {wid}: {points} points / {count} tasks > {} / {}",
                w.capacity, w.max
            ));
        }
    }
    for r in state["repos"].as_array().into_iter().flatten() {
        let open = r["open_prs"].as_i64().unwrap_or(0);
        let active = r["active_leases"].as_i64().unwrap_or(0);
        let max = r["max_open_prs"].as_i64().unwrap_or(0);
        if open + active > max {
            bad.push(format!("repo figures over budget: {r}"));
        }
    }
    for w in state["workers"].as_array().into_iter().flatten() {
        let cap = w["capacity_points"].as_i64().unwrap_or(0);
        let max = w["max_concurrent_tasks"].as_i64().unwrap_or(0);
        let pts = w["active_points"].as_i64().unwrap_or(0);
        let n = w["active_tasks"].as_i64().unwrap_or(0);
        if pts > cap || n > max {
            bad.push(format!("worker figures over capacity: {w}"));
        }
    }
    bad
}

/// Rule 10's overlap, written here from the contract's words rather than taken from the
/// server's code: a pattern's base is its segments before the first one holding `*`, `?` or
/// `[`; two patterns overlap when one base equals the other or contains it by whole segments.
fn paths_overlap(a: &[String], b: &[String]) -> bool {
    let base = |p: &str| -> Vec<String> {
        p.split('/')
            .take_while(|s| !s.contains(['*', '?', '[']))
            .map(str::to_string)
            .collect()
    };
    a.iter().any(|x| {
        b.iter().any(|y| {
            let (bx, by) = (base(x), base(y));
            bx.starts_with(&by) || by.starts_with(&bx)
        })
    })
}

pub(super) fn string_list(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_string))
        .collect()
}

/// Weighted time spans `[from, to)`.
type Spans = Vec<(Instant, Instant, i64)>;

/// The largest sum of `weight` over intervals open at one instant. Intervals are half-open; an
/// interval ending exactly when another starts does not overlap it.
fn max_overlap(mut spans: Spans) -> i64 {
    let mut points: Vec<(Instant, i64)> = Vec::new();
    for (from, to, w) in spans.drain(..) {
        if to > from {
            points.push((from, w));
            points.push((to, -w));
        }
    }
    // Ends before starts at the same instant.
    points.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
    let (mut cur, mut best) = (0, 0);
    for (_, d) in points {
        cur += d;
        best = best.max(cur);
    }
    best
}

/// Sweeps the recorded holdings: per task, per repo, per area and per worker.
pub(super) fn check_holdings(sc: &Scenario, holdings: &[Holding], end: Instant) -> Vec<String> {
    let mut bad = Vec::new();
    let mut lease_ids = HashSet::new();
    for h in holdings {
        if !lease_ids.insert(h.lease_id.clone()) {
            bad.push(format!("lease id {} handed out twice", h.lease_id));
        }
    }
    let span = |h: &Holding, w: i64| (h.from, h.held_until.unwrap_or(end), w);
    let mut by_task: HashMap<&str, Spans> = HashMap::new();
    let mut by_repo: HashMap<&str, Spans> = HashMap::new();
    let mut by_area: HashMap<(&str, &str), Spans> = HashMap::new();
    let mut by_worker_pts: HashMap<usize, Spans> = HashMap::new();
    let mut by_worker_n: HashMap<usize, Spans> = HashMap::new();
    for h in holdings {
        let info = &sc.tasks[&h.task_id];
        by_task.entry(&h.task_id).or_default().push(span(h, 1));
        by_repo.entry(&info.repo).or_default().push(span(h, 1));
        if let Some(area) = &info.area {
            by_area
                .entry((&info.repo, area))
                .or_default()
                .push(span(h, 1));
        }
        let active_end = h.active_until.unwrap_or(end);
        by_worker_pts
            .entry(h.worker)
            .or_default()
            .push((h.from, active_end, info.estimate));
        by_worker_n
            .entry(h.worker)
            .or_default()
            .push((h.from, active_end, 1));
    }
    for (task, spans) in by_task {
        let n = max_overlap(spans);
        if n > 1 {
            bad.push(format!("task {task} held by {n} workers at once"));
        }
    }
    for (repo, spans) in by_repo {
        let n = max_overlap(spans);
        if n > sc.budgets[repo] {
            bad.push(format!(
                "{repo}: {n} held at once > budget {}",
                sc.budgets[repo]
            ));
        }
    }
    for ((repo, area), spans) in by_area {
        let n = max_overlap(spans);
        if n > 1 {
            bad.push(format!("{repo} area {area}: {n} held at once"));
        }
    }
    // Rule 10: two tasks of one repository with overlapping paths are never held at once.
    for (i, a) in holdings.iter().enumerate() {
        let ia = &sc.tasks[&a.task_id];
        for b in &holdings[i + 1..] {
            let ib = &sc.tasks[&b.task_id];
            if a.task_id == b.task_id || ia.repo != ib.repo || !paths_overlap(&ia.paths, &ib.paths)
            {
                continue;
            }
            let (fa, ta, _) = span(a, 1);
            let (fb, tb, _) = span(b, 1);
            if fa < tb && fb < ta {
                bad.push(format!(
                    "{}: {} {:?} and {} {:?} held at once with overlapping paths",
                    ia.repo, a.task_id, ia.paths, b.task_id, ib.paths
                ));
            }
        }
    }
    for (w, spans) in by_worker_pts {
        let n = max_overlap(spans);
        if n > sc.workers[w].capacity {
            bad.push(format!(
                "worker {w}: {n} active points > {}",
                sc.workers[w].capacity
            ));
        }
    }
    for (w, spans) in by_worker_n {
        let n = max_overlap(spans);
        if n > sc.workers[w].max {
            bad.push(format!(
                "worker {w}: {n} active tasks > {}",
                sc.workers[w].max
            ));
        }
    }
    bad
}

/// The checkers above must be able to fail: feed them a state and holdings that break each rule.
#[test]
fn checkers_detect_each_kind_of_violation() {
    let task = |repo: &str, area: Option<&str>, estimate| TaskInfo {
        repo: repo.into(),
        area: area.map(str::to_string),
        paths: Vec::new(),
        estimate,
        skills: HashSet::new(),
        tier: 0,
    };
    let worker = |id: &str, capacity, max| WorkerInfo {
        id: id.into(),
        token: String::new(),
        skills: HashSet::new(),
        capacity,
        max,
        trust: 0,
    };
    let with_paths = |mut t: TaskInfo, paths: &[&str]| {
        t.paths = paths.iter().map(|p| p.to_string()).collect();
        t
    };
    let sc = Scenario {
        servers: Vec::new(),
        tasks: HashMap::from([
            ("t1".to_string(), task("r", Some("api"), 3)),
            ("t2".to_string(), task("r", Some("api"), 3)),
            ("t3".to_string(), task("r", None, 1)),
            (
                "p1".to_string(),
                with_paths(task("r", None, 1), &["src/auth/**"]),
            ),
            (
                "p2".to_string(),
                with_paths(task("r", None, 1), &["src/auth/login.rs"]),
            ),
            (
                "p3".to_string(),
                with_paths(task("r", None, 1), &["src/authz/x.rs"]),
            ),
        ]),
        workers: vec![worker("w0", 4, 1), worker("w1", 10, 5)],
        budgets: HashMap::from([("r".to_string(), 2)]),
    };
    let state = json!({
        "repos": [{"repo": "r", "max_open_prs": 2, "open_prs": 1, "active_leases": 2}],
        "workers": [{"worker_id": "w0", "capacity_points": 4, "max_concurrent_tasks": 1,
                     "active_points": 6, "active_tasks": 2}],
        "tasks": [
            {"task_id": "t1", "repo": "r", "area": "api", "status": "leased", "estimate_points": 3,
             "assigned_worker_id": "w0", "lease_id": "L1"},
            {"task_id": "t2", "repo": "r", "area": "api", "status": "in_progress", "estimate_points": 3,
             "assigned_worker_id": "w0", "lease_id": "L1"},
            {"task_id": "t3", "repo": "r", "area": null, "status": "pr_opened", "estimate_points": 1,
             "assigned_worker_id": "w1", "lease_id": null},
            {"task_id": "p1", "repo": "r", "status": "pr_opened", "estimate_points": 1},
            {"task_id": "p2", "repo": "r", "status": "pr_opened", "estimate_points": 1},
            {"task_id": "p3", "repo": "r", "status": "pr_opened", "estimate_points": 1}
        ]
    });
    let found = check_snapshot(&sc, &state).join("\n");
    assert!(!found.contains("p3"), "disjoint paths reported:\n{found}");
    for needle in [
        "budget",
        "area api",
        "worker w0",
        "lease L1 on two tasks",
        "repo figures",
        "worker figures",
        "p2 [\"src/auth/login.rs\"] and p1",
    ] {
        assert!(
            found.contains(needle),
            "{needle:?} not reported in:\n{found}"
        );
    }

    let t0 = Instant::now();
    let at = |ms| t0 + Duration::from_millis(ms);
    let hold = |worker, lease: &str, task: &str, from, to| Holding {
        worker,
        lease_id: lease.into(),
        task_id: task.into(),
        from: at(from),
        active_until: Some(at(to)),
        held_until: Some(at(to)),
        last_status: "ready",
    };
    let holdings = vec![
        hold(0, "a", "t1", 0, 100),
        hold(1, "b", "t1", 50, 150),  // same task, overlapping
        hold(1, "c", "t2", 60, 120),  // same area as t1 while held, third in budget 2
        hold(0, "c", "t3", 200, 300), // lease id reused
        hold(0, "d", "p1", 400, 500),
        hold(1, "e", "p2", 450, 460), // inside p1's path while p1 holds it
        hold(1, "f", "p3", 450, 460), // beside it
    ];
    let found = check_holdings(&sc, &holdings, at(1000)).join("\n");
    for needle in [
        "task t1 held by 2",
        "r: 3 held at once",
        "area api: 3 held",
        "handed out twice",
        "p1 [\"src/auth/**\"] and p2",
    ] {
        assert!(
            found.contains(needle),
            "{needle:?} not reported in:\n{found}"
        );
    }
    assert!(!found.contains("p3"), "disjoint paths reported:\n{found}");
    // Back-to-back holdings do not overlap.
    let fine = vec![hold(0, "a", "t1", 0, 100), hold(1, "b", "t1", 100, 200)];
    assert!(check_holdings(&sc, &fine, at(1000)).is_empty());
    // Worker capacity: w0 (capacity 4, max 1) holding t1 (3) and t3 (1) at once breaks max.
    let both = vec![hold(0, "a", "t1", 0, 100), hold(0, "b", "t3", 10, 90)];
    let found = check_holdings(&sc, &both, at(1000)).join("\n");
    assert!(found.contains("worker 0: 2 active tasks > 1"), "{found}");
}
