// "Sign in with GitHub" against a real `owp serve` with sign-in on, over the fake GitHub (started
// by tests/it/signin.rs, which passes OWP_TEST_SERVER and OWP_TEST_REPO and plays the person who
// approves the code on GitHub's device page).
import assert from "node:assert/strict";
import { test } from "node:test";
import { obsidianRequester } from "../../main";
import { OwpClient, signInWithGitHub } from "../../src/api";

const SERVER = process.env.OWP_TEST_SERVER;
const REPO = process.env.OWP_TEST_REPO;
const skip = !SERVER || !REPO ? "OWP_TEST_SERVER and OWP_TEST_REPO are not set (tests/it/signin.rs sets them)" : false;

test("a maintainer signs in with GitHub and sees only the repository they maintain", { skip }, async () => {
  let token = "";
  const client = new OwpClient(obsidianRequester, () => ({ baseUrl: SERVER ?? "", adminToken: token || undefined }));
  const shown: string[] = [];
  const signedIn = await signInWithGitHub(client, (start) => {
    shown.push(start.user_code);
    console.log(`user code ${start.user_code} at ${start.verification_uri}`);
  });
  assert.equal(shown.length, 1);
  assert.match(signedIn.token, /^owpm_/);
  token = signedIn.token;
  const state = await client.state();
  assert.deepEqual(
    state.repos.map((r) => r.repo),
    [REPO],
  );
});
