// The status view's DOM, built with the standard DOM API only, so the same code runs inside
// Obsidian's pane and in a plain page in a browser (the screenshot test).

import type { LeaseRow, StatusModel } from "./model";

export interface ViewActions {
  refresh(): void;
  toggleOnline(): void;
  ack(leaseId: string): void;
  nack(leaseId: string): void;
  renew(leaseId: string): void;
  reportPr(taskId: string): void;
  openNote(taskId: string): void;
  setBudget(repo: string): void;
  initRepo(): void;
  importNote(): void;
  blockTask(): void;
  /** a maintainer reviews a task's proposals (plan first) */
  reviewProposals(): void;
  register(): void;
}

type Attrs = { cls?: string; text?: string; title?: string; attr?: Record<string, string> };

function el<K extends keyof HTMLElementTagNameMap>(parent: HTMLElement, tag: K, a: Attrs = {}): HTMLElementTagNameMap[K] {
  const e = parent.ownerDocument.createElement(tag);
  if (a.cls) e.className = a.cls;
  if (a.text !== undefined) e.textContent = a.text;
  if (a.title) e.title = a.title;
  for (const [k, v] of Object.entries(a.attr ?? {})) e.setAttribute(k, v);
  parent.appendChild(e);
  return e;
}

function button(parent: HTMLElement, text: string, onClick: () => void, cls = "owp-btn"): HTMLButtonElement {
  const b = el(parent, "button", { cls, text });
  b.addEventListener("click", (ev) => {
    ev.preventDefault();
    onClick();
  });
  return b;
}

function section(root: HTMLElement, title: string): HTMLElement {
  const s = el(root, "section", { cls: "owp-section" });
  el(s, "h4", { cls: "owp-section-title", text: title });
  return s;
}

function leaseCard(parent: HTMLElement, l: LeaseRow, a: ViewActions) {
  const card = el(parent, "div", { cls: `owp-lease owp-lease-${l.phase}`, attr: { "data-lease-id": l.leaseId } });
  const head = el(card, "div", { cls: "owp-lease-head" });
  el(head, "span", { cls: `owp-pill owp-pill-${l.phase}`, text: l.phase === "offered" ? "offered" : "in progress" });
  el(head, "span", { cls: "owp-lease-time", text: l.timeText });
  el(card, "div", { cls: "owp-lease-title", text: l.title });
  el(card, "div", { cls: "owp-muted", text: `${l.repo} · ${l.key ?? l.taskId}` });
  const row = el(card, "div", { cls: "owp-actions" });
  if (l.phase === "offered") {
    button(row, "Accept", () => a.ack(l.leaseId), "owp-btn mod-cta");
    button(row, "Reject…", () => a.nack(l.leaseId));
  } else {
    button(row, "Renew", () => a.renew(l.leaseId));
    button(row, "Report PR…", () => a.reportPr(l.taskId), "owp-btn mod-cta");
    button(row, "Give back…", () => a.nack(l.leaseId));
  }
  button(row, "Open as note", () => a.openNote(l.taskId));
}

/** Replaces `root`'s content with the view of `m`. */
export function renderStatus(root: HTMLElement, m: StatusModel, a: ViewActions): void {
  root.replaceChildren();
  root.classList.add("owp-view");

  const head = el(root, "div", { cls: "owp-header" });
  el(head, "span", { cls: "owp-title", text: "OWP Pool" });
  el(head, "span", {
    cls: `owp-conn owp-conn-${m.connection.state}`,
    text: m.connection.label,
    title: m.connection.detail ?? "",
    attr: { "data-state": m.connection.state },
  });
  button(head, "↻", () => a.refresh(), "owp-btn owp-icon-btn").setAttribute("aria-label", "Refresh");
  if (m.connection.state === "disconnected" && m.connection.detail) {
    el(root, "div", { cls: "owp-banner", text: `Disconnected: ${m.connection.detail}. Retrying by itself.` });
  }

  // The worker seat.
  const ws = section(root, "This vault's worker");
  if (!m.worker) {
    el(ws, "p", { cls: "owp-muted", text: "No worker registered in this vault." });
    button(ws, "Register a worker…", () => a.register(), "owp-btn mod-cta");
  } else {
    const line = el(ws, "div", { cls: "owp-worker-line" });
    el(line, "span", { cls: `owp-dot ${m.worker.online ? "is-online" : "is-offline"}` });
    el(line, "span", { cls: "owp-worker-name", text: m.worker.name });
    el(line, "span", { cls: "owp-muted owp-worker-label", text: m.worker.label });
    button(line, m.worker.online ? "Go offline" : "Go online", () => a.toggleOnline());
    if (m.worker.leases.length === 0) el(ws, "p", { cls: "owp-muted", text: m.worker.online ? "Waiting for an offer." : "Go online to receive offers." });
    for (const l of m.worker.leases) leaseCard(ws, l, a);
  }

  if (!m.admin) {
    const s = section(root, "Pool");
    el(s, "p", { cls: "owp-muted", text: "Set the admin token in the settings to see the whole pool." });
    return;
  }

  // Review budgets and tasks per repository.
  const rs = section(root, "Repositories");
  if (m.repos.length === 0) el(rs, "p", { cls: "owp-muted", text: "No repository policy yet." });
  for (const r of m.repos) {
    const card = el(rs, "div", { cls: `owp-repo${r.budget.throttled ? " is-throttled" : ""}`, attr: { "data-repo": r.repo } });
    const top = el(card, "div", { cls: "owp-repo-head" });
    el(top, "span", { cls: "owp-repo-name", text: r.repo });
    if (r.budget.throttled) el(top, "span", { cls: "owp-pill owp-pill-throttled", text: "throttled" });
    button(top, "Budget…", () => a.setBudget(r.repo), "owp-btn owp-small");
    const gauge = el(card, "div", {
      cls: "owp-gauge",
      attr: { role: "meter", "aria-valuemin": "0", "aria-valuemax": String(r.budget.max), "aria-valuenow": String(r.budget.used) },
    });
    const fill = el(gauge, "div", { cls: "owp-gauge-fill" });
    fill.style.width = `${Math.round(r.budget.ratio * 100)}%`;
    el(card, "div", {
      cls: "owp-muted owp-gauge-text",
      text: `review budget ${r.budget.used}/${r.budget.max} · ${r.budget.openPrs} open PR · ${r.budget.activeLeases} in flight`,
    });
    const counts = el(card, "div", { cls: "owp-counts" });
    if (r.counts.length === 0) el(counts, "span", { cls: "owp-muted", text: "no tasks" });
    for (const c of r.counts) el(counts, "span", { cls: `owp-count owp-status-${c.status}`, text: `${c.status.replace("_", " ")} ${c.count}` });
    for (const w of r.waiting) el(card, "div", { cls: "owp-muted owp-waiting", text: `${w.key}: ${w.text}`, attr: { "data-task": w.key } });
    if (r.moreWaiting > 0) el(card, "div", { cls: "owp-muted owp-waiting", text: `and ${r.moreWaiting} more waiting` });
  }
  const adm = el(rs, "div", { cls: "owp-actions" });
  button(adm, "New repo policy…", () => a.initRepo());
  button(adm, "Import from note", () => a.importNote());
  button(adm, "Block / unblock…", () => a.blockTask());
  button(adm, "Proposals…", () => a.reviewProposals());

  // Workers.
  const wsec = section(root, `Workers online (${m.workersOnline.length})`);
  if (m.workersOnline.length === 0) el(wsec, "p", { cls: "owp-muted", text: "Nobody is online." });
  for (const w of m.workersOnline) {
    const row = el(wsec, "div", { cls: "owp-worker", attr: { "data-worker-id": w.workerId } });
    el(row, "span", { cls: `owp-dot is-online${w.status === "paused" ? " is-paused" : ""}` });
    el(row, "span", { cls: "owp-worker-name", text: w.name });
    const bar = el(row, "span", { cls: "owp-load", title: w.loadText });
    el(bar, "span", { cls: "owp-load-fill" }).style.width = `${Math.round(w.load * 100)}%`;
    el(row, "span", { cls: "owp-muted owp-load-text", text: w.loadText });
  }
  if (m.workersOffline > 0) el(wsec, "p", { cls: "owp-muted", text: `${m.workersOffline} offline` });

  // Events.
  const es = section(root, "Recent events");
  const list = el(es, "ol", { cls: "owp-events" });
  if (m.events.length === 0) el(es, "p", { cls: "owp-muted", text: "No events yet." });
  for (const e of m.events) {
    const li = el(list, "li", { cls: "owp-event", attr: { "data-event-id": String(e.id) } });
    el(li, "span", { cls: "owp-event-time", text: e.time });
    el(li, "span", { cls: "owp-event-text", text: e.text });
  }
}
