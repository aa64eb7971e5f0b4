// The vault's worker seat: online/offline with heartbeats, the current leases, claims and the
// lease actions. No Obsidian here; the plugin shows what this reports.

import type { Lease, OwpClient, Registration, RegisterInput, Task } from "./api";
import type { Timers } from "./events";
import type { WorkerSnapshot } from "./model";

export interface SessionOptions {
  client: OwpClient;
  /** ask for work by itself while online and holding no lease */
  autoClaim: () => boolean;
  onChange(s: WorkerSnapshot | null): void;
  onOffer(lease: Lease): void;
  onError(e: unknown): void;
  timers?: Timers;
}

export class WorkerSession {
  snapshot: WorkerSnapshot | null = null;
  online = false;
  /** seconds between heartbeats: a third of the server's presence window */
  heartbeatSeconds = 30;
  private timer: unknown = null;
  private readonly timers: Timers;
  private ticking = false;

  constructor(private readonly o: SessionOptions) {
    this.timers = o.timers ?? {
      setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
      clearTimeout: (h) => globalThis.clearTimeout(h as ReturnType<typeof setTimeout>),
    };
  }

  /** Registers a new worker; the caller stores the token (it is shown nowhere). */
  async register(input: RegisterInput): Promise<Registration> {
    const r = await this.o.client.register(input);
    this.heartbeatSeconds = Math.max(5, Math.floor(r.heartbeat_ttl_seconds / 3));
    return r;
  }

  /** Reads the worker and its leases (also marks it online on the server, as every call does). */
  async refresh(): Promise<WorkerSnapshot> {
    const me = await this.o.client.me();
    this.snapshot = { worker: me.worker, leases: me.leases, online: this.online };
    this.o.onChange(this.snapshot);
    return this.snapshot;
  }

  async goOnline(): Promise<WorkerSnapshot> {
    // Heartbeats at a third of the server's presence window (a pasted token never saw it).
    try {
      const ttl = Number((await this.o.client.meta()).heartbeat_ttl_seconds);
      if (ttl > 0) this.heartbeatSeconds = Math.max(5, Math.floor(ttl / 3));
    } catch {
      /* an older server without /v1/meta: keep the default */
    }
    await this.o.client.heartbeat("idle");
    this.online = true;
    const snap = await this.refresh();
    this.schedule();
    if (this.o.autoClaim()) await this.claimIfIdle();
    return snap;
  }

  /** Stops heartbeats and tells the server the seat is paused (no new offers). */
  async goOffline(): Promise<void> {
    this.online = false;
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = null;
    try {
      await this.o.client.heartbeat("paused");
      await this.refresh();
    } catch (e) {
      if (this.snapshot) this.snapshot = { ...this.snapshot, online: false };
      this.o.onChange(this.snapshot);
      throw e;
    }
  }

  /** Stops the timers without telling the server (the plugin unloads). */
  dispose(): void {
    this.online = false;
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule() {
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = this.timers.setTimeout(() => {
      this.timer = null;
      void this.tick();
    }, this.heartbeatSeconds * 1000);
  }

  /** One heartbeat round: heartbeat (renews held leases), re-read, maybe claim. */
  async tick(): Promise<void> {
    if (!this.online || this.ticking) return;
    this.ticking = true;
    try {
      await this.o.client.heartbeat("idle");
      await this.refresh();
      if (this.o.autoClaim()) await this.claimIfIdle();
    } catch (e) {
      this.o.onError(e);
    } finally {
      this.ticking = false;
      if (this.online) this.schedule();
    }
  }

  /** Asks for work when no offer is waiting; an offer is reported through `onOffer`. */
  async claimIfIdle(): Promise<Lease | null> {
    if (this.snapshot?.leases.some((l) => l.task.status === "leased")) return null;
    return this.claim();
  }

  async claim(): Promise<Lease | null> {
    const lease = await this.o.client.claim();
    if (lease) {
      await this.refresh();
      this.o.onOffer(lease);
    }
    return lease;
  }

  /** The lease to act on: the one named, else the only (or first) one held. */
  pick(leaseId?: string, phase?: "offered" | "working"): Lease | null {
    const leases = this.snapshot?.leases ?? [];
    if (leaseId) return leases.find((l) => l.lease_id === leaseId) ?? null;
    const want = phase ? leases.filter((l) => (phase === "offered") === (l.task.status === "leased")) : leases;
    return want[0] ?? null;
  }

  private async after<T>(p: Promise<T>): Promise<T> {
    const v = await p;
    await this.refresh();
    return v;
  }

  ack(leaseId: string): Promise<Task> {
    return this.after(this.o.client.ack(leaseId));
  }
  nack(leaseId: string, reason?: string): Promise<Task> {
    return this.after(this.o.client.nack(leaseId, reason));
  }
  renew(leaseId: string): Promise<Task> {
    return this.after(this.o.client.renew(leaseId));
  }
  reportPr(taskId: string, prUrl: string, note?: string): Promise<Task> {
    return this.after(this.o.client.reportPr(taskId, prUrl, note));
  }
}

/** `"rust, docs ,"` → `["rust", "docs"]` */
export function parseSkills(s: string): string[] {
  return s
    .split(/[,\n]/)
    .map((x) => x.trim())
    .filter((x) => x.length > 0);
}
