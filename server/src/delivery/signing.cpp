#include "delivery/signing.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <optional>
#include <stdexcept>

namespace closeloop::delivery {

namespace {

constexpr std::string_view secret_prefix = "whsec_";

std::string base64(const unsigned char* data, std::size_t size) {
    std::string out(4 * ((size + 2) / 3), '\0');
    const int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(size));
    out.resize(static_cast<std::size_t>(written));
    return out;
}

// Strict standard base64 with padding; nullopt when `text` is not that.
std::optional<std::string> unbase64(std::string_view text) {
    if (text.empty() || text.size() % 4 != 0) return std::nullopt;
    std::string out(text.size() / 4 * 3, '\0');
    const int written =
        EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                        reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
    if (written < 0) return std::nullopt;
    // EVP_DecodeBlock counts the padding as zero bytes.
    std::size_t size = static_cast<std::size_t>(written);
    if (text.back() == '=') --size;
    if (text[text.size() - 2] == '=') --size;
    out.resize(size);
    return out;
}

std::optional<std::string> secret_key(std::string_view secret) {
    if (secret.substr(0, secret_prefix.size()) == secret_prefix) secret.remove_prefix(secret_prefix.size());
    auto key = unbase64(secret);
    if (!key || key->empty()) return std::nullopt;
    return key;
}

}  // namespace

std::string new_webhook_secret() {
    unsigned char bytes[24];
    if (RAND_bytes(bytes, sizeof bytes) != 1) throw std::runtime_error("OpenSSL RAND_bytes failed");
    return std::string(secret_prefix) + base64(bytes, sizeof bytes);
}

bool valid_webhook_secret(std::string_view secret) {
    return secret_key(secret).has_value();
}

std::string webhook_signature(const std::vector<std::string>& secrets, std::string_view msg_id, std::int64_t timestamp,
                              std::string_view body) {
    std::string content;
    content.reserve(msg_id.size() + body.size() + 24);
    content.append(msg_id).append(".").append(std::to_string(timestamp)).append(".").append(body);
    std::string header;
    for (const auto& secret : secrets) {
        const auto key = secret_key(secret);
        if (!key) throw std::invalid_argument("webhook secret is not whsec_<base64>");
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned int mac_size = 0;
        HMAC(EVP_sha256(), key->data(), static_cast<int>(key->size()),
             reinterpret_cast<const unsigned char*>(content.data()), content.size(), mac, &mac_size);
        if (!header.empty()) header += ' ';
        header += "v1,";
        header += base64(mac, mac_size);
    }
    return header;
}

}  // namespace closeloop::delivery
