// OWP Pool for Obsidian: the Obsidian side only (views, commands, modals, notices, settings).
// The protocol, the live feed and what is shown live in src/ and run without Obsidian.

import { App, ItemView, Modal, Notice, Platform, Plugin, PluginSettingTab, Setting, WorkspaceLeaf, normalizePath, requestUrl } from "obsidian";
import type { Lease, Proposal, Requester, Task, TaskStatus } from "./src/api";
import { signInWithGitHub } from "./src/api";
import { Controller, DEFAULT_SETTINGS, errorLines, loadSettings } from "./src/controller";
import type { PluginSettings, RefreshMode } from "./src/controller";
import { nodeStreamOpener } from "./src/events";
import type { StreamOpener } from "./src/events";
import { renderStatus } from "./src/render";
import type { ViewActions } from "./src/render";
import { parseSkills } from "./src/session";

export const VIEW_TYPE = "owp-pool-status";

/** Obsidian's `requestUrl`: not bound by CORS, on desktop and mobile. */
export const obsidianRequester: Requester = async (req) => {
  const r = await requestUrl({ url: req.url, method: req.method, headers: req.headers, body: req.body, throw: false });
  return { status: r.status, text: r.text };
};

/** A held event stream where Node's http is there (desktop); none on mobile (polling instead). */
function desktopStreamOpener(): StreamOpener | undefined {
  if (!Platform.isDesktopApp) return undefined;
  const req = (globalThis as { require?: (m: string) => unknown }).require;
  if (typeof req !== "function") return undefined;
  try {
    return nodeStreamOpener(req("http") as never, req("https") as never);
  } catch {
    return undefined;
  }
}

/** A notice with one line per entry (server errors are shown line by line). */
export function notice(lines: string[], seconds = 8): Notice {
  const frag = document.createDocumentFragment();
  for (const l of lines) {
    const d = document.createElement("div");
    d.textContent = l;
    frag.appendChild(d);
  }
  return new Notice(frag, seconds * 1000);
}

export default class OwpPoolPlugin extends Plugin {
  settings: PluginSettings = { ...DEFAULT_SETTINGS };
  ctl!: Controller;
  private statusEl: HTMLElement | null = null;
  private lastOfferNotified = "";

  async onload(): Promise<void> {
    this.settings = loadSettings(await this.loadData());
    this.ctl = new Controller(
      this.settings,
      { requester: obsidianRequester, opener: desktopStreamOpener() },
      {
        changed: () => this.changed(),
        offered: (l) => this.offered(l),
        backgroundError: (e) => this.backgroundError(e),
        save: () => this.saveSettings(),
      },
    );

    this.registerView(VIEW_TYPE, (leaf) => new StatusView(leaf, this));
    this.addRibbonIcon("network", "OWP Pool: open the status view", () => void this.openView());
    this.statusEl = this.addStatusBarItem();
    this.statusEl.addClass("owp-statusbar");
    this.statusEl.onClickEvent(() => void this.openView());
    this.registerInterval(window.setInterval(() => this.tickClock(), 1000));
    this.addSettingTab(new OwpSettingTab(this.app, this));
    this.addCommands();
    this.changed();

    this.app.workspace.onLayoutReady(() => {
      void this.ctl.start();
      if (this.settings.goOnlineAtStart && this.settings.workerToken) void this.run("Online", () => this.ctl.session.goOnline().then(() => "Online: heartbeats every " + this.ctl.session.heartbeatSeconds + " s."));
    });
  }

  onunload(): void {
    this.ctl?.dispose();
  }

  async saveSettings(): Promise<void> {
    await this.saveData(this.settings);
  }

  /** Restarts the feed after a settings change. */
  async restart(): Promise<void> {
    await this.saveSettings();
    await this.ctl.start();
    this.changed();
  }

  // ---- showing ----

  changed(): void {
    if (this.statusEl) this.statusEl.setText(this.ctl.statusBar());
    for (const leaf of this.app.workspace.getLeavesOfType(VIEW_TYPE)) {
      const v = leaf.view;
      if (v instanceof StatusView) v.render();
    }
  }

  private tickClock(): void {
    if (this.statusEl) this.statusEl.setText(this.ctl.statusBar());
    if (this.ctl.session.snapshot?.leases.length) this.changed();
  }

  private offered(l: Lease): void {
    if (this.lastOfferNotified === l.lease_id) return;
    this.lastOfferNotified = l.lease_id;
    notice([`OWP: offered "${l.task.title}" (${l.task.repo})`, "Accept or reject it in the OWP Pool view."], 10);
    this.changed();
  }

  private backgroundError(e: unknown): void {
    console.warn("OWP Pool:", errorLines(e).join(" | "));
    this.changed();
  }

  /** Runs an action without blocking the editor; its result or its error becomes a notice. */
  async run(what: string, fn: () => Promise<string | string[] | void>): Promise<void> {
    try {
      const r = await fn();
      if (r) notice(Array.isArray(r) ? r : [r], 5);
    } catch (e) {
      notice([`${what} failed:`, ...errorLines(e)], 12);
    }
    this.changed();
  }

  async openView(): Promise<void> {
    const ws = this.app.workspace;
    let leaf = ws.getLeavesOfType(VIEW_TYPE)[0];
    if (!leaf) {
      leaf = ws.getRightLeaf(false) ?? ws.getLeaf(true);
      await leaf.setViewState({ type: VIEW_TYPE, active: true });
    }
    await ws.revealLeaf(leaf);
  }

  // ---- actions (shared by commands and the view's buttons) ----

  readonly actions: ViewActions = {
    refresh: () => void this.run("Refresh", async () => void (await this.ctl.refreshAll())),
    toggleOnline: () => (this.ctl.session.online ? this.goOffline() : this.goOnline()),
    ack: (id) => void this.run("Accept", async () => `Accepted: ${(await this.ctl.session.ack(id)).title}`),
    nack: (id) =>
      new FormModal(this.app, "Reject or give back the lease", [{ key: "reason", label: "Reason (shown to maintainers)", kind: "text" }], async (v) => {
        await this.run("Reject", async () => `Given back: ${(await this.ctl.session.nack(id, v.reason || undefined)).title}`);
      }).open(),
    renew: (id) => void this.run("Renew", async () => `Renewed: ${(await this.ctl.session.renew(id)).title}`),
    reportPr: (taskId) =>
      new FormModal(
        this.app,
        "Report the pull request",
        [
          { key: "pr_url", label: "Pull request URL", kind: "text", placeholder: "https://github.com/owner/name/pull/1" },
          { key: "note", label: "Note (optional)", kind: "text" },
        ],
        async (v) => {
          await this.run("Report", async () => `PR reported: ${(await this.ctl.session.reportPr(taskId, v.pr_url.trim(), v.note || undefined)).title}`);
        },
      ).open(),
    openNote: (taskId) => void this.run("Open task", () => this.openTaskNote(taskId)),
    setBudget: (repo) => this.setBudgetModal(repo),
    initRepo: () => this.initRepoModal(),
    importNote: () => void this.importActiveNote(),
    blockTask: () => this.blockModal(),
    reviewProposals: () => this.proposalsModal(),
    register: () => this.registerModal(),
  };

  goOnline(): void {
    void this.run("Go online", async () => {
      await this.ctl.session.goOnline();
      return `Online as ${this.settings.workerName || "this vault"}: heartbeats every ${this.ctl.session.heartbeatSeconds} s.`;
    });
  }

  goOffline(): void {
    void this.run("Go offline", async () => {
      await this.ctl.session.goOffline();
      return "Offline: no new offers (held leases keep running until they expire).";
    });
  }

  private needLease(phase: "offered" | "working", fn: (l: Lease) => void): void {
    const l = this.ctl.session.pick(undefined, phase);
    if (!l) {
      notice([phase === "offered" ? "No offered lease waits for an answer." : "No lease in progress."], 5);
      return;
    }
    fn(l);
  }

  private async openTaskNote(taskId: string): Promise<string> {
    const { path, text } = await this.ctl.taskNote(taskId);
    const p = normalizePath(path);
    const folder = p.includes("/") ? p.slice(0, p.lastIndexOf("/")) : "";
    if (folder && !this.app.vault.getAbstractFileByPath(folder)) await this.app.vault.createFolder(folder);
    const existing = this.app.vault.getFileByPath(p);
    const file = existing ? (await this.app.vault.modify(existing, text), existing) : await this.app.vault.create(p, text);
    await this.app.workspace.getLeaf(true).openFile(file);
    return `Opened ${p}`;
  }

  private async importActiveNote(): Promise<void> {
    const file = this.app.workspace.getActiveFile();
    if (!file || file.extension !== "md") {
      notice(["Open the note with the tasks first."], 5);
      return;
    }
    const text = await this.app.vault.cachedRead(file);
    const r = await this.ctl.importFromNote(text);
    notice(r.ok ? r.lines : ["Import failed:", ...r.lines], r.ok ? 6 : 15);
    this.changed();
  }

  private repoNames(): string[] {
    return (this.ctl.state?.repos ?? []).map((r) => r.repo);
  }

  private initRepoModal(): void {
    new FormModal(
      this.app,
      "New repository policy",
      [
        { key: "repo", label: "Repository (owner/name, or any key)", kind: "text" },
        { key: "max_open_prs", label: "Review budget (max_open_prs)", kind: "number", value: "3" },
        { key: "area_locks", label: "Area locks", kind: "toggle", value: "true" },
      ],
      async (v) => {
        await this.run("Repository policy", async () => {
          const p = await this.ctl.initRepo(v.repo, Number(v.max_open_prs), v.area_locks === "true");
          return `Policy saved: ${p.repo}, review budget ${p.max_open_prs}.`;
        });
      },
    ).open();
  }

  setBudgetModal(repo?: string): void {
    const repos = this.repoNames();
    const current = this.ctl.state?.repos.find((r) => r.repo === repo);
    new FormModal(
      this.app,
      "Set the review budget",
      [
        repos.length ? { key: "repo", label: "Repository", kind: "dropdown", options: repos, value: repo ?? repos[0] } : { key: "repo", label: "Repository", kind: "text", value: repo ?? "" },
        { key: "max_open_prs", label: "max_open_prs", kind: "number", value: String(current?.max_open_prs ?? 3) },
      ],
      async (v) => {
        await this.run("Review budget", async () => {
          const p = await this.ctl.setBudget(v.repo, Number(v.max_open_prs));
          return `${p.repo}: review budget ${p.max_open_prs}${p.throttled ? " (throttled)" : ""}.`;
        });
      },
    ).open();
  }

  blockModal(unblock = false): void {
    const tasks = (this.ctl.state?.tasks ?? []).filter((t) => (unblock ? t.status === "blocked" : !["blocked", "merged", "cancelled"].includes(t.status)));
    if (tasks.length === 0) {
      notice([unblock ? "No blocked task." : "No task to block (refresh with the admin token set)."], 5);
      return;
    }
    const label = (t: Task) => `${t.repo} · ${t.key ?? t.task_id} · ${t.title} [${t.status}]`.slice(0, 120);
    new FormModal(
      this.app,
      unblock ? "Unblock a task" : "Block or unblock a task",
      [
        { key: "task", label: "Task", kind: "dropdown", options: tasks.map((t) => t.task_id), labels: tasks.map(label), value: tasks[0].task_id },
        ...(unblock ? [] : [{ key: "action", label: "Action", kind: "dropdown" as const, options: ["blocked", "ready"], labels: ["block", "unblock (back to ready)"], value: "blocked" }]),
        { key: "reason", label: "Reason", kind: "text" },
      ],
      async (v) => {
        const status = (unblock ? "ready" : v.action) as TaskStatus;
        await this.run(status === "blocked" ? "Block" : "Unblock", async () => {
          const t = await this.ctl.setTaskStatus(v.task, status, v.reason || undefined);
          return `${t.key ?? t.task_id}: ${t.status}.`;
        });
      },
    ).open();
  }

  /**
   * A maintainer reviews a ready task's proposals: the task's note opens with every plan quoted
   * and each proposer's scorecard, and a form approves or declines one of the open proposals.
   */
  proposalsModal(): void {
    const tasks = (this.ctl.state?.tasks ?? []).filter((t) => t.status === "ready");
    if (tasks.length === 0) {
      notice(["No ready task (refresh with the admin token set)."], 5);
      return;
    }
    const label = (t: Task) => `${t.repo} · ${t.key ?? t.task_id} · ${t.title}`.slice(0, 120);
    new FormModal(
      this.app,
      "A task's proposals",
      [{ key: "task", label: "Task", kind: "dropdown", options: tasks.map((t) => t.task_id), labels: tasks.map(label), value: tasks[0].task_id }],
      async (v) => {
        await this.run("Proposals", async () => {
          const proposals = await this.ctl.taskProposals(v.task);
          await this.openTaskNote(v.task);
          const open = proposals.filter((p) => p.state === "open");
          if (open.length === 0) return "No open proposal for this task.";
          this.decideModal(open);
        });
      },
    ).open();
  }

  private decideModal(open: Proposal[]): void {
    const label = (p: Proposal) =>
      `${p.login ?? p.worker_id}${p.scorecard ? ` · ${p.scorecard.merged_here} merged here` : ""} · ${p.plan.replace(/\s+/g, " ")}`.slice(0, 120);
    new FormModal(
      this.app,
      "Approve or decline a proposal",
      [
        { key: "proposal", label: "Proposal", kind: "dropdown", options: open.map((p) => p.proposal_id), labels: open.map(label), value: open[0].proposal_id },
        { key: "action", label: "Action", kind: "dropdown", options: ["approve", "decline"], labels: ["approve (the proposer holds the task)", "decline"], value: "approve" },
        { key: "reason", label: "Reason (a decline tells the proposer)", kind: "text" },
      ],
      async (v) => {
        await this.run(v.action === "approve" ? "Approve" : "Decline", () =>
          v.action === "approve" ? this.ctl.approveProposal(v.proposal) : this.ctl.declineProposal(v.proposal, v.reason || undefined),
        );
      },
    ).open();
  }

  registerModal(): void {
    new FormModal(
      this.app,
      "Register this vault's worker",
      [
        { key: "name", label: "Name", kind: "text", value: this.settings.workerName || "obsidian-" + this.app.vault.getName() },
        { key: "skills", label: "Skills (comma-separated)", kind: "text", placeholder: "rust, docs" },
        { key: "capacity", label: "Capacity (points)", kind: "number", value: "3" },
        { key: "concurrent", label: "Tasks at once", kind: "number", value: "1" },
      ],
      async (v) => {
        await this.run("Register", async () => {
          await this.ctl.registerWorker({
            name: v.name.trim(),
            skills: parseSkills(v.skills),
            capacity_points: Number(v.capacity),
            max_concurrent_tasks: Number(v.concurrent),
          });
          return `Registered ${this.settings.workerName} (${this.settings.workerId}). Its token is kept in this vault's plugin data.`;
        });
      },
    ).open();
  }

  private addCommands(): void {
    const admin = () => !!this.settings.adminToken;
    const worker = () => !!this.settings.workerToken;
    const cmd = (id: string, name: string, when: () => boolean, fn: () => void) =>
      this.addCommand({
        id,
        name,
        checkCallback: (checking) => {
          if (!when()) return false;
          if (!checking) fn();
          return true;
        },
      });
    const always = () => true;
    cmd("open-status", "Open the status view", always, () => void this.openView());
    cmd("refresh", "Refresh now", always, () => this.actions.refresh());
    // Admin.
    cmd("init-repo", "Admin: new repository policy", admin, () => this.actions.initRepo());
    cmd("import-note", "Admin: import tasks from the current note", admin, () => this.actions.importNote());
    cmd("set-budget", "Admin: set a repository's review budget (max_open_prs)", admin, () => this.setBudgetModal());
    cmd("block-task", "Admin: block or unblock a task", admin, () => this.blockModal());
    cmd("unblock-task", "Admin: unblock a task", admin, () => this.blockModal(true));
    cmd("review-proposals", "Admin: review a task's proposals (approve or decline)", admin, () => this.proposalsModal());
    // Worker.
    cmd("register-worker", "Worker: register this vault's worker", always, () => this.registerModal());
    cmd("go-online", "Worker: go online (heartbeats)", () => worker() && !this.ctl.session.online, () => this.goOnline());
    cmd("go-offline", "Worker: go offline", () => worker() && this.ctl.session.online, () => this.goOffline());
    cmd("claim", "Worker: ask for work now", worker, () =>
      void this.run("Ask for work", async () => ((await this.ctl.session.claim()) ? undefined : "Nothing to offer right now.")),
    );
    cmd("ack", "Worker: accept the offered lease", worker, () => this.needLease("offered", (l) => this.actions.ack(l.lease_id)));
    cmd("nack", "Worker: reject or give back a lease (with a reason)", worker, () => {
      const l = this.ctl.session.pick();
      if (l) this.actions.nack(l.lease_id);
      else notice(["No lease held."], 5);
    });
    cmd("renew", "Worker: renew the lease", worker, () => this.needLease("working", (l) => this.actions.renew(l.lease_id)));
    cmd("report-pr", "Worker: report the pull request URL", worker, () => this.needLease("working", (l) => this.actions.reportPr(l.task.task_id)));
    cmd("open-task-note", "Worker: open the task as a note", worker, () => {
      const l = this.ctl.session.pick();
      if (l) this.actions.openNote(l.task.task_id);
      else notice(["No lease held."], 5);
    });
  }
}

// ---- the side pane ----

export class StatusView extends ItemView {
  constructor(
    leaf: WorkspaceLeaf,
    private readonly plugin: OwpPoolPlugin,
  ) {
    super(leaf);
  }
  getViewType(): string {
    return VIEW_TYPE;
  }
  getDisplayText(): string {
    return "OWP Pool";
  }
  getIcon(): string {
    return "network";
  }
  async onOpen(): Promise<void> {
    this.render();
  }
  render(): void {
    renderStatus(this.contentEl, this.plugin.ctl.model(), this.plugin.actions);
  }
}

// ---- a small form modal ----

interface Field {
  key: string;
  label: string;
  kind: "text" | "number" | "toggle" | "dropdown";
  value?: string;
  placeholder?: string;
  options?: string[];
  labels?: string[];
}

export class FormModal extends Modal {
  private values: Record<string, string> = {};
  constructor(
    app: App,
    private readonly heading: string,
    private readonly fields: Field[],
    private readonly submit: (v: Record<string, string>) => Promise<void>,
  ) {
    super(app);
  }
  onOpen(): void {
    this.titleEl.setText(this.heading);
    for (const f of this.fields) {
      this.values[f.key] = f.value ?? "";
      const s = new Setting(this.contentEl).setName(f.label);
      if (f.kind === "toggle") s.addToggle((t) => t.setValue(f.value === "true").onChange((v) => (this.values[f.key] = String(v))));
      else if (f.kind === "dropdown")
        s.addDropdown((d) => {
          (f.options ?? []).forEach((o, i) => d.addOption(o, f.labels?.[i] ?? o));
          d.setValue(f.value ?? "").onChange((v) => (this.values[f.key] = v));
        });
      else
        s.addText((t) => {
          if (f.kind === "number") t.inputEl.type = "number";
          t.setPlaceholder(f.placeholder ?? "").setValue(f.value ?? "").onChange((v) => (this.values[f.key] = v));
        });
    }
    new Setting(this.contentEl).addButton((b) =>
      b
        .setButtonText("OK")
        .setCta()
        .onClick(() => {
          this.close();
          void this.submit({ ...this.values });
        }),
    );
  }
  onClose(): void {
    this.contentEl.empty();
  }
}

// ---- settings ----

export class OwpSettingTab extends PluginSettingTab {
  constructor(
    app: App,
    private readonly plugin: OwpPoolPlugin,
  ) {
    super(app, plugin);
  }

  /** A secret field: write-only; the stored value is never put back into the page. */
  private secret(name: string, desc: string, key: "adminToken" | "workerToken"): void {
    const s = this.plugin.settings;
    const set = new Setting(this.containerEl).setName(name).setDesc(desc);
    set.addText((t) => {
      t.inputEl.type = "password";
      t.inputEl.autocomplete = "off";
      t.setPlaceholder(s[key] ? "stored — type a new one to replace it" : "not set");
      t.inputEl.addEventListener("change", () => {
        const v = t.inputEl.value.trim();
        t.inputEl.value = "";
        if (!v) return;
        s[key] = v;
        if (key === "workerToken") s.workerId = "";
        void this.plugin.restart().then(() => this.display());
      });
    });
    if (s[key])
      set.addButton((b) =>
        b.setButtonText("Forget").onClick(() => {
          s[key] = "";
          if (key === "workerToken") {
            s.workerId = "";
            this.plugin.ctl.session.dispose();
            this.plugin.ctl.session.snapshot = null;
          }
          void this.plugin.restart().then(() => this.display());
        }),
      );
  }

  /** The device flow: the code to enter on GitHub, then the maintainer token in place of the admin token. */
  private async signIn(): Promise<void> {
    let shown: ReturnType<typeof notice> | null = null;
    try {
      const token = await signInWithGitHub(this.plugin.ctl.client, (start) => {
        shown = notice([`Open ${start.verification_uri} and enter the code ${start.user_code}`, "Waiting for GitHub…"], start.expires_in);
      });
      (shown as ReturnType<typeof notice> | null)?.hide();
      this.plugin.settings.adminToken = token.token;
      notice([`Signed in as ${token.login} until ${token.expires_at}.`]);
      await this.plugin.restart();
      this.display();
    } catch (e) {
      (shown as ReturnType<typeof notice> | null)?.hide();
      notice(["Sign-in with GitHub did not finish:", ...errorLines(e)]);
    }
  }

  display(): void {
    const { containerEl } = this;
    const s = this.plugin.settings;
    containerEl.empty();
    new Setting(containerEl).setName("Server").setHeading();
    new Setting(containerEl)
      .setName("Server URL")
      .setDesc("The OWP server, e.g. http://127.0.0.1:8787.")
      .addText((t) =>
        t.setValue(s.serverUrl).onChange((v) => {
          s.serverUrl = v.trim();
          void this.plugin.saveSettings();
        }),
      )
      .addButton((b) => b.setButtonText("Apply").onClick(() => void this.plugin.restart()));

    const where = normalizePath(`${this.app.vault.configDir}/plugins/${this.plugin.manifest.id}/data.json`);
    containerEl.createEl("p", {
      cls: "setting-item-description owp-token-note",
      text:
        `Tokens are kept only in this plugin's data file, ${where} inside this vault, in plain text. ` +
        "They are sent only to the server above, never logged and never shown again after entry. " +
        "Keep that file out of shared or public sync.",
    });
    this.secret("Admin token", "The server's OWP_ADMIN_TOKEN: shows the whole pool and enables the admin actions.", "adminToken");
    new Setting(containerEl)
      .setName("Sign in with GitHub")
      .setDesc(
        "For maintainers who do not run the server: sign in with GitHub instead of holding the admin token. " +
          "The plugin then sees and steers only the repositories GitHub says you maintain.",
      )
      .addButton((b) => b.setButtonText("Sign in with GitHub…").onClick(() => void this.signIn()));
    new Setting(containerEl).setName("Worker").setHeading();
    this.secret(
      "Worker token",
      s.workerToken ? `This vault works as ${s.workerName || "a worker"}${s.workerId ? ` (${s.workerId})` : ""}.` : "Paste a worker token, or register a new worker here.",
      "workerToken",
    );
    new Setting(containerEl)
      .setName("Register here")
      .setDesc("Registers a new worker for this vault and keeps its token.")
      .addButton((b) => b.setButtonText("Register…").onClick(() => this.plugin.registerModal()));
    new Setting(containerEl)
      .setName("Ask for work while online")
      .setDesc("Claim a task by itself at each heartbeat when no offer is waiting.")
      .addToggle((t) =>
        t.setValue(s.autoClaim).onChange((v) => {
          s.autoClaim = v;
          void this.plugin.saveSettings();
        }),
      );
    new Setting(containerEl)
      .setName("Go online when Obsidian starts")
      .addToggle((t) =>
        t.setValue(s.goOnlineAtStart).onChange((v) => {
          s.goOnlineAtStart = v;
          void this.plugin.saveSettings();
        }),
      );
    new Setting(containerEl)
      .setName("Folder for task notes")
      .addText((t) =>
        t.setValue(s.notesFolder).onChange((v) => {
          s.notesFolder = v;
          void this.plugin.saveSettings();
        }),
      );
    new Setting(containerEl).setName("Refresh").setHeading();
    new Setting(containerEl)
      .setName("Refresh behaviour")
      .setDesc("Live: hold the event stream (desktop; mobile polls). Poll: read the state every few seconds. Manual: only on Refresh.")
      .addDropdown((d) =>
        d
          .addOption("live", "Live")
          .addOption("poll", "Poll")
          .addOption("manual", "Manual")
          .setValue(s.refreshMode)
          .onChange((v) => {
            s.refreshMode = v as RefreshMode;
            void this.plugin.restart();
          }),
      );
    new Setting(containerEl)
      .setName("Poll interval (seconds)")
      .addText((t) => {
        t.inputEl.type = "number";
        t.setValue(String(s.pollSeconds)).onChange((v) => {
          s.pollSeconds = Math.min(600, Math.max(5, Number(v) || 15));
          void this.plugin.saveSettings();
        });
      });
  }
}
