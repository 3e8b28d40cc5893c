// The supervisors' wallboard: the live call log (tail), what is happening now and today
// derived from it, and the daemon's status polled every few seconds.
// Protocol: docs/protocol-agent.md (tail, log, backlog_end, status; call-log records).
import { CallpopConnection, ConnectionState, StopReason, connectionStateText } from './connection.js';
import { el, byTest, clear, clockTime, duration } from './dom.js';

/** A call answered within this many seconds of its first ring counts for the service level. */
const SERVICE_LEVEL_TARGET_S = 20;
/** How often to ask the daemon for its status (agents logged in, switch links). */
const STATUS_POLL_S = 5;
/** Records kept in the page; the oldest go first. */
const MAX_KEPT_RECORDS = 50000;
/** Rows shown in the log table, newest first. */
const MAX_LOG_ROWS = 300;
const CHART_BUCKET_MINUTES = 15;

const SESSION_KEY = 'callpop.wallboard.session';  // sessionStorage: { agent, ticket }
const SUPERVISING_ROLES = new Set(['supervisor', 'admin']);
const RECORD_KINDS = ['ring', 'answer', 'transfer', 'hangup', 'timeout', 'outcome', 'note', 'preference',
  'followup_created', 'followup_offered', 'followup_attempted', 'followup_completed',
  'followup_unreachable', 'followup_cancelled', 'followup_overdue'];

let session = loadSession();
let token = null;  // in memory only

// Everything shown is derived from these, so a new day or a new filter needs no bookkeeping.
const records = [];               // the log, oldest first
let lastRecordId = 0;             // the tail resumes after it
const calls = new Map();          // call id -> what the log told of it
const agents = new Map();         // agent id -> { state, since, call }
const surveyScores = [];          // { at, score } from followup_attempted records
let latestStatus = null;
const filterValues = { queue: new Set(), agent: new Set(), outcome: new Set(), kind: new Set(RECORD_KINDS) };

const connection = new CallpopConnection({
  buildLogin,
  onTicketRefused: () => { delete session.ticket; saveSession(); },
  onState: showConnectionState,
});
connection.on('welcome', welcomed);
connection.on('log', receiveRecord);
connection.on('error', (error) => console.warn('callpop error not tied to a request:', error));

// ---- login and the tail ----

function buildLogin() {
  if (!session.agent) return null;
  // No extensions: a supervisor who watches takes no calls and replaces no terminal.
  const login = { type: 'login', agent: session.agent };
  if (session.ticket) login.ticket = session.ticket;
  else if (token) login.token = token;
  else return null;
  return login;
}

byTest('login-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  session = { agent: form.agent.value.trim() };
  saveSession();
  token = form.token.value;
  form.token.value = '';
  byTest('login-error').textContent = '';
  connection.start();
});

byTest('logout').addEventListener('click', () => {
  connection.logout();
  token = null;
  session = {};
  saveSession();
});

async function welcomed(welcome) {
  if (!SUPERVISING_ROLES.has(welcome.role)) {
    connection.logout();
    byTest('login-error').textContent = `${welcome.agent} is an ${welcome.role}: the wallboard is for supervisors.`;
    return;
  }
  if (welcome.ticket) session.ticket = welcome.ticket;
  saveSession();
  byTest('agent-id').textContent = `${welcome.agent} (${welcome.role})`;
  byTest('login').hidden = true;
  byTest('board').hidden = false;
  byTest('logout').hidden = false;

  // No filter on the daemon's side: the figures need every record; the filters below only
  // choose what the table shows. After a reconnect, resume after the last record seen
  // (the daemon reads older ones back from its store), else start from local midnight.
  const tail = lastRecordId > 0
    ? { type: 'tail', follow: true, after: lastRecordId }
    : { type: 'tail', follow: true, since: new Date(startOfToday()).toISOString() };
  try {
    await connection.request(tail, ['backlog_end']);
    // Records of a tail since midnight, or resumed after the last one seen, come after its
    // backlog_end (docs/protocol-agent.md): taking `last` as seen would skip them.
    byTest('last-record-id').textContent = String(lastRecordId || '–');
  } catch (error) {
    if (error.code !== 'connection_lost') byTest('login-error').textContent = `tail: ${error.message}`;
  }
  pollStatus();
}

let statusTimer = null;
async function pollStatus() {
  clearTimeout(statusTimer);
  if (connection.state !== ConnectionState.ONLINE) return;
  try {
    latestStatus = await connection.request({ type: 'status', agents: true }, ['status']);
    scheduleRender();
  } catch (error) {
    if (error.code === 'connection_lost') return;  // the next welcome starts polling again
    console.warn('status:', error.message);
  }
  // Cleared again here: a poll started by a reconnect's welcome may have run meanwhile,
  // and only one timer must survive.
  clearTimeout(statusTimer);
  statusTimer = setTimeout(pollStatus, STATUS_POLL_S * 1000);
}

function showConnectionState(state, detail) {
  const indicator = byTest('connection-state');
  indicator.dataset.state = state;
  indicator.textContent = connectionStateText(state, detail, 'live');
  document.body.classList.toggle('stale', state !== ConnectionState.ONLINE);
  if (state !== ConnectionState.STOPPED) return;
  clearTimeout(statusTimer);
  byTest('logout').hidden = true;
  const error = byTest('login-error');
  if (detail.reason === StopReason.LOGIN_REFUSED) error.textContent = detail.error.message;
  else if (detail.reason === StopReason.LOGIN_NEEDED) error.textContent = 'Your session has expired: log in again.';
  else if (detail.reason === StopReason.BYE) error.textContent = `${detail.bye.code}: ${detail.bye.message}`;
  if (detail.reason === StopReason.LOGGED_OUT) byTest('board').hidden = true;
  byTest('login').hidden = false;
  byTest('login-form').agent.value = session.agent ?? '';
}

// ---- the records ----

function receiveRecord(record) {
  // Each record comes once per tail; a resumed tail starts after lastRecordId. The check
  // also keeps a second tail's backlog from counting records twice.
  if (record.id <= lastRecordId) return;
  lastRecordId = record.id;
  records.push(record);
  if (records.length > MAX_KEPT_RECORDS) records.splice(0, records.length - MAX_KEPT_RECORDS);
  for (const key of ['queue', 'agent', 'outcome', 'kind']) if (record[key]) filterValues[key].add(String(record[key]));
  trackCall(record);
  trackAgent(record);
  trackSatisfaction(record);
  scheduleRender();
}

// Ringing: rang, not answered. Waiting: transferred, the caller waits for the new extension
// to answer. Talking: answered. Ended: hung up or closed by callpop (timeout).
function trackCall(record) {
  if (!record.call || record.kind.startsWith('followup_') || record.kind === 'note' || record.kind === 'preference') return;
  const at = Date.parse(record.at);
  let call = calls.get(record.call);
  if (!call) {
    call = { id: record.call, state: null, firstRingAt: null, answeredAt: null, endedAt: null };
    calls.set(record.call, call);
  }
  for (const key of ['queue', 'line', 'from', 'customer_name', 'caller_name']) if (record[key]) call[key] = record[key];
  if (call.state === 'ended' && record.kind !== 'outcome') return;

  switch (record.kind) {
    case 'ring':
      if (call.state === null) {
        call.state = 'ringing';
        call.firstRingAt = at;
      }
      break;
    case 'answer':
      if (call.answeredAt === null) call.answeredAt = at;
      call.state = 'talking';
      call.agent = record.agent;
      break;
    case 'transfer':
      call.state = 'waiting';
      break;
    case 'hangup':
    case 'timeout':
      call.state = 'ended';
      call.endedAt = at;
      call.cause = record.cause;
      break;
    case 'outcome':
      call.outcome = record.outcome;
      break;
    default:
      break;  // a kind added later: readers ignore what they do not know
  }
}

function trackAgent(record) {
  const agentId = record.agent;
  const at = Date.parse(record.at);
  // Only today's records say what an agent is doing: the backlog reaches back further on a quiet day.
  if (at < startOfToday()) return;
  const set = (id, state, call) => agents.set(id, { state, since: at, call });
  switch (record.kind) {
    case 'answer':
      // After a transfer the agent who had the call is free once the new one answers.
      for (const [id, agent] of agents) {
        if (id !== agentId && agent.call === record.call && agent.state === 'talking') set(id, 'ready', null);
      }
      if (agentId) set(agentId, 'talking', record.call);
      break;
    case 'hangup':
    case 'timeout':
      if (agentId && agents.get(agentId)?.call === record.call) set(agentId, 'wrap-up', record.call);
      break;
    case 'outcome':
      if (agentId && agents.get(agentId)?.state === 'wrap-up' && agents.get(agentId).call === record.call) set(agentId, 'ready', null);
      else if (agentId && !agents.has(agentId)) set(agentId, 'ready', null);
      break;
    case 'followup_offered':
      if (agentId) set(agentId, 'follow-up', `follow-up ${record.followup}`);
      break;
    case 'followup_attempted':
      if (agentId && agents.get(agentId)?.state === 'follow-up') set(agentId, 'ready', null);
      break;
    default:
      if (agentId && !agents.has(agentId)) set(agentId, 'ready', null);
  }
}

// A followup_attempted record carries the score only inside its notes ("score 4: the fan is
// loud again"), and not the survey's scale: open point for the daemon (a `score` and a
// `scale` field on the record).
function trackSatisfaction(record) {
  if (record.kind !== 'followup_attempted' || record.outcome !== 'reached') return;
  const match = /^score (\d+)\b/.exec(record.notes ?? '');
  if (match) surveyScores.push({ at: Date.parse(record.at), score: Number(match[1]) });
}

// ---- rendering ----

let renderPending = false;
function scheduleRender() {
  if (renderPending) return;
  renderPending = true;
  // One render per frame however many records a backlog brings.
  requestAnimationFrame(() => {
    renderPending = false;
    render();
  });
}

function render() {
  const now = Date.now();
  const dayStart = startOfToday();
  renderNow(now);
  renderToday(dayStart);
  renderAgents(now);
  renderStatus();
  renderFilterOptions();
  renderLog();
  drawChart(dayStart);
  byTest('last-record-id').textContent = String(lastRecordId || '–');
}

function startOfToday() {
  const midnight = new Date();
  midnight.setHours(0, 0, 0, 0);
  return midnight.getTime();
}

function renderNow(now) {
  let ringing = 0, waiting = 0, talking = 0, longestRingMs = null;
  for (const call of calls.values()) {
    if (call.state === 'ringing') {
      ringing += 1;
      if (call.firstRingAt !== null) longestRingMs = Math.max(longestRingMs ?? 0, now - call.firstRingAt);
    } else if (call.state === 'waiting') waiting += 1;
    else if (call.state === 'talking') talking += 1;
  }
  byTest('calls-ringing').textContent = ringing;
  byTest('calls-waiting').textContent = waiting;
  byTest('calls-talking').textContent = talking;
  byTest('longest-ringing').textContent = longestRingMs === null ? '–' : duration(longestRingMs);
  byTest('tile-ringing').classList.toggle('alert', longestRingMs !== null && longestRingMs > SERVICE_LEVEL_TARGET_S * 1000);
}

/** Calls that started today (their first ring, else their answer). */
function callsOfToday(dayStart) {
  const today = [];
  for (const call of calls.values()) {
    const startedAt = call.firstRingAt ?? call.answeredAt;
    if (startedAt !== null && startedAt >= dayStart) today.push({ call, startedAt });
  }
  return today;
}

function isAbandoned(call) {
  return call.state === 'ended' && call.answeredAt === null;
}

function renderToday(dayStart) {
  let answered = 0, abandoned = 0, answeredInTarget = 0, waitTotalMs = 0, waitsCounted = 0;
  for (const { call } of callsOfToday(dayStart)) {
    if (call.answeredAt !== null) {
      answered += 1;
      if (call.firstRingAt !== null) {
        const waitMs = call.answeredAt - call.firstRingAt;
        waitTotalMs += waitMs;
        waitsCounted += 1;
        if (waitMs <= SERVICE_LEVEL_TARGET_S * 1000) answeredInTarget += 1;
      }
    } else if (isAbandoned(call)) {
      abandoned += 1;
    }
  }
  byTest('answered-today').textContent = answered;
  byTest('abandoned-today').textContent = abandoned;
  byTest('average-wait').textContent = waitsCounted ? duration(waitTotalMs / waitsCounted) : '–';
  // Of the calls that are over or answered: answered within the target, over answered + abandoned.
  const offered = answered + abandoned;
  byTest('service-level').textContent = offered ? `${Math.round(100 * answeredInTarget / offered)} %` : '–';
  byTest('service-level-rule').textContent = `answered within ${SERVICE_LEVEL_TARGET_S} s`;

  const scoresToday = surveyScores.filter(({ at }) => at >= dayStart);
  if (scoresToday.length) {
    const average = scoresToday.reduce((sum, { score }) => sum + score, 0) / scoresToday.length;
    byTest('satisfaction-today').textContent = average.toFixed(1);
    byTest('satisfaction-detail').textContent = `average of ${scoresToday.length} score${scoresToday.length === 1 ? '' : 's'}`;
  } else {
    byTest('satisfaction-today').textContent = '–';
    byTest('satisfaction-detail').textContent = 'no survey answered today';
  }
}

// The agents seated at extensions (the daemon's status) and those seen in today's log. A
// seated agent's state is the log's while on a call, wrap-up or follow-up; otherwise away
// (disconnected, calls wait for it), waiting (for a follow-up) or ready. An agent in the
// log who holds no extension now has logged out.
function agentRows() {
  const seated = new Map((latestStatus?.agents ?? []).map((presence) => [presence.agent, presence]));
  const ids = new Set([...seated.keys(), ...agents.keys()]);
  return [...ids].sort((a, b) => a.localeCompare(b, undefined, { numeric: true })).map((id) => {
    const fromLog = agents.get(id);
    const presence = seated.get(id);
    const busy = fromLog && fromLog.state !== 'ready' ? fromLog : null;
    let state = busy?.state ?? 'ready';
    if (!presence) state = busy ? busy.state : 'logged out';
    else if (presence.state === 'away') state = 'away';
    else if (!busy && presence.followup !== null) state = 'follow-up';
    else if (!busy && presence.waiting_for_followup) state = 'waiting';
    return { id, state, extensions: presence?.extensions ?? [], since: fromLog?.since, call: busy?.call ?? null };
  });
}

function renderAgents(now) {
  const body = byTest('agents-table').tBodies[0];
  clear(body).append(...agentRows().map((agent) => {
    const call = agent.call && calls.get(agent.call);
    return el('tr', { test: 'agent-row', data: { agent: agent.id, state: agent.state } },
      el('td', { text: agent.id }),
      el('td', { text: agent.extensions.join(', ') }),
      el('td', {}, el('span', { class: `badge agent-${agent.state.replace(' ', '-')}`, test: 'agent-state', text: agent.state })),
      el('td', { text: agent.since ? duration(now - agent.since) : '' }),
      el('td', { text: call ? [call.id, call.customer_name || call.from, call.queue].filter(Boolean).join(' · ') : (agent.call ?? '') }));
  }));
}

function renderStatus() {
  if (!latestStatus) return;
  const status = latestStatus;
  byTest('agents-logged-in').textContent = status.agents_logged_in;
  byTest('agents-away').textContent = status.agents_away;
  byTest('followup-waiters').textContent = status.followup_waiters;
  clear(byTest('switches')).append(...(status.switches ?? []).map((link) =>
    el('li', { test: 'switch', data: { name: link.name, state: link.state } },
      el('span', { class: `badge link-${link.state}`, text: link.state }),
      ` ${link.name} (${link.type}, ${link.address})`,
      link.state !== 'up' && link.last_error ? el('span', { class: 'muted', text: ` — ${link.last_error}` }) : null)));
  byTest('daemon-info').textContent =
    `callpop ${status.version}, up ${duration(status.uptime_s * 1000)}; ${status.live_calls} live calls; ` +
    `${status.followups_held} follow-ups being called; writer queue ${status.writer_queue}` +
    (status.writer_spooled ? `, ${status.writer_spooled} spooled` : '');
}

// ---- the log table and its filters ----

const filtersForm = byTest('log-filters');
filtersForm.addEventListener('change', scheduleRender);
filtersForm.addEventListener('reset', () => setTimeout(scheduleRender));

function renderFilterOptions() {
  for (const key of ['queue', 'agent', 'outcome', 'kind']) {
    const select = filtersForm.elements[key];
    const shown = new Set([...select.options].map((option) => option.value));
    const missing = [...filterValues[key]].filter((value) => !shown.has(value)).sort();
    for (const value of missing) select.append(el('option', { value, text: value }));
  }
}

function renderLog() {
  const filter = Object.fromEntries(['queue', 'agent', 'outcome', 'kind'].map((key) => [key, filtersForm.elements[key].value]));
  const rows = [];
  for (let index = records.length - 1; index >= 0 && rows.length < MAX_LOG_ROWS; index -= 1) {
    const record = records[index];
    if (Object.entries(filter).some(([key, value]) => value && String(record[key] ?? '') !== value)) continue;
    rows.push(el('tr', { test: 'log-row', data: { id: record.id, kind: record.kind, call: record.call } },
      el('td', { text: clockTime(record.at), title: record.at }),
      el('td', {}, el('span', { class: `badge kind-${record.kind}`, text: record.kind })),
      el('td', { class: 'mono', text: record.call }),
      el('td', { text: record.queue ?? '' }),
      el('td', { text: record.agent ?? '' }),
      el('td', { text: record.customer_name || record.caller_name || record.from || '' }),
      el('td', { text: record.outcome ?? record.cause ?? '' }),
      el('td', { class: 'notes', text: record.notes ?? '' })));
  }
  clear(byTest('log-table').tBodies[0]).append(...rows);
}

// ---- the chart ----

function drawChart(dayStart) {
  const canvas = byTest('calls-chart');
  const bucketCount = (24 * 60) / CHART_BUCKET_MINUTES;
  const answered = new Array(bucketCount).fill(0);
  const notAnswered = new Array(bucketCount).fill(0);
  for (const { call, startedAt } of callsOfToday(dayStart)) {
    const bucket = Math.min(bucketCount - 1, Math.floor((startedAt - dayStart) / (CHART_BUCKET_MINUTES * 60000)));
    if (call.answeredAt !== null) answered[bucket] += 1;
    else notAnswered[bucket] += 1;
  }

  // Draw at the screen's pixel density so the bars stay sharp.
  const ratio = window.devicePixelRatio || 1;
  const cssWidth = canvas.clientWidth || 600;
  const cssHeight = canvas.clientHeight || 180;
  canvas.width = Math.round(cssWidth * ratio);
  canvas.height = Math.round(cssHeight * ratio);
  const context = canvas.getContext('2d');
  context.setTransform(ratio, 0, 0, ratio, 0, 0);
  context.clearRect(0, 0, cssWidth, cssHeight);

  const colors = getComputedStyle(document.body);
  const color = (name) => colors.getPropertyValue(name).trim();
  const padding = { left: 32, right: 8, top: 8, bottom: 22 };
  const plotWidth = cssWidth - padding.left - padding.right;
  const plotHeight = cssHeight - padding.top - padding.bottom;
  const highest = Math.max(1, ...answered.map((count, index) => count + notAnswered[index]));
  const scaleMax = niceCeiling(highest);
  const barWidth = plotWidth / bucketCount;

  context.font = '11px system-ui, sans-serif';
  context.fillStyle = color('--muted');
  context.strokeStyle = color('--grid');
  context.lineWidth = 1;
  context.textAlign = 'right';
  context.textBaseline = 'middle';
  for (const fraction of [0, 0.5, 1]) {
    const y = padding.top + plotHeight * (1 - fraction);
    context.beginPath();
    context.moveTo(padding.left, Math.round(y) + 0.5);
    context.lineTo(padding.left + plotWidth, Math.round(y) + 0.5);
    context.stroke();
    context.fillText(String(Math.round(scaleMax * fraction)), padding.left - 4, y);
  }
  context.textAlign = 'center';
  context.textBaseline = 'top';
  for (let hour = 0; hour <= 24; hour += 3) {
    const x = padding.left + (hour * 60 / CHART_BUCKET_MINUTES) * barWidth;
    // The last label ends at the plot's edge rather than running past the canvas.
    context.textAlign = hour === 24 ? 'right' : 'center';
    context.fillText(`${String(hour).padStart(2, '0')}:00`, x, padding.top + plotHeight + 4);
  }

  for (let bucket = 0; bucket < bucketCount; bucket += 1) {
    const x = padding.left + bucket * barWidth + 0.5;
    const width = Math.max(1, barWidth - 1);
    const answeredHeight = plotHeight * answered[bucket] / scaleMax;
    const notAnsweredHeight = plotHeight * notAnswered[bucket] / scaleMax;
    const base = padding.top + plotHeight;
    context.fillStyle = color('--answered');
    context.fillRect(x, base - answeredHeight, width, answeredHeight);
    context.fillStyle = color('--abandoned');
    context.fillRect(x, base - answeredHeight - notAnsweredHeight, width, notAnsweredHeight);
  }

  // The bucket we are in, so the eye finds "now".
  const nowBucket = Math.floor((Date.now() - dayStart) / (CHART_BUCKET_MINUTES * 60000));
  context.strokeStyle = color('--accent');
  const nowX = Math.round(padding.left + (nowBucket + 0.5) * barWidth) + 0.5;
  context.beginPath();
  context.moveTo(nowX, padding.top);
  context.lineTo(nowX, padding.top + plotHeight);
  context.stroke();

  canvas.dataset.total = String(answered.reduce((a, b) => a + b, 0) + notAnswered.reduce((a, b) => a + b, 0));
}

/** 1, 2, 5, 10, 20, 50... at or above the value, so the axis reads in round numbers. */
function niceCeiling(value) {
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (step * magnitude >= value) return step * magnitude;
  return 10 * magnitude;
}

window.addEventListener('resize', scheduleRender);
window.matchMedia('(prefers-color-scheme: dark)').addEventListener('change', scheduleRender);
// Durations ("longest ringing", "since") move on without records coming in.
setInterval(scheduleRender, 1000);

// ---- storage and start ----

function loadSession() {
  try {
    return JSON.parse(sessionStorage.getItem(SESSION_KEY) ?? 'null') ?? {};
  } catch {
    return {};
  }
}

function saveSession() {
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
}

if (session.agent && session.ticket) connection.start();
else byTest('login-form').agent.value = session.agent ?? '';
