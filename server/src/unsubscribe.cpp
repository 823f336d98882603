#include "unsubscribe.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cctype>
#include <mutex>
#include <nlohmann/json.hpp>

#include "closeloop/detail/json_read.h"
#include "keys.h"

namespace closeloop::server {

namespace {

std::string base64url(std::string_view bytes) {
    std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
    out.resize(static_cast<std::size_t>(n));
    while (!out.empty() && out.back() == '=') out.pop_back();
    for (char& c : out) c = c == '+' ? '-' : c == '/' ? '_' : c;
    return out;
}

std::optional<std::string> unbase64url(std::string_view text) {
    if (text.size() > 4096) return std::nullopt;
    std::string in(text);
    for (char& c : in) {
        if (c == '-')
            c = '+';
        else if (c == '_')
            c = '/';
        else if (!std::isalnum(static_cast<unsigned char>(c)))
            return std::nullopt;
    }
    const std::size_t pad = (4 - in.size() % 4) % 4;
    if (pad == 3) return std::nullopt;
    in.append(pad, '=');
    std::string out(in.size() / 4 * 3 + 1, '\0');
    const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
    if (n < 0) return std::nullopt;
    out.resize(static_cast<std::size_t>(n) - pad);
    return out;
}

std::string signature(std::string_view secret, std::string_view payload) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(payload.data()), payload.size(), mac, &len);
    return base64url(std::string_view(reinterpret_cast<const char*>(mac), 16));
}

std::optional<nlohmann::json> payload_of(std::string_view token, std::string_view* encoded, std::string_view* sig) {
    const auto dot = token.find('.');
    if (dot == std::string_view::npos) return std::nullopt;
    *encoded = token.substr(0, dot);
    *sig = token.substr(dot + 1);
    const auto raw = unbase64url(*encoded);
    if (!raw) return std::nullopt;
    // A token is client input: parsed with the depth limit, as every body is (max_json_depth).
    auto parsed = detail::parse_json(*raw);
    if (!parsed) return std::nullopt;
    nlohmann::json j = std::move(*parsed);
    if (!j.is_object() || !j.contains("w") || !j["w"].is_number_integer() || !j.contains("c") || !j["c"].is_string() ||
        !j.contains("a") || !j["a"].is_string())
        return std::nullopt;
    return j;
}

constexpr std::string_view answer_purpose = "answer.";

std::optional<nlohmann::json> answer_payload_of(std::string_view token, std::string_view* encoded,
                                                std::string_view* sig) {
    const auto dot = token.find('.');
    if (dot == std::string_view::npos) return std::nullopt;
    *encoded = token.substr(0, dot);
    *sig = token.substr(dot + 1);
    const auto raw = unbase64url(*encoded);
    if (!raw) return std::nullopt;
    auto j = nlohmann::json::parse(*raw, nullptr, false);
    // Unchecked input (the signature is checked after): read nothing without its type.
    if (!j.is_object() || !j.contains("p") || j["p"] != "answer" || !j.contains("w") || !j["w"].is_number_integer() ||
        !j.contains("c") || !j["c"].is_string())
        return std::nullopt;
    return j;
}

}  // namespace

std::string answer_token(std::string_view secret, const AnswerTarget& t) {
    const std::string payload = base64url(nlohmann::json{{"p", "answer"}, {"w", t.workspace}, {"c", t.contact}}.dump());
    return payload + "." + signature(secret, std::string(answer_purpose) + payload);
}

std::optional<WorkspaceId> answer_token_workspace(std::string_view token) {
    std::string_view encoded, sig;
    const auto j = answer_payload_of(token, &encoded, &sig);
    if (!j) return std::nullopt;
    return (*j)["w"].get<WorkspaceId>();
}

std::optional<AnswerTarget> verify_answer_token(std::string_view secret, std::string_view token) {
    std::string_view encoded, sig;
    const auto j = answer_payload_of(token, &encoded, &sig);
    if (!j) return std::nullopt;
    const std::string expected = signature(secret, std::string(answer_purpose) + std::string(encoded));
    if (sig.size() != expected.size() || CRYPTO_memcmp(sig.data(), expected.data(), expected.size()) != 0)
        return std::nullopt;
    return AnswerTarget{(*j)["w"].get<WorkspaceId>(), (*j)["c"].get<std::string>()};
}

std::string unsubscribe_token(std::string_view secret, const UnsubscribeTarget& t) {
    const std::string payload =
        base64url(nlohmann::json{{"w", t.workspace}, {"c", t.contact}, {"a", t.address}}.dump());
    return payload + "." + signature(secret, payload);
}

std::optional<WorkspaceId> token_workspace(std::string_view token) {
    std::string_view encoded, sig;
    const auto j = payload_of(token, &encoded, &sig);
    if (!j) return std::nullopt;
    return (*j)["w"].get<WorkspaceId>();
}

std::optional<UnsubscribeTarget> verify_unsubscribe_token(std::string_view secret, std::string_view token) {
    std::string_view encoded, sig;
    const auto j = payload_of(token, &encoded, &sig);
    if (!j) return std::nullopt;
    const std::string expected = signature(secret, encoded);
    if (sig.size() != expected.size() || CRYPTO_memcmp(sig.data(), expected.data(), expected.size()) != 0)
        return std::nullopt;
    return UnsubscribeTarget{(*j)["w"].get<WorkspaceId>(), (*j)["c"].get<std::string>(), (*j)["a"].get<std::string>()};
}

std::string link_secret(Store& store, WorkspaceId ws) {
    return workspace_secret(store, ws, "link_secret");
}

std::string workspace_secret(Store& store, WorkspaceId ws, std::string_view name) {
    if (auto s = store.setting(ws, name); s && s->is_string()) return s->get<std::string>();
    // Made once: a second secret would void the links (or signed identities) already out there
    // (one server per store).
    static std::mutex making;
    std::lock_guard lock(making);
    if (auto s = store.setting(ws, name); s && s->is_string()) return s->get<std::string>();
    const std::string fresh = random_hex(32);
    store.write([&](WriteTx& tx) { tx.put_setting(ws, std::string(name), fresh, Time{}); });
    return fresh;
}

std::string unsubscribe_url(std::string_view public_url, std::string_view token) {
    std::string base(public_url);
    while (!base.empty() && base.back() == '/') base.pop_back();
    return base + "/unsubscribe/" + std::string(token);
}

}  // namespace closeloop::server
