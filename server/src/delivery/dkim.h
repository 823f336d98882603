// closeloop delivery — DKIM signatures (RFC 6376) with libopendkim.
//
// Mailbox providers want bulk mail signed, and the signature must cover List-Unsubscribe and
// List-Unsubscribe-Post (RFC 8058 section 4: otherwise anyone relaying the message could point
// the one-click POST elsewhere). The signature is rsa-sha256 with relaxed/relaxed
// canonicalisation (it survives a relay refolding headers or re-spacing lines). The headers
// below are signed, and From, Subject and the two unsubscribe headers once more than they occur
// ("oversigned"): a relay cannot add a second one, and a message without List-Unsubscribe
// (transactional mail) cannot gain one, without breaking the signature.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace closeloop::delivery {

struct DkimKey {
    std::string domain;           // d=: the DNS zone holding <selector>._domainkey.<domain>
    std::string selector;         // s=
    std::string private_key_pem;  // an RSA private key, PEM (PKCS#1 or PKCS#8)
};

// The header fields a signature covers (lower case, in the order of h=, before oversigning).
const std::vector<std::string>& dkim_signed_headers();

// `message` (a whole RFC 5322 message with CRLF line ends, as build_email makes it) with a
// `DKIM-Signature:` header field prepended. Throws std::runtime_error naming the cause when
// the key cannot sign (not a PEM RSA private key) or the message cannot be signed (no From).
std::string dkim_sign(const DkimKey& key, const std::string& message);

// The key of `--dkim-key FILE`: reads the file and signs a probe message with it, so a key that
// cannot sign fails at start, not at the first e-mail. Throws std::runtime_error naming the
// file and the cause.
DkimKey load_dkim_key(const std::filesystem::path& file, const std::string& selector, const std::string& domain);

}  // namespace closeloop::delivery
