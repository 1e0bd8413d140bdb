import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { useDataVisionFixture } from '../helpers/fixture.js';

/**
 * The gate's HTML report as a person sees it: opened in Debian's headless chromium (no browser download;
 * scripts/ensure-test-tools.sh installs it, `npm test` runs that first) at 1280×800, after a history of runs — clean
 * loads, a load whose gate failed, then --solo-validar over planted defects. The screenshot is kept in the test's
 * folder; INGESTA_UPDATE_SCREENSHOT=1 also copies it to docs/ for the README.
 */
const CHROMIUM = '/usr/bin/chromium';
const VIEWPORT = { width: 1280, height: 800 };
const DATASET = 'raw_datavision_local';
const DOCS_SCREENSHOT = fileURLToPath(new URL('../../docs/quality-report.png', import.meta.url));
const fx = useDataVisionFixture(120, 'report-browser');

const ingest = (...args: string[]) => runCli(['--env', 'local', '--duckdb-path', fx.duckdbPath, ...args], { DATABASE_URL: fx.db.url });

let browser: Browser;
let page: Page;
let html: string;
const requests: string[] = [];
const pageErrors: string[] = [];

async function plant(...statements: string[]): Promise<void> {
  const instance = await DuckDBInstance.create(fx.duckdbPath);
  const c = await instance.connect();
  try {
    for (const s of statements) await c.run(s);
  } finally {
    c.closeSync();
    instance.closeSync();
  }
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`chromium is missing at ${CHROMIUM}: run scripts/ensure-test-tools.sh (npm test runs it first) or apt-get install chromium`);
  }
  // a history: three loads as the source grows, the third one's gate failing (a stale table), then defects planted
  // in the destination and the gate alone
  for (let run = 1; run <= 3; run += 1) {
    await fx.db.query(`INSERT INTO accounts SELECT 5000 + ${run * 10} + g, 'new ' || g, NULL, now(), now() FROM generate_series(1, ${run * 3}) g`);
    if (run === 3) await fx.db.query(`UPDATE subscriptions SET updated_at = updated_at - interval '9 days'`);
    const r = await ingest('--validar-calidad-datos');
    expect(r.code, r.stderr + r.stdout).toBe(run === 3 ? 6 : 0);
  }
  await plant(
    `INSERT INTO ${DATASET}.contents SELECT * FROM ${DATASET}.contents WHERE content_id = 10`,
    `INSERT INTO ${DATASET}.content_attributes SELECT 99999999, 88888888, attribute_name, string_value, decimal_value, date_value, created_at, updated_at FROM ${DATASET}.content_attributes LIMIT 1`,
  );
  html = path.join(fx.dir, 'report.html');
  const r = await ingest('--solo-validar', '--report-html', html);
  expect(r.code, r.stderr + r.stdout).toBe(6);
  expect(r.stderr).toContain(`Report: ${html}`);

  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  page = await browser.newPage({ viewport: VIEWPORT });
  page.on('request', (req) => requests.push(req.url()));
  page.on('pageerror', (error) => pageErrors.push(error.message));
  await page.goto(pathToFileURL(html).href);
}, 240_000);

afterAll(async () => {
  await browser?.close();
});

describe('the HTML report in a real browser (headless chromium, 1280×800)', () => {
  it('shows the failing checks above the fold, with the keys of the rows to fix; screenshot taken', async () => {
    const shot = path.join(fx.dir, 'quality-report.png');
    await page.screenshot({ path: shot });
    expect(statSync(shot).size).toBeGreaterThan(10_000);
    if (process.env.INGESTA_UPDATE_SCREENSHOT === '1') {
      mkdirSync(path.dirname(DOCS_SCREENSHOT), { recursive: true });
      copyFileSync(shot, DOCS_SCREENSHOT);
    }
    const failing = page.locator('#problems tbody tr.fail');
    expect(await failing.count()).toBeGreaterThanOrEqual(3);
    for (const row of await failing.all()) {
      await expect.poll(() => row.isVisible()).toBe(true);
      const box = (await row.boundingBox())!;
      expect(box.y + box.height, `${await row.innerText()} ends at ${box.y + box.height}px`).toBeLessThanOrEqual(VIEWPORT.height);
    }
    const orphan = page.locator('#problems tr', { hasText: 'content_attributes' }).filter({ hasText: 'referential_integrity' });
    await expect.poll(() => orphan.locator('.keys code').allInnerTexts()).toContain('attribute_id=99999999 → content_id=88888888');
    expect(await page.locator('#problems tr', { hasText: 'freshness' }).filter({ hasText: 'subscriptions' }).count()).toBe(1);
    expect(await page.title()).toContain('FAILED');
  });

  it('draws the history as inline SVG charts of non-zero size: failures per run, and per table rows, loads, freshness, checks', async () => {
    const failures = page.locator('#history .failures svg');
    const box = (await failures.boundingBox())!;
    expect(box.width).toBeGreaterThan(100);
    expect(box.height).toBeGreaterThan(20);
    // four runs: three stored loads and this validation; the last two have failures (red bars)
    expect(await failures.locator('g').count()).toBe(4);
    expect(await failures.locator('rect[fill="#cf222e"]').count()).toBe(2);
    const tables = page.locator('#history table.trends tbody tr');
    expect(await tables.count()).toBe(8);
    const accounts = page.locator('#history tr[data-table="accounts"]');
    const charts = accounts.locator('svg.chart');
    expect(await charts.count()).toBe(4);
    for (const chart of await charts.all()) {
      const b = (await chart.boundingBox())!;
      expect(b.width * b.height).toBeGreaterThan(0);
    }
    // the rows line really is drawn: a polyline with a non-empty box, one dot per run, rising as the source grew
    const line = accounts.locator('svg.chart').first().locator('polyline');
    const lineBox = await line.evaluate((el) => {
      const b = (el as SVGGraphicsElement).getBBox();
      return { width: b.width, height: b.height };
    });
    expect(lineBox.width).toBeGreaterThan(100);
    const dots = await accounts.locator('svg.chart').first().locator('circle title').allTextContents();
    expect(dots.map((t) => Number(/: ([\d,]+) rows/.exec(t)![1]!.replace(/,/g, '')))).toEqual([123, 129, 138, 138]);
    // rows loaded per run: one bar per load (the validation loads nothing)
    expect(await accounts.locator('svg.chart').nth(1).locator('rect[fill="#54aeff"]').count()).toBe(3);
  });

  it('filters by status and by table with its inline script; the SQL behind a check is there, collapsed', async () => {
    const rows = page.locator('#checks tbody tr');
    const total = await rows.count();
    const passing = page.locator('#checks tbody tr[data-status="pass"]');
    expect(await passing.count()).toBeGreaterThan(10);
    expect(await passing.first().isVisible()).toBe(true);
    await page.selectOption('#filter-status', 'problems');
    for (const row of await passing.all()) expect(await row.isHidden()).toBe(true);
    const failing = page.locator('#checks tbody tr[data-status="fail"]');
    for (const row of await failing.all()) expect(await row.isVisible()).toBe(true);
    expect(await page.locator('#filter-shown').innerText()).toMatch(new RegExp(`^\\d+ of ${total} checks shown$`));
    await page.selectOption('#filter-status', 'all');
    await page.selectOption('#filter-table', 'contents');
    const visible = await rows.evaluateAll((els) => els.filter((e) => !(e as HTMLElement).hidden).map((e) => (e as HTMLElement).dataset.table));
    expect(new Set(visible)).toEqual(new Set(['contents']));
    expect(await page.locator('#history tr[data-table="accounts"]').isHidden()).toBe(true);
    // the SQL: collapsed until opened
    const sql = page.locator('#checks tr[data-table="contents"]', { hasText: 'duplicates' }).locator('details.sql');
    expect(await sql.locator('pre').isVisible()).toBe(false);
    await sql.locator('summary').click();
    expect(await sql.locator('pre').innerText()).toMatch(/GROUP BY "content_id" HAVING count\(\*\) > 1/);
    await page.selectOption('#filter-table', 'all');
  });

  it('is self-contained: nothing fetched but the file itself, no script error', async () => {
    expect(requests.filter((u) => !u.startsWith('file:'))).toEqual([]);
    expect(pageErrors).toEqual([]);
    const source = readFileSync(html, 'utf8');
    expect(source).not.toMatch(/<(script|link|img)[^>]+(src|href)=/);
    expect(source).not.toMatch(/@import|url\(/);
  });
});
