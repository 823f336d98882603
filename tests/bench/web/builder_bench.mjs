// closeloop builder — size and speed (issue 11, deliverable 11). Not part of the tests:
//   node tests/bench/web/builder_bench.mjs [--runs 5] [--frames 240] [--nodes 200] [--quick]
// measures
//   (a) what the browser downloads: build/wasm/web/dist's .wasm, .js (and any font file) raw
//       and gzipped (level 9), against <= 2.5 MB raw / 900 KB gzipped in total;
//   (b) navigation to the first frame in headless Chromium (window.closeloopTiming.firstFrame,
//       set by the app's first drawn frame), a fresh browser context each run (nothing cached),
//       against < 1.5 s;
//   (c) frames while panning a generated scenario of --nodes nodes fitted on screen: the page's
//       requestAnimationFrame intervals (what the user sees, with WebGL rendered in software by
//       SwiftShader) and our own code's time per frame (Emscripten's pre/postMainLoop around
//       each frame: ImGui, the canvas, the GL calls issued), against < 16 ms.
// The app comes from `closeloop serve` (as shipped) when the binary embeds it, else from a
// small static server over build/wasm/web/dist. --quick: one run, 60 frames (a smoke run).
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import zlib from 'node:zlib';

import * as h from '../../browser/harness.mjs';

const arg = (name, dflt) => {
    const i = process.argv.indexOf(name);
    return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const quick = process.argv.includes('--quick');
const runs = arg('--runs', quick ? 1 : 5);
const frames = arg('--frames', quick ? 60 : 240);
const nodeCount = arg('--nodes', 200);
const dist = process.env.CLOSELOOP_WEB_DIST || path.join(h.root, 'build/wasm/web/dist');

const kb = (n) => `${(n / 1024).toFixed(0)} KB`;
const mb = (n) => `${(n / 1024 / 1024).toFixed(2)} MB`;
const pct = (xs, p) => {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const ms = (x) => `${x.toFixed(1)} ms`;

// ---- (a) sizes -----------------------------------------------------------------------------

function sizes() {
    if (!fs.existsSync(dist)) throw new Error(`${dist} is missing: build the wasm preset (cmake --build --preset wasm)`);
    const files = fs.readdirSync(dist).filter((f) => /\.(wasm|js|ttf|otf|woff2?)$/.test(f)).sort();
    let raw = 0, gz = 0;
    console.log(`(a) download size, ${dist}`);
    for (const f of files) {
        const bytes = fs.readFileSync(path.join(dist, f));
        const z = zlib.gzipSync(bytes, { level: 9 }).length;
        raw += bytes.length;
        gz += z;
        console.log(`    ${f.padEnd(24)} ${kb(bytes.length).padStart(9)} raw ${kb(z).padStart(9)} gzipped`);
    }
    const html = path.join(dist, 'index.html');
    if (fs.existsSync(html)) {
        const b = fs.readFileSync(html);
        console.log(`    ${'index.html'.padEnd(24)} ${kb(b.length).padStart(9)} raw ${kb(zlib.gzipSync(b, { level: 9 }).length).padStart(9)} gzipped (not counted)`);
    }
    const ok = raw <= 2.5 * 1024 * 1024 && gz <= 900 * 1024;
    console.log(`    total ${mb(raw)} raw, ${kb(gz)} gzipped (target <= 2.50 MB / 900 KB: ${ok ? 'met' : 'NOT met'})`);
    return { raw, gz };
}

// ---- where the app is served ---------------------------------------------------------------

const mime = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.wasm': 'application/wasm',
               '.css': 'text/css', '.ttf': 'font/ttf', '.json': 'application/json' };

// Serves dist gzipped (as the server does), so download times are comparable.
function staticServer() {
    return new Promise((resolve) => {
        const srv = http.createServer((req, res) => {
            const name = decodeURIComponent(new URL(req.url, 'http://x').pathname).replace(/^\/+/, '') || 'index.html';
            const file = path.join(dist, path.basename(name));
            if (!fs.existsSync(file)) {
                res.writeHead(404).end();
                return;
            }
            const body = zlib.gzipSync(fs.readFileSync(file), { level: 6 });
            res.writeHead(200, { 'Content-Type': mime[path.extname(file)] || 'application/octet-stream',
                                 'Content-Encoding': 'gzip', 'Content-Length': body.length });
            res.end(body);
        });
        srv.listen(0, '127.0.0.1', () => {
            h.onExit(() => new Promise((r) => srv.close(r)));
            resolve({ url: `http://127.0.0.1:${srv.address().port}`, what: `a static server over ${dist} (gzip)` });
        });
    });
}

async function appServer() {
    if (fs.existsSync(h.bin)) {
        try {
            const s = await h.startServer();
            return { url: s.url, what: `closeloop serve (${h.bin})` };
        } catch (e) {
            console.log(`    (closeloop serve does not serve the builder here: ${e.message.split('\n')[0].slice(0, 120)}...)`);
        }
    }
    return staticServer();
}

// ---- (b) first frame -----------------------------------------------------------------------

async function firstFrame(browser, url) {
    const times = [];
    for (let i = 0; i < runs; ++i) {
        const { context, page } = await h.newPage(browser);
        await page.goto(url + '/', { waitUntil: 'domcontentloaded' });
        const t = await h.until(() => page.evaluate(() => window.closeloopTiming && window.closeloopTiming.firstFrame),
                                'the first frame (window.closeloopTiming.firstFrame)', { timeout: 30000 });
        times.push(t);
        await context.close();
    }
    const ok = pct(times, 50) < 1500;
    console.log(`(b) navigation to first frame, ${runs} cold loads: median ${ms(pct(times, 50))}, ` +
                `min ${ms(Math.min(...times))}, max ${ms(Math.max(...times))} (target < 1500 ms: ${ok ? 'met' : 'NOT met'})`);
    return times;
}

// ---- (c) panning a large scenario ----------------------------------------------------------

// A tree of conditions whose leaves tag the contact: every node reachable, no catalog needed,
// no `ui` block (the builder lays it out, as it does for an imported scenario).
export function generatedScenario(n) {
    const nodes = [];
    for (let i = 0; i < n; ++i) {
        const a = 2 * i + 1, b = 2 * i + 2;
        if (b < n) {
            nodes.push({ id: `n${i}`, type: 'condition', if: `event.score < ${i % 11}`, then: `n${a}`, else: `n${b}` });
        } else {
            nodes.push({ id: `n${i}`, type: 'action', action: 'add_tag', params: { tag: `t${i}` },
                         next: a < n ? `n${a}` : null });
        }
    }
    return { id: 'bench-200', name: `${n} nodes`, status: 'draft', trigger: { event: 'nps_response' },
             reentry: { policy: 'always' }, start: 'n0', nodes };
}

async function panning(browser, url, fit) {
    const { page } = await h.newPage(browser);
    // Our code's time per frame: Emscripten's main loop calls these around each frame.
    await page.addInitScript(() => {
        window.closeloopBench = { cpu: [], raf: [], on: false };
        const b = window.closeloopBench;
        let t0 = 0;
        const hookModule = () => {
            if (!window.Module || window.Module.preMainLoop) return;
            window.Module.preMainLoop = () => { t0 = performance.now(); };
            window.Module.postMainLoop = () => { if (b.on) b.cpu.push(performance.now() - t0); };
        };
        document.addEventListener('DOMContentLoaded', hookModule);
        const tick = (t) => {
            hookModule();
            if (b.on) b.raf.push(t);
            requestAnimationFrame(tick);
        };
        requestAnimationFrame(tick);
    });
    await h.openApp(page, url);
    await h.hook(page, 'loadScenario', generatedScenario(nodeCount));
    await h.nextFrames(page, 3);
    if (fit) await h.click(page, 'fit_button');  // all nodes on screen: the most to draw
    await h.nextFrames(page, 5);
    const g = await h.geometry(page);
    const shown = Object.values(g.nodes).filter((n) => n.x + n.w > g.canvas.x && n.x < g.canvas.x + g.canvas.w &&
                                                      n.y + n.h > g.canvas.y && n.y < g.canvas.y + g.canvas.h).length;
    // A point of the background: inside the canvas, outside every node.
    const inside = (p) => Object.values(g.nodes).some((n) => p.x >= n.x - 8 && p.x <= n.x + n.w + 8 && p.y >= n.y - 8 && p.y <= n.y + n.h + 8);
    let from = null;
    for (let y = g.canvas.y + 20; y < g.canvas.y + g.canvas.h - 20 && !from; y += 10)
        for (let x = g.canvas.x + 20; x < g.canvas.x + g.canvas.w / 3 && !from; x += 10)
            if (!inside({ x, y })) from = { x, y };
    if (!from) throw new Error('no empty background to drag on the canvas');
    const before = g.nodes.n0;

    // Idle first: the same view with no input, for the cost of drawing alone.
    await page.evaluate(() => { window.closeloopBench.on = true; });
    await h.nextFrames(page, 60);
    await page.evaluate(() => { window.closeloopBench.on = false; });
    const idle = await page.evaluate(() => {
        const b = window.closeloopBench, out = { raf: b.raf, cpu: b.cpu };
        b.raf = [];
        b.cpu = [];
        return out;
    });
    const idleIntervals = idle.raf.slice(1).map((t, i) => t - idle.raf[i]);

    await page.mouse.move(from.x, from.y);
    await page.mouse.down();
    await page.evaluate(() => { window.closeloopBench.on = true; });
    const started = Date.now();
    // Move the mouse back and forth, a small step each frame, for `frames` frames.
    for (let i = 0; i < frames; ++i) {
        const dx = 150 * Math.sin((i / 60) * Math.PI);
        await page.mouse.move(from.x + dx, from.y + dx / 3);
        await h.nextFrames(page, 1);
    }
    await page.evaluate(() => { window.closeloopBench.on = false; });
    const panMs = Date.now() - started;
    const moved = (await h.geometry(page)).nodes.n0;
    await page.mouse.up();
    const { cpu, raf } = await page.evaluate(() => window.closeloopBench);
    const intervals = raf.slice(1).map((t, i) => t - raf[i]);
    if (Math.abs(moved.x - before.x) < 1 && Math.abs(moved.y - before.y) < 1 && frames > 30) {
        console.log('    WARNING: the canvas did not pan (node n0 did not move)');
    }
    console.log(`(c) ${nodeCount} nodes, ${fit ? 'fitted' : 'as opened'} (${shown} on screen, zoom ${(g.zoom * 100).toFixed(0)} %):`);
    console.log(`    idle, 60 frames: interval median ${ms(pct(idleIntervals, 50))}; our code median ${ms(pct(idle.cpu, 50))}, p95 ${ms(pct(idle.cpu, 95))}`);
    console.log(`    panning, ${intervals.length} frames in ${panMs} ms:`);
    console.log(`    frame interval (requestAnimationFrame): median ${ms(pct(intervals, 50))}, p95 ${ms(pct(intervals, 95))}, max ${ms(Math.max(...intervals))}`);
    if (cpu.length) {
        console.log(`    our code per frame (pre/postMainLoop): median ${ms(pct(cpu, 50))}, p95 ${ms(pct(cpu, 95))}, max ${ms(Math.max(...cpu))}`);
    } else {
        console.log('    our code per frame: not measured (Module.preMainLoop was not called)');
    }
    const ok = pct(intervals, 50) < 16.7;
    console.log(`    target < 16 ms a frame: ${ok ? 'met' : 'NOT met'} by the frame interval` +
                (cpu.length ? `; our code ${pct(cpu, 95) < 16 ? 'within' : 'OVER'} it at p95` : ''));
    await h.shot(page, `bench-${nodeCount}-nodes-${fit ? 'fitted' : 'opened'}`);
    return { intervals, cpu };
}

async function main() {
    try {
        sizes();
        await h.checkPrerequisites().catch((e) => {
            if (!fs.existsSync(h.chromiumPath)) throw e;  // the binary is optional here
        });
        fs.mkdirSync(h.screensDir, { recursive: true });
        const server = await appServer();
        console.log(`    app served by ${server.what}`);
        const browser = await h.launchBrowser();
        await firstFrame(browser, server.url);
        await panning(browser, server.url, true);
        await panning(browser, server.url, false);
    } finally {
        await h.cleanupAll();
    }
}

main().catch((e) => {
    console.error(e.stack || e.message);
    process.exitCode = 1;
});
