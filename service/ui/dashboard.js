// dashboard.js — the script of gortd's live dashboard (/debug/ui).
//
// It subscribes to /debug/ui/stream (Server-Sent Events, one JSON event a
// second; the fields are described in service/dashboard.h) and plots the
// last two minutes with Chart.js 3.9, which gortd serves itself. Rates and
// quantiles come computed in the events; this script only draws them.
// window.gortDashboard exposes the charts and counts of events and of
// stream (re)connections, for tests.
'use strict';

const HISTORY_MS = 120 * 1000;  // the time axis spans at most this
const MIN_SPAN_MS = 30 * 1000;   // ... and at least this, so a fresh page's first points are not squeezed
const TICK_MS = 15 * 1000;       // time ticks on whole quarter minutes
// Series with a meaning of their own look the same wherever they appear;
// the others (routes, wait reasons, Ps) take PALETTE's colours in turn.
const SERIES_STYLES = {
  'running': {color: '#59a14f'},
  'runnable': {color: '#edc948'},
  'syscall': {color: '#b07aa1'},
  'p50': {color: '#4e79a7'},
  'p99': {color: '#e15759'},
  'heap in use (HeapAlloc)': {color: '#4e79a7', borderWidth: 2},
  'heap goal (NextGC)': {color: '#e15759', borderDash: [6, 4]},
  'spans in use (HeapInuse)': {color: '#bab0ac'},
  'global': {color: '#24292f', borderWidth: 2.5},
  'pause': {color: '#4e79a7', showLine: false},
};
const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#9c755f', '#ff9da7',
                 '#86bcb6', '#d37295', '#bab0ac', '#499894'];

const MiB = 1024 * 1024;
const pad2 = n => String(n).padStart(2, '0');
const clock = ms => { const d = new Date(ms); return `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`; };
const bytes = v => v >= MiB ? `${(v / MiB).toFixed(1)} MiB` : `${(v / 1024).toFixed(0)} KiB`;
const seconds = v => v == null ? '–' : v >= 1 ? `${v.toFixed(2)} s` : v >= 1e-3 ? `${(v * 1e3).toFixed(1)} ms` : `${(v * 1e6).toFixed(0)} µs`;
const scaled = (v, k) => v == null ? null : v * k;

// timeChart makes a chart of time series: x is wall time in ms, one
// dataset per label, created on first use.
function timeChart(id, title, yTitle, {stacked = false, points = false} = {}) {
  return new Chart(document.getElementById(id), {
    type: 'line',
    data: {datasets: []},
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      interaction: {mode: 'nearest', axis: 'x', intersect: false},
      elements: {point: {radius: points ? 2.5 : 0}, line: {borderWidth: 1.5}},
      scales: {
        x: {type: 'linear', ticks: {callback: clock, stepSize: TICK_MS, includeBounds: false, maxRotation: 0}},
        y: {beginAtZero: true, stacked, title: {display: true, text: yTitle}},
      },
      plugins: {
        title: {display: true, text: title, font: {size: 13}},
        legend: {position: 'bottom', labels: {boxWidth: 12, font: {size: 11}}},
        tooltip: {callbacks: {title: items => items.length ? clock(items[0].parsed.x) : ''}},
      },
    },
  });
}

const charts = {
  heap: timeChart('chart-heap', 'Heap', 'MiB'),
  gcPauses: timeChart('chart-gc-pauses', 'GC pauses (stop-the-world, per cycle)', 'µs', {points: true}),
  gcCpu: timeChart('chart-gc-cpu', 'GC CPU', '% of GOMAXPROCS CPU'),
  goroutines: timeChart('chart-goroutines', 'Goroutines by state', 'goroutines', {stacked: true}),
  schedLatency: timeChart('chart-sched-latency', 'Scheduling latency (runnable → running)', 'µs'),
  runQueues: timeChart('chart-runqueues', 'Run queues', 'runnable goroutines'),
  requestsRoute: timeChart('chart-requests-route', 'Requests by route', 'requests/s', {stacked: true}),
  requestsCode: timeChart('chart-requests-code', 'Requests by status', 'requests/s', {stacked: true}),
  requestLatency: timeChart('chart-request-latency', 'Request latency (all routes)', 'ms'),
};

// series returns chart's dataset named label, creating it with style.
function series(chart, label, style = SERIES_STYLES[label] || {}) {
  let ds = chart.data.datasets.find(d => d.label === label);
  if (!ds) {
    const color = style.color || PALETTE[chart.data.datasets.length % PALETTE.length];
    const stacked = chart.options.scales.y.stacked;
    ds = Object.assign({label, data: [], borderColor: color, backgroundColor: stacked ? color + 'aa' : color,
                        fill: stacked ? 'stack' : false, spanGaps: false}, style);
    chart.data.datasets.push(ds);
  }
  return ds;
}

// plot appends y at time x to each series of values ({label: y}); series
// already on the chart but absent from values get 0 when zeroMissing.
function plot(chart, x, values, {zeroMissing = false, style = () => undefined} = {}) {
  for (const [label, y] of Object.entries(values)) series(chart, label, style(label)).data.push({x, y});
  if (zeroMissing)
    for (const ds of chart.data.datasets) if (!(ds.label in values)) ds.data.push({x, y: 0});
}

// codeColor colours status codes by class: 2xx green, 3xx blue, 4xx orange, 5xx red.
const codeColor = code => ({color: ['#59a14f', '#4e79a7', '#f28e2b', '#e15759'][Math.min(Math.max(Math.floor(code / 100) - 2, 0), 3)]});

let firstX = null;

function update(ev) {
  const x = ev.time_unix_ms;
  firstX = firstX ?? x;
  const span = Math.min(Math.max(x - firstX, MIN_SPAN_MS), HISTORY_MS);
  const {heap, gc, goroutines, sched, http} = ev;

  plot(charts.heap, x, {
    'heap in use (HeapAlloc)': heap.alloc_bytes / MiB,
    'heap goal (NextGC)': heap.goal_bytes / MiB,
    'spans in use (HeapInuse)': heap.inuse_bytes / MiB,
  });

  const pauses = series(charts.gcPauses, 'pause');
  for (const p of gc.pauses) pauses.data.push({x: p.end_unix_ms, y: p.pause_seconds * 1e6});
  charts.gcPauses.options.plugins.title.text =
      `GC pauses (stop-the-world, per cycle) — ${gc.cycles} cycles, ${(gc.cycles_in_window / ev.window_seconds).toFixed(1)}/s`;

  plot(charts.gcCpu, x, {
    'last second': gc.cpu_fraction * 100,
    'since start (GCCPUFraction)': gc.cpu_fraction_since_start * 100,
  });

  plot(charts.goroutines, x, goroutines.by_state, {zeroMissing: true});

  plot(charts.schedLatency, x, {p50: scaled(sched.latency_p50_seconds, 1e6), p99: scaled(sched.latency_p99_seconds, 1e6)});

  const queues = {global: sched.runqueue_global};
  sched.runqueue_local.forEach((n, p) => { queues[`P${p}`] = n; });
  plot(charts.runQueues, x, queues);

  plot(charts.requestsRoute, x, http.by_route, {zeroMissing: true});
  plot(charts.requestsCode, x, http.by_code, {zeroMissing: true, style: codeColor});
  plot(charts.requestLatency, x, {p50: scaled(http.latency_p50_seconds, 1e3), p99: scaled(http.latency_p99_seconds, 1e3)});

  for (const chart of Object.values(charts)) {
    for (const ds of chart.data.datasets) {
      const keep = ds.data.findIndex(p => p.x >= x - HISTORY_MS);
      ds.data.splice(0, keep < 0 ? ds.data.length : keep);
    }
    chart.options.scales.x.min = x - span;
    chart.options.scales.x.max = x;
    chart.update('none');
  }

  const text = (id, s) => { document.getElementById(id).textContent = s; };
  text('tile-heap', bytes(heap.alloc_bytes));
  text('tile-goal', bytes(heap.goal_bytes));
  text('tile-gc', String(gc.cycles));
  text('tile-gccpu', `${(gc.cpu_fraction * 100).toFixed(1)} %`);
  text('tile-goroutines', String(goroutines.total));
  text('tile-procs', String(sched.gomaxprocs));
  text('tile-rps', http.requests_per_second.toFixed(1));
  text('tile-p99', seconds(http.latency_p99_seconds));
}

const status = document.getElementById('status');
const stream = new EventSource('/debug/ui/stream');
window.gortDashboard = {charts, events: 0, opens: 0, last: null, stream};
stream.onopen = () => {
  window.gortDashboard.opens++;
  status.textContent = 'live';
  status.className = 'live';
};
stream.onerror = () => { status.textContent = 'disconnected, retrying…'; status.className = 'down'; };
stream.onmessage = e => {
  const ev = JSON.parse(e.data);
  update(ev);
  window.gortDashboard.events++;
  window.gortDashboard.last = ev;
};
