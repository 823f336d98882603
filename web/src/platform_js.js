// closeloop builder — the page side of platform.h (an Emscripten --js-library).
//
// C++ calls the platform_* functions below; the page calls back into C++ through the
// closeloop_* functions platform.cpp exports (pending requests by id). Strings cross as
// UTF-8 in the wasm heap: JS allocates, C++ copies during the call, JS frees.
//
// Sections: state and helpers, start, clipboard and typed text, HTTP, preview, text overlay,
// page.

mergeInto(LibraryManager.library, {
  // ---- state and helpers ----------------------------------------------------------------
  $CL: {
    csrf: '',
    unsaved: false,
    sink: null,     // the hidden textarea that takes typed text, IME and clipboard events
    overlay: null,  // the open text overlay element, if any
    overlayId: 0,
    preview: null,  // the preview iframe
    // Calls a C++ function with string arguments copied into the heap for the call.
    call: function(fn, ints, strs) {
      var ptrs = strs.map(function(s) {
        var n = lengthBytesUTF8(s) + 1;
        var p = _malloc(n);
        stringToUTF8(s, p, n);
        return p;
      });
      try {
        fn.apply(null, ints.concat(ptrs));
      } finally {
        ptrs.forEach(function(p) { _free(p); });
      }
    },
    canvasRect: function() { return Module['canvas'].getBoundingClientRect(); },
    place: function(el, x, y, w, h) {
      var r = CL.canvasRect();
      el.style.left = (r.left + window.scrollX + x) + 'px';
      el.style.top = (r.top + window.scrollY + y) + 'px';
      el.style.width = Math.max(0, w) + 'px';
      el.style.height = Math.max(0, h) + 'px';
    },
    focusSink: function() {
      if (CL.sink && !CL.overlay && document.activeElement !== CL.sink) CL.sink.focus({preventScroll: true});
    }
  },

  // ---- start ----------------------------------------------------------------------------
  // Called by main() before glfwInit, so these window listeners run before GLFW's own.
  platform_init__deps: ['$CL', 'malloc', 'free'],
  platform_init: function() {
    // Typed text: GLFW takes characters from keypress events only, which IME, composed
    // characters and text inserted by tools (Playwright's keyboard.type for 'ř' or Hebrew)
    // never send. A focused, invisible textarea receives every kind of text input; its
    // 'input' events feed ImGui, and keypress is stopped before GLFW so nothing comes twice.
    // Keydown still reaches GLFW (Backspace, arrows, Enter, shortcuts).
    var sink = document.createElement('textarea');
    sink.id = 'closeloop-text-sink';
    sink.setAttribute('aria-hidden', 'true');
    sink.setAttribute('autocomplete', 'off');
    sink.setAttribute('autocorrect', 'off');
    sink.setAttribute('autocapitalize', 'off');
    sink.setAttribute('spellcheck', 'false');
    sink.style.cssText = 'position:absolute;left:0;top:0;width:1px;height:1px;opacity:0;' +
                         'border:0;padding:0;margin:0;resize:none;overflow:hidden;z-index:-1;';
    document.body.appendChild(sink);
    CL.sink = sink;
    var feed = function(text) {
      // Control characters come as keys (Enter, Tab), not as text.
      text = text.replace(/[\u0000-\u001f\u007f]/g, '');
      if (text) CL.call(_closeloop_text_input, [], [text]);
    };
    sink.addEventListener('input', function(e) {
      if (e.isComposing) return;  // wait for compositionend
      feed(sink.value);
      sink.value = '';
    });
    sink.addEventListener('compositionend', function(e) {
      feed(e.data || sink.value);
      sink.value = '';
    });
    var isOverlay = function(t) { return CL.overlay && t === CL.overlay; };
    window.addEventListener('keypress', function(e) {
      if (e.target === sink || isOverlay(e.target)) e.stopImmediatePropagation();
    }, true);
    // Keys typed into an overlay belong to it alone (Delete must not delete nodes).
    window.addEventListener('keydown', function(e) { if (isOverlay(e.target)) e.stopImmediatePropagation(); }, true);
    window.addEventListener('keyup', function(e) { if (isOverlay(e.target)) e.stopImmediatePropagation(); }, true);
    // Ctrl+S saves in the app, not the page (the keydown still reaches GLFW).
    window.addEventListener('keydown', function(e) {
      if ((e.ctrlKey || e.metaKey) && (e.key === 's' || e.key === 'S')) e.preventDefault();
    }, true);
    // A pinch on a touchpad arrives as a wheel event with ctrlKey (no key is down), which
    // GLFW would report as plain scrolling: the editor zooms at the pointer instead. The page
    // itself must not zoom.
    Module['canvas'].addEventListener('wheel', function(e) {
      if (!e.ctrlKey) return;
      e.preventDefault();
      e.stopImmediatePropagation();
      var dy = e.deltaY * (e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? 400 : 1);
      var r = CL.canvasRect();
      // a mouse notch is about 100 px: clamped, it zooms by a quarter, not 2.7 times; a
      // pinch's small deltas pass unchanged
      _closeloop_zoom(Math.exp(-Math.max(-25, Math.min(25, dy)) * 0.01), e.clientX - r.left, e.clientY - r.top);
    }, {capture: true, passive: false});
    // A click on the canvas would leave the focus on the body: give it back to the sink.
    Module['canvas'].addEventListener('mousedown', function() { setTimeout(CL.focusSink, 0); });
    window.addEventListener('focus', function() { setTimeout(CL.focusSink, 0); });
    CL.focusSink();

    // Clipboard: the paste event carries the text; ImGui reads it (Ctrl+V is handled on the
    // next frame, after this event) and so does the app's paste handler (nodes).
    document.addEventListener('paste', function(e) {
      if (isOverlay(e.target)) return;  // an overlay pastes by itself
      var text = (e.clipboardData || window.clipboardData).getData('text/plain') || '';
      e.preventDefault();
      CL.call(_closeloop_paste, [], [text]);
    });
    // Ctrl+C / Ctrl+X: the copy event comes before ImGui's frame knows what was copied;
    // clipboard_set writes it right after through navigator.clipboard (the keydown's user
    // activation allows it). When that API is missing the last copied text is given here.
    var onCopy = function(e) {
      if (isOverlay(e.target)) return;
      if (CL.pendingCopy !== undefined) {
        e.clipboardData.setData('text/plain', CL.pendingCopy);
        e.preventDefault();
        CL.pendingCopy = undefined;
      }
    };
    document.addEventListener('copy', onCopy);
    document.addEventListener('cut', onCopy);

    window.addEventListener('beforeunload', function(e) {
      if (!CL.unsaved) return;
      e.preventDefault();
      e.returnValue = '';
      return '';
    });
  },

  // ---- clipboard and typed text ---------------------------------------------------------
  platform_clipboard_set__deps: ['$CL'],
  platform_clipboard_set: function(ptr) {
    var text = UTF8ToString(ptr);
    var fallback = function() {
      CL.pendingCopy = text;
      try { document.execCommand('copy'); } catch (e) {}
    };
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(text).catch(fallback);
    } else {
      fallback();
    }
  },

  // Where ImGui's text cursor is (CSS pixels), so an IME shows its candidates beside it.
  platform_text_caret__deps: ['$CL'],
  platform_text_caret: function(x, y) {
    if (CL.sink) CL.place(CL.sink, x, y, 1, 1);
  },

  // ---- HTTP -----------------------------------------------------------------------------
  platform_set_csrf__deps: ['$CL'],
  platform_set_csrf: function(ptr) { CL.csrf = UTF8ToString(ptr); },

  platform_http__deps: ['$CL'],
  platform_http: function(id, methodPtr, pathPtr, bodyPtr, ifMatchPtr) {
    var method = UTF8ToString(methodPtr);
    var path = UTF8ToString(pathPtr);
    var body = UTF8ToString(bodyPtr);
    var ifMatch = UTF8ToString(ifMatchPtr);
    var headers = {'Accept': 'application/json'};
    if (body) headers['Content-Type'] = 'application/json';
    // The session cookie is SameSite=Strict and HttpOnly; the CSRF token rides on every
    // request that changes something.
    if (method !== 'GET' && method !== 'HEAD' && CL.csrf) headers['X-CSRF-Token'] = CL.csrf;
    if (ifMatch) headers['If-Match'] = ifMatch;
    var init = {method: method, headers: headers, credentials: 'same-origin', cache: 'no-store'};
    if (body) init.body = body;
    fetch(path, init)
      .then(function(r) {
        return r.text().then(function(t) { return [r.status, t, r.headers.get('ETag') || '']; });
      }, function() { return [0, '', '']; })
      .then(function(res) { CL.call(_closeloop_http_done, [id, res[0]], [res[1], res[2]]); });
  },

  // ---- preview --------------------------------------------------------------------------
  platform_preview_show__deps: ['$CL'],
  platform_preview_show: function(htmlPtr, rtl, x, y, w, h) {
    var html = UTF8ToString(htmlPtr);
    var dir = rtl ? 'rtl' : 'ltr';
    var f = CL.preview;
    // New content gets a new frame: a frame whose srcdoc changed, or that was hidden and shown
    // again, stayed blank in Chromium (its new document laid out but never painted).
    if (!f || f.getAttribute('data-html') !== html || f.getAttribute('data-dir') !== dir) {
      if (f) f.remove();
      f = document.createElement('iframe');
      f.setAttribute('sandbox', '');  // no scripts, no same origin, no forms, no navigation
      f.setAttribute('title', 'E-mail preview');
      f.id = 'closeloop-preview';
      f.style.cssText = 'position:absolute;border:1px solid #c9ced6;background:#fff;z-index:2;';
      var doc = /<html[\s>]/i.test(html) ? html.replace(/<html/i, '<html dir="' + dir + '"')
                                         : '<!doctype html><html dir="' + dir + '"><head><meta charset="utf-8">' +
                                           '</head><body>' + html + '</body></html>';
      f.setAttribute('srcdoc', doc);
      f.setAttribute('data-html', html);
      f.setAttribute('data-dir', dir);
      f.setAttribute('dir', dir);
      CL.place(f, x, y, w, h);
      document.body.appendChild(f);
      CL.preview = f;
    }
    CL.place(f, x, y, w, h);
    f.style.display = 'block';
  },
  platform_preview_hide__deps: ['$CL'],
  platform_preview_hide: function() {
    if (CL.preview) CL.preview.remove();  // shown again = a new frame (see above)
    CL.preview = null;
  },

  // ---- text overlay ---------------------------------------------------------------------
  platform_overlay_open__deps: ['$CL'],
  platform_overlay_open: function(id, textPtr, multiline, x, y, w, h) {
    if (CL.overlay) CL.overlay.blur();  // finishes the one open
    var el = document.createElement(multiline ? 'textarea' : 'input');
    el.className = 'closeloop-overlay';
    el.value = UTF8ToString(textPtr);
    el.setAttribute('dir', 'auto');  // Hebrew lays out right to left, as ImGui cannot
    el.setAttribute('spellcheck', 'false');
    el.style.cssText = 'position:absolute;z-index:3;box-sizing:border-box;margin:0;';
    CL.place(el, x, y, w, h);
    var original = el.value;
    var finished = false;
    var finish = function(keep) {
      if (finished) return;
      finished = true;
      var text = keep ? el.value : original;
      CL.overlay = null;
      el.remove();
      CL.call(_closeloop_overlay_done, [id], [text]);
      setTimeout(CL.focusSink, 0);
    };
    el.addEventListener('blur', function() { finish(true); });
    el.addEventListener('keydown', function(e) {
      if (e.key === 'Escape') { e.preventDefault(); finish(false); }
      if (e.key === 'Enter' && (!multiline || e.ctrlKey || e.metaKey)) { e.preventDefault(); finish(true); }
    });
    document.body.appendChild(el);
    CL.overlay = el;
    el.focus();
    el.select();
  },
  platform_overlay_active__deps: ['$CL'],
  platform_overlay_active: function() { return CL.overlay ? 1 : 0; },

  // ---- page -----------------------------------------------------------------------------
  platform_set_unsaved__deps: ['$CL'],
  platform_set_unsaved: function(unsaved) { CL.unsaved = !!unsaved; },

  // The canvas's CSS size and the device pixel ratio, read each frame (resizes, zoom, a
  // window moved to a screen of another density).
  platform_canvas_css_size: function(wPtr, hPtr) {
    var r = Module['canvas'].getBoundingClientRect();
    HEAPF64[wPtr >> 3] = r.width;
    HEAPF64[hPtr >> 3] = r.height;
  },
  platform_device_pixel_ratio: function() { return window.devicePixelRatio || 1; },

  // The app is up: fill in the test hook (window.closeloopBuilder) and resolve its promise.
  platform_ready__deps: ['$CL'],
  platform_ready: function() {
    var hook = window.closeloopBuilder || (window.closeloopBuilder = {});
    var str = function(fn, args) {
      var out = '';
      var ptrs = args.map(function(s) {
        s = typeof s === 'string' ? s : JSON.stringify(s === undefined ? null : s);
        var n = lengthBytesUTF8(s) + 1;
        var p = _malloc(n);
        stringToUTF8(s, p, n);
        return p;
      });
      try {
        out = UTF8ToString(fn.apply(null, ptrs));
      } finally {
        ptrs.forEach(function(p) { _free(p); });
      }
      return JSON.parse(out);
    };
    // Failures come back as {"error": text} and are thrown, so a test sees them.
    var unwrap = function(r) {
      if (r && typeof r === 'object' && !Array.isArray(r) && typeof r.error === 'string') throw new Error(r.error);
      return r;
    };
    hook.simulate = function(scenario, contact, event, options) {
      return unwrap(str(_closeloop_hook_simulate, [scenario, contact, event, options || {}]));
    };
    hook.loadScenario = function(scenario) { return unwrap(str(_closeloop_hook_load, [scenario])); };
    hook.scenario = function() { return str(_closeloop_hook_scenario, []); };
    hook.errors = function() { return str(_closeloop_hook_errors, []); };
    hook.geometry = function() { return str(_closeloop_hook_geometry, []); };
    hook.lastSimulation = function() { return str(_closeloop_hook_last_simulation, []); };
    hook.state = function() { return str(_closeloop_hook_state, []); };
    if (hook._resolveReady) hook._resolveReady(hook);
  },

  platform_first_frame: function() {
    var loading = document.getElementById('loading');
    if (loading) loading.remove();
    if (Module['onFirstFrame']) Module['onFirstFrame']();
  }
});
