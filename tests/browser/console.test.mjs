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
  daemon?.remove();
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
    // The demo's log has abandoned calls of its own: wait for this one's row.
    const hangup = board.locator('[data-test="log-row"][data-kind="hangup"][data-call="b-3"]');
    await hangup.waitFor();
    assert.match(await hangup.textContent(), /abandoned/);
    // The filters choose the rows shown: only hangups, then all again.
    await board.locator('[data-test="filter-kind"]').selectOption('hangup');
    await board.waitForFunction(() =>
      document.querySelectorAll('[data-test="log-row"]:not([data-kind="hangup"])').length === 0);
    assert.equal(await hangup.count(), 1);
    await board.locator('[data-test="filter-reset"]').click();
    await board.locator('[data-test="log-row"][data-kind="ring"][data-call="b-3"]').waitFor();
  });
});

test('follow-up mode offers the next follow-up and records the survey answer', async () => {
  await withPages(browser, daemon, 'console follow-up', async (open) => {
    const page = await open('/', 'agent-1002');
    await logIn(page, '1002', 'demo-1002', '1002');
    // A customer never surveyed calls; "repaired" schedules a survey due at once (the
    // test's config).
    const [customer] = JSON.parse(daemon.query(`SELECT c.name, p.number FROM customers c
      JOIN phones p ON p.customer_id = c.id
      WHERE c.id NOT IN (SELECT customer_id FROM followups WHERE customer_id IS NOT NULL)
        AND c.do_not_call = 0 LIMIT 1`));
    pbx.send(ring('b-5', '1002', customer.number));
    const card = page.locator('[data-test="card"]');
    await card.waitFor();
    pbx.send({ event: 'answer', call: 'b-5', ext: '1002' });
    pbx.send({ event: 'hangup', call: 'b-5', cause: 'normal' });
    await byTest(card, 'outcome-code').selectOption('repaired');
    await byTest(card, 'outcome-save').click();
    await card.locator('[data-test="outcome-status"]', { hasText: /saved/i }).waitFor();

    // Other follow-ups may be due before it (callbacks for calls nobody answered): those
    // are tried and not reached until the survey comes.
    let previous = null;
    for (let offers = 0; offers < 20; offers += 1) {
      await byTest(page, 'followup-next').click();
      const offer = page.locator(previous === null ? '[data-test="followup-offer"]'
        : `[data-test="followup-offer"]:not([data-followup="${previous}"])`);
      await offer.waitFor();
      const id = Number(await offer.getAttribute('data-followup'));
      previous = id;
      const form = byTest(page, 'followup-form');
      const name = await byTest(offer, 'followup-customer-name').textContent();
      if (name !== customer.name || await byTest(page, 'followup-survey').count() === 0) {
        await byTest(form, 'followup-result').selectOption('no_answer');
        await byTest(form, 'followup-save').click();
        await form.locator('[data-test="followup-status"]', { hasText: /saved/i }).waitFor();
        continue;
      }
      assert.match(await byTest(offer, 'followup-question').textContent(), /satisfied/);
      await byTest(form, 'followup-result').selectOption('reached');
      await byTest(form, 'followup-score').fill('4');
      await byTest(form, 'followup-comment').fill('works like new');
      await byTest(form, 'followup-save').click();
      await form.locator('[data-test="followup-status"]', { hasText: /saved/i }).waitFor();
      const [attempt] = JSON.parse(daemon.query(
        `SELECT agent, result, score, comment FROM followup_attempts WHERE followup_id = ${id}`));
      assert.deepEqual(attempt, { agent: '1002', result: 'reached', score: 4, comment: 'works like new' });
      return;
    }
    assert.fail(`no survey for ${customer.name} among 20 follow-ups offered`);
  });
});

test('the wallboard reconnects after a daemon restart and shows what came meanwhile', async () => {
  await withPages(browser, daemon, 'wallboard restart', async (open) => {
    const board = await open('/wallboard', 'wallboard');
    await logIn(board, 'super', 'demo-super');
    await daemon.stop();
    await board.locator('[data-test="connection-state"]:not([data-state="online"])').waitFor();
    await daemon.start();  // the same ports
    pbx = await daemon.connectSwitch();
    pbx.send(ring('b-4', '1002'));
    await board.locator('[data-test="connection-state"][data-state="online"]').waitFor({ timeout: 40000 });
    await board.locator('[data-test="log-row"][data-call="b-4"]').first().waitFor();
  });
});

test('keys, a note and a preference on the caller, and the dark scheme', async () => {
  await withPages(browser, daemon, 'console keys and notes', async (open) => {
    const page = await open('/', 'agent-1004');
    await page.emulateMedia({ colorScheme: 'dark' });
    await logIn(page, '1004', 'demo-1004', '1004');
    // The page follows the browser's dark scheme: light text on a dark background.
    const [background, text] = await page.evaluate(() => {
      const style = getComputedStyle(document.body);
      return [style.backgroundColor, style.color];
    });
    const lightness = (rgb) => rgb.match(/\d+/g).slice(0, 3).reduce((sum, part) => sum + Number(part), 0) / 3;
    assert.ok(lightness(background) < 80 && lightness(text) > 170, `${background} / ${text}`);

    pbx.send(ring('b-6', '1004'));
    const card = page.locator('[data-test="card"]');
    await card.waitFor();
    await page.locator('body').click({ position: { x: 5, y: 5 } });
    await page.keyboard.press('n');
    assert.equal(await page.evaluate(() => document.activeElement?.dataset.test), 'note-text');
    await byTest(card, 'note-kind').selectOption('preference');
    await byTest(card, 'note-text').fill('tea with milk, no sugar');
    await byTest(card, 'note-save').click();
    await card.locator('[data-test="note-status"]', { hasText: /saved/i }).waitFor();
    const [stored] = JSON.parse(daemon.query(
      "SELECT kind, text, author FROM notes WHERE text = 'tea with milk, no sugar'"));
    assert.deepEqual(stored, { kind: 'preference', text: 'tea with milk, no sugar', author: '1004' });
    await page.keyboard.press('Escape');
    await page.keyboard.press('o');
    assert.equal(await page.evaluate(() => document.activeElement?.dataset.test), 'outcome-code');
    pbx.send({ event: 'hangup', call: 'b-6', cause: 'no_answer' });
  });
});

test('the wallboard lists the agents at their extensions, with their state', async () => {
  await withPages(browser, daemon, 'wallboard agents', async (open) => {
    const board = await open('/wallboard', 'wallboard');
    await logIn(board, 'super', 'demo-super');
    const page = await open('/', 'agent-2001');
    await logIn(page, '2001', 'token-2001', '2001');
    // From the daemon's status, polled every few seconds: at its extension, ready.
    const row = board.locator('[data-test="agent-row"][data-agent="2001"]');
    await board.locator('[data-test="agent-row"][data-agent="2001"][data-state="ready"]').waitFor({ timeout: 15000 });
    assert.match(await row.textContent(), /2001/);
    // From the log, at once: talking.
    pbx.send(ring('b-7', '2001'));
    pbx.send({ event: 'answer', call: 'b-7', ext: '2001' });
    await board.locator('[data-test="agent-row"][data-agent="2001"][data-state="talking"]').waitFor();
    pbx.send({ event: 'hangup', call: 'b-7', cause: 'normal' });
    await board.locator('[data-test="agent-row"][data-agent="2001"][data-state="wrap-up"]').waitFor();
  });
});
