#include "keys.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <array>
#include <stdexcept>
#include <vector>

namespace closeloop::server {

namespace {

void random_bytes(unsigned char* out, std::size_t n) {
    if (RAND_bytes(out, static_cast<int>(n)) != 1) throw std::runtime_error("OpenSSL RAND_bytes failed");
}

std::string hex(const unsigned char* p, std::size_t n) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out(2 * n, '0');
    for (std::size_t i = 0; i < n; ++i) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 0xF];
    }
    return out;
}

}  // namespace

std::string random_hex(std::size_t bytes) {
    std::vector<unsigned char> buf(bytes);
    random_bytes(buf.data(), bytes);
    return hex(buf.data(), bytes);
}

std::string sha256_hex(std::string_view text) {
    std::array<unsigned char, SHA256_DIGEST_LENGTH> digest{};
    SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest.data());
    return hex(digest.data(), digest.size());
}

std::string hmac_sha256_hex(std::string_view secret, std::string_view message) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &len);
    return hex(mac, len);
}

bool secrets_equal(std::string_view a, std::string_view b) {
    return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string new_api_key(KeyKind kind) {
    return (kind == KeyKind::admin ? "cl_admin_" : "cl_pub_") + random_hex(32);
}

std::string key_prefix(std::string_view key) {
    return std::string(key.substr(0, std::min<std::size_t>(key.size(), 14))) + "...";
}

std::string new_voucher_code() {
    static constexpr char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";  // Crockford base32
    std::array<unsigned char, 10> buf{};
    random_bytes(buf.data(), buf.size());
    std::string code;
    unsigned bits = 0, acc = 0;
    for (unsigned char b : buf) {
        acc = (acc << 8) | b;
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            if (code.size() % 5 == 4) code += '-';
            code += alphabet[(acc >> bits) & 0x1F];
        }
    }
    return code;
}

std::string new_id(std::string_view prefix) {
    return std::string(prefix) + random_hex(10);
}

}  // namespace closeloop::server
