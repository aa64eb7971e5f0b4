// OWP Pool dashboard and public board: what each event means — its class in the feed and the
// plots, and its words (a kind not listed is still said in words, never as its raw name).
// `app.js` calls `window.owpEventWords` with its model; every value is inserted as text.
(() => {
  'use strict';

  window.owpEventWords = ({ model, STATUS_LABEL }) => {
    const statusOf = (e) => (e.data && (e.data.status || e.data.to)) || null;

    function eventClass(e) {
      const k = e.kind || '';
      if (k === 'lease.expired' || k === 'lease.nacked' || k === 'task.requeued') return 'requeue';
      if (k === 'task.leased' || k === 'lease.granted' || k === 'lease.created') return 'lease';
      if (k.startsWith('task.')) {
        const st = statusOf(e);
        if (st === 'pr_opened') return 'pr';
        if (st === 'merged') return 'merge';
        if (st === 'leased') return 'lease';
        if (st === 'blocked') return 'blocked';
      }
      if (k.startsWith('worker.')) return 'worker';
      if (k.startsWith('repo.')) return 'repo';
      return 'other';
    }

    // What each other event means, in words; a kind not listed is still said in words (never as
    // its raw name): `github.pr_not_acting` → "Pr not acting".
    const EVENT_LABEL = {
      'github.claimed': 'Claimed by comment',
      'github.claim_reminder': 'Claim reminder sent',
      'github.worker_linked': 'Worker linked to GitHub',
      'github.repo_joined': 'Repository joined',
      'github.repo_left': 'Repository left',
      'github.repo_renamed': 'Repository renamed',
      'github.issue_transferred': 'Issue transferred',
      'github.left_pool': 'Issue left the pool',
      'github.pr_not_acting': 'Pull request recorded, not acting',
      'github.paths_too_broad': 'Pull request too broad to lock',
      'task.paths': 'Paths locked',
      'task.waiting': 'Waiting',
      'task.checks': 'Checks',
      'task.commits': 'Commits verified or not',
      'task.disclosure': 'Tool disclosed in the pull request',
      'task.artifact': 'Pull request details',
      'repo.archived': 'Repository archived',
      'repo.promote': 'Trust rules changed',
      'repo.recounted': 'Review budget recounted',
      'repo.reviewers': 'Reviewers changed',
      'github.reviewer_assigned': 'Reviewer assigned',
      'github.reviewer_away': 'Reviewer away',
      'github.reviewer_back': 'Reviewer back',
      'proposal.opened': 'Plan proposed',
      'proposal.approved': 'Plan approved',
      'proposal.declined': 'Plan declined',
      'proposal.not_chosen': 'Plan not chosen',
      'proposal.withdrawn': 'Plan withdrawn',
      'proposal.expired': 'Plan expired',
      'github.vouch_list_read': 'Vouch list read',
      'github.vouched': 'Vouched',
      'github.unvouched': 'Vouch removed',
      'github.denounced': 'Denounced',
      'worker.archived': 'Worker archived',
      'worker.opt_in': 'Opt-in changed',
    };
    const inWords = (kind) => {
      const rest = (kind || 'event').split('.').pop().replace(/_/g, ' ');
      return rest.charAt(0).toUpperCase() + rest.slice(1);
    };

    function describe(e) {
      const task = model.tasks.find((t) => t.task_id === e.task_id);
      const worker = model.workers.find((w) => w.worker_id === e.worker_id);
      const tname = task ? task.title : e.task_id;
      const wname = worker ? worker.name : e.worker_id;
      const d = e.data || {};
      const st = statusOf(e);
      switch (e.kind) {
        case 'task.created': return ['Task added', tname];
        case 'task.updated': return ['Task updated', tname];
        case 'task.leased': case 'lease.granted': case 'lease.created':
          return ['Lease granted', `${tname}${wname ? ' → ' + wname : ''}`];
        case 'lease.renewed': return ['Lease renewed', `${tname}${wname ? ' · ' + wname : ''}`];
        case 'lease.nacked': return ['Given back', `${tname}${wname ? ' by ' + wname : ''}${d.reason ? ' — ' + d.reason : ''}`];
        case 'lease.expired':
          return ['Lease expired', st === 'blocked' ? `${tname} is blocked after repeated expiries` : `${tname} returns to the queue`];
        case 'worker.registered': return ['Worker joined', wname || d.name];
        case 'worker.online': return ['Worker online', wname];
        case 'worker.offline': return ['Worker offline', wname];
        case 'worker.paused': return ['Worker paused', wname];
        case 'worker.resumed': return ['Worker resumed', wname];
        case 'worker.trust': return ['Trust level changed', `${wname}${d.to !== undefined ? ' — now ' + d.to : ''}`];
        default:
          if (e.kind && e.kind.startsWith('repo.')) {
            const budget = d.max_open_prs !== undefined ? `review budget ${d.max_open_prs}` : '';
            return [e.kind === 'repo.created' ? 'Repository added' : 'Repository updated', budget];
          }
          if (e.kind === 'task.status' && st === 'in_progress') {
            return ['Work started', `${tname}${wname ? ' · ' + wname : ''}`];
          }
          if (st && e.task_id) {
            const why = d.reason ? ` — ${d.reason}` : '';
            return [STATUS_LABEL[st] || st, `${tname}${why}`];
          }
          return [EVENT_LABEL[e.kind] || inWords(e.kind), [tname, wname, e.repo].filter(Boolean).join(' · ')];
      }
    }

    return { eventClass, describe };
  };
})();
