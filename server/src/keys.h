// closeloop server — secrets and ids: API keys, their hashes, voucher codes, generated ids.
//
// Randomness comes from OpenSSL's RAND_bytes (a CSPRNG); keys are stored only as SHA-256.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "store/store.h"

namespace closeloop::server {

// `bytes` random bytes as lower-case hex (2 * bytes characters).
std::string random_hex(std::size_t bytes);
// SHA-256 of `text`, lower-case hex.
std::string sha256_hex(std::string_view text);
// HMAC-SHA256 of `message` under `secret`, lower-case hex (64 digits).
std::string hmac_sha256_hex(std::string_view secret, std::string_view message);
// Compares secrets in time independent of where they differ (no timing oracle).
bool secrets_equal(std::string_view a, std::string_view b);

// A new key: "cl_admin_" or "cl_pub_" and 32 random bytes in hex.
std::string new_api_key(KeyKind kind);
// What is kept to tell keys apart in lists ("cl_admin_3f9a…"): never enough to use it.
std::string key_prefix(std::string_view key);

// A voucher code: 16 characters of Crockford base32 in groups of four (80 random bits),
// e.g. "7KQ2-M9XD-4TRB-H3WE"; no 0/O or 1/I/L confusion.
std::string new_voucher_code();
// An id for a record the server names: prefix + 20 hex characters ("ev_3f9a...").
std::string new_id(std::string_view prefix);

}  // namespace closeloop::server
