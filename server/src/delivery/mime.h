// closeloop delivery — building an e-mail message (RFC 5322 + MIME).
//
// The message is built with GMime 3, not libcurl's curl_mime: curl_mime does not encode UTF-8
// headers per RFC 2047 (a Czech, Polish or Hebrew subject or display name would go out as raw
// 8-bit bytes), and it cannot write the message to a string, which we need to sign (DKIM) and
// to store what was sent. GMime encodes headers and bodies, folds long lines and parses
// addresses; SMTP then sends the string as it is.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "closeloop/time.h"

namespace closeloop::delivery {

struct OutgoingEmail {
    std::string from;                 // "Dana Novák <ceo@x.example>" or a bare address; UTF-8
    std::vector<std::string> to, cc;  // the same forms
    std::string subject;              // UTF-8
    std::string text, html;           // the two alternatives, UTF-8; an empty one is left out
    std::string message_id;           // without <>: message_id_for(effect key, domain)
    Time date;
    // Extra headers, written as given (UTF-8 is RFC 2047-encoded): List-Unsubscribe,
    // List-Unsubscribe-Post, ...
    std::vector<std::pair<std::string, std::string>> headers;
};

// The whole message: 7-bit ASCII, CRLF line ends, no line over 78 octets where GMime can fold
// (never over 998), ready for SMTP DATA. multipart/alternative with text/plain then text/html,
// both charset=utf-8, quoted-printable.
std::string build_email(const OutgoingEmail& email);

// `<32 hex digits of SHA-256(effect key)>@<domain>`: the same effect always gets the same id, so
// a receiver (or a mail store) can drop a repeat sent after a crash.
std::string message_id_for(std::string_view effect_key, std::string_view domain);

// The address of a mailbox: "Dana <a@b>" -> "a@b", "a@b" -> "a@b" (for the SMTP envelope).
// Empty when `mailbox` holds no address.
std::string address_of(std::string_view mailbox);

}  // namespace closeloop::delivery
