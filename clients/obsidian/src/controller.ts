// Everything the plugin does, without Obsidian: settings in, results and a status model out.
// `main.ts` only wires this to Obsidian's views, commands, modals and notices.

import { OwpClient, OwpError } from "./api";
import type { AdminState, Lease, OwpEvent, Proposal, RegisterInput, Requester, RepoPolicy, Task, TaskStatus } from "./api";
import { EventFeed } from "./events";
import type { FeedState, StreamOpener, Timers } from "./events";
import { buildStatusModel, findImportDoc, statusBarText, taskNote, noteFileName } from "./model";
import type { StatusModel, WorkerSnapshot } from "./model";
import { WorkerSession } from "./session";

export type RefreshMode = "live" | "poll" | "manual";

export interface PluginSettings {
  serverUrl: string;
  adminToken: string;
  workerToken: string;
  workerId: string;
  workerName: string;
  refreshMode: RefreshMode;
  pollSeconds: number;
  autoClaim: boolean;
  goOnlineAtStart: boolean;
  notesFolder: string;
}

export const DEFAULT_SETTINGS: PluginSettings = {
  serverUrl: "http://127.0.0.1:8787",
  adminToken: "",
  workerToken: "",
  workerId: "",
  workerName: "",
  refreshMode: "live",
  pollSeconds: 15,
  autoClaim: true,
  goOnlineAtStart: false,
  notesFolder: "OWP",
};

/** Settings from stored data: known keys only, each of the right type, bounded. */
export function loadSettings(data: unknown): PluginSettings {
  const s: PluginSettings = { ...DEFAULT_SETTINGS };
  if (!data || typeof data !== "object") return s;
  const d = data as Record<string, unknown>;
  for (const k of Object.keys(DEFAULT_SETTINGS) as (keyof PluginSettings)[]) {
    const v = d[k];
    if (typeof v === typeof DEFAULT_SETTINGS[k]) (s as unknown as Record<string, unknown>)[k] = v;
  }
  if (!["live", "poll", "manual"].includes(s.refreshMode)) s.refreshMode = "live";
  s.pollSeconds = Math.min(600, Math.max(5, Math.round(s.pollSeconds) || 15));
  return s;
}

export interface ControllerHooks {
  /** the status model or the status-bar text may have changed */
  changed(): void;
  /** a new lease was offered */
  offered(lease: Lease): void;
  /** a background step failed (shown, never thrown at the editor) */
  backgroundError(e: unknown): void;
  /** the settings changed (worker registered): persist them */
  save(): Promise<void>;
}

export interface ControllerDeps {
  requester: Requester;
  opener?: StreamOpener;
  timers?: Timers;
  now?: () => number;
}

export interface ImportResult {
  ok: boolean;
  source?: string;
  tasks?: Task[];
  /** what to show, one line each */
  lines: string[];
}

export class Controller {
  readonly client: OwpClient;
  readonly session: WorkerSession;
  feed: EventFeed | null = null;
  state: AdminState | null = null;
  events: OwpEvent[] = [];
  feedState: FeedState | "idle" = "idle";
  feedDetail: string | undefined;
  private refreshing: Promise<void> | null = null;
  /** a state read planned after a burst of events */
  private pending: unknown = null;
  private pendingWorker = false;
  private readonly now: () => number;

  constructor(
    public settings: PluginSettings,
    private readonly deps: ControllerDeps,
    private readonly hooks: ControllerHooks,
  ) {
    this.now = deps.now ?? Date.now;
    this.client = new OwpClient(deps.requester, () => ({
      baseUrl: this.settings.serverUrl,
      adminToken: this.settings.adminToken || undefined,
      workerToken: this.settings.workerToken || undefined,
    }));
    this.session = new WorkerSession({
      client: this.client,
      autoClaim: () => this.settings.autoClaim,
      onChange: () => this.hooks.changed(),
      onOffer: (l) => this.hooks.offered(l),
      onError: (e) => this.hooks.backgroundError(e),
      timers: deps.timers,
    });
  }

  private get timers(): Timers {
    return (
      this.deps.timers ?? {
        setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
        clearTimeout: (h) => globalThis.clearTimeout(h as ReturnType<typeof setTimeout>),
      }
    );
  }

  // ---- the pool's state and its live feed ----

  /** Starts following the pool as the settings say (live stream, polling, or nothing). */
  async start(): Promise<void> {
    this.stop();
    const jobs: Promise<unknown>[] = [];
    if (this.settings.workerToken) jobs.push(this.session.refresh().catch((e) => this.hooks.backgroundError(e)));
    if (this.settings.adminToken) jobs.push(this.refreshState().catch((e) => this.hooks.backgroundError(e)));
    await Promise.all(jobs);
    if (!this.settings.adminToken || this.settings.refreshMode === "manual") return;
    this.feed = new EventFeed({
      client: this.client,
      opener: this.settings.refreshMode === "live" ? this.deps.opener : undefined,
      pollSeconds: this.settings.pollSeconds,
      timers: this.deps.timers,
      onEvents: (evs) => this.onEvents(evs),
      onState: (s, why) => {
        this.feedState = s;
        this.feedDetail = why;
        this.hooks.changed();
      },
    });
    this.feed.seen(this.events);
    this.feed.start();
  }

  stop(): void {
    this.feed?.stop();
    this.feed = null;
    if (this.pending !== null) this.timers.clearTimeout(this.pending);
    this.pending = null;
    this.feedState = "idle";
  }

  dispose(): void {
    this.stop();
    this.session.dispose();
  }

  private onEvents(evs: OwpEvent[]) {
    this.events = mergeEvents(this.events, evs);
    this.hooks.changed();
    // The events say what changed; the state says what it looks like now (budgets, loads). A
    // burst of events is one read, a second after its first event (at most one read a second).
    const mine = !!this.settings.workerToken && evs.some((e) => e.worker_id === this.settings.workerId);
    this.pendingWorker ||= mine;
    if (this.pending !== null) return;
    this.pending = this.timers.setTimeout(() => {
      this.pending = null;
      void this.refreshState().catch((e) => this.hooks.backgroundError(e));
      if (this.pendingWorker) {
        this.pendingWorker = false;
        void this.session.refresh().catch((e) => this.hooks.backgroundError(e));
      }
    }, 1000);
  }

  /** Reads the whole state now (one read at a time; callers share it). */
  refreshState(): Promise<void> {
    if (!this.refreshing) {
      this.refreshing = (async () => {
        try {
          const st = await this.client.state(50);
          this.state = st;
          this.events = mergeEvents(this.events, st.events);
          this.feed?.seen(st.events);
          this.hooks.changed();
        } finally {
          this.refreshing = null;
        }
      })();
    }
    return this.refreshing;
  }

  /** Everything refreshed: state (admin) and the worker's seat. */
  async refreshAll(): Promise<void> {
    const jobs: Promise<unknown>[] = [];
    if (this.settings.adminToken) jobs.push(this.refreshState());
    if (this.settings.workerToken) jobs.push(this.session.refresh());
    await Promise.all(jobs);
  }

  model(): StatusModel {
    const snap = this.settings.workerToken ? this.workerSnapshot() : null;
    return buildStatusModel({
      state: this.state,
      events: this.events,
      worker: snap,
      feed: this.feedState,
      feedDetail: this.feedDetail,
      now: this.now(),
    });
  }

  workerSnapshot(): WorkerSnapshot | null {
    const s = this.session.snapshot;
    if (s) return { ...s, online: this.session.online };
    if (!this.settings.workerToken) return null;
    // Not heard from the server yet: a stand-in of the wire's shape, from the saved settings.
    return {
      worker: {
        worker_id: this.settings.workerId,
        name: this.settings.workerName || "this vault",
        skills: [],
        capacity_points: 0,
        max_concurrent_tasks: 0,
        status: "idle",
        online: false,
        last_heartbeat: null,
        capabilities: {},
        trust_level: 0,
        created_at: "",
        active_points: 0,
        active_tasks: 0,
      },
      leases: [],
      online: false,
    };
  }

  statusBar(): string {
    return statusBarText(this.workerSnapshot(), !!this.settings.workerToken, this.now());
  }

  // ---- admin ----

  async initRepo(repo: string, maxOpenPrs: number, areaLocks: boolean): Promise<RepoPolicy> {
    const p = await this.client.upsertRepo({ repo: repo.trim(), max_open_prs: maxOpenPrs, area_locks_enabled: areaLocks });
    await this.refreshState().catch(() => undefined);
    return p;
  }

  async setBudget(repo: string, maxOpenPrs: number): Promise<RepoPolicy> {
    const p = await this.client.upsertRepo({ repo, max_open_prs: maxOpenPrs });
    await this.refreshState().catch(() => undefined);
    return p;
  }

  async setTaskStatus(taskId: string, status: TaskStatus, reason?: string): Promise<Task> {
    const t = await this.client.setTaskStatus(taskId, status, reason);
    await this.refreshState().catch(() => undefined);
    return t;
  }

  /** A task's proposals as a maintainer (or the admin) sees them: every one, with scorecards. */
  taskProposals(taskId: string): Promise<Proposal[]> {
    return this.client.proposals(taskId.trim(), "admin");
  }

  /** Approves a proposal: the proposer holds the task. The lines say what happened. */
  async approveProposal(proposalId: string): Promise<string[]> {
    const r = await this.client.approveProposal(proposalId.trim());
    await this.refreshState().catch(() => undefined);
    const who = r.proposal.login ?? `worker ${r.proposal.worker_id}`;
    const lines = [`Approved ${r.proposal.proposal_id}: ${who} holds task ${r.proposal.task_id}.`];
    if (r.lease) lines.push(`Lease ${r.lease.lease_id}, to be accepted by ${r.lease.accept_by}.`);
    return lines;
  }

  /** Declines a proposal, with the reason the proposer is told. */
  async declineProposal(proposalId: string, reason?: string): Promise<string[]> {
    const p = await this.client.declineProposal(proposalId.trim(), reason?.trim() || undefined);
    await this.refreshState().catch(() => undefined);
    return [`Declined ${p.proposal_id} (task ${p.task_id}).`];
  }

  /** Imports the task document of a note; the server's errors come back line by line. */
  async importFromNote(note: string): Promise<ImportResult> {
    const doc = findImportDoc(note);
    if (!doc) {
      return {
        ok: false,
        lines: [
          "No task document in this note.",
          "Add a ```yaml code block (or front matter) with `repo:` and `tasks:`.",
        ],
      };
    }
    try {
      const tasks = await this.client.importYaml(doc.yaml);
      await this.refreshState().catch(() => undefined);
      const repo = tasks[0]?.repo ?? "";
      return {
        ok: true,
        source: doc.source,
        tasks,
        lines: [`Imported ${tasks.length} task${tasks.length === 1 ? "" : "s"}${repo ? ` into ${repo}` : ""} (from the ${doc.source}).`],
      };
    } catch (e) {
      return { ok: false, source: doc.source, lines: errorLines(e) };
    }
  }

  // ---- worker ----

  async registerWorker(input: RegisterInput): Promise<void> {
    const r = await this.session.register(input);
    this.settings.workerToken = r.token;
    this.settings.workerId = r.worker_id;
    this.settings.workerName = input.name;
    await this.hooks.save();
    await this.session.refresh();
  }

  /** The held lease of a task (for "report PR" and "open as note"). */
  leaseOfTask(taskId: string): Lease | null {
    return this.session.snapshot?.leases.find((l) => l.task.task_id === taskId) ?? null;
  }

  /** The note for a task: its path and its Markdown. */
  async taskNote(taskId: string): Promise<{ path: string; text: string }> {
    const lease = this.leaseOfTask(taskId);
    const who = lease || !this.settings.adminToken ? "worker" : "admin";
    const task = await this.client.task(taskId, who);
    // Its proposals, as this person may see them (a maintainer: all, with scorecards; a worker:
    // its own); a server without proposals, or a refusal, leaves the section out.
    const proposals = await this.client.proposals(taskId, who).catch(() => null);
    const folder = this.settings.notesFolder.trim().replace(/^\/+|\/+$/g, "");
    const name = noteFileName(task);
    return { path: folder ? `${folder}/${name}` : name, text: taskNote(task, lease, proposals) };
  }
}

/** Events by id, oldest first, without repeats, at most `cap` kept. */
export function mergeEvents(a: OwpEvent[], b: OwpEvent[], cap = 200): OwpEvent[] {
  const byId = new Map<number, OwpEvent>();
  for (const e of a) byId.set(e.id, e);
  for (const e of b) byId.set(e.id, e);
  return [...byId.values()].sort((x, y) => x.id - y.id).slice(-cap);
}

/** Any failure as lines to show (the server's problem, or what went wrong locally). */
export function errorLines(e: unknown): string[] {
  if (e instanceof OwpError) return e.lines();
  if (e instanceof Error) return [e.message];
  return [String(e)];
}
