// closeloop — the command line: serve, workspace; later simulate, validate, import, backup.
#include <CLI/CLI.hpp>

#include "cli_tools.h"
#include "serve.h"

int main(int argc, char** argv) {
    CLI::App app{"closeloop — closes the customer-feedback loop (NPS, CSAT, scenarios)"};
    app.require_subcommand(1);

    closeloop::server::ServeOptions serve_options;
    std::string data = serve_options.data.string();
    auto* serve = app.add_subcommand("serve", "Run the HTTP API, the builder and the widget");
    serve->add_option("--data", data, "Folder of the embedded database")->capture_default_str();
    serve->add_option("--bind", serve_options.bind, "Address to listen on")->capture_default_str();
    serve->add_option("--port", serve_options.port, "Port to listen on")
        ->capture_default_str()
        ->check(CLI::Range(1, 65535));
    serve->add_option("--smtp", serve_options.smtp, "Where e-mail goes: smtp://host:port or smtps://host:port");
    serve->add_option("--public-url", serve_options.public_url, "Base of links in e-mails");
    serve->add_option("--threads", serve_options.threads, "HTTP worker threads (each open connection holds one)")
        ->capture_default_str()
        ->check(CLI::Range(2, 1024));
    serve
        ->add_option("--rfm-interval", serve_options.rfm_interval_minutes,
                     "Minutes between RFM recomputations (also once at start); 0 = only on demand")
        ->capture_default_str()
        ->check(CLI::Range(0, 10080));
    // For measurements only (tests/bench): NORMAL gives up durability on power loss.
    serve->add_option("--synchronous", serve_options.synchronous)
        ->check(CLI::IsMember({"FULL", "FULL-INLINE", "NORMAL"}))
        ->group("");

    std::string workspace_data = "data", slug, name;
    auto* workspace = app.add_subcommand("workspace", "Manage workspaces");
    workspace->require_subcommand(1);
    auto* create = workspace->add_subcommand("create", "Create a workspace and print its keys (once)");
    create->add_option("slug", slug, "Its short name: lower-case letters, digits, '-'")->required();
    create->add_option("--name", name, "Its display name (default: the slug)");
    create->add_option("--data", workspace_data, "Folder of the embedded database")->capture_default_str();

    closeloop::cli::SimulateOptions sim;
    auto* simulate = app.add_subcommand("simulate", "Run a scenario over sample events with no side effects");
    simulate->add_option("--scenario", sim.scenario, "Scenario JSON file")->required()->check(CLI::ExistingFile);
    simulate->add_option("--events", sim.events, "Events to run, JSON lines")->required()->check(CLI::ExistingFile);
    simulate->add_option("--contacts", sim.contacts, "Contacts, JSON lines (an rfm object is used as is)")
        ->check(CLI::ExistingFile);
    simulate->add_option("--history", sim.history, "Past events that history functions read, JSON lines")
        ->check(CLI::ExistingFile);
    simulate->add_option("--campaigns", sim.campaigns, "Voucher campaigns, a JSON array")->check(CLI::ExistingFile);
    simulate->add_flag("--fast-forward", sim.fast_forward, "End every wait at once, with now = its wake time");
    simulate->add_flag("--trace", sim.trace, "Add each run's trace (nodes and deciding values) to the output");

    closeloop::cli::ValidateOptions val;
    auto* validate = app.add_subcommand("validate", "Print a scenario's validation errors as JSON lines");
    validate->add_option("scenario", val.scenario, "Scenario JSON file")->required()->check(CLI::ExistingFile);
    validate->add_option("--templates", val.templates, "Folder of template documents to check against")
        ->check(CLI::ExistingDirectory);
    validate->add_option("--campaigns", val.campaigns, "Voucher campaigns (JSON array) to check against")
        ->check(CLI::ExistingFile);

    CLI11_PARSE(app, argc, argv);

    if (simulate->parsed()) return closeloop::cli::simulate(sim);
    if (validate->parsed()) return closeloop::cli::validate(val);

    if (serve->parsed()) {
        serve_options.data = data;
        return closeloop::server::serve(serve_options);
    }
    if (create->parsed()) return closeloop::server::create_workspace_command(workspace_data, slug, name);
    return 0;
}
