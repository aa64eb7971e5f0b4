//! Section 5 under concurrency: claims fired at the same instant (one request each, joined)
//! never receive the same task and never break a rule, whatever their number.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use futures_util::future::join_all;
use serde_json::{Value, json};

use super::common::{admin_status, ids, pr_opened, state_repo};
use crate::client::{Reply, Worker};
use crate::{Case, CaseResult, Ctx, Outcome};
use crate::{case, ensure_that, fail_case};

pub fn cases() -> Vec<Case> {
    vec![
        case!("concurrency.racing_claims_distinct", racing_claims_distinct),
        case!("concurrency.budget_under_race", budget_under_race),
        case!("concurrency.area_lock_under_race", area_lock_under_race),
        case!("concurrency.capacity_under_race", capacity_under_race),
        case!(
            "concurrency.max_concurrent_under_race",
            max_concurrent_under_race
        ),
        case!("concurrency.rules_together", rules_together),
    ]
}

/// Registers `n` workers at once.
async fn workers(
    ctx: &Ctx,
    n: usize,
    skills: &[&str],
    extra: Value,
) -> Result<Vec<Worker>, Outcome> {
    join_all((0..n).map(|_| ctx.worker(skills, extra.clone())))
        .await
        .into_iter()
        .collect()
}

/// Fires one claim per entry at the same instant; the answers in the same order.
async fn race(ctx: &Ctx, claimants: &[&Worker]) -> Result<Vec<Reply>, Outcome> {
    join_all(claimants.iter().map(|w| ctx.claim(w, None)))
        .await
        .into_iter()
        .collect()
}

/// The leases among racing answers, each with the index of its claim; fails on an answer that is
/// neither 200 with a lease nor 204.
fn leases(replies: &[Reply]) -> Result<Vec<(usize, Value)>, Outcome> {
    let mut out = Vec::new();
    for (n, reply) in replies.iter().enumerate() {
        match reply.status {
            204 => {}
            200 if reply.body["lease"]["task"]["task_id"].is_string() => {
                out.push((n, reply.body["lease"].clone()));
            }
            _ => fail_case!(
                "a racing POST /v1/work answered neither 200 with a lease nor 204: {}",
                reply.describe()
            ),
        }
    }
    Ok(out)
}

fn task_id(lease: &Value) -> String {
    lease["task"]["task_id"].as_str().unwrap_or("").to_string()
}

/// Fails when one task is in two leases.
fn distinct(leases: &[(usize, Value)]) -> CaseResult {
    let mut seen = BTreeSet::new();
    for (_, lease) in leases {
        let t = task_id(lease);
        ensure_that!(
            seen.insert(t.clone()),
            "two simultaneous claims received the same task {t}"
        );
    }
    Ok(())
}

/// 20 workers claim 10 tasks at the same instant: 10 leases, no task twice, the rest 204.
async fn racing_claims_distinct(ctx: Ctx) -> CaseResult {
    let repo = ctx.repo().await?;
    let skill = ctx.skill();
    let tasks: Vec<Value> = (0..10)
        .map(|n| json!({"title": format!("task {n}")}))
        .collect();
    let t: BTreeSet<String> = ids(&ctx.import(&repo, &skill, json!(tasks)).await?)?
        .into_iter()
        .collect();
    let ws = workers(&ctx, 20, &[&skill], json!({})).await?;
    let replies = race(&ctx, &ws.iter().collect::<Vec<_>>()).await?;
    let got = leases(&replies)?;
    distinct(&got)?;
    for (_, lease) in &got {
        ensure_that!(
            t.contains(&task_id(lease)),
            "a claim received task {}, not one of this case's",
            task_id(lease)
        );
    }
    ensure_that!(
        got.len() == 10,
        "20 workers raced for 10 ready tasks: expected 10 leases and 10 answers 204, got {} leases",
        got.len()
    );
    Ok(())
}

/// Budget 2 and 12 workers racing for 6 tasks: exactly 2 leases.
async fn budget_under_race(ctx: Ctx) -> CaseResult {
    let repo = ctx.repo_with(2, false, json!({})).await?;
    let skill = ctx.skill();
    let tasks: Vec<Value> = (0..6)
        .map(|n| json!({"title": format!("task {n}")}))
        .collect();
    ctx.import(&repo, &skill, json!(tasks)).await?;
    let ws = workers(&ctx, 12, &[&skill], json!({})).await?;
    let replies = race(&ctx, &ws.iter().collect::<Vec<_>>()).await?;
    let got = leases(&replies)?;
    distinct(&got)?;
    ensure_that!(
        got.len() == 2,
        "max_open_prs 2, 12 workers raced for 6 tasks: expected exactly 2 leases, got {}",
        got.len()
    );
    let policy = state_repo(&ctx, &repo).await?;
    ensure_that!(
        policy["active_leases"] == 2 && policy["throttled"] == true,
        "after the race: expected active_leases 2 and throttled true, got {policy}"
    );
    Ok(())
}

/// Area locks on, 4 tasks in area `a` and 4 in `b`, 8 workers racing: one lease per area.
async fn area_lock_under_race(ctx: Ctx) -> CaseResult {
    let repo = ctx.repo_with(100, true, json!({})).await?;
    let skill = ctx.skill();
    let tasks: Vec<Value> = (0..8)
        .map(|n| json!({"title": format!("task {n}"), "area": if n % 2 == 0 { "a" } else { "b" }}))
        .collect();
    let imported = ctx.import(&repo, &skill, json!(tasks)).await?;
    let area_of: HashMap<String, String> = imported
        .iter()
        .map(|t| {
            (
                t["task_id"].as_str().unwrap_or("").to_string(),
                t["area"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let ws = workers(&ctx, 8, &[&skill], json!({})).await?;
    let replies = race(&ctx, &ws.iter().collect::<Vec<_>>()).await?;
    let got = leases(&replies)?;
    distinct(&got)?;
    let mut per_area: BTreeMap<String, usize> = BTreeMap::new();
    for (_, lease) in &got {
        let area = area_of.get(&task_id(lease)).cloned().unwrap_or_default();
        *per_area.entry(area).or_default() += 1;
    }
    ensure_that!(
        per_area.get("a") == Some(&1) && per_area.get("b") == Some(&1) && got.len() == 2,
        "area locks on, 8 workers raced for 4 tasks in area a and 4 in area b: expected one \
         lease per area, got leases per area {per_area:?}"
    );
    Ok(())
}

/// Claims by one worker, `n` at once, then one after another until `204`: the number of leases
/// granted at once and in all.
async fn one_worker_race(ctx: &Ctx, w: &Worker, n: usize) -> Result<(usize, usize), Outcome> {
    let claimants: Vec<&Worker> = (0..n).map(|_| w).collect();
    let replies = race(ctx, &claimants).await?;
    let got = leases(&replies)?;
    distinct(&got)?;
    let at_once = got.len();
    let mut total = at_once;
    for _ in 0..n {
        let reply = ctx.claim(w, None).await?;
        match reply.status {
            204 => break,
            200 => total += 1,
            _ => fail_case!(
                "POST /v1/work: expected 200 or 204, got {}",
                reply.describe()
            ),
        }
    }
    Ok((at_once, total))
}

/// One worker with capacity 3 points sends 8 simultaneous claims for 1-point tasks: at most 3
/// leases, and exactly 3 once it claims again one after another.
async fn capacity_under_race(ctx: Ctx) -> CaseResult {
    let repo = ctx.repo().await?;
    let skill = ctx.skill();
    let tasks: Vec<Value> = (0..8)
        .map(|n| json!({"title": format!("task {n}"), "estimate_points": 1}))
        .collect();
    ctx.import(&repo, &skill, json!(tasks)).await?;
    let w = ctx
        .worker(
            &[&skill],
            json!({"capacity_points": 3, "max_concurrent_tasks": 10}),
        )
        .await?;
    let (at_once, total) = one_worker_race(&ctx, &w, 8).await?;
    ensure_that!(
        at_once <= 3,
        "capacity_points 3, 8 simultaneous claims of 1-point tasks: expected at most 3 leases, \
         got {at_once}"
    );
    ensure_that!(
        total == 3,
        "capacity_points 3: after the race and claims one after another, expected 3 leases held, \
         got {total}"
    );
    Ok(())
}

/// One worker with `max_concurrent_tasks` 2 sends 6 simultaneous claims: at most 2 leases.
async fn max_concurrent_under_race(ctx: Ctx) -> CaseResult {
    let repo = ctx.repo().await?;
    let skill = ctx.skill();
    let tasks: Vec<Value> = (0..6)
        .map(|n| json!({"title": format!("task {n}")}))
        .collect();
    ctx.import(&repo, &skill, json!(tasks)).await?;
    let w = ctx
        .worker(
            &[&skill],
            json!({"capacity_points": 100, "max_concurrent_tasks": 2}),
        )
        .await?;
    let (at_once, total) = one_worker_race(&ctx, &w, 6).await?;
    ensure_that!(
        at_once <= 2,
        "max_concurrent_tasks 2, 6 simultaneous claims: expected at most 2 leases, got {at_once}"
    );
    ensure_that!(
        total == 2,
        "max_concurrent_tasks 2: after the race and claims one after another, expected 2 leases \
         held, got {total}"
    );
    Ok(())
}

/// A task of `rules_together`: title, repository (0 or 1), area, whether it needs the second
/// skill, tier, estimate points, priority.
type Row = (
    &'static str,
    usize,
    Option<&'static str>,
    bool,
    i64,
    i64,
    &'static str,
);

/// What `rules_together` knows of a task it imported.
struct Spec {
    title: String,
    repo: usize,
    area: Option<String>,
    skills: Vec<String>,
    tier: i64,
    points: i64,
}

/// What `rules_together` knows of a worker it registered.
struct Who {
    worker: Worker,
    skills: Vec<String>,
    trust: i64,
}

/// A task held in `rules_together`: its id, its holder, and whether it is `pr_opened`.
struct Held {
    task: String,
    holder: usize,
    pr_opened: bool,
}

/// Budget, area locks, skills, tier, capacity and concurrency at once: two repositories (budgets 3
/// and 2, area locks on), tasks that tempt a careless server (high-priority tasks above most
/// workers' trust or skills, one above everyone's trust, one larger than any capacity), and ten
/// workers of mixed skills and trust each sending two simultaneous claims, twice. Between the
/// rounds every holder reports one task `pr_opened`, and those of the first repository merge.
/// After each round every rule must hold.
async fn rules_together(ctx: Ctx) -> CaseResult {
    let repos = [
        ctx.repo_with(3, true, json!({})).await?,
        ctx.repo_with(2, true, json!({})).await?,
    ];
    let budgets = [3usize, 2];
    let s = ctx.skill();
    let x = ctx.skill();
    let table: [Row; 12] = [
        ("r0 ui x tier1", 0, Some("ui"), true, 1, 2, "critical"),
        ("r0 ui", 0, Some("ui"), false, 0, 1, "high"),
        ("r0 api tier1", 0, Some("api"), false, 1, 1, "critical"),
        ("r0 api x", 0, Some("api"), true, 0, 1, "normal"),
        ("r0 x tier1", 0, None, true, 1, 2, "high"),
        ("r0 plain", 0, None, false, 0, 1, "normal"),
        ("r0 tier2", 0, None, false, 2, 1, "critical"),
        ("r0 three points", 0, None, false, 0, 3, "critical"),
        ("r1 ui tier1", 1, Some("ui"), false, 1, 1, "critical"),
        ("r1 ui", 1, Some("ui"), false, 0, 1, "normal"),
        ("r1 x", 1, None, true, 0, 1, "high"),
        ("r1 tier1", 1, None, false, 1, 1, "normal"),
    ];
    let mut specs: HashMap<String, Spec> = HashMap::new();
    for (r, repo) in repos.iter().enumerate() {
        let rows: Vec<_> = table.iter().filter(|row| row.1 == r).collect();
        let body: Vec<Value> = rows
            .iter()
            .map(|(title, _, area, needs_x, tier, points, priority)| {
                let mut skills = vec![s.clone()];
                if *needs_x {
                    skills.push(x.clone());
                }
                json!({"title": title, "area": area, "required_skills": skills, "tier": tier,
                       "estimate_points": points, "priority": priority})
            })
            .collect();
        let imported = ctx.import(repo, &s, json!(body)).await?;
        for (task, row) in imported.iter().zip(rows) {
            let mut skills = vec![s.to_lowercase()];
            if row.3 {
                skills.push(x.to_lowercase());
            }
            specs.insert(
                task["task_id"].as_str().unwrap_or("").to_string(),
                Spec {
                    title: row.0.to_string(),
                    repo: r,
                    area: row.2.map(String::from),
                    skills,
                    tier: row.4,
                    points: row.5,
                },
            );
        }
    }
    let mut who = Vec::new();
    for n in 0..10 {
        let skills: Vec<String> = if n % 2 == 0 {
            vec![s.clone()]
        } else {
            vec![s.clone(), x.to_uppercase()]
        };
        let refs: Vec<&str> = skills.iter().map(String::as_str).collect();
        let worker = ctx
            .worker(
                &refs,
                json!({"capacity_points": 2, "max_concurrent_tasks": 2}),
            )
            .await?;
        let trust = if n % 3 == 0 { 1 } else { 0 };
        if trust > 0 {
            super::common::admin_worker(&ctx, &worker, json!({"trust_level": trust})).await?;
        }
        who.push(Who {
            worker,
            skills: skills.iter().map(|k| k.to_lowercase()).collect(),
            trust,
        });
    }
    let mut held: Vec<Held> = Vec::new();
    for round in 1..=2 {
        let claimants: Vec<&Worker> = who.iter().flat_map(|w| [&w.worker, &w.worker]).collect();
        let replies = race(&ctx, &claimants).await?;
        // On a slow machine a lease of the first round may have run out (its task has been
        // requeued with one more attempt): it no longer holds anything.
        let mut live = Vec::new();
        for h in held {
            let task = if h.pr_opened {
                None
            } else {
                Some(ctx.task(&h.task).await?)
            };
            let expired = task.is_some_and(|t| {
                t["attempts"] != 0 || !(t["status"] == "leased" || t["status"] == "in_progress")
            });
            if !expired {
                live.push(h);
            }
        }
        held = live;
        for (n, lease) in leases(&replies)? {
            let holder = n / 2;
            let t = task_id(&lease);
            ensure_that!(
                !held.iter().any(|h| h.task == t),
                "round {round}: task {t} was granted while already held"
            );
            held.push(Held {
                task: t,
                holder,
                pr_opened: false,
            });
        }
        check_rules(round, &held, &specs, &who, &budgets)?;
        ensure_that!(
            round > 1 || !held.is_empty(),
            "round 1: 20 simultaneous claims for 12 tasks, of which several fit every rule, \
             received no lease"
        );
        if round == 1 {
            let mut reported = BTreeSet::new();
            for h in held.iter_mut() {
                if reported.insert(h.holder) {
                    let lease = json!({"task": {"task_id": h.task}});
                    pr_opened(&ctx, &who[h.holder].worker, &lease).await?;
                    h.pr_opened = true;
                }
            }
            // The first repository's pull requests merge (freeing budget and areas there); the
            // second's stay open and still count.
            let mut kept = Vec::new();
            for h in held {
                if h.pr_opened && specs.get(&h.task).is_some_and(|s| s.repo == 0) {
                    admin_status(&ctx, &h.task, "merged").await?;
                } else {
                    kept.push(h);
                }
            }
            held = kept;
        }
    }
    Ok(())
}

fn check_rules(
    round: usize,
    held: &[Held],
    specs: &HashMap<String, Spec>,
    who: &[Who],
    budgets: &[usize; 2],
) -> CaseResult {
    let mut per_repo = [0usize; 2];
    let mut per_area: BTreeMap<(usize, String), Vec<&str>> = BTreeMap::new();
    let mut points = vec![0i64; who.len()];
    let mut count = vec![0i64; who.len()];
    for h in held {
        let Some(spec) = specs.get(&h.task) else {
            fail_case!(
                "round {round}: a claim received task {}, not one of this case's",
                h.task
            );
        };
        let w = &who[h.holder];
        per_repo[spec.repo] += 1;
        if let Some(area) = &spec.area {
            per_area
                .entry((spec.repo, area.clone()))
                .or_default()
                .push(&spec.title);
        }
        if !h.pr_opened {
            points[h.holder] += spec.points;
            count[h.holder] += 1;
        }
        let missing: Vec<&String> = spec
            .skills
            .iter()
            .filter(|k| !w.skills.contains(k))
            .collect();
        ensure_that!(
            missing.is_empty(),
            "round {round}: `{}` went to worker {} which lacks required skills {missing:?}",
            spec.title,
            w.worker.id
        );
        ensure_that!(
            spec.tier <= w.trust,
            "round {round}: `{}` (tier {}) went to worker {} of trust {}",
            spec.title,
            spec.tier,
            w.worker.id,
            w.trust
        );
    }
    for (r, n) in per_repo.iter().enumerate() {
        ensure_that!(
            *n <= budgets[r],
            "round {round}: repository {r} has max_open_prs {} but {n} tasks leased or pr_opened",
            budgets[r]
        );
    }
    for ((r, area), titles) in &per_area {
        ensure_that!(
            titles.len() <= 1,
            "round {round}: area `{area}` of repository {r} is held by {titles:?} at once"
        );
    }
    for (n, w) in who.iter().enumerate() {
        ensure_that!(
            points[n] <= 2 && count[n] <= 2,
            "round {round}: worker {} (capacity 2 points, 2 tasks) holds {} points in {} tasks",
            w.worker.id,
            points[n],
            count[n]
        );
    }
    Ok(())
}
