// Builds main.js twice from the same sources and fails unless both are byte for byte the same.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const digest = () => {
  execFileSync(process.execPath, ["esbuild.config.mjs", "production"], { cwd: root, stdio: ["ignore", "ignore", "inherit"] });
  return createHash("sha256").update(readFileSync(join(root, "main.js"))).digest("hex");
};
const first = digest();
const second = digest();
if (first !== second) {
  console.error(`main.js is not reproducible: ${first} then ${second}`);
  process.exit(1);
}
console.log(`main.js reproducible: sha256 ${first}`);
