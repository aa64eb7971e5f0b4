// OWP Pool dashboard: the proposals and vouch list of one repository at a time, from
// GET /v1/admin/steering (one request per view), with Approve and Decline. `app.js` calls
// `window.owpSteering` with its helpers; every value from the server is inserted as text.
(() => {
  'use strict';

  window.owpSteering = ({ h, api, $, empty, plural, ago, ts, toast, scheduleLoad, model }) => {
    // Events that change what the proposals-and-vouches view of their repository shows.
    const KINDS = [
      'proposal.opened', 'proposal.approved', 'proposal.declined', 'proposal.not_chosen',
      'proposal.withdrawn', 'proposal.expired',
      'github.vouch_list_read', 'github.vouched', 'github.unvouched', 'github.denounced',
    ];

    const steer = { repo: '', data: null, error: null, refusals: new Map(), loading: false, again: false };
    const GITHUB_NAME = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/;

    // Fills the repository chooser from the state (only repositories the viewer sees, as GitHub
    // names them); loads the view when its repository changed or was never loaded.
    function syncSteering() {
      const sel = $('s-repo');
      if (!sel) return;
      const repos = model.repos.map((r) => r.repo).filter((n) => GITHUB_NAME.test(n));
      const before = steer.repo;
      if (!repos.includes(steer.repo)) {
        const planned = model.repos.find((r) => r.approval === 'plan' && repos.includes(r.repo));
        steer.repo = planned ? planned.repo : (repos[0] || '');
      }
      const current = [...sel.options].map((o) => o.value);
      if (current.join('\n') !== repos.join('\n')) {
        sel.replaceChildren(...repos.map((r) => h('option', { value: r }, r)));
      }
      sel.value = steer.repo;
      if (steer.repo !== before || (!steer.data && !steer.error)) loadSteering();
    }

    let steeringTimer = null;
    function scheduleSteering(delay = 250) {
      if (steeringTimer) return;
      steeringTimer = setTimeout(() => { steeringTimer = null; loadSteering(); }, delay);
    }

    async function loadSteering() {
      if (!steer.repo) {
        steer.data = null;
        renderSteering();
        return;
      }
      if (steer.loading) { steer.again = true; return; }
      steer.loading = true;
      const repo = steer.repo;
      try {
        const data = await api('GET', `/v1/admin/steering?repo=${encodeURIComponent(repo)}`);
        if (repo === steer.repo) { steer.data = data; steer.error = null; }
      } catch (err) {
        if (repo === steer.repo) { steer.data = null; steer.error = err.message; }
      } finally {
        steer.loading = false;
        renderSteering();
        if (steer.again) { steer.again = false; scheduleSteering(0); }
      }
    }

    const yesNo = (b) => (b ? 'yes' : 'no');

    function scorecard(c) {
      if (!c) return null;
      const item = (label, value) => h('div', null, h('dt', null, label), h('dd', null, value));
      return h('dl', { class: 'scorecard', 'aria-label': 'Scorecard' },
        item('Merged here', String(c.merged_here)),
        item('Merged in the pool', String(c.merged_pool)),
        item('Accepted here', c.acceptance_rate_here == null ? '–' : `${Math.round(c.acceptance_rate_here * 100)}%`),
        item('Account age', c.account_age_days == null ? 'unknown' : plural(c.account_age_days, 'day')),
        item('Vouched', yesNo(c.vouched)),
        item('Holds now', String(c.open_holds)),
        item('Tools', (c.tools || []).length ? c.tools.join(', ') : 'none disclosed'));
    }

    // A refusal of an approval (409): the detail names each refusing rule, after "refused by".
    function refusalNote(text) {
      const at = text.indexOf('refused by ');
      const rules = at >= 0 ? text.slice(at + 'refused by '.length).split('; ').filter(Boolean) : [];
      return h('div', { class: 'refusal', role: 'alert' },
        h('p', { class: 'refusal' }, rules.length ? 'Not approved: the proposal stays open. Refused by:' : text),
        rules.length ? h('ul', null, rules.map((r) => h('li', null, r))) : null);
    }

    function proposalItem(p) {
      const who = p.login ? `@${p.login}` : `worker ${p.worker_name || p.worker_id}`;
      const reasonId = `decline-${p.proposal_id}`;
      const refusal = steer.refusals.get(p.proposal_id);
      return h('li', { class: 'proposal', 'data-proposal': p.proposal_id },
        h('div', { class: 'proposal-head' },
          h('span', { class: 'proposal-who' }, who),
          h('span', { class: 'muted small' }, 'for'),
          h('span', { class: 'proposal-task' }, p.task_title),
          p.task_key ? h('span', { class: 'task-key' }, p.task_key) : null,
          h('span', { class: 'muted small' }, `· proposed ${ago(p.created_at)}, open until ${new Date(ts(p.expires_at)).toLocaleDateString()}`)),
        scorecard(p.scorecard),
        // The proposer's own words, as text: never markup, never a link.
        h('pre', { class: 'plan', 'aria-label': `Plan of ${who}` }, p.plan),
        refusal ? refusalNote(refusal) : null,
        h('div', { class: 'proposal-actions' },
          h('button', {
            class: 'btn primary small', type: 'button', 'data-action': 'approve', 'data-key': `approve:${p.proposal_id}`,
            onclick: () => approveProposal(p),
          }, 'Approve'),
          h('label', { class: 'sr-only', for: reasonId }, `Reason for declining the plan of ${who}`),
          h('input', { id: reasonId, maxlength: 500, placeholder: 'Reason (optional, told to the proposer)', autocomplete: 'off' }),
          h('button', {
            class: 'btn ghost small', type: 'button', 'data-action': 'decline', 'data-key': `decline:${p.proposal_id}`,
            onclick: () => declineProposal(p, $(reasonId).value.trim()),
          }, 'Decline')));
    }

    function vouchTable(d) {
      if (!d.vouched.length) {
        return empty('No vouch list', 'Commit VOUCHED.td (or .github/VOUCHED.td), or comment /owp vouch @login.');
      }
      const SOURCE = { file: 'VOUCHED.td', import: 'an imported list', command: 'a maintainer’s command' };
      return h('table', { class: 'tasks', id: 'vouch-list' },
        h('thead', null, h('tr', null, h('th', null, 'Login'), h('th', null, 'Standing'), h('th', null, 'From'), h('th', null, 'Details'))),
        h('tbody', null, d.vouched.map((e) => h('tr', { class: e.denounced ? 'vouch-denounced' : '' },
          h('td', null, `@${e.login}`),
          h('td', null, e.denounced ? h('span', { class: 'badge warn' }, 'Denounced')
            : e.vouched ? h('span', { class: 'badge good' }, 'Vouched') : h('span', { class: 'badge muted' }, 'Neither')),
          h('td', null, SOURCE[e.source] || e.source),
          h('td', null, e.details || '')))));
    }

    function renderSteering() {
      const box = $('steering');
      if (!box) return;
      if (!steer.repo) {
        box.replaceChildren(empty('No repository', 'Proposals and vouch lists belong to GitHub repositories.'));
        return;
      }
      if (steer.error) {
        box.replaceChildren(h('p', { class: 'form-error', role: 'alert' }, `Could not load ${steer.repo}: ${steer.error}`));
        return;
      }
      const d = steer.data;
      if (!d) {
        box.replaceChildren(h('p', { class: 'muted' }, 'Loading…'));
        return;
      }
      const open = d.proposals.length + d.proposals_more;
      box.replaceChildren(
        h('div', null,
          h('h3', null, `Open proposals (${open})`),
          d.proposals.length
            ? h('ul', { class: 'proposals', id: 'proposals' }, d.proposals.map(proposalItem))
            : empty('No open proposal', 'Where plans come first, a proposal waits here for your answer.'),
          d.proposals_more ? h('p', { class: 'muted small' }, `and ${plural(d.proposals_more, 'more open proposal')}, shown once these are answered`) : null),
        h('div', null,
          h('h3', null, `Vouch list (${d.vouched.length + d.vouched_more})`),
          (d.vouch_errors || []).map((e) => h('p', { class: 'repo-warn', role: 'note' }, e)),
          vouchTable(d),
          d.vouched_more ? h('p', { class: 'muted small' }, `and ${plural(d.vouched_more, 'more entry', 'more entries')} (owp admin vouched ${d.repo} prints them all)`) : null));
    }

    async function approveProposal(p) {
      const who = p.login ? `@${p.login}` : `worker ${p.worker_name || p.worker_id}`;
      try {
        await api('POST', `/v1/admin/proposals/${encodeURIComponent(p.proposal_id)}/approve`, {});
        steer.refusals.delete(p.proposal_id);
        toast(`Approved: ${who} now holds “${p.task_title}”`, 'good');
        scheduleLoad(0);
      } catch (err) {
        if (err.message === 'Signed out') return;
        if (err.status === 409 && err.code !== 'proposal_not_open') {
          steer.refusals.set(p.proposal_id, err.message);
        } else {
          toast(err.message, 'error');
        }
      }
      loadSteering();
    }

    async function declineProposal(p, reason) {
      const who = p.login ? `@${p.login}` : `worker ${p.worker_name || p.worker_id}`;
      try {
        await api('POST', `/v1/admin/proposals/${encodeURIComponent(p.proposal_id)}/decline`, reason ? { reason } : {});
        steer.refusals.delete(p.proposal_id);
        toast(`Declined the plan of ${who}`, 'good');
      } catch (err) {
        if (err.message !== 'Signed out') toast(err.message, 'error');
      }
      loadSteering();
    }

    function wire() {
      $('s-repo').addEventListener('change', (ev) => {
        steer.repo = ev.target.value;
        steer.data = null;
        steer.error = null;
        renderSteering();
        loadSteering();
      });
    }

    // An event of the shown repository that changes what the view shows reloads it.
    function onEvent(e) {
      if (KINDS.includes(e.kind) && e.repo === steer.repo) scheduleSteering();
    }

    // A repository card's settings (GitHub mode): why its settings file or a vouch list is not
    // (wholly) used, each line that was not understood, and every setting of `.github/owp.yml`
    // in force, folded under "Settings".
    function settingsNote(r) {
      const out = [];
      const error = r.x_github_config_error;
      if (typeof error === 'string') {
        const problems = error.split('\n').filter((l) => l.trim());
        out.push(h('div', { class: 'repo-warn', role: 'note' },
          'Its settings file is not used; the last good settings stay in force.',
          h('ul', { class: 'settings-errors' }, problems.map((p) => h('li', null, p)))));
      }
      const vouch = Array.isArray(r.x_github_vouch_errors) ? r.x_github_vouch_errors : [];
      for (const e of vouch) if (typeof e === 'string') out.push(h('p', { class: 'repo-warn', role: 'note' }, e));
      const settings = r.x_github_settings;
      if (settings && typeof settings === 'object') {
        const shown = (v) => v === null ? 'none' : typeof v === 'string' ? (v === '' ? '""' : v) : JSON.stringify(v);
        out.push(h('details', { class: 'repo-settings small' },
          h('summary', null, 'Settings (.github/owp.yml)'),
          h('dl', null, Object.keys(settings).map((k) => [
            h('dt', null, k), h('dd', { 'data-setting': k }, shown(settings[k]))]))));
      }
      return out;
    }

    return { kinds: KINDS, sync: syncSteering, wire, onEvent, settingsNote };
  };
})();
