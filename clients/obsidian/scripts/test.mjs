// `node scripts/test.mjs unit|integration`: bundles the tests, then runs that folder's tests with
// Node's own test runner (files named explicitly, as every Node version from 20 on reads them).
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const kind = process.argv[2] ?? "unit";
const built = spawnSync(process.execPath, [join(root, "scripts", "build-tests.mjs")], { stdio: "inherit" });
if (built.status !== 0) process.exit(built.status ?? 1);
const dir = join(root, ".test-build", kind);
const files = readdirSync(dir)
  .filter((f) => f.endsWith(".test.mjs"))
  .map((f) => join(dir, f));
const r = spawnSync(process.execPath, ["--test", "--test-reporter=spec", ...files], { stdio: "inherit", cwd: root });
process.exit(r.status ?? 1);
