// The marketer's path through the builder, with the mouse and the keyboard only (the hook is
// read to find where things are and to check what happened): sign in, create a scenario, place
// three nodes from the palette, connect them, type an expression with an error and see it on the
// node and in the panel, fix it, save, reload and find it through the API; undo and redo; run
// the simulator for a detractor (3) and a promoter (9); a save over a version changed meanwhile
// shows the conflict with its reload choice.
import assert from 'node:assert/strict';

import * as h from './harness.mjs';

// The theme's primary button colour (web/src/theme.cpp accent()): the shell's buttons the page
// does not name in geometry() are found by it ("+ New scenario", "Load their version").
const primary = [38, 99, 217];

// Clicks a shell control: by geometry() when it names `key`, else the largest patch of the
// primary colour on screen (the only primary button there).
async function clickShell(page, key) {
    const g = await h.geometry(page);
    if (g[key]) return h.click(page, key);
    const box = await h.findColor(page, primary);
    if (!box) throw new Error(`geometry() has no "${key}" and no primary button is on screen`);
    await h.clickAt(page, box.x + box.w / 2, box.y + box.h / 2);
}

// The ids and positions the steps share (one signed-in page through the whole file).
const ctx = { page: null, id: 'browser-flow', nodes: {} };

// Signs in through the page: the key typed into the sign-in field, then Enter. The field has
// the keyboard focus when the screen appears; it is clicked first when geometry() names it.
export async function signIn(page, key) {
    await h.until(async () => (await h.state(page)).screen === 'sign_in', 'the sign-in screen');
    if ((await h.geometry(page)).sign_in_key) await h.click(page, 'sign_in_key');
    await page.keyboard.type(key, { delay: 5 });
    await h.nextFrames(page, 2);
    await h.press(page, 'Enter');
}

// The theme's text field background (web/src/theme.cpp FrameBg).
const fieldBg = [247, 249, 250];

// Puts the keyboard focus into an inspector field of the selected node: its rectangle when
// geometry() names it ("field:if"); else the `nth` text field below the id field, found by the
// fields' background colour straight down the inspector (the form's order: id, label, then the
// kind's fields). The callers check the document for what they typed.
export async function focusField(page, field, nth) {
    const g = await h.geometry(page);
    if (g[`field:${field}`]) {
        await h.click(page, `field:${field}`);
        return;
    }
    const id = await h.widget(page, 'inspector_id');
    const img = await h.screenPixels(page);
    const x = id.x + id.w * 0.6;  // right of any placeholder text, left of a picker's button
    const near = (p) => p.every((v, i) => Math.abs(v - fieldBg[i]) <= 3);
    const fields = [];
    let start = -1;
    for (let y = Math.round(id.y); y < img.height; ++y) {
        const inField = near(h.pixel(img, x, y));
        if (inField && start < 0) start = y;
        if (!inField && start >= 0) {
            if (y - start >= id.h * 0.5) fields.push({ y: start, h: y - start });
            start = -1;
        }
    }
    const f = fields[nth];
    if (!f) throw new Error(`no ${nth}th text field below the inspector's id field (found ${fields.length})`);
    await h.clickAt(page, x, f.y + f.h / 2);
}

// Types into a focused ImGui field; `replace` selects what is there first.
export async function typeText(page, text, { replace = true } = {}) {
    if (replace) {
        await h.press(page, 'Control+A');
    }
    await page.keyboard.type(text);  // ImGui takes every character queued before a frame
    await h.nextFrames(page, 2);
}

// Clicks the empty canvas (top-left corner area), which drops the focus from any text field.
async function clickBackground(page) {
    const c = await h.widget(page, 'canvas');
    await h.clickAt(page, c.x + 12, c.y + c.h - 12);
}

// Brings every node into view (the toolbar's Fit) when one is outside the canvas.
async function nodesInView(page) {
    const g = await h.geometry(page);
    const c = g.canvas;
    const out = Object.values(g.nodes).some((n) => n.x < c.x || n.y < c.y || n.x + n.w > c.x + c.w || n.y + n.h > c.y + c.h);
    if (out) await h.click(page, 'fit_button');
}

const nodeOf = (doc, id) => (doc.nodes || []).find((n) => n.id === id);

// Sets the simulator's NPS score (0-10) with one click on the slider: an integer slider's grab
// is a range step wide, so value v sits at (v + 0.5) / 11 of its width.
export async function setScore(page, score) {
    const r = await h.widget(page, 'score_slider');
    await h.clickAt(page, r.x + (r.w * (score + 0.5)) / 11, r.y + r.h / 2);
}

// Opens a tab of the right-hand panel and waits until a widget of it is on screen.
export async function openTab(page, tab, widget) {
    for (let i = 0; i < 3; ++i) {
        await h.click(page, tab);
        if ((await h.geometry(page))[widget]) return;
    }
    await h.widget(page, widget);  // fails naming what is there
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

    test('draw a scenario with the mouse, see an error on the node and in the panel, fix it, save', async () => {
        const page = ctx.page;
        assert.ok(page, 'needs the signed-in page of the previous test');
        const server = env.server();
        await h.withPage(page, 'draw', async () => {
            // A new, empty scenario from the list: its dialog takes the name (focused), Enter creates.
            await clickShell(page, 'new_scenario_button');
            await typeText(page, 'Browser flow', { replace: false });
            await h.press(page, 'Enter');
            await h.until(async () => (await h.state(page)).screen === 'editor', 'the editor for a new scenario');
            let doc = await h.hook(page, 'scenario');
            ctx.id = doc.id;
            assert.equal(doc.id, 'browser-flow', 'the id comes from the name');
            assert.equal((doc.nodes || []).length, 0, 'a new scenario starts empty');
            assert.equal((await h.api(server, 'GET', '/api/v1/scenarios/browser-flow')).status, 200, 'created on the server');
            await h.shot(page, 'new empty scenario');

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
            await h.clickAt(page, g.nodes[cond].x + g.nodes[cond].w / 2, g.nodes[cond].y + 10);
            await focusField(page, 'if', 2);
            await typeText(page, 'event.score <');
            doc = await h.hook(page, 'scenario');
            assert.equal(nodeOf(doc, cond).if, 'event.score <', 'the expression as typed');
            g = await h.geometry(page);
            assert.ok(g.nodes[cond].errors > 0, 'the node shows its error count on the canvas');
            assert.ok(g.errors.some((e) => e.node === cond && e.field === 'if'),
                      `the validation panel lists it: ${JSON.stringify(g.errors)}`);
            await h.shot(page, 'expression error on the node and in the panel');
            const hookErrors = await h.hook(page, 'errors');  // checked at the end, after the save

            // Fix it; pick the templates so the draft is a whole, valid scenario.
            await h.press(page, 'End');
            await typeText(page, ' 7', { replace: false });
            doc = await h.hook(page, 'scenario');
            assert.equal(nodeOf(doc, cond).if, 'event.score < 7');
            for (const [node, template] of [[mailLow, 'nps-apology'], [mailHigh, 'nps-promoter-review']]) {
                g = await h.geometry(page);
                await h.clickAt(page, g.nodes[node].x + g.nodes[node].w / 2, g.nodes[node].y + 10);
                await focusField(page, 'params.template', 2);
                await typeText(page, template);
                assert.equal(nodeOf(await h.hook(page, 'scenario'), node).params.template, template, `${node}'s template typed`);
            }
            await clickBackground(page);
            g = await h.geometry(page);
            assert.ok(!g.errors.some((e) => e.node === cond), `no problem left on ${cond}: ${JSON.stringify(g.errors)}`);
            const problemsLeft = g.errors.map((e) => `${e.node}.${e.field}: ${e.message}`);  // checked at the end
            await h.shot(page, 'fixed');

            // Save with Ctrl+S: the server has what was drawn.
            assert.equal((await h.state(page)).unsaved, true, 'unsaved changes are marked');
            await h.press(page, 'Control+s');
            await h.until(async () => (await h.state(page)).unsaved === false, 'the save (Ctrl+S) to finish');
            const drawn = await h.hook(page, 'scenario');
            const got = await h.api(server, 'GET', `/api/v1/scenarios/${ctx.id}`);
            assert.equal(got.status, 200, got.text);
            assert.deepEqual(got.json.nodes, drawn.nodes, 'the server has the nodes drawn');
            assert.equal(got.json.start, cond);
            await h.shot(page, 'saved');
            assert.deepEqual(problemsLeft, [], 'no problems left once the templates are picked');
            assert.ok(hookErrors.some((e) => e.node === cond && e.field === 'if'),
                      `closeloopBuilder.errors() has the error on ${cond}.if shown then: ${JSON.stringify(hookErrors)}`);
        });
    });

    test('undo and redo an edit with Ctrl+Z and Ctrl+Shift+Z', async () => {
        const page = ctx.page;
        await h.withPage(page, 'undo', async () => {
            await nodesInView(page);
            const before = await h.hook(page, 'scenario');
            // An edit with the mouse: move the second e-mail node down by 80 pixels.
            const g = await h.geometry(page);
            const n = g.nodes[ctx.nodes.mailHigh];
            await h.drag(page, { x: n.x + n.w / 2, y: n.y + 10 }, { x: n.x + n.w / 2, y: n.y + 90 });
            const after = await h.hook(page, 'scenario');
            assert.notDeepEqual(after.ui, before.ui, 'the move changed the positions');
            await clickBackground(page);
            await h.press(page, 'Control+z');
            assert.deepEqual(await h.hook(page, 'scenario'), before, 'Ctrl+Z undoes the move');
            await h.press(page, 'Control+Shift+z');
            assert.deepEqual(await h.hook(page, 'scenario'), after, 'Ctrl+Shift+Z redoes it');
            await h.shot(page, 'after undo and redo');
        });
    });

    test('the simulator runs the drawn flow for scores 3 and 9', async () => {
        const page = ctx.page;
        await h.withPage(page, 'simulator', async () => {
            await openTab(page, 'simulator_tab', 'score_slider');
            const { cond, mailLow, mailHigh } = ctx.nodes;
            for (const [score, mail] of [[3, mailLow], [9, mailHigh]]) {
                await setScore(page, score);
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
            await openTab(page, 'inspector_tab', 'inspector');
        });
    });

    test('a save over a version changed meanwhile shows the conflict; loading theirs takes it', async () => {
        const page = ctx.page;
        const server = env.server();
        await h.withPage(page, 'conflict', async () => {
            // Someone else saves a new version through the API.
            const cur = await h.api(server, 'GET', `/api/v1/scenarios/${ctx.id}`);
            const put = await h.api(server, 'PUT', `/api/v1/scenarios/${ctx.id}`, { ...cur.json, name: 'Changed through the API' });
            assert.equal(put.status, 200, put.text);
            // An edit here, then save: the server answers 412 and the page asks what to keep.
            await nodesInView(page);
            const g = await h.geometry(page);
            const n = g.nodes[ctx.nodes.mailLow];
            await h.drag(page, { x: n.x + n.w / 2, y: n.y + 10 }, { x: n.x + n.w / 2 + 40, y: n.y + 10 });
            await h.press(page, 'Control+s');
            await h.until(async () => (await h.state(page)).conflict === true, 'the conflict dialog after saving a stale version');
            await h.nextFrames(page, 3);
            await h.shot(page, 'conflict dialog');
            await clickShell(page, 'conflict_load_theirs');
            await h.until(async () => (await h.hook(page, 'scenario')).name === 'Changed through the API',
                          'the server version after "Load their version"');
            const s = await h.state(page);
            assert.equal(s.conflict, false);
            assert.equal(s.unsaved, false);
        });
    });

    test('activate in the page; an NPS answer posted to the server then runs the drawn flow', async () => {
        const page = ctx.page;
        const server = env.server();
        await h.withPage(page, 'activate', async () => {
            assert.equal((await h.state(page)).status, 'draft');
            await clickShell(page, 'lifecycle_button');
            await h.until(async () => (await h.state(page)).status === 'active', 'the scenario to be active after Activate');
            const got = await h.api(server, 'GET', `/api/v1/scenarios/${ctx.id}`);
            assert.equal(got.json.status, 'active', 'active on the server');
            await h.nextFrames(page, 3);
            await h.shot(page, 'activated');
            // The server, not the page, now reacts to an answer: the same path the simulator showed.
            const post = await h.api(server, 'POST', '/api/v1/events', {
                id: 'browser-nps-1', type: 'nps_response', contact: { id: 'browser-c1', email: 'c1@example.cz', locale: 'cs' },
                data: { score: 3, comment: 'Doprava trvala 3 týdny.' },
            });
            assert.ok(post.status === 202 || post.status === 200, post.text);
            const runs = await h.until(async () => {
                const r = await h.api(server, 'GET', `/api/v1/runs?scenario=${ctx.id}&contact=browser-c1`);
                return r.json && r.json.runs && r.json.runs.length && r.json.runs;
            }, 'a run of the activated scenario for the posted answer', { timeout: 15000 });
            const { cond, mailLow } = ctx.nodes;
            assert.deepEqual(runs[0].path, [cond, mailLow], JSON.stringify(runs[0]));
        });
    });

    test('reload the page: still signed in, the scenario found through the API', async () => {
        const page = ctx.page;
        const server = env.server();
        await h.withPage(page, 'reload', async () => {
            const shown = await h.hook(page, 'scenario');
            await page.reload({ waitUntil: 'domcontentloaded' });
            await h.waitReady(page);
            await h.until(async () => (await h.state(page)).signed_in === true, 'the session to survive a reload');
            const got = await h.api(server, 'GET', `/api/v1/scenarios/${ctx.id}`);
            assert.equal(got.status, 200, got.text);
            assert.deepEqual(got.json.nodes, shown.nodes, 'the server has the scenario as the page showed it');
            assert.equal(nodeOf(got.json, ctx.nodes.cond).if, 'event.score < 7');
            await h.shot(page, 'reloaded');
        });
    });
}
