// Headless Chromium (Debian's) through playwright-core, with what a failed test leaves behind:
// a screenshot and the console log of every page it opened, in $CALLPOP_BROWSER_ARTIFACTS.
import { chromium } from 'playwright-core';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const artifacts = process.env.CALLPOP_BROWSER_ARTIFACTS ?? 'browser-artifacts';

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    // Root cannot use Chromium's sandbox; the pages are our own.
    args: ['--no-sandbox', '--disable-gpu'],
  });
}

// Runs `body` with a function that opens pages; when it throws, each page's screenshot and
// console log are kept under the test's name, and the daemon's log beside them.
export async function withPages(browser, daemon, name, body) {
  const pages = [];
  const open = async (path, label) => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    const page = await context.newPage();
    const log = [];
    page.on('console', (message) => log.push(`${message.type()}: ${message.text()}`));
    page.on('pageerror', (error) => log.push(`pageerror: ${error.message}`));
    pages.push({ page, label, log });
    await page.goto(`${daemon.url}${path}`);
    return page;
  };
  try {
    await body(open);
  } catch (error) {
    const folder = join(artifacts, name.replace(/[^a-z0-9]+/gi, '-'));
    mkdirSync(folder, { recursive: true });
    for (const { page, label, log } of pages) {
      await page.screenshot({ path: join(folder, `${label}.png`), fullPage: true }).catch(() => {});
      writeFileSync(join(folder, `${label}.console.log`), log.join('\n'));
    }
    writeFileSync(join(folder, 'daemon.log'), daemon.log());
    error.message += `\n(screenshots and console logs in ${folder})`;
    throw error;
  } finally {
    for (const { page } of pages) await page.context().close().catch(() => {});
  }
}

export const byTest = (page, name) => page.locator(`[data-test="${name}"]`);

// Logs an agent in on the console page and waits until it is online.
export async function logIn(page, agent, token, extension = '') {
  await byTest(page, 'login-agent').fill(agent);
  await byTest(page, 'login-token').fill(token);
  if (extension) await byTest(page, 'login-extension').fill(extension);
  await byTest(page, 'login-submit').click();
  await page.locator('[data-test="connection-state"][data-state="online"]').waitFor();
}
