// Sign-in failures the marketer must understand: a wrong key says so and keeps the sign-in
// screen (no session); the key is never kept by the page.
import assert from 'node:assert/strict';

import { signIn } from './builder.test.mjs';
import * as h from './harness.mjs';

export default function register({ test, env }) {
    test('a wrong key shows an error and no session', async () => {
        const { page, context } = await h.newPage(env.browser());
        await h.withPage(page, 'wrong-key', async () => {
            await h.openApp(page, env.server().url);
            await signIn(page, 'sk_wrong_' + 'x'.repeat(40));
            const s = await h.until(async () => {
                const s = await h.state(page);
                return s.message && s;
            }, 'a message after a wrong key');
            assert.equal(s.signed_in, false);
            assert.equal(s.screen, 'sign_in');
            assert.match(s.message, /key/i, 'the message speaks of the key');
            await h.shot(page, 'wrong key message');
            const me = await page.evaluate(async () => (await fetch('/api/v1/session')).status);
            assert.notEqual(me, 200, 'no session after a wrong key');
        });
        await context.close();
    });
}
