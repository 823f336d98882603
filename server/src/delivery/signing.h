// closeloop delivery — Standard Webhooks signatures (https://www.standardwebhooks.com).
//
// A receiver checks `webhook-signature` against HMAC-SHA256(secret, "<webhook-id>.<webhook-
// timestamp>.<body>") and rejects a stale timestamp, so it can refuse forgeries and replays.
// During a rotation the header carries one signature per secret, separated by spaces.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace closeloop::delivery {

// "whsec_" + base64 of 24 random bytes (OpenSSL's CSPRNG).
std::string new_webhook_secret();

// True when `secret` is "whsec_<base64>" (or bare base64, as the reference libraries accept)
// of at least one byte.
bool valid_webhook_secret(std::string_view secret);

// The `webhook-signature` header's value: "v1,<base64 HMAC-SHA256>" per secret, joined by a
// space. Every secret must be valid_webhook_secret (they come from new_webhook_secret); an
// invalid one throws std::invalid_argument, as a bug rather than a delivery failure.
std::string webhook_signature(const std::vector<std::string>& secrets, std::string_view msg_id, std::int64_t timestamp,
                              std::string_view body);

}  // namespace closeloop::delivery
