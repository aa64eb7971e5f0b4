import assert from "node:assert/strict";
import { test } from "node:test";
import { OwpClient, OwpError, normalizeBaseUrl, signInWithGitHub } from "../../src/api";
import type { HttpRequest, HttpResponse } from "../../src/api";

function client(answer: (r: HttpRequest) => HttpResponse, creds = { baseUrl: "http://h:1/", adminToken: "adm-secret", workerToken: "wrk-secret" }) {
  const seen: HttpRequest[] = [];
  const c = new OwpClient(async (r) => {
    seen.push(r);
    return answer(r);
  }, () => creds);
  return { c, seen };
}

test("admin calls carry X-Admin-Token and worker calls a bearer token", async () => {
  const { c, seen } = client(() => ({ status: 200, text: '{"repos":[],"workers":[],"tasks":[],"events":[]}' }));
  await c.state();
  assert.equal(seen[0].url, "http://h:1/v1/admin/state?events=50");
  assert.equal(seen[0].headers["X-Admin-Token"], "adm-secret");
  assert.equal(seen[0].headers.Authorization, undefined);
  await c.me().catch(() => undefined);
  assert.equal(seen[1].headers.Authorization, "Bearer wrk-secret");
  assert.equal(seen[1].headers["X-Admin-Token"], undefined);
});

test("a maintainer's token from `owp login` goes as a bearer token, never as the admin token", async () => {
  const { c, seen } = client(() => ({ status: 200, text: '{"repos":[],"workers":[],"tasks":[],"events":[]}' }), {
    baseUrl: "http://h:1/",
    adminToken: "owpm_0123",
    workerToken: "wrk-secret",
  });
  await c.state();
  assert.equal(seen[0].headers.Authorization, "Bearer owpm_0123");
  assert.equal(seen[0].headers["X-Admin-Token"], undefined);
});

test("state changes send a fresh Idempotency-Key each time", async () => {
  const { c, seen } = client(() => ({ status: 200, text: '{"task_id":"t"}' }));
  await c.ack("l_1");
  await c.ack("l_1");
  const [a, b] = seen.map((r) => r.headers["Idempotency-Key"]);
  assert.match(a, /^obsidian-[0-9a-f]{32}$/);
  assert.notEqual(a, b);
});

test("an import goes as YAML, as written in the note", async () => {
  const { c, seen } = client(() => ({ status: 201, text: '{"tasks":[{"task_id":"t_1"}]}' }));
  const tasks = await c.importYaml("repo: a/b\ntasks:\n  - title: x\n");
  assert.equal(tasks.length, 1);
  assert.equal(seen[0].headers["Content-Type"], "application/yaml");
  assert.equal(seen[0].body, "repo: a/b\ntasks:\n  - title: x\n");
});

test("a claim answered 204 is no lease", async () => {
  const { c } = client(() => ({ status: 204, text: "" }));
  assert.equal(await c.claim(), null);
});

test("a problem+json answer becomes an OwpError with its code and its detail line by line", async () => {
  const { c } = client(() => ({
    status: 422,
    text: JSON.stringify({ type: "x", title: "Unprocessable", status: 422, code: "invalid_estimate_points", detail: "tasks[0].estimate_points must be 1 or more\nsecond line" }),
  }));
  await assert.rejects(c.importYaml("x"), (e: unknown) => {
    assert.ok(e instanceof OwpError);
    assert.equal(e.status, 422);
    assert.equal(e.code, "invalid_estimate_points");
    assert.deepEqual(e.lines(), ["HTTP 422 invalid_estimate_points", "tasks[0].estimate_points must be 1 or more", "second line"]);
    return true;
  });
});

test("an unreachable server and a missing token are clear errors, and a missing token sends nothing", async () => {
  const { c } = client(() => {
    throw new Error("connect ECONNREFUSED");
  });
  await assert.rejects(c.state(), /Cannot reach http:\/\/h:1: connect ECONNREFUSED/);
  const { c: c2, seen } = client(() => ({ status: 200, text: "{}" }), { baseUrl: "http://h:1", adminToken: "", workerToken: "" });
  await assert.rejects(c2.state(), (e: unknown) => e instanceof OwpError && e.code === "no_admin_token");
  await assert.rejects(c2.heartbeat(), (e: unknown) => e instanceof OwpError && e.code === "no_worker_token");
  assert.equal(seen.length, 0);
});

test("server URLs are normalised", () => {
  assert.equal(normalizeBaseUrl(" http://127.0.0.1:8787/ "), "http://127.0.0.1:8787");
  assert.equal(normalizeBaseUrl("pool.example.org"), "http://pool.example.org");
  assert.equal(normalizeBaseUrl("https://x//"), "https://x");
});

test("Sign in with GitHub: shows the code, polls until approved, slows down when asked", async () => {
  const answers = [
    { status: 200, text: '{"device_code":"dc","user_code":"ABCD-1234","verification_uri":"https://github.com/login/device","interval":5,"expires_in":900}' },
    { status: 428, text: '{"code":"authorization_pending","detail":"not yet","status":428,"title":"x","type":"x"}' },
    { status: 429, text: '{"code":"slow_down","detail":"slower","status":429,"title":"x","type":"x"}' },
    { status: 201, text: '{"token":"owpm_abc","login":"mona","expires_at":"2026-12-25T00:00:00.000Z"}' },
  ];
  const { c, seen } = client(() => answers.shift()!, { baseUrl: "http://h:1/", adminToken: "", workerToken: "" });
  const shown: string[] = [];
  const waits: number[] = [];
  const token = await signInWithGitHub(
    c,
    (s) => shown.push(`${s.verification_uri} ${s.user_code}`),
    async (ms) => void waits.push(ms),
  );
  assert.equal(token.token, "owpm_abc");
  assert.equal(token.login, "mona");
  assert.deepEqual(shown, ["https://github.com/login/device ABCD-1234"]);
  assert.deepEqual(waits, [5000, 5000, 10000], "the interval, then 5 s more after slow_down");
  assert.equal(seen[0].url, "http://h:1/v1/auth/device");
  assert.equal(seen[1].url, "http://h:1/v1/auth/device/token");
  assert.equal(seen[1].body, '{"device_code":"dc"}');
  assert.equal(seen[1].headers["X-Admin-Token"], undefined);
});

test("Sign in with GitHub: a declined sign-in ends with the server's reason", async () => {
  const answers = [
    { status: 200, text: '{"device_code":"dc","user_code":"U","verification_uri":"v","interval":1,"expires_in":900}' },
    { status: 403, text: '{"code":"access_denied","detail":"declined","status":403,"title":"x","type":"x"}' },
  ];
  const { c } = client(() => answers.shift()!);
  await assert.rejects(signInWithGitHub(c, () => {}, async () => {}), (e: unknown) => e instanceof OwpError && e.code === "access_denied");
});

test("proposals are read, approved and declined at the contract's paths, as the admin", async () => {
  const proposal = {
    proposal_id: "p_1",
    task_id: "t/1",
    worker_id: "w_1",
    plan: "Add a test.",
    state: "open",
    created_at: "2026-11-22T00:00:00Z",
    expires_at: "2026-11-29T00:00:00Z",
  };
  const { c, seen } = client((r) => {
    if (r.url.endsWith("/approve")) return { status: 200, text: JSON.stringify({ proposal: { ...proposal, state: "approved" } }) };
    if (r.url.endsWith("/decline")) return { status: 200, text: JSON.stringify({ ...proposal, state: "declined" }) };
    return { status: 200, text: JSON.stringify({ proposals: [proposal] }) };
  });
  const list = await c.proposals("t/1");
  assert.equal(list[0].plan, "Add a test.");
  assert.equal(seen[0].url, "http://h:1/v1/tasks/t%2F1/proposals");
  assert.equal(seen[0].method, "GET");
  assert.equal(seen[0].headers["X-Admin-Token"], "adm-secret");
  const approved = await c.approveProposal("p_1");
  assert.equal(approved.proposal.state, "approved");
  assert.equal(seen[1].url, "http://h:1/v1/admin/proposals/p_1/approve");
  assert.equal(seen[1].method, "POST");
  assert.match(seen[1].headers["Idempotency-Key"], /^obsidian-/);
  await c.declineProposal("p_1", "Too broad.");
  assert.equal(seen[2].url, "http://h:1/v1/admin/proposals/p_1/decline");
  assert.deepEqual(JSON.parse(seen[2].body ?? "{}"), { reason: "Too broad." });
  await c.declineProposal("p_1");
  assert.deepEqual(JSON.parse(seen[3].body ?? "{}"), {});
  // A worker reads its own with its bearer token.
  await c.proposals("t/1", "worker");
  assert.equal(seen[4].headers.Authorization, "Bearer wrk-secret");
});
