// OWP Pool dashboard and public board: the plots of the last 24 hours (leases, pull requests and
// merges an hour; lead times; the requeue rate), drawn as SVG from the events `app.js` keeps.
// `app.js` calls `window.owpCharts` with its helpers; every value is inserted as text.
(() => {
  'use strict';

  window.owpCharts = ({ h, s, $, model, events, ts, eventClass, lastDay, pct, plural, median, duration, empty, HOUR }) => {
    // Charts are drawn at the width they are shown, so their text keeps its size on a phone.
    function chartWidth(id) {
      return Math.round(Math.max(280, Math.min(900, $(id).clientWidth || 480)));
    }

    function hourly(classes) {
      const end = Math.ceil(Date.now() / HOUR) * HOUR;
      const start = end - 24 * HOUR;
      const series = Object.fromEntries(classes.map((c) => [c, new Array(24).fill(0)]));
      for (const e of events.values()) {
        const t = ts(e.at);
        if (!(t >= start && t < end)) continue;
        const c = eventClass(e);
        if (series[c]) series[c][Math.floor((t - start) / HOUR)]++;
      }
      return { start, series };
    }

    function niceMax(v) {
      if (v <= 4) return Math.max(1, v);
      const p = 10 ** Math.floor(Math.log10(v));
      for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
      return v;
    }

    function renderFlow() {
      const kinds = [
        ['lease', 'Leases'], ['pr', 'PRs opened'], ['merge', 'Merges'],
      ];
      const { start, series } = hourly(kinds.map((k) => k[0]));
      const W = chartWidth('flow'), H = 220, L = 28, R = 6, T = 10, B = 24;
      const iw = W - L - R, ih = H - T - B;
      const max = niceMax(Math.max(0, ...kinds.flatMap(([c]) => series[c])));
      const slot = iw / 24;
      const bw = Math.max(2, (slot - 3) / kinds.length);
      const y = (v) => T + ih - (v / max) * ih;
      const grid = [0, 0.5, 1].map((f) => {
        const v = Math.round(max * f * 10) / 10;
        return [s('line', { class: 'grid', x1: L, x2: W - R, y1: y(v), y2: y(v) }),
          s('text', { class: 'axis', x: L - 5, y: y(v) + 3.5, 'text-anchor': 'end' }, String(v))];
      });
      const xlabels = [0, 6, 12, 18, 23].map((i) => {
        const d = new Date(start + i * HOUR);
        return s('text', { class: 'axis', x: L + i * slot + slot / 2, y: H - 6, 'text-anchor': 'middle' },
          i === 23 ? 'now' : `${String(d.getHours()).padStart(2, '0')}:00`);
      });
      const bars = [];
      for (let i = 0; i < 24; i++) {
        kinds.forEach(([c, label], k) => {
          const v = series[c][i];
          if (!v) return;
          const from = new Date(start + i * HOUR);
          bars.push(s('rect', {
            class: `bar b-${c}`, x: L + i * slot + 1.5 + k * bw, y: y(v), width: Math.max(1, bw - 1), height: T + ih - y(v), rx: 1.5,
          }, s('title', {}, `${label}: ${v} (${from.getHours()}:00–${(from.getHours() + 1) % 24}:00)`)));
        });
      }
      const totals = kinds.map(([c]) => series[c].reduce((a, b) => a + b, 0));
      const label = kinds.map(([, l], i) => `${l}: ${totals[i]}`).join(', ');
      $('flow').replaceChildren(
        h('ul', { class: 'legend big' }, kinds.map(([c, l], i) =>
          h('li', {}, h('span', { class: `sw sw-${c}` }), l, ' ', h('b', {}, String(totals[i]))))),
        s('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `Last 24 hours. ${label}.` },
          grid, xlabels, bars,
          s('line', { class: 'axis-line', x1: L, x2: W - R, y1: T + ih, y2: T + ih })));
    }

    // Per task: when it became ready, when its PR opened, when it merged (from events, else fields).
    function leadTimes() {
      const pr = new Map();
      const merged = new Map();
      for (const e of [...events.values()].sort((a, b) => a.id - b.id)) {
        if (!e.task_id) continue;
        const c = eventClass(e);
        if (c === 'pr' && !pr.has(e.task_id)) pr.set(e.task_id, ts(e.at));
        if (c === 'merge') merged.set(e.task_id, ts(e.at));
      }
      const toPr = [];
      const toMerge = [];
      for (const t of model.tasks) {
        const created = ts(t.created_at);
        let p = pr.get(t.task_id);
        let m = merged.get(t.task_id);
        if (t.status === 'pr_opened' && p === undefined) p = ts(t.updated_at);
        if (t.status === 'merged' && m === undefined) m = ts(t.updated_at);
        if (p !== undefined && Number.isFinite(p) && Number.isFinite(created) && p >= created) toPr.push({ t, ms: p - created });
        if (m !== undefined && p !== undefined && Number.isFinite(m) && m >= p) toMerge.push({ t, ms: m - p });
      }
      return { toPr, toMerge };
    }

    function renderLead() {
      const { toPr, toMerge } = leadTimes();
      const box = $('lead');
      const leases = lastDay('lease');
      const requeues = lastDay('requeue');
      const rate = pct(requeues, leases);
      const requeue = h('div', { class: 'requeue' },
        h('div', {}, h('p', { class: 'stat-label' }, 'Requeue rate, 24 h'),
          h('p', { class: `stat-value${rate >= 25 ? ' bad' : ''}` }, leases ? `${rate}%` : '–')),
        h('p', { class: 'muted small' }, leases
          ? `${plural(requeues, 'lease')} expired or given back, of ${plural(leases, 'lease')} granted.`
          : 'No leases granted in the last 24 hours.'),
        sparkline(hourly(['requeue']).series.requeue));
      if (!toPr.length && !toMerge.length) {
        box.replaceChildren(empty('No lead times yet', 'They appear once tasks reach “PR opened”.'), requeue);
        return;
      }
      const all = toPr.concat(toMerge).map((x) => x.ms);
      const maxMs = Math.max(...all, 60e3);
      const W = chartWidth('lead'), L = 96, R = 14, rowH = 44, T = 8;
      const iw = W - L - R;
      const x = (ms) => L + (ms / maxMs) * iw;
      const rows = [['Ready → PR', toPr, 'pr'], ['PR → merged', toMerge, 'merge']];
      const H = T + rows.length * rowH + 22;
      const parts = [];
      rows.forEach(([label, list, c], i) => {
        const cy = T + i * rowH + rowH / 2;
        const med = median(list.map((d) => d.ms));
        parts.push(s('text', { class: 'axis strong', x: 0, y: cy - 3 }, label));
        parts.push(s('text', { class: 'axis', x: 0, y: cy + 11 }, list.length ? `median ${duration(med)}` : 'none yet'));
        parts.push(s('line', { class: 'grid', x1: L, x2: W - R, y1: cy, y2: cy }));
        list.forEach((d, j) => {
          const jitter = ((j * 7919) % 11 - 5) * 1.4;
          parts.push(s('circle', { class: `dot d-${c}`, cx: x(d.ms), cy: cy + jitter, r: 4.5 },
            s('title', {}, `${d.t.title}: ${duration(d.ms)}`)));
        });
        if (list.length) {
          parts.push(s('line', { class: 'median', x1: x(med), x2: x(med), y1: cy - 14, y2: cy + 14 }));
        }
      });
      [0, 0.5, 1].forEach((f) => parts.push(s('text', {
        class: 'axis', x: L + f * iw, y: H - 4, 'text-anchor': f === 0 ? 'start' : f === 1 ? 'end' : 'middle',
      }, duration(f * maxMs))));
      box.replaceChildren(
        s('svg', {
          class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img',
          'aria-label': `Lead time. Ready to PR: median ${duration(median(toPr.map((d) => d.ms)))} over ${toPr.length} tasks. PR to merged: median ${duration(median(toMerge.map((d) => d.ms)))} over ${toMerge.length} tasks.`,
        }, parts),
        requeue);
    }

    function sparkline(values) {
      const W = 160, H = 36;
      const max = Math.max(1, ...values);
      const step = W / (values.length - 1);
      const pts = values.map((v, i) => `${(i * step).toFixed(1)},${(H - 3 - (v / max) * (H - 6)).toFixed(1)}`);
      return s('svg', { class: 'spark', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `Requeues per hour, last 24 hours: ${values.join(', ')}` },
        s('polyline', { points: `0,${H} ${pts.join(' ')} ${W},${H}`, class: 'spark-area' }),
        s('polyline', { points: pts.join(' '), class: 'spark-line', fill: 'none' }));
    }

    return { renderFlow, renderLead };
  };
})();
