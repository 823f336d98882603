// closeloop server — `closeloop serve`: the HTTP shell over core and the store.
#pragma once

#include <filesystem>
#include <string>

namespace closeloop::server {

struct ServeOptions {
    std::filesystem::path data = "data";
    std::string bind = "127.0.0.1";
    int port = 8080;
    std::string smtp;        // smtp://host:port; delivery comes in a later issue
    std::string public_url;  // base of links in e-mails
};

// Runs until SIGTERM or SIGINT; in-flight requests finish before it returns. Returns the
// process exit code.
int serve(const ServeOptions& options);

}  // namespace closeloop::server
