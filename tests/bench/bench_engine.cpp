// Benchmark: the low-NPS recovery scenario (CONTRACT.md) over N answers from N distinct
// contacts (default 1,000,000): decide_entry + start_run for each, on one core. Contacts
// cycle through every RFM tier (and no segment), scores through 0-10, and every 7th contact
// had the apology voucher 100 days ago. Prints events/s, the paths taken and the effects.
//   bench_engine [--n N] [--smoke]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "closeloop/detail/json_read.h"
#include "closeloop/engine.h"
#include "closeloop/scenario.h"

using namespace closeloop;

namespace {

const char* scenario_json = R"json({ "id": "nps-recovery", "name": "NPS recovery", "status": "active",
  "trigger": { "event": "nps_response", "when": "event.score < 7" },
  "reentry": { "policy": "cooldown", "days": 30 }, "start": "had_voucher",
  "nodes": [
    { "id": "had_voucher", "type": "condition", "if": "voucher_assigned_within('nps-apology-20', days(183))",
      "then": "mail_plain", "else": "segment" },
    { "id": "segment", "type": "switch",
      "cases": [ { "when": "contact.rfm.segment in ['Lost', 'Hibernating']", "next": "mail_plain" },
                 { "when": "contact.rfm.segment in ['Champions', 'Loyal', 'Cannot Lose']", "next": "call" } ],
      "default": "give_voucher" },
    { "id": "give_voucher", "type": "action", "action": "assign_voucher", "params": { "campaign": "nps-apology-20" }, "next": "mail_voucher" },
    { "id": "mail_voucher", "type": "action", "action": "send_email", "params": { "template": "nps-apology-voucher" }, "next": "wait_expiry" },
    { "id": "wait_expiry", "type": "wait", "until": "voucher.expires_at - days(10)", "next": "still_unused" },
    { "id": "still_unused", "type": "condition", "if": "not voucher.redeemed", "then": "mail_reminder", "else": null },
    { "id": "mail_reminder", "type": "action", "action": "send_email", "params": { "template": "voucher-reminder" }, "next": null },
    { "id": "mail_plain", "type": "action", "action": "send_email", "params": { "template": "nps-apology" }, "next": null },
    { "id": "call", "type": "action", "action": "notify", "params": { "role": "call_center_agent",
      "message": "Call {{contact.first_name}} ({{contact.email}}): NPS {{event.score}}. Apologise, solve, then send voucher nps-apology-20." }, "next": null } ] })json";

// History of the bench: contact number -> when the apology voucher was assigned (if ever).
// Contacts are "c-<number>", so the lookup is an index into a vector: the benchmark measures
// the engine, not a hash table of the caller's (the server answers from SQL instead).
class BenchHistory final : public History, public VoucherBook {
public:
    std::vector<std::optional<Time>> voucher_at;
    static std::size_t number(const std::string& contact) {
        return static_cast<std::size_t>(std::strtoull(contact.c_str() + 2, nullptr, 10));
    }
    bool voucher_assigned_between(const std::string& contact, const std::string&, Time since,
                                  Time until) const override {
        const std::size_t i = number(contact);
        return i < voucher_at.size() && voucher_at[i] && *voucher_at[i] >= since && *voucher_at[i] <= until;
    }
    std::int64_t count_events_between(const std::string&, const std::string&, Time, Time) const override { return 0; }
    std::optional<int> previous_nps(const std::string&, Time, const std::string&) const override { return {}; }
    std::optional<VoucherView> latest(const std::string&, const std::vector<std::string>&, Time) const override {
        return {};
    }
    bool redeemed(const std::string&, const std::string&, Time) const override { return false; }
};

class CounterCodes final : public CodeSource {
public:
    std::string voucher_code(const VoucherCampaign&, const std::string& key) override {
        return "B" + std::to_string(++n_) + "-" + std::to_string(key.size());
    }

private:
    std::uint64_t n_ = 0;
};

const char* segments[] = {
    "Champions",      "Loyal",   "Potential Loyalist", "New Customers", "Promising", "Need Attention",
    "About to Sleep", "At Risk", "Cannot Lose",        "Hibernating",   "Lost",      ""};

}  // namespace

int main(int argc, char** argv) {
    std::size_t n = 1'000'000;
    bool smoke = false;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--smoke")) smoke = true;
        if (!std::strcmp(argv[i], "--n") && i + 1 < argc)
            n = static_cast<std::size_t>(std::strtoull(argv[++i], nullptr, 10));
    }
    if (smoke) n = 2000;

    auto loaded = load_scenario(detail::parse_json(scenario_json).value());
    const auto campaign =
        voucher_campaign_from_json(detail::parse_json(R"json({"id":"nps-apology-20","name":"NPS apology",
        "value":20,"currency":"EUR","valid_for":"P2M"})json")
                                       .value())
            .value();
    const std::map<std::string, VoucherCampaign> campaigns = {{campaign.id, campaign}};
    if (!loaded.errors.empty() || !validate(loaded.scenario, {nullptr, &campaigns}).empty()) {
        std::fprintf(stderr, "the bench scenario does not validate\n");
        return 1;
    }

    // Inputs, built before the clock starts.
    const Time now = parse_time("2026-11-20T10:00:00Z").value();
    BenchHistory history;
    history.voucher_at.resize(n);
    std::vector<Contact> contacts(n);
    // As the server holds an event it runs through every scenario: shared, not copied per run.
    std::vector<std::shared_ptr<const Event>> events(n);
    for (std::size_t i = 0; i < n; ++i) {
        Contact& c = contacts[i];
        c.id = "c-" + std::to_string(i);
        c.email = c.id + "@example.cz";
        c.first_name = "Jana";
        c.locale = "cs";
        if (const char* seg = segments[i % 12]; *seg) {
            ContactRfm rfm;
            rfm.r = rfm.f = rfm.m = 3;
            rfm.segment = seg;
            c.rfm = rfm;
        }
        if (i % 7 == 0) history.voucher_at[i] = subtract(now, days(100));
        auto event = std::make_shared<Event>();
        Event& e = *event;
        e.id = "evt-" + std::to_string(i);
        e.type = "nps_response";
        e.kind = EventType::nps_response;
        e.time = now;
        e.contact.id = c.id;
        e.data = {{"score", static_cast<int>(i % 11)}};
        events[i] = std::move(event);
    }

    CounterCodes codes;
    const StepContext ctx{loaded.scenario, history, history, codes, campaigns, nullptr, now};
    std::map<std::string, std::size_t> paths;
    std::size_t entered = 0, effects = 0, waiting = 0, failed = 0;
    double best = 1e9;
    const int reps = smoke ? 1 : 3;
    for (int rep = 0; rep < reps; ++rep) {
        entered = effects = waiting = failed = 0;
        paths.clear();
        const auto t0 = std::chrono::steady_clock::now();
        for (std::size_t i = 0; i < n; ++i) {
            const EntryDecision d = decide_entry(loaded.scenario, *events[i], contacts[i], {}, history, now);
            if (!d.enter) continue;
            ++entered;
            StepResult r = start_run(ctx, "run-" + events[i]->id, events[i], contacts[i]);
            effects += r.effects.size();
            waiting += r.state.status == RunStatus::waiting;
            failed += r.state.status == RunStatus::failed;
            ++paths[r.state.path.back()];
        }
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        best = std::min(best, s);
    }

    std::printf("engine: %zu events (%zu entered) in %.3f s = %.2f M events/s (best of %d)\n", n, entered, best,
                static_cast<double>(n) / best / 1e6, reps);
    std::printf("  effects %zu, waiting %zu, failed %zu\n", effects, waiting, failed);
    for (const auto& [node, count] : paths) std::printf("  runs ending at %-14s %zu\n", node.c_str(), count);
    std::printf("  target >= 1 M events/s on one core: %s\n", static_cast<double>(n) / best >= 1e6 ? "met" : "NOT met");

    // Self-checks (smoke and full): scores 0-6 enter (7 of 11); no run fails; the tiers add up.
    const std::size_t expect_entered = (n / 11) * 7 + std::min<std::size_t>(n % 11, 7);
    if (entered != expect_entered || failed != 0 || paths["wait_expiry"] != waiting) {
        std::fprintf(stderr, "self-check failed: entered %zu (expected %zu), failed %zu\n", entered, expect_entered,
                     failed);
        return 1;
    }
    std::printf("self-check: ok\n");
    return 0;
}
