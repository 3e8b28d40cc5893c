// The agent console: log in at an extension, see a card for each call that rings there,
// record the call's outcome, add notes and preferences, and place follow-up calls.
// Protocol: docs/protocol-agent.md; the connection itself: connection.js.
import { CallpopConnection, ConnectionState, StopReason, connectionStateText } from './connection.js';
import { el, byTest, clear, clockTime, customerClock } from './dom.js';
import { customerSections, callSummary } from './card.js';

// sessionStorage (this tab only, gone when it closes): who is logged in, the resume ticket
// and the last pop seq seen, so that a reload or a reconnect resumes without the token.
// The token itself is kept in memory only, and never put in a URL.
const SESSION_KEY = 'callpop.console.session';
// The cards on screen, so that reloading the page does not lose the call the agent is on
// (an acked pop is not replayed by the daemon).
const CARDS_KEY = 'callpop.console.cards';
const MAX_KEPT_CARDS = 20;

const FOLLOWUP_RESULTS = [
  { value: 'reached', label: 'Reached: the call was made' },
  { value: 'no_answer', label: 'No answer' },
  { value: 'busy', label: 'Busy' },
  { value: 'wrong_number', label: 'Wrong number' },
  { value: 'refused', label: 'Refused to talk' },
];
const SURVEY_SCALES = { csat: { min: 1, max: 5 }, nps: { min: 0, max: 10 } };

let session = loadJson(SESSION_KEY) ?? {};
let token = null;
// The configured outcome codes ({code, label}), once the daemon sends them (open point:
// today's welcome does not carry them; until it does the code is typed in).
let outcomeCodes = null;
const cards = new Map();       // call id -> { element, pop, state, stateText }
let selectedCall = null;
let waitingForFollowup = false;
let heldFollowupId = null;

const connection = new CallpopConnection({
  buildLogin,
  onTicketRefused: () => { delete session.ticket; saveSession(); },
  onState: showConnectionState,
});

connection.on('welcome', welcomed);
connection.on('outcomes', (message) => setOutcomeCodes(message.outcomes));
connection.on('pop', receivePop);
connection.on('call', callChanged);
connection.on('followup', showFollowupOffer);
connection.on('followup_waiting', (message) => showFollowupWaiting(message.agents_waiting));
connection.on('error', (error) => console.warn('callpop error not tied to a request:', error));

// ---- login ----

function buildLogin() {
  if (!session.agent) return null;
  const login = { type: 'login', agent: session.agent, extensions: session.extensions ?? [] };
  // The ticket first: it costs the daemon two HMACs, a token may cost a slow hash.
  if (session.ticket) login.ticket = session.ticket;
  else if (token) login.token = token;
  else return null;
  if (session.lastSeq) login.resume_after = session.lastSeq;
  return login;
}

byTest('login-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const agent = form.agent.value.trim();
  if (session.agent !== agent) {
    session = {};            // another agent: its ticket and seq are not ours
    forgetCards();
  }
  session.agent = agent;
  session.extensions = form.extensions.value.split(/[\s,]+/).filter(Boolean);
  delete session.ticket;     // a login by hand uses the token typed
  saveSession();
  token = form.token.value;
  form.token.value = '';
  byTest('login-error').textContent = '';
  unlockSoundAndNotifications();  // browsers allow both only from a user's action
  connection.start();
});

byTest('logout').addEventListener('click', () => {
  connection.logout();
  token = null;
  session = {};
  saveSession();
  forgetCards();
});

function welcomed(welcome) {
  if (welcome.ticket) {
    session.ticket = welcome.ticket;
    session.ticketExpires = welcome.ticket_expires;
  }
  saveSession();
  if (Array.isArray(welcome.outcomes)) setOutcomeCodes(welcome.outcomes);
  byTest('agent-id').textContent = `${welcome.agent} (${welcome.role})` +
    (session.extensions?.length ? ` at ${session.extensions.join(', ')}` : '');
  byTest('login').hidden = true;
  byTest('workspace').hidden = false;
  byTest('logout').hidden = false;
  // The queue of agents waiting for follow-ups does not survive a connection: ask again.
  if (waitingForFollowup) askForFollowup();
}

function showConnectionState(state, detail) {
  const indicator = byTest('connection-state');
  indicator.dataset.state = state;
  indicator.textContent = connectionStateText(state, detail, 'online');
  if (state !== ConnectionState.ONLINE) followupLostWithConnection();
  if (state !== ConnectionState.STOPPED) return;

  byTest('logout').hidden = true;
  const error = byTest('login-error');
  if (detail.reason === StopReason.LOGGED_OUT) {
    byTest('workspace').hidden = true;
    error.textContent = '';
  } else if (detail.reason === StopReason.LOGIN_REFUSED) {
    error.textContent = detail.error.message;
  } else if (detail.reason === StopReason.LOGIN_NEEDED) {
    error.textContent = 'Your session has expired: log in again.';
  } else if (detail.reason === StopReason.BYE) {
    error.textContent = byeExplained(detail.bye);
  }
  // The cards stay on screen: the agent may be on a call while logging in again.
  byTest('login').hidden = false;
  const form = byTest('login-form');
  form.agent.value = session.agent ?? '';
  form.extensions.value = (session.extensions ?? []).join(',');
  (session.agent ? form.token : form.agent).focus();
}

function byeExplained(bye) {
  switch (bye.code) {
    case 'replaced': return 'You logged in somewhere else; this console stopped.';
    case 'disconnected': return `An administrator closed this session: ${bye.message}`;
    case 'account_removed': return 'Your account was removed.';
    default: return `${bye.code}: ${bye.message}`;
  }
}

// ---- pops and cards ----

function receivePop(pop) {
  session.lastSeq = Math.max(session.lastSeq ?? 0, pop.seq);
  saveSession();
  const known = cards.has(pop.call);
  showCard(pop);
  // Ack once the card is on screen: an acked pop is not replayed.
  connection.send({ type: 'ack', seq: pop.seq });
  if (!known || cards.get(pop.call).state === 'ringing') announce(pop);
}

function showCard(pop, state = 'ringing', stateText = undefined) {
  let card = cards.get(pop.call);
  if (card) {
    // The same call again: a transfer to this agent. Fresh data, ringing again.
    card.pop = pop;
    fillCard(card);
  } else {
    const element = document.getElementById('card-template').content.firstElementChild.cloneNode(true);
    card = { element, pop };
    cards.set(pop.call, card);
    wireCard(card);
    fillCard(card);
    byTest('cards').prepend(element);  // newest first
  }
  setCardState(card, state, stateText);
  if (!selectedCall || cards.get(selectedCall)?.state === 'withdrawn') selectCard(pop.call);
  updateEmptyNotice();
  saveCards();
}

function fillCard(card) {
  const { element, pop } = card;
  const customer = pop.customer;
  const caller = pop.caller ?? {};
  element.dataset.call = pop.call;
  element.dataset.seq = pop.seq;
  const field = (name) => byTest(name, element);
  field('customer-name').textContent = customer?.name || caller.name || 'Unknown caller';
  field('customer-tier').textContent = customer?.tier ?? '';
  field('customer-tier').hidden = !customer?.tier;
  field('customer-tier').dataset.tier = customer?.tier ?? '';
  field('customer-company').textContent = customer?.company ?? '';
  field('caller-number').textContent = caller.withheld ? 'number withheld' : (caller.number ?? caller.raw ?? '');
  field('caller-name').textContent = customer && caller.name ? caller.name : '';
  field('call-line').textContent = pop.line || pop.dialed || '';
  field('call-queue').textContent = pop.queue ? `queue ${pop.queue}` : '';
  field('call-id').textContent = `call ${pop.call}`;
  field('card-time').textContent = clockTime(new Date().toISOString());
  field('do-not-call').hidden = !customer?.do_not_call;
  clear(field('card-body')).append(...customerSections(customer, {
    assets: pop.assets, history: pop.history, followups: pop.followups,
    data: pop.data, candidates: pop.candidates, match: pop.match,
  }));
  // A note needs a customer to hang on.
  field('note-form').hidden = !customer;
  renderOutcomeCodeControl(card);
}

function wireCard(card) {
  const { element } = card;
  const call = () => card.pop.call;
  element.addEventListener('focusin', () => selectCard(call(), { focus: false }));
  element.addEventListener('click', () => selectCard(call(), { focus: false }));
  byTest('card-close', element).addEventListener('click', () => closeCard(call()));
  byTest('outcome-form', element).addEventListener('submit', (event) => {
    event.preventDefault();
    saveOutcome(card);
  });
  byTest('note-form', element).addEventListener('submit', (event) => {
    event.preventDefault();
    saveNote(card);
  });
}

const STATE_LABEL = { ringing: 'ringing', ended: 'ended', withdrawn: 'taken elsewhere', transferred: 'transferred' };

function setCardState(card, state, stateText) {
  card.state = state;
  card.stateText = stateText;
  const { element } = card;
  element.dataset.state = state;
  const stateBadge = byTest('card-state', element);
  stateBadge.dataset.state = state;
  stateBadge.textContent = STATE_LABEL[state] + (state === 'ended' && stateText ? ` (${stateText})` : '');
  const banner = byTest('withdrawn', element);
  const isWithdrawn = state === 'withdrawn' || state === 'transferred';
  banner.hidden = !isWithdrawn;
  banner.dataset.state = isWithdrawn ? state : '';
  banner.textContent = isWithdrawn ? stateText : '';
  // Answered by someone else: nothing left to do here. A transferred call was this agent's,
  // who may still record its outcome.
  byTest('card-body', element).hidden = state === 'withdrawn';
  element.querySelector('.card-forms').hidden = state === 'withdrawn';
}

function callChanged(message) {
  const card = cards.get(message.call);
  if (!card) return;
  if (message.state === 'answered') {
    setCardState(card, 'withdrawn', `Answered by ${message.by}`);
  } else if (message.state === 'transferred') {
    setCardState(card, 'transferred', `Transferred: now with ${message.by}`);
  } else if (message.state === 'ended') {
    // After answered/transferred the end is old news for this agent.
    if (card.state !== 'withdrawn' && card.state !== 'transferred') setCardState(card, 'ended', message.cause);
  }
  saveCards();
}

function closeCard(call) {
  const card = cards.get(call);
  if (!card) return;
  card.element.remove();
  cards.delete(call);
  if (selectedCall === call) {
    selectedCall = null;
    const next = byTest('cards').querySelector('[data-test="card"]');
    if (next) selectCard(next.dataset.call);
  }
  updateEmptyNotice();
  saveCards();
}

function selectCard(call, { focus = true } = {}) {
  const card = cards.get(call);
  if (!card) return;
  selectedCall = call;
  for (const { element } of cards.values()) element.classList.toggle('selected', element === card.element);
  if (focus) card.element.focus();
}

function moveSelection(step) {
  const elements = [...byTest('cards').querySelectorAll('[data-test="card"]')];
  if (!elements.length) return;
  const index = elements.findIndex((element) => element.dataset.call === selectedCall);
  const next = elements[Math.min(elements.length - 1, Math.max(0, index + step))];
  selectCard(next.dataset.call);
}

function updateEmptyNotice() {
  byTest('no-calls').hidden = cards.size > 0;
}

function forgetCards() {
  for (const call of [...cards.keys()]) closeCard(call);
  sessionStorage.removeItem(CARDS_KEY);
}

function saveCards() {
  const kept = [...cards.values()].slice(-MAX_KEPT_CARDS)
    .map(({ pop, state, stateText }) => ({ pop, state, stateText }));
  try {
    sessionStorage.setItem(CARDS_KEY, JSON.stringify(kept));
  } catch {
    // Storage full (a customer with very many notes): the cards only live until a reload.
  }
}

function restoreCards() {
  for (const { pop, state, stateText } of loadJson(CARDS_KEY) ?? []) showCard(pop, state, stateText);
}

// ---- outcome and notes ----

function setOutcomeCodes(codes) {
  outcomeCodes = codes.filter((entry) => entry && entry.code);
  for (const card of cards.values()) renderOutcomeCodeControl(card);
}

function renderOutcomeCodeControl(card) {
  const slot = card.element.querySelector('.outcome-code-slot');
  const previous = byTest('outcome-code', slot)?.value ?? '';
  let control;
  if (outcomeCodes?.length) {
    control = el('select', { name: 'code', test: 'outcome-code', required: true, accessKey: 'o' },
      el('option', { value: '', text: 'Choose an outcome…' }),
      outcomeCodes.map(({ code, label }) => el('option', { value: code, text: label ? `${label} (${code})` : code })));
  } else {
    control = el('input', { name: 'code', test: 'outcome-code', required: true, accessKey: 'o',
      placeholder: 'outcome code, e.g. resolved', autocomplete: 'off', pattern: '[a-z0-9_]+' });
  }
  control.value = previous;
  clear(slot).append(el('label', {}, 'Outcome ', control));
}

async function saveOutcome(card) {
  const form = byTest('outcome-form', card.element);
  const status = byTest('outcome-status', card.element);
  const call = card.pop.call;
  const message = { type: 'outcome', call, code: form.code.value.trim() };
  if (form.notes.value.trim()) message.notes = form.notes.value.trim();
  // Checked: the customer agreed to a follow-up call. Unchecked: left out, so the outcome's
  // own policy decides (false would decline even the follow-up the policy schedules).
  if (form.satisfaction_call.checked) message.satisfaction_call = true;
  setStatus(status, 'saving', 'Saving…');
  try {
    const saved = await connection.request(message, ['outcome_saved'], (answer) => answer.call === call);
    let text = 'Saved.';
    if (saved.followup) text += ` ${saved.followup.kind} follow-up #${saved.followup.id} due ${customerClock(saved.followup.due)}.`;
    else if (saved.no_followup) text += ` No follow-up: ${saved.no_followup}.`;
    setStatus(status, 'saved', text);
    form.reset();
    renderOutcomeCodeControl(card);
  } catch (error) {
    setStatus(status, 'error', error.code === 'connection_lost'
      ? 'Not confirmed: the connection dropped. Save again once online.'
      : `Not saved: ${error.message}`);
  }
}

async function saveNote(card) {
  const form = byTest('note-form', card.element);
  const status = byTest('note-status', card.element);
  const customerId = card.pop.customer?.id;
  const text = form.text.value.trim();
  if (customerId === undefined || !text) return;
  const message = { type: 'note', customer: customerId, kind: form.kind.value, text, call: card.pop.call };
  setStatus(status, 'saving', 'Saving…');
  try {
    const saved = await connection.request(message, ['note_saved'], (answer) => answer.customer === customerId);
    setStatus(status, 'saved', `Saved (${message.kind} #${saved.id}).`);
    form.text.value = '';
  } catch (error) {
    setStatus(status, 'error', error.code === 'connection_lost'
      ? 'Not confirmed: the connection dropped. Save again once online.'
      : `Not saved: ${error.message}`);
  }
}

function setStatus(element, state, text) {
  element.dataset.state = state;
  element.textContent = text;
}

// ---- follow-up calls ----

byTest('followup-next').addEventListener('click', askForFollowup);

async function askForFollowup() {
  if (heldFollowupId !== null) return;  // one at a time: finish the one on screen first
  const waiting = byTest('followup-waiting');
  waiting.hidden = false;
  setStatus(waiting, 'asking', 'Asking…');
  try {
    const answer = await connection.request({ type: 'next_followup' }, ['followup_waiting']);
    showFollowupWaiting(answer.agents_waiting);
  } catch (error) {
    waitingForFollowup = false;
    setStatus(waiting, 'error', `Could not ask: ${error.message}`);
  }
}

function showFollowupWaiting(agentsWaiting) {
  // A followup offer may already have come (the queue answers at once when one is due).
  if (heldFollowupId !== null) return;
  waitingForFollowup = true;
  byTest('followup-next').disabled = true;
  const waiting = byTest('followup-waiting');
  waiting.hidden = false;
  setStatus(waiting, 'waiting',
    `Waiting for a follow-up that is due (${agentsWaiting} agent${agentsWaiting === 1 ? '' : 's'} waiting). Calls still pop meanwhile.`);
}

function showFollowupOffer(offer) {
  const followup = offer.followup;
  const survey = offer.survey;
  waitingForFollowup = false;
  heldFollowupId = followup.id;
  byTest('followup-waiting').hidden = true;
  byTest('followup-next').disabled = true;

  const customer = offer.customer;
  const scale = survey ? SURVEY_SCALES[survey.scale] ?? SURVEY_SCALES.nps : null;
  const resultSelect = el('select', { name: 'result', test: 'followup-result', required: true, accessKey: 'r' },
    FOLLOWUP_RESULTS.map(({ value, label }) => el('option', { value, text: label })));
  const scoreInput = el('input', { name: 'score', test: 'followup-score', type: 'number',
    min: scale?.min ?? 0, max: scale?.max ?? 10, step: 1, inputMode: 'numeric' });
  const scoreLabel = survey
    ? el('label', {}, `Score (${scale.min} to ${scale.max}, ${survey.scale}) `, scoreInput)
    : null;
  const commentLabel = survey?.comment_question || 'Comment';
  const form = el('form', { class: 'followup-form', test: 'followup-form' },
    el('label', {}, 'Result ', resultSelect),
    scoreLabel,
    el('label', {}, commentLabel, ' ', el('textarea', { name: 'comment', test: 'followup-comment', rows: 2 })),
    el('button', { type: 'submit', test: 'followup-save', text: 'Save result' }),
    el('p', { class: 'form-status', test: 'followup-status', attrs: { role: 'status' } }));
  // A score is only given when the customer was reached.
  resultSelect.addEventListener('change', () => {
    scoreInput.disabled = resultSelect.value !== 'reached';
    if (scoreInput.disabled) scoreInput.value = '';
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    saveFollowupResult(form, followup.id);
  });

  const offerElement = el('article', { class: 'card followup-offer', test: 'followup-offer', data: { followup: followup.id } },
    el('header', { class: 'card-header' },
      el('div', {},
        el('h2', {}, el('span', { test: 'followup-customer-name', text: customer?.name || followup.customer_name || 'Unknown customer' }),
          customer?.tier ? el('span', { class: 'tier', data: { tier: customer.tier }, text: customer.tier }) : null),
        el('p', { class: 'company', text: customer?.company ?? '' })),
      el('div', { class: 'card-call' },
        el('p', { class: 'caller' }, 'Call ', el('a', { test: 'followup-number', href: `tel:${followup.number}`, text: followup.number })),
        el('p', { class: 'muted', text: `${followup.kind} #${followup.id} · ${followup.reason} · attempt ${followup.attempts_made + 1} of ${followup.attempts_max}` }),
        el('p', { class: 'muted', text: `due ${customerClock(followup.due_local)} ${followup.timezone ?? ''}` }))),
    survey ? el('section', { class: 'survey', test: 'followup-survey' },
      el('h3', { text: 'Ask' }),
      el('p', { class: 'question', test: 'followup-question', text: survey.question }),
      el('p', { class: 'muted', test: 'followup-scale', data: { scale: survey.scale }, text: `${survey.scale}: ${scale.min} to ${scale.max}` }),
      survey.comment_question ? el('p', { class: 'question', text: survey.comment_question }) : null) : null,
    el('section', {}, el('h3', { text: 'The call it follows' }), callSummary(offer.call)),
    el('div', { class: 'card-body' }, customerSections(customer, {
      assets: customer?.assets, history: customer?.history, followups: customer?.followups,
    })),
    form);
  clear(byTest('followup-offer-slot')).append(offerElement);
  resultSelect.focus();
}

async function saveFollowupResult(form, followupId) {
  const status = byTest('followup-status', form);
  const message = { type: 'followup_result', followup: followupId, result: form.result.value };
  if (form.score && !form.score.disabled && form.score.value !== '') message.score = Number(form.score.value);
  if (form.comment.value.trim()) message.comment = form.comment.value.trim();
  setStatus(status, 'saving', 'Saving…');
  try {
    const saved = await connection.request(message, ['followup_saved'], (answer) => answer.followup === followupId);
    setStatus(status, 'saved', saved.status === 'open'
      ? `Saved. Another attempt falls due ${customerClock(saved.next_due)}.`
      : `Saved: the follow-up is ${saved.status}.`);
    finishFollowup(form);
  } catch (error) {
    if (error.code === 'connection_lost') return;  // followupLostWithConnection says it
    // bad_field (a score off the scale) can be corrected and sent again; a closed or no
    // longer held follow-up cannot.
    setStatus(status, 'error', `Not saved: ${error.message}`);
    if (['followup_closed', 'not_offered', 'unknown_followup'].includes(error.code)) finishFollowup(form);
  }
}

function finishFollowup(form) {
  for (const control of form.elements) if (control.dataset.test !== 'followup-status') control.disabled = true;
  heldFollowupId = null;
  byTest('followup-next').disabled = false;
  byTest('followup-next').focus();
}

function followupLostWithConnection() {
  // The daemon frees what a connection held when it closes; a result sent afterwards is
  // refused. Say so rather than let the agent type a result into a dead form.
  if (heldFollowupId === null) return;
  const form = byTest('followup-form');
  if (form) {
    setStatus(byTest('followup-status', form), 'error',
      'The connection dropped: this follow-up was released and may go to another agent. Ask for the next one.');
    finishFollowup(form);
  }
  heldFollowupId = null;
}

// ---- ring sound and notifications ----

let audioContext = null;
let soundOn = true;

function unlockSoundAndNotifications() {
  if (!audioContext && window.AudioContext) audioContext = new AudioContext();
  audioContext?.resume();
  if ('Notification' in window && Notification.permission === 'default') Notification.requestPermission();
}

byTest('sound-toggle').addEventListener('click', toggleSound);

function toggleSound() {
  soundOn = !soundOn;
  const button = byTest('sound-toggle');
  button.setAttribute('aria-pressed', String(soundOn));
  button.textContent = soundOn ? 'Sound on' : 'Sound off';
  if (soundOn) unlockSoundAndNotifications();
}

function announce(pop) {
  playRing();
  notify(pop);
}

// Two short bursts of the 440 + 480 Hz pair telephones ring with, made on the spot so the
// page needs no audio file.
function playRing() {
  if (!soundOn || !audioContext || audioContext.state !== 'running') return;
  const start = audioContext.currentTime + 0.05;
  const gain = audioContext.createGain();
  gain.connect(audioContext.destination);
  gain.gain.setValueAtTime(0, start);
  for (const burstStart of [0, 0.6]) {
    const t = start + burstStart;
    gain.gain.setTargetAtTime(0.15, t, 0.01);
    gain.gain.setTargetAtTime(0, t + 0.4, 0.02);
  }
  for (const frequency of [440, 480]) {
    const oscillator = audioContext.createOscillator();
    oscillator.frequency.value = frequency;
    oscillator.connect(gain);
    oscillator.start(start);
    oscillator.stop(start + 1.1);
  }
}

function notify(pop) {
  if (!('Notification' in window) || Notification.permission !== 'granted') return;
  if (document.visibilityState === 'visible' && document.hasFocus()) return;  // the card is enough
  const name = pop.customer?.name || pop.caller?.name || 'Unknown caller';
  const notification = new Notification(`${name}${pop.customer?.tier ? ` (${pop.customer.tier})` : ''}`, {
    body: [pop.caller?.number, pop.line, pop.queue].filter(Boolean).join(' · '),
    tag: `callpop-${pop.call}`,  // a transfer's second pop replaces the first notification
  });
  notification.onclick = () => {
    window.focus();
    selectCard(pop.call);
    notification.close();
  };
}

// ---- keyboard ----

const SHORTCUTS = {
  o: () => focusInSelectedCard('outcome-code'),
  n: () => focusInSelectedCard('note-text'),
  j: () => moveSelection(1),
  k: () => moveSelection(-1),
  x: () => selectedCall && closeCard(selectedCall),
  f: () => byTest('followup-next').click(),
  r: () => byTest('followup-result')?.focus(),
  m: toggleSound,
};

function focusInSelectedCard(test) {
  const card = cards.get(selectedCall);
  const control = card && byTest(test, card.element);
  if (control && !control.closest('[hidden]')) control.focus();
}

document.addEventListener('keydown', (event) => {
  const target = event.target;
  const typing = target.closest?.('input, textarea, select, [contenteditable="true"]');
  if (event.key === 'Escape' && typing) {
    target.blur();
    cards.get(selectedCall)?.element.focus();
    return;
  }
  if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
  if (byTest('workspace').hidden) return;
  const shortcut = SHORTCUTS[event.key];
  if (shortcut) {
    event.preventDefault();
    shortcut();
  }
});

// Any click may be the gesture that lets sound play after a reload resumed the session.
document.addEventListener('pointerdown', () => audioContext?.resume(), { passive: true });

// ---- storage ----

function loadJson(key) {
  try {
    return JSON.parse(sessionStorage.getItem(key) ?? 'null');
  } catch {
    return null;
  }
}

function saveSession() {
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
}

// ---- start ----

restoreCards();
updateEmptyNotice();
if (session.agent && session.ticket) {
  // A reload of a logged-in tab: resume with the ticket, the token is not needed.
  if (window.AudioContext) audioContext = new AudioContext();  // runs once the page is clicked
  connection.start();
} else {
  byTest('login-form').agent.value = session.agent ?? '';
}
