// The live event feed: Server-Sent Events from `GET /v1/events` where a stream can be held,
// resumed with `Last-Event-ID` after a drop, and polling `GET /v1/admin/state` where it cannot.

import type { OwpClient, OwpEvent } from "./api";

/** One parsed SSE message. */
export interface SseMessage {
  id?: string;
  event?: string;
  data: string;
}

/** An incremental SSE parser (the WHATWG rules that OWP uses: id, event, data, comments). */
export class SseParser {
  private buf = "";
  private id: string | undefined;
  private event: string | undefined;
  private data: string[] = [];

  /** Feeds a chunk of the stream; returns the messages it completed. */
  push(chunk: string): SseMessage[] {
    this.buf += chunk;
    const out: SseMessage[] = [];
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.buf);
      if (!m) break;
      // A lone \r at the end of a chunk may be half of \r\n: wait for more.
      if (m[0] === "\r" && m.index === this.buf.length - 1) break;
      const line = this.buf.slice(0, m.index);
      this.buf = this.buf.slice(m.index + m[0].length);
      if (line === "") {
        if (this.data.length > 0) out.push({ id: this.id, event: this.event, data: this.data.join("\n") });
        this.data = [];
        this.event = undefined;
        continue;
      }
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "data") this.data.push(value);
      else if (field === "event") this.event = value;
      else if (field === "id" && !value.includes("\0")) this.id = value;
    }
    return out;
  }
}

export interface StreamHandlers {
  onOpen(): void;
  onChunk(text: string): void;
  onClose(error?: string): void;
}

export interface StreamHandle {
  close(): void;
}

/** Opens a long-lived GET and hands its body over as it arrives. */
export type StreamOpener = (url: string, headers: Record<string, string>, h: StreamHandlers) => StreamHandle;

type NodeHttp = {
  request(url: URL, opts: { method: string; headers: Record<string, string> }, cb: (res: NodeRes) => void): NodeReq;
};
type NodeReq = { on(ev: "error", cb: (e: Error) => void): void; end(): void; destroy(): void };
type NodeRes = {
  statusCode?: number;
  setEncoding(e: string): void;
  on(ev: "data", cb: (c: string) => void): void;
  on(ev: "end" | "close", cb: () => void): void;
  on(ev: "error", cb: (e: Error) => void): void;
  resume(): void;
};

/** A stream over Node's `http`/`https` (Obsidian desktop, tests): no CORS, real streaming. */
export function nodeStreamOpener(http: NodeHttp, https: NodeHttp): StreamOpener {
  return (url, headers, h) => {
    let done = false;
    const finish = (err?: string) => {
      if (done) return;
      done = true;
      h.onClose(err);
    };
    const u = new URL(url);
    const mod = u.protocol === "https:" ? https : http;
    const req = mod.request(u, { method: "GET", headers: { ...headers, Accept: "text/event-stream" } }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        finish(`the event stream answered ${res.statusCode}`);
        req.destroy();
        return;
      }
      h.onOpen();
      res.setEncoding("utf8");
      res.on("data", (c) => {
        if (!done) h.onChunk(c);
      });
      res.on("end", () => finish("the event stream ended"));
      res.on("close", () => finish("the event stream closed"));
      res.on("error", (e) => finish(e.message));
    });
    req.on("error", (e) => finish(e.message));
    req.end();
    return {
      close() {
        done = true;
        req.destroy();
      },
    };
  };
}

export type FeedState = "connecting" | "live" | "polling" | "disconnected" | "stopped";

export interface FeedOptions {
  client: OwpClient;
  /** How to hold a stream; absent (mobile) means polling only. */
  opener?: StreamOpener;
  /** Seconds between polls when there is no stream. */
  pollSeconds: number;
  onEvents(events: OwpEvent[]): void;
  onState(state: FeedState, why?: string): void;
  timers?: Timers;
}

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(h: unknown): void;
}

const realTimers: Timers = {
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (h) => globalThis.clearTimeout(h as ReturnType<typeof setTimeout>),
};

/** The delay before reconnect attempt `n` (0-based): 1 s, 2 s, 4 s, … at most 30 s. */
export function backoffMs(n: number): number {
  return Math.min(30_000, 1000 * 2 ** Math.min(n, 5));
}

/**
 * Keeps events coming: streams when it can, reconnects by itself with the last id it saw (so
 * nothing is skipped or repeated), and polls the admin state when no stream can be held (or after
 * the stream failed three times in a row, until a later stream attempt works).
 */
export class EventFeed {
  lastId = 0;
  state: FeedState = "stopped";
  private handle: StreamHandle | null = null;
  private timer: unknown = null;
  private failures = 0;
  private pollsSinceTry = 0;
  private running = false;
  private readonly timers: Timers;

  constructor(private readonly o: FeedOptions) {
    this.timers = o.timers ?? realTimers;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.failures = 0;
    this.connect();
  }

  stop(): void {
    this.running = false;
    this.handle?.close();
    this.handle = null;
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = null;
    this.set("stopped");
  }

  /** Events already known (from a state read): the stream resumes after the newest. */
  seen(events: OwpEvent[]): void {
    for (const e of events) if (e.id > this.lastId) this.lastId = e.id;
  }

  private set(s: FeedState, why?: string) {
    this.state = s;
    this.o.onState(s, why);
  }

  private deliver(events: OwpEvent[]) {
    const fresh = events.filter((e) => e.id > this.lastId).sort((a, b) => a.id - b.id);
    if (fresh.length === 0) return;
    this.lastId = fresh[fresh.length - 1].id;
    this.o.onEvents(fresh);
  }

  private schedule(ms: number, fn: () => void) {
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = this.timers.setTimeout(() => {
      this.timer = null;
      if (this.running) fn();
    }, ms);
  }

  private connect() {
    if (!this.running) return;
    if (!this.o.opener || this.failures >= 3) {
      void this.poll();
      return;
    }
    let headers: Record<string, string>;
    try {
      headers = this.o.client.authHeaders("admin");
    } catch (e) {
      this.set("disconnected", (e as Error).message);
      return;
    }
    if (this.lastId > 0) headers["Last-Event-ID"] = String(this.lastId);
    this.set("connecting");
    const parser = new SseParser();
    const url = `${this.o.client.baseUrl}/v1/events`;
    this.handle = this.o.opener(url, headers, {
      onOpen: () => {
        this.failures = 0;
        this.set("live");
      },
      onChunk: (text) => {
        const events: OwpEvent[] = [];
        for (const m of parser.push(text)) {
          try {
            events.push(JSON.parse(m.data) as OwpEvent);
          } catch {
            /* a message that is not an event: ignore it */
          }
        }
        this.deliver(events);
      },
      onClose: (err) => {
        this.handle = null;
        if (!this.running) return;
        this.failures += 1;
        this.set("disconnected", err);
        this.schedule(backoffMs(this.failures - 1), () => this.connect());
      },
    });
  }

  private async poll() {
    if (!this.running) return;
    try {
      const st = await this.o.client.state(200);
      if (!this.running) return;
      this.deliver(st.events);
      this.set("polling");
    } catch (e) {
      if (!this.running) return;
      this.set("disconnected", (e as Error).message);
    }
    // Every few polls, try the stream again (when there is one).
    if (this.o.opener && ++this.pollsSinceTry >= 4) {
      this.pollsSinceTry = 0;
      this.failures = 2; // one more try; a failure goes back to polling
    }
    this.schedule(this.o.pollSeconds * 1000, () => this.connect());
  }
}
