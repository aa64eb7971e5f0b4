// Carries leases as MCP tasks (`io.modelcontextprotocol/tasks`) with the official MCP TypeScript
// SDK client:
//
//   node tasks.mjs SCENARIO
//
// Environment as client.mjs, plus:
//   states  OWP_MCP_STEP_DIR (the steps: the client writes NAME.json and waits for NAME.go, which
//           the test writes once it has done its part), OWP_MCP_PLAN_TASK_ID and
//           OWP_MCP_DECLINE_TASK_ID (tasks of a repository that takes plans first),
//           OWP_MCP_PR_URL. A client without the extension claims (a plain tool result) and gives
//           the lease back; then a client with it: a plan (input_required), approved (working),
//           its lease reported pr_opened, merged (completed); a plan declined (failed); a lease
//           revoked (failed); a held task cancelled by its maintainers (failed); a lease given back
//           with tasks/cancel (cancelled).
//   config  OWP_MCP_SERVER: {command, args} as the README's setup of an AI tool writes them
//           (`owp` being OWP_BIN), run with XDG_CONFIG_HOME=OWP_MCP_XDG; claims as a client that
//           declares the extension and gives the lease back with tasks/cancel.
//   docs    OWP_MCP_DOCS: a JSON array of the JSON-RPC requests of docs/mcp.md's "Leases as MCP
//           tasks", sent as written but for TASK_ID (the task the claim answered); the first is
//           `initialize`, whose capabilities the client declares.
// Prints one JSON summary line with every message exchanged by the client that declared the
// extension (`wire`) and the notifications it got (`notes`).
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const env = (name) => process.env[name] ?? fail(`${name} is not set`);
function fail(message) {
  process.stderr.write(`mcp tasks client: ${message}\n`);
  process.exit(1);
}
const check = (condition, message) => condition || fail(message);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const TASKS = "io.modelcontextprotocol/tasks";
/** Any result, as sent (the SDK's schemas of 2025-11-25 do not know the extension's shapes). */
const anyResult = { parse: (v) => v, safeParse: (v) => ({ success: true, data: v }), "~standard": { validate: (v) => ({ value: v }), vendor: "owp", version: 1 } };

async function connect(capabilities, wire, server) {
  const transport = new StdioClientTransport(server ?? {
    command: env("OWP_BIN"),
    args: ["mcp", "--profile", env("OWP_MCP_PROFILE"), "--config-dir", env("OWP_MCP_CONFIG_DIR")],
    env: { OWP_LOG: "owp=debug" },
    stderr: "pipe",
  });
  const client = new Client({ name: "owp-tasks-client", version: "1.0.0" }, { capabilities });
  const notes = [];
  client.fallbackNotificationHandler = async (n) => { notes.push(n); };
  if (wire) {
    // Every message, from the handshake on, in the order sent and received.
    const start = transport.start.bind(transport);
    transport.start = async () => {
      const receive = transport.onmessage;
      transport.onmessage = (m, x) => { wire.push({ to: "client", ...m }); receive?.(m, x); };
      return start();
    };
    const send = transport.send.bind(transport);
    transport.send = async (m, o) => { wire.push({ to: "server", ...m }); return send(m, o); };
  }
  await client.connect(transport);
  return { client, notes };
}

const scenario = process.argv[2];
const summary = { scenario };
const wire = [];

/** A tool's JSON answer (its first text block). */
const answerOf = (result) => JSON.parse(result.content[0].text);
/** The tool's own answer riding along a task handle. */
const carried = (handle) => answerOf(handle._meta["owp/answer"]);

function client(c) {
  const request = (method, params) => c.client.request({ method, params }, anyResult);
  const call = (name, args = {}) => request("tools/call", { name, arguments: args });
  const get = (taskId) => request("tasks/get", { taskId });
  const cancel = (taskId) => request("tasks/cancel", { taskId });
  /** Waits for `notifications/tasks` telling `status` of `taskId`. */
  async function notified(taskId, status, seconds = 60) {
    const deadline = Date.now() + seconds * 1000;
    for (;;) {
      const n = c.notes.find((n) => n.method === "notifications/tasks" && n.params?.taskId === taskId && n.params?.status === status);
      if (n) return n.params;
      if (Date.now() > deadline) fail(`no notification of ${status} for ${taskId}: ${JSON.stringify(c.notes)}`);
      await sleep(100);
    }
  }
  return { request, call, get, cancel, notified };
}

/** Writes STEP_DIR/NAME.json and waits for the test's STEP_DIR/NAME.go. */
async function step(name, data) {
  const dir = env("OWP_MCP_STEP_DIR");
  writeFileSync(join(dir, `${name}.json`), JSON.stringify(data));
  const deadline = Date.now() + 120_000;
  while (!existsSync(join(dir, `${name}.go`))) {
    if (Date.now() > deadline) fail(`the test never answered step ${name}`);
    await sleep(100);
  }
}

if (scenario === "states") {
  // 0. A client that does not declare the extension: the same tools, plain answers.
  const plain = await connect({});
  const tasky = await connect({ extensions: { [TASKS]: {} } }, wire);
  summary.same_tools =
    JSON.stringify(await plain.client.listTools()) === JSON.stringify(await tasky.client.listTools());
  summary.plain_capabilities = plain.client.getServerCapabilities();
  const p = client(plain);
  const plainClaim = await p.call("owp_claim");
  summary.plain_claim = plainClaim;
  const plainLease = answerOf(plainClaim).lease;
  check(plainLease, `the plain client got no lease: ${JSON.stringify(plainClaim)}`);
  summary.plain_nack = await p.call("owp_nack", { lease_id: plainLease.lease_id, reason: "a look only" });
  await plain.client.close();

  const t = client(tasky);
  // 1. A plan: input_required while it awaits a maintainer; approved, its lease: working;
  //    reported pr_opened: working; merged: completed.
  const proposed = await t.call("owp_propose", { task_id: env("OWP_MCP_PLAN_TASK_ID"), plan: "Add a test, then fix it." });
  check(proposed.resultType === "task", `propose: ${JSON.stringify(proposed)}`);
  summary.proposed = proposed;
  summary.proposed_get = await t.get(proposed.taskId);
  await step("proposed", { taskId: proposed.taskId, proposal_id: carried(proposed).proposal.proposal_id });
  summary.approved_note = await t.notified(proposed.taskId, "working");
  const approved = await t.call("owp_claim");
  summary.approved_claim = approved;
  const lease = carried(approved).lease;
  await t.call("owp_ack", { lease_id: lease.lease_id });
  await t.call("owp_report", { task_id: lease.task.task_id, status: "pr_opened", pr_url: env("OWP_MCP_PR_URL") });
  summary.pr_get = await t.get(proposed.taskId);
  await step("pr_opened", { taskId: proposed.taskId, task_id: lease.task.task_id });
  summary.merged_note = await t.notified(proposed.taskId, "completed");
  summary.merged_get = await t.get(proposed.taskId);

  // 2. A plan declined: failed, with the reason.
  const declined = await t.call("owp_propose", { task_id: env("OWP_MCP_DECLINE_TASK_ID"), plan: "Rewrite it all." });
  check(declined.resultType === "task", `second propose: ${JSON.stringify(declined)}`);
  await step("proposed_again", { taskId: declined.taskId, proposal_id: carried(declined).proposal.proposal_id });
  summary.declined_note = await t.notified(declined.taskId, "failed");

  // 3. A lease revoked by the pool: failed, with the reason.
  const held = await t.call("owp_claim");
  check(held.resultType === "task" && held.status === "working", `claim: ${JSON.stringify(held)}`);
  summary.held = held;
  summary.held_get = await t.get(held.taskId);
  await step("held", { taskId: held.taskId, task_id: carried(held).lease.task.task_id });
  summary.revoked_note = await t.notified(held.taskId, "failed");
  summary.revoked_get = await t.get(held.taskId);

  // 4. A held lease whose task its maintainers cancelled: failed (the worker can no longer read
  //    the task, so the reason is the pool's).
  const again = await t.call("owp_claim");
  check(again.resultType === "task", `claim: ${JSON.stringify(again)}`);
  await step("held_again", { taskId: again.taskId, task_id: carried(again).lease.task.task_id });
  summary.cancelled_by_maintainers_note = await t.notified(again.taskId, "failed");

  // 5. A lease given back with tasks/cancel.
  const last = await t.call("owp_claim");
  check(last.resultType === "task", `claim: ${JSON.stringify(last)}`);
  summary.given_back_task = carried(last).lease.task.task_id;
  summary.cancel = await t.cancel(last.taskId);
  summary.cancelled_get = await t.get(last.taskId);
  summary.cancelled_note = await t.notified(last.taskId, "cancelled", 5);
  summary.cancel_again = await t.cancel(last.taskId).then((r) => ({ result: r }), (e) => ({ error: { code: e.code, message: e.message } }));
  summary.leases_after = answerOf(await t.call("owp_current")).leases.length;
  summary.notes = tasky.notes;
  await tasky.client.close();
} else if (scenario === "config") {
  const written = JSON.parse(env("OWP_MCP_SERVER"));
  const command = written.command === "owp" ? env("OWP_BIN") : written.command;
  const server = { command, args: written.args, env: { XDG_CONFIG_HOME: env("OWP_MCP_XDG"), HOME: env("OWP_MCP_XDG") }, stderr: "pipe" };
  const tasky = await connect({ extensions: { [TASKS]: {} } }, wire, server);
  const t = client(tasky);
  const claimed = await t.call("owp_claim");
  check(claimed.resultType === "task", `claim: ${JSON.stringify(claimed)}`);
  summary.claimed = claimed;
  summary.cancel = await t.cancel(claimed.taskId);
  summary.cancelled_get = await t.get(claimed.taskId);
  summary.notes = tasky.notes;
  await tasky.client.close();
} else if (scenario === "docs") {
  const messages = JSON.parse(readFileSync(env("OWP_MCP_DOCS"), "utf8"));
  check(messages[0]?.method === "initialize", "the first message is not initialize");
  const tasky = await connect(messages[0].params.capabilities, wire);
  const t = client(tasky);
  let taskId = null;
  summary.answers = [];
  for (const m of messages.slice(1)) {
    const params = JSON.parse(JSON.stringify(m.params ?? {}).replaceAll("TASK_ID", taskId ?? "TASK_ID"));
    const answer = await t.request(m.method, params);
    if (m.method === "tools/call" && answer.resultType === "task") taskId = answer.taskId;
    summary.answers.push({ method: m.method, answer });
  }
  summary.notes = tasky.notes;
  await tasky.client.close();
} else {
  fail(`unknown scenario ${scenario}`);
}
summary.wire = wire;
process.stdout.write(JSON.stringify(summary) + "\n");
