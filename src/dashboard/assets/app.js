// OWP Pool dashboard: renders GET /v1/admin/state and keeps it current from GET /v1/events;
// one repository's open proposals and vouch list come from GET /v1/admin/steering.
// On the public board (a page marked `owp-board: public`, served to visitors without a session
// when public boards are on) it reads GET /board/state and GET /board/events instead: public
// repositories only, read-only.
// Plain DOM, no framework: every value from the server is inserted as text, never as markup.
(() => {
  'use strict';

  const BOARD = document.querySelector('meta[name="owp-board"]')?.content === 'public';
  // Whether the server serves public repositories' boards to anyone (OWP_PUBLIC_BOARDS).
  const PUBLIC_BOARDS = document.querySelector('meta[name="owp-public-boards"]')?.content === 'on';
  const STATE_URL = BOARD ? '/board/state' : '/v1/admin/state';
  const EVENTS_URL = BOARD ? '/board/events' : '/v1/events';
  const CSRF = document.querySelector('meta[name="csrf-token"]')?.content || '';
  const STATUSES = ['ready', 'leased', 'in_progress', 'pr_opened', 'merged', 'blocked', 'cancelled'];
  const STATUS_LABEL = {
    ready: 'Ready', leased: 'Leased', in_progress: 'In progress', pr_opened: 'PR opened',
    merged: 'Merged', blocked: 'Blocked', cancelled: 'Cancelled',
  };
  const PRIORITY_RANK = { critical: 3, high: 2, normal: 1, low: 0 };
  const HOUR = 3600e3;
  const MAX_EVENTS = 5000;
  const MAX_ROWS = 300;
  const SVGNS = 'http://www.w3.org/2000/svg';
  // The stream names each event after its kind, and EventSource delivers named events only to
  // listeners of that name; anything else still shows up with the next state load.
  const KINDS = [
    'task.created', 'task.updated', 'task.leased', 'task.status',
    'lease.renewed', 'lease.expired', 'lease.nacked',
    'worker.registered', 'worker.online', 'worker.offline', 'worker.paused', 'worker.resumed', 'worker.trust',
    'repo.created', 'repo.updated', 'task.checks', 'task.commits', 'task.disclosure',
  ];
  const EVENTS_LOADED = 2000; // enough history for the 24-hour plots of a busy pool

  const model = { repos: [], workers: [], tasks: [], leaders: null, loaded: false };
  const events = new Map(); // id -> event, from the state snapshot and the live stream
  const filters = { q: '', repo: '', status: '', area: '', skill: '' };

  // ---------- small DOM helpers ----------

  function h(tag, attrs, ...kids) {
    const el = document.createElement(tag);
    setAttrs(el, attrs);
    append(el, kids);
    return el;
  }

  function s(tag, attrs, ...kids) {
    const el = document.createElementNS(SVGNS, tag);
    setAttrs(el, attrs);
    append(el, kids);
    return el;
  }

  function setAttrs(el, attrs) {
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') el.setAttribute('class', v);
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (k === 'text') el.textContent = v;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }

  function append(el, kids) {
    for (const kid of kids.flat(Infinity)) {
      if (kid === null || kid === undefined || kid === false) continue;
      el.append(kid instanceof Node ? kid : String(kid));
    }
  }

  const $ = (id) => document.getElementById(id);

  // ---------- formatting ----------

  const ts = (iso) => (iso ? Date.parse(iso) : NaN);

  function ago(iso) {
    const t = ts(iso);
    if (!Number.isFinite(t)) return 'never';
    const d = Math.max(0, Date.now() - t) / 1000;
    if (d < 10) return 'just now';
    if (d < 60) return `${Math.round(d)} s ago`;
    if (d < 3600) return `${Math.round(d / 60)} min ago`;
    if (d < 86400) return `${Math.round(d / 3600)} h ago`;
    return new Date(t).toLocaleDateString();
  }

  function clock(iso) {
    const t = ts(iso);
    return Number.isFinite(t)
      ? new Date(t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' })
      : '';
  }

  function duration(ms) {
    if (!Number.isFinite(ms) || ms < 0) return '–';
    const m = ms / 60e3;
    if (m < 1) return `${Math.round(ms / 1000)} s`;
    if (m < 90) return `${Math.round(m)} min`;
    const hours = m / 60;
    if (hours < 48) return `${hours.toFixed(hours < 10 ? 1 : 0)} h`;
    return `${(hours / 24).toFixed(1)} d`;
  }

  const plural = (n, one, many) => `${n} ${n === 1 ? one : many || one + 's'}`;
  const pct = (a, b) => (b > 0 ? Math.round((100 * a) / b) : 0);

  function median(values) {
    if (!values.length) return NaN;
    const v = [...values].sort((a, b) => a - b);
    const mid = v.length >> 1;
    return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
  }

  function statusPill(status) {
    return h('span', { class: `pill st-${status}` }, STATUS_LABEL[status] || status);
  }

  // ---------- API ----------

  async function api(method, path, body, contentType) {
    const headers = { Accept: 'application/json' };
    if (method !== 'GET') headers['X-CSRF-Token'] = CSRF;
    let payload;
    if (body !== undefined) {
      headers['Content-Type'] = contentType || 'application/json';
      payload = typeof body === 'string' ? body : JSON.stringify(body);
    }
    const resp = await fetch(path, { method, headers, body: payload, credentials: 'same-origin', cache: 'no-store' });
    const text = await resp.text();
    if (resp.status === 401 && !BOARD && await sessionEnded()) throw new Error('Signed out');
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = null; }
    if (!resp.ok) {
      const detail = (data && (data.detail || data.title)) || `${resp.status} ${resp.statusText}`;
      const err = new Error(detail);
      err.status = resp.status;
      err.code = data && data.code;
      throw err;
    }
    return data;
  }

  // After a 401: if the session is gone (signed out elsewhere, expired, service restarted), the root
  // now serves the sign-in form, so go there. Otherwise report the refusal and stay.
  async function sessionEnded() {
    try {
      const resp = await fetch('/', { credentials: 'same-origin', cache: 'no-store' });
      const page = await resp.text();
      if (page.includes('action="/login"')) {
        window.location.assign('/');
        return true;
      }
    } catch { /* offline: let the caller report it */ }
    return false;
  }

  let loading = false;
  let again = false;
  async function load() {
    if (loading) { again = true; return; }
    loading = true;
    try {
      const state = await api('GET', `${STATE_URL}?events=${EVENTS_LOADED}`);
      model.repos = state.repos || [];
      model.workers = state.workers || [];
      model.tasks = state.tasks || [];
      if (BOARD) {
        // A repository that is no longer public takes its events off the board.
        const shown = new Set(model.repos.map((r) => r.repo));
        for (const [id, e] of events) if (!shown.has(e.repo)) events.delete(id);
      }
      for (const e of state.events || []) addEvent(e);
      // The leaderboard is its own request: a server without it (or without public boards for
      // this visitor) just shows none.
      try {
        model.leaders = (await api('GET', '/v1/leaderboard?days=30')).workers || [];
      } catch {
        model.leaders = null;
      }
      model.loaded = true;
      render();
      if (steering) steering.sync();
      $('updated').textContent = `updated ${new Date().toLocaleTimeString()}`;
    } catch (err) {
      if (err.message !== 'Signed out') toast(`Could not load the pool state: ${err.message}`, 'error');
    } finally {
      loading = false;
      if (again) { again = false; scheduleLoad(); }
    }
  }

  let loadTimer = null;
  function scheduleLoad(delay = 250) {
    if (loadTimer) return;
    loadTimer = setTimeout(() => { loadTimer = null; load(); }, delay);
  }

  function addEvent(e) {
    if (!e || typeof e.id !== 'number') return false;
    if (events.has(e.id)) return false;
    events.set(e.id, e);
    if (events.size > MAX_EVENTS) {
      const oldest = [...events.keys()].sort((a, b) => a - b).slice(0, events.size - MAX_EVENTS);
      for (const id of oldest) events.delete(id);
    }
    return true;
  }

  // ---------- live stream ----------

  let source = null;
  let retryMs = 1000;
  function setConn(state, text) {
    const el = $('conn');
    el.dataset.state = state;
    $('conn-text').textContent = text;
  }

  function connect() {
    if (source) source.close();
    setConn('connecting', 'Connecting…');
    source = new EventSource(EVENTS_URL, { withCredentials: true });
    source.onopen = () => {
      retryMs = 1000;
      setConn('live', 'Live');
      scheduleLoad(0); // catch up on anything missed while disconnected
    };
    source.onmessage = (msg) => onEventData(msg.data);
    for (const kind of KINDS.concat(steering ? steering.kinds : [])) {
      source.addEventListener(kind, (msg) => onEventData(msg.data));
    }
    // The public board's set of repositories changed: reload it.
    source.addEventListener('board.changed', () => scheduleLoad(0));
    source.onerror = () => {
      if (source.readyState === EventSource.CLOSED) {
        // The browser gave up (for example a 401 after the session ended): retry ourselves,
        // and let a state load find out whether we are still signed in.
        setConn('down', 'Reconnecting…');
        source.close();
        setTimeout(() => { scheduleLoad(0); connect(); }, retryMs);
        retryMs = Math.min(retryMs * 2, 30000);
      } else {
        setConn('down', 'Reconnecting…');
      }
    };
  }

  function onEventData(data) {
    let e;
    try { e = JSON.parse(data); } catch { return; }
    if (addEvent(e)) {
      if (model.loaded) renderFeed();
      scheduleLoad();
      if (steering) steering.onEvent(e);
    }
  }

  // What each event means (`event-words.js`).
  const { eventClass, describe } = window.owpEventWords({ model, STATUS_LABEL });

  // ---------- rendering ----------

  function render() {
    const focusKey = document.activeElement?.dataset?.key;
    renderStats();
    renderRepos();
    renderWorkers();
    renderFilters();
    renderTasks();
    renderFeed();
    renderFlow();
    renderLead();
    renderReview();
    renderLeaders();
    if (focusKey) document.querySelector(`[data-key="${CSS.escape(focusKey)}"]`)?.focus();
  }

  function countBy(list, f) {
    const m = new Map();
    for (const x of list) m.set(f(x), (m.get(f(x)) || 0) + 1);
    return m;
  }

  function lastDay(cls) {
    const since = Date.now() - 24 * HOUR;
    let n = 0;
    for (const e of events.values()) if (ts(e.at) >= since && eventClass(e) === cls) n++;
    return n;
  }

  // People who claim by comment on GitHub have no seat: no capacity of their own, no heartbeat.
  const byComment = (w) => w.x_github_claims_by_comment === true;

  // Ready tasks a claim could take now: not in a throttled repository, waiting on no blocker and
  // no held path. The others are ready too, but wait.
  function readyStat(stat) {
    const throttledRepos = new Set(model.repos.filter((r) => r.throttled).map((r) => r.repo));
    const ready = model.tasks.filter((t) => t.status === 'ready');
    const claimable = ready.filter((t) => !throttledRepos.has(t.repo)
      && !(t.waiting_on || []).length && !(t.waiting_on_paths || []).length).length;
    const waiting = ready.length - claimable;
    return stat('Ready to claim', `${claimable}`, waiting
      ? `${waiting} more ready, waiting (a full review budget, a blocker or a held path)`
      : plural(model.tasks.length, 'task') + ' in all');
  }

  function renderStats() {
    const seats = model.workers.filter((w) => !byComment(w));
    const online = seats.filter((w) => w.online);
    const people = model.workers.length - seats.length;
    const cap = online.reduce((a, w) => a + (w.capacity_points || 0), 0);
    const used = online.reduce((a, w) => a + (w.active_points || 0), 0);
    const by = countBy(model.tasks, (t) => t.status);
    const inFlight = (by.get('leased') || 0) + (by.get('in_progress') || 0);
    const throttled = model.repos.filter((r) => r.throttled).length;
    const stat = (label, value, note, tone) =>
      h('div', { class: `stat${tone ? ' ' + tone : ''}` },
        h('p', { class: 'stat-label' }, label),
        h('p', { class: 'stat-value' }, value),
        h('p', { class: 'stat-note' }, note));
    $('stats').replaceChildren(...[
      // Workers and capacity span every repository: not on the public board.
      BOARD ? null : stat('Workers online', `${online.length}`, `of ${plural(seats.length, 'registered worker')}`
        + (people ? ` · ${plural(people, 'person', 'people')} claiming by comment` : '')),
      BOARD ? null : stat('Capacity in use', `${pct(used, cap)}%`, `${used} of ${cap} points online`),
      readyStat(stat),
      stat('In flight', `${inFlight}`, `${by.get('leased') || 0} leased · ${by.get('in_progress') || 0} in progress`),
      stat('Open PRs', `${by.get('pr_opened') || 0}`,
        throttled ? `${plural(throttled, 'repo')} throttled` : 'no repo throttled', throttled ? 'warn' : ''),
      stat('Merged', `${by.get('merged') || 0}`, `${lastDay('merge')} in the last 24 h`, 'good'),
    ].filter(Boolean));
  }

  // A half-ring gauge: open PRs and active leases stacked against the budget.
  // The labels of the pool's conventions a GitHub repository lacks (people pick only labels
  // that exist), or that GitHub did not list them.
  // Rule 13: each reviewer's open reviews of their number, and who is away (`/owp away`).
  function reviewersNote(r) {
    if (!Array.isArray(r.reviewers) || !r.reviewers.length) return null;
    const each = r.reviewers.map((v) => `${v.login} ${v.open}/${v.capacity}`
      + (v.away ? (v.away_until ? ` (away until ${new Date(ts(v.away_until)).toLocaleDateString()})` : ' (away)') : ''));
    return h('p', { class: 'repo-reviewers muted small' }, `Reviewers: ${each.join(' · ')}`);
  }

  // The rules about people in force (.github/owp.yml's claim: and vouch:), so that a maintainer
  // sees a setting took effect.
  function peopleNote(r) {
    const p = r.people;
    if (!p) return null;
    const rules = [];
    if (p.persons_only) rules.push('linked GitHub accounts only');
    if (r.approval === 'plan') rules.push(r.approval_skip_trust == null ? 'plan first' : `plan first below trust ${r.approval_skip_trust}`);
    if (p.min_account_age_days > 0) rules.push(`accounts ${p.min_account_age_days}+ days old`);
    if (p.first_timers_label) rules.push(`first timers: ${p.first_timers_label}`);
    if (p.cooldown_hours > 0) rules.push(`cool-down ${p.cooldown_hours} h`);
    if (p.verified_commits === 'required') {
      rules.push(p.verified_commits_below_trust == null ? 'verified commits' : `verified commits below trust ${p.verified_commits_below_trust}`);
    }
    if (p.vouch_required) rules.push(p.vouch_list_unread ? 'vouched people only (list not read yet: maintainers only)' : 'vouched people only');
    if (p.vouch_trust !== 1 || p.vouch_required) rules.push(`vouched count as trust ${p.vouch_trust}`);
    if (!rules.length) return null;
    return h('p', { class: 'repo-people muted small' }, `People: ${rules.join(' · ')}`);
  }

  function labelsNote(r) {
    const missing = r.x_github_labels_missing;
    if (Array.isArray(missing) && missing.length) {
      return h('p', { class: 'repo-warn', role: 'note' },
        `Labels not in the repository yet: ${missing.slice(0, 10).join(', ')}. Create the ones you use (Issues → Labels).`);
    }
    if (typeof missing === 'string') {
      return h('p', { class: 'repo-warn', role: 'note' },
        'GitHub did not list its labels: whether the pool\'s labels exist is unknown.');
    }
    return null;
  }

  // The review slots a repository uses, as the service counts them (rule 6: open pull requests
  // and active leases); whether the budget is full is the service's `throttled`, never decided
  // here.
  function slotsUsed(repo) {
    return (repo.open_prs || 0) + (repo.active_leases || 0);
  }

  function gauge(repo) {
    const max = Math.max(0, repo.max_open_prs || 0);
    const prs = repo.open_prs || 0;
    const leases = repo.active_leases || 0;
    const used = slotsUsed(repo);
    const total = Math.max(max, used, 1);
    const r = 52, cx = 64, cy = 64, sw = 14;
    const len = Math.PI * r;
    const arc = `M ${cx - r} ${cy} A ${r} ${r} 0 0 1 ${cx + r} ${cy}`;
    const seg = (from, amount, cls) => amount > 0 ? s('path', {
      d: arc, class: cls, fill: 'none', 'stroke-width': sw, pathLength: len,
      'stroke-dasharray': `${(amount / total) * len} ${len}`,
      'stroke-dashoffset': `${-(from / total) * len}`,
    }) : null;
    const ticks = [];
    if (max > 1 && max <= 24) {
      for (let i = 1; i < max; i++) {
        const a = Math.PI * (1 - i / total);
        ticks.push(s('line', {
          class: 'g-tick',
          x1: cx + (r - sw / 2 - 1) * Math.cos(a), y1: cy - (r - sw / 2 - 1) * Math.sin(a),
          x2: cx + (r + sw / 2 + 1) * Math.cos(a), y2: cy - (r + sw / 2 + 1) * Math.sin(a),
        }));
      }
    }
    return s('svg', {
      class: 'gauge', viewBox: '0 0 128 72', role: 'img',
      'aria-label': `${used} of ${max} review slots used: ${prs} open PRs, ${leases} active leases`,
    },
    s('path', { d: arc, class: 'g-track', fill: 'none', 'stroke-width': sw }),
    seg(0, prs, 'g-pr'),
    seg(prs, leases, 'g-lease'),
    ticks,
    s('text', { x: cx, y: cy - 2, class: 'g-num', 'text-anchor': 'middle' }, `${used}/${max}`));
  }

  // What became of a repository's work over the last 30 days: a bar of merged against closed
  // unmerged pull requests (the acceptance rate at a glance), and the median lead time.
  function outcomes(o) {
    if (!o) return null;
    const decided = (o.merged || 0) + (o.closed_unmerged || 0);
    const rate = o.acceptance_rate == null ? '–' : `${Math.round(o.acceptance_rate * 100)}%`;
    const lead = o.lead_time_seconds == null ? '–' : duration(o.lead_time_seconds * 1000);
    const w = 120, ht = 8;
    const mw = decided ? (o.merged / decided) * w : 0;
    const label = decided
      ? `${o.merged} merged, ${o.closed_unmerged} closed unmerged in ${o.days} days: ${rate} accepted`
      : `nothing merged or closed in ${o.days} days`;
    return h('div', { class: 'outcomes', title: `Last ${o.days} days` },
      s('svg', { class: 'outcome-bar', viewBox: `0 0 ${w} ${ht}`, role: 'img', 'aria-label': label },
        s('rect', { x: 0, y: 0, width: w, height: ht, rx: 3, class: 'ob-track' }),
        decided && mw < w ? s('rect', { x: 0, y: 0, width: w, height: ht, rx: 3, class: 'ob-closed' }) : null,
        mw > 0 ? s('rect', { x: 0, y: 0, width: mw, height: ht, rx: 3, class: 'ob-merged' }) : null),
      h('p', { class: 'outcome-line' },
        `${o.days} days: ${o.merged || 0} merged, ${o.closed_unmerged || 0} closed · `,
        h('b', {}, rate), ' accepted · median lead ', h('b', {}, lead)));
  }

  function renderRepos() {
    const box = $('repos');
    if (!model.repos.length) {
      box.replaceChildren(BOARD
        ? empty('No public repositories yet', 'Boards of public repositories appear here.')
        : empty('No repositories yet', 'Add one under Manage below, or install the GitHub App on a repository.'));
      return;
    }
    const tasksByRepo = countBy(model.tasks.filter((t) => t.status === 'ready'), (t) => t.repo);
    box.replaceChildren(...model.repos.map((r) => {
      const used = slotsUsed(r);
      const badge = r.throttled
        ? h('span', { class: 'badge warn' }, 'Throttled')
        : h('span', { class: 'badge good' }, 'Accepting');
      const key = `budget:${r.repo}`;
      const step = (delta, label) => h('button', {
        class: 'btn icon', type: 'button', 'data-key': `${key}:${delta}`,
        'aria-label': `${label} review budget of ${r.repo}`,
        disabled: delta < 0 && r.max_open_prs <= 0,
        onclick: () => setBudget(r, Math.max(0, r.max_open_prs + delta)),
      }, delta < 0 ? '−' : '+');
      return h('article', { class: `repo${r.throttled ? ' is-throttled' : ''}` },
        h('div', { class: 'repo-head' },
          h('h3', { class: 'repo-name', title: r.repo }, r.repo),
          badge),
        gauge(r),
        h('p', { class: 'repo-line' }, `${used} of ${plural(r.max_open_prs, 'review slot')} used`
          + (r.x_github_config_max_open_prs === r.max_open_prs ? ' (set in .github/owp.yml)' : '')),
        steering ? steering.settingsNote(r) : null,
        BOARD ? null : labelsNote(r),
        BOARD ? null : reviewersNote(r),
        BOARD ? null : peopleNote(r),
        h('ul', { class: 'legend' },
          h('li', {}, h('span', { class: 'sw sw-pr' }), plural(r.open_prs || 0, 'open PR')),
          h('li', {}, h('span', { class: 'sw sw-lease' }), plural(r.active_leases || 0, 'lease')),
          h('li', {}, `${tasksByRepo.get(r.repo) || 0} ready`)),
        outcomes(r.outcomes),
        h('div', { class: 'repo-foot' },
          h('span', { class: 'muted small' }, r.area_locks_enabled ? 'Area locks on' : 'Area locks off',
            BOARD ? null : (r.visibility !== 'public' ? ' · private'
              : PUBLIC_BOARDS ? ' · public board' : ' · public (its board is not served: public boards are off)')),
          BOARD ? null : h('div', { class: 'stepper', role: 'group', 'aria-label': `Review budget of ${r.repo}` },
            step(-1, 'Lower'), h('span', { class: 'stepper-value' }, String(r.max_open_prs)), step(1, 'Raise'))));
    }));
  }

  // A GitHub issue's page for a task keyed `owner/name#N` of that repository, when the App runs
  // (the page names GitHub's web address, GitHub Enterprise Server's too).
  const GITHUB_WEB = document.querySelector('meta[name="github-web"]')?.content || null;
  function issuePage(t) {
    if (!GITHUB_WEB || typeof t.key !== 'string') return null;
    const m = /^([A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+)#(\d+)$/.exec(t.key);
    if (!m || m[1].toLowerCase() !== String(t.repo).toLowerCase()) return null;
    return `${GITHUB_WEB.replace(/\/+$/, '')}/${m[1]}/issues/${m[2]}`;
  }

  // A link target from the server's data (a pull request's URL): only http and https, never
  // `javascript:` or `data:`. Every link the script makes from data goes through here.
  function webUrl(u) {
    return typeof u === 'string' && /^https?:\/\//i.test(u) ? u : null;
  }

  // A pull request whose repository asks for verified commits and GitHub did not verify them
  // all (`artifact.commits`, which the App writes only where it asks).
  function waitsForCommits(t) {
    const c = t.artifact && t.artifact.commits;
    return t.status === 'pr_opened' && !!c && c.verified === false;
  }

  // A task's pull request is ready for review once its checks passed, or when it reports none,
  // and its commits are verified where the repository asks for that.
  function readyForReview(t) {
    const checks = t.artifact && t.artifact.checks;
    return t.status === 'pr_opened' && (checks === undefined || checks === null || checks === 'success')
      && !waitsForCommits(t);
  }

  // The pull requests that wait for verified commits, naming the unverified ones.
  function commitsWaiting(credit) {
    const waiting = model.tasks.filter(waitsForCommits);
    if (BOARD || !waiting.length) return null;
    const shown = waiting.slice(0, MAX_ROWS);
    return h('div', { class: 'waiting-commits', id: 'waiting-commits' },
      h('h3', null, `Waiting for verified commits (${waiting.length})`),
      h('table', { class: 'tasks' },
        h('thead', null, h('tr', null, h('th', null, 'Task'), h('th', null, 'Repository'), h('th', null, 'By'),
          h('th', null, 'Unverified commits'), h('th', null, 'Pull request'))),
        h('tbody', null, shown.map((t) => {
          const c = t.artifact.commits;
          const shas = Array.isArray(c.unverified) ? c.unverified.filter((x) => typeof x === 'string') : [];
          const count = Number.isFinite(c.unverified_count) ? c.unverified_count : shas.length;
          const url = webUrl(t.artifact.pr_url);
          return h('tr', { 'data-task': t.task_id },
            h('td', null, t.title),
            h('td', null, t.repo),
            h('td', null, credit(t)),
            h('td', null,
              shas.map((sha, i) => [i ? ', ' : '', h('code', { class: 'sha', title: sha }, sha.slice(0, 7))]),
              count > shas.length ? ` and ${count - shas.length} more` : '',
              !shas.length ? (count ? plural(count, 'commit') : 'not every commit is verified') : ''),
            h('td', null, url ? h('a', { href: url, rel: 'noopener noreferrer', target: '_blank' }, url) : ''));
        }))));
  }

  function renderReview() {
    const box = $('review');
    if (!box) return;
    const open = model.tasks.filter((t) => t.status === 'pr_opened');
    const ready = open.filter(readyForReview);
    const credit = (t) => {
      const w = model.workers.find((x) => x.worker_id === t.assigned_worker_id);
      return w ? (w.github_login && w.github_verified ? `@${w.github_login}` : w.name) : '';
    };
    if (!ready.length) {
      const waiting = open.length - ready.length;
      box.replaceChildren(empty('Nothing to review',
        waiting ? `${plural(waiting, 'pull request')} still waiting for checks or verified commits.` : 'No pull request is open.'),
      commitsWaiting(credit) || '');
      return;
    }
    box.replaceChildren(h('table', { class: 'tasks' },
      h('thead', null, h('tr', null, h('th', null, 'Task'), h('th', null, 'Repository'), h('th', null, 'By'), h('th', null, 'Pull request'))),
      h('tbody', null, ready.map((t) => {
        const url = webUrl(t.artifact && t.artifact.pr_url);
        return h('tr', null,
          h('td', null, t.title),
          h('td', null, t.repo),
          h('td', null, credit(t)),
          h('td', null, url ? h('a', { href: url, rel: 'noopener noreferrer', target: '_blank' }, url) : ''));
      }))), commitsWaiting(credit) || '');
  }

  function renderLeaders() {
    const box = $('leaders');
    if (!box) return;
    if (!model.leaders) {
      box.replaceChildren(empty('No leaderboard', 'The server did not answer it.'));
      return;
    }
    if (!model.leaders.length) {
      box.replaceChildren(empty('Nobody yet', 'Workers opt in with leaderboard_opt_in; people comment /owp opt-in.'));
      return;
    }
    box.replaceChildren(h('ol', { class: 'leaders' }, model.leaders.map((w) =>
      h('li', null,
        h('span', { class: 'leader-name' }, w.github_login ? `@${w.github_login}` : w.name),
        h('span', { class: 'muted' }, ` — ${plural(w.merged, 'merge')}, ${plural(w.points, 'point')}`,
          (w.tools || []).length ? `, made with ${w.tools.join(', ')}` : '')))));
  }

  // A person claiming by comment: their claims, no seat (no points, no heartbeat, no pause).
  function commentClaimer(w, tasks) {
    const login = w.github_login || w.name;
    return h('article', { class: 'worker is-online by-comment' },
      h('div', { class: 'worker-head' },
        h('span', { class: 'presence idle', 'aria-hidden': 'true' }),
        h('h3', { class: 'worker-name', title: w.worker_id }, `@${login}`),
        h('span', { class: 'badge muted' }, 'By comment')),
      h('p', { class: 'worker-line' },
        `claims on GitHub · ${w.active_tasks} of ${plural(w.max_concurrent_tasks, 'task')} at once`),
      h('p', { class: 'worker-task' },
        tasks.length ? tasks.map((t, i) => [i ? ', ' : '', h('span', { class: 'ellipsis' }, t.title)])
          : h('span', { class: 'muted' }, 'No claim held')));
  }

  function renderWorkers() {
    const box = $('workers');
    if (!box) return; // not on the public board
    const seats = model.workers.filter((w) => !byComment(w));
    const online = seats.filter((w) => w.online).length;
    const people = model.workers.length - seats.length;
    $('workers-sub').textContent = model.workers.length
      ? `${online} online, ${seats.length - online} offline.`
        + (people ? ` ${plural(people, 'person', 'people')} claiming by comment on GitHub.` : '')
      : '';
    if (!model.workers.length) {
      box.replaceChildren(empty('No workers yet', 'Register one with the commands under “Add a worker”.'));
      return;
    }
    const sorted = [...model.workers].sort((a, b) =>
      (b.online - a.online) || (b.active_points - a.active_points) || a.name.localeCompare(b.name));
    box.replaceChildren(...sorted.map((w) => {
      const tasks = model.tasks.filter((t) => t.assigned_worker_id === w.worker_id && (t.status === 'leased' || t.status === 'in_progress'));
      if (byComment(w)) return commentClaimer(w, tasks);
      const state = !w.online ? 'offline' : w.status;
      const u = pct(w.active_points, w.capacity_points);
      const paused = w.status === 'paused';
      return h('article', { class: `worker ${w.online ? 'is-online' : 'is-offline'}` },
        h('div', { class: 'worker-head' },
          h('span', { class: `presence ${state}`, 'aria-hidden': 'true' }),
          h('h3', { class: 'worker-name', title: w.worker_id }, w.name),
          h('span', { class: `badge ${state === 'offline' ? 'muted' : state === 'paused' ? 'warn' : state === 'working' ? 'info' : 'good'}` },
            state === 'offline' ? 'Offline' : state[0].toUpperCase() + state.slice(1))),
        h('div', { class: 'meter', role: 'meter', 'aria-valuemin': 0, 'aria-valuemax': w.capacity_points, 'aria-valuenow': w.active_points,
          'aria-label': `${w.name} utilization` },
        h('span', { class: `meter-fill${u >= 100 ? ' full' : ''}`, style: null })),
        h('p', { class: 'worker-line' },
          `${w.active_points} of ${w.capacity_points} points · ${w.active_tasks} of ${plural(w.max_concurrent_tasks, 'task')}`),
        h('p', { class: 'worker-task' },
          tasks.length ? tasks.map((t, i) => [i ? ', ' : '', h('span', { class: 'ellipsis' }, t.title)])
            : h('span', { class: 'muted' }, w.online ? 'Waiting for work' : `Last seen ${ago(w.last_heartbeat)}`)),
        // What the agents on its leases last said they do (sent with the leases' renewals).
        tasks.filter((t) => t.lease_progress).map((t) => h('p', { class: 'worker-progress muted ellipsis',
          title: `${t.title}: ${t.lease_progress}` }, `${t.lease_progress} · ${ago(t.lease_progress_at)}`)),
        h('div', { class: 'worker-foot' },
          h('div', { class: 'chips' }, (w.skills || []).map((sk) => h('span', { class: 'chip' }, sk)),
            w.trust_level ? h('span', { class: 'chip trust', title: 'Trust level' }, `tier ≤ ${w.trust_level}`) : null),
          h('button', {
            class: 'btn ghost small', type: 'button', 'data-key': `pause:${w.worker_id}`,
            onclick: () => setWorkerStatus(w, paused ? 'idle' : 'paused'),
          }, paused ? 'Resume' : 'Pause')));
    }));
    // Widths go through the CSSOM (allowed by the page's style policy), not a style attribute.
    box.querySelectorAll('.meter').forEach((m) => {
      const now = Number(m.getAttribute('aria-valuenow'));
      const max = Number(m.getAttribute('aria-valuemax')) || 1;
      m.firstChild.style.width = `${Math.min(100, (100 * now) / max)}%`;
    });
  }

  // Refills a filter's options; a filter value from the address that no longer occurs stays
  // visible as an option, so the list never hides an active filter.
  function fillSelect(sel, values, labels) {
    const active = filters[sel.name];
    const all = active && !values.includes(active) ? [...values, active] : values;
    const first = sel.options[0];
    sel.replaceChildren(first, ...all.map((v) => h('option', { value: v }, labels ? labels[v] || v : v)));
    sel.value = active || '';
  }

  function renderFilters() {
    const uniq = (xs) => [...new Set(xs.filter(Boolean))].sort((a, b) => a.localeCompare(b));
    fillSelect($('f-repo'), uniq(model.repos.map((r) => r.repo).concat(model.tasks.map((t) => t.repo))));
    fillSelect($('f-status'), STATUSES, STATUS_LABEL);
    fillSelect($('f-area'), uniq(model.tasks.map((t) => t.area)));
    fillSelect($('f-skill'), uniq(model.tasks.flatMap((t) => t.required_skills || [])));
    $('f-q').value = filters.q;

    const scoped = model.tasks.filter((t) => matches(t, { ...filters, status: '' }));
    const by = countBy(scoped, (t) => t.status);
    $('status-chips').replaceChildren(
      h('button', { type: 'button', class: 'chip-btn', 'aria-pressed': String(!filters.status), 'data-key': 'st:all', onclick: () => setFilter('status', '') },
        'All ', h('b', {}, String(scoped.length))),
      ...STATUSES.map((st) => h('button', {
        type: 'button', class: `chip-btn st-${st}`, 'aria-pressed': String(filters.status === st), 'data-key': `st:${st}`,
        onclick: () => setFilter('status', filters.status === st ? '' : st),
      }, STATUS_LABEL[st], ' ', h('b', {}, String(by.get(st) || 0)))));
  }

  function matches(t, f) {
    if (f.repo && t.repo !== f.repo) return false;
    if (f.status && t.status !== f.status) return false;
    if (f.area && t.area !== f.area) return false;
    if (f.skill && !(t.required_skills || []).includes(f.skill)) return false;
    if (f.q) {
      const q = f.q.toLowerCase();
      if (![t.title, t.key, t.task_id].some((x) => x && x.toLowerCase().includes(q))) return false;
    }
    return true;
  }

  const STATUS_ORDER = { in_progress: 0, leased: 1, pr_opened: 2, ready: 3, blocked: 4, merged: 5, cancelled: 6 };

  function renderTasks() {
    const list = model.tasks.filter((t) => matches(t, filters)).sort((a, b) =>
      (STATUS_ORDER[a.status] - STATUS_ORDER[b.status])
      || ((PRIORITY_RANK[b.priority] || 0) - (PRIORITY_RANK[a.priority] || 0))
      || (ts(b.updated_at) - ts(a.updated_at)));
    $('tasks-sub').textContent = list.length === model.tasks.length
      ? plural(model.tasks.length, 'task')
      : `${list.length} of ${plural(model.tasks.length, 'task')} match the filters`;
    const box = $('tasks');
    if (!list.length) {
      box.replaceChildren(model.tasks.length
        ? empty('No task matches', 'Loosen the filters to see more.')
        : BOARD
          ? empty('No tasks yet', 'Tasks of public repositories appear here.')
          : empty('No tasks yet', GITHUB_WEB
            ? 'Label an issue pool:ready in a repository the GitHub App is installed on: it appears here.'
            : 'Import a task list under Manage (or owp admin import-tasks).'));
      return;
    }
    const workers = new Map(model.workers.map((w) => [w.worker_id, w]));
    const cell = (label, ...kids) => h('td', { 'data-label': label }, ...kids);
    const rows = list.slice(0, MAX_ROWS).map((t) => {
      const w = t.assigned_worker_id ? workers.get(t.assigned_worker_id) : null;
      const pr = webUrl(t.artifact && t.artifact.pr_url);
      const issue = webUrl(issuePage(t));
      const blocked = t.status === 'blocked';
      const canBlock = !['merged', 'cancelled', 'blocked'].includes(t.status);
      return h('tr', {},
        h('th', { scope: 'row', 'data-label': 'Task' },
          h('span', { class: 'task-title' }, t.title),
          issue ? h('a', { class: 'task-key', href: issue, rel: 'noopener noreferrer', target: '_blank' }, t.key)
            : h('span', { class: 'task-key' }, t.key || t.task_id),
          blocked && t.status_reason ? h('span', { class: 'task-reason' }, t.status_reason) : null,
          blocked && t.awaits_maintainer ? h('span', { class: 'task-reason' }, 'Reported by its worker: waits for a maintainer and takes a review slot.') : null,
          t.status === 'ready' && Array.isArray(t.waiting_on) && t.waiting_on.length
            ? h('span', { class: 'task-reason task-waiting' }, `Waiting on ${t.waiting_on.join(', ')}: offered once ${t.waiting_on.length === 1 ? 'it is' : 'they are'} done.`)
            : null,
          t.status === 'ready' && Array.isArray(t.waiting_on_paths) && t.waiting_on_paths.length
            ? h('span', { class: 'task-reason task-waiting' }, `Waiting on the files ${t.waiting_on_paths.join(', ')} ${t.waiting_on_paths.length === 1 ? 'is' : 'are'} changing: offered once that work is done.`)
            : null),
        cell('Repo', h('span', { class: 'mono small' }, t.repo)),
        cell('Status', h('span', { class: 'nowrap' }, statusPill(t.status), pr ? h('a', { class: 'pr-link', href: pr, rel: 'noopener noreferrer', target: '_blank' }, 'PR') : null)),
        cell('Priority', h('span', { class: `prio p-${t.priority}` }, t.priority)),
        cell('Points', String(t.estimate_points)),
        cell('Area', t.area ? h('span', { class: 'chip' }, t.area) : h('span', { class: 'muted' }, '–')),
        cell('Skills', h('div', { class: 'chips' }, (t.required_skills || []).map((sk) => h('span', { class: 'chip' }, sk)))),
        cell('Worker', w ? h('span', { class: 'nowrap' }, w.name) : (t.assigned_worker_id || h('span', { class: 'muted' }, '–'))),
        cell('Tries', String(t.attempts || 0)),
        cell('Updated', h('time', { datetime: t.updated_at, title: t.updated_at }, ago(t.updated_at))),
        BOARD ? null : cell('', blocked
          ? h('button', { class: 'btn ghost small', type: 'button', 'data-key': `unblock:${t.task_id}`, onclick: () => setTaskStatus(t, 'ready') }, 'Unblock')
          : canBlock
            ? h('button', { class: 'btn ghost small', type: 'button', 'data-key': `block:${t.task_id}`, onclick: () => askBlock(t) }, 'Block')
            : null));
    });
    const head = ['Task', 'Repo', 'Status', 'Priority', 'Points', 'Area', 'Skills', 'Worker', 'Tries', 'Updated'];
    if (!BOARD) head.push('Actions');
    const table = h('table', { class: 'tasks' },
      h('thead', {}, h('tr', {}, head.map((c, i) => h('th', { scope: 'col', class: i === 10 ? 'sr-only-col' : null }, i === 10 ? h('span', { class: 'sr-only' }, c) : c)))),
      h('tbody', {}, rows));
    box.replaceChildren(table);
    if (list.length > MAX_ROWS) {
      box.append(h('p', { class: 'muted small' }, `Showing the first ${MAX_ROWS}; narrow the filters to see the rest.`));
    }
  }

  function renderFeed() {
    const list = [...events.values()].sort((a, b) => b.id - a.id).slice(0, 60);
    const box = $('feed');
    if (!list.length) {
      box.replaceChildren(h('li', { class: 'feed-empty' }, empty('Quiet so far', 'Events appear here the moment anything changes.')));
      return;
    }
    box.replaceChildren(...list.map((e) => {
      const [what, detail] = describe(e);
      return h('li', { class: `ev ev-${eventClass(e)}` },
        h('span', { class: 'ev-dot', 'aria-hidden': 'true' }),
        h('div', { class: 'ev-body' },
          h('p', { class: 'ev-what' }, what, e.repo ? h('span', { class: 'ev-repo' }, e.repo) : null),
          detail ? h('p', { class: 'ev-detail' }, detail) : null),
        h('time', { class: 'ev-time', datetime: e.at, title: `${e.at} · ${e.actor || ''}` }, clock(e.at)));
    }));
  }

  function empty(title, text) {
    return h('div', { class: 'empty' }, h('p', { class: 'empty-title' }, title), h('p', { class: 'muted small' }, text));
  }

  // The plots (`charts.js`).
  const { renderFlow, renderLead } = window.owpCharts({
    h, s, $, model, events, ts, eventClass, lastDay, pct, plural, median, duration, empty, HOUR,
  });

  // The proposals and vouches of one repository (`steering.js`), on the dashboard only.
  const steering = !BOARD && typeof window.owpSteering === 'function'
    ? window.owpSteering({ h, api, $, empty, plural, ago, ts, toast, scheduleLoad, model })
    : null;

  // ---------- actions ----------

  function toast(text, tone = 'info') {
    const el = h('div', { class: `toast ${tone}` }, text);
    $('toasts').append(el);
    setTimeout(() => el.classList.add('out'), 4200);
    setTimeout(() => el.remove(), 4800);
  }

  // Runs a write, reports the outcome, and reloads the state. `label` may be a function of the
  // response, for messages that depend on it.
  async function act(label, fn) {
    try {
      const out = await fn();
      toast(typeof label === 'function' ? label(out) : label, 'good');
      scheduleLoad(0);
    } catch (err) {
      if (err.message !== 'Signed out') toast(err.message, 'error');
    }
  }

  function setBudget(repo, value) {
    return act(`${repo.repo}: review budget set to ${value}`, () => api('POST', '/v1/admin/repos', {
      repo: repo.repo, max_open_prs: value, area_locks_enabled: repo.area_locks_enabled,
    }));
  }

  function setWorkerStatus(w, status) {
    return act(`${w.name} ${status === 'paused' ? 'paused' : 'resumed'}`,
      () => api('POST', `/v1/admin/workers/${encodeURIComponent(w.worker_id)}`, { status }));
  }

  function setTaskStatus(t, status, reason) {
    const body = reason ? { status, reason } : { status };
    return act(`${t.title}: ${STATUS_LABEL[status] || status}`,
      () => api('POST', `/v1/admin/tasks/${encodeURIComponent(t.task_id)}/status`, body));
  }

  let blocking = null;
  function askBlock(t) {
    const dlg = $('block-dialog');
    blocking = t;
    $('block-task').textContent = t.title;
    $('block-reason').value = '';
    if (typeof dlg.showModal === 'function') dlg.showModal();
    else if (window.confirm(`Block “${t.title}”?`)) setTaskStatus(t, 'blocked');
  }

  function setFilter(k, v) {
    filters[k] = v;
    writeHash();
    renderFilters();
    renderTasks();
  }

  function readHash() {
    const p = new URLSearchParams(window.location.hash.slice(1));
    for (const k of Object.keys(filters)) filters[k] = p.get(k) || '';
  }

  function writeHash() {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(filters)) if (v) p.set(k, v);
    const hash = p.toString();
    history.replaceState(null, '', hash ? `#${hash}` : window.location.pathname);
  }

  // ---------- join commands ----------

  function shellQuote(v) {
    return /^[A-Za-z0-9_.,:/@+=-]+$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`;
  }

  function renderJoin() {
    if (!$('join-form')) return; // not on the public board
    const name = $('j-name').value.trim() || 'my-laptop';
    const skills = $('j-skills').value.split(',').map((x) => x.trim()).filter(Boolean).join(',') || 'rust';
    const cap = Math.max(1, parseInt($('j-capacity').value, 10) || 1);
    $('cmd-register').textContent =
      `owp worker register --server ${shellQuote(window.location.origin)} --name ${shellQuote(name)} --skills ${shellQuote(skills)} --capacity ${cap}`;
    $('cmd-run').textContent = 'owp worker run';
  }

  async function copy(btn) {
    const text = $(btn.dataset.copy).textContent;
    try {
      await navigator.clipboard.writeText(text);
      btn.textContent = 'Copied';
    } catch {
      const range = document.createRange();
      range.selectNodeContents($(btn.dataset.copy));
      const sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      btn.textContent = 'Press Ctrl+C';
    }
    setTimeout(() => { btn.textContent = 'Copy'; }, 1600);
  }

  // ---------- wiring ----------

  function wire() {
    const form = $('filters');
    form.addEventListener('input', (ev) => {
      const el = ev.target;
      if (el.name && el.name in filters) setFilter(el.name, el.value);
    });
    form.addEventListener('submit', (ev) => ev.preventDefault());
    form.addEventListener('reset', (ev) => {
      ev.preventDefault();
      for (const k of Object.keys(filters)) filters[k] = '';
      writeHash();
      renderFilters();
      renderTasks();
    });
    window.addEventListener('hashchange', () => { readHash(); renderFilters(); renderTasks(); });

    let resizeTimer = null;
    window.addEventListener('resize', () => {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(() => { if (model.loaded) { renderFlow(); renderLead(); } }, 150);
    });

    // Relative times ("12 s ago") stay true without a reload.
    // A full load now and then also picks up events of kinds this page does not listen for.
    setInterval(() => { if (model.loaded) load(); }, 30000);

    if (BOARD) return; // the public board writes nothing

    $('join-form').addEventListener('input', renderJoin);
    $('join-form').addEventListener('submit', (ev) => ev.preventDefault());
    document.querySelectorAll('button.copy').forEach((b) => b.addEventListener('click', () => copy(b)));

    $('repo-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const repo = $('r-name').value.trim();
      const max = parseInt($('r-budget').value, 10);
      if (!repo || !(max >= 0)) return;
      const body = { repo, max_open_prs: max, area_locks_enabled: $('r-locks').checked };
      const visibility = $('r-visibility').value;
      if (visibility) body.visibility = visibility;
      act(`${repo} saved`, () => api('POST', '/v1/admin/repos', body));
    });

    $('import-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const doc = $('i-doc').value.trim();
      if (!doc) return;
      const type = doc.startsWith('{') ? 'application/json' : 'application/yaml';
      act((out) => `${plural(out && Array.isArray(out.tasks) ? out.tasks.length : 0, 'task')} imported or updated`,
        async () => {
          const out = await api('POST', '/v1/admin/tasks', doc, type);
          $('i-doc').value = '';
          return out;
        });
    });

    if (steering) steering.wire();

    $('block-dialog').addEventListener('close', () => {
      const dlg = $('block-dialog');
      if (dlg.returnValue === 'block' && blocking) {
        setTaskStatus(blocking, 'blocked', $('block-reason').value.trim() || undefined);
      }
      blocking = null;
    });
  }

  document.addEventListener('DOMContentLoaded', () => {
    readHash();
    wire();
    renderJoin();
    load();
    connect();
  });
})();
