// What the agent reads about a customer: the sections of a pop card, also used for the
// customer of a follow-up offer. Sections with nothing in them are left out, so that a card
// reads at a glance.
import { el, dateTime, labelled } from './dom.js';

const MATCH_EXPLAINED = {
  asset: 'found by a serial the caller keyed in',
  account: 'found by an account number the caller keyed in',
  number: 'found by the caller\'s number',
  none: 'no customer found for this caller',
  withheld: 'number withheld: nothing to look up',
  lookup_failed: 'the customer lookup failed (see the daemon log)',
};

export function matchExplained(match) {
  return MATCH_EXPLAINED[match] ?? match ?? '';
}

/**
 * The body of a card.
 * @param {object|null} customer  a customer record (notes and preferences inside)
 * @param {object} extra  assets, history, followups (at a pop's top level, or inside a
 *   follow-up offer's customer), data (what the IVR collected), candidates, match
 */
export function customerSections(customer, { assets = [], history = [], followups = [], data = {}, candidates = [], match } = {}) {
  const sections = [];

  if (match) sections.push(el('p', { class: 'muted match', test: 'match', data: { match }, text: matchExplained(match) }));

  if (customer) {
    sections.push(el('section', { class: 'contact', test: 'customer-contact' },
      labelled('Customer id', customer.external_id || customer.id, 'customer-external-id'),
      labelled('Segment', customer.segment, 'customer-segment'),
      labelled('Language', customer.language, 'customer-language'),
      labelled('Time zone', customer.timezone, 'customer-timezone'),
      labelled('Email', customer.email, 'customer-email'),
      labelled('Address', customer.address, 'customer-address'),
      labelled('Phones', (customer.phones ?? []).join(', '), 'customer-phones')));
  }

  const ivrEntries = Object.entries(data ?? {});
  if (ivrEntries.length) {
    sections.push(section('Caller keyed in', 'ivr-data',
      el('dl', { class: 'pairs' }, ivrEntries.flatMap(([key, value]) => [
        el('dt', { text: key }), el('dd', { text: typeof value === 'string' ? value : JSON.stringify(value) })]))));
  }

  if (customer?.preferences?.length) {
    sections.push(section('Preferences', 'preferences', noteList(customer.preferences, 'preference')));
  }

  if (assets.length) {
    sections.push(section('Products', 'assets', el('table', { class: 'assets' },
      el('thead', {}, el('tr', {}, el('th', { text: 'Product' }), el('th', { text: 'Service tag' }),
        el('th', { text: 'Purchased' }), el('th', { text: 'Warranty until' }))),
      el('tbody', {}, assets.map((asset) => el('tr', { test: 'asset' },
        el('td', { test: 'asset-product', text: asset.product ?? '' }),
        el('td', { test: 'asset-serial', class: 'mono', text: asset.serial ?? '' }),
        el('td', { test: 'asset-purchased', text: asset.purchased ?? '' }),
        el('td', { test: 'asset-warranty', class: warrantyClass(asset.warranty_end), text: asset.warranty_end ?? 'unknown' })))))));
  }

  if (history.length) {
    sections.push(section('Last calls', 'history', el('ol', { class: 'timeline' },
      history.map((entry) => el('li', { test: 'history-entry', data: { state: entry.state ?? '' } },
        el('span', { class: 'when', text: dateTime(entry.at) }),
        el('span', { class: `badge state-${entry.state}`, text: entry.state ?? '' }),
        entry.outcome ? el('span', { class: 'badge outcome', test: 'history-outcome', text: entry.outcome }) : null,
        el('span', { class: 'muted', text: [entry.line, entry.agent && `agent ${entry.agent}`].filter(Boolean).join(' · ') }),
        entry.notes ? el('p', { class: 'history-notes', text: entry.notes }) : null)))));
  }

  if (customer?.notes?.length) {
    sections.push(section('Notes', 'notes', noteList(customer.notes, 'note')));
  }

  if (followups.length) {
    sections.push(section('Open follow-ups', 'open-followups', el('ul', { class: 'plain' },
      followups.map((followup) => el('li', { test: 'open-followup' },
        el('span', { class: 'badge', text: followup.kind }),
        ` #${followup.id}, due ${dateTime(followup.due)}`,
        followup.reason ? el('span', { class: 'muted', text: ` (${followup.reason})` }) : null)))));
  }

  if (candidates.length) {
    sections.push(section('Others on this number', 'candidates', el('ul', { class: 'plain' },
      candidates.map((candidate) => el('li', { test: 'candidate' },
        el('strong', { text: candidate.name ?? '' }),
        candidate.company ? ` — ${candidate.company}` : '',
        candidate.tier ? el('span', { class: 'tier', text: candidate.tier }) : null)))));
  }

  return sections;
}

function section(title, test, ...content) {
  return el('section', { test }, el('h3', { text: title }), ...content);
}

function noteList(notes, test) {
  return el('ul', { class: 'plain notes' }, notes.map((note) => el('li', { test, data: { id: note.id } },
    el('span', { text: note.text ?? '' }),
    el('span', { class: 'muted', text: ` — ${note.by ?? ''}, ${dateTime(note.at)}` }))));
}

function warrantyClass(warrantyEnd) {
  if (!warrantyEnd) return 'muted';
  return warrantyEnd < new Date().toISOString().slice(0, 10) ? 'expired' : 'in-warranty';
}

/** A history entry (the call that created a follow-up), one line. */
export function callSummary(call) {
  if (!call) return el('p', { class: 'muted', test: 'followup-original-call', text: 'No record of the original call.' });
  return el('p', { test: 'followup-original-call' },
    `${dateTime(call.at)} · ${call.line || 'unknown line'} · ${call.state}`,
    call.agent ? ` · agent ${call.agent}` : '',
    call.outcome ? el('span', { class: 'badge outcome', text: call.outcome }) : null,
    call.notes ? el('span', { class: 'history-notes', text: ` “${call.notes}”` }) : null);
}
