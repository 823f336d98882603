// Shared fixtures of the scenario and engine tests: the contract's recovery scenario and
// its campaign, small contacts, and an event builder.
#pragma once

#include <string>

#include "closeloop/detail/json_read.h"
#include "closeloop/engine.h"
#include "closeloop/scenario.h"
#include "closeloop/simulator.h"

namespace fixtures {

// CONTRACT.md's scenario, verbatim.
inline const char* recovery_json = R"json({ "id": "nps-recovery", "name": "NPS recovery", "status": "active",
  "trigger": { "event": "nps_response", "when": "event.score < 7" },
  "reentry": { "policy": "cooldown", "days": 30 },
  "start": "had_voucher",
  "nodes": [
    { "id": "had_voucher", "type": "condition",
      "if": "voucher_assigned_within('nps-apology-20', days(183))",
      "then": "mail_plain", "else": "segment" },
    { "id": "segment", "type": "switch",
      "cases": [ { "when": "contact.rfm.segment in ['Lost', 'Hibernating']", "next": "mail_plain" },
                 { "when": "contact.rfm.segment in ['Champions', 'Loyal', 'Cannot Lose']", "next": "call" } ],
      "default": "give_voucher" },
    { "id": "give_voucher", "type": "action", "action": "assign_voucher",
      "params": { "campaign": "nps-apology-20" }, "next": "mail_voucher" },
    { "id": "mail_voucher", "type": "action", "action": "send_email",
      "params": { "template": "nps-apology-voucher" }, "next": "wait_expiry" },
    { "id": "wait_expiry", "type": "wait", "until": "voucher.expires_at - days(10)", "next": "still_unused" },
    { "id": "still_unused", "type": "condition", "if": "not voucher.redeemed", "then": "mail_reminder", "else": null },
    { "id": "mail_reminder", "type": "action", "action": "send_email",
      "params": { "template": "voucher-reminder" }, "next": null },
    { "id": "mail_plain", "type": "action", "action": "send_email",
      "params": { "template": "nps-apology" }, "next": null },
    { "id": "call", "type": "action", "action": "notify",
      "params": { "role": "call_center_agent",
                  "message": "Call {{contact.first_name}} ({{contact.email}}): NPS {{event.score}}. Apologise, solve, then send voucher nps-apology-20." },
      "next": null } ],
  "ui": { "had_voucher": { "x": 80, "y": 120 } } })json";

inline nlohmann::json parse(const char* text) {
    return closeloop::detail::parse_json(text).value();
}

inline closeloop::Scenario recovery() {
    auto loaded = closeloop::load_scenario(parse(recovery_json));
    return loaded.scenario;
}

inline std::map<std::string, closeloop::VoucherCampaign> campaigns() {
    auto c = closeloop::voucher_campaign_from_json(parse(R"json({ "id": "nps-apology-20", "name": "NPS apology, 20 EUR",
        "value": 20, "currency": "EUR", "valid_for": "P2M", "scope": { "brands": [], "product_groups": [], "products": [] } })json"));
    return {{"nps-apology-20", c.value()}};
}

inline closeloop::Time at(const char* rfc3339) {
    return closeloop::parse_time(rfc3339).value();
}

inline closeloop::Contact contact(const std::string& id, const std::string& segment, bool vip = false) {
    closeloop::Contact c;
    c.id = id;
    c.email = id + "@example.cz";
    c.first_name = "Jana";
    c.locale = "cs";
    c.owner = "petr@brand.cz";
    c.vip = vip;
    if (!segment.empty()) {
        closeloop::ContactRfm rfm;
        rfm.r = rfm.f = rfm.m = 3;
        rfm.segment = segment;
        c.rfm = rfm;
    }
    return c;
}

inline closeloop::Event nps(const std::string& id, const std::string& contact_id, int score, const char* time) {
    closeloop::Event e;
    e.id = id;
    e.type = "nps_response";
    e.kind = closeloop::EventType::nps_response;
    e.time = at(time);
    e.contact.id = contact_id;
    e.data = {{"score", score}};
    return e;
}

inline closeloop::Event voucher_assigned(const std::string& contact_id, const char* time, const char* expires) {
    closeloop::Event e;
    e.id = "va-" + contact_id;
    e.type = "voucher_assigned";
    e.kind = closeloop::EventType::voucher_assigned;
    e.time = at(time);
    e.contact.id = contact_id;
    e.data = {
        {"campaign", "nps-apology-20"}, {"code", "OLD-1"}, {"value", 20}, {"currency", "EUR"}, {"expires_at", expires}};
    return e;
}

// A redemption naming the voucher by `{"code": ..}` or `{"campaign": ..}`.
inline closeloop::Event voucher_redeemed(const std::string& contact_id, const char* time, nlohmann::json which) {
    closeloop::Event e;
    e.id = "vr-" + contact_id + "-" + time;
    e.type = "voucher_redeemed";
    e.kind = closeloop::EventType::voucher_redeemed;
    e.time = at(time);
    e.contact.id = contact_id;
    e.data = std::move(which);
    return e;
}

}  // namespace fixtures
