// closeloop server — the builder app's files as the server sends them (api_static.cpp): MIME
// types, the gzip copy when accepted, ETag / 304, no-cache, and the page's security headers.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "embedded_files.h"
#include "http.h"

namespace closeloop::server {

std::string mime_type_of(std::string_view file_name);  // "application/wasm" for "builder.wasm"

class StaticSite {
public:
    // `files` must outlive the site (the embedded ones are static). None: GET / answers a page
    // saying the builder is not built and how to build it.
    explicit StaticSite(const std::vector<EmbeddedFile>& files);
    // Answers GET /`name` ("index.html" for /).
    void serve(Call& call, std::string_view name) const;
    const std::string& content_security_policy() const { return csp_; }

private:
    struct File {
        const EmbeddedFile* file = nullptr;
        std::string mime, etag;
    };
    void send_file(Call& call, const File& f) const;

    std::map<std::string, File, std::less<>> files_;
    std::string csp_;
};

// GET / and GET /{file} from `site` (which must outlive the router).
void add_static_routes(Router& router, const StaticSite& site);

}  // namespace closeloop::server
