// The e-mail preview beside the canvas, as the customer will see it: Czech (diacritics) and
// Hebrew (right to left), rendered by the core in the page and shown in a sandboxed iframe.
import assert from 'node:assert/strict';

import { openTab, runSimulator } from './builder.test.mjs';
import * as h from './harness.mjs';

// The order of the simulator's locale combo (simulator_panel.cpp).
const locales = ['cs', 'en', 'pl', 'he'];

// Opens the locale combo and clicks the item for `locale`: the popup lists one row per locale
// right under the combo, each a line of text high.
async function setLocale(page, locale) {
    const combo = await h.widget(page, 'locale_combo');
    await h.click(page, 'locale_combo');
    const line = combo.h - 6 + 4;  // the frame without its padding, plus the item spacing
    const i = locales.indexOf(locale);
    await h.clickAt(page, combo.x + combo.w / 3, combo.y + combo.h + 8 + i * line + line / 2 - 2);
}

// The preview iframe's document: its text and direction.
async function previewDocument(page) {
    return h.until(async () => {
        for (const f of page.frames()) {
            if (f === page.mainFrame()) continue;
            const d = await f.evaluate(() => ({
                text: document.body ? document.body.innerText : '',
                dir: document.documentElement.dir || (document.body && document.body.dir) || getComputedStyle(document.body).direction,
            })).catch(() => null);
            if (d && d.text.trim()) return d;
        }
        return null;
    }, 'the e-mail preview iframe');
}

const scenario = (template) => ({
    id: 'browser-preview', name: 'Preview', status: 'draft',
    trigger: { event: 'nps_response' }, reentry: { policy: 'always' }, start: 'mail',
    nodes: [{ id: 'mail', type: 'action', action: 'send_email', params: { template }, next: null }],
});

export default function register({ test, env }) {
    test('the e-mail preview in Czech and in Hebrew', async () => {
        const page = await env.signedInPage();
        await h.withPage(page, 'preview', async () => {
            for (const [locale, template, expect] of [
                ['cs', 'nps-apology', /Omlouváme se/],
                ['he', env.hebrewTemplate, /[\u0590-\u05FF]/],
            ]) {
                await h.hook(page, 'loadScenario', scenario(template));
                await h.nextFrames(page, 2);
                await openTab(page, 'simulator_tab', 'locale_combo');
                await setLocale(page, locale);
                const runs = await runSimulator(page);
                assert.deepEqual(runs[0].path, ['mail'], JSON.stringify(runs));
                const d = await h.until(async () => {
                    const d = await previewDocument(page);
                    return expect.test(d.text) && d;
                }, `the ${locale} e-mail in the preview`);
                if (locale === 'he') assert.equal(d.dir, 'rtl', 'Hebrew is laid out right to left');
                else assert.notEqual(d.dir, 'rtl');
                // The e-mail's HTML runs no script: the frame is sandboxed without allow-scripts.
                const sandbox = await page.evaluate(() => [...document.querySelectorAll('iframe')].map((f) => f.getAttribute('sandbox')));
                assert.ok(sandbox.length && sandbox.every((v) => v !== null && !v.includes('allow-scripts')),
                          `the preview iframe is sandboxed without scripts: ${JSON.stringify(sandbox)}`);
                await page.waitForTimeout(500);  // the frame paints after its document loads
                await h.nextFrames(page, 2);
                await h.shot(page, `e-mail preview ${locale}`);
                // On screen, not only in the DOM: the frame's pixels are not all blank.
                const frame = h.pngPixels(await (await page.$('iframe')).screenshot());
                let inked = 0;
                for (let i = 0; i < frame.data.length; i += frame.channels)
                    if (frame.data[i] < 200 || frame.data[i + 1] < 200 || frame.data[i + 2] < 200) ++inked;
                assert.ok(inked > 500, `the ${locale} e-mail is painted in the preview (${inked} dark pixels; ` +
                                       'seen blank when the preview was hidden by opening another scenario, then shown again)');
            }
        });
    });
}
