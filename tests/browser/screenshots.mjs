// Makes the README's screenshots (docs/screenshots/) from a real daemon and a real browser:
// node tests/browser/screenshots.mjs, with CALLPOP_BINARY naming the build.
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';

import { Daemon, ring } from './daemon.mjs';
import { launch, logIn } from './browser.mjs';

const folder = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'docs', 'screenshots');
mkdirSync(folder, { recursive: true });
const daemon = new Daemon();
await daemon.start();
const browser = await launch();
try {
  const pbx = await daemon.connectSwitch();
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const board = await context.newPage();
  await board.goto(`${daemon.url}/wallboard`);
  await logIn(board, 'super', 'demo-super');
  const agentContext = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const agent = await agentContext.newPage();
  await agent.goto(daemon.url);
  await logIn(agent, '1001', 'demo-1001', '1001');

  // A morning's traffic in miniature: some answered, one abandoned, one ringing now.
  for (const [index, ext] of ['1002', '1003', '1002', '1004'].entries()) {
    const call = `m-${index}`;
    pbx.send(ring(call, ext, `+1 555 010 ${4000 + index}`));
    await sleep(150);
    if (index === 2) {
      pbx.send({ event: 'hangup', call, cause: 'abandoned' });
      continue;
    }
    pbx.send({ event: 'answer', call, ext });
    await sleep(100);
    pbx.send({ event: 'hangup', call, cause: 'normal' });
  }
  pbx.send({ ...ring('c-1', '1001'), data: { service_tag: '7XK2Q1' } });
  await agent.locator('[data-test="card"]').waitFor();
  await sleep(500);
  await agent.evaluate(() => window.scrollTo(0, 0));
  await agent.screenshot({ path: join(folder, 'console.png') });
  await board.waitForTimeout(6000);  // the next status poll counts the agent logged in
  await board.screenshot({ path: join(folder, 'wallboard.png') });
  pbx.close();
} finally {
  await browser.close();
  await daemon.stop();
  daemon.remove();
}
