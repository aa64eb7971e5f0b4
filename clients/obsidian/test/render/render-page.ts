// `node .test-build/render/render-page.mjs MODEL.json OUT.png`: renders the status view for a
// model (written by the integration test) into a page styled like Obsidian's dark theme, with the
// plugin's own styles.css, and has headless Chromium screenshot it and check its DOM.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import esbuild from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

function chromium(): string | null {
  if (process.env.OWP_CHROMIUM) return process.env.OWP_CHROMIUM;
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    for (const name of ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"]) {
      if (existsSync(join(dir, name))) return join(dir, name);
    }
  }
  return null;
}

const THEME = `
body { margin: 0; background: #262626; font-family: -apple-system, "Segoe UI", "Inter", "DejaVu Sans", sans-serif; }
:root {
  --background-primary: #1e1e1e; --background-secondary: #262626; --background-modifier-border: #3a3a3a;
  --text-normal: #dadada; --text-muted: #a0a0a0; --text-faint: #666; --text-on-accent: #fff;
  --interactive-accent: #7f6df2; --interactive-normal: #363636;
  --color-red: #fb464c; --color-green: #44cf6e; --color-orange: #e9973f; --color-yellow: #e0de71; --color-blue: #027aff;
  --font-ui-small: 13px; --font-ui-smaller: 12px; --font-ui-medium: 15px; --radius-s: 4px; --radius-m: 8px;
}
.pane { width: 380px; min-height: 100vh; background: var(--background-secondary); border-left: 1px solid #111; }
.pane-title { color: var(--text-muted); font-size: 12px; padding: 8px 10px; border-bottom: 1px solid var(--background-modifier-border); }
button { background: var(--interactive-normal); color: var(--text-normal); border: 0; border-radius: 4px; cursor: pointer; }
button.mod-cta { background: var(--interactive-accent); color: var(--text-on-accent); }
`;

async function main() {
  const [modelPath, outPng] = process.argv.slice(2);
  if (!modelPath || !outPng) throw new Error("usage: render-page MODEL.json OUT.png");
  const binary = chromium();
  if (!binary) {
    console.log("SKIPPED: Chromium not found (set OWP_CHROMIUM or install chromium)");
    return;
  }
  const model = readFileSync(modelPath, "utf8");
  const bundle = await esbuild.build({
    entryPoints: [join(root, "test/render/page-entry.browser.ts")],
    bundle: true,
    format: "iife",
    target: "es2020",
    write: false,
  });
  const script = bundle.outputFiles[0].text;
  const css = readFileSync(join(root, "styles.css"), "utf8");
  const html = `<!doctype html><html><head><meta charset="utf-8"><title>OWP Pool view</title>
<style>${THEME}</style><style>${css}</style></head>
<body><div class="pane"><div class="pane-title">OWP Pool</div><div id="owp-root"></div></div>
<script>window.OWP_MODEL = ${model.replace(/</g, "\\u003c")};</script><script>${script.replace(/<\/script/gi, "<\\/script")}</script></body></html>`;
  const dir = mkdtempSync(join(tmpdir(), "owp-obsidian-view-"));
  try {
    const page = join(dir, "view.html");
    writeFileSync(page, html);
    const common = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run", "--disable-dev-shm-usage", `--user-data-dir=${join(dir, "profile")}`];
    const dom = execFileSync(binary, [...common, "--dump-dom", `file://${page}`], { encoding: "utf8", timeout: 60_000, stdio: ["ignore", "pipe", "ignore"] });
    const m = JSON.parse(model);
    const expect: [string, boolean][] = [
      ['data-rendered="yes"', true],
      ["owp-repo is-throttled", m.repos.some((r: { budget: { throttled: boolean } }) => r.budget.throttled)],
      ["owp-lease owp-lease-offered", m.worker?.leases.some((l: { phase: string }) => l.phase === "offered") ?? false],
      ['class="owp-event"', m.events.length > 0],
    ];
    for (const [needle, want] of expect) {
      if (dom.includes(needle) !== want) throw new Error(`the rendered view ${want ? "lacks" : "has"} ${needle}`);
    }
    for (const r of m.repos) if (!dom.includes(`data-repo="${r.repo}"`)) throw new Error(`the rendered view lacks repo ${r.repo}`);
    execFileSync(binary, [...common, "--window-size=382,900", `--screenshot=${outPng}`, `file://${page}`], { timeout: 60_000, stdio: "ignore" });
    if (!existsSync(outPng) || readFileSync(outPng).length < 1000) throw new Error("no screenshot written");
    console.log(`rendered the status view: ${outPng}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(String(e?.stack ?? e));
  process.exit(1);
});
