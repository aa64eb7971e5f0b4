import assert from "node:assert/strict";
import { test } from "node:test";
import { Controller, DEFAULT_SETTINGS } from "../../src/controller";
import type { StreamHandlers, Timers } from "../../src/events";
import { event } from "../fixtures";

class ManualTimers implements Timers {
  pending = new Map<number, { fn: () => void; ms: number }>();
  n = 0;
  setTimeout(fn: () => void, ms: number) {
    this.pending.set(++this.n, { fn, ms });
    return this.n;
  }
  clearTimeout(h: unknown) {
    this.pending.delete(h as number);
  }
  /** Runs every pending timer of exactly `ms`. */
  fire(ms: number) {
    for (const [id, t] of [...this.pending]) {
      if (t.ms === ms) {
        this.pending.delete(id);
        t.fn();
      }
    }
  }
}

test("a burst of streamed events leads to one state read, a second later", async () => {
  let reads = 0;
  const timers = new ManualTimers();
  let stream: StreamHandlers | null = null;
  const ctl = new Controller(
    { ...DEFAULT_SETTINGS, adminToken: "adm", serverUrl: "http://h:1" },
    {
      requester: async (r) => {
        assert.match(r.url, /\/v1\/admin\/state/);
        reads++;
        return { status: 200, text: JSON.stringify({ repos: [], workers: [], tasks: [], events: [event(1)] }) };
      },
      opener: (_u, _h, h) => {
        stream = h;
        return { close() {} };
      },
      timers,
    },
    { changed() {}, offered() {}, backgroundError: (e) => assert.fail(String(e)), save: async () => undefined },
  );
  await ctl.start();
  assert.equal(reads, 1, "one read at start");
  assert.ok(stream, "the stream is opened");
  const s = stream as StreamHandlers;
  s.onOpen();
  for (const id of [2, 3, 4]) s.onChunk(`id: ${id}\ndata: ${JSON.stringify(event(id))}\n\n`);
  assert.deepEqual(
    ctl.events.map((e) => e.id),
    [1, 2, 3, 4],
    "events are shown at once",
  );
  assert.equal(reads, 1, "no read per event");
  timers.fire(1000);
  await new Promise((r) => setImmediate(r));
  assert.equal(reads, 2, "one read for the burst");
  ctl.dispose();
  assert.equal(ctl.feedState, "idle");
});
