#include "delivery/mime.h"

#include <gmime/gmime.h>
#include <openssl/evp.h>

#include <array>
#include <memory>
#include <mutex>
#include <optional>

namespace closeloop::delivery {

namespace {

// GMime's global tables (charsets, iconv cache) are set up once per process; after that,
// distinct objects may be used from distinct threads.
void init_gmime() {
    static std::once_flag once;
    std::call_once(once, [] { g_mime_init(); });
}

struct Unref {
    void operator()(gpointer object) const { g_object_unref(object); }
};
template <class T>
using Ref = std::unique_ptr<T, Unref>;

// Mail wants CRLF on the wire; GMime writes it (GMIME_NEWLINE_FORMAT_DOS) from bare LF, and a
// CR kept in the text would be quoted-printable-encoded as =0D instead.
std::string unix_newlines(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\r') {
            if (i + 1 < text.size() && text[i + 1] == '\n') continue;
            out += '\n';
            continue;
        }
        out += text[i];
    }
    return out;
}

// A text part holding `content` as UTF-8 as it is (g_mime_text_part_set_text would pick
// ISO-8859-1 for Latin-1 text and convert it; we promise utf-8 to every receiver).
Ref<GMimeTextPart> text_part(const char* subtype, const std::string& content) {
    Ref<GMimeTextPart> part{g_mime_text_part_new_with_subtype(subtype)};
    const std::string body = unix_newlines(content);
    Ref<GMimeStream> stream{g_mime_stream_mem_new_with_buffer(body.data(), body.size())};
    Ref<GMimeDataWrapper> wrapper{g_mime_data_wrapper_new_with_stream(stream.get(), GMIME_CONTENT_ENCODING_DEFAULT)};
    g_mime_part_set_content(GMIME_PART(part.get()), wrapper.get());
    g_mime_text_part_set_charset(part.get(), "utf-8");
    g_mime_part_set_content_encoding(GMIME_PART(part.get()), GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);
    return part;
}

// A header value is one line: a CR or LF in it would start a header of the caller's text
// (header injection).
std::string one_line(std::string_view value) {
    std::string out(value);
    for (char& c : out)
        if (c == '\r' || c == '\n') c = ' ';
    return out;
}

// For a printable ASCII value: the raw form GMime writes after "Name:", folded before spaces
// to keep lines within 78 octets where the words allow. GMime's own folding would turn long
// words (a List-Unsubscribe URL with its token) into RFC 2047 encoded-words, which structured
// headers must not contain: a mail client would not decode the link.
std::optional<std::string> folded_ascii(std::string_view name, std::string_view value) {
    for (char c : value)
        if (c < 0x20 || c > 0x7e) return std::nullopt;
    std::string raw = " ";
    std::size_t line = name.size() + 2;
    for (std::size_t i = 0; i < value.size();) {
        std::size_t end = i;
        while (end < value.size() && value[end] == ' ') ++end;
        while (end < value.size() && value[end] != ' ') ++end;
        const std::string_view word = value.substr(i, end - i);
        if (i > 0 && line + word.size() > 78) {
            raw += '\n';  // then the word's own leading space continues the header
            line = 0;
        }
        raw += word;
        line += word.size();
        i = end;
    }
    raw += '\n';
    return raw;
}

void set_header(GMimeObject* object, const std::string& name, const std::string& value) {
    const std::string line = one_line(value);
    g_mime_object_set_header(object, name.c_str(), line.c_str(), "utf-8");
    if (auto raw = folded_ascii(name, line)) {
        GMimeHeader* header = g_mime_header_list_get_header(g_mime_object_get_header_list(object), name.c_str());
        if (header) g_mime_header_set_raw_value(header, raw->c_str());
    }
}

// Parses `mailboxes` and appends them to one of the message's address lists, each with a
// UTF-8 display name (encoded per RFC 2047 when written).
void add_addresses(GMimeMessage* message, GMimeAddressType type, const std::string& mailboxes) {
    Ref<InternetAddressList> parsed{internet_address_list_parse(nullptr, one_line(mailboxes).c_str())};
    if (!parsed) return;
    for (int i = 0; i < internet_address_list_length(parsed.get()); ++i)
        internet_address_set_charset(internet_address_list_get_address(parsed.get(), i), "utf-8");
    internet_address_list_append(g_mime_message_get_addresses(message, type), parsed.get());
}

}  // namespace

std::string build_email(const OutgoingEmail& email) {
    init_gmime();
    Ref<GMimeMessage> message{g_mime_message_new(TRUE)};
    add_addresses(message.get(), GMIME_ADDRESS_TYPE_FROM, email.from);
    for (const auto& to : email.to) add_addresses(message.get(), GMIME_ADDRESS_TYPE_TO, to);
    for (const auto& cc : email.cc) add_addresses(message.get(), GMIME_ADDRESS_TYPE_CC, cc);
    g_mime_message_set_subject(message.get(), one_line(email.subject).c_str(), "utf-8");

    // Floor to the second (the Date header has no finer unit), also before 1970.
    const std::int64_t seconds = email.date.ms >= 0 ? email.date.ms / 1000 : -((-email.date.ms + 999) / 1000);
    GDateTime* date = g_date_time_new_from_unix_utc(seconds);
    g_mime_message_set_date(message.get(), date);
    g_date_time_unref(date);
    if (!email.message_id.empty()) g_mime_message_set_message_id(message.get(), one_line(email.message_id).c_str());
    g_mime_object_set_header(GMIME_OBJECT(message.get()), "MIME-Version", "1.0", nullptr);

    std::vector<Ref<GMimeTextPart>> parts;
    if (!email.text.empty() || email.html.empty()) parts.push_back(text_part("plain", email.text));
    if (!email.html.empty()) parts.push_back(text_part("html", email.html));
    if (parts.size() == 1) {
        g_mime_message_set_mime_part(message.get(), GMIME_OBJECT(parts[0].get()));
    } else {
        // RFC 2046: alternatives from the plainest to the richest; a client shows the last it can.
        Ref<GMimeMultipart> alternative{g_mime_multipart_new_with_subtype("alternative")};
        for (const auto& part : parts) g_mime_multipart_add(alternative.get(), GMIME_OBJECT(part.get()));
        g_mime_message_set_mime_part(message.get(), GMIME_OBJECT(alternative.get()));
    }

    for (const auto& [name, value] : email.headers) set_header(GMIME_OBJECT(message.get()), name, value);

    GMimeFormatOptions* options = g_mime_format_options_new();
    g_mime_format_options_set_newline_format(options, GMIME_NEWLINE_FORMAT_DOS);
    Ref<GMimeStream> out{g_mime_stream_mem_new()};
    g_mime_object_write_to_stream(GMIME_OBJECT(message.get()), options, out.get());
    g_mime_format_options_free(options);
    GByteArray* bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(out.get()));
    return std::string(reinterpret_cast<const char*>(bytes->data), bytes->len);
}

std::string message_id_for(std::string_view effect_key, std::string_view domain) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int length = 0;
    EVP_Digest(effect_key.data(), effect_key.size(), digest.data(), &length, EVP_sha256(), nullptr);
    static constexpr char hex[] = "0123456789abcdef";
    std::string id;
    for (unsigned int i = 0; i < 16 && i < length; ++i) {  // 128 bits: no two effects collide
        id += hex[digest[i] >> 4];
        id += hex[digest[i] & 0xf];
    }
    id += '@';
    id += domain;
    return id;
}

std::string address_of(std::string_view mailbox) {
    init_gmime();
    const std::string text(mailbox);
    Ref<InternetAddressList> parsed{internet_address_list_parse(nullptr, text.c_str())};
    if (!parsed || internet_address_list_length(parsed.get()) == 0) return {};
    InternetAddress* first = internet_address_list_get_address(parsed.get(), 0);
    if (!INTERNET_ADDRESS_IS_MAILBOX(first)) return {};
    const char* addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(first));
    return addr ? addr : "";
}

}  // namespace closeloop::delivery
