// closeloop server — `closeloop serve`: the HTTP shell over core and the store.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace closeloop::server {

struct ServeOptions {
    std::filesystem::path data = "data";
    std::string bind = "127.0.0.1";
    int port = 8080;
    std::string smtp;                       // smtp://host:port or smtps://; "" = e-mail waits in the outbox
    std::string smtp_user, smtp_password;   // from the config file, preferably
    std::string dkim_key;                   // PEM RSA private key file: DKIM-sign every e-mail ("" = unsigned)
    std::string dkim_selector;              // s=, required with dkim_key
    std::string dkim_domain;                // d=, required with dkim_key (the zone of <s>._domainkey.<d>)
    std::string public_url;                 // base of links in e-mails ("" = http://<bind>:<port>)
    bool allow_private_endpoints = false;   // webhooks to loopback and private networks
    std::string retry_schedule;             // "0s,5s,5m,..." ("" = the default, about three days)
    int delivery_timeout_ms = 10000;        // one delivery attempt
    int cap_per_day = 1, cap_per_week = 3;  // marketing e-mails per contact (0 = no limit)
    std::string redeem_url;                 // the shop's voucher page, "{code}" for the code
    int threads = 16;                       // HTTP worker threads: they answer complete requests only
    int max_connections = 4096;             // client connections open at once
    int max_connections_per_address = 512;  // from one client address (trusted proxies exempt)
    std::string trusted_proxy;              // "127.0.0.1,::1": reverse proxies whose X-Forwarded-For is believed
    int rfm_interval_minutes = 60;          // RFM of every workspace at start and then this often; 0 = on demand only
    std::string synchronous = "FULL";       // FULL (fsync before the answer), or FULL-INLINE / NORMAL for measurements
    // Rate limits (rate_limit.h): "10/s,60", "10/m", "off"; "" = the default.
    std::string rate_answers, rate_signin, rate_unsubscribe, rate_api;
    std::string event_max_future = "P1D";  // ISO 8601: posted events' time at most this far ahead of the clock
    std::string event_max_age = "P30Y";    // ... and at most this far back (imports of purchase history)
};

// Runs until SIGTERM or SIGINT; in-flight requests finish (and their writes commit) before it
// returns. Returns the process exit code.
int serve(const ServeOptions& options);

// `closeloop workspace create`: a new workspace in the data folder; prints its keys once.
int create_workspace_command(const std::filesystem::path& data, const std::string& slug, const std::string& name);

// `closeloop keys create|list|revoke`: a workspace's API keys, also while a server runs.
// create prints a new key once on stdout (or adds `key` when given); kind "admin" or "publishable".
int keys_create_command(const std::filesystem::path& data, const std::string& workspace, const std::string& kind,
                        const std::string& key);
int keys_list_command(const std::filesystem::path& data, const std::string& workspace);
int keys_revoke_command(const std::filesystem::path& data, const std::string& workspace, const std::string& id);

}  // namespace closeloop::server
