// closeloop browser tests: `node tests/browser/run.mjs` (ctest's `browser` test in the native
// preset runs it). One `closeloop serve` and one Chromium for the whole suite, so it stays
// within a few minutes on two cores; screenshots of each step go to build/browser-screens/.
//
// Arguments: names of test files to run (e.g. `simulate`); none = all. Environment:
// CLOSELOOP_BIN, CHROMIUM, CLOSELOOP_SCREENS, CLOSELOOP_KEEP_DATA (see harness.mjs).
import { after, before, test } from 'node:test';

import { signIn } from './builder.test.mjs';
import * as h from './harness.mjs';

const files = ['builder', 'signin', 'simulate', 'preview'];
const only = process.argv.slice(2);

// A hard limit under ctest's timeout, so the server and the browser are always stopped by us.
const limitMs = Number(process.env.CLOSELOOP_BROWSER_LIMIT_MS || 270000);
setTimeout(() => {
    console.error(`browser tests: over the ${limitMs / 1000} s limit; stopping`);
    h.cleanupAll().finally(() => process.exit(1));
}, limitMs).unref();

let server = null, browser = null, hookPage = null, signedIn = null;
const env = {
    server: () => server,
    browser: () => browser,
    hebrewTemplate: 'browser-hebrew',
    // A page signed in through the sign-in screen (the builder tests do it first and check it).
    async signedInPage(opened) {
        if (!signedIn) {
            let page = opened;
            if (!page) {
                ({ page } = await h.newPage(browser));
                await h.openApp(page, server.url);
            }
            await signIn(page, server.key);
            await h.until(async () => (await h.state(page)).signed_in === true, 'signing in');
            signedIn = page;
        }
        return signedIn;
    },
    // A page with the builder loaded and not signed in: enough for the hook's simulate().
    async hookPage() {
        if (!hookPage) {
            ({ page: hookPage } = await h.newPage(browser));
            await h.openApp(hookPage, server.url);
        }
        return hookPage;
    },
};

before(async () => {
    await h.checkPrerequisites();
    h.resetScreens();
    server = await h.startServer();
    await seed(server);
    browser = await h.launchBrowser();
});

// What a marketer's workspace has before drawing: the shipped templates and voucher campaigns,
// and one template with a Hebrew locale (for the right-to-left preview).
async function seed(server) {
    const hebrew = {
        id: env.hebrewTemplate, name: 'Hebrew apology', fallback_locale: 'en', from: 'Wylde <care@wylde.example>',
        locales: {
            en: { subject: 'We are sorry, {{contact.first_name}}', html: '<p>Dear {{contact.first_name}}, we are sorry.</p>',
                  text: 'Dear {{contact.first_name}}, we are sorry.' },
            he: { subject: 'אנחנו מצטערים, {{contact.first_name}}',
                  html: '<h1>שלום {{contact.first_name}},</h1><p>תודה על המשוב שלך (ציון {{event.score}}). אנחנו מצטערים שהחוויה לא הייתה טובה, ונחזור אליך תוך יום עבודה אחד.</p><p>צוות Wylde</p>',
                  text: 'שלום {{contact.first_name}}, תודה על המשוב שלך.' },
        },
    };
    for (const t of [...h.templates(), hebrew]) {
        const r = await h.api(server, 'POST', '/api/v1/templates', t);
        if (r.status !== 201 && r.status !== 200) throw new Error(`seeding template ${t.id}: ${r.status} ${r.text}`);
    }
    for (const c of h.readJson(`${h.assets}/campaigns.json`)) {
        const r = await h.api(server, 'POST', '/api/v1/voucher-campaigns', c);
        if (r.status !== 201 && r.status !== 200) throw new Error(`seeding campaign ${c.id}: ${r.status} ${r.text}`);
    }
}
after(() => h.cleanupAll());

for (const name of files) {
    if (only.length && !only.includes(name)) continue;
    const mod = await import(`./${name}.test.mjs`);
    mod.default({ test: (title, fn) => test(title, { timeout: 150000 }, fn), env });
}
