// Bundles the tests (TypeScript) for `node --test`, with `obsidian` replaced by the stand-in in
// test/obsidian-stub.ts, into .test-build/.
import esbuild from "esbuild";
import { readdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, ".test-build");
rmSync(out, { recursive: true, force: true });
const entries = [];
for (const dir of ["unit", "integration", "render", "signin"]) {
  for (const f of readdirSync(join(root, "test", dir))) {
    if (f.endsWith(".ts") && !f.endsWith(".browser.ts")) entries.push({ in: join(root, "test", dir, f), out: join(dir, f.replace(/\.ts$/, "")) });
  }
}
await esbuild.build({
  entryPoints: entries,
  outdir: out,
  outExtension: { ".js": ".mjs" },
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  alias: { obsidian: join(root, "test", "obsidian-stub.ts") },
  external: ["esbuild"],
  // Node 18 has Web Crypto only behind a flag: give the tests the same global as Obsidian has.
  banner: { js: 'import { webcrypto as __owpCrypto } from "node:crypto"; if (!globalThis.crypto) globalThis.crypto = __owpCrypto;' },
  logLevel: "warning",
  sourcemap: "inline",
});
