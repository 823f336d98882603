#include "delivery/ssrf.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netdb.h>
#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace closeloop::delivery {

namespace {

struct Range {
    const char* what;  // "is <what>"
    bool always;       // refused even when private addresses are allowed
};

bool in_v4(std::uint32_t address, std::uint32_t network, int bits) {
    const std::uint32_t mask = bits == 0 ? 0 : ~std::uint32_t{0} << (32 - bits);
    return (address & mask) == (network & mask);
}

constexpr std::uint32_t v4(unsigned a, unsigned b, unsigned c, unsigned d) {
    return (std::uint32_t{a} << 24) | (std::uint32_t{b} << 16) | (std::uint32_t{c} << 8) | d;
}

// The range an IPv4 address (host byte order) falls in, when it is one we watch.
std::optional<Range> v4_range(std::uint32_t a) {
    // The metadata addresses first: they sit inside ranges that are allowed with allow_private.
    if (a == v4(169, 254, 169, 254)) return Range{"a cloud metadata address", true};
    if (a == v4(100, 100, 100, 200)) return Range{"a cloud metadata address (Alibaba)", true};
    if (in_v4(a, v4(0, 0, 0, 0), 8)) return Range{"an unspecified address (0.0.0.0/8)", true};
    if (in_v4(a, v4(169, 254, 0, 0), 16)) return Range{"a link-local address (169.254.0.0/16)", true};
    if (in_v4(a, v4(224, 0, 0, 0), 4)) return Range{"a multicast address (224.0.0.0/4)", true};
    if (in_v4(a, v4(240, 0, 0, 0), 4)) return Range{"a reserved or broadcast address (240.0.0.0/4)", true};
    if (in_v4(a, v4(127, 0, 0, 0), 8)) return Range{"a loopback address (127.0.0.0/8)", false};
    if (in_v4(a, v4(10, 0, 0, 0), 8)) return Range{"a private address (10.0.0.0/8)", false};
    if (in_v4(a, v4(172, 16, 0, 0), 12)) return Range{"a private address (172.16.0.0/12)", false};
    if (in_v4(a, v4(192, 168, 0, 0), 16)) return Range{"a private address (192.168.0.0/16)", false};
    if (in_v4(a, v4(100, 64, 0, 0), 10)) return Range{"a shared (CGNAT) address (100.64.0.0/10)", false};
    return std::nullopt;
}

using V6 = std::array<unsigned char, 16>;

bool in_v6(const V6& a, const V6& network, int bits) {
    for (int i = 0; i < 16 && bits > 0; ++i, bits -= 8) {
        const unsigned mask = bits >= 8 ? 0xffu : (0xffu << (8 - bits)) & 0xffu;
        if ((a[static_cast<std::size_t>(i)] & mask) != (network[static_cast<std::size_t>(i)] & mask)) return false;
    }
    return true;
}

V6 v6(const char* text) {
    V6 out{};
    inet_pton(AF_INET6, text, out.data());
    return out;
}

std::uint32_t v4_at(const V6& a, std::size_t offset) {
    return (std::uint32_t{a[offset]} << 24) | (std::uint32_t{a[offset + 1]} << 16) |
           (std::uint32_t{a[offset + 2]} << 8) | std::uint32_t{a[offset + 3]};
}

std::string v4_text(std::uint32_t a) {
    in_addr address{};
    address.s_addr = htonl(a);
    char text[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, &address, text, sizeof text);
    return text;
}

// The IPv4 address carried inside an IPv6 one, by the transition schemes a router honours.
std::optional<std::uint32_t> embedded_v4(const V6& a) {
    static const V6 mapped = v6("::ffff:0:0"), compatible = v6("::"), nat64 = v6("64:ff9b::"),
                    six_to_four = v6("2002::");
    if (in_v6(a, mapped, 96) || in_v6(a, nat64, 96)) return v4_at(a, 12);
    if (in_v6(a, six_to_four, 16)) return v4_at(a, 2);
    // ::/96 minus :: and ::1, which are judged as IPv6 below.
    if (in_v6(a, compatible, 96) && v4_at(a, 12) > 1) return v4_at(a, 12);
    return std::nullopt;
}

std::optional<Range> v6_range(const V6& a) {
    static const V6 unspecified = v6("::"), loopback = v6("::1"), aws_metadata = v6("fd00:ec2::254"),
                    link_local = v6("fe80::"), site_local = v6("fec0::"), multicast = v6("ff00::"),
                    unique_local = v6("fc00::");
    if (a == unspecified) return Range{"the unspecified address (::)", true};
    if (a == aws_metadata) return Range{"a cloud metadata address", true};
    if (a == loopback) return Range{"the loopback address (::1)", false};
    if (in_v6(a, link_local, 10)) return Range{"a link-local address (fe80::/10)", true};
    if (in_v6(a, multicast, 8)) return Range{"a multicast address (ff00::/8)", true};
    if (in_v6(a, unique_local, 7)) return Range{"a private address (fc00::/7)", false};
    if (in_v6(a, site_local, 10)) return Range{"a site-local address (fec0::/10)", false};
    return std::nullopt;
}

bool judge(const std::optional<Range>& range, bool allow_private, const std::string& subject, std::string* why) {
    if (!range || (allow_private && !range->always)) return true;
    if (why) *why = subject + " is " + range->what;
    return false;
}

struct UrlFree {
    void operator()(CURLU* url) const { curl_url_cleanup(url); }
};

std::string url_part(CURLU* url, CURLUPart what, unsigned flags = 0) {
    char* part = nullptr;
    if (curl_url_get(url, what, &part, flags) != CURLUE_OK || !part) return {};
    std::string out(part);
    curl_free(part);
    return out;
}

}  // namespace

bool address_allowed(const sockaddr* address, bool allow_private, std::string* why) {
    if (address->sa_family == AF_INET) {
        const auto* in = reinterpret_cast<const sockaddr_in*>(address);
        const std::uint32_t a = ntohl(in->sin_addr.s_addr);
        return judge(v4_range(a), allow_private, v4_text(a), why);
    }
    if (address->sa_family == AF_INET6) {
        const auto* in6 = reinterpret_cast<const sockaddr_in6*>(address);
        V6 a{};
        std::memcpy(a.data(), &in6->sin6_addr, 16);
        char text[INET6_ADDRSTRLEN] = {};
        inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
        if (auto inner = embedded_v4(a))
            return judge(v4_range(*inner), allow_private, std::string(text) + " (IPv4 " + v4_text(*inner) + ")", why);
        return judge(v6_range(a), allow_private, text, why);
    }
    if (why) *why = "an address of an unknown family";
    return false;
}

CheckedUrl check_url(std::string_view url, bool allow_private) {
    CheckedUrl out;
    auto refuse = [&](std::string why) {
        out.error = std::move(why);
        out.refused = true;
        out.addresses.clear();
        return out;
    };
    std::unique_ptr<CURLU, UrlFree> parsed{curl_url()};
    const std::string text(url);
    if (curl_url_set(parsed.get(), CURLUPART_URL, text.c_str(), CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK)
        return refuse("not a URL: " + text);
    out.scheme = url_part(parsed.get(), CURLUPART_SCHEME);
    std::transform(out.scheme.begin(), out.scheme.end(), out.scheme.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (out.scheme != "http" && out.scheme != "https") return refuse("only http and https URLs are allowed");
    out.host = url_part(parsed.get(), CURLUPART_HOST);
    if (out.host.size() >= 2 && out.host.front() == '[' && out.host.back() == ']')
        out.host = out.host.substr(1, out.host.size() - 2);
    if (out.host.empty()) return refuse("the URL has no host");
    std::string lower = out.host;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    while (!lower.empty() && lower.back() == '.') lower.pop_back();
    // Resolves only inside Google Cloud, where it is the metadata service.
    if (lower == "metadata.google.internal" || lower == "metadata")
        return refuse(out.host + " is a cloud metadata host");
    const std::string port = url_part(parsed.get(), CURLUPART_PORT, CURLU_DEFAULT_PORT);
    out.port = port.empty() ? 0 : std::atoi(port.c_str());

    unsigned char literal[16];
    out.host_is_address =
        inet_pton(AF_INET, out.host.c_str(), literal) == 1 || inet_pton(AF_INET6, out.host.c_str(), literal) == 1;
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    const int failed = getaddrinfo(out.host.c_str(), nullptr, &hints, &found);
    if (failed != 0) {
        out.error = "cannot resolve " + out.host + ": " + gai_strerror(failed);
        return out;
    }
    std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> owned{found, freeaddrinfo};
    for (const addrinfo* at = found; at; at = at->ai_next) {
        std::string why;
        if (!address_allowed(at->ai_addr, allow_private, &why))
            return refuse(out.host_is_address ? why : out.host + ": " + why);
        char text_address[INET6_ADDRSTRLEN] = {};
        const void* raw =
            at->ai_family == AF_INET
                ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in*>(at->ai_addr)->sin_addr)
                : static_cast<const void*>(&reinterpret_cast<const sockaddr_in6*>(at->ai_addr)->sin6_addr);
        inet_ntop(at->ai_family, raw, text_address, sizeof text_address);
        if (std::find(out.addresses.begin(), out.addresses.end(), text_address) == out.addresses.end())
            out.addresses.emplace_back(text_address);
    }
    if (out.addresses.empty()) out.error = "cannot resolve " + out.host + ": no address";
    return out;
}

std::optional<std::string> refuse_url(std::string_view url, bool allow_private) {
    CheckedUrl checked = check_url(url, allow_private);
    if (checked.error.empty()) return std::nullopt;
    return std::move(checked.error);
}

}  // namespace closeloop::delivery
