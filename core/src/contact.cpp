#include "closeloop/contact.h"

#include <algorithm>

#include "closeloop/detail/json_read.h"

namespace closeloop {

using detail::Fields;
using nlohmann::json;

namespace {

bool is_control(char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
}

bool is_attribute_name(const std::string& s) {
    if (s.empty() || s.size() > max_attribute_name) return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
               c == '.';
    });
}

// Fields of the customer card that are computed by closeloop: accepted on input (a card
// posted back) and ignored.
constexpr std::string_view read_only_fields[] = {"nps",      "csat",       "vouchers",  "tasks",
                                                 "timeline", "created_at", "updated_at"};

}  // namespace

bool is_valid_email(const std::string& s) {
    if (s.size() < 3 || s.size() > 254) return false;
    const auto at = s.find('@');
    if (at == std::string::npos || at == 0 || at + 1 == s.size() || s.find('@', at + 1) != std::string::npos)
        return false;
    if (s.find('.', at) == std::string::npos && s.substr(at + 1) != "localhost") return false;
    return std::none_of(s.begin(), s.end(), [](char c) { return c == ' ' || is_control(c) || c == '<' || c == '>'; });
}

bool is_valid_locale(const std::string& s) {
    // language (2-3 letters), then subtags of 2-8 letters or digits: "cs", "pt-BR", "zh-Hant-TW"
    if (s.empty() || s.size() > 35) return false;
    std::size_t pos = 0, part = 0;
    while (pos <= s.size()) {
        const auto end = std::min(s.find('-', pos), s.size());
        const auto len = end - pos;
        const auto sub = s.substr(pos, len);
        if (part == 0) {
            if (len < 2 || len > 3 || !std::all_of(sub.begin(), sub.end(), [](char c) { return c >= 'a' && c <= 'z'; }))
                return false;
        } else if (len < 2 || len > 8 || !std::all_of(sub.begin(), sub.end(), [](char c) {
                       return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
                   })) {
            return false;
        }
        ++part;
        pos = end + 1;
    }
    return true;
}

std::optional<Error> check_attribute(const std::string& name, const json& value, const std::string& path) {
    if (!is_attribute_name(name))
        return invalid_field(path, "attribute names are 1-" + std::to_string(max_attribute_name) +
                                       " letters, digits, '_', '-' or '.' (max_attribute_name)");
    return check_attribute_value(value, path);
}

std::optional<Error> check_attribute_value(const json& value, const std::string& path) {
    if (value.is_string() && value.get_ref<const std::string&>().size() > max_attribute_value_bytes)
        return invalid_field(path, "must be at most " + std::to_string(max_attribute_value_bytes) +
                                       " bytes long (max_attribute_value_bytes)");
    if (!(value.is_string() || value.is_number() || value.is_boolean() || value.is_null()))
        return invalid_field(path,
                             std::string("must be a string, number or boolean, not ") + detail::json_type_name(value));
    return std::nullopt;
}

std::optional<Error> check_tag(const std::string& tag, const std::string& path) {
    if (tag.empty() || tag.size() > max_tag_length)
        return invalid_field(path, "must be 1-" + std::to_string(max_tag_length) + " bytes long (max_tag_length)");
    return std::nullopt;
}

std::optional<Error> check_patch_fits(const Contact& c, const ContactPatch& p, const std::string& path) {
    if (!p.attributes || !p.attributes->is_object()) return std::nullopt;
    std::size_t count = c.attributes.is_object() ? c.attributes.size() : 0;
    for (const auto& [name, value] : p.attributes->items()) {
        const bool held = c.attributes.is_object() && c.attributes.contains(name);
        if (value.is_null() && held) --count;
        if (!value.is_null() && !held) ++count;
    }
    if (count <= max_contact_attributes) return std::nullopt;
    return invalid_field(join_path(path, "attributes"), "the contact would hold " + std::to_string(count) +
                                                            " attributes, at most " +
                                                            std::to_string(max_contact_attributes) +
                                                            " (max_contact_attributes): remove some with null");
}

bool Contact::has_tag(const std::string& tag) const {
    return std::find(tags.begin(), tags.end(), tag) != tags.end();
}

PersonalMarkers personal_markers(const Contact& c) {
    PersonalMarkers m;
    m.email = c.email;
    if (!c.first_name.empty() && !c.last_name.empty()) m.full_name = c.first_name + " " + c.last_name;
    for (const char* name : {"phone", "mobile", "phone_number"}) {
        const auto it = c.attributes.find(name);
        if (it != c.attributes.end() && it->is_string() && !it->get_ref<const std::string&>().empty()) {
            m.phone = it->get<std::string>();
            break;
        }
    }
    return m;
}

namespace {

template <class T>
bool set(T& field, const std::optional<T>& value) {
    if (!value || field == *value) return false;
    field = *value;
    return true;
}

}  // namespace

bool apply(Contact& c, const ContactPatch& p, PatchRfm rfm) {
    bool changed = set(c.email, p.email);
    changed = set(c.first_name, p.first_name) || changed;
    changed = set(c.last_name, p.last_name) || changed;
    changed = set(c.locale, p.locale) || changed;
    changed = set(c.owner, p.owner) || changed;
    changed = set(c.vip, p.vip) || changed;
    changed = set(c.tags, p.tags) || changed;
    if (rfm == PatchRfm::apply && p.rfm && c.rfm != p.rfm) {
        c.rfm = *p.rfm;
        changed = true;
    }
    if (p.attributes) {
        if (!c.attributes.is_object()) {
            c.attributes = json::object();
            changed = true;
        }
        for (const auto& [name, value] : p.attributes->items()) {
            if (value.is_null()) {
                changed = c.attributes.erase(name) > 0 || changed;
            } else if (const auto it = c.attributes.find(name); it != c.attributes.end()) {
                if (*it != value) {
                    *it = value;
                    changed = true;
                }
            } else if (c.attributes.size() < max_contact_attributes) {
                c.attributes[name] = value;
                changed = true;
            }
        }
    }
    return changed;
}

Contact contact_from_patch(const ContactPatch& patch) {
    Contact c;
    c.id = patch.id;
    apply(c, patch);
    return c;
}

Result<ContactPatch> contact_patch_from_json(const json& j, const std::string& path, Check check) {
    // Shorthand used by events: "contact": "c-42" is {"id": "c-42"}, checked the same way
    // (the fuzzer found the shorthand taking control characters the object form refuses).
    if (j.is_string()) return contact_patch_from_json(json{{"id", j}}, path, check);
    const bool limits = check == Check::input;
    Fields f(j, path);
    ContactPatch p;
    p.id = f.string("id", true, 128, 1).value_or("");
    if (f.ok() && std::any_of(p.id.begin(), p.id.end(), is_control))
        f.fail("id", "must not contain control characters");

    p.email = f.string("email", false, 254);
    if (f.ok() && p.email && !p.email->empty() && !is_valid_email(*p.email))
        f.fail("email", "must be an e-mail address such as jana@example.cz");
    p.first_name = f.string("first_name", false, 200);
    p.last_name = f.string("last_name", false, 200);
    p.locale = f.string("locale", false, 35);
    if (f.ok() && p.locale && !p.locale->empty() && !is_valid_locale(*p.locale))
        f.fail("locale", "must be a language tag such as cs, en or pt-BR");
    p.owner = f.string("owner", false, 254);
    if (f.ok() && p.owner && !p.owner->empty() && !is_valid_email(*p.owner))
        f.fail("owner", "must be the owner's e-mail address");
    p.vip = f.boolean("vip", false);
    if (const json* tags = f.find("tags"); tags && f.ok()) {
        if (!tags->is_array())
            f.fail("tags", std::string("must be an array of strings, not ") + detail::json_type_name(*tags));
        else if (limits && tags->size() > max_contact_tags)
            f.fail("tags", "must have at most " + std::to_string(max_contact_tags) + " tags (max_contact_tags)");
        std::vector<std::string> list;
        for (std::size_t i = 0; f.ok() && i < tags->size(); ++i) {
            const json& tag = (*tags)[i];
            const std::string at = f.at("tags") + "[" + std::to_string(i) + "]";
            if (!tag.is_string())
                f.fail(invalid_field(at, std::string("must be a string, not ") + detail::json_type_name(tag)));
            else if (auto e = limits ? check_tag(tag.get<std::string>(), at) : std::nullopt)
                f.fail(*e);
            else
                list.push_back(tag.get<std::string>());
        }
        if (f.ok()) p.tags = std::move(list);
    }
    if (const json* attrs = f.object("attributes", false)) {
        if (limits && attrs->size() > max_contact_attributes)
            f.fail("attributes", "must have at most " + std::to_string(max_contact_attributes) +
                                     " attributes (max_contact_attributes)");
        for (const auto& [name, value] : attrs->items()) {
            if (!f.ok() || !limits) break;
            if (auto e = check_attribute(name, value, f.at("attributes") + "." + name)) f.fail(*e);
        }
        if (f.ok()) p.attributes = *attrs;
    }
    if (const json* rfm = f.find("rfm"); rfm && f.ok()) {
        auto r = contact_rfm_from_json(*rfm, f.at("rfm"));
        if (r)
            p.rfm = *r;
        else
            f.fail(r.error());
    }

    if (f.ok() && j.is_object()) {
        for (const auto& [k, _] : j.items()) {
            static constexpr std::string_view known[] = {"id",    "email", "first_name", "last_name",  "locale",
                                                         "owner", "vip",   "tags",       "attributes", "rfm"};
            const bool is_known =
                std::find(std::begin(known), std::end(known), k) != std::end(known) ||
                std::find(std::begin(read_only_fields), std::end(read_only_fields), k) != std::end(read_only_fields);
            if (!is_known) {
                f.fail(
                    k,
                    "is not a contact field (id, email, first_name, last_name, locale, owner, vip, tags, attributes)");
                break;
            }
        }
    }
    if (!f.ok()) return f.error();
    return p;
}

void to_json(json& j, const ContactPatch& p) {
    j = {{"id", p.id}};
    if (p.email) j["email"] = *p.email;
    if (p.first_name) j["first_name"] = *p.first_name;
    if (p.last_name) j["last_name"] = *p.last_name;
    if (p.locale) j["locale"] = *p.locale;
    if (p.owner) j["owner"] = *p.owner;
    if (p.vip) j["vip"] = *p.vip;
    if (p.tags) j["tags"] = *p.tags;
    if (p.attributes) j["attributes"] = *p.attributes;
    if (p.rfm) j["rfm"] = *p.rfm;
}

Result<Contact> contact_from_json(const json& j, const std::string& path) {
    auto patch = contact_patch_from_json(j, path);
    if (!patch) return patch.error();
    return contact_from_patch(*patch);
}

void to_json(json& j, const Contact& c) {
    j = {{"id", c.id}, {"vip", c.vip}, {"tags", c.tags}, {"attributes", c.attributes}};
    // Unknown text fields are left out rather than written as "".
    if (!c.email.empty()) j["email"] = c.email;
    if (!c.first_name.empty()) j["first_name"] = c.first_name;
    if (!c.last_name.empty()) j["last_name"] = c.last_name;
    if (!c.locale.empty()) j["locale"] = c.locale;
    if (!c.owner.empty()) j["owner"] = c.owner;
    j["rfm"] = rfm_card_json(c.rfm);
}

}  // namespace closeloop
