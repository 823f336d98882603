#include "delivery/dkim.h"

#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>

#include "delivery/libopendkim.h"

namespace closeloop::delivery {

namespace {

// Signed as RFC 6376 section 5.4.1 suggests for what the message carries, plus the RFC 8058
// unsubscribe headers.
const char* const signed_names[] = {
    "From",       "To",           "Cc",           "Subject",          "Date",
    "Message-ID", "MIME-Version", "Content-Type", "List-Unsubscribe", "List-Unsubscribe-Post",
    nullptr};
const char* const oversigned_names[] = {"From", "Subject", "List-Unsubscribe", "List-Unsubscribe-Post", nullptr};

// One library handle for the process: it holds the oversigning option; libopendkim handles
// may be used by several threads at once (the opendkim milter does), each message its own DKIM*.
DKIM_LIB* library() {
    static DKIM_LIB* const lib = [] {
        DKIM_LIB* l = dkim_init(nullptr, nullptr);
        if (l == nullptr) throw std::runtime_error("DKIM: libopendkim did not start (dkim_init)");
        if (dkim_options(l, DKIM_OP_SETOPT, DKIM_OPTS_OVERSIGNHDRS, const_cast<char**>(oversigned_names),
                         sizeof(char**)) != DKIM_STAT_OK)
            throw std::runtime_error("DKIM: libopendkim refused the oversigned header list");
        return l;
    }();
    return lib;
}

struct Free {
    void operator()(DKIM* d) const { dkim_free(d); }
};

std::string why(DKIM* d, DKIM_STAT status) {
    const char* detail = d != nullptr ? dkim_geterror(d) : nullptr;
    std::string text = dkim_getresultstr(status) ? dkim_getresultstr(status) : "error";
    if (detail != nullptr && *detail != '\0') text += ": " + std::string(detail);
    return text;
}

// libopendkim folds the header it returns with bare LF; SMTP wants CRLF.
std::string with_crlf(const unsigned char* text, std::size_t size) {
    std::string out;
    out.reserve(size + 16);
    for (std::size_t i = 0; i < size; ++i) {
        if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r')) out += '\r';
        out += static_cast<char>(text[i]);
    }
    return out;
}

}  // namespace

const std::vector<std::string>& dkim_signed_headers() {
    static const std::vector<std::string> names = [] {
        std::vector<std::string> v;
        for (const char* const* n = signed_names; *n != nullptr; ++n) {
            std::string s = *n;
            for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            v.push_back(std::move(s));
        }
        return v;
    }();
    return names;
}

std::string dkim_sign(const DkimKey& key, const std::string& message) {
    if (key.domain.empty() || key.selector.empty())
        throw std::runtime_error("DKIM: a signature needs a domain and a selector");
    DKIM_STAT status = DKIM_STAT_OK;
    std::string pem = key.private_key_pem;  // dkim_sign takes it as non-const (and copies it)
    std::unique_ptr<DKIM, Free> d{::dkim_sign(
        library(), reinterpret_cast<const unsigned char*>("closeloop"), nullptr,
        reinterpret_cast<unsigned char*>(pem.data()), reinterpret_cast<const unsigned char*>(key.selector.c_str()),
        reinterpret_cast<const unsigned char*>(key.domain.c_str()), DKIM_CANON_RELAXED, DKIM_CANON_RELAXED,
        DKIM_SIGN_RSASHA256, -1, &status)};
    if (!d) throw std::runtime_error("DKIM: cannot start a signature: " + why(nullptr, status));
    if ((status = dkim_signhdrs(d.get(), const_cast<const char**>(signed_names))) != DKIM_STAT_OK)
        throw std::runtime_error("DKIM: the signed header list was refused: " + why(d.get(), status));
    // dkim_chunk splits headers from body itself; it does not change the buffer.
    std::string copy = message;
    status = dkim_chunk(d.get(), reinterpret_cast<unsigned char*>(copy.data()), copy.size());
    if (status == DKIM_STAT_OK) status = dkim_chunk(d.get(), nullptr, 0);  // the end of the message
    if (status != DKIM_STAT_OK) throw std::runtime_error("DKIM: cannot read the message: " + why(d.get(), status));
    // The key is parsed here, so a key that is not an RSA private key fails here.
    if ((status = dkim_eom(d.get(), nullptr)) != DKIM_STAT_OK)
        throw std::runtime_error("DKIM: cannot sign (is the key a PEM RSA private key?): " + why(d.get(), status));
    static const std::string name = "DKIM-Signature";
    unsigned char* value = nullptr;
    std::size_t size = 0;
    if ((status = dkim_getsighdr_d(d.get(), name.size() + 2, &value, &size)) != DKIM_STAT_OK)
        throw std::runtime_error("DKIM: cannot write the signature: " + why(d.get(), status));
    return name + ": " + with_crlf(value, size) + "\r\n" + message;
}

DkimKey load_dkim_key(const std::filesystem::path& file, const std::string& selector, const std::string& domain) {
    std::ifstream in(file, std::ios::binary);
    std::ostringstream text;
    if (!in || !(text << in.rdbuf())) throw std::runtime_error("cannot read the DKIM key " + file.string());
    DkimKey key{domain, selector, text.str()};
    if (key.private_key_pem.find("PRIVATE KEY-----") == std::string::npos)
        throw std::runtime_error("the DKIM key " + file.string() + " is not a PEM private key");
    try {
        dkim_sign(key, "From: probe@" + domain + "\r\nSubject: probe\r\n\r\nprobe\r\n");
    } catch (const std::runtime_error& e) {
        throw std::runtime_error("the DKIM key " + file.string() + " cannot sign: " + e.what());
    }
    return key;
}

}  // namespace closeloop::delivery
