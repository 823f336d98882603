// closeloop — the command line: serve, workspace, simulate, validate; later import, backup.

#include <CLI/CLI.hpp>
#include <iostream>
#include <optional>

#include "cli_tools.h"
#include "http_server.h"
#include "serve.h"

namespace {

// CLI11 answers a mistyped or future command (`closeloop import`) with "A subcommand is
// required": name it and list the real ones instead.
std::optional<std::string> unknown_command(CLI::App& app, int argc, char** argv) {
    CLI::App* at = &app;
    std::string said = "closeloop";
    for (int i = 1; i < argc && at->get_require_subcommand_min() > 0; ++i) {
        const std::string arg = argv[i];
        if (arg.empty() || arg.front() == '-') return std::nullopt;  // options: CLI11 judges them
        const auto subs = at->get_subcommands([](CLI::App*) { return true; });
        CLI::App* next = nullptr;
        std::string known;
        for (CLI::App* sub : subs) {
            if (sub->check_name(arg)) next = sub;
            known += (known.empty() ? "" : ", ") + sub->get_name();
        }
        if (!next)
            return said + ": unknown command '" + arg + "'; the commands are: " + known + " (" + said + " --help)";
        at = next;
        said += " " + arg;
    }
    return std::nullopt;
}

// Settings files hold serve's options at their top level (`port = 8080`), or under [serve].
class ServeConfig : public CLI::ConfigTOML {
public:
    std::vector<CLI::ConfigItem> from_config(std::istream& input) const override {
        auto items = CLI::ConfigTOML::from_config(input);
        for (auto& item : items)
            if (item.parents.empty()) item.parents = {"serve"};
        return items;
    }
};

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"closeloop — closes the customer-feedback loop (NPS, CSAT, scenarios)"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "closeloop " CLOSELOOP_VERSION);

    closeloop::server::ServeOptions serve_options;
    std::string data = serve_options.data.string();
    auto* serve = app.add_subcommand("serve", "Run the HTTP API, the builder and the widget");
    serve->add_option("--data", data, "Folder of the embedded database")->capture_default_str();
    serve->add_option("--bind", serve_options.bind, "Address to listen on")->capture_default_str();
    serve->add_option("--port", serve_options.port, "Port to listen on")
        ->capture_default_str()
        ->check(CLI::Range(1, 65535));
    serve->add_option("--smtp", serve_options.smtp, "Where e-mail goes: smtp://host:port or smtps://host:port");
    serve->add_option("--smtp-user", serve_options.smtp_user, "SMTP user (better in the --config file)");
    serve->add_option("--smtp-password", serve_options.smtp_password, "SMTP password (better in the --config file)");
    serve->add_option("--dkim-key", serve_options.dkim_key,
                      "DKIM-sign every e-mail with this PEM RSA private key (needs --dkim-selector, --dkim-domain)");
    serve->add_option("--dkim-selector", serve_options.dkim_selector,
                      "DKIM selector (s=): the key is published at <selector>._domainkey.<domain>");
    serve->add_option("--dkim-domain", serve_options.dkim_domain, "DKIM signing domain (d=), usually the From domain");
    serve->add_option("--public-url", serve_options.public_url,
                      "Base of links in e-mails (unsubscribe); default http://<bind>:<port>");
    serve->add_flag("--allow-private-endpoints", serve_options.allow_private_endpoints,
                    "Let webhook endpoints be on loopback or private networks (never link-local or cloud metadata)");
    serve->add_option("--retry-schedule", serve_options.retry_schedule,
                      "Delivery retries: delays such as 0s,5s,5m,30m,2h,5h,10h,10h,14h,14h (the default, ~3 days)");
    serve->add_option("--delivery-timeout-ms", serve_options.delivery_timeout_ms, "Time limit of one delivery attempt")
        ->capture_default_str()
        ->check(CLI::Range(100, 600000));
    serve->add_option("--redeem-url", serve_options.redeem_url,
                      "The shop's page that takes a voucher, {code} for its code (e-mails' redeem button); "
                      "without it the button is left out");
    serve->add_option("--cap-per-day", serve_options.cap_per_day, "Marketing e-mails per contact a day (0 = no limit)")
        ->capture_default_str()
        ->check(CLI::Range(0, 1000));
    serve
        ->add_option("--cap-per-week", serve_options.cap_per_week,
                     "Marketing e-mails per contact a week (0 = no limit)")
        ->capture_default_str()
        ->check(CLI::Range(0, 1000));
    serve->add_option("--threads", serve_options.threads, "HTTP worker threads (they answer complete requests)")
        ->capture_default_str()
        ->check(CLI::Range(2, 1024));
    serve->add_option("--max-connections", serve_options.max_connections, "Client connections open at once")
        ->capture_default_str()
        ->check(CLI::Range(16, 1000000));
    serve
        ->add_option("--max-connections-per-address", serve_options.max_connections_per_address,
                     "Client connections open at once from one address (trusted proxies exempt)")
        ->capture_default_str()
        ->check(CLI::Range(1, 1000000));
    serve
        ->add_option("--trusted-proxy", serve_options.trusted_proxy,
                     "Addresses of reverse proxies in front (comma-separated, e.g. 127.0.0.1,::1): their "
                     "X-Forwarded-For names the client; from anyone else it is ignored")
        ->check([](const std::string& list) -> std::string {
            std::string bad;
            for (const auto& a : closeloop::server::split_list(list))
                if (!a.empty() && !closeloop::server::is_ip_address(a)) bad = a;
            return bad.empty() ? "" : "not an IP address: " + bad;
        });
    serve
        ->add_option("--rfm-interval", serve_options.rfm_interval_minutes,
                     "Minutes between RFM recomputations (also once at start); 0 = only on demand")
        ->capture_default_str()
        ->check(CLI::Range(0, 10080));
    // Rate limits: N/s, N/m or N/h, optionally ",BURST"; "off" for none.
    serve
        ->add_option("--rate-answers", serve_options.rate_answers,
                     "Answers posted with a publishable key, per key and client address (default 10/s,60)")
        ->group("Rate limits");
    serve
        ->add_option("--rate-signin", serve_options.rate_signin,
                     "Sign-in attempts per client address; a successful one costs nothing (default 10/m,10)")
        ->group("Rate limits");
    serve
        ->add_option("--rate-unsubscribe", serve_options.rate_unsubscribe,
                     "Unsubscribe pages and one-click posts per client address (default 5/s,100)")
        ->group("Rate limits");
    serve
        ->add_option("--rate-api", serve_options.rate_api,
                     "Requests with an admin key (or its sessions), per key (default 100/s,1000)")
        ->group("Rate limits");
    serve
        ->add_option("--event-max-future", serve_options.event_max_future,
                     "Refuse posted events dated more than this ISO 8601 duration after the server's clock")
        ->capture_default_str();
    serve
        ->add_option("--event-max-age", serve_options.event_max_age,
                     "Refuse posted events dated more than this ISO 8601 duration before the server's clock")
        ->capture_default_str();
    // For measurements only (tests/bench): NORMAL gives up durability on power loss.
    serve->add_option("--synchronous", serve_options.synchronous)
        ->check(CLI::IsMember({"FULL", "FULL-INLINE", "NORMAL"}))
        ->group("");
    // The same settings from a file: `port = 8080`, `data = "/var/lib/closeloop"` (TOML, or
    // INI); a value given on the command line wins over the file's.
    // --config FILE: the same settings from a file, `port = 8080` (TOML, or INI); a value on the
    // command line wins over the file's. CLI11 2.1 reads config files for the top-level app
    // only, so the option lives there (serve passes it up) and the file's keys are serve's.
    app.set_config("--config", "", "serve's settings from a file (TOML or INI: port = 8080); the command line wins")
        ->check(CLI::ExistingFile);
    app.config_formatter(std::make_shared<ServeConfig>());
    app.allow_config_extras(CLI::config_extras_mode::error);  // a mistyped setting is named, not ignored
    serve->fallthrough();
    serve->footer(
        "--config FILE reads these settings from a file (TOML or INI: port = 8080, data = \"/srv/cl\"); "
        "a value on the command line wins over the file's.");

    std::string workspace_data = "data", slug, name;
    auto* workspace = app.add_subcommand("workspace", "Manage workspaces");
    workspace->require_subcommand(1);
    auto* create = workspace->add_subcommand("create", "Create a workspace and print its keys (once)");
    create->add_option("slug", slug, "Its short name: lower-case letters, digits, '-'")->required();
    create->add_option("--name", name, "Its display name (default: the slug)");
    create->add_option("--data", workspace_data, "Folder of the embedded database")->capture_default_str();

    // `closeloop keys`: a workspace's API keys (a lost admin key is replaced here).
    std::string keys_data = "data", keys_workspace, keys_kind = "admin", keys_key, keys_id;
    auto* keys = app.add_subcommand("keys", "Manage a workspace's API keys (also while the server runs)");
    keys->require_subcommand(1);
    auto* keys_create = keys->add_subcommand("create", "Print a new key (once), or add the one given with --key");
    auto* keys_list = keys->add_subcommand("list", "List a workspace's keys (id, kind, prefix, created, revoked)");
    auto* keys_revoke = keys->add_subcommand("revoke", "Revoke a key by its id; its browser sessions end");
    for (auto* sub : {keys_create, keys_list, keys_revoke}) {
        sub->add_option("--workspace", keys_workspace, "The workspace's slug (e.g. demo)")->required();
        sub->add_option("--data", keys_data, "Folder of the embedded database")->capture_default_str();
    }
    keys_create->add_option("--kind", keys_kind, "admin or publishable")
        ->capture_default_str()
        ->check(CLI::IsMember({"admin", "publishable"}));
    keys_create->add_option("--key", keys_key, "Add this key (at least 24 characters) instead of a new random one");
    keys_revoke->add_option("id", keys_id, "The key's id, as `closeloop keys list` shows it")->required();

    closeloop::cli::SimulateOptions sim;
    auto* simulate = app.add_subcommand("simulate", "Run a scenario over sample events with no side effects");
    simulate->add_option("--scenario", sim.scenario, "Scenario JSON file")->required()->check(CLI::ExistingFile);
    simulate->add_option("--events", sim.events, "Events to run, JSON lines")->required()->check(CLI::ExistingFile);
    simulate->add_option("--contacts", sim.contacts, "Contacts, JSON lines (an rfm object is used as is)")
        ->check(CLI::ExistingFile);
    simulate->add_option("--history", sim.history, "Past events that history functions read, JSON lines")
        ->check(CLI::ExistingFile);
    simulate->add_option("--campaigns", sim.campaigns, "Voucher campaigns, a JSON array")->check(CLI::ExistingFile);
    simulate
        ->add_option("--templates", sim.templates, "Folder of template documents: each run gets its e-mails rendered")
        ->check(CLI::ExistingDirectory);
    simulate->add_flag("--fast-forward", sim.fast_forward, "End every wait at once, with now = its wake time");
    simulate->add_flag("--trace", sim.trace, "Add each run's trace (nodes and deciding values) to the output");

    closeloop::cli::ValidateOptions val;
    auto* validate = app.add_subcommand("validate", "Print a scenario's validation errors as JSON lines");
    validate->add_option("scenario", val.scenario, "Scenario JSON file")->required()->check(CLI::ExistingFile);
    validate->add_option("--templates", val.templates, "Folder of template documents to check against")
        ->check(CLI::ExistingDirectory);
    validate->add_option("--campaigns", val.campaigns, "Voucher campaigns (JSON array) to check against")
        ->check(CLI::ExistingFile);

    if (const auto message = unknown_command(app, argc, argv)) {
        std::cerr << *message << "\n";
        return 2;
    }
    CLI11_PARSE(app, argc, argv);

    if (simulate->parsed()) return closeloop::cli::simulate(sim);
    if (validate->parsed()) return closeloop::cli::validate(val);

    if (serve->parsed()) {
        serve_options.data = data;
        return closeloop::server::serve(serve_options);
    }
    if (create->parsed()) return closeloop::server::create_workspace_command(workspace_data, slug, name);
    if (keys_create->parsed())
        return closeloop::server::keys_create_command(keys_data, keys_workspace, keys_kind, keys_key);
    if (keys_list->parsed()) return closeloop::server::keys_list_command(keys_data, keys_workspace);
    if (keys_revoke->parsed()) return closeloop::server::keys_revoke_command(keys_data, keys_workspace, keys_id);
    return 0;
}
