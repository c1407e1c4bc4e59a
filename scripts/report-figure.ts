/**
 * The README's picture of a report's mean decision maps, cut from the report itself in headless
 * Chromium (the file opens from disk; nothing is redrawn here).
 *
 *   npx tsx scripts/report-figure.ts report.html docs/report-maps.png [--full]
 *
 * --full: the whole page instead (for looking at a report).
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { launchChromium } from '../tests/support/browser.ts';

const [input, output] = process.argv.slice(2).filter((a) => !a.startsWith('--'));
if (!input || !output) throw new Error('usage: report-figure.ts REPORT.html OUT.png [--full]');
const browser = await launchChromium();
try {
  const page = await browser.newPage({ viewport: { width: 1180, height: 900 }, deviceScaleFactor: 1 });
  await page.goto(pathToFileURL(resolve(input)).href);
  if (process.argv.includes('--full')) {
    await page.screenshot({ path: output, fullPage: true });
  } else {
    // Every patch model's four maps and their legend, stacked, as one picture.
    await page.addStyleTag({
      content: 'section > :not(h2):not(.maps):not(.legend) { display: none !important; } #metrics, #agreement { display: none; }',
    });
    const sections = page.locator('section:has(.maps)');
    const boxes = await sections.evaluateAll((els) =>
      els.map((el) => {
        const r = el.getBoundingClientRect();
        return { x: r.x, y: r.y + window.scrollY, width: r.width, height: r.height };
      }),
    );
    if (!boxes.length) throw new Error(`${input} has no mean decision maps`);
    const top = Math.min(...boxes.map((b) => b.y));
    const bottom = Math.max(...boxes.map((b) => b.y + b.height));
    await page.screenshot({ path: output, clip: { x: boxes[0].x, y: top, width: boxes[0].width, height: bottom - top }, fullPage: true });
  }
  process.stderr.write(`wrote ${output}\n`);
} finally {
  await browser.close();
}
