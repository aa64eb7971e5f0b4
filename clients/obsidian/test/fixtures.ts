// Server objects as the OWP server returns them, for the unit tests.
import type { AdminState, Lease, OwpEvent, RepoPolicy, Task, Worker } from "../src/api";

export function task(over: Partial<Task> = {}): Task {
  return {
    task_id: "t_1",
    repo: "acme/widgets",
    key: "acme/widgets#12",
    title: "Document the --dry-run flag",
    description: "Add a section to docs/cli.md",
    estimate_points: 1,
    priority: "normal",
    required_skills: ["docs"],
    area: "cli",
    tier: 0,
    status: "ready",
    assigned_worker_id: null,
    lease_id: null,
    lease_expires_at: null,
    artifact: null,
    attempts: 0,
    created_at: "2026-11-22T00:28:06.312Z",
    updated_at: "2026-11-22T00:28:06.312Z",
    ...over,
  };
}

export function worker(over: Partial<Worker> = {}): Worker {
  return {
    worker_id: "w_1",
    name: "ada-laptop",
    skills: ["docs"],
    capacity_points: 4,
    max_concurrent_tasks: 2,
    status: "idle",
    online: true,
    last_heartbeat: "2026-11-22T00:28:06.312Z",
    active_points: 1,
    active_tasks: 1,
    ...over,
  };
}

export function repo(over: Partial<RepoPolicy> = {}): RepoPolicy {
  return { repo: "acme/widgets", max_open_prs: 2, area_locks_enabled: true, open_prs: 1, active_leases: 1, throttled: true, ...over };
}

export function event(id: number, over: Partial<OwpEvent> = {}): OwpEvent {
  return {
    id,
    kind: "task.status",
    at: "2026-11-22T00:28:25.352Z",
    repo: "acme/widgets",
    task_id: "t_1",
    worker_id: "w_1",
    actor: "worker:w_1",
    data: { from: "in_progress", status: "pr_opened" },
    ...over,
  };
}

export function lease(now: number, over: Partial<Lease> = {}, taskOver: Partial<Task> = {}): Lease {
  return {
    lease_id: "l_1",
    task: task({ status: "leased", assigned_worker_id: "w_1", lease_id: "l_1", ...taskOver }),
    expires_at: new Date(now + 95_000).toISOString(),
    accept_by: new Date(now + 95_000).toISOString(),
    ...over,
  };
}

export function state(): AdminState {
  return {
    repos: [repo(), repo({ repo: "acme/docs", max_open_prs: 3, open_prs: 0, active_leases: 0, throttled: false })],
    workers: [worker(), worker({ worker_id: "w_2", name: "bob", online: false })],
    tasks: [
      task(),
      task({ task_id: "t_2", status: "in_progress" }),
      task({ task_id: "t_3", status: "pr_opened" }),
      task({ task_id: "t_4", repo: "acme/docs" }),
    ],
    events: [event(1, { kind: "repo.created", data: { max_open_prs: 2 } }), event(2)],
  };
}
