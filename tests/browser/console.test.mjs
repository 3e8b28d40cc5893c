// The agent console and the wallboard in a real browser against the real daemon.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { Daemon, ring } from './daemon.mjs';
import { launch, withPages, byTest, logIn } from './browser.mjs';

let daemon;
let browser;
let pbx;

before(async () => {
  daemon = new Daemon();
  await daemon.start();
  browser = await launch();
  pbx = await daemon.connectSwitch();
});

after(async () => {
  pbx?.close();
  await browser?.close();
  await daemon?.stop();
});

test('a ring pops a card on the agent at that extension only, and the outcome form saves to the store', async () => {
  await withPages(browser, daemon, 'console pop and outcome', async (open) => {
    const first = await open('/', 'agent-1001');
    const second = await open('/', 'agent-1002');
    await logIn(first, '1001', 'demo-1001', '1001');
    await logIn(second, '1002', 'demo-1002', '1002');

    pbx.send(ring('b-1', '1001'));
    const card = first.locator('[data-test="card"]');
    await card.waitFor();
    assert.equal(await byTest(card, 'customer-name').textContent(), 'Pat Doe');
    assert.match(await card.textContent(), /LaserJet/);
    assert.equal(await second.locator('[data-test="card"]').count(), 0);

    pbx.send({ event: 'answer', call: 'b-1', ext: '1001' });
    pbx.send({ event: 'hangup', call: 'b-1', cause: 'normal' });
    await byTest(card, 'outcome-code').selectOption('repaired');
    await byTest(card, 'outcome-notes').fill('new fuser, from the browser');
    await byTest(card, 'outcome-save').click();
    await card.locator('[data-test="outcome-status"]', { hasText: /saved/i }).waitFor();
    const [stored] = JSON.parse(daemon.query(
      "SELECT outcome, outcome_notes, outcome_agent FROM calls WHERE call_id = 'b-1'"));
    assert.deepEqual(stored, { outcome: 'repaired', outcome_notes: 'new fuser, from the browser', outcome_agent: '1001' });
    assert.equal(await second.locator('[data-test="card"]').count(), 0);
  });
});

test('a call answered at another extension withdraws the card', async () => {
  await withPages(browser, daemon, 'console withdraw', async (open) => {
    const first = await open('/', 'agent-1001');
    await logIn(first, '1001', 'demo-1001', '1001');
    pbx.send(ring('b-2', '1001'));
    pbx.send(ring('b-2', '1003'));
    const card = first.locator('[data-test="card"]', { has: first.locator('[data-test="call-id"]', { hasText: 'b-2' }) });
    await card.waitFor();
    pbx.send({ event: 'answer', call: 'b-2', ext: '1003' });
    await first.locator('[data-test="card"][data-state="withdrawn"]').waitFor();
    assert.match(await byTest(card, 'withdrawn').textContent(), /1003/);
    pbx.send({ event: 'hangup', call: 'b-2', cause: 'normal' });
  });
});

test('the wallboard shows calls as they ring and end', async () => {
  await withPages(browser, daemon, 'wallboard', async (open) => {
    const board = await open('/wallboard', 'wallboard');
    await logIn(board, 'super', 'demo-super');
    pbx.send(ring('b-3', '1002'));
    await board.locator('[data-test="log-row"]', { hasText: 'b-3' }).first().waitFor();
    pbx.send({ event: 'hangup', call: 'b-3', cause: 'abandoned' });
    await board.locator('[data-test="log-row"]', { hasText: 'abandoned' }).first().waitFor();
  });
});
