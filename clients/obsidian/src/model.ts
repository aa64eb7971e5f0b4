// What the plugin shows, computed from the server's objects alone (no Obsidian, no DOM): the
// status view's model, the status-bar text, a task's brief as a note, and the import document
// found in a note.

import { TASK_STATUSES, prUrlOf } from "./api";
import type { AdminState, Lease, OwpEvent, Proposal, RepoPolicy, Scorecard, Task, TaskStatus, Worker } from "./api";
import type { FeedState } from "./events";

export interface WorkerRow {
  name: string;
  workerId: string;
  status: string;
  /** `active_points / capacity_points` as 0..1 */
  load: number;
  loadText: string;
}

/** A ready task held back: by its blockers (`waiting_on`) or by work in flight on its files. */
export interface WaitingRow {
  key: string;
  text: string;
}

export interface RepoRow {
  repo: string;
  counts: { status: TaskStatus; count: number }[];
  /** the ready tasks that wait, at most [`MAX_WAITING_ROWS`] */
  waiting: WaitingRow[];
  /** how many more wait than are listed */
  moreWaiting: number;
  total: number;
  budget: { used: number; max: number; openPrs: number; activeLeases: number; ratio: number; throttled: boolean };
}

/** Short names for ids in events: a task's key (or title), a worker's name. */
export type Names = Record<string, string>;

export function namesOf(st: AdminState | null): Names {
  const n: Names = {};
  for (const t of st?.tasks ?? []) n[t.task_id] = t.key ?? t.title.slice(0, 40);
  for (const w of st?.workers ?? []) n[w.worker_id] = w.name;
  return n;
}

export interface EventRow {
  id: number;
  time: string;
  kind: string;
  text: string;
}

export interface LeaseRow {
  leaseId: string;
  taskId: string;
  key: string | null;
  title: string;
  repo: string;
  phase: "offered" | "working";
  /** seconds left before accept_by (offered) or expires_at (working) */
  secondsLeft: number;
  timeText: string;
}

export interface StatusModel {
  connection: { state: FeedState | "idle"; label: string; detail?: string };
  admin: boolean;
  workersOnline: WorkerRow[];
  workersOffline: number;
  repos: RepoRow[];
  events: EventRow[];
  worker: null | { name: string; online: boolean; label: string; leases: LeaseRow[] };
}

export interface WorkerSnapshot {
  worker: Worker;
  leases: Lease[];
  /** the plugin keeps this worker online (heartbeats) */
  online: boolean;
}

const CONNECTION_LABELS: Record<string, string> = {
  live: "live",
  polling: "polling",
  connecting: "connecting…",
  disconnected: "disconnected",
  stopped: "paused",
  idle: "not live",
};

/** `95` → `1:35`, `3725` → `1:02:05`, negative → `0:00`. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${sec}` : `${m}:${sec}`;
}

export function secondsUntil(iso: string, now: number): number {
  return (Date.parse(iso) - now) / 1000;
}

export function leaseRow(l: Lease, now: number): LeaseRow {
  const offered = l.task.status === "leased";
  const secondsLeft = secondsUntil(offered ? l.accept_by : l.expires_at, now);
  return {
    leaseId: l.lease_id,
    taskId: l.task.task_id,
    key: l.task.key ?? null,
    title: l.task.title,
    repo: l.task.repo,
    phase: offered ? "offered" : "working",
    secondsLeft,
    timeText: offered ? `accept within ${formatDuration(secondsLeft)}` : `${formatDuration(secondsLeft)} left`,
  };
}

/** One line for an event: what happened to what, in the words of the log. */
export function describeEvent(e: OwpEvent, names: Names = {}): string {
  const d = e.data ?? {};
  let task = e.task_id ? (names[e.task_id] ?? e.task_id) : null;
  if (task && e.repo && task.startsWith(`${e.repo}#`)) task = task.slice(e.repo.length);
  const worker = e.worker_id && !e.task_id ? (names[e.worker_id] ?? e.worker_id) : null;
  const what = [e.repo, task, worker].filter(Boolean).join(" ");
  let extra = "";
  if (typeof d.from === "string" && typeof d.status === "string") extra = ` ${d.from} → ${d.status}`;
  else if (typeof d.status === "string") extra = ` → ${d.status}`;
  if (typeof d.max_open_prs === "number") extra += ` budget ${d.max_open_prs}`;
  if (typeof d.name === "string" && d.name !== worker) extra += ` ${d.name}`;
  const note = typeof d.note === "string" ? d.note : typeof d.reason === "string" ? d.reason : "";
  return `${e.kind}${what ? " " + what : ""}${extra}${note ? ` (${note})` : ""}`;
}

function hhmmss(iso: string): string {
  const t = new Date(iso);
  if (isNaN(t.getTime())) return "";
  return t.toISOString().slice(11, 19);
}

/** Waiting tasks listed per repository; the rest are counted. */
export const MAX_WAITING_ROWS = 5;

/** Why a ready task is not offered, in words, or null when nothing holds it. */
export function waitingText(t: Pick<Task, "status" | "waiting_on" | "waiting_on_paths">): string | null {
  if (t.status !== "ready") return null;
  const parts: string[] = [];
  const on = t.waiting_on ?? [];
  const files = t.waiting_on_paths ?? [];
  if (on.length) parts.push(`waiting on ${on.join(", ")}`);
  if (files.length) parts.push(`waiting on the files ${files.join(", ")} ${files.length === 1 ? "is" : "are"} changing`);
  return parts.length ? parts.join("; ") : null;
}

export function repoRow(policy: RepoPolicy, tasks: Task[]): RepoRow {
  const mine = tasks.filter((t) => t.repo === policy.repo);
  const counts = TASK_STATUSES.map((status) => ({ status, count: mine.filter((t) => t.status === status).length })).filter(
    (c) => c.count > 0,
  );
  const waiting = mine.flatMap((t) => {
    const text = waitingText(t);
    return text ? [{ key: t.key ?? t.task_id, text }] : [];
  });
  const used = policy.open_prs + policy.active_leases;
  const max = policy.max_open_prs;
  return {
    repo: policy.repo,
    counts,
    waiting: waiting.slice(0, MAX_WAITING_ROWS),
    moreWaiting: Math.max(0, waiting.length - MAX_WAITING_ROWS),
    total: mine.length,
    budget: {
      used,
      max,
      openPrs: policy.open_prs,
      activeLeases: policy.active_leases,
      ratio: max > 0 ? Math.min(1, used / max) : 1,
      throttled: policy.throttled,
    },
  };
}

export interface ModelInput {
  state: AdminState | null;
  events: OwpEvent[];
  worker: WorkerSnapshot | null;
  feed: FeedState | "idle";
  feedDetail?: string;
  now: number;
  maxEvents?: number;
}

export function buildStatusModel(i: ModelInput): StatusModel {
  const st = i.state;
  const workers = st?.workers ?? [];
  const online = workers.filter((w) => w.online);
  const maxEvents = i.maxEvents ?? 20;
  const names = namesOf(st);
  const events = i.events
    .slice(-maxEvents)
    .reverse()
    .map((e) => ({ id: e.id, time: hhmmss(e.at), kind: e.kind, text: describeEvent(e, names) }));
  let worker: StatusModel["worker"] = null;
  if (i.worker) {
    const w = i.worker.worker;
    const leases = i.worker.leases.map((l) => leaseRow(l, i.now));
    worker = {
      name: w.name,
      online: i.worker.online,
      label: workerLabel(i.worker, i.now),
      leases,
    };
  }
  return {
    connection: { state: i.feed, label: CONNECTION_LABELS[i.feed] ?? i.feed, detail: i.feedDetail },
    admin: st !== null,
    workersOnline: online.map((w) => ({
      name: w.name,
      workerId: w.worker_id,
      status: w.status,
      load: w.capacity_points > 0 ? Math.min(1, w.active_points / w.capacity_points) : 0,
      loadText: `${w.active_points}/${w.capacity_points} pts · ${w.active_tasks}/${w.max_concurrent_tasks} tasks`,
    })),
    workersOffline: workers.length - online.length,
    repos: (st?.repos ?? []).map((r) => repoRow(r, st?.tasks ?? [])),
    events,
    worker,
  };
}

/** The worker's state in a few words: offline, idle, an offer to accept, or the work's time left. */
export function workerLabel(s: WorkerSnapshot, now: number): string {
  if (!s.online) return "offline";
  if (s.worker.status === "paused") return "paused";
  const rows = s.leases.map((l) => leaseRow(l, now));
  const offered = rows.find((r) => r.phase === "offered");
  if (offered) return `offer: ${offered.timeText}`;
  const working = rows.filter((r) => r.phase === "working").sort((a, b) => a.secondsLeft - b.secondsLeft);
  if (working.length > 0) {
    const more = working.length > 1 ? ` (+${working.length - 1})` : "";
    return `working · ${working[0].timeText}${more}`;
  }
  return "online · idle";
}

/** The status bar's text. */
export function statusBarText(s: WorkerSnapshot | null, registered: boolean, now: number): string {
  if (!registered) return "OWP: no worker";
  if (!s) return "OWP: offline";
  return `OWP: ${workerLabel(s, now)}`;
}

// ---- the task as a note ----

/** `owner/name#12` → the GitHub issue URL, else null. */
export function issueUrl(task: Pick<Task, "key" | "repo">): string | null {
  const m = /^([A-Za-z0-9._-]+\/[A-Za-z0-9._-]+)#(\d+)$/.exec(task.key ?? "");
  return m ? `https://github.com/${m[1]}/issues/${m[2]}` : null;
}

/** A file name that every platform accepts. */
export function noteFileName(task: Pick<Task, "key" | "task_id" | "title">): string {
  const raw = `${task.key ?? task.task_id} ${task.title}`;
  const clean = raw
    .replace(/[\\/:*?"<>|#^[\]]/g, "-")
    .replace(/\s+/g, " ")
    .trim()
    .slice(0, 100)
    .trim();
  return `${clean || task.task_id}.md`;
}

function yamlString(s: string): string {
  return JSON.stringify(s);
}

/**
 * The task's brief, issue link and repository contract as Markdown (with front matter), and its
 * proposals when they were read (`proposals`, see [`proposalsSection`]).
 */
export function taskNote(task: Task, lease: Lease | null, proposals?: Proposal[] | null): string {
  const url = issueUrl(task);
  const lines: string[] = [
    "---",
    `owp_task_id: ${yamlString(task.task_id)}`,
    `owp_repo: ${yamlString(task.repo)}`,
  ];
  if (task.key) lines.push(`owp_key: ${yamlString(task.key)}`);
  if (lease) lines.push(`owp_lease_id: ${yamlString(lease.lease_id)}`);
  lines.push(`owp_status: ${task.status}`, "---", "", `# ${task.title}`, "");
  lines.push(`- Repository: \`${task.repo}\``);
  if (task.key) lines.push(`- Key: \`${task.key}\``);
  if (url) lines.push(`- Issue: ${url}`);
  lines.push(`- Estimate: ${task.estimate_points} point${task.estimate_points === 1 ? "" : "s"} · priority ${task.priority}`);
  if (task.required_skills.length) lines.push(`- Skills: ${task.required_skills.join(", ")}`);
  if (task.area) lines.push(`- Area: ${task.area}`);
  if (task.paths?.length) lines.push(`- Paths: ${task.paths.map((p) => `\`${p.replace(/`/g, "'")}\``).join(", ")}`);
  const waiting = waitingText(task);
  if (waiting) lines.push(`- Not offered yet: ${waiting}`);
  if (lease) lines.push(`- Lease: \`${lease.lease_id}\`, expires ${lease.expires_at}`);
  const prUrl = prUrlOf(task);
  if (prUrl) lines.push(`- Pull request: ${prUrl}`);
  if (task.clone_url) lines.push(`- Clone: \`${task.clone_url}\``);
  lines.push("", "## Brief", "", task.description?.trim() || "_No description._", "");
  const c = task.contract;
  lines.push("## Repository contract", "");
  if (!c || Object.keys(c).length === 0) {
    lines.push("_This repository sets no contract._", "");
  } else {
    const fence = (label: string, v?: string | null) => {
      if (v) lines.push(`**${label}**`, "", "```sh", v, "```", "");
    };
    fence("Setup", c.setup);
    fence("Test (must pass before the pull request)", c.test);
    fence("Lint (must pass before the pull request)", c.lint);
    if (c.branch) lines.push(`**Branch**: \`${c.branch}\``, "");
    if (c.instructions) lines.push("**Instructions**", "", c.instructions, "");
    if (c.pr_template) lines.push("**Pull request template**", "", "```markdown", c.pr_template, "```", "");
  }
  if (proposals) lines.push(...proposalsSection(orderProposals(proposals)));
  return lines.join("\n");
}

// ---- proposals (plan first) ----

/** A fenced block whose fence is longer than any backtick run in `text`: nothing inside closes it. */
function fencedText(text: string, info: string): string[] {
  const longest = Math.max(2, ...(text.match(/`+/g) ?? []).map((r) => r.length));
  const fence = "`".repeat(longest + 1);
  return [fence + info, text, fence];
}

/** A proposer's scorecard in one line, for a maintainer. */
export function scorecardText(c: Scorecard): string {
  const rate = c.acceptance_rate_here == null ? "no reviews here yet" : `${Math.round(c.acceptance_rate_here * 100)}% accepted here`;
  const age = c.account_age_days == null ? "account age unknown" : `account ${c.account_age_days} days old`;
  const parts = [
    `${c.merged_here} merged here`,
    `${c.merged_pool} in the pool`,
    rate,
    age,
    c.vouched ? "vouched" : "not vouched",
    `holds ${c.open_holds} now`,
  ];
  if (c.tools.length) parts.push(`tools: ${c.tools.join(", ")}`);
  return parts.join(" · ");
}

/**
 * A task's proposals as a note section: each with its state, its proposer and its id (which the
 * approve and decline commands take), the scorecard when the server gave one (to maintainers), and
 * the plan quoted as the proposer's words in a fenced block, so that nothing in it renders as a
 * link, a mention or a heading of the note.
 */
export function proposalsSection(proposals: Proposal[]): string[] {
  const lines = ["## Proposals", ""];
  if (proposals.length === 0) return [...lines, "_No proposals._", ""];
  for (const p of proposals) {
    const who = p.login ? `${p.login} (worker ${p.worker_id})` : `worker ${p.worker_id}`;
    lines.push(`### ${p.state.replace("_", " ")} · ${who}`, "");
    lines.push(`- Proposal: \`${p.proposal_id}\``);
    lines.push(p.state === "open" ? `- Expires: ${p.expires_at}` : `- Made: ${p.created_at}`);
    if (p.scorecard) lines.push(`- Scorecard: ${scorecardText(p.scorecard)}`);
    lines.push("", ...fencedText(p.plan, "text"), "");
  }
  return lines;
}

/** The open proposals first (oldest first), then the others, newest first. */
export function orderProposals(proposals: Proposal[]): Proposal[] {
  const open = proposals.filter((p) => p.state === "open");
  const ended = proposals.filter((p) => p.state !== "open").reverse();
  return [...open, ...ended];
}

// ---- the import document in a note ----

export interface ImportDoc {
  source: "code block" | "front matter";
  yaml: string;
}

/**
 * The task document in a note: the first fenced code block marked `owp` or `yaml` (or `yml`) that
 * has a top-level `tasks:` key, else the front matter when it has one. The text goes to the server
 * as it is: the server's YAML reader and its checks decide, and its errors are shown.
 */
export function findImportDoc(note: string): ImportDoc | null {
  const text = note.replace(/\r\n/g, "\n");
  const fence = /^(```|~~~)[ \t]*(owp|ya?ml)\b[^\n]*\n([\s\S]*?)^\1[ \t]*$/gm;
  for (let m = fence.exec(text); m; m = fence.exec(text)) {
    if (/^tasks[ \t]*:/m.test(m[3])) return { source: "code block", yaml: m[3] };
  }
  const fm = /^---[ \t]*\n([\s\S]*?)\n(---|\.\.\.)[ \t]*(\n|$)/.exec(text);
  if (fm && /^tasks[ \t]*:/m.test(fm[1])) return { source: "front matter", yaml: fm[1] + "\n" };
  return null;
}
