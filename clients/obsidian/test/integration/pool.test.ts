// The plugin's controller against a real `owp serve` (started by tests/it/obsidian_plugin.rs, which
// passes OWP_TEST_SERVER and OWP_TEST_ADMIN_TOKEN): a maintainer's vault and a volunteer's vault,
// through the same requester (Obsidian's requestUrl, here on fetch) and event stream (Node's
// http) the plugin uses on desktop.
import assert from "node:assert/strict";
import * as http from "node:http";
import * as https from "node:https";
import { writeFileSync } from "node:fs";
import { test } from "node:test";
import { obsidianRequester } from "../../main";
import type { Lease } from "../../src/api";
import { Controller, DEFAULT_SETTINGS } from "../../src/controller";
import type { PluginSettings } from "../../src/controller";
import { nodeStreamOpener } from "../../src/events";

const SERVER = process.env.OWP_TEST_SERVER;
const ADMIN = process.env.OWP_TEST_ADMIN_TOKEN;
const skip = !SERVER || !ADMIN ? "OWP_TEST_SERVER and OWP_TEST_ADMIN_TOKEN are not set (tests/it/obsidian_plugin.rs sets them)" : false;

const opener = nodeStreamOpener(http as never, https as never);

function vault(over: Partial<PluginSettings>) {
  const offers: Lease[] = [];
  const errors: unknown[] = [];
  let saves = 0;
  const settings: PluginSettings = { ...DEFAULT_SETTINGS, serverUrl: SERVER ?? "", ...over };
  const ctl = new Controller(settings, { requester: obsidianRequester, opener }, {
    changed: () => undefined,
    offered: (l) => void offers.push(l),
    backgroundError: (e) => void errors.push(e),
    save: async () => void saves++,
  });
  return { ctl, settings, offers, errors, saves: () => saves };
}

async function until<T>(what: string, fn: () => T | undefined | null | false, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const NOTE = `# Plugin backlog

Planned in Obsidian.

\`\`\`yaml
repo: notes/plugin
tasks:
  - key: NP-1
    title: Write the install guide
    description: Manual install from the release assets.
    required_skills: [docs]
    estimate_points: 1
    area: docs
  - key: NP-2
    title: Add a mobile screenshot
    required_skills: [docs]
    area: images
\`\`\`
`;

const BAD_NOTE = `---
repo: notes/plugin
tasks:
  - key: NP-9
    title: Impossible estimate
    estimate_points: 0
---
# A note with front matter tasks
`;

test("a maintainer and a volunteer drive the pool from their vaults", { skip }, async (t) => {
  const admin = vault({ adminToken: ADMIN!, refreshMode: "live" });
  const vol = vault({ refreshMode: "manual" });
  t.after(() => {
    admin.ctl.dispose();
    vol.ctl.dispose();
  });

  // The maintainer: a repo policy (budget 1, with a contract) and tasks imported from a note.
  const p = await admin.ctl.initRepo("notes/plugin", 1, true);
  assert.equal(p.max_open_prs, 1);
  await admin.ctl.client.upsertRepo({ repo: "notes/plugin", max_open_prs: 1, contract: { test: "npm test", branch: "owp/{key}" } });
  const imported = await admin.ctl.importFromNote(NOTE);
  assert.ok(imported.ok, imported.lines.join("\n"));
  assert.equal(imported.source, "code block");
  assert.deepEqual(imported.tasks!.map((t) => t.key), ["NP-1", "NP-2"]);
  assert.deepEqual(imported.lines, ["Imported 2 tasks into notes/plugin (from the code block)."]);

  await admin.ctl.start();
  await until("the live stream", () => admin.ctl.feedState === "live");
  let m = admin.ctl.model();
  const gauge = () => admin.ctl.model().repos.find((r) => r.repo === "notes/plugin")!;
  assert.deepEqual(gauge().budget, { used: 0, max: 1, openPrs: 0, activeLeases: 0, ratio: 0, throttled: false });
  assert.deepEqual(gauge().counts, [{ status: "ready", count: 2 }]);
  const lastEventBefore = m.events[0]?.id ?? 0;

  // The volunteer: register here, go online, and the pool offers work.
  await vol.ctl.registerWorker({ name: "vault-ada", skills: ["docs"], capacity_points: 3, max_concurrent_tasks: 1 });
  assert.equal(vol.saves(), 1, "the token is saved in the plugin's data");
  assert.match(vol.settings.workerToken, /.+/);
  assert.match(vol.settings.workerId, /^w_/);
  assert.equal(vol.ctl.statusBar(), "OWP: offline");
  await vol.ctl.session.goOnline();
  const offer = await until("an offer", () => vol.offers[0]);
  assert.equal(offer.task.key, "NP-1");
  assert.match(vol.ctl.statusBar(), /^OWP: offer: accept within [12]:\d\d$/);
  assert.equal(vol.ctl.model().worker!.leases[0].phase, "offered");

  // The maintainer's view follows by itself: a worker online, the budget full, the event listed.
  await until("the lease in the maintainer's events", () => admin.ctl.model().events.find((e) => e.kind === "task.leased" && e.id > lastEventBefore));
  await until("a full, throttled gauge", () => gauge().budget.throttled && gauge().budget.used === 1);
  m = admin.ctl.model();
  assert.ok(m.workersOnline.some((w) => w.name === "vault-ada"));
  assert.equal(m.connection.label, "live");

  // Accept, renew, open the task as a note, report the pull request.
  const acked = await vol.ctl.session.ack(offer.lease_id);
  assert.equal(acked.status, "in_progress");
  assert.match(vol.ctl.statusBar(), /^OWP: working · 29:\d\d left$/);
  const renewed = await vol.ctl.session.renew(offer.lease_id);
  assert.equal(renewed.status, "in_progress");
  const note = await vol.ctl.taskNote(offer.task.task_id);
  assert.equal(note.path, "OWP/NP-1 Write the install guide.md");
  assert.match(note.text, /# Write the install guide/);
  assert.match(note.text, /Manual install from the release assets\./);
  assert.match(note.text, /```sh\nnpm test\n```/);
  assert.match(note.text, /\*\*Branch\*\*: `owp\/\{key\}`/);
  const pr = await vol.ctl.session.reportPr(offer.task.task_id, "https://git.example.org/notes/plugin/pull/7", "install guide");
  assert.equal(pr.status, "pr_opened");
  assert.equal(vol.ctl.statusBar(), "OWP: online · idle");
  await until("the report in the maintainer's events", () => admin.ctl.model().events.find((e) => e.kind === "task.status" && e.text.includes("→ pr_opened")));
  await until("the gauge counting the open PR", () => gauge().budget.openPrs === 1 && gauge().budget.activeLeases === 0);
  assert.ok(gauge().budget.throttled);

  // The maintainer raises the budget, blocks and unblocks the other task.
  const raised = await admin.ctl.setBudget("notes/plugin", 3);
  assert.equal(raised.throttled, false);
  const other = admin.ctl.state!.tasks.find((t) => t.key === "NP-2")!;
  assert.equal((await admin.ctl.setTaskStatus(other.task_id, "blocked", "needs a device")).status, "blocked");
  assert.equal((await admin.ctl.setTaskStatus(other.task_id, "ready")).status, "ready");
  await until("the unblock event", () => admin.ctl.model().events.find((e) => e.kind === "task.status" && e.text.includes("blocked → ready")));

  // An import with a bad value shows the server's error, line by line, and imports nothing.
  const bad = await admin.ctl.importFromNote(BAD_NOTE);
  assert.equal(bad.ok, false);
  assert.equal(bad.source, "front matter");
  assert.equal(bad.lines[0], "HTTP 422 invalid_estimate_points");
  assert.ok(bad.lines.slice(1).some((l) => l.includes("estimate_points")), bad.lines.join("\n"));
  await admin.ctl.refreshState();
  assert.ok(!admin.ctl.state!.tasks.some((t) => t.key === "NP-9"));

  // Front matter with Obsidian's own keys beside the tasks imports too (unknown keys are ignored).
  const fm = await admin.ctl.importFromNote("---\ntags: [backlog]\naliases: [Plugin plan]\nrepo: notes/plugin\ntasks:\n  - {key: NP-3, title: Translate the settings page, required_skills: [docs]}\n---\n# Plan\n");
  assert.ok(fm.ok, fm.lines.join("\n"));
  assert.equal(fm.source, "front matter");
  assert.deepEqual(fm.tasks!.map((t) => t.key), ["NP-3"]);

  // Going offline pauses the seat: no more offers.
  await vol.ctl.session.goOffline();
  assert.equal(vol.ctl.statusBar(), "OWP: offline");
  assert.equal(vol.ctl.session.snapshot!.worker.status, "paused");
  assert.deepEqual(admin.errors, []);
  assert.deepEqual(vol.errors, []);
});

test("a server that is not there shows as disconnected", { skip }, async (t) => {
  const away = vault({ adminToken: ADMIN!, serverUrl: "http://127.0.0.1:9", refreshMode: "live" });
  t.after(() => away.ctl.dispose());
  await away.ctl.start();
  await until("disconnected", () => away.ctl.feedState === "disconnected");
  assert.equal(away.ctl.model().connection.label, "disconnected");
  assert.match(away.ctl.model().connection.detail ?? "", /ECONNREFUSED|connect/);
});

test("the pool for the screenshot: two repos, two workers, an offer waiting", { skip }, async (t) => {
  const out = process.env.OWP_RENDER_MODEL_OUT;
  const admin = vault({ adminToken: ADMIN!, refreshMode: "manual" });
  t.after(() => admin.ctl.dispose());
  await admin.ctl.initRepo("notes/site", 2, true);
  const site = await admin.ctl.importFromNote(
    "```yaml\nrepo: notes/site\ntasks:\n  - {key: S-1, title: Fix the broken RSS feed, area: feed, required_skills: [web]}\n  - {key: S-2, title: Dark mode for code blocks, area: css, required_skills: [web]}\n  - {key: S-3, title: Compress the hero images, area: images}\n```\n",
  );
  assert.ok(site.ok, site.lines.join("\n"));
  const bob = vault({ refreshMode: "manual" });
  const ada = vault({ refreshMode: "manual", autoClaim: true });
  t.after(() => {
    bob.ctl.dispose();
    ada.ctl.dispose();
  });
  await bob.ctl.registerWorker({ name: "bob-desktop", skills: ["web"], capacity_points: 5, max_concurrent_tasks: 2 });
  await bob.ctl.session.goOnline();
  const bobs = await until("bob's offer", () => bob.offers[0]);
  await bob.ctl.session.ack(bobs.lease_id);
  await ada.ctl.registerWorker({ name: "ada-vault", skills: ["web"], capacity_points: 3, max_concurrent_tasks: 1 });
  await ada.ctl.session.goOnline();
  const adas = await until("ada's offer", () => ada.offers[0]);
  assert.equal(adas.task.repo, "notes/site");
  // One vault with both tokens: what a maintainer who also volunteers sees.
  const both = vault({ adminToken: ADMIN!, workerToken: ada.settings.workerToken, workerId: ada.settings.workerId, workerName: "ada-vault", refreshMode: "manual" });
  t.after(() => both.ctl.dispose());
  await both.ctl.refreshAll();
  both.ctl.session.online = true;
  both.ctl.feedState = "live";
  const model = both.ctl.model();
  assert.equal(model.repos.find((r) => r.repo === "notes/site")!.budget.throttled, true);
  assert.equal(model.worker!.leases[0].phase, "offered");
  if (out) writeFileSync(out, JSON.stringify(model, null, 2));
});

test("the plugin itself, in a stand-in Obsidian: commands, notices, the task note", { skip }, async (t) => {
  const { App, Modal, Notice, Setting, TFile } = await import("obsidian");
  const { default: OwpPoolPlugin } = await import("../../main");
  const app = new App();
  const plugin = new OwpPoolPlugin(app as never, { id: "owp-pool", version: "0.1.0" } as never);
  (plugin as unknown as { data: unknown }).data = { serverUrl: SERVER, adminToken: ADMIN, refreshMode: "live", notesFolder: "Pool" };
  await plugin.onload();
  t.after(() => plugin.onunload());
  const commands = (plugin as unknown as { commands: { id: string; checkCallback: (c: boolean) => boolean }[] }).commands;
  const run = (id: string) => assert.ok(commands.find((c) => c.id === id)!.checkCallback(false) !== false, id);
  const shown = () => Notice.shown.join("\n---\n");
  const noticeMatching = (re: RegExp) => until(`a notice matching ${re}`, () => Notice.shown.find((n) => re.test(n)));
  /** Fills the last opened form and presses OK. */
  const fill = (values: string[]) => {
    const modal = Modal.opened[Modal.opened.length - 1] as unknown as { contentEl: unknown };
    const rows = Setting.all.filter((s) => s.containerEl === modal.contentEl);
    values.forEach((v, i) => rows[i].components[0].change(v));
    rows[rows.length - 1].components[0].inputEl.click();
  };
  await until("the live stream", () => plugin.ctl.feedState === "live");

  await plugin.ctl.initRepo("notes/glue", 2, true);
  app.vault.files.set("Glue plan.md", "# Glue\n\n```yaml\nrepo: notes/glue\ntasks:\n  - {key: G-1, title: Wire the ribbon icon, required_skills: [glue]}\n```\n");
  app.workspace.activeFile = new TFile("Glue plan.md");
  run("import-note");
  await noticeMatching(/^Imported 1 task into notes\/glue \(from the code block\)\.$/);
  app.vault.files.set("Bad plan.md", "```yaml\nrepo: notes/glue\ntasks:\n  - {key: G-2, title: Bad, priority: urgent}\n```\n");
  app.workspace.activeFile = new TFile("Bad plan.md");
  run("import-note");
  const failed = await noticeMatching(/^Import failed:/);
  const lines = failed.split("\n");
  assert.equal(lines[1], "HTTP 422 validation_failed", failed);
  assert.ok(lines.slice(2).some((l) => l.includes("priority") || l.includes("urgent")), failed);

  // Register here (the form), go online, accept, open the task as a note, report the PR.
  run("register-worker");
  fill(["glue-vault", "glue", "2", "1"]);
  await noticeMatching(/^Registered glue-vault \(w_/);
  assert.match(plugin.settings.workerToken, /.+/);
  run("go-online");
  await noticeMatching(/^OWP: offered "Wire the ribbon icon"/);
  const bar = (plugin as unknown as { statusBar: { textContent: string }[] }).statusBar[0];
  assert.match(bar.textContent, /^OWP: offer: accept within/);
  run("ack");
  await noticeMatching(/^Accepted: Wire the ribbon icon$/);
  run("open-task-note");
  await noticeMatching(/^Opened Pool\/G-1 Wire the ribbon icon\.md$/);
  assert.match(app.vault.files.get("Pool/G-1 Wire the ribbon icon.md")!, /# Wire the ribbon icon/);
  run("report-pr");
  fill(["https://git.example.org/notes/glue/pull/3", "done"]);
  await noticeMatching(/^PR reported: Wire the ribbon icon$/);
  await until("the gauge in the plugin's view model", () => plugin.ctl.model().repos.find((r) => r.repo === "notes/glue")?.budget.openPrs === 1);
  run("go-offline");
  await noticeMatching(/^Offline/);
  assert.equal(bar.textContent, "OWP: offline");
  assert.ok(!shown().includes(ADMIN!) && !shown().includes(plugin.settings.workerToken), "a token in a notice");
});

test("a maintainer reads a task's proposals with scorecards, approves one and declines another", { skip }, async (t) => {
  const admin = vault({ adminToken: ADMIN!, refreshMode: "manual" });
  const vol = vault({ refreshMode: "manual" });
  t.after(() => {
    admin.ctl.dispose();
    vol.ctl.dispose();
  });
  await admin.ctl.client.upsertRepo({ repo: "notes/plans", max_open_prs: 3, visibility: "public", approval: "plan" });
  const imported = await admin.ctl.client.importYaml("repo: notes/plans\ntasks:\n  - key: PL-1\n    title: Plan me\n  - key: PL-2\n    title: Plan me too\n");
  const [one, two] = imported.map((x) => x.task_id);
  await vol.ctl.registerWorker({ name: "vault-planner", skills: [], capacity_points: 3, max_concurrent_tasks: 2 });
  // Nothing is granted without a plan.
  assert.equal(await vol.ctl.client.claim(), null);
  const first = await vol.ctl.client.propose(one, "Write it, then [link](https://x.example) @someone.");
  const second = await vol.ctl.client.propose(two, "Another plan.");

  const listed = await admin.ctl.taskProposals(one);
  assert.equal(listed.length, 1);
  assert.equal(listed[0].proposal_id, first.proposal_id);
  assert.equal(listed[0].scorecard?.merged_here, 0);
  const note = await admin.ctl.taskNote(one);
  assert.match(note.text, /## Proposals/);
  assert.match(note.text, /- Scorecard: 0 merged here/);
  assert.match(note.text, /```text\nWrite it, then \[link\]\(https:\/\/x\.example\) @someone\.\n```/);
  // The volunteer sees its own, without a scorecard.
  const own = await vol.ctl.client.proposals(one, "worker");
  assert.equal(own[0].scorecard ?? null, null);

  const approved = await admin.ctl.approveProposal(first.proposal_id);
  assert.match(approved[0], new RegExp(`^Approved ${first.proposal_id}: worker w_\\S+ holds task ${one}\\.$`));
  assert.match(approved[1], /^Lease l_\S+, to be accepted by /);
  // The approved lease is what the volunteer's next claim returns.
  const lease = await vol.ctl.client.claim();
  assert.equal(lease?.task.task_id, one);

  assert.deepEqual(await admin.ctl.declineProposal(second.proposal_id, "Too broad."), [`Declined ${second.proposal_id} (task ${two}).`]);
  const after = await vol.ctl.client.proposals(two, "worker");
  assert.equal(after[0].state, "declined");
});
