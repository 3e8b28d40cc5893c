// The one connection to callpop that both pages use: a WebSocket to /ws carrying the agent
// protocol of docs/protocol-agent.md, one JSON message per text frame. It logs in, keeps the
// session alive with pings, notices a dead daemon, reconnects with backoff, and hands each
// message to the handlers the page registered for its type.
//
// What to log in with is the page's business (token or ticket, resume_after, tail after=):
// the connection asks the page for a fresh login message at every (re)connect.

/** Why the connection stopped for good; the page shows the login form again for these. */
export const StopReason = Object.freeze({
  LOGIN_REFUSED: 'login_refused',   // an error answered the login (bad token, extension taken...)
  LOGIN_NEEDED: 'login_needed',     // the ticket was refused and the page has no token
  BYE: 'bye',                       // the daemon ended the session in a way a retry cannot fix
  LOGGED_OUT: 'logged_out',         // the page asked for it
});

/** Connection states reported to onState. */
export const ConnectionState = Object.freeze({
  CONNECTING: 'connecting',
  LOGGING_IN: 'logging_in',
  ONLINE: 'online',
  RECONNECT_WAIT: 'reconnect_wait',
  STOPPED: 'stopped',
});

/** What a page's connection badge says in each state; `online` is the page's own word. */
export function connectionStateText(state, detail, online = 'online') {
  switch (state) {
    case ConnectionState.CONNECTING: return 'connecting…';
    case ConnectionState.LOGGING_IN: return 'logging in…';
    case ConnectionState.ONLINE: return online;
    case ConnectionState.RECONNECT_WAIT:
      return `offline, retrying in ${Math.ceil(detail.delayMs / 1000)} s (${detail.why})`;
    default: return 'not connected';
  }
}

// A bye with one of these codes means reconnecting would not help or would do harm:
// `replaced` twice in two tabs would make them evict each other forever.
const FINAL_BYE_CODES = new Set([
  'logged_out', 'replaced', 'disconnected', 'account_removed', 'tls_required',
]);

// Errors carry no reference to the line they answer (the daemon answers lines in order, but
// asynchronous answers such as outcome_saved come after commits). An error is given to the
// oldest pending request of a type that can cause its code; codes any message can cause go
// to the oldest pending request whose type the message names ("note: kind must be ...").
const ERROR_CODES_BY_REQUEST_TYPE = {
  outcome: ['unknown_outcome', 'unknown_call', 'not_your_call'],
  note: ['unknown_customer'],
  followup_result: ['unknown_followup', 'followup_closed', 'not_offered'],
  followup_close: ['unknown_followup', 'followup_closed', 'forbidden'],
  tail: ['forbidden'],
  status: ['forbidden'],
};
const ERRORS_ANY_REQUEST_CAN_CAUSE = new Set(['bad_field', 'missing_field', 'storage_error']);

const LOGIN_ANSWER_TIMEOUT_MS = 20000;  // a chosen token is checked with a slow hash on purpose
const RECONNECT_FIRST_DELAY_MS = 1000;
const RECONNECT_MAX_DELAY_MS = 30000;
const DEFAULT_HEARTBEAT_S = 15;         // until the welcome says otherwise

/** The WebSocket address: /ws on the host that served the page, or ?ws=URL (for tests). */
export function defaultSocketUrl(location = window.location) {
  const override = new URLSearchParams(location.search).get('ws');
  if (override) return override;
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/ws`;
}

/** A request was refused by the daemon (an `error` message) or the connection was lost. */
export class RequestError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;  // the protocol's error code, or 'connection_lost'
  }
}

export class CallpopConnection {
  /**
   * @param {object} options
   * @param {() => object|null} options.buildLogin  the login message for this attempt, or
   *   null when there is nothing to log in with
   * @param {() => void} [options.onTicketRefused]  the ticket was refused: forget it, the
   *   next buildLogin() should use the token if the page still has one
   * @param {(state: string, detail: object) => void} [options.onState]
   * @param {string} [options.url]
   */
  constructor({ buildLogin, onTicketRefused = () => {}, onState = () => {}, url = defaultSocketUrl() }) {
    this.buildLogin = buildLogin;
    this.onTicketRefused = onTicketRefused;
    this.onState = onState;
    this.url = url;
    this.handlers = new Map();
    this.pendingRequests = [];
    this.socket = null;
    this.state = ConnectionState.STOPPED;
    this.loggedIn = false;
    this.welcome = null;
    this.reconnectAttempts = 0;
    this.reconnectTimer = null;
    this.loginTimer = null;
    this.heartbeatTimer = null;
    this.lastReceivedAt = 0;
    this.lastBye = null;
    this.loginUsedTicket = false;

    // Coming back online: don't sit out the rest of a long backoff.
    window.addEventListener('online', () => {
      if (this.state === ConnectionState.RECONNECT_WAIT) this.connectNow();
    });
  }

  /** Register a handler for one message type ('pop', 'log', ...); '*' gets every message. */
  on(type, handler) {
    if (!this.handlers.has(type)) this.handlers.set(type, []);
    this.handlers.get(type).push(handler);
    return this;
  }

  start() {
    this.reconnectAttempts = 0;
    this.connectNow();
  }

  /** Log out (the daemon forgets the pending pops) and stop reconnecting. */
  logout() {
    if (this.loggedIn) this.send({ type: 'logout' });
    this.stop(StopReason.LOGGED_OUT);
  }

  /** Send one message; false when there is no open socket to send it on. */
  send(message) {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify(message));
    return true;
  }

  /**
   * Send a message that the daemon answers, and settle when it does.
   * @param {object} message
   * @param {string[]} answerTypes  message types that answer it ('outcome_saved')
   * @param {(answer: object) => boolean} [isAnswer]  whether an answer is this request's
   *   (an outcome_saved for the same call)
   * @returns {Promise<object>} the answer; rejects with RequestError
   */
  request(message, answerTypes, isAnswer = () => true) {
    return new Promise((resolve, reject) => {
      if (!this.loggedIn || !this.send(message)) {
        reject(new RequestError('connection_lost', 'not connected: try again once online'));
        return;
      }
      this.pendingRequests.push({ message, answerTypes, isAnswer, resolve, reject });
    });
  }

  // ---- internals ----

  setState(state, detail = {}) {
    this.state = state;
    this.onState(state, detail);
  }

  connectNow() {
    clearTimeout(this.reconnectTimer);
    this.closeSocket();
    this.lastBye = null;
    this.setState(ConnectionState.CONNECTING, { url: this.url });
    let socket;
    try {
      socket = new WebSocket(this.url);
    } catch (error) {
      this.scheduleReconnect(String(error));
      return;
    }
    this.socket = socket;
    socket.onopen = () => this.sendLogin();
    socket.onmessage = (event) => this.receive(event.data);
    socket.onclose = () => {
      if (this.socket !== socket) return;  // an old socket we already replaced
      this.connectionLost();
    };
    // onerror is always followed by onclose, which does the work.
  }

  sendLogin() {
    const login = this.buildLogin();
    if (!login) {
      this.stop(StopReason.LOGIN_NEEDED);
      return;
    }
    this.loginUsedTicket = Boolean(login.ticket);
    this.setState(ConnectionState.LOGGING_IN, { agent: login.agent, withTicket: this.loginUsedTicket });
    this.send(login);
    clearTimeout(this.loginTimer);
    this.loginTimer = setTimeout(() => {
      // The daemon reads logins a few at a time after a restart; past this, try afresh.
      this.scheduleReconnect('no answer to the login');
    }, LOGIN_ANSWER_TIMEOUT_MS);
  }

  receive(text) {
    this.lastReceivedAt = Date.now();
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      console.warn('callpop: a frame that is not JSON', text);
      return;
    }
    if (!message || typeof message.type !== 'string') return;

    if (message.type === 'welcome') this.welcomed(message);
    else if (message.type === 'bye') this.lastBye = message;
    else if (message.type === 'error' && !this.loggedIn) {
      this.loginRefused(message);
      return;
    }

    if (message.type === 'error' && this.settleWithError(message)) return;
    this.settleWithAnswer(message);
    this.dispatch(message.type, message);
  }

  dispatch(type, message) {
    for (const handler of this.handlers.get(type) ?? []) handler(message);
    for (const handler of this.handlers.get('*') ?? []) handler(message);
  }

  welcomed(welcome) {
    clearTimeout(this.loginTimer);
    this.loggedIn = true;
    this.welcome = welcome;
    this.reconnectAttempts = 0;
    this.startHeartbeat(welcome.heartbeat_s || DEFAULT_HEARTBEAT_S);
    this.setState(ConnectionState.ONLINE, { welcome });
  }

  loginRefused(error) {
    clearTimeout(this.loginTimer);
    if (error.code === 'bad_login' && this.loginUsedTicket) {
      // Expired, or the account changed: the socket stays open for a login with the token.
      this.onTicketRefused();
      this.sendLogin();
      return;
    }
    if (error.code === 'storage_error') {
      this.scheduleReconnect(error.message);  // the daemon could not read its store: retry later
      return;
    }
    if (error.code === 'not_logged_in') return;  // a ping raced the login; harmless
    this.dispatch('login_error', error);
    this.stop(StopReason.LOGIN_REFUSED, { error });
  }

  settleWithAnswer(message) {
    const index = this.pendingRequests.findIndex(
      (request) => request.answerTypes.includes(message.type) && request.isAnswer(message));
    if (index < 0) return;
    const [request] = this.pendingRequests.splice(index, 1);
    request.resolve(message);
  }

  settleWithError(error) {
    let index = this.pendingRequests.findIndex(
      (request) => (ERROR_CODES_BY_REQUEST_TYPE[request.message.type] ?? []).includes(error.code));
    if (index < 0 && ERRORS_ANY_REQUEST_CAN_CAUSE.has(error.code)) {
      index = this.pendingRequests.findIndex(
        (request) => String(error.message ?? '').startsWith(`${request.message.type}:`));
      if (index < 0) index = 0;  // the oldest line still waiting is the likeliest cause
    }
    if (index < 0 || index >= this.pendingRequests.length) return false;
    const [request] = this.pendingRequests.splice(index, 1);
    request.reject(new RequestError(error.code, error.message));
    return true;
  }

  startHeartbeat(heartbeatSeconds) {
    clearInterval(this.heartbeatTimer);
    const intervalMs = heartbeatSeconds * 1000;
    this.heartbeatTimer = setInterval(() => {
      // The daemon answers every ping: two heartbeats of silence mean it (or the path) is dead,
      // and the browser may not notice a half-open TCP connection for minutes.
      if (Date.now() - this.lastReceivedAt > 2 * intervalMs + 2000) {
        this.scheduleReconnect('the daemon stopped answering pings');
        return;
      }
      this.send({ type: 'ping' });
    }, intervalMs);
  }

  connectionLost() {
    this.socket = null;
    const bye = this.lastBye;
    if (this.state === ConnectionState.STOPPED) return;
    if (bye && FINAL_BYE_CODES.has(bye.code)) {
      this.stop(bye.code === 'logged_out' ? StopReason.LOGGED_OUT : StopReason.BYE, { bye });
      return;
    }
    this.scheduleReconnect(bye ? `${bye.code}: ${bye.message}` : 'connection closed');
  }

  scheduleReconnect(why) {
    this.teardownSession();
    this.closeSocket();
    // Exponential backoff with jitter, so that thousands of terminals coming back after a
    // daemon restart do not all knock at the same instant.
    const ceiling = Math.min(RECONNECT_MAX_DELAY_MS, RECONNECT_FIRST_DELAY_MS * 2 ** this.reconnectAttempts);
    const delayMs = Math.round(ceiling / 2 + Math.random() * ceiling / 2);
    this.reconnectAttempts += 1;
    this.setState(ConnectionState.RECONNECT_WAIT, { why, retryAt: Date.now() + delayMs, delayMs });
    this.reconnectTimer = setTimeout(() => this.connectNow(), delayMs);
  }

  stop(reason, detail = {}) {
    clearTimeout(this.reconnectTimer);
    this.teardownSession();
    this.closeSocket();
    this.setState(ConnectionState.STOPPED, { reason, ...detail });
  }

  teardownSession() {
    clearTimeout(this.loginTimer);
    clearInterval(this.heartbeatTimer);
    this.loggedIn = false;
    // An answer that has not come will not come on a new connection: let the page say
    // "not confirmed" and offer to send again (the daemon keeps the last outcome sent).
    const lost = this.pendingRequests;
    this.pendingRequests = [];
    for (const request of lost) {
      request.reject(new RequestError('connection_lost', 'the connection was lost before the daemon answered'));
    }
  }

  closeSocket() {
    if (!this.socket) return;
    const socket = this.socket;
    this.socket = null;
    socket.onopen = socket.onmessage = socket.onclose = null;
    try { socket.close(); } catch { /* already closed */ }
  }
}
