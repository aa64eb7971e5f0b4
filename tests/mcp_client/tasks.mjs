// Carries leases as MCP tasks (`io.modelcontextprotocol/tasks`) with the official MCP TypeScript
// SDK client: `node tasks.mjs`. Environment as client.mjs, plus OWP_MCP_HOLDING_FILE: written once
// the first lease is held; the test then revokes it. Prints one JSON summary line with every
// message exchanged by the client that declared the extension.
import { existsSync, writeFileSync } from "node:fs";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const env = (name) => process.env[name] ?? fail(`${name} is not set`);
function fail(message) {
  process.stderr.write(`mcp tasks client: ${message}\n`);
  process.exit(1);
}
const check = (condition, message) => condition || fail(message);
const TASKS = "io.modelcontextprotocol/tasks";
/** Any result, as sent (the SDK's schemas of 2025-11-25 do not know the extension's shapes). */
const anyResult = { parse: (v) => v, safeParse: (v) => ({ success: true, data: v }), "~standard": { validate: (v) => ({ value: v }), vendor: "owp", version: 1 } };

async function connect(capabilities, wire) {
  const transport = new StdioClientTransport({
    command: env("OWP_BIN"),
    args: ["mcp", "--profile", env("OWP_MCP_PROFILE"), "--config-dir", env("OWP_MCP_CONFIG_DIR")],
    env: { OWP_LOG: "owp=debug" },
    stderr: "pipe",
  });
  const client = new Client({ name: "owp-tasks-client", version: "1.0.0" }, { capabilities });
  const notes = [];
  client.fallbackNotificationHandler = async (n) => { notes.push(n); };
  await client.connect(transport);
  if (wire) {
    const send = transport.send.bind(transport);
    transport.send = async (m, o) => { wire.push({ to: "server", ...m }); return send(m, o); };
    const receive = transport.onmessage;
    transport.onmessage = (m, x) => { wire.push({ to: "client", ...m }); receive?.(m, x); };
  }
  return { client, notes };
}

const summary = {};
const wire = [];
const plain = await connect({});
const tasky = await connect({ extensions: { [TASKS]: {} } }, wire);
summary.same_tools =
  JSON.stringify(await plain.client.listTools()) === JSON.stringify(await tasky.client.listTools());
await plain.client.close();

const call = (name, args = {}) =>
  tasky.client.request({ method: "tools/call", params: { name, arguments: args } }, anyResult);
const get = (taskId) => tasky.client.request({ method: "tasks/get", params: { taskId } }, anyResult);
const cancel = (taskId) => tasky.client.request({ method: "tasks/cancel", params: { taskId } }, anyResult);
async function notified(taskId, status) {
  const deadline = Date.now() + 40_000;
  for (;;) {
    const n = tasky.notes.find((n) => n.method === "notifications/tasks" && n.params?.taskId === taskId && n.params?.status === status);
    if (n) return n.params;
    if (Date.now() > deadline) fail(`no notification of ${status} for ${taskId}: ${JSON.stringify(tasky.notes)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

// 1. A lease as a task, revoked by the pool.
const first = await call("owp_claim");
check(first.resultType === "task" && first.status === "working", `claim: ${JSON.stringify(first)}`);
const lease = JSON.parse(first._meta["owp/answer"].content[0].text).lease;
check(lease.lease_id === first.taskId, "the task is the lease");
summary.first_get = await get(first.taskId);
writeFileSync(env("OWP_MCP_HOLDING_FILE"), lease.task.task_id);
summary.revoked_note = await notified(first.taskId, "failed");
summary.revoked_get = await get(first.taskId);

// 2. A lease given back with tasks/cancel.
while (existsSync(env("OWP_MCP_HOLDING_FILE"))) await new Promise((r) => setTimeout(r, 100));
const second = await call("owp_claim");
check(second.resultType === "task", `second claim: ${JSON.stringify(second)}`);
summary.cancel = await cancel(second.taskId);
summary.cancelled_get = await get(second.taskId);
const current = await tasky.client.callTool({ name: "owp_current", arguments: {} });
summary.leases_after = JSON.parse(current.content[0].text).leases.length;
summary.notes = tasky.notes;
summary.wire = wire;
await tasky.client.close();
process.stdout.write(JSON.stringify(summary) + "\n");
