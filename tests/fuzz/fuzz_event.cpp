// libFuzzer target: event and contact JSON, what the public widget and the integrations send
// (POST /api/v1/events with one event or a batch, POST /api/v1/contacts). Parsed as the
// server parses bodies (depth-checked), read by core, written back to JSON and read again:
// a document core accepted must come back the same.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "closeloop/contact.h"
#include "closeloop/detail/json_read.h"
#include "closeloop/event.h"

namespace {

using namespace closeloop;
using nlohmann::json;

// Aborts (a finding) unless `value` survives to_json, dump and a second read unchanged.
template <class T, class Read>
void round_trip(const T& value, Read read) {
    const std::string text = json(value).dump();
    auto again = detail::parse_json(text);
    if (!again) std::abort();
    auto read_again = read(*again);
    if (!read_again || !(*read_again == value)) std::abort();
}

void event(const json& j) {
    auto e = event_from_json(j, "");
    if (!e) return;
    round_trip(*e, [](const json& k) { return event_from_json(k, ""); });
    // The event's contact as the store makes it: a new contact, then the patch applied again.
    Contact c = contact_from_patch(e->contact);
    apply(c, e->contact, PatchRfm::ignore);
    round_trip(c, [](const json& k) { return contact_from_json(k, ""); });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto j = detail::parse_json(text);
    if (!j) return 0;
    // As POST /api/v1/events: { "events": [...] } is a batch, anything else one event.
    if (const auto batch = j->find("events"); j->is_object() && batch != j->end() && batch->is_array()) {
        for (const auto& item : *batch) event(item);
    } else {
        event(*j);
    }
    // As POST /api/v1/contacts: an upsert applied to an existing contact.
    if (auto patch = contact_patch_from_json(*j, "")) {
        round_trip(*patch, [](const json& k) { return contact_patch_from_json(k, ""); });
        Contact c;
        c.id = patch->id;
        c.email = "old@example.cz";
        c.tags = {"old"};
        c.attributes = {{"kept", 1}};
        apply(c, *patch);
        round_trip(c, [](const json& k) { return contact_from_json(k, ""); });
    }
    return 0;
}
