// The simulator in the page is the same engine as `closeloop simulate`: for every shipped
// example scenario and every sample event (with its sample contact, the sample history and the
// voucher campaigns; the templates too when the CLI takes them), the hook's simulate() returns
// exactly the JSON array of runs the CLI prints as lines, with and without fast-forward.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import * as h from './harness.mjs';

export default function register({ test, env }) {
    test('the simulator in the page equals closeloop simulate for every shipped example', async () => {
        const page = await env.hookPage();
        await h.withPage(page, 'simulate-equals-cli', async () => {
            const samples = path.join(h.assets, 'samples');
            const contacts = h.readLines(path.join(samples, 'contacts.jsonl'));
            const events = h.readLines(path.join(samples, 'events.jsonl'));
            const history = h.readLines(path.join(samples, 'history.jsonl'));
            const campaignsFile = path.join(h.assets, 'campaigns.json');
            const campaigns = h.readJson(campaignsFile);
            // Rendered e-mails are compared too once the CLI can render them (--templates).
            const withTemplates = h.cliSupports('--templates');
            const templates = withTemplates ? h.templates() : undefined;

            const tmp = fs.mkdtempSync(path.join(env.server().dir, 'sim-'));
            let compared = 0, entered = 0, withEffects = 0;
            for (const scenarioFile of h.exampleScenarios()) {
                const scenario = h.readJson(scenarioFile);
                for (const fastForward of [false, true]) {
                    const cases = [];
                    for (const event of events) {
                        const id = typeof event.contact === 'string' ? event.contact : event.contact.id;
                        const contact = contacts.find((c) => c.id === id) || { id };
                        const eventFile = path.join(tmp, `${event.id}.jsonl`);
                        fs.writeFileSync(eventFile, JSON.stringify(event) + '\n');
                        const contactFile = path.join(tmp, `${event.id}-contact.jsonl`);
                        fs.writeFileSync(contactFile, JSON.stringify(contact) + '\n');
                        const args = ['--scenario', scenarioFile, '--events', eventFile, '--contacts', contactFile,
                                      '--history', path.join(samples, 'history.jsonl'), '--campaigns', campaignsFile];
                        if (fastForward) args.push('--fast-forward');
                        if (withTemplates) args.push('--templates', path.join(h.assets, 'templates'));
                        cases.push({ event, contact, cli: h.simulateCli(args) });
                    }
                    const options = { history, campaigns, fast_forward: fastForward };
                    if (templates) options.templates = templates;
                    const inPage = await page.evaluate(
                        ({ scenario, cases, options }) =>
                            cases.map((c) => {
                                try {
                                    return window.closeloopBuilder.simulate(scenario, c.contact, c.event, options);
                                } catch (e) {
                                    return { thrown: String(e.message || e) };
                                }
                            }),
                        { scenario, cases: cases.map(({ event, contact }) => ({ event, contact })), options }
                    );
                    cases.forEach((c, i) => {
                        const where = `${path.basename(scenarioFile)}, event ${c.event.id}` +
                                      (fastForward ? ', fast-forward' : '');
                        assert.ok(Array.isArray(inPage[i]), `${where}: simulate() gave ${JSON.stringify(inPage[i])}`);
                        assert.deepStrictEqual(inPage[i], c.cli, `${where}: the page and the CLI differ`);
                        compared += 1;
                        entered += c.cli.filter((r) => r.entered).length;
                        withEffects += c.cli.filter((r) => r.effects && r.effects.length).length;
                    });
                }
            }
            // Not a comparison of empty arrays: the samples enter the examples and do things.
            assert.ok(compared >= 8 * 14 * 2, `only ${compared} cases compared`);
            assert.ok(entered > 20 && withEffects > 10, `only ${entered} runs entered, ${withEffects} with effects`);
            console.log(`# simulate: ${compared} cases equal (${entered} runs entered, ${withEffects} with effects` +
                        `${withTemplates ? ', e-mails rendered' : ''})`);
        });
    });
}
