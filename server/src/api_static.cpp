// The builder app at / (index.html) and /{file}: the files the wasm preset built, compiled
// into the binary (embedded_files.h), so one binary is still the whole product.
//
// Caching: the app's file names are fixed (index.html loads builder.js, which loads
// builder.wasm by name), so every file is sent with `Cache-Control: no-cache` and an ETag
// (its SHA-256): a browser revalidates each file and gets a 304 without a body while it is
// unchanged, and a new binary's app is never mixed with an old cached one. Hashed names with
// `immutable` would save those round trips but need the names rewritten inside index.html and
// Emscripten's loader. Compression: the gzip copy made at build time is sent to clients that
// accept gzip, the raw bytes to the others (`Vary: Accept-Encoding`).
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <array>
#include <map>

#include "api.h"
#include "embedded_files.h"
#include "keys.h"
#include "static_site.h"

namespace closeloop::server {

namespace {

std::string mime_type(std::string_view name) {
    static const std::map<std::string, std::string, std::less<>> types = {
        {"html", "text/html; charset=utf-8"},
        {"js", "text/javascript; charset=utf-8"},
        {"mjs", "text/javascript; charset=utf-8"},
        {"wasm", "application/wasm"},
        {"css", "text/css; charset=utf-8"},
        {"json", "application/json"},
        {"map", "application/json"},
        {"svg", "image/svg+xml"},
        {"png", "image/png"},
        {"ico", "image/x-icon"},
        {"ttf", "font/ttf"},
        {"otf", "font/otf"},
        {"woff", "font/woff"},
        {"woff2", "font/woff2"},
        {"txt", "text/plain; charset=utf-8"},
    };
    const auto dot = name.rfind('.');
    if (dot == std::string_view::npos) return "application/octet-stream";
    const auto it = types.find(name.substr(dot + 1));
    return it == types.end() ? "application/octet-stream" : it->second;
}

std::string base64_sha256(std::string_view text) {
    std::array<unsigned char, SHA256_DIGEST_LENGTH> digest{};
    SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest.data());
    std::array<unsigned char, 4 * ((SHA256_DIGEST_LENGTH + 2) / 3) + 1> out{};
    EVP_EncodeBlock(out.data(), digest.data(), SHA256_DIGEST_LENGTH);
    return reinterpret_cast<const char*>(out.data());
}

void security_headers(httplib::Response& res, const std::string& csp) {
    res.set_header("Content-Security-Policy", csp);
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_header("X-Frame-Options", "DENY");
    res.set_header("Referrer-Policy", "no-referrer");
}

// If-None-Match names this ETag (or is "*").
bool not_modified(const httplib::Request& req, const std::string& etag) {
    const std::string given = req.get_header_value("If-None-Match");
    if (given.empty()) return false;
    if (given.find('*') != std::string::npos) return true;
    return given.find(etag) != std::string::npos;
}

// Accept-Encoding lists gzip, and not with q=0.
bool accepts_gzip(const httplib::Request& req) {
    const std::string accept = req.get_header_value("Accept-Encoding");
    const auto at = accept.find("gzip");
    if (at == std::string::npos) return false;
    const auto end = accept.find(',', at);
    const std::string params = accept.substr(at, end == std::string::npos ? std::string::npos : end - at);
    const auto q = params.find("q=");
    if (q == std::string::npos) return true;
    const std::string value = params.substr(q + 2);
    return value.find_first_not_of("0. ") != std::string::npos;
}

const char* not_built_page = R"html(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>closeloop: the builder is not built</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
 body{font-family:system-ui,-apple-system,"DejaVu Sans",sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
 main{max-width:42rem;margin:10vh auto;padding:2rem;background:#fff;border-radius:12px;box-shadow:0 2px 12px #0001}
 h1{margin:0 0 .25rem;font-size:1.8rem} p{line-height:1.5} code,pre{background:#eef1f5;padding:.1rem .3rem;border-radius:4px}
 pre{padding:.75rem} .ok{color:#13795b;font-weight:600}
</style></head>
<body><main>
<h1>closeloop</h1>
<p class="ok">The server is running.</p>
<p><strong>The scenario builder is not built into this binary.</strong> It is compiled to
WebAssembly by the <code>wasm</code> preset, and the <code>native</code> build embeds what that
preset wrote into <code>build/wasm/web/dist</code>. Build them in this order, then start again:</p>
<pre>export NODE_PATH=/usr/share/nodejs
cmake --preset wasm && cmake --build --preset wasm
cmake --preset native && cmake --build --preset native</pre>
<p>(<code>bash ci/start.sh</code> does all of this.) Meanwhile the HTTP API works: see
<a href="/api/openapi.json"><code>/api/openapi.json</code></a>.</p>
</main></body></html>
)html";

}  // namespace

std::string mime_type_of(std::string_view name) {
    return mime_type(name);
}

StaticSite::StaticSite(const std::vector<EmbeddedFile>& files) {
    for (const auto& f : files)
        files_[std::string(f.name)] = {&f, mime_type(f.name), "\"" + sha256_hex(f.data).substr(0, 32) + "\""};
    // The page's Content-Security-Policy: scripts only from this server, plus the exact
    // inline scripts of index.html (by their hashes); 'wasm-unsafe-eval' because Chromium
    // refuses WebAssembly.instantiate under a script-src without it; inline styles and images
    // from anywhere for the e-mail preview, a sandboxed srcdoc (or blob:) iframe that inherits
    // this policy; nobody may frame the builder.
    std::string scripts;
    if (const auto index = files_.find("index.html"); index != files_.end()) {
        const std::string_view html = index->second.file->data;
        for (std::size_t at = html.find("<script"); at != std::string_view::npos; at = html.find("<script", at + 1)) {
            const auto open_end = html.find('>', at);
            if (open_end == std::string_view::npos) break;
            if (html.substr(at, open_end - at).find(" src") != std::string_view::npos) continue;
            const auto close = html.find("</script", open_end);
            if (close == std::string_view::npos) break;
            scripts += " 'sha256-" + base64_sha256(html.substr(open_end + 1, close - open_end - 1)) + "'";
        }
    }
    // Inline event handlers (<canvas oncontextmenu="...">) are allowed by their hashes too,
    // which CSP takes only with 'unsafe-hashes' (addEventListener in a script needs neither).
    if (const auto index = files_.find("index.html"); index != files_.end()) {
        const std::string_view html = index->second.file->data;
        std::string handlers;
        for (std::size_t at = html.find(" on"); at != std::string_view::npos; at = html.find(" on", at + 1)) {
            std::size_t name_end = at + 3;
            while (name_end < html.size() && html[name_end] >= 'a' && html[name_end] <= 'z') ++name_end;
            if (name_end == at + 3 || html.substr(name_end, 2) != "=\"") continue;
            const auto value_end = html.find('"', name_end + 2);
            if (value_end == std::string_view::npos) break;
            handlers += " 'sha256-" + base64_sha256(html.substr(name_end + 2, value_end - name_end - 2)) + "'";
        }
        if (!handlers.empty()) scripts += " 'unsafe-hashes'" + handlers;
    }
    csp_ = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'" + scripts +
           "; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob: https:; font-src 'self' data:; "
           "connect-src 'self'; frame-src 'self' blob: about:; child-src 'self' blob:; worker-src 'self' blob:; "
           "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
}

void StaticSite::send_file(Call& call, const File& f) const {
    httplib::Response& res = call.res;
    security_headers(res, csp_);
    res.set_header("ETag", f.etag);
    res.set_header("Cache-Control", "no-cache");
    res.set_header("Vary", "Accept-Encoding");
    if (not_modified(call.req, f.etag)) {
        res.status = 304;
        return;
    }
    const bool gzipped = !f.file->gzip.empty() && f.file->gzip.size() < f.file->data.size() && accepts_gzip(call.req);
    const std::string_view bytes = gzipped ? f.file->gzip : f.file->data;
    if (gzipped) res.set_header("Content-Encoding", "gzip");
    res.status = 200;
    // A content provider of fixed length: the bytes are sent as they are, never copied into a
    // body (nor compressed again by any transport that gzips bodies set with set_content).
    res.set_content_provider(bytes.size(), f.mime,
                             [bytes](std::size_t offset, std::size_t length, httplib::DataSink& sink) {
                                 sink.write(bytes.data() + offset, length);
                                 return true;
                             });
}

void StaticSite::serve(Call& call, std::string_view name) const {
    if (files_.empty() && name == "index.html") {
        security_headers(call.res, csp_);
        call.res.set_header("Cache-Control", "no-cache");
        call.res.set_content(not_built_page, "text/html; charset=utf-8");
        return;
    }
    const auto it = files_.find(name);
    if (it == files_.end())
        return send_error(call.res, 404, "not_found", "no such route or file: GET /" + std::string(name));
    send_file(call, it->second);
}

void add_static_routes(Router& router, const StaticSite& site) {
    router.get("/", Access::open, [&site](Call& c) { site.serve(c, "index.html"); });
    // Last of all routes: /healthz, /metrics and the API are matched before this.
    router.get("/{file}", Access::open, [&site](Call& c) { site.serve(c, c.param(1)); });
}

void add_static_routes(Router& router, Api&) {
    static const StaticSite site(builder_files());
    add_static_routes(router, site);
}

}  // namespace closeloop::server
