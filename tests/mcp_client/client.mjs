// @ts-check
// Drives `owp mcp` with the official MCP TypeScript SDK client, as an AI tool would.
//
//   node client.mjs SCENARIO
//
// Environment: OWP_BIN (the owp binary), OWP_MCP_PROFILE, OWP_MCP_CONFIG_DIR, and for `work`
// OWP_MCP_PR_URL. Prints one JSON summary line on stdout; any failed check exits non-zero with the
// reason on stderr.
//
// Scenarios:
//   work      list tools, claim, ack, renew, read the brief (tool and resource), refuse bad input,
//             report pr_opened, see the lease gone from owp_current; then claim the next task,
//             nack it, and find nothing left.
//   hold      claim and ack, then call nothing for OWP_MCP_HOLD_SECONDS: the session's heartbeats
//             must keep the lease alive.
//   refused   every call answers a tool error (server down or token refused), and the session
//             stays usable.
//   propose   propose a plan for OWP_MCP_TASK_ID (a repository that takes plans first), list
//             this worker's proposals for it, and be refused: a plan too long, a second plan
//             for the task, a plan for OWP_MCP_PLAIN_TASK_ID (a repository that does not take
//             plans); then it writes OWP_MCP_APPROVE_FILE.asked, and after OWP_MCP_APPROVE_FILE
//             appears (the test approved the plan), owp_claim returns the approved lease, and
//             owp_task shows the task with its policy and the rules for the work.
//   story     make the tool calls of OWP_MCP_STORY (a JSON array of {tool, arguments}, the blocks
//             of docs/mcp.md's "A plans-first task, end to end") in order, each as written but for
//             TASK_ID (OWP_MCP_TASK_ID) and LEASE_ID (the lease the last owp_claim gave); every
//             call must succeed. The owp_proposals call is made again, as the story says, until
//             the proposal is no longer open (the test approves it once OWP_MCP_APPROVE_FILE.asked
//             is there). Prints each call's answer.
//
// Type-checked (`npm run ci`: tsc with checkJs); the OWP objects in the tools' results have the
// types of the OpenAPI document (docs/openapi.json), generated once for every TypeScript client into
// clients/obsidian/src/owp-api.d.ts (whose `npm run check-api` keeps it current).

/**
 * A wire type without the open `x_*` extension space of tasks and workers (an index signature in
 * the document), so that a misspelt field is a type error; free-form objects stay as they are.
 * @template T
 * @typedef {T extends readonly (infer U)[] ? Known<U>[] : T extends object
 *   ? [keyof { [K in keyof T as string extends K ? never : K]: 0 }] extends [never] ? T
 *   : { [K in keyof T as string extends K ? never : K]: Known<T[K]> } : T} Known
 */
/** @typedef {import("../../clients/obsidian/src/owp-api.js").components["schemas"]} WireSchemas */
/** @typedef {{ [N in keyof WireSchemas]: Known<WireSchemas[N]> }} Schemas */
/** @typedef {Schemas["Task"]} Task */
/** @typedef {Schemas["Worker"]} Worker */
/** @typedef {Schemas["Lease"] & {brief_uri: string, brief?: string}} ToolLease a lease as the tools show it */
/** @typedef {{lease: ToolLease | null, next?: string, message?: string}} ClaimResult */
/** @typedef {{lease_id: string, expires_at: string, task: Task, next?: string}} LeaseResult */
/** @typedef {{task: Task, next?: string}} ReportResult */
/** @typedef {{worker: Worker, leases: ToolLease[], heartbeat: {last_ok: string | null, last_error: string | null}}} CurrentResult */
/** @typedef {Schemas["Proposal"]} Proposal */
/** @typedef {{proposal: Proposal, next?: string}} ProposeResult */
/** @typedef {{proposals: Proposal[]}} ProposalsResult */
/** @typedef {{task: Task, approved_plan: string | null, rules: string, next?: string}} TaskResult */
/** @typedef {{status: string, show: string, verification_uri?: string, user_code?: string, github_login?: string, github_account_id?: number, next?: string}} LinkResult */
/** @typedef {import("@modelcontextprotocol/sdk/types.js").CallToolResult} CallToolResult */

import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const scenario = process.argv[2];
/** @param {string} name @returns {string} */
const env = (name) => {
  const value = process.env[name];
  if (!value) return fail(`${name} is not set`);
  return value;
};

/** @param {string} message @returns {never} */
function fail(message) {
  process.stderr.write(`mcp client: ${message}\n`);
  process.exit(1);
}

/** @param {unknown} condition @param {string} message @returns {asserts condition} */
function check(condition, message) {
  if (!condition) fail(message);
}

/** The text of a result's content block `index` ("" when it is not text). */
const text = (/** @type {CallToolResult} */ result, index = 0) => {
  const block = result.content?.[index];
  return block?.type === "text" ? block.text : "";
};

/**
 * The JSON document a successful tool result starts with.
 * @template T
 * @param {CallToolResult} result
 * @returns {T}
 */
const json = (result) => JSON.parse(text(result));

/** @param {Client} client @param {string} name @param {Record<string, unknown>} [args] @returns {Promise<CallToolResult>} */
async function call(client, name, args = {}) {
  return /** @type {CallToolResult} */ (await client.callTool({ name, arguments: args }));
}

/** @param {Client} client @param {string} name @param {Record<string, unknown>} [args] */
async function ok(client, name, args) {
  const result = await call(client, name, args);
  check(!result.isError, `${name} failed: ${text(result)}`);
  return result;
}

/** @param {Client} client @param {string} name @param {Record<string, unknown>} [args] */
async function refused(client, name, args) {
  const result = await call(client, name, args);
  check(result.isError === true, `${name} should be a tool error, got ${JSON.stringify(result)}`);
  const line = text(result);
  check(line.length > 0 && !line.includes("\n"), `${name}: not one line: ${JSON.stringify(line)}`);
  return line;
}

const transport = new StdioClientTransport({
  command: env("OWP_BIN"),
  args: ["mcp", "--profile", env("OWP_MCP_PROFILE"), "--config-dir", env("OWP_MCP_CONFIG_DIR")],
  env: {
    OWP_LOG: "owp=debug",
    ...(process.env.GITHUB_WEB_URL ? { GITHUB_WEB_URL: process.env.GITHUB_WEB_URL } : {}),
  },
  stderr: "pipe",
});
let serverLog = "";
transport.stderr?.on("data", (/** @type {Buffer} */ chunk) => {
  serverLog += chunk.toString();
});

const client = new Client({ name: "owp-test-client", version: "1.0.0" });
try {
  await client.connect(transport);
} catch (e) {
  fail(`cannot connect: ${e}\n${serverLog}`);
}

/** @type {Record<string, unknown>} */
const summary = { scenario };
try {
  const info = client.getServerVersion();
  summary.server = info?.name;
  summary.instructions = client.getInstructions() ?? "";
  const { tools } = await client.listTools();
  summary.tools = tools.map((t) => t.name).sort();
  const claimTool = tools.find((t) => t.name === "owp_claim");
  const waitSchema = /** @type {{maximum?: number} | undefined} */ (claimTool?.inputSchema?.properties?.wait_seconds);
  summary.wait_maximum = waitSchema?.maximum;

  if (scenario === "work") {
    // Input is checked before anything is sent.
    summary.bad_wait = await refused(client, "owp_claim", { wait_seconds: 99 });
    summary.wrong_type = await refused(client, "owp_claim", { wait_seconds: "soon" });

    const claimed = await ok(client, "owp_claim", { wait_seconds: 5 });
    const lease = /** @type {ClaimResult} */ (json(claimed)).lease;
    check(lease && lease.lease_id, `owp_claim gave no lease: ${text(claimed)}`);
    summary.lease_id = lease.lease_id;
    summary.task_id = lease.task.task_id;
    summary.claim_brief = text(claimed, 1);

    /** @type {LeaseResult} */
    const acked = json(await ok(client, "owp_ack", { lease_id: lease.lease_id }));
    summary.after_ack = acked.task?.status;
    /** @type {LeaseResult} */
    const renewed = json(await ok(client, "owp_renew", { lease_id: lease.lease_id }));
    summary.renewed_expires_at = renewed.expires_at;

    /** @type {CurrentResult} */
    const current = json(await ok(client, "owp_current"));
    summary.current_leases = current.leases.map((l) => l.lease_id);
    summary.current_brief = current.leases[0]?.brief ?? "";
    summary.worker_name = current.worker?.name;

    summary.brief = text(await ok(client, "owp_brief", { task_id: lease.task.task_id }));
    const { resources } = await client.listResources();
    summary.resources = resources.map((r) => r.uri);
    if (resources.length > 0) {
      const read = await client.readResource({ uri: resources[0].uri });
      const content = read.contents?.[0];
      summary.resource_text = content && "text" in content ? content.text : "";
    }

    summary.unknown_lease = await refused(client, "owp_renew", { lease_id: "l_does_not_exist" });
    summary.merged_refused = await refused(client, "owp_report", {
      task_id: lease.task.task_id,
      status: "merged",
    });
    summary.missing_url = await refused(client, "owp_report", {
      task_id: lease.task.task_id,
      status: "pr_opened",
    });

    /** @type {ReportResult} */
    const reported = json(
      await ok(client, "owp_report", {
        task_id: lease.task.task_id,
        status: "pr_opened",
        pr_url: env("OWP_MCP_PR_URL"),
        note: "opened by the MCP test client",
      }),
    );
    summary.reported_status = reported.task?.status;
    /** @type {CurrentResult} */
    const after = json(await ok(client, "owp_current"));
    summary.leases_after_report = after.leases.length;
    summary.late_ack = await refused(client, "owp_ack", { lease_id: lease.lease_id });

    // The next task, given back with a reason; then nothing is left for this worker.
    const second = /** @type {ClaimResult} */ (json(await ok(client, "owp_claim", {}))).lease;
    check(second && second.lease_id, "the second owp_claim gave no lease");
    summary.second_task_id = second.task.task_id;
    /** @type {LeaseResult} */
    const nacked = json(
      await ok(client, "owp_nack", {
        lease_id: second.lease_id,
        reason: "needs access to the design files",
      }),
    );
    summary.after_nack = nacked.task?.status;
    /** @type {ClaimResult} */
    const none = json(await ok(client, "owp_claim", { wait_seconds: 0 }));
    summary.nothing_left = none.lease;
    summary.nothing_message = none.message;
  } else if (scenario === "hold") {
    const lease = /** @type {ClaimResult} */ (json(await ok(client, "owp_claim", { wait_seconds: 5 }))).lease;
    check(lease && lease.lease_id, "owp_claim gave no lease");
    await ok(client, "owp_ack", { lease_id: lease.lease_id });
    summary.lease_id = lease.lease_id;
    summary.task_id = lease.task.task_id;
    // Hold the session open, calling nothing, well past the lease's term.
    const seconds = Number(env("OWP_MCP_HOLD_SECONDS"));
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    /** @type {CurrentResult} */
    const current = json(await ok(client, "owp_current"));
    summary.held_leases = current.leases.map((l) => l.lease_id);
    summary.heartbeat = current.heartbeat;
  } else if (scenario === "propose") {
    const task = env("OWP_MCP_TASK_ID");
    // The task to plan: named by owp_why, read with owp_task and owp_brief before any proposal.
    /** @type {{refused: Array<{task_id?: string, title?: string, next?: string}>}} */
    const why = json(await ok(client, "owp_why", {}));
    const entry = why.refused.find((r) => r.task_id === task);
    summary.why_title = entry?.title ?? null;
    summary.why_next = entry?.next ?? null;
    /** @type {TaskResult & {next: string}} */
    const toPlan = json(await ok(client, "owp_task", { task_id: task }));
    summary.plan_title = toPlan.task.title;
    summary.plan_description = toPlan.task.description;
    summary.plan_next = toPlan.next;
    summary.plan_brief = text(await ok(client, "owp_brief", { task_id: task }));
    summary.too_long = await refused(client, "owp_propose", { task_id: task, plan: "x".repeat(4001) });
    summary.no_plan = await refused(client, "owp_propose", { task_id: task });
    /** @type {ProposeResult} */
    const proposed = json(await ok(client, "owp_propose", { task_id: task, plan: "Add a test, then fix it." }));
    summary.proposal = proposed.proposal;
    summary.again = await refused(client, "owp_propose", { task_id: task, plan: "A second plan." });
    summary.plain = await refused(client, "owp_propose", { task_id: env("OWP_MCP_PLAIN_TASK_ID"), plan: "A plan." });
    /** @type {ProposalsResult} */
    const listed = json(await ok(client, "owp_proposals", { task_id: task }));
    summary.listed = listed.proposals.map((p) => `${p.proposal_id} ${p.state}`);
    summary.unknown_task = await refused(client, "owp_proposals", { task_id: "t_does_not_exist" });
    // The test approves the plan once `FILE.asked` is there, then writes FILE; the approved
    // lease comes first.
    const file = env("OWP_MCP_APPROVE_FILE");
    writeFileSync(`${file}.asked`, "asked");
    for (let i = 0; i < 300 && !existsSync(file); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    check(existsSync(file), "the plan was never approved");
    /** @type {ClaimResult} */
    const claimed = json(await ok(client, "owp_claim", {}));
    summary.approved_lease = claimed.lease?.lease_id ?? null;
    // The task with its repository's policy and the rules for the work, in the brief's words.
    const shown = await ok(client, "owp_task", { task_id: task });
    /** @type {TaskResult} */
    const held = json(shown);
    summary.task_policy = held.task.policy ?? null;
    summary.task_plan = held.approved_plan;
    summary.task_rules = held.rules;
    summary.task_rules_block = text(shown, 1);
    summary.task_unknown = await refused(client, "owp_task", { task_id: "t_does_not_exist" });
    summary.task_bad = await refused(client, "owp_task", { task_id: "../etc" });
    /** @type {ProposalsResult} */
    const after = json(await ok(client, "owp_proposals", { task_id: task }));
    summary.after = after.proposals.map((p) => p.state);
  } else if (scenario === "story") {
    /** @type {Array<{tool: string, arguments: Record<string, unknown>}>} */
    const steps = JSON.parse(readFileSync(env("OWP_MCP_STORY"), "utf8"));
    /** @type {Record<string, string>} */
    const ids = { TASK_ID: env("OWP_MCP_TASK_ID") };
    /** @param {unknown} value @returns {unknown} */
    const fill = (value) => {
      if (typeof value === "string") return ids[value] ?? value;
      if (Array.isArray(value)) return value.map(fill);
      if (value && typeof value === "object") {
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fill(v)]));
      }
      return value;
    };
    /** @param {CallToolResult} result @returns {any} */
    const answer = (result) => {
      try {
        return json(result);
      } catch {
        return text(result);
      }
    };
    /** @type {Array<{tool: string, answer: any}>} */
    const answers = [];
    for (const step of steps) {
      const args = /** @type {Record<string, unknown>} */ (fill(step.arguments));
      let result = await ok(client, step.tool, args);
      if (step.tool === "owp_proposals") {
        const file = env("OWP_MCP_APPROVE_FILE");
        writeFileSync(`${file}.asked`, "asked");
        /** @param {CallToolResult} r */
        const open = (r) => /** @type {ProposalsResult} */ (json(r)).proposals.some((p) => p.state === "open");
        for (let i = 0; i < 600 && open(result); i++) {
          await new Promise((resolve) => setTimeout(resolve, 100));
          result = await ok(client, step.tool, args);
        }
      }
      const body = answer(result);
      if (step.tool === "owp_claim" && body && typeof body === "object" && body.lease) {
        ids.LEASE_ID = body.lease.lease_id;
      }
      answers.push({ tool: step.tool, answer: body });
    }
    summary.answers = answers;
  } else if (scenario === "disclose") {
    const lease = /** @type {ClaimResult} */ (json(await ok(client, "owp_claim", { wait_seconds: 5 }))).lease;
    check(lease && lease.lease_id, "owp_claim gave no lease");
    await ok(client, "owp_ack", { lease_id: lease.lease_id });
    summary.task_id = lease.task.task_id;
    const report = { task_id: lease.task.task_id, status: "pr_opened", pr_url: env("OWP_MCP_PR_URL") };
    const first = await call(client, "owp_report", report);
    summary.first = first.isError ? text(first) : "ok";
    /** @type {ReportResult} */
    const reported = first.isError
      ? json(await ok(client, "owp_report", { ...report, disclosure: { tool: env("OWP_MCP_TOOL") } }))
      : json(first);
    summary.reported_status = reported.task?.status;
  } else if (scenario === "link") {
    // The person is shown where to enter which code; the test approves it on the fake GitHub
    // once `FILE.asked` holds the code, then writes FILE; owp_link is called again until linked.
    /** @type {LinkResult} */
    const started = json(await ok(client, "owp_link", {}));
    summary.started = started;
    const file = env("OWP_MCP_APPROVE_FILE");
    writeFileSync(`${file}.asked`, started.user_code ?? "");
    for (let i = 0; i < 300 && !existsSync(file); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    check(existsSync(file), "the code was never approved");
    /** @type {LinkResult} */
    let answer = started;
    for (let i = 0; i < 30 && answer.status !== "linked"; i++) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      answer = json(await ok(client, "owp_link", {}));
    }
    summary.linked = answer;
  } else if (scenario === "refused") {
    summary.claim_error = await refused(client, "owp_claim", {});
    summary.current_error = await refused(client, "owp_current", {});
    summary.report_error = await refused(client, "owp_report", {
      task_id: "t_1",
      status: "blocked",
      note: "cannot reach anyone",
    });
    // The session is still alive after the errors.
    const again = await client.listTools();
    summary.tools_after_errors = again.tools.length;
  } else {
    fail(`unknown scenario ${scenario}`);
  }
} catch (e) {
  fail(`${(e instanceof Error && e.stack) || e}\n--- owp mcp stderr ---\n${serverLog}`);
}

await client.close();
summary.server_log = serverLog;
process.stdout.write(JSON.stringify(summary) + "\n");
