import assert from "node:assert/strict";
import { test } from "node:test";
import { loadSettings, mergeEvents } from "../../src/controller";
import {
  buildStatusModel,
  findImportDoc,
  formatDuration,
  issueUrl,
  noteFileName,
  orderProposals,
  proposalsSection,
  scorecardText,
  statusBarText,
  taskNote,
} from "../../src/model";
import type { Proposal } from "../../src/api";
import { event, lease, state, task, worker } from "../fixtures";

const NOW = Date.parse("2026-11-22T00:30:00Z");

test("the model counts tasks by status per repo and fills each review budget gauge", () => {
  const m = buildStatusModel({ state: state(), events: state().events, worker: null, feed: "live", now: NOW });
  assert.equal(m.connection.label, "live");
  assert.equal(m.repos.length, 2);
  const w = m.repos[0];
  assert.equal(w.repo, "acme/widgets");
  assert.deepEqual(w.counts, [
    { status: "ready", count: 1 },
    { status: "in_progress", count: 1 },
    { status: "pr_opened", count: 1 },
  ]);
  assert.deepEqual(w.budget, { used: 2, max: 2, openPrs: 1, activeLeases: 1, ratio: 1, throttled: true });
  assert.equal(m.repos[1].budget.throttled, false);
  assert.equal(m.repos[1].budget.ratio, 0);
});

test("a budget of 0 shows a full gauge; workers online show their load; events newest first", () => {
  const st = state();
  st.repos[0] = { ...st.repos[0], max_open_prs: 0, open_prs: 0, active_leases: 0, throttled: true };
  const m = buildStatusModel({ state: st, events: st.events, worker: null, feed: "disconnected", feedDetail: "refused", now: NOW });
  assert.equal(m.repos[0].budget.ratio, 1);
  assert.deepEqual(
    m.workersOnline.map((w) => [w.name, w.load, w.loadText]),
    [["ada-laptop", 0.25, "1/4 pts · 1/2 tasks"]],
  );
  assert.equal(m.workersOffline, 1);
  assert.deepEqual(
    m.events.map((e) => e.id),
    [2, 1],
  );
  assert.equal(m.events[0].text, "task.status acme/widgets #12 in_progress → pr_opened");
  assert.equal(m.events[1].text, "repo.created acme/widgets #12 budget 2");
  assert.equal(m.connection.label, "disconnected");
});

test("a ready task held back by blockers or by files in flight is listed under its repository", () => {
  const st = state();
  st.tasks.push(
    task({ task_id: "t_9", key: "acme/widgets#14", paths: ["src/auth/**"], waiting_on_paths: ["acme/widgets#12"] }),
    task({ task_id: "t_10", key: "acme/widgets#15", waiting_on: ["acme/widgets#9"], waiting_on_paths: ["acme/widgets#12", "acme/widgets#13"] }),
    task({ task_id: "t_11", key: "acme/widgets#16", status: "in_progress", waiting_on_paths: ["acme/widgets#12"] }),
  );
  const m = buildStatusModel({ state: st, events: [], worker: null, feed: "live", now: NOW });
  assert.deepEqual(m.repos[0].waiting, [
    { key: "acme/widgets#14", text: "waiting on the files acme/widgets#12 is changing" },
    {
      key: "acme/widgets#15",
      text: "waiting on acme/widgets#9; waiting on the files acme/widgets#12, acme/widgets#13 are changing",
    },
  ]);
  assert.equal(m.repos[0].moreWaiting, 0);
  const note = taskNote(st.tasks[st.tasks.length - 3], null);
  assert.match(note, /- Paths: `src\/auth\/\*\*`\n/);
  assert.match(note, /- Not offered yet: waiting on the files acme\/widgets#12 is changing\n/);
  assert.doesNotMatch(taskNote(task(), null), /Not offered yet|Paths:/);
});

test("the status bar says offline, the offer's accept window, or the work's time left", () => {
  const w = worker();
  assert.equal(statusBarText(null, false, NOW), "OWP: no worker");
  assert.equal(statusBarText({ worker: w, leases: [], online: false }, true, NOW), "OWP: offline");
  assert.equal(statusBarText({ worker: w, leases: [], online: true }, true, NOW), "OWP: online · idle");
  assert.equal(statusBarText({ worker: w, leases: [lease(NOW)], online: true }, true, NOW), "OWP: offer: accept within 1:35");
  const working = lease(NOW, { expires_at: new Date(NOW + 1_805_000).toISOString() }, { status: "in_progress" });
  assert.equal(statusBarText({ worker: w, leases: [working], online: true }, true, NOW), "OWP: working · 30:05 left");
  assert.equal(statusBarText({ worker: { ...w, status: "paused" }, leases: [], online: true }, true, NOW), "OWP: paused");
  assert.equal(formatDuration(3725), "1:02:05");
  assert.equal(formatDuration(-4), "0:00");
});

test("a task note carries the brief, the issue link and the repository contract", () => {
  const t = task({ contract: { setup: "npm ci", test: "npm test", branch: "owp/{number}-{slug}", instructions: "Keep it small." } });
  const note = taskNote(t, lease(NOW));
  assert.match(note, /^---\nowp_task_id: "t_1"\n/);
  assert.match(note, /# Document the --dry-run flag/);
  assert.match(note, /- Issue: https:\/\/github.com\/acme\/widgets\/issues\/12/);
  assert.match(note, /## Brief\n\nAdd a section to docs\/cli.md/);
  assert.match(note, /```sh\nnpm test\n```/);
  assert.match(note, /\*\*Branch\*\*: `owp\/\{number\}-\{slug\}`/);
  assert.match(taskNote(task({ contract: null }), null), /This repository sets no contract/);
  assert.equal(issueUrl({ key: "WID-1", repo: "x" }), null);
  assert.equal(noteFileName(task({ key: "acme/widgets#12", title: 'a/b: "c"?' })), "acme-widgets-12 a-b- -c--.md");
});

test("the import document is the first yaml block with tasks, else the front matter", () => {
  const block = "# Plan\n\n```yaml\nfoo: 1\n```\n\n```yaml\nrepo: acme/widgets\ntasks:\n  - title: One\n```\n";
  assert.deepEqual(findImportDoc(block), { source: "code block", yaml: "repo: acme/widgets\ntasks:\n  - title: One\n" });
  const fm = "---\nrepo: acme/widgets\ntags: [plan]\ntasks:\n  - title: Two\n---\n# Body\n";
  assert.deepEqual(findImportDoc(fm), { source: "front matter", yaml: "repo: acme/widgets\ntags: [plan]\ntasks:\n  - title: Two\n" });
  assert.equal(findImportDoc("---\ntags: [x]\n---\nno tasks here"), null);
  assert.equal(findImportDoc("```owp\nrepo: r\ntasks: []\n```").source, "code block");
});

test("stored settings are read field by field, with bounds", () => {
  const s = loadSettings({ serverUrl: "http://x", adminToken: 5, refreshMode: "fast", pollSeconds: 1, evil: "y" });
  assert.equal(s.serverUrl, "http://x");
  assert.equal(s.adminToken, "");
  assert.equal(s.refreshMode, "live");
  assert.equal(s.pollSeconds, 5);
  assert.equal((s as unknown as Record<string, unknown>).evil, undefined);
  assert.equal(loadSettings(null).refreshMode, "live");
});

test("events merge by id, oldest first, bounded", () => {
  const m = mergeEvents([event(3), event(1)], [event(2), event(3)], 2);
  assert.deepEqual(
    m.map((e) => e.id),
    [2, 3],
  );
});

function proposal(over: Partial<Proposal> = {}): Proposal {
  return {
    proposal_id: "p_1",
    task_id: "t_1",
    worker_id: "w_1",
    plan: "Add a test, then fix the parser.",
    state: "open",
    created_at: "2026-11-22T00:00:00Z",
    expires_at: "2026-11-29T00:00:00Z",
    ...over,
  };
}

test("a task's proposals show in its note: open ones first, each plan fenced, scorecards for maintainers", () => {
  const card = { merged_here: 2, merged_pool: 5, acceptance_rate_here: 0.666, account_age_days: 400, vouched: true, open_holds: 1, tools: ["claude", "aider"] };
  assert.equal(scorecardText(card), "2 merged here · 5 in the pool · 67% accepted here · account 400 days old · vouched · holds 1 now · tools: claude, aider");
  assert.equal(
    scorecardText({ ...card, acceptance_rate_here: null, account_age_days: null, vouched: false, tools: [] }),
    "2 merged here · 5 in the pool · no reviews here yet · account age unknown · not vouched · holds 1 now",
  );
  const hostile = "Plan.\n````\n## Done\n@maintainer see [here](https://evil.example)";
  const list = orderProposals([
    proposal({ proposal_id: "p_old", state: "declined" }),
    proposal({ proposal_id: "p_open", login: "ann", plan: hostile, scorecard: card }),
  ]);
  assert.deepEqual(
    list.map((p) => p.proposal_id),
    ["p_open", "p_old"],
  );
  const text = proposalsSection(list).join("\n");
  assert.match(text, /### open · ann \(worker w_1\)/);
  assert.match(text, /- Proposal: `p_open`/);
  assert.match(text, /- Scorecard: 2 merged here/);
  assert.match(text, /### declined · worker w_1/);
  // The plan sits inside a fence longer than any backtick run it holds: its heading, mention and
  // link stay quoted text.
  const open = text.indexOf("`````text\nPlan.");
  assert.ok(open > 0, text);
  const close = text.indexOf("\n`````\n", open);
  assert.ok(close > text.indexOf("evil.example"), text);
  assert.deepEqual(proposalsSection([]), ["## Proposals", "", "_No proposals._", ""]);
  // In the task note, after the contract; absent when they were not read.
  const note = taskNote(task(), null, list);
  assert.ok(note.indexOf("## Proposals") > note.indexOf("## Repository contract"), note);
  assert.ok(!taskNote(task(), null).includes("## Proposals"));
});
