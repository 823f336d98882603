// closeloop delivery — sending a built message over SMTP (libcurl).
//
// One SmtpClient keeps one libcurl easy handle, so consecutive messages to the same server go
// over one connection (libcurl keeps it open and skips the greeting and EHLO on reuse). A
// client is used by one thread at a time: a delivery worker owns one.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace closeloop::delivery {

struct SmtpConfig {
    std::string url;                           // smtp://host:port (STARTTLS when offered) or smtps://host:port (TLS)
    std::string user, password;                // AUTH when user is set
    bool require_tls = false;                  // smtp://: fail rather than send in clear when STARTTLS is missing
    std::chrono::milliseconds timeout{30000};  // the whole of one send, connection included
    std::string helo_domain;                   // the EHLO name; libcurl's default when empty
    std::string ca_file;  // PEM certificates to trust instead of the system's (a private relay; tests)
};

struct SmtpResult {
    bool ok = false;    // the server accepted the message for at least one recipient
    int code = 0;       // the server's last reply code; 0 when none (the connection failed)
    std::string error;  // empty when ok; else libcurl's reason and the server's last reply
    std::chrono::milliseconds duration{};
    // Recipients the server refused with 5xx (permanent: bounce them). When every recipient
    // was refused, ok is false and code is the refusal.
    std::vector<std::string> rejected;
    // Recipients refused with 4xx while others were accepted: the message did not reach them,
    // try them again later.
    std::vector<std::string> deferred;
    // An address could not go into an SMTP command (a control character, a space, < or >, no
    // @): nothing was sent for it. A malformed recipient is also in `rejected`; a malformed
    // sender, or no recipient left, fails the send with code 0. Permanent either way.
    bool malformed = false;
};

class SmtpClient {
public:
    explicit SmtpClient(SmtpConfig config);
    SmtpClient(SmtpClient&&) noexcept = default;
    SmtpClient& operator=(SmtpClient&&) noexcept = default;

    // Sends `message` (build_email's output: CRLF line ends) from `envelope_from` (a bare
    // address, or empty for the null sender <>) to `recipients` (bare addresses). A refused
    // recipient does not stop the others (CURLOPT_MAIL_RCPT_ALLOWFAILS).
    SmtpResult send(const std::string& envelope_from, const std::vector<std::string>& recipients,
                    const std::string& message);

private:
    SmtpConfig config_;
    std::string url_;  // config_.url with the EHLO name as its path
    std::unique_ptr<void, void (*)(void*)> curl_;
};

}  // namespace closeloop::delivery
