// closeloop delivery — the SSRF guard for webhook URLs.
//
// A workspace admin types an endpoint URL; the server then posts to it from inside the
// operator's network. Without a guard that URL could reach the cloud metadata service (and its
// credentials) or internal services. We resolve the host, refuse when ANY address is
// forbidden (a name resolving to a public and a private address is refused), and the poster
// connects only to the vetted addresses (CURLOPT_RESOLVE), so a DNS answer that changes
// between the check and the connect (rebinding) cannot reach a refused address.
//
// Always refused: link-local (169.254/16, fe80::/10), cloud metadata (169.254.169.254,
// fd00:ec2::254, 100.100.100.200, metadata.google.internal), unspecified (0.0.0.0/8, ::),
// multicast, reserved and broadcast (240/4). Refused unless allow_private (the operator's
// `--allow-private-endpoints`; the tests): loopback (127/8, ::1), private (10/8, 172.16/12,
// 192.168/16, fc00::/7, fec0::/10), shared CGNAT (100.64/10). IPv4 inside IPv6 (mapped
// ::ffff:0:0/96, compatible ::/96, NAT64 64:ff9b::/96, 6to4 2002::/16) is judged as the IPv4.
#pragma once

#include <sys/socket.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace closeloop::delivery {

// Whether a connection to `address` (AF_INET or AF_INET6; the port is ignored) is allowed.
// When not, `why` (if given) gets a reason naming the address, e.g. "169.254.169.254 is a
// cloud metadata address".
bool address_allowed(const sockaddr* address, bool allow_private, std::string* why);

// A URL checked and its host resolved.
struct CheckedUrl {
    std::string error;                   // empty: the URL may be posted to
    bool refused = false;                // with an error: forbidden for good (scheme, host, address); false
                                         // with an error: the name did not resolve now (may be transient)
    std::string scheme;                  // "http" or "https"
    std::string host;                    // as in the URL, without IPv6 brackets
    bool host_is_address = false;        // a literal IP: no DNS involved, nothing to pin
    int port = 0;                        // the URL's or the scheme's default
    std::vector<std::string> addresses;  // every address the host resolved to, numeric, allowed
};
CheckedUrl check_url(std::string_view url, bool allow_private);

// Why `url` must not be posted to (scheme, no host, a forbidden address, or a name that does
// not resolve), or nullopt when it may be.
std::optional<std::string> refuse_url(std::string_view url, bool allow_private);

}  // namespace closeloop::delivery
