import assert from "node:assert/strict";
import { test } from "node:test";
import { OwpClient } from "../../src/api";
import { EventFeed, SseParser, backoffMs } from "../../src/events";
import type { FeedState, StreamHandlers, Timers } from "../../src/events";
import { event } from "../fixtures";

test("the SSE parser joins messages split anywhere and skips comments", () => {
  const p = new SseParser();
  const text = ': keep-alive\n\nid: 16\r\nevent: task.status\r\ndata: {"id":16}\r\n\r\nid: 17\nevent: x\ndata: a\ndata: b\n\n';
  const out = [];
  for (let i = 0; i < text.length; i += 3) out.push(...p.push(text.slice(i, i + 3)));
  assert.deepEqual(out, [
    { id: "16", event: "task.status", data: '{"id":16}' },
    { id: "17", event: "x", data: "a\nb" },
  ]);
});

test("reconnect delays grow and stop at 30 s", () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5, 9].map(backoffMs), [1000, 2000, 4000, 8000, 16000, 30000, 30000]);
});

class FakeTimers implements Timers {
  queue: { fn: () => void; ms: number; id: number }[] = [];
  n = 0;
  setTimeout(fn: () => void, ms: number) {
    const id = ++this.n;
    this.queue.push({ fn, ms, id });
    return id;
  }
  clearTimeout(h: unknown) {
    this.queue = this.queue.filter((t) => t.id !== h);
  }
  runNext(): number {
    const t = this.queue.shift();
    assert.ok(t, "a timer is pending");
    t.fn();
    return t.ms;
  }
}

function setup(withOpener: boolean, stateAnswer = () => ({ status: 200, text: JSON.stringify({ repos: [], workers: [], tasks: [], events: [event(5), event(6)] }) })) {
  const opened: { url: string; headers: Record<string, string>; h: StreamHandlers }[] = [];
  const states: FeedState[] = [];
  const got: number[] = [];
  const timers = new FakeTimers();
  const client = new OwpClient(async () => stateAnswer(), () => ({ baseUrl: "http://h:1", adminToken: "adm" }));
  const feed = new EventFeed({
    client,
    opener: withOpener
      ? (url, headers, h) => {
          opened.push({ url, headers, h });
          return { close() {} };
        }
      : undefined,
    pollSeconds: 7,
    timers,
    onEvents: (evs) => got.push(...evs.map((e) => e.id)),
    onState: (s) => states.push(s),
  });
  return { feed, opened, states, got, timers };
}

test("the feed streams, drops repeats, and reconnects by itself from the last id", () => {
  const { feed, opened, states, got, timers } = setup(true);
  feed.start();
  assert.equal(opened.length, 1);
  assert.equal(opened[0].url, "http://h:1/v1/events");
  assert.equal(opened[0].headers["X-Admin-Token"], "adm");
  assert.equal(opened[0].headers["Last-Event-ID"], undefined);
  opened[0].h.onOpen();
  assert.equal(feed.state, "live");
  const msg = (id: number) => `id: ${id}\nevent: task.status\ndata: ${JSON.stringify(event(id))}\n\n`;
  opened[0].h.onChunk(msg(3) + msg(4).slice(0, 10));
  opened[0].h.onChunk(msg(4).slice(10) + msg(3));
  assert.deepEqual(got, [3, 4]);
  opened[0].h.onClose("the event stream ended");
  assert.equal(feed.state, "disconnected");
  assert.equal(timers.runNext(), 1000);
  assert.equal(opened.length, 2);
  assert.equal(opened[1].headers["Last-Event-ID"], "4");
  assert.deepEqual(states.slice(0, 4), ["connecting", "live", "disconnected", "connecting"]);
  feed.stop();
  assert.equal(feed.state, "stopped");
});

test("after three failed streams the feed polls, and tries the stream again later", async () => {
  const { feed, opened, got, timers } = setup(true);
  feed.start();
  for (let i = 0; i < 3; i++) {
    opened[opened.length - 1].h.onClose("refused");
    timers.runNext();
  }
  assert.equal(opened.length, 3, "no fourth stream: polling now");
  await new Promise((r) => setImmediate(r));
  assert.equal(feed.state, "polling");
  assert.deepEqual(got, [5, 6]);
  for (let i = 0; i < 4; i++) {
    assert.equal(timers.runNext(), 7000);
    await new Promise((r) => setImmediate(r));
  }
  assert.equal(opened.length, 4, "a stream is tried again after four polls");
  assert.equal(opened[3].headers["Last-Event-ID"], "6");
  feed.stop();
});

test("without a stream (mobile) the feed polls, and shows disconnected when the server is away", async () => {
  let up = true;
  const { feed, states, timers } = setup(false, () => {
    if (!up) throw new Error("offline");
    return { status: 200, text: JSON.stringify({ repos: [], workers: [], tasks: [], events: [] }) };
  });
  feed.start();
  await new Promise((r) => setImmediate(r));
  assert.equal(feed.state, "polling");
  up = false;
  timers.runNext();
  await new Promise((r) => setImmediate(r));
  assert.equal(feed.state, "disconnected");
  up = true;
  timers.runNext();
  await new Promise((r) => setImmediate(r));
  assert.equal(feed.state, "polling");
  assert.deepEqual(states, ["polling", "disconnected", "polling"]);
  feed.stop();
});
