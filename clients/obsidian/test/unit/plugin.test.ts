// The Obsidian side, loaded in Node with the stand-in `obsidian` module (test/obsidian-stub.ts).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { App, Notice, Setting, WorkspaceLeaf } from "obsidian";
import OwpPoolPlugin, { OwpSettingTab, StatusView, VIEW_TYPE } from "../../main";
import { renderStatus } from "../../src/render";
import type { ViewActions } from "../../src/render";
import { buildStatusModel } from "../../src/model";
import { fakeRoot } from "../fake-dom";
import type { FakeElement } from "../fake-dom";
import { lease, state, task } from "../fixtures";

const ADMIN = "admin-token-that-must-stay-hidden";
const WORKER = "worker-token-that-must-stay-hidden";

async function loaded(data: unknown) {
  const app = new App();
  const p = new OwpPoolPlugin(app as never, { id: "owp-pool", version: "0.1.0" } as never);
  (p as unknown as { data: unknown }).data = data;
  await p.onload();
  return { app, p, stub: p as unknown as { commands: { id: string; checkCallback: (c: boolean) => boolean }[]; ribbons: string[]; statusBar: FakeElement[] } };
}

test("the plugin registers its commands, ribbon icon, status bar item and view", async () => {
  const { p, stub } = await loaded({ serverUrl: "http://127.0.0.1:9", refreshMode: "manual" });
  const ids = stub.commands.map((c) => c.id);
  for (const id of ["open-status", "refresh", "init-repo", "import-note", "set-budget", "block-task", "unblock-task", "register-worker", "go-online", "go-offline", "claim", "ack", "nack", "renew", "report-pr", "open-task-note"]) {
    assert.ok(ids.includes(id), `command ${id}`);
  }
  // Without tokens only what needs none is offered in the palette.
  const available = stub.commands.filter((c) => c.checkCallback(true)).map((c) => c.id);
  assert.deepEqual(available.sort(), ["open-status", "refresh", "register-worker"]);
  assert.equal(stub.ribbons.length, 1);
  assert.equal(stub.statusBar[0].textContent, "OWP: no worker");
  p.onunload();
});

test("tokens are never shown, logged or put back into the settings page", async () => {
  const logged: string[] = [];
  const orig = { log: console.log, warn: console.warn, error: console.error };
  for (const k of ["log", "warn", "error"] as const) console[k] = (...a: unknown[]) => void logged.push(a.map(String).join(" "));
  try {
    Notice.shown.length = 0;
    // A server that is not there: every call fails, and the failures are reported.
    const { app, p, stub } = await loaded({ serverUrl: "http://127.0.0.1:9", adminToken: ADMIN, workerToken: WORKER, workerName: "ada", refreshMode: "manual" });
    assert.equal(stub.statusBar[0].textContent, "OWP: offline");
    stub.commands.find((c) => c.id === "go-online")!.checkCallback(false);
    stub.commands.find((c) => c.id === "refresh")!.checkCallback(false);
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(Notice.shown.some((n) => /Go online failed:\nCannot reach http:\/\/127.0.0.1:9/.test(n)), Notice.shown.join(" | "));
    Setting.all.length = 0;
    const tab = new OwpSettingTab(app as never, p);
    tab.display();
    const page = JSON.stringify(Setting.all.map((s) => [s.name, s.desc, s.components.map((c) => [c.value, c.inputEl.attributes])])) + (tab.containerEl as unknown as FakeElement).textContent;
    assert.match(page, /\.obsidian\/plugins\/owp-pool\/data\.json/);
    assert.match(page, /stored — type a new one to replace it/);
    const everything = page + Notice.shown.join("\n") + logged.join("\n");
    assert.ok(!everything.includes(ADMIN) && !everything.includes(WORKER), "a token leaked");
    p.onunload();
  } finally {
    Object.assign(console, orig);
  }
});

test("a token typed into the settings is stored and the field emptied", async () => {
  const { app, p } = await loaded({ serverUrl: "http://127.0.0.1:9", refreshMode: "manual" });
  Setting.all.length = 0;
  new OwpSettingTab(app as never, p).display();
  const field = Setting.all.find((s) => s.name === "Admin token")!.components[0].inputEl as unknown as FakeElement & { value: string };
  field.value = `  ${ADMIN} `;
  for (const fn of field.listeners.change ?? []) fn({ preventDefault() {} });
  assert.equal(field.value, "");
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(p.settings.adminToken, ADMIN);
  assert.equal(((p as unknown as { data: { adminToken: string } }).data).adminToken, ADMIN);
  p.onunload();
});

test("the view renders the pool: gauges, throttled state, workers, events, the offer's buttons", async () => {
  const now = Date.now();
  const st = state();
  st.tasks.push(task({ task_id: "t_9", key: "acme/widgets#14", waiting_on_paths: ["acme/widgets#12"] }));
  const m = buildStatusModel({
    state: st,
    events: state().events,
    worker: { worker: state().workers[0], leases: [lease(now)], online: true },
    feed: "disconnected",
    feedDetail: "connect ECONNREFUSED",
    now,
  });
  const root = fakeRoot();
  const calls: string[] = [];
  const actions = new Proxy({}, { get: (_t, k) => (arg?: string) => calls.push(`${String(k)}(${arg ?? ""})`) }) as ViewActions;
  renderStatus(root as never, m, actions);
  assert.equal(root.find("owp-conn")!.textContent, "disconnected");
  assert.match(root.find("owp-banner")!.textContent, /Retrying by itself/);
  const repos = root.findAll("owp-repo");
  assert.equal(repos.length, 2);
  assert.ok(repos[0].classList.contains("is-throttled"));
  assert.equal(repos[0].find("owp-gauge-fill")!.style.width, "100%");
  assert.equal(repos[0].find("owp-gauge")!.getAttribute("aria-valuenow"), "2");
  assert.equal(repos[0].find("owp-pill-throttled")!.textContent, "throttled");
  assert.ok(!repos[1].classList.contains("is-throttled"));
  assert.deepEqual(
    repos[0].findAll("owp-waiting").map((w) => w.textContent),
    ["acme/widgets#14: waiting on the files acme/widgets#12 is changing"],
  );
  assert.equal(repos[1].findAll("owp-waiting").length, 0);
  assert.equal(root.findAll("owp-worker").length, 1);
  assert.equal(root.findAll("owp-event").length, 2);
  const offer = root.find("owp-lease-offered")!;
  assert.match(offer.textContent, /accept within 1:3\d/);
  const [accept, reject] = offer.findAll("owp-btn");
  accept.click();
  reject.click();
  assert.deepEqual(calls, ["ack(l_1)", "nack(l_1)"]);
});

test("the view registered with Obsidian renders the controller's model", async () => {
  const { p } = await loaded({ serverUrl: "http://127.0.0.1:9", refreshMode: "manual" });
  const leaf = new WorkspaceLeaf();
  const view = new StatusView(leaf as never, p);
  leaf.view = view;
  assert.equal(view.getViewType(), VIEW_TYPE);
  await view.onOpen();
  const el = view.contentEl as unknown as FakeElement;
  assert.match(el.textContent, /No worker registered in this vault/);
  assert.match(el.textContent, /Set the admin token/);
  p.onunload();
});

test("manifest and versions agree with package.json", () => {
  const manifest = JSON.parse(readFileSync("manifest.json", "utf8"));
  const versions = JSON.parse(readFileSync("versions.json", "utf8"));
  const pkg = JSON.parse(readFileSync("package.json", "utf8"));
  assert.equal(manifest.version, pkg.version);
  assert.equal(versions[manifest.version], manifest.minAppVersion);
  assert.equal(manifest.isDesktopOnly, false);
});
