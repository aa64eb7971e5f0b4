// A small stand-in for the `obsidian` module, for running the plugin in Node: it records what the
// plugin registers and shows, keeps plugin data in memory, and answers `requestUrl` with fetch.

import { createRequire } from "node:module";
import { FakeElement, installFakeDom } from "./fake-dom";

// Obsidian's desktop app has Node's `require` in the page: so does this stand-in.
(globalThis as { require?: unknown }).require ??= createRequire(import.meta.url);

const doc = installFakeDom();

export const Platform = { isDesktopApp: true, isMobile: false, isMobileApp: false };

export function normalizePath(p: string): string {
  return p.replace(/\\/g, "/").replace(/\/+/g, "/").replace(/^\/|\/$/g, "");
}

export interface RequestUrlParam {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  throw?: boolean;
}

export const requestLog: RequestUrlParam[] = [];

export async function requestUrl(p: RequestUrlParam): Promise<{ status: number; text: string }> {
  requestLog.push(p);
  const r = await fetch(p.url, { method: p.method ?? "GET", headers: p.headers, body: p.body });
  const text = await r.text();
  if (p.throw !== false && r.status >= 400) throw new Error(`Request failed, status ${r.status}`);
  return { status: r.status, text };
}

export class Notice {
  static shown: string[] = [];
  noticeEl: FakeElement;
  constructor(message: string | FakeElement, _ms?: number) {
    const text =
      typeof message === "string" ? message : message.children.map((c: FakeElement) => c.textContent).join("\n");
    Notice.shown.push(text);
    this.noticeEl = doc.createElement("div");
    this.noticeEl.textContent = text;
  }
  hide(): void {}
}

export class TFile {
  constructor(
    public path: string,
    public extension = "md",
  ) {}
}

export class Vault {
  files = new Map<string, string>();
  folders = new Set<string>();
  configDir = ".obsidian";
  getName() {
    return "Test vault";
  }
  async cachedRead(f: TFile) {
    return this.files.get(f.path) ?? "";
  }
  async read(f: TFile) {
    return this.cachedRead(f);
  }
  async create(path: string, text: string) {
    this.files.set(path, text);
    return new TFile(path);
  }
  async modify(f: TFile, text: string) {
    this.files.set(f.path, text);
  }
  async createFolder(p: string) {
    this.folders.add(p);
  }
  getAbstractFileByPath(p: string) {
    return this.files.has(p) ? new TFile(p) : this.folders.has(p) ? { path: p } : null;
  }
  getFileByPath(p: string) {
    return this.files.has(p) ? new TFile(p) : null;
  }
}

export class WorkspaceLeaf {
  view: unknown = null;
  opened: TFile | null = null;
  async setViewState() {}
  async openFile(f: TFile) {
    this.opened = f;
  }
}

export class Workspace {
  activeFile: TFile | null = null;
  leaves: WorkspaceLeaf[] = [];
  onLayoutReady(cb: () => void) {
    cb();
  }
  getLeavesOfType(_t: string) {
    return this.leaves.filter((l) => l.view);
  }
  getActiveFile() {
    return this.activeFile;
  }
  getRightLeaf() {
    const l = new WorkspaceLeaf();
    this.leaves.push(l);
    return l;
  }
  getLeaf() {
    const l = new WorkspaceLeaf();
    this.leaves.push(l);
    return l;
  }
  async revealLeaf() {}
}

export class App {
  vault = new Vault();
  workspace = new Workspace();
}

export interface Command {
  id: string;
  name: string;
  checkCallback?: (checking: boolean) => boolean | void;
  callback?: () => void;
}

export class Plugin {
  commands: Command[] = [];
  ribbons: string[] = [];
  statusBar: FakeElement[] = [];
  views = new Map<string, (leaf: WorkspaceLeaf) => unknown>();
  intervals: unknown[] = [];
  settingTabs: unknown[] = [];
  data: unknown = null;
  constructor(
    public app: App,
    public manifest: { id: string; version: string } = { id: "owp-pool", version: "0.0.0" },
  ) {}
  async loadData() {
    return this.data === null ? null : JSON.parse(JSON.stringify(this.data));
  }
  async saveData(d: unknown) {
    this.data = JSON.parse(JSON.stringify(d));
  }
  addCommand(c: Command) {
    this.commands.push(c);
    return c;
  }
  addRibbonIcon(icon: string, title: string, _cb: () => void) {
    this.ribbons.push(`${icon}: ${title}`);
    return doc.createElement("div");
  }
  addStatusBarItem() {
    const e = doc.createElement("div");
    this.statusBar.push(e);
    return e;
  }
  registerView(type: string, make: (leaf: WorkspaceLeaf) => unknown) {
    this.views.set(type, make);
  }
  registerInterval(h: unknown) {
    // Obsidian clears these on unload; here they must not keep Node running.
    (h as { unref?: () => void })?.unref?.();
    this.intervals.push(h);
    return h;
  }
  addSettingTab(t: unknown) {
    this.settingTabs.push(t);
  }
  register(_cb: () => void) {}
}

export class ItemView {
  contentEl = doc.createElement("div");
  constructor(public leaf: WorkspaceLeaf) {}
}

export class Modal {
  titleEl = doc.createElement("div");
  contentEl = doc.createElement("div");
  static opened: Modal[] = [];
  constructor(public app: App) {}
  open() {
    Modal.opened.push(this);
    (this as unknown as { onOpen?: () => void }).onOpen?.();
  }
  close() {}
}

class Component<T> {
  inputEl = doc.createElement("input") as FakeElement & { value: string; type: string; autocomplete: string };
  private handler: ((v: T) => void) | null = null;
  value: T | undefined;
  setValue(v: T) {
    this.value = v;
    return this;
  }
  setPlaceholder(p: string) {
    this.inputEl.setAttribute("placeholder", p);
    return this;
  }
  onChange(fn: (v: T) => void) {
    this.handler = fn;
    return this;
  }
  /** Test hook: the person typed `v`. */
  change(v: T) {
    this.value = v;
    this.handler?.(v);
  }
  addOption(_v: string, _l: string) {
    return this;
  }
  setButtonText(t: string) {
    this.inputEl.textContent = t;
    return this;
  }
  setCta() {
    return this;
  }
  onClick(fn: () => void) {
    this.inputEl.addEventListener("click", () => fn());
    return this;
  }
}

export class Setting {
  static all: Setting[] = [];
  name = "";
  desc = "";
  components: Component<unknown>[] = [];
  constructor(public containerEl: FakeElement) {
    Setting.all.push(this);
  }
  setName(n: string) {
    this.name = n;
    return this;
  }
  setDesc(d: string) {
    this.desc = d;
    return this;
  }
  setHeading() {
    return this;
  }
  private add<T>(fn: (c: Component<T>) => unknown) {
    const c = new Component<T>();
    this.components.push(c as Component<unknown>);
    fn(c);
    return this;
  }
  addText(fn: (c: Component<string>) => unknown) {
    return this.add(fn);
  }
  addToggle(fn: (c: Component<boolean>) => unknown) {
    return this.add(fn);
  }
  addDropdown(fn: (c: Component<string>) => unknown) {
    return this.add(fn);
  }
  addButton(fn: (c: Component<void>) => unknown) {
    return this.add(fn);
  }
}

export class PluginSettingTab {
  containerEl = doc.createElement("div");
  constructor(
    public app: App,
    public plugin: Plugin,
  ) {}
}
