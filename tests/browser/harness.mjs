// closeloop browser tests — the harness: a real `closeloop serve` on a free loopback port with a
// fresh data folder, Debian's Chromium driven by playwright-core, screenshots of each step, and
// small helpers for the builder's test hook (window.closeloopBuilder, docs/CONTRACT.md part 2).
//
// Paths do not depend on the build: the repository is two folders up, the binary is the native
// preset's (CLOSELOOP_BIN overrides it), the browser is /usr/bin/chromium (CHROMIUM overrides).
// Everything started here is stopped when the process exits, even on a failure.
//
// Sections: paths, prerequisites, server, browser, steps and screenshots, the hook, API, CLI.
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';

// ---- paths ---------------------------------------------------------------------------------

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const bin = process.env.CLOSELOOP_BIN || path.join(root, 'build/native/server/closeloop');
export const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
export const screensDir = process.env.CLOSELOOP_SCREENS || path.join(root, 'build/browser-screens');
export const assets = path.join(root, 'assets');

// ---- prerequisites -------------------------------------------------------------------------

// Every missing part is named with the command that provides it: nothing is skipped silently.
export async function checkPrerequisites() {
    const problems = [];
    if (!fs.existsSync(bin)) {
        problems.push(`no closeloop binary at ${bin}: build it with ` +
                      '`cmake --preset wasm && cmake --build --preset wasm && cmake --preset native && cmake --build --preset native` ' +
                      '(the builder is embedded into it, so the wasm preset comes first), or run `bash ci/test.sh`');
    }
    if (!fs.existsSync(chromiumPath)) {
        problems.push(`no Chromium at ${chromiumPath}: install Debian's package (\`apt-get install chromium\`, ci/setup.sh does it)`);
    }
    try {
        await import('playwright-core');
    } catch {
        problems.push('npm package playwright-core is missing: run `npm ci` in tests/browser (ci/setup.sh does it)');
    }
    if (problems.length) throw new Error('the browser tests cannot run:\n  - ' + problems.join('\n  - '));
}

// ---- cleanup -------------------------------------------------------------------------------

const cleanups = [];
export function onExit(fn) {
    cleanups.push(fn);
}
export async function cleanupAll() {
    while (cleanups.length) {
        const fn = cleanups.pop();
        try {
            await fn();
        } catch (e) {
            console.error('cleanup:', e.message);
        }
    }
}
// Children still alive when the process ends are killed at once (synchronous handlers only).
const children = new Set();
process.on('exit', () => {
    for (const c of children) {
        try {
            c.kill('SIGKILL');
        } catch {}
    }
});
for (const sig of ['SIGINT', 'SIGTERM']) {
    process.on(sig, () => {
        cleanupAll().finally(() => process.exit(130));
    });
}

// ---- server --------------------------------------------------------------------------------

export function freePort() {
    return new Promise((resolve, reject) => {
        const s = net.createServer();
        s.unref();
        s.on('error', reject);
        s.listen(0, '127.0.0.1', () => {
            const { port } = s.address();
            s.close(() => resolve(port));
        });
    });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls `fn` until it returns a truthy value; fails naming `what` and the last value seen.
export async function until(fn, what, { timeout = 10000, interval = 50 } = {}) {
    const end = Date.now() + timeout;
    let last;
    for (;;) {
        try {
            last = await fn();
            if (last) return last;
        } catch (e) {
            last = e;
        }
        if (Date.now() > end) {
            const seen = last instanceof Error ? last.message : JSON.stringify(last);
            throw new Error(`timed out after ${timeout} ms waiting for ${what} (last: ${String(seen).slice(0, 400)})`);
        }
        await sleep(interval);
    }
}

// Starts `closeloop serve` on a free port in a fresh temp folder, with a known admin key, and
// waits for /healthz. Its output is kept and shown when it fails.
export async function startServer() {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'closeloop-browser-'));
    const key = 'sk_test_' + crypto.randomBytes(18).toString('hex');
    const port = await freePort();
    const args = ['serve', '--data', path.join(dir, 'data'), '--port', String(port), '--rfm-interval', '0', '--threads', '8'];
    const proc = spawn(bin, args, {
        cwd: dir,
        env: { ...process.env, CLOSELOOP_BOOTSTRAP_KEY: key },
        stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(proc);
    let output = '';
    proc.stdout.on('data', (d) => (output += d));
    proc.stderr.on('data', (d) => (output += d));
    let exited = null;
    proc.on('exit', (code, signal) => {
        exited = { code, signal };
        children.delete(proc);
    });
    const url = `http://127.0.0.1:${port}`;
    const server = {
        url,
        port,
        key,
        dir,
        proc,
        output: () => output,
        async stop() {
            if (!exited) {
                proc.kill('SIGTERM');
                const end = Date.now() + 5000;
                while (!exited && Date.now() < end) await sleep(20);
                if (!exited) proc.kill('SIGKILL');
            }
            if (!process.env.CLOSELOOP_KEEP_DATA) fs.rmSync(dir, { recursive: true, force: true });
        },
    };
    onExit(() => server.stop());
    try {
        await until(async () => {
            if (exited) throw new Error(`closeloop serve exited (${JSON.stringify(exited)})`);
            const r = await fetch(url + '/healthz');
            return r.ok;
        }, `closeloop serve to answer ${url}/healthz`, { timeout: 15000, interval: 50 });
    } catch (e) {
        throw new Error(`${e.message}\n${bin} ${args.join(' ')} said:\n${output}`);
    }
    // A development aid: CLOSELOOP_WEB_DIST=build/wasm/web/dist serves that app build in front of
    // the server (everything else is passed through), to try an app against a binary that does
    // not embed it. The tests in CI use the binary as shipped.
    if (process.env.CLOSELOOP_WEB_DIST) {
        const front = await distFront(process.env.CLOSELOOP_WEB_DIST, port);
        server.url = front;
        server.apiUrl = url;
        return server;
    }
    // The builder must be in the binary: a placeholder at / means the wasm preset was not built
    // before the native one.
    const page = await fetch(url + '/');
    const html = await page.text();
    if (!page.ok || !html.includes('closeloopBuilder')) {
        throw new Error(`GET ${url}/ does not serve the builder (status ${page.status}, ` +
                        `${html.length} bytes${html.includes('placeholder') ? ', a placeholder page' : ''}): build the wasm ` +
                        'preset, then the native one, so the app is embedded into the closeloop binary (ci/test.sh does it)');
    }
    return server;
}

async function distFront(dist, apiPort) {
    const http = await import('node:http');
    const types = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.wasm': 'application/wasm' };
    const srv = http.createServer((req, res) => {
        const p = new URL(req.url, 'http://x').pathname;
        const file = path.join(dist, p === '/' ? 'index.html' : path.basename(p));
        if (!p.startsWith('/api/') && fs.existsSync(file)) {
            res.writeHead(200, { 'Content-Type': types[path.extname(file)] || 'application/octet-stream' });
            res.end(fs.readFileSync(file));
            return;
        }
        const fwd = http.request({ host: '127.0.0.1', port: apiPort, path: req.url, method: req.method, headers: req.headers },
                                 (up) => {
                                     res.writeHead(up.statusCode, up.headers);
                                     up.pipe(res);
                                 });
        fwd.on('error', () => res.writeHead(502).end());
        req.pipe(fwd);
    });
    await new Promise((r) => srv.listen(0, '127.0.0.1', r));
    onExit(() => new Promise((r) => srv.close(r)));
    return `http://127.0.0.1:${srv.address().port}`;
}

// ---- browser -------------------------------------------------------------------------------

export const chromiumArgs = ['--no-sandbox', '--disable-gpu', '--use-angle=swiftshader', '--enable-unsafe-swiftshader'];

export async function launchBrowser() {
    const { chromium } = await import('playwright-core');
    let browser;
    try {
        browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs, headless: true });
    } catch (e) {
        throw new Error(`Chromium (${chromiumPath}) did not start: ${e.message}`);
    }
    onExit(() => browser.close());
    return browser;
}

// A fresh context (cookies of its own) and page, with the page's errors collected so a test
// failure shows them. Viewport 1440x900 at device scale 1: screenshots a reviewer can read.
export async function newPage(browser, { width = 1440, height = 900, scale = 1 } = {}) {
    const context = await browser.newContext({ viewport: { width, height }, deviceScaleFactor: scale });
    const page = await context.newPage();
    page.closeloopLog = [];
    page.on('console', (m) => {
        if (m.type() === 'error' || (m.type() === 'warning' && !m.text().includes('GL Driver Message'))) page.closeloopLog.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => page.closeloopLog.push(`pageerror: ${e.message}`));
    return { context, page };
}

// Opens the builder and waits for the hook's `ready` (the WebAssembly core is loaded); a fatal
// message on the page (no WebGL2, a download that failed) fails at once with its text.
export async function openApp(page, url, { timeout = 20000 } = {}) {
    const started = Date.now();
    await page.goto(url + '/', { waitUntil: 'domcontentloaded' });
    await waitReady(page, timeout);
    return Date.now() - started;
}

export async function waitReady(page, timeout = 20000) {
    const outcome = await page.evaluate(async (timeout) => {
        const hook = window.closeloopBuilder;
        if (!hook || !hook.ready) return { error: 'window.closeloopBuilder.ready is missing' };
        const timer = new Promise((r) => setTimeout(() => r({ error: `ready did not resolve in ${timeout} ms` }), timeout));
        return Promise.race([hook.ready.then(() => ({ ok: true }), (e) => ({ error: 'ready rejected: ' + e.message })), timer]);
    }, timeout);
    if (outcome.error) {
        const fatal = await page.evaluate(() => {
            const f = document.getElementById('fatal');
            return f && getComputedStyle(f).display !== 'none' ? f.innerText : '';
        });
        throw new Error(`the builder did not start: ${outcome.error}${fatal ? '\npage says: ' + fatal : ''}` +
                        `\npage log:\n${page.closeloopLog.join('\n')}`);
    }
    // One more frame so that geometry() describes what is on screen.
    await nextFrames(page, 2);
}

export function nextFrames(page, n = 1) {
    return page.evaluate(
        (n) =>
            new Promise((resolve) => {
                const step = () => (n-- <= 0 ? resolve() : requestAnimationFrame(step));
                requestAnimationFrame(step);
            }),
        n
    );
}

// ---- steps and screenshots -----------------------------------------------------------------

let shotCounter = 0;
export function resetScreens() {
    fs.rmSync(screensDir, { recursive: true, force: true });
    fs.mkdirSync(screensDir, { recursive: true });
}
const slug = (s) => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 60);

// A screenshot named after the test and the step, e.g. build/browser-screens/03-draw-connected.png.
export async function shot(page, name) {
    const file = path.join(screensDir, `${String(++shotCounter).padStart(2, '0')}-${slug(name)}.png`);
    try {
        await page.screenshot({ path: file });
    } catch (e) {
        console.error(`screenshot ${file} failed: ${e.message}`);
    }
    return file;
}

// Runs a test body against a page; on failure saves a screenshot and adds the page's log and
// the hook's state to the error, so the report says what was on screen.
export async function withPage(page, name, body) {
    if (!page) throw new Error(`${name}: no page (an earlier step failed)`);
    try {
        return await body();
    } catch (e) {
        const file = await shot(page, `${name}-FAILED`);
        let state = '';
        try {
            state = JSON.stringify(await page.evaluate(() => window.closeloopBuilder.state && window.closeloopBuilder.state()));
        } catch {}
        e.message += `\n  screenshot: ${file}\n  hook state: ${state}` +
                     (page.closeloopLog.length ? `\n  page log:\n    ${page.closeloopLog.slice(-20).join('\n    ')}` : '');
        throw e;
    }
}

// ---- the hook ------------------------------------------------------------------------------

// Calls window.closeloopBuilder[name](...args) in the page; a thrown error comes back with the
// hook's message.
export async function hook(page, name, ...args) {
    const r = await page.evaluate(
        ({ name, args }) => {
            const h = window.closeloopBuilder;
            if (!h || typeof h[name] !== 'function') return { missing: true };
            try {
                return { value: h[name](...args) };
            } catch (e) {
                return { thrown: String(e && e.message ? e.message : e) };
            }
        },
        { name, args }
    );
    if (r.missing) throw new Error(`window.closeloopBuilder.${name} is not a function`);
    if (r.thrown !== undefined) throw new Error(`closeloopBuilder.${name} threw: ${r.thrown}`);
    return r.value;
}

export const geometry = (page) => hook(page, 'geometry');
export const state = (page) => hook(page, 'state');

// The rectangle of a named widget in geometry() (CSS pixels), or a failure listing what exists.
export async function widget(page, key) {
    const g = await geometry(page);
    const r = g && g[key];
    if (!r || typeof r.x !== 'number') {
        throw new Error(`geometry() has no "${key}" on screen; it has: ${Object.keys(g || {}).join(', ')}`);
    }
    return r;
}
export const center = (r) => ({ x: r.x + (r.w || 0) / 2, y: r.y + (r.h || 0) / 2 });

// Clicks the middle of a named widget. One cut by the window's bottom edge is first scrolled
// into view with the mouse wheel over its panel, as a user would (in whichever direction moves
// it: under Emscripten 3.1.6 GLFW's wheel runs the other way round).
export async function click(page, key) {
    let r = await widget(page, key);
    const height = page.viewportSize().height;
    for (let i = 0, dir = 1; i < 12 && r.y + r.h > height - 2; ++i) {
        await page.mouse.move(r.x + 4, Math.min(r.y, height - 60) - 20);
        await page.mouse.wheel(0, dir * 150);
        await nextFrames(page, 3);
        const moved = await widget(page, key);
        if (moved.y >= r.y) dir = -dir;
        r = moved;
    }
    if (r.y + r.h > height - 2) throw new Error(`"${key}" stays cut by the window's bottom edge: ${JSON.stringify(r)}`);
    await clickAt(page, r.x + r.w / 2, r.y + r.h / 2);
}

// A click as a hand makes it: the pointer arrives, then presses. Playwright's click moves and
// presses within one frame, and the canvas takes that frame's whole mouse jump as a pan.
export async function clickAt(page, x, y) {
    await page.mouse.move(x, y);
    await nextFrames(page, 1);
    await page.mouse.down();
    await nextFrames(page, 1);
    await page.mouse.up();
    await nextFrames(page, 2);
}

// A mouse drag in small steps, so ImGui sees the motion on several frames (it polls once a frame).
export async function drag(page, from, to, { steps = 12 } = {}) {
    await page.mouse.move(from.x, from.y);
    await nextFrames(page, 1);
    await page.mouse.down();
    await nextFrames(page, 1);
    for (let i = 1; i <= steps; ++i) {
        await page.mouse.move(from.x + ((to.x - from.x) * i) / steps, from.y + ((to.y - from.y) * i) / steps);
        await nextFrames(page, 1);
    }
    await page.mouse.up();
    await nextFrames(page, 2);
}

// A key press ImGui sees: Dear ImGui 1.86 reads the keys' state once a frame, so a key that goes
// down and up between two frames (Playwright's press) is missed; it is held for one frame. 'Control+Shift+z' holds the
// modifiers around it.
export async function press(page, combo) {
    const keys = combo.split('+');
    for (const k of keys) await page.keyboard.down(k);
    await nextFrames(page, 1);  // one frame: longer, and ImGui's key repeat may press it twice
    for (const k of keys.reverse()) await page.keyboard.up(k);
    await nextFrames(page, 2);
}

// ---- finding a colour on screen -----------------------------------------------------------

// The pixels of a PNG screenshot (8-bit RGB or RGBA, not interlaced, as Chromium writes them).
export function pngPixels(buf) {
    let pos = 8, width = 0, height = 0, channels = 0;
    const idat = [];
    while (pos < buf.length) {
        const len = buf.readUInt32BE(pos), type = buf.toString('latin1', pos + 4, pos + 8);
        const data = buf.subarray(pos + 8, pos + 8 + len);
        if (type === 'IHDR') {
            width = data.readUInt32BE(0);
            height = data.readUInt32BE(4);
            if (data[8] !== 8 || data[12] !== 0) throw new Error('pngPixels: only 8-bit, non-interlaced PNGs');
            channels = { 2: 3, 6: 4 }[data[9]];
            if (!channels) throw new Error(`pngPixels: colour type ${data[9]} not handled`);
        } else if (type === 'IDAT') {
            idat.push(data);
        }
        pos += 12 + len;
    }
    const raw = zlib.inflateSync(Buffer.concat(idat));
    const stride = width * channels, out = Buffer.alloc(height * stride);
    for (let y = 0; y < height; ++y) {
        const f = raw[y * (stride + 1)], line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
        for (let x = 0; x < stride; ++x) {
            const a = x >= channels ? out[y * stride + x - channels] : 0;
            const b = y > 0 ? out[(y - 1) * stride + x] : 0;
            const c = x >= channels && y > 0 ? out[(y - 1) * stride + x - channels] : 0;
            let v = line[x];
            if (f === 1) v += a;
            else if (f === 2) v += b;
            else if (f === 3) v += (a + b) >> 1;
            else if (f === 4) {
                const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
                v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
            }
            out[y * stride + x] = v & 255;
        }
    }
    return { width, height, channels, data: out };
}

// The box of the largest patch of a colour on screen (e.g. the theme's primary button), or
// null: for controls the page does not name in geometry(). Rows with fewer than `minRow`
// matching pixels (text, thin lines) do not count.
export async function screenPixels(page) {
    return pngPixels(await page.screenshot());
}
export function pixel(img, x, y) {
    const i = (Math.round(y) * img.width + Math.round(x)) * img.channels;
    return [img.data[i], img.data[i + 1], img.data[i + 2]];
}

export async function findColor(page, [r, g, b], { tolerance = 8, minRow = 24 } = {}) {
    const img = pngPixels(await page.screenshot());
    const bands = [];
    let band = null;
    for (let y = 0; y < img.height; ++y) {
        let n = 0, lo = Infinity, hi = -1;
        for (let x = 0; x < img.width; ++x) {
            const i = (y * img.width + x) * img.channels;
            if (Math.abs(img.data[i] - r) <= tolerance && Math.abs(img.data[i + 1] - g) <= tolerance &&
                Math.abs(img.data[i + 2] - b) <= tolerance) {
                ++n;
                lo = Math.min(lo, x);
                hi = Math.max(hi, x);
            }
        }
        if (n >= minRow) {
            if (!band) bands.push((band = { x0: lo, x1: hi, y0: y, y1: y, n: 0 }));
            band.x0 = Math.min(band.x0, lo);
            band.x1 = Math.max(band.x1, hi);
            band.y1 = y;
            band.n += n;
        } else {
            band = null;
        }
    }
    if (!bands.length) return null;
    const best = bands.reduce((a, c) => (c.n > a.n ? c : a));
    return { x: best.x0, y: best.y0, w: best.x1 - best.x0 + 1, h: best.y1 - best.y0 + 1 };
}

// ---- API -----------------------------------------------------------------------------------

export async function api(server, method, urlPath, body, { key = server.key, ifMatch } = {}) {
    const headers = { Authorization: `Bearer ${key}` };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (ifMatch !== undefined) headers['If-Match'] = ifMatch;
    const r = await fetch(server.url + urlPath, {
        method,
        headers,
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await r.text();
    let json = null;
    try {
        json = text ? JSON.parse(text) : null;
    } catch {}
    return { status: r.status, json, text, headers: r.headers };
}

// ---- assets and the CLI --------------------------------------------------------------------

export const readJson = (p) => JSON.parse(fs.readFileSync(p, 'utf8'));
export const readLines = (p) =>
    fs.readFileSync(p, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));

export function exampleScenarios() {
    const dir = path.join(assets, 'scenarios');
    return fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort().map((f) => path.join(dir, f));
}
export function templates() {
    const dir = path.join(assets, 'templates');
    return fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort().map((f) => readJson(path.join(dir, f)));
}

let cliHelp = null;
export function cliSupports(option) {
    if (cliHelp === null) cliHelp = spawnSync(bin, ['simulate', '--help'], { encoding: 'utf8' }).stdout || '';
    return cliHelp.includes(option);
}

// `closeloop simulate` with the given arguments: its output lines parsed, or a failure with stderr.
export function simulateCli(args) {
    const r = spawnSync(bin, ['simulate', ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
    if (r.status !== 0) throw new Error(`closeloop simulate ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
    return r.stdout.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
}
