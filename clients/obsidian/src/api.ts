// The OWP HTTP API, independent of Obsidian: every call goes through a `Requester`, so the plugin
// can use Obsidian's `requestUrl` (no CORS in the way) and tests can use `fetch`.

import type { components } from "./owp-api";

export interface HttpRequest {
  method: "GET" | "POST";
  url: string;
  headers: Record<string, string>;
  body?: string;
}

export interface HttpResponse {
  status: number;
  text: string;
}

export type Requester = (req: HttpRequest) => Promise<HttpResponse>;

/** A requester built on a WHATWG `fetch` (Node 18+, browsers). */
export function fetchRequester(f: typeof fetch = fetch): Requester {
  return async (req) => {
    const res = await f(req.url, { method: req.method, headers: req.headers, body: req.body });
    return { status: res.status, text: await res.text() };
  };
}

/** An answer of the server that is not a success, or a server that could not be reached. */
export class OwpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
  ) {
    super(status ? `${status} ${code}: ${detail}` : detail);
    this.name = "OwpError";
  }

  /** The problem as lines to show one by one: the code first, then each line of the detail. */
  lines(): string[] {
    const rest = this.detail
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l.length > 0);
    // A local problem (no server answer) is its detail alone.
    return this.status ? [`HTTP ${this.status} ${this.code}`, ...rest] : rest;
  }
}

// The objects on the wire are those of the OpenAPI document (docs/openapi.json): their types are
// generated into owp-api.d.ts (`npm run gen-api`), never written here a second time.

type LiteralKeys<T> = keyof { [K in keyof T as string extends K ? never : K]: 0 };
/**
 * A wire type without the open `x_*` extension space of tasks, workers and policies (an index
 * signature in the document), so that a misspelt field is a type error; free-form objects
 * (`artifact`, `capabilities`, `data`) stay as they are.
 */
export type Known<T> = T extends readonly (infer U)[]
  ? Known<U>[]
  : T extends object
    ? [LiteralKeys<T>] extends [never]
      ? T
      : { [K in keyof T as string extends K ? never : K]: Known<T[K]> }
    : T;
type Schemas = { [N in keyof components["schemas"]]: Known<components["schemas"][N]> };
export type DeviceStart = Schemas["DeviceStart"];
export type MaintainerToken = Schemas["MaintainerToken"];

/**
 * Signs a maintainer in with GitHub's device flow: `show` tells the person where to enter which
 * code, then the server is polled at the interval it names (slower when it says `slow_down`)
 * until the person approves. The maintainer token it returns replaces the admin token: the
 * server then shows and changes only the repositories GitHub says the person maintains.
 */
export async function signInWithGitHub(
  client: OwpClient,
  show: (start: DeviceStart) => void,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
  cancelled: () => boolean = () => false,
): Promise<MaintainerToken> {
  const start = await client.deviceStart();
  show(start);
  let interval = Math.max(1, start.interval);
  const deadline = Date.now() + start.expires_in * 1000;
  for (;;) {
    await sleep(interval * 1000);
    if (cancelled()) throw new OwpError(0, "cancelled", "The sign-in was cancelled.");
    if (Date.now() > deadline) throw new OwpError(0, "expired_token", "The sign-in code expired before it was approved; start again.");
    try {
      return await client.deviceToken(start.device_code);
    } catch (e) {
      if (e instanceof OwpError && e.status === 428) continue;
      if (e instanceof OwpError && e.status === 429) {
        interval += 5;
        continue;
      }
      throw e;
    }
  }
}

export type TaskStatus = Schemas["TaskStatus"];
export type Contract = Schemas["RepoContract"];
export type Task = Schemas["Task"];
export type Worker = Schemas["Worker"];
export type RepoPolicy = Schemas["RepoPolicy"];
export type OwpEvent = Schemas["Event"];
export type AdminState = Schemas["PoolState"];
export type Lease = Schemas["Lease"];
export type Registration = Schemas["Registration"];
export type RegisterInput = Schemas["RegisterBody"];
export type RepoInput = Schemas["RepoBody"];
export type Meta = Schemas["Meta"];
export type Proposal = Schemas["Proposal"];
export type Scorecard = Schemas["Scorecard"];
export type ProposalState = Schemas["ProposalState"];

/** Every task status, in the order the status view lists them. */
export const TASK_STATUSES: TaskStatus[] = [
  "ready",
  "leased",
  "in_progress",
  "pr_opened",
  "blocked",
  "merged",
  "cancelled",
];

/** The pull request a task's `artifact` names, if any (the artifact is free-form on the wire). */
export function prUrlOf(task: Task): string | null {
  const url = task.artifact?.pr_url;
  return typeof url === "string" && url ? url : null;
}

export interface Credentials {
  baseUrl: string;
  adminToken?: string;
  workerToken?: string;
}

/** A fresh random key for `Idempotency-Key` (one per attempt of a state change). */
export function newIdempotencyKey(): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  return "obsidian-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** `http://host:port/` → `http://host:port` (and a bare host gets `http://`). */
export function normalizeBaseUrl(raw: string): string {
  let url = raw.trim().replace(/\/+$/, "");
  if (url && !/^https?:\/\//i.test(url)) url = "http://" + url;
  return url;
}

type Who = "admin" | "worker" | "anonymous";

export class OwpClient {
  constructor(
    private readonly request: Requester,
    private readonly creds: () => Credentials,
  ) {}

  get baseUrl(): string {
    return normalizeBaseUrl(this.creds().baseUrl);
  }

  hasAdmin(): boolean {
    return !!this.creds().adminToken;
  }

  hasWorker(): boolean {
    return !!this.creds().workerToken;
  }

  /** Headers that authenticate as `who` (used by the event stream too). */
  authHeaders(who: Who): Record<string, string> {
    const c = this.creds();
    if (who === "admin") {
      if (!c.adminToken) throw new OwpError(0, "no_admin_token", "Set the admin token in the OWP Pool settings first.");
      // A maintainer's own token (`owp login`, `owpm_…`) goes as a bearer token: the server then
      // shows and changes only the repositories that person maintains on GitHub.
      if (c.adminToken.startsWith("owpm_")) return { Authorization: `Bearer ${c.adminToken}` };
      return { "X-Admin-Token": c.adminToken };
    }
    if (who === "worker") {
      if (!c.workerToken)
        throw new OwpError(0, "no_worker_token", "Register this vault's worker (or paste a worker token) in the OWP Pool settings first.");
      return { Authorization: `Bearer ${c.workerToken}` };
    }
    return {};
  }

  private async call<T>(
    who: Who,
    method: "GET" | "POST",
    path: string,
    body?: unknown,
    opts: { yaml?: boolean; idempotent?: boolean } = {},
  ): Promise<{ status: number; value: T | null }> {
    const base = this.baseUrl;
    if (!base) throw new OwpError(0, "no_server", "Set the server URL in the OWP Pool settings first.");
    const headers: Record<string, string> = { Accept: "application/json", ...this.authHeaders(who) };
    let payload: string | undefined;
    if (body !== undefined) {
      if (opts.yaml) {
        headers["Content-Type"] = "application/yaml";
        payload = String(body);
      } else {
        headers["Content-Type"] = "application/json";
        payload = JSON.stringify(body);
      }
    }
    if (method === "POST" && opts.idempotent) headers["Idempotency-Key"] = newIdempotencyKey();
    let res: HttpResponse;
    try {
      res = await this.request({ method, url: base + path, headers, body: payload });
    } catch (e) {
      throw new OwpError(0, "unreachable", `Cannot reach ${base}: ${(e as Error)?.message ?? e}`);
    }
    if (res.status >= 200 && res.status < 300) {
      if (res.status === 204 || !res.text) return { status: res.status, value: null };
      return { status: res.status, value: JSON.parse(res.text) as T };
    }
    let code = "http_error";
    let detail = res.text.slice(0, 2000);
    try {
      const p = JSON.parse(res.text);
      if (p && typeof p === "object") {
        code = typeof p.code === "string" ? p.code : code;
        detail = typeof p.detail === "string" ? p.detail : typeof p.title === "string" ? p.title : detail;
      }
    } catch {
      /* not problem+json: keep the text */
    }
    throw new OwpError(res.status, code, detail);
  }

  private async value<T>(p: Promise<{ status: number; value: T | null }>): Promise<T> {
    const r = await p;
    if (r.value === null) throw new OwpError(r.status, "empty_response", "the server answered with no body");
    return r.value;
  }

  // ---- anyone ----
  meta(): Promise<Meta> {
    return this.value(this.call<Meta>("anonymous", "GET", "/v1/meta"));
  }

  // ---- admin ----
  state(events = 50): Promise<AdminState> {
    return this.value(this.call<AdminState>("admin", "GET", `/v1/admin/state?events=${events}`));
  }

  upsertRepo(body: RepoInput): Promise<RepoPolicy> {
    return this.value(this.call<RepoPolicy>("admin", "POST", "/v1/admin/repos", body, { idempotent: true }));
  }

  /** Imports a YAML document (`repo:` and `tasks:`) as the server reads it. */
  async importYaml(yaml: string): Promise<Task[]> {
    const r = await this.value(this.call<Schemas["TaskList"]>("admin", "POST", "/v1/admin/tasks", yaml, { yaml: true, idempotent: true }));
    return r.tasks;
  }

  /** `POST /v1/admin/proposals/{id}/approve`: the proposer holds the task (a worker: a lease). */
  approveProposal(proposalId: string): Promise<Schemas["Approved"]> {
    return this.value(
      this.call<Schemas["Approved"]>("admin", "POST", `/v1/admin/proposals/${encodeURIComponent(proposalId)}/approve`, {}, { idempotent: true }),
    );
  }

  /** `POST /v1/admin/proposals/{id}/decline`, with the reason the proposer is told. */
  declineProposal(proposalId: string, reason?: string): Promise<Proposal> {
    const body: Schemas["DeclineBody"] = {};
    if (reason) body.reason = reason;
    return this.value(
      this.call<Proposal>("admin", "POST", `/v1/admin/proposals/${encodeURIComponent(proposalId)}/decline`, body, { idempotent: true }),
    );
  }

  setTaskStatus(taskId: string, status: TaskStatus, reason?: string): Promise<Task> {
    const body: Schemas["ForceStatusBody"] = { status };
    if (reason) body.reason = reason;
    return this.value(this.call<Task>("admin", "POST", `/v1/admin/tasks/${encodeURIComponent(taskId)}/status`, body, { idempotent: true }));
  }

  // ---- signing in with GitHub (the device flow; the server lists `signin` in its features) ----
  deviceStart(): Promise<DeviceStart> {
    return this.value(this.call<DeviceStart>("anonymous", "POST", "/v1/auth/device"));
  }

  /** One poll: the maintainer token once the person approved on GitHub, else an `OwpError`
   * (`428 authorization_pending`, `429 slow_down`, …). */
  deviceToken(deviceCode: string): Promise<MaintainerToken> {
    return this.value(this.call<MaintainerToken>("anonymous", "POST", "/v1/auth/device/token", { device_code: deviceCode }));
  }

  // ---- worker ----
  async register(input: RegisterInput): Promise<Registration> {
    return this.value(this.call<Registration>("anonymous", "POST", "/v1/workers/register", input, { idempotent: true }));
  }

  heartbeat(status?: "idle" | "paused"): Promise<Schemas["HeartbeatReply"]> {
    return this.value(this.call<Schemas["HeartbeatReply"]>("worker", "POST", "/v1/workers/heartbeat", status ? { status } : {}));
  }

  me(): Promise<Schemas["WorkerSelf"]> {
    return this.value(this.call<Schemas["WorkerSelf"]>("worker", "GET", "/v1/workers/me"));
  }

  /** A claim: the offered lease, or null when nothing is eligible now. */
  async claim(): Promise<Lease | null> {
    const r = await this.call<Schemas["ClaimReply"]>("worker", "POST", "/v1/work", undefined, { idempotent: true });
    return r.value ? r.value.lease : null;
  }

  ack(leaseId: string): Promise<Task> {
    return this.value(this.call<Task>("worker", "POST", `/v1/leases/${encodeURIComponent(leaseId)}/ack`, {}, { idempotent: true }));
  }

  nack(leaseId: string, reason?: string): Promise<Task> {
    return this.value(
      this.call<Task>("worker", "POST", `/v1/leases/${encodeURIComponent(leaseId)}/nack`, reason ? { reason } : {}, { idempotent: true }),
    );
  }

  renew(leaseId: string): Promise<Task> {
    return this.value(this.call<Task>("worker", "POST", `/v1/leases/${encodeURIComponent(leaseId)}/renew`, {}, { idempotent: true }));
  }

  reportPr(taskId: string, prUrl: string, note?: string): Promise<Task> {
    const body: Schemas["StatusBody"] = { status: "pr_opened", artifact: { pr_url: prUrl } };
    if (note) body.note = note;
    return this.value(this.call<Task>("worker", "POST", `/v1/tasks/${encodeURIComponent(taskId)}/status`, body, { idempotent: true }));
  }

  /** A task's proposals: all, with scorecards, for a maintainer or the admin; a worker's own. */
  async proposals(taskId: string, who: "admin" | "worker" = "admin"): Promise<Proposal[]> {
    const r = await this.value(this.call<Schemas["ProposalList"]>(who, "GET", `/v1/tasks/${encodeURIComponent(taskId)}/proposals`));
    return r.proposals;
  }

  /** `POST /v1/tasks/{id}/proposals`: this worker's plan for a task of a repository that takes plans first. */
  propose(taskId: string, plan: string): Promise<Proposal> {
    return this.value(this.call<Proposal>("worker", "POST", `/v1/tasks/${encodeURIComponent(taskId)}/proposals`, { plan }, { idempotent: true }));
  }

  task(taskId: string, who: "admin" | "worker" = "worker"): Promise<Task> {
    return this.value(this.call<Task>(who, "GET", `/v1/tasks/${encodeURIComponent(taskId)}`));
  }
}
