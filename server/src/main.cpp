// closeloop — the command line: serve, and later simulate, validate, import, backup.
#include <CLI/CLI.hpp>

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

    CLI11_PARSE(app, argc, argv);

    if (serve->parsed()) {
        serve_options.data = data;
        return closeloop::server::serve(serve_options);
    }
    return 0;
}
