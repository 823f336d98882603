// DKIM signatures (delivery/dkim.h) checked by libopendkim's own verifier, with the public key
// served from a file (its DKIM_QUERY_FILE test method) instead of DNS. The key pair is made by
// the openssl tool at test time. tests/server/delivery_test.py checks the same signatures with
// python3-dkim, a verifier that is not libopendkim.
#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>

#include "delivery/dkim.h"
#include "delivery/libopendkim.h"
#include "delivery/mime.h"
#include "temp_dir.h"

using namespace closeloop;
using namespace closeloop::delivery;

namespace {

std::string slurp(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

// An RSA key pair and the key record a verifier would find at
// `<selector>._domainkey.<domain>`, in the file the verifier reads instead of DNS.
struct TestKeys {
    TempDir dir;
    std::filesystem::path private_pem = dir.path / "dkim.pem", public_pem = dir.path / "dkim.pub",
                          records = dir.path / "keys.txt";
    DkimKey key;
    TestKeys() {
        const std::string command = "openssl genrsa -out '" + private_pem.string() + "' 2048 2>/dev/null && " +
                                    "openssl rsa -in '" + private_pem.string() + "' -pubout -out '" +
                                    public_pem.string() + "' 2>/dev/null";
        REQUIRE(std::system(command.c_str()) == 0);
        std::string p;  // the base64 between the PEM armour lines
        std::istringstream lines(slurp(public_pem));
        for (std::string line; std::getline(lines, line);)
            if (line.rfind("-----", 0) != 0) p += line;
        key = {"closeloop.example", "cl2025", slurp(private_pem)};
        std::ofstream(records) << key.selector << "._domainkey." << key.domain << " v=DKIM1; k=rsa; p=" << p << "\n";
    }
};

struct Verdict {
    DKIM_STAT status = DKIM_STAT_INTERNAL;
    std::string signed_headers;  // h=, as written
    std::string domain, selector;
};

Verdict verify(const TestKeys& keys, const std::string& message) {
    struct Close {
        void operator()(DKIM_LIB* l) const { dkim_close(l); }
        void operator()(DKIM* d) const { dkim_free(d); }
    };
    std::unique_ptr<DKIM_LIB, Close> lib{dkim_init(nullptr, nullptr)};
    REQUIRE(lib);
    dkim_query_t method = DKIM_QUERY_FILE;
    REQUIRE(dkim_options(lib.get(), DKIM_OP_SETOPT, DKIM_OPTS_QUERYMETHOD, &method, sizeof method) == DKIM_STAT_OK);
    std::string file = keys.records.string();
    REQUIRE(dkim_options(lib.get(), DKIM_OP_SETOPT, DKIM_OPTS_QUERYINFO, file.data(), file.size()) == DKIM_STAT_OK);
    DKIM_STAT status = DKIM_STAT_OK;
    std::unique_ptr<DKIM, Close> d{
        dkim_verify(lib.get(), reinterpret_cast<const unsigned char*>("test"), nullptr, &status)};
    REQUIRE(d);
    std::string copy = message;
    REQUIRE(dkim_chunk(d.get(), reinterpret_cast<unsigned char*>(copy.data()), copy.size()) == DKIM_STAT_OK);
    REQUIRE(dkim_chunk(d.get(), nullptr, 0) == DKIM_STAT_OK);
    Verdict v;
    v.status = dkim_eom(d.get(), nullptr);
    if (DKIM_SIGINFO* sig = dkim_getsignature(d.get())) {
        auto tag = [&](const char* name) {
            const unsigned char* value =
                dkim_sig_gettagvalue(sig, false, reinterpret_cast<unsigned char*>(const_cast<char*>(name)));
            return value ? std::string(reinterpret_cast<const char*>(value)) : std::string();
        };
        v.signed_headers = tag("h");
        v.domain = tag("d");
        v.selector = tag("s");
    }
    return v;
}

OutgoingEmail czech_email() {
    OutgoingEmail mail;
    mail.from = "Dana Nováková <ceo@closeloop.example>";
    mail.to = {"Jiří Dvořák <jiri@customer.example>"};
    mail.cc = {"owner@closeloop.example"};
    mail.subject = "Omlouváme se, pane Dvořáku: příliš žluťoučký kůň";
    mail.text = "Dobrý den,\nmrzí nás to.\n";
    mail.html = "<p>Dobrý den,</p><p>mrzí nás to.</p>";
    mail.message_id = message_id_for("effect-1", "closeloop.example");
    mail.date = Time{1767225600000};
    mail.headers = {{"List-Unsubscribe",
                     "<https://cl.example/u/tok123>, <mailto:unsubscribe@closeloop.example?subject=unsubscribe>"},
                    {"List-Unsubscribe-Post", "List-Unsubscribe=One-Click"}};
    return mail;
}

bool lists(const std::string& h, const std::string& name) {
    std::string all = ":" + h + ":";
    std::erase_if(all, [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; });
    for (char& c : all) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return all.find(":" + name + ":") != std::string::npos;
}

}  // namespace

TEST_CASE("dkim: a signed e-mail verifies with libopendkim and covers the unsubscribe headers") {
    TestKeys keys;
    const std::string message = build_email(czech_email());
    const std::string signed_message = dkim_sign(keys.key, message);

    // Prepended, the rest untouched, every line CRLF.
    REQUIRE(signed_message.rfind("DKIM-Signature: ", 0) == 0);
    CHECK(signed_message.ends_with(message));
    for (std::size_t i = signed_message.find('\n'); i != std::string::npos; i = signed_message.find('\n', i + 1))
        CHECK(signed_message[i - 1] == '\r');

    const Verdict v = verify(keys, signed_message);
    CHECK(v.status == DKIM_STAT_OK);
    CHECK(v.domain == "closeloop.example");
    CHECK(v.selector == "cl2025");
    for (const char* name : {"from", "to", "cc", "subject", "date", "message-id", "mime-version", "content-type",
                             "list-unsubscribe", "list-unsubscribe-post"})
        CHECK_MESSAGE(lists(v.signed_headers, name), name << " not in h=" << v.signed_headers);
    CHECK_FALSE(lists(v.signed_headers, "x-closeloop-effect"));

    SUBCASE("a changed Subject fails") {
        std::string tampered = signed_message;
        const auto at = tampered.find("\r\nSubject: ");
        REQUIRE(at != std::string::npos);
        tampered.insert(at + 11, "Re: ");
        CHECK(verify(keys, tampered).status == DKIM_STAT_BADSIG);
    }
    SUBCASE("a changed unsubscribe link fails") {
        std::string tampered = signed_message;
        const auto at = tampered.find("tok123");
        REQUIRE(at != std::string::npos);
        tampered.replace(at, 6, "evil99");
        CHECK(verify(keys, tampered).status == DKIM_STAT_BADSIG);
    }
    SUBCASE("a second List-Unsubscribe added on the way fails (oversigned)") {
        std::string tampered = "List-Unsubscribe: <https://evil.example/u>\r\n" + signed_message;
        CHECK(verify(keys, tampered).status == DKIM_STAT_BADSIG);
    }
    SUBCASE("a changed body fails") {
        std::string tampered = signed_message;
        const auto at = tampered.find("Dobr");
        REQUIRE(at != std::string::npos);
        tampered[at] = 'd';
        CHECK(verify(keys, tampered).status == DKIM_STAT_BADSIG);
    }
}

TEST_CASE("dkim: transactional mail (no List-Unsubscribe) cannot gain one") {
    TestKeys keys;
    OutgoingEmail mail = czech_email();
    mail.headers.clear();
    const std::string signed_message = dkim_sign(keys.key, build_email(mail));
    const Verdict v = verify(keys, signed_message);
    CHECK(v.status == DKIM_STAT_OK);
    CHECK(lists(v.signed_headers, "list-unsubscribe"));  // oversigned: asserts there is none
    CHECK(verify(keys, "List-Unsubscribe: <https://evil.example/u>\r\n" + signed_message).status == DKIM_STAT_BADSIG);
}

TEST_CASE("dkim: a bad key is refused with a clear message") {
    TempDir dir;
    const auto path = dir.path / "bad.pem";
    std::ofstream(path) << "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n";
    try {
        load_dkim_key(path, "s", "closeloop.example");
        FAIL("a bad key was accepted");
    } catch (const std::runtime_error& e) {
        CHECK(std::string(e.what()).find("bad.pem") != std::string::npos);
        CHECK(std::string(e.what()).find("cannot sign") != std::string::npos);
    }
    std::ofstream(dir.path / "text.pem") << "hello\n";
    CHECK_THROWS_WITH_AS(load_dkim_key(dir.path / "text.pem", "s", "x.example"),
                         doctest::Contains("not a PEM private key"), std::runtime_error);
    CHECK_THROWS_WITH_AS(load_dkim_key(dir.path / "missing.pem", "s", "x.example"), doctest::Contains("cannot read"),
                         std::runtime_error);
    CHECK_THROWS_AS(dkim_sign({"closeloop.example", "s", "garbage"}, "From: a@b\r\n\r\nx\r\n"), std::runtime_error);

    TestKeys keys;  // a good key loads
    CHECK(load_dkim_key(keys.private_pem, "cl2025", "closeloop.example").private_key_pem == keys.key.private_key_pem);
}
