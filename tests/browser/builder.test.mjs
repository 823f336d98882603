// The marketer's path through the builder, with the mouse and the keyboard only (the hook is
// read to find where things are and to check what happened): sign in, create a scenario, place
// three nodes from the palette, connect them, type an expression with an error and see it on the
// node and in the panel, fix it, save, reload and find it through the API; undo and redo; run
// the simulator for a detractor (3) and a promoter (9); a save over a version changed meanwhile
// shows the conflict with its reload choice.
import assert from 'node:assert/strict';

import * as h from './harness.mjs';

// The ids and positions the steps share (one signed-in page through the whole file).
const ctx = { page: null, id: 'browser-flow', nodes: {} };

// Signs in through the page: the key typed into the sign-in field, then Enter. The field has
// the keyboard focus when the screen appears; it is clicked first when geometry() names it.
export async function signIn(page, key) {
    await h.until(async () => (await h.state(page)).screen === 'sign_in', 'the sign-in screen');
    if ((await h.geometry(page)).sign_in_key) await h.click(page, 'sign_in_key');
    await page.keyboard.type(key, { delay: 5 });
    await h.nextFrames(page, 2);
    await page.keyboard.press('Enter');
    await h.nextFrames(page, 2);
}

// Puts the keyboard focus into an inspector field of the selected node: its rectangle when
// geometry() names it ("field:if"), else by Tab from the id field (ImGui's tab order is the
// form's order: id, label, then the kind's fields; `tabs` is the field's place after id).
export async function focusField(page, field, tabs) {
    const g = await h.geometry(page);
    if (g[`field:${field}`]) {
        await h.click(page, `field:${field}`);
        return;
    }
    await h.click(page, 'inspector_id');
    for (let i = 0; i < tabs; ++i) {
        await page.keyboard.press('Tab');
        await h.nextFrames(page, 1);
    }
}

// Types into a focused ImGui field, one character a frame (ImGui takes queued characters each
// frame); `replace` selects what is there first.
export async function typeText(page, text, { replace = true } = {}) {
    if (replace) {
        await page.keyboard.press('Control+A');
        await h.nextFrames(page, 1);
    }
    for (const ch of text) {
        await page.keyboard.type(ch);
        await h.nextFrames(page, 1);
    }
    await h.nextFrames(page, 2);
}

// Clicks the empty canvas (top-left corner area), which drops the focus from any text field.
async function clickBackground(page) {
    const c = await h.widget(page, 'canvas');
    await page.mouse.click(c.x + 12, c.y + c.h - 12);
    await h.nextFrames(page, 2);
}

const nodeOf = (doc, id) => (doc.nodes || []).find((n) => n.id === id);

// Sets the simulator's NPS score (0-10) with one click on the slider: an integer slider's grab
// is a range step wide, so value v sits at (v + 0.5) / 11 of its width.
export async function setScore(page, score) {
    const r = await h.widget(page, 'score_slider');
    await page.mouse.click(r.x + (r.w * (score + 0.5)) / 11, r.y + r.h / 2);
    await h.nextFrames(page, 2);
}

export async function runSimulator(page) {
    await h.click(page, 'simulate_button');
    return h.until(async () => {
        const r = await h.hook(page, 'lastSimulation');
        return Array.isArray(r) && r;
    }, 'the simulator to show a result');
}

export default function register({ test, env }) {
    test('sign in through the page', async () => {
        const server = env.server();
        const { page } = await h.newPage(env.browser());
        await h.withPage(page, 'sign-in', async () => {
            await h.openApp(page, server.url);
            await h.shot(page, 'sign-in screen');
            ctx.page = await env.signedInPage(page);
            const s = await h.until(async () => {
                const s = await h.state(page);
                return s.signed_in && s.screen === 'list' && s;
            }, 'the scenario list after signing in');
            assert.equal(s.signed_in, true);
            // The key is not kept by the page (the session is an HttpOnly cookie).
            const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + document.cookie);
            assert.ok(!stored.includes(server.key), 'the admin key is stored in the page');
            await h.shot(page, 'signed in, scenario list');
        });
    });

    test('draw a scenario with the mouse, see an error, fix it, save, reload, find it through the API', async () => {
        const page = ctx.page;
        assert.ok(page, 'needs the signed-in page of the previous test');
        const server = env.server();
        await h.withPage(page, 'draw', async () => {
            // A new, empty scenario from the list: its dialog takes the name (focused), Enter creates.
            await h.click(page, 'new_scenario_button');
            await typeText(page, 'Browser flow', { replace: false });
            await page.keyboard.press('Enter');
            await h.until(async () => (await h.state(page)).screen === 'editor', 'the editor for a new scenario');
            let doc = await h.hook(page, 'scenario');
            ctx.id = doc.id;
            assert.equal(doc.id, 'browser-flow', 'the id comes from the name');
            assert.equal((await h.api(server, 'GET', '/api/v1/scenarios/browser-flow')).status, 200, 'created on the server');
            assert.equal((doc.nodes || []).length, 0, 'a new scenario starts empty');

            // Three nodes dragged from the palette onto the canvas.
            const canvas = await h.widget(page, 'canvas');
            const g0 = await h.geometry(page);
            const drops = [
                ['condition', { x: canvas.x + canvas.w * 0.15, y: canvas.y + canvas.h * 0.35 }],
                ['send_email', { x: canvas.x + canvas.w * 0.6, y: canvas.y + canvas.h * 0.2 }],
                ['send_email', { x: canvas.x + canvas.w * 0.6, y: canvas.y + canvas.h * 0.65 }],
            ];
            for (const [kind, at] of drops) {
                assert.ok(g0.palette[kind], `the palette has no ${kind}: ${Object.keys(g0.palette).join(', ')}`);
                await h.drag(page, h.center(g0.palette[kind]), at);
            }
            doc = await h.hook(page, 'scenario');
            assert.deepEqual(doc.nodes.map((n) => n.action || n.type), ['condition', 'send_email', 'send_email'],
                             'three nodes placed from the palette');
            const [cond, mailLow, mailHigh] = doc.nodes.map((n) => n.id);
            Object.assign(ctx.nodes, { cond, mailLow, mailHigh });
            assert.equal(doc.start, cond, 'the first node placed is the start');
            await h.shot(page, 'three nodes placed');

            // Connect: drag from the condition's output ports to the two e-mail nodes.
            let g = await h.geometry(page);
            await h.drag(page, g.nodes[cond].ports.then, h.center(g.nodes[mailLow]));
            g = await h.geometry(page);
            await h.drag(page, g.nodes[cond].ports.else, h.center(g.nodes[mailHigh]));
            doc = await h.hook(page, 'scenario');
            assert.equal(nodeOf(doc, cond).then, mailLow, 'then -> the first e-mail');
            assert.equal(nodeOf(doc, cond).else, mailHigh, 'else -> the second e-mail');
            await h.shot(page, 'nodes connected');

            // Select the condition (click its header) and type an unfinished expression.
            g = await h.geometry(page);
            await page.mouse.click(g.nodes[cond].x + g.nodes[cond].w / 2, g.nodes[cond].y + 10);
            await h.nextFrames(page, 2);
            await focusField(page, 'if', 2);
            await typeText(page, 'event.score <');
            doc = await h.hook(page, 'scenario');
            assert.equal(nodeOf(doc, cond).if, 'event.score <', 'the expression as typed');
            const errors = await h.hook(page, 'errors');
            const ifError = errors.find((e) => e.node === cond && e.field === 'if');
            assert.ok(ifError, `an error on ${cond}.if; errors(): ${JSON.stringify(errors)}`);
            g = await h.geometry(page);
            assert.ok(g.nodes[cond].errors > 0, 'the node shows its error count on the canvas');
            assert.ok(g.errors.some((e) => e.node === cond && e.field === 'if'),
                      `the validation panel lists it: ${JSON.stringify(g.errors)}`);
            await h.shot(page, 'expression error on the node and in the panel');

            // Fix it; pick the templates so the draft is a whole, valid scenario.
            await page.keyboard.press('End');
            await typeText(page, ' 7', { replace: false });
            doc = await h.hook(page, 'scenario');
            assert.equal(nodeOf(doc, cond).if, 'event.score < 7');
            for (const [node, template] of [[mailLow, 'nps-apology'], [mailHigh, 'nps-promoter-review']]) {
                g = await h.geometry(page);
                await page.mouse.click(g.nodes[node].x + g.nodes[node].w / 2, g.nodes[node].y + 10);
                await h.nextFrames(page, 2);
                await focusField(page, 'params.template', 2);
                await typeText(page, template);
            }
            await clickBackground(page);
            const left = await h.hook(page, 'errors');
            assert.ok(!left.some((e) => e.node === cond && e.field === 'if'), `the if error is gone: ${JSON.stringify(left)}`);
            await h.shot(page, 'fixed');

            // Save, then reload the page: still signed in, and the server has what was drawn.
            assert.equal((await h.state(page)).unsaved, true, 'unsaved changes are marked');
            await clickBackground(page);
            await page.keyboard.press('Control+s');
            await h.until(async () => (await h.state(page)).unsaved === false, 'the save (Ctrl+S) to finish');
            const drawn = await h.hook(page, 'scenario');
            await page.reload({ waitUntil: 'domcontentloaded' });
            await h.waitReady(page);
            await h.until(async () => (await h.state(page)).signed_in === true, 'the session to survive a reload');
            const got = await h.api(server, 'GET', `/api/v1/scenarios/${encodeURIComponent(ctx.id)}`);
            assert.equal(got.status, 200, got.text);
            assert.deepEqual(got.json.nodes, drawn.nodes, 'the server has the nodes drawn');
            assert.equal(got.json.start, cond);
            assert.deepEqual(got.json.errors || [], [], 'the saved scenario validates');
            await h.shot(page, 'reloaded');
        });
    });

    test('undo and redo an edit with Ctrl+Z and Ctrl+Shift+Z', async () => {
        const page = ctx.page;
        await h.withPage(page, 'undo', async () => {
            await openInEditor(page, ctx.id);
            const before = await h.hook(page, 'scenario');
            // An edit with the mouse: move the second e-mail node down by 80 pixels.
            const g = await h.geometry(page);
            const n = g.nodes[ctx.nodes.mailHigh];
            await h.drag(page, { x: n.x + n.w / 2, y: n.y + 10 }, { x: n.x + n.w / 2, y: n.y + 90 });
            const after = await h.hook(page, 'scenario');
            assert.notDeepEqual(after.ui, before.ui, 'the move changed the positions');
            await clickBackground(page);
            await page.keyboard.press('Control+z');
            await h.nextFrames(page, 2);
            assert.deepEqual(await h.hook(page, 'scenario'), before, 'Ctrl+Z undoes the move');
            await page.keyboard.press('Control+Shift+z');
            await h.nextFrames(page, 2);
            assert.deepEqual(await h.hook(page, 'scenario'), after, 'Ctrl+Shift+Z redoes it');
            await h.shot(page, 'after undo and redo');
        });
    });

    test('the simulator runs the drawn flow for scores 3 and 9', async () => {
        const page = ctx.page;
        await h.withPage(page, 'simulator', async () => {
            await h.click(page, 'simulator_tab');
            const { cond, mailLow, mailHigh } = ctx.nodes;
            for (const [score, mail] of [[3, mailLow], [9, mailHigh]]) {
                await setScore(page, score);
                await h.hook(page, 'lastSimulation');  // the previous result, replaced by the run below
                await h.click(page, 'simulate_button');
                const runs = await h.until(async () => {
                    const r = await h.hook(page, 'lastSimulation');
                    return Array.isArray(r) && r.length && r[0].path && r[0].path.includes(mail) && r;
                }, `the path through ${mail} for score ${score}`);
                assert.deepEqual(runs[0].path, [cond, mail], `score ${score}`);
                assert.equal(runs[0].entered, true);
                assert.ok(runs[0].effects.some((e) => e.kind === 'send_email'), 'an e-mail effect');
                await h.shot(page, `simulator score ${score}`);
            }
        });
    });

    test('a save over a version changed meanwhile shows the conflict and its reload choice', async () => {
        const page = ctx.page;
        const server = env.server();
        await h.withPage(page, 'conflict', async () => {
            await openInEditor(page, ctx.id);
            // Someone else saves a new version through the API.
            const cur = await h.api(server, 'GET', `/api/v1/scenarios/${ctx.id}`);
            const changed = { ...cur.json, name: 'Changed through the API' };
            const put = await h.api(server, 'PUT', `/api/v1/scenarios/${ctx.id}`, changed);
            assert.equal(put.status, 200, put.text);
            // An edit here, then save: the server answers 412 and the page offers to reload.
            const g = await h.geometry(page);
            const n = g.nodes[ctx.nodes.mailLow];
            await h.drag(page, { x: n.x + n.w / 2, y: n.y + 10 }, { x: n.x + n.w / 2 + 40, y: n.y + 10 });
            await page.keyboard.press('Control+s');
            const s = await h.until(async () => {
                const s = await h.state(page);
                return s.conflict && s;
            }, 'the conflict message after saving a stale version');
            await h.shot(page, 'conflict with reload choice');
            // The choice is on screen; loading theirs takes the server's version.
            await h.click(page, 'conflict_load_theirs');
            await h.until(async () => (await h.hook(page, 'scenario')).name === 'Changed through the API',
                          'the server version after choosing reload');
            assert.equal((await h.state(page)).unsaved, false);
            void s;
        });
    });
}

// Opens a scenario of the list in the editor (its row's Open button), unless it is open.
async function openInEditor(page, id) {
    const s = await h.state(page);
    if (s.screen === 'editor' && s.scenario === id) return;
    await h.click(page, `open:${id}`);
    await h.until(async () => {
        const s = await h.state(page);
        return s.screen === 'editor' && s.scenario === id;
    }, `the editor with ${id}`);
    await h.nextFrames(page, 2);
}
