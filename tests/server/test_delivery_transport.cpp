// The delivery transport against real peers: e-mails built with GMime and parsed back with
// GMime's own parser; SMTP to a real server on loopback (smtp_peer.py, aiosmtpd); webhook posts
// to a real httplib server on loopback; the SSRF guard on literal addresses; Standard Webhooks
// signatures against the reference library's published vector.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <gmime/gmime.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "delivery/http_post.h"
#include "delivery/mime.h"
#include "delivery/signing.h"
#include "delivery/smtp.h"
#include "delivery/ssrf.h"
#include "temp_dir.h"

extern char** environ;

using namespace closeloop;
using namespace closeloop::delivery;

namespace {

std::string slurp(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

std::string without_cr(std::string text) {
    std::erase(text, '\r');
    return text;
}

// ---- e-mail parsed back with GMime -------------------------------------------------------------

struct Unref {
    void operator()(gpointer object) const { g_object_unref(object); }
};
template <class T>
using Ref = std::unique_ptr<T, Unref>;

Ref<GMimeMessage> parse_message(const std::string& raw) {
    Ref<GMimeStream> stream{g_mime_stream_mem_new_with_buffer(raw.data(), raw.size())};
    Ref<GMimeParser> parser{g_mime_parser_new_with_stream(stream.get())};
    return Ref<GMimeMessage>{g_mime_parser_construct_message(parser.get(), nullptr)};
}

std::string part_text(GMimeObject* part) {
    char* text = g_mime_text_part_get_text(GMIME_TEXT_PART(part));
    std::string out = text ? text : "";
    g_free(text);
    return without_cr(out);
}

std::string display_name(InternetAddressList* list, int index) {
    const char* name = internet_address_get_name(internet_address_list_get_address(list, index));
    return name ? name : "";
}

std::string header(GMimeObject* object, const char* name) {
    const char* value = g_mime_object_get_header(object, name);
    return value ? value : "";
}

std::vector<std::string> lines_of(const std::string& raw) {
    std::vector<std::string> lines;
    std::size_t start = 0;
    while (start < raw.size()) {
        const auto end = raw.find("\r\n", start);
        if (end == std::string::npos) {
            lines.push_back(raw.substr(start));
            break;
        }
        lines.push_back(raw.substr(start, end - start));
        start = end + 2;
    }
    return lines;
}

OutgoingEmail apology(std::string subject) {
    OutgoingEmail email;
    email.from = "Dana Novák <ceo@shop.example>";
    email.to = {"Jana Dvořáková <jana@customer.example>"};
    email.cc = {"Łukasz Żółkiewski <lukasz@shop.example>", "יעל כהן <yael@shop.example>"};
    email.subject = std::move(subject);
    email.text = "Dobrý den, Jano,\nomlouváme se. Kód: SORRY-2026, platí do 2. 12. 2026.\nŁódź, żółć; שלום\n";
    // One line far beyond SMTP's 998-octet limit: the encoding must break it.
    email.html = "<p>Omlouváme se, Jano. Kód <b>SORRY-2026</b>.</p><p>" + std::string(2500, 'x') + "</p>";
    email.message_id = message_id_for("run-1/node-3/send_email", "shop.example");
    email.date = parse_time("2026-11-22T10:00:00Z").value();
    email.headers = {
        {"List-Unsubscribe",
         "<https://shop.example/u/" + std::string(120, 't') + ">, <mailto:unsubscribe@shop.example?subject=u-1>"},
        {"List-Unsubscribe-Post", "List-Unsubscribe=One-Click"},
    };
    return email;
}

}  // namespace

TEST_CASE("transport: build_email writes 7-bit MIME that GMime parses back to the same UTF-8") {
    for (const std::string subject : {"Omlouváme se, Jano", "Przepraszamy, Łukasz", "סליחה"}) {
        CAPTURE(subject);
        const OutgoingEmail email = apology(subject);
        const std::string raw = build_email(email);

        // The wire form: ASCII only, CRLF only, no line over 998 octets, headers encoded.
        CHECK(std::all_of(raw.begin(), raw.end(), [](char c) { return static_cast<unsigned char>(c) < 128; }));
        for (std::size_t i = 0; i < raw.size(); ++i)
            if (raw[i] == '\n') REQUIRE_MESSAGE((i > 0 && raw[i - 1] == '\r'), "bare LF at ", i);
        for (const auto& line : lines_of(raw)) CHECK(line.size() <= 998);
        CHECK(raw.find("=?UTF-8?") != std::string::npos);
        CHECK(raw.find("List-Unsubscribe: <https://shop.example/u/") != std::string::npos);  // as written, not encoded
        CHECK(raw.find("Date: Sun, 22 Nov 2026 10:00:00 +0000\r\n") != std::string::npos);
        CHECK(raw.find("Message-Id: <" + email.message_id + ">") != std::string::npos);
        const auto mime_version = raw.find("MIME-Version: 1.0\r\n");
        CHECK(mime_version != std::string::npos);
        CHECK(raw.find("MIME-Version", mime_version + 1) == std::string::npos);
        const auto body_start = raw.find("\r\n\r\n");
        REQUIRE(body_start != std::string::npos);
        CHECK(raw.find("Content-Type: multipart/alternative") < body_start);

        // Parsed back: the same text.
        auto message = parse_message(raw);
        REQUIRE(message);
        CHECK(std::string(g_mime_message_get_subject(message.get())) == subject);
        InternetAddressList* from = g_mime_message_get_from(message.get());
        REQUIRE(internet_address_list_length(from) == 1);
        CHECK(display_name(from, 0) == "Dana Novák");
        InternetAddressList* to = g_mime_message_get_to(message.get());
        REQUIRE(internet_address_list_length(to) == 1);
        CHECK(display_name(to, 0) == "Jana Dvořáková");
        InternetAddressList* cc = g_mime_message_get_cc(message.get());
        REQUIRE(internet_address_list_length(cc) == 2);
        CHECK(display_name(cc, 0) == "Łukasz Żółkiewski");
        CHECK(display_name(cc, 1) == "יעל כהן");
        CHECK(std::string(g_mime_message_get_message_id(message.get())) == email.message_id);
        GDateTime* date = g_mime_message_get_date(message.get());
        REQUIRE(date);
        CHECK(g_date_time_to_unix(date) * 1000 == email.date.ms);
        CHECK(header(GMIME_OBJECT(message.get()), "List-Unsubscribe") == email.headers[0].second);
        CHECK(header(GMIME_OBJECT(message.get()), "List-Unsubscribe-Post") == "List-Unsubscribe=One-Click");

        GMimeObject* body = g_mime_message_get_mime_part(message.get());
        REQUIRE(GMIME_IS_MULTIPART(body));
        GMimeContentType* type = g_mime_object_get_content_type(body);
        CHECK(g_mime_content_type_is_type(type, "multipart", "alternative"));
        REQUIRE(g_mime_multipart_get_count(GMIME_MULTIPART(body)) == 2);
        GMimeObject* plain = g_mime_multipart_get_part(GMIME_MULTIPART(body), 0);
        GMimeObject* html = g_mime_multipart_get_part(GMIME_MULTIPART(body), 1);
        CHECK(g_mime_content_type_is_type(g_mime_object_get_content_type(plain), "text", "plain"));
        CHECK(g_mime_content_type_is_type(g_mime_object_get_content_type(html), "text", "html"));
        for (GMimeObject* part : {plain, html}) {
            CHECK(std::string(g_mime_object_get_content_type_parameter(part, "charset")) == "utf-8");
            CHECK(g_mime_part_get_content_encoding(GMIME_PART(part)) == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);
        }
        CHECK(part_text(plain) == email.text);
        CHECK(part_text(html) == email.html);
    }
}

TEST_CASE("transport: an e-mail with one alternative is a single text part; CRLF in the text stays one line end") {
    OutgoingEmail email;
    email.from = "ceo@shop.example";
    email.to = {"jana@customer.example"};
    email.subject = "Hello\r\nBcc: everyone@x.example";  // a line break must not start a header
    email.text = "line one\r\nline two\r\n";
    email.date = Time{0};
    const std::string raw = build_email(email);
    auto message = parse_message(raw);
    REQUIRE(message);
    GMimeObject* body = g_mime_message_get_mime_part(message.get());
    REQUIRE(GMIME_IS_TEXT_PART(body));
    CHECK(part_text(body) == "line one\nline two\n");
    CHECK(raw.find("=0D") == std::string::npos);  // no CR encoded into the text
    CHECK(display_name(g_mime_message_get_from(message.get()), 0).empty());
    CHECK(header(GMIME_OBJECT(message.get()), "Bcc").empty());
    CHECK(std::string(g_mime_message_get_subject(message.get())).find("Bcc: everyone@x.example") != std::string::npos);
}

TEST_CASE("transport: build_email from several threads at once (delivery workers)") {
    // The first use initialises GMime (std::call_once); the threads race for it here.
    std::vector<std::thread> threads;
    std::atomic<int> good{0};
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([t, &good] {
            for (int i = 0; i < 25; ++i) {
                const std::string subject = "Przepraszamy, Łukasz " + std::to_string(t) + "/" + std::to_string(i);
                auto message = parse_message(build_email(apology(subject)));
                if (message && g_mime_message_get_subject(message.get()) == subject) ++good;
            }
        });
    }
    for (auto& thread : threads) thread.join();
    CHECK(good == 100);
}

TEST_CASE("transport: message_id_for is a stable SHA-256 prefix of the effect key") {
    // SHA-256("abc") = ba7816bf 8f01cfea 414140de 5dae2223 b00361a3 ...
    CHECK(message_id_for("abc", "shop.example") == "ba7816bf8f01cfea414140de5dae2223@shop.example");
    CHECK(message_id_for("run-1/node-3", "x.example") == message_id_for("run-1/node-3", "x.example"));
    CHECK(message_id_for("run-1/node-3", "x.example") != message_id_for("run-1/node-4", "x.example"));
}

TEST_CASE("transport: address_of takes the address out of a mailbox") {
    CHECK(address_of("Dana Novák <ceo@x.example>") == "ceo@x.example");
    CHECK(address_of("\"Novák, Dana\" <ceo@x.example>") == "ceo@x.example");
    CHECK(address_of("=?utf-8?q?Dana_Nov=C3=A1k?= <ceo@x.example>") == "ceo@x.example");
    CHECK(address_of("ceo@x.example") == "ceo@x.example");
    CHECK(address_of("") == "");
}

// ---- SMTP against aiosmtpd -----------------------------------------------------------------------

namespace {

// tests/server/smtp_peer.py on a free loopback port, stopped (SIGTERM) at the end of the test.
struct SmtpPeer {
    TempDir dir;
    pid_t pid = -1;
    int port = 0;

    explicit SmtpPeer(std::vector<std::string> options = {}) {
        int out[2];
        REQUIRE(pipe(out) == 0);
        std::vector<std::string> args = {"/usr/bin/python3", SMTP_PEER_PY, "--port", "0", "--dir", dir.path.string()};
        args.insert(args.end(), options.begin(), options.end());
        std::vector<char*> argv;
        for (auto& arg : args) argv.push_back(arg.data());
        argv.push_back(nullptr);
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
        posix_spawn_file_actions_addclose(&actions, out[0]);
        const int spawned = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        close(out[1]);
        REQUIRE(spawned == 0);
        // Read "port N" then "ready"; the peer prints them once it listens.
        std::string seen;
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        while (seen.find("ready\n") == std::string::npos && std::chrono::steady_clock::now() < deadline) {
            pollfd fd{out[0], POLLIN, 0};
            if (poll(&fd, 1, 200) <= 0) continue;
            char buffer[256];
            const ssize_t n = read(out[0], buffer, sizeof buffer);
            if (n <= 0) break;
            seen.append(buffer, static_cast<std::size_t>(n));
        }
        close(out[0]);
        REQUIRE_MESSAGE(seen.find("ready\n") != std::string::npos, "smtp_peer.py said: ", seen);
        REQUIRE(std::sscanf(seen.c_str(), "port %d", &port) == 1);
    }
    ~SmtpPeer() {
        if (pid > 0) {
            kill(pid, SIGTERM);
            waitpid(pid, nullptr, 0);
        }
    }
    std::string url() const { return "smtp://127.0.0.1:" + std::to_string(port); }
    std::filesystem::path file(const std::string& name) const { return dir.path / name; }
    int connections() const { return std::stoi(slurp(file("connections"))); }
};

SmtpConfig config_for(const SmtpPeer& peer) {
    SmtpConfig config;
    config.url = peer.url();
    config.timeout = std::chrono::milliseconds(10000);
    config.helo_domain = "closeloop.test";
    return config;
}

int unused_port() {
    const int s = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(s, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    socklen_t size = sizeof address;
    getsockname(s, reinterpret_cast<sockaddr*>(&address), &size);
    close(s);  // nothing listens there now
    return ntohs(address.sin_port);
}

}  // namespace

TEST_CASE("transport: SMTP sends three messages over one connection") {
    SmtpPeer peer;
    SmtpClient client(config_for(peer));
    std::vector<std::string> sent;
    for (int i = 1; i <= 3; ++i) {
        OutgoingEmail email = apology("Omlouváme se, Jano #" + std::to_string(i));
        email.message_id = message_id_for("effect-" + std::to_string(i), "shop.example");
        sent.push_back(build_email(email));
        const SmtpResult result =
            client.send("ceo@shop.example", {"jana@customer.example", "lukasz@shop.example"}, sent.back());
        CAPTURE(result.error);
        CHECK(result.ok);
        CHECK(result.code == 250);
        CHECK(result.rejected.empty());
        CHECK(result.duration.count() >= 0);
    }
    std::set<std::string> peers;
    for (int i = 1; i <= 3; ++i) {
        char stem[8];
        std::snprintf(stem, sizeof stem, "%04d", i);
        CHECK(slurp(peer.file(std::string(stem) + ".eml")) == sent[static_cast<std::size_t>(i - 1)]);
        const std::string meta = slurp(peer.file(std::string(stem) + ".json"));
        CHECK(meta.find("\"mail_from\": \"ceo@shop.example\"") != std::string::npos);
        CHECK(meta.find("\"rcpt_tos\": [\"jana@customer.example\", \"lukasz@shop.example\"]") != std::string::npos);
        peers.insert(meta.substr(meta.find("\"peer\"")));
    }
    CHECK(peers.size() == 1);  // the same client port for all three
    CHECK(peer.connections() == 1);
}

TEST_CASE("transport: SMTP 451 is reported, and the next try goes through") {
    SmtpPeer peer({"--fail-first", "1"});
    SmtpClient client(config_for(peer));
    const std::string message = build_email(apology("Przepraszamy, Łukasz"));
    const SmtpResult first = client.send("ceo@shop.example", {"jana@customer.example"}, message);
    CHECK_FALSE(first.ok);
    CHECK(first.code == 451);
    CHECK(first.error.find("451") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(peer.file("0001.eml")));
    const SmtpResult second = client.send("ceo@shop.example", {"jana@customer.example"}, message);
    CAPTURE(second.error);
    CHECK(second.ok);
    CHECK(second.code == 250);
    CHECK(slurp(peer.file("0001.eml")) == message);
}

TEST_CASE("transport: SMTP 550 for a recipient") {
    SmtpPeer peer({"--reject", "gone@customer.example"});
    SmtpClient client(config_for(peer));
    const std::string message = build_email(apology("סליחה"));

    SUBCASE("the only recipient: the send fails with 550") {
        const SmtpResult result = client.send("ceo@shop.example", {"gone@customer.example"}, message);
        CHECK_FALSE(result.ok);
        CHECK(result.code == 550);
        CHECK(result.rejected == std::vector<std::string>{"gone@customer.example"});
        CHECK_FALSE(std::filesystem::exists(peer.file("0001.eml")));
    }
    SUBCASE("one of two: the other gets the message, the refused one is named") {
        const SmtpResult result =
            client.send("ceo@shop.example", {"gone@customer.example", "jana@customer.example"}, message);
        CAPTURE(result.error);
        CHECK(result.ok);
        CHECK(result.code == 250);
        CHECK(result.rejected == std::vector<std::string>{"gone@customer.example"});
        CHECK(slurp(peer.file("0001.json")).find("\"rcpt_tos\": [\"jana@customer.example\"]") != std::string::npos);
    }
}

TEST_CASE("transport: SMTP reports code 0, not the last reply, when the server has gone") {
    std::optional<SmtpPeer> peer(std::in_place);
    SmtpClient client(config_for(*peer));
    const std::string message = build_email(apology("Omlouváme se, Jano"));
    REQUIRE(client.send("ceo@shop.example", {"jana@customer.example"}, message).code == 250);
    peer.reset();  // stopped: the kept connection is dead and nothing listens
    const SmtpResult result = client.send("ceo@shop.example", {"jana@customer.example"}, message);
    CHECK_FALSE(result.ok);
    CHECK(result.code == 0);
}

namespace {

// A self-signed certificate for 127.0.0.1, made by the openssl tool.
struct TestCertificate {
    TempDir dir;
    std::string cert = (dir.path / "cert.pem").string(), key = (dir.path / "key.pem").string();
    TestCertificate() {
        const std::string command =
            "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout '" + key + "' -out '" +
            cert + "' -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1";
        REQUIRE(std::system(command.c_str()) == 0);
    }
};

}  // namespace

TEST_CASE("transport: SMTP with STARTTLS and AUTH") {
    TestCertificate certificate;
    SmtpPeer peer({"--auth", "mailer:s3cret", "--tls-cert", certificate.cert, "--tls-key", certificate.key});
    SmtpConfig config = config_for(peer);
    config.require_tls = true;
    config.ca_file = certificate.cert;
    const std::string message = build_email(apology("Omlouváme se, Jano"));

    SUBCASE("the right password") {
        config.user = "mailer";
        config.password = "s3cret";
        SmtpClient client(config);
        const SmtpResult result = client.send("ceo@shop.example", {"jana@customer.example"}, message);
        CAPTURE(result.error);
        CHECK(result.ok);
        const std::string meta = slurp(peer.file("0001.json"));
        CHECK(meta.find("\"tls\": true") != std::string::npos);
        CHECK(meta.find("\"login\": \"mailer\"") != std::string::npos);
    }
    SUBCASE("a wrong password") {
        config.user = "mailer";
        config.password = "guess";
        SmtpClient client(config);
        const SmtpResult result = client.send("ceo@shop.example", {"jana@customer.example"}, message);
        CHECK_FALSE(result.ok);
        CHECK(result.code == 535);
        CHECK_FALSE(std::filesystem::exists(peer.file("0001.eml")));
    }
    SUBCASE("no credentials where the server requires them") {
        SmtpClient client(config);
        const SmtpResult result = client.send("ceo@shop.example", {"jana@customer.example"}, message);
        CHECK_FALSE(result.ok);
        CHECK(result.code == 530);
    }
    SUBCASE("a certificate the client does not trust") {
        config.ca_file.clear();  // the system's authorities do not know it
        SmtpClient client(config);
        const SmtpResult result = client.send("ceo@shop.example", {"jana@customer.example"}, message);
        CHECK_FALSE(result.ok);
        CHECK_FALSE(std::filesystem::exists(peer.file("0001.eml")));
    }
}

TEST_CASE("transport: SMTP require_tls refuses to send in clear") {
    SmtpPeer peer;  // offers no STARTTLS
    SmtpConfig config = config_for(peer);
    const std::string message = build_email(apology("Omlouváme se, Jano"));
    config.require_tls = true;
    const SmtpResult refused = SmtpClient(config).send("ceo@shop.example", {"jana@customer.example"}, message);
    CHECK_FALSE(refused.ok);
    CHECK_FALSE(std::filesystem::exists(peer.file("0001.eml")));
    config.require_tls = false;  // STARTTLS when offered: here it is not, so in clear
    const SmtpResult sent = SmtpClient(config).send("ceo@shop.example", {"jana@customer.example"}, message);
    CHECK(sent.ok);
    CHECK(slurp(peer.file("0001.json")).find("\"tls\": false") != std::string::npos);
}

TEST_CASE("transport: SMTPS (TLS from the first byte)") {
    TestCertificate certificate;
    SmtpPeer peer({"--tls-cert", certificate.cert, "--tls-key", certificate.key, "--smtps"});
    SmtpConfig config = config_for(peer);
    config.url = "smtps://127.0.0.1:" + std::to_string(peer.port);
    config.ca_file = certificate.cert;
    const SmtpResult result =
        SmtpClient(config).send("ceo@shop.example", {"jana@customer.example"}, build_email(apology("סליחה")));
    CAPTURE(result.error);
    CHECK(result.ok);
    CHECK(slurp(peer.file("0001.json")).find("\"tls\": true") != std::string::npos);
}

TEST_CASE("transport: SMTP never puts a malformed address into a command") {
    SmtpPeer peer;
    SmtpClient client(config_for(peer));
    const std::string message = build_email(apology("Omlouváme se, Jano"));

    const SmtpResult injected = client.send(
        "ceo@shop.example", {"jana@customer.example>\r\nRCPT TO:<spy@evil.example", "lukasz@shop.example"}, message);
    CAPTURE(injected.error);
    CHECK(injected.ok);  // the well-formed recipient got it
    CHECK(injected.malformed);
    CHECK(injected.rejected.size() == 1);
    CHECK(slurp(peer.file("0001.json")).find("\"rcpt_tos\": [\"lukasz@shop.example\"]") != std::string::npos);

    const SmtpResult none = client.send("ceo@shop.example", {"no-at-sign", "two words@x.example"}, message);
    CHECK_FALSE(none.ok);
    CHECK(none.malformed);
    CHECK(none.rejected.size() == 2);
    const SmtpResult bad_sender = client.send("ceo@shop.example\r\nDATA", {"jana@customer.example"}, message);
    CHECK_FALSE(bad_sender.ok);
    CHECK(bad_sender.malformed);
    CHECK_FALSE(std::filesystem::exists(peer.file("0002.eml")));
}

TEST_CASE("transport: SMTP connection refused gives code 0") {
    SmtpConfig config;
    config.url = "smtp://127.0.0.1:" + std::to_string(unused_port());
    config.timeout = std::chrono::milliseconds(5000);
    SmtpClient client(config);
    const SmtpResult result = client.send("ceo@shop.example", {"jana@customer.example"}, "Subject: x\r\n\r\nx\r\n");
    CHECK_FALSE(result.ok);
    CHECK(result.code == 0);
    CHECK_FALSE(result.error.empty());
}

// ---- webhook posts against httplib -------------------------------------------------------------

namespace {

struct Receiver {
    httplib::Server server;
    int port = 0;
    std::thread thread;
    std::mutex mutex;
    std::condition_variable released_cv;
    bool released = false;
    std::vector<int> remote_ports;  // one per request, in order
    httplib::Headers last_headers;
    std::string last_body;

    Receiver() {
        auto record = [this](const httplib::Request& request) {
            std::lock_guard lock(mutex);
            remote_ports.push_back(request.remote_port);
            last_headers = request.headers;
            last_body = request.body;
        };
        server.Post("/ok", [record](const httplib::Request& request, httplib::Response& response) {
            record(request);
            response.set_content("{\"ok\":true}", "application/json");
        });
        server.Post("/fail", [record](const httplib::Request& request, httplib::Response& response) {
            record(request);
            response.status = 500;
            response.set_content("internal trouble", "text/plain");
        });
        server.Post("/busy", [record](const httplib::Request& request, httplib::Response& response) {
            record(request);
            response.status = 429;
            response.set_header("Retry-After", "120");
        });
        server.Post("/gone", [record](const httplib::Request& request, httplib::Response& response) {
            record(request);
            response.status = 410;
        });
        server.Post("/moved", [record](const httplib::Request& request, httplib::Response& response) {
            record(request);
            response.status = 302;
            response.set_header("Location", "/ok");
        });
        server.Post("/big", [record](const httplib::Request& request, httplib::Response& response) {
            record(request);
            response.set_content(std::string(2000, 'b'), "text/plain");
        });
        server.Post("/slow", [this, record](const httplib::Request& request, httplib::Response& response) {
            record(request);
            std::unique_lock lock(mutex);
            released_cv.wait_for(lock, std::chrono::seconds(10), [this] { return released; });
            response.set_content("late", "text/plain");
        });
        server.set_keep_alive_max_count(100);  // httplib closes after 5 requests by default
        port = server.bind_to_any_port("127.0.0.1");
        REQUIRE(port > 0);
        thread = std::thread([this] { server.listen_after_bind(); });
    }
    ~Receiver() {
        {
            std::lock_guard lock(mutex);
            released = true;
        }
        released_cv.notify_all();
        server.stop();
        thread.join();
    }
    HttpTarget target(const std::string& path) const {
        return {"http://127.0.0.1:" + std::to_string(port) + path, /*allow_private=*/true};
    }
};

}  // namespace

TEST_CASE("transport: webhook posts get the receiver's status, Retry-After and body, over one connection") {
    Receiver receiver;
    HttpPoster poster(std::chrono::milliseconds(5000));
    const std::string body = R"({"event":"nps.detractor","score":3})";

    const HttpResult ok =
        poster.post(receiver.target("/ok"), body, {{"webhook-id", "effect-1"}, {"X-Note", "a\r\nX-Injected: 1"}});
    CAPTURE(ok.error);
    CHECK(ok.status == 200);
    CHECK(ok.error.empty());
    CHECK(ok.body_excerpt == "{\"ok\":true}");
    {
        std::lock_guard lock(receiver.mutex);
        CHECK(receiver.last_body == body);
        CHECK(receiver.last_headers.find("webhook-id")->second == "effect-1");
        CHECK(receiver.last_headers.count("X-Injected") == 0);
        CHECK(receiver.last_headers.find("Content-Type")->second == "application/json");
        CHECK(receiver.last_headers.find("User-Agent")->second == std::string(user_agent()));
        CHECK(std::string(user_agent()).rfind("closeloop/", 0) == 0);
    }

    const HttpResult fail = poster.post(receiver.target("/fail"), body, {});
    CHECK(fail.status == 500);
    CHECK(fail.body_excerpt == "internal trouble");
    const HttpResult busy = poster.post(receiver.target("/busy"), body, {});
    CHECK(busy.status == 429);
    CHECK(busy.retry_after == "120");
    const HttpResult gone = poster.post(receiver.target("/gone"), body, {});
    CHECK(gone.status == 410);
    CHECK(gone.retry_after.empty());
    const HttpResult moved = poster.post(receiver.target("/moved"), body, {});
    CHECK(moved.status == 302);  // not followed: a redirect could lead past the SSRF guard
    const HttpResult big = poster.post(receiver.target("/big"), body, {});
    CHECK(big.status == 200);
    CHECK(big.body_excerpt == std::string(500, 'b'));

    std::lock_guard lock(receiver.mutex);
    CHECK(receiver.remote_ports.size() == 6);  // the redirect was not followed to /ok
    CHECK(std::set<int>(receiver.remote_ports.begin(), receiver.remote_ports.end()).size() == 1);
}

TEST_CASE("transport: a webhook answering slower than the timeout gives status 0 and a timeout") {
    Receiver receiver;
    HttpPoster poster(std::chrono::milliseconds(300));
    const HttpResult slow = poster.post(receiver.target("/slow"), "{}", {});
    CHECK(slow.status == 0);
    CHECK(slow.timed_out);
    CHECK(slow.error.find("timeout") != std::string::npos);
    CHECK(slow.duration >= std::chrono::milliseconds(250));  // libcurl rounds its clock
    CHECK(slow.duration < std::chrono::milliseconds(5000));
}

TEST_CASE("transport: a webhook post to a refused address never leaves the machine") {
    Receiver receiver;
    HttpPoster poster(std::chrono::milliseconds(2000));
    const auto local = "http://127.0.0.1:" + std::to_string(receiver.port) + "/ok";

    const HttpResult loopback = poster.post({local, false}, "{}", {});
    CHECK(loopback.status == 0);
    CHECK(loopback.refused);
    CHECK(loopback.error.find("127.0.0.1") != std::string::npos);
    const HttpResult by_name =
        poster.post({"http://localhost:" + std::to_string(receiver.port) + "/ok", false}, "{}", {});
    CHECK(by_name.refused);
    CHECK(by_name.error.find("loopback") != std::string::npos);
    const HttpResult metadata = poster.post({"http://169.254.169.254/latest/meta-data/", true}, "{}", {});
    CHECK(metadata.refused);
    CHECK(metadata.error.find("169.254.169.254") != std::string::npos);
    CHECK(metadata.error.find("metadata") != std::string::npos);
    CHECK(metadata.duration < std::chrono::milliseconds(1000));  // refused before any connect
    const HttpResult google = poster.post({"http://metadata.google.internal/computeMetadata/v1/", true}, "{}", {});
    CHECK(google.refused);
    const HttpResult other_scheme = poster.post({"ftp://127.0.0.1/x", true}, "{}", {});
    CHECK(other_scheme.refused);
    {
        std::lock_guard lock(receiver.mutex);
        CHECK(receiver.remote_ports.empty());
    }

    // A name (not a literal) goes through the pinned-address path when allowed.
    const HttpResult allowed =
        poster.post({"http://localhost:" + std::to_string(receiver.port) + "/ok", true}, "{}", {});
    CAPTURE(allowed.error);
    CHECK(allowed.status == 200);
}

// ---- the SSRF guard on literal addresses -----------------------------------------------------------

namespace {

sockaddr_storage address(const std::string& text) {
    sockaddr_storage storage{};
    if (text.find(':') == std::string::npos) {
        auto* in = reinterpret_cast<sockaddr_in*>(&storage);
        in->sin_family = AF_INET;
        REQUIRE(inet_pton(AF_INET, text.c_str(), &in->sin_addr) == 1);
    } else {
        auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
        in6->sin6_family = AF_INET6;
        REQUIRE(inet_pton(AF_INET6, text.c_str(), &in6->sin6_addr) == 1);
    }
    return storage;
}

enum class Verdict { allowed, private_only, never };

}  // namespace

TEST_CASE("transport: address_allowed, address by address") {
    const std::vector<std::pair<std::string, Verdict>> table = {
        // public
        {"93.184.216.34", Verdict::allowed},
        {"8.8.8.8", Verdict::allowed},
        {"1.1.1.1", Verdict::allowed},
        {"172.15.255.255", Verdict::allowed},  // just below 172.16/12
        {"172.32.0.0", Verdict::allowed},      // just above
        {"100.63.255.255", Verdict::allowed},  // just below 100.64/10
        {"100.128.0.0", Verdict::allowed},     // just above
        {"169.253.255.255", Verdict::allowed},
        {"2606:4700:4700::1111", Verdict::allowed},
        {"2001:db8::1", Verdict::allowed},
        {"::ffff:8.8.8.8", Verdict::allowed},
        // private: only with allow_private
        {"127.0.0.1", Verdict::private_only},
        {"127.255.255.254", Verdict::private_only},
        {"10.0.0.1", Verdict::private_only},
        {"10.255.255.255", Verdict::private_only},
        {"172.16.0.1", Verdict::private_only},
        {"172.31.255.255", Verdict::private_only},
        {"192.168.1.1", Verdict::private_only},
        {"100.64.0.1", Verdict::private_only},
        {"100.127.255.255", Verdict::private_only},
        {"::1", Verdict::private_only},
        {"fc00::1", Verdict::private_only},
        {"fd12:3456::1", Verdict::private_only},
        {"fec0::1", Verdict::private_only},
        {"::ffff:127.0.0.1", Verdict::private_only},
        {"::ffff:10.1.2.3", Verdict::private_only},
        {"::ffff:192.168.0.10", Verdict::private_only},
        {"64:ff9b::a00:1", Verdict::private_only},    // NAT64 of 10.0.0.1
        {"2002:c0a8:101::1", Verdict::private_only},  // 6to4 of 192.168.1.1
        // never
        {"169.254.169.254", Verdict::never},
        {"169.254.0.1", Verdict::never},
        {"169.254.255.255", Verdict::never},
        {"100.100.100.200", Verdict::never},
        {"0.0.0.0", Verdict::never},
        {"0.1.2.3", Verdict::never},
        {"224.0.0.1", Verdict::never},
        {"239.255.255.250", Verdict::never},
        {"255.255.255.255", Verdict::never},
        {"::", Verdict::never},
        {"fe80::1", Verdict::never},
        {"febf::1", Verdict::never},
        {"ff02::1", Verdict::never},
        {"fd00:ec2::254", Verdict::never},
        {"::ffff:169.254.169.254", Verdict::never},
        {"::ffff:0.0.0.0", Verdict::never},
        {"64:ff9b::a9fe:a9fe", Verdict::never},  // NAT64 of 169.254.169.254
    };
    for (const auto& [text, verdict] : table) {
        CAPTURE(text);
        const sockaddr_storage storage = address(text);
        const auto* sa = reinterpret_cast<const sockaddr*>(&storage);
        std::string why;
        CHECK(address_allowed(sa, true, &why) == (verdict != Verdict::never));
        if (verdict == Verdict::never) CHECK(why.find(text) != std::string::npos);
        why.clear();
        CHECK(address_allowed(sa, false, &why) == (verdict == Verdict::allowed));
        if (verdict != Verdict::allowed) CHECK(why.find(text) != std::string::npos);
        CHECK(address_allowed(sa, false, nullptr) == (verdict == Verdict::allowed));
    }
}

TEST_CASE("transport: refuse_url checks scheme, host and every resolved address") {
    CHECK(refuse_url("http://127.0.0.1:8080/hook", true) == std::nullopt);
    CHECK(refuse_url("https://[::1]/hook", true) == std::nullopt);
    CHECK(refuse_url("http://127.0.0.1:8080/hook", false).value().find("loopback") != std::string::npos);
    CHECK(refuse_url("http://[fe80::1]/hook", true).value().find("link-local") != std::string::npos);
    CHECK(refuse_url("http://169.254.169.254/", true).value().find("metadata") != std::string::npos);
    CHECK(refuse_url("http://METADATA.google.internal./", true).value().find("metadata") != std::string::npos);
    CHECK(refuse_url("http://0.0.0.0/", true).has_value());
    CHECK(refuse_url("file:///etc/passwd", true).has_value());
    CHECK(refuse_url("gopher://127.0.0.1/", true).has_value());
    CHECK(refuse_url("http:///nohost", true).has_value());
    CHECK(refuse_url("not a url", true).has_value());
    // Decimal and hex forms of 127.0.0.1 resolve to it and are judged as such.
    CHECK(refuse_url("http://2130706433/", false).has_value());
    CHECK(refuse_url("http://0x7f.0.0.1/", false).has_value());

    const CheckedUrl checked = check_url("http://localhost:9/x", true);
    CHECK(checked.error.empty());
    CHECK(checked.host == "localhost");
    CHECK(checked.port == 9);
    CHECK_FALSE(checked.host_is_address);
    CHECK_FALSE(checked.addresses.empty());
    CHECK(check_url("https://127.0.0.1/", true).port == 443);
    const CheckedUrl unresolvable = check_url("http://no-such-host.invalid/", true);
    CHECK_FALSE(unresolvable.error.empty());
    CHECK_FALSE(unresolvable.refused);  // may resolve later: the caller retries
}

// ---- Standard Webhooks signatures ----------------------------------------------------------------

TEST_CASE("transport: webhook_signature matches the Standard Webhooks reference vector") {
    // From the reference JavaScript library's tests ("sign function works").
    const std::string secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const std::string expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    CHECK(webhook_signature({secret}, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, R"({"test": 2432232314})") ==
          expected);
    // A bare base64 secret signs the same, as the reference libraries accept it.
    CHECK(webhook_signature({"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
                            R"({"test": 2432232314})") == expected);
    CHECK(webhook_signature({secret}, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265331, R"({"test": 2432232314})") !=
          expected);

    // During a rotation: one signature per secret, space-separated, in order.
    const std::string next = new_webhook_secret();
    const std::string both =
        webhook_signature({next, secret}, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, R"({"test": 2432232314})");
    const auto space = both.find(' ');
    REQUIRE(space != std::string::npos);
    CHECK(both.substr(0, 3) == "v1,");
    CHECK(both.substr(space + 1) == expected);
    CHECK(both.substr(0, space) != expected);

    CHECK_THROWS_AS(webhook_signature({"whsec_not base64!"}, "m", 1, "{}"), std::invalid_argument);
}

TEST_CASE("transport: new_webhook_secret is whsec_ and 24 random bytes") {
    const std::string a = new_webhook_secret(), b = new_webhook_secret();
    CHECK(a.rfind("whsec_", 0) == 0);
    CHECK(a.size() == 6 + 32);  // 24 bytes are 32 base64 characters, no padding
    CHECK(a != b);
    CHECK(valid_webhook_secret(a));
    CHECK_FALSE(valid_webhook_secret("whsec_"));
    CHECK_FALSE(valid_webhook_secret("whsec_abc"));
    CHECK_FALSE(valid_webhook_secret("whsec_####"));
}
