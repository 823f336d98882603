// closeloop server — `closeloop serve`: the HTTP shell over core and the store.
#pragma once

#include <filesystem>
#include <string>

namespace closeloop::server {

struct ServeOptions {
    std::filesystem::path data = "data";
    std::string bind = "127.0.0.1";
    int port = 8080;
    std::string smtp;                  // smtp://host:port; delivery comes in a later issue
    std::string public_url;            // base of links in e-mails
    int threads = 64;                  // HTTP worker threads: each keep-alive connection holds one while open
    int rfm_interval_minutes = 60;     // RFM of every workspace at start and then this often; 0 = on demand only
    std::string synchronous = "FULL";  // FULL (fsync before the answer), or FULL-INLINE / NORMAL for measurements
};

// Runs until SIGTERM or SIGINT; in-flight requests finish (and their writes commit) before it
// returns. Returns the process exit code.
int serve(const ServeOptions& options);

// `closeloop workspace create`: a new workspace in the data folder; prints its keys once.
int create_workspace_command(const std::filesystem::path& data, const std::string& slug, const std::string& name);

}  // namespace closeloop::server
