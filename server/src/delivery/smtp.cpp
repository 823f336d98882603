#include "delivery/smtp.h"

#include <algorithm>
#include <cctype>
#include <cstring>

#include "delivery/curl_easy.h"

namespace closeloop::delivery {

namespace {

// libcurl reports neither which recipient was refused nor the server's words, only the last
// reply code: we follow the dialogue through the debug callback. libcurl sends one command and
// waits for its reply (no pipelining), so a reply belongs to the last command sent.
struct Transfer {
    const std::string* message = nullptr;
    std::size_t offset = 0;
    std::string command;     // the last command sent, without CRLF
    std::string last_reply;  // the server's last final reply line
    std::vector<std::string> rejected, deferred;
};

std::size_t read_message(char* buffer, std::size_t size, std::size_t count, void* user) {
    auto* transfer = static_cast<Transfer*>(user);
    const std::size_t left = transfer->message->size() - transfer->offset;
    const std::size_t n = std::min(left, size * count);
    std::memcpy(buffer, transfer->message->data() + transfer->offset, n);
    transfer->offset += n;
    return n;
}

bool starts_with_nocase(std::string_view text, std::string_view prefix) {
    if (text.size() < prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i)
        if (std::toupper(static_cast<unsigned char>(text[i])) != prefix[i]) return false;
    return true;
}

std::string recipient_of(std::string_view command) {
    const auto open = command.find('<');
    const auto close = command.find('>', open == std::string_view::npos ? 0 : open);
    if (open == std::string_view::npos || close == std::string_view::npos) return std::string(command.substr(8));
    return std::string(command.substr(open + 1, close - open - 1));
}

void on_reply_line(Transfer& transfer, std::string_view line) {
    while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.remove_suffix(1);
    if (line.size() < 3 || !std::all_of(line.begin(), line.begin() + 3, [](char c) { return c >= '0' && c <= '9'; }))
        return;
    if (line.size() > 3 && line[3] != ' ') return;  // "250-..." : a continuation line
    transfer.last_reply = std::string(line);
    if (!starts_with_nocase(transfer.command, "RCPT TO:")) return;
    if (line[0] == '5') transfer.rejected.push_back(recipient_of(transfer.command));
    if (line[0] == '4') transfer.deferred.push_back(recipient_of(transfer.command));
}

int on_debug(CURL*, curl_infotype type, char* data, std::size_t size, void* user) {
    auto* transfer = static_cast<Transfer*>(user);
    const std::string_view text(data, size);
    if (type == CURLINFO_HEADER_OUT) {
        transfer->command = std::string(text.substr(0, text.find_first_of("\r\n")));
    } else if (type == CURLINFO_HEADER_IN) {
        std::size_t start = 0;
        while (start < text.size()) {
            const std::size_t end = text.find('\n', start);
            on_reply_line(*transfer, text.substr(start, end == std::string_view::npos ? end : end - start + 1));
            if (end == std::string_view::npos) break;
            start = end + 1;
        }
    }
    return 0;
}

// The address goes between < and > in MAIL FROM or RCPT TO: a CR or LF would end the command
// and start one of the sender's choosing (contact addresses come from imported data).
bool fits_command(std::string_view address, bool allow_empty) {
    if (address.empty()) return allow_empty;
    if (address.find('@') == std::string_view::npos) return false;
    return std::none_of(address.begin(), address.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u <= 0x20 || u == 0x7f || c == '<' || c == '>';
    });
}

std::string with_helo(const std::string& url, const std::string& helo) {
    if (helo.empty()) return url;
    const auto scheme = url.find("://");
    const auto path = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
    if (path == std::string::npos) return url + "/" + helo;
    if (path == url.size() - 1) return url + helo;
    return url;  // the URL names the EHLO domain itself
}

// libcurl 8.2 fixed the option's spelling; the old name stays as an alias there.
#if LIBCURL_VERSION_NUM >= 0x080200
constexpr CURLoption rcpt_allow_fails = CURLOPT_MAIL_RCPT_ALLOWFAILS;
#else
constexpr CURLoption rcpt_allow_fails = CURLOPT_MAIL_RCPT_ALLLOWFAILS;
#endif

}  // namespace

SmtpClient::SmtpClient(SmtpConfig config)
    : config_(std::move(config)), url_(with_helo(config_.url, config_.helo_domain)), curl_(detail::new_easy_handle()) {}

SmtpResult SmtpClient::send(const std::string& envelope_from, const std::vector<std::string>& recipients,
                            const std::string& message) {
    const auto start = std::chrono::steady_clock::now();
    SmtpResult result;
    auto finish = [&] {
        result.duration =
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
        return result;
    };
    if (!fits_command(envelope_from, true)) {
        result.malformed = true;
        result.error = "malformed sender address";
        return finish();
    }
    detail::Slist rcpt;
    for (const auto& to : recipients) {
        if (fits_command(to, false)) {
            detail::append(rcpt, "<" + to + ">");
        } else {
            result.malformed = true;
            result.rejected.push_back(to);
        }
    }
    if (!rcpt) {
        result.error = result.malformed ? "no well-formed recipient" : "no recipients";
        return finish();
    }
    CURL* curl = static_cast<CURL*>(curl_.get());
    Transfer transfer;
    transfer.message = &message;
    const std::string from = "<" + envelope_from + ">";
    char error[CURL_ERROR_SIZE] = {};

    curl_easy_setopt(curl, CURLOPT_URL, url_.c_str());
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);  // workers are threads: no SIGALRM for DNS timeouts
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(config_.timeout.count()));
    curl_easy_setopt(curl, CURLOPT_USE_SSL, config_.require_tls ? CURLUSESSL_ALL : CURLUSESSL_TRY);
    if (!config_.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, config_.ca_file.c_str());
    if (!config_.user.empty()) {
        curl_easy_setopt(curl, CURLOPT_USERNAME, config_.user.c_str());
        curl_easy_setopt(curl, CURLOPT_PASSWORD, config_.password.c_str());
    }
    curl_easy_setopt(curl, CURLOPT_MAIL_FROM, from.c_str());
    curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpt.get());
    curl_easy_setopt(curl, rcpt_allow_fails, 1L);
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_message);
    curl_easy_setopt(curl, CURLOPT_READDATA, &transfer);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(message.size()));
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
    curl_easy_setopt(curl, CURLOPT_VERBOSE, 1L);  // the debug callback sees only what verbose shows
    curl_easy_setopt(curl, CURLOPT_DEBUGFUNCTION, on_debug);
    curl_easy_setopt(curl, CURLOPT_DEBUGDATA, &transfer);

    const CURLcode code = curl_easy_perform(curl);

    // The handle outlives these locals: leave it holding no pointer to them.
    curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, nullptr);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
    curl_easy_setopt(curl, CURLOPT_READDATA, nullptr);
    curl_easy_setopt(curl, CURLOPT_DEBUGDATA, nullptr);

    long reply = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply);
    result.code = static_cast<int>(reply);
    result.ok = code == CURLE_OK;
    result.rejected.insert(result.rejected.end(), transfer.rejected.begin(), transfer.rejected.end());
    result.deferred = std::move(transfer.deferred);
    if (!result.ok) {
        result.error = error[0] ? error : curl_easy_strerror(code);
        if (!transfer.last_reply.empty() && result.code != 0) result.error += " (server: " + transfer.last_reply + ")";
    }
    return finish();
}

}  // namespace closeloop::delivery
