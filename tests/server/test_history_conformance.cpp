// History and VoucherBook conformance: the same cases against the simulator's MemoryHistory and
// the server's TxHistory (SQL on a real SQLite file), which must give the same answers: what
// `closeloop simulate` shows is what the server does (issue 10).
#include <doctest/doctest.h>

#include <functional>

#include "closeloop/detail/json_read.h"
#include "closeloop/simulator.h"
#include "store/sqlite_store.h"
#include "temp_dir.h"
#include "tx_history.h"

using namespace closeloop;
using namespace closeloop::server;
using nlohmann::json;

namespace {

// A time from its RFC 3339 text; plus_ms moves it by milliseconds (the window edges).
Time at(const char* text, std::int64_t plus_ms = 0) {
    return Time{parse_time(text).value().ms + plus_ms};
}
Time plus_ms(Time t, std::int64_t ms) {
    return Time{t.ms + ms};
}

VoucherCampaign campaign(const char* id, bool percent = false) {
    json doc = {{"id", id}, {"name", id}, {"value", percent ? 15 : 20}, {"valid_for", "P2M"}};
    if (percent)
        doc["percent"] = true;
    else
        doc["currency"] = "EUR";
    auto c = voucher_campaign_from_json(doc);
    REQUIRE(c.ok());
    return *c;
}

// The two histories, fed the same facts.
struct Both {
    TempDir dir;
    SqliteStore store{dir.path};
    WorkspaceId ws = 0;
    MemoryHistory memory;

    Both() {
        store.write([&](WriteTx& tx) { ws = tx.create_workspace("demo", "Demo", at("2026-01-01T00:00:00Z")).id; });
    }

    void post(const std::string& id, const std::string& type, const std::string& contact, Time time,
              json data = json::object()) {
        auto e = event_from_json(
            json{{"id", id}, {"type", type}, {"contact", contact}, {"time", format_time(time)}, {"data", data}});
        REQUIRE_MESSAGE(e.ok(), (e.ok() ? "" : e.error().what()));
        store.insert_events(ws, std::span<const Event>(&*e, 1), time);
        memory.add(*e);
    }
    void answer(const std::string& id, const std::string& contact, Time time, int score) {
        post(id, "nps_response", contact, time, {{"score", score}});
    }
    // A voucher assigned in a run at `time` (the store's assign_voucher; the simulator's absorb).
    void assign(const VoucherCampaign& c, const std::string& contact, const std::string& code, Time time) {
        store.write([&](WriteTx& tx) { tx.assign_voucher(ws, c, contact, code, "key-" + code, time); });
        memory.add(voucher_assigned_event(c, assign_voucher(c, code, time), contact));
    }
    void erase(const std::string& contact) {
        REQUIRE(store.erase_contact(ws, contact));
        memory.erase(contact);
    }

    // Asks both and checks they agree; returns the answer.
    template <class T>
    T ask(const std::function<T(const History&, const VoucherBook&)>& question) {
        T sql{};
        store.write([&](WriteTx& tx) {
            TxHistory h(tx, ws);
            sql = question(h, h);
        });
        const T mem = question(memory, memory);
        CHECK(mem == sql);
        return sql;
    }
    std::optional<int> previous_nps(const std::string& contact, Time before, const std::string& current) {
        return ask<std::optional<int>>(
            [&](const History& h, const VoucherBook&) { return h.previous_nps(contact, before, current); });
    }
    std::int64_t count(const std::string& contact, const std::string& type, Time since, Time until) {
        return ask<std::int64_t>(
            [&](const History& h, const VoucherBook&) { return h.count_events_between(contact, type, since, until); });
    }
    bool assigned(const std::string& contact, const std::string& c, Time since, Time until) {
        return ask<bool>(
            [&](const History& h, const VoucherBook&) { return h.voucher_assigned_between(contact, c, since, until); });
    }
    // The latest voucher with the code left out (the server makes its own); "" for none.
    std::optional<VoucherView> latest(const std::string& contact, const std::vector<std::string>& campaigns, Time now) {
        return ask<std::optional<VoucherView>>(
            [&](const History&, const VoucherBook& b) { return b.latest(contact, campaigns, now); });
    }
    bool redeemed(const std::string& contact, const std::string& code, Time now) {
        return ask<bool>([&](const History&, const VoucherBook& b) { return b.redeemed(contact, code, now); });
    }
};

const Time t0 = at("2026-11-20T10:00:00Z");

}  // namespace

TEST_CASE("history conformance: answers at the same instant and the current answer excluded") {
    Both b;
    b.answer("a0", "c1", at("2026-11-19T10:00:00Z"), 8);
    b.answer("a1", "c1", t0, 3);
    b.answer("a2", "c1", t0, 9);
    // Strictly before: an answer at the same instant is not the previous one.
    CHECK(b.previous_nps("c1", t0, "a2") == 8);
    CHECK(b.previous_nps("c1", t0, "a1") == 8);
    // A millisecond later both count; the one being processed is left out.
    CHECK(b.previous_nps("c1", plus_ms(t0, 1), "a2") == 3);
    CHECK(b.previous_nps("c1", plus_ms(t0, 1), "a1") == 9);
    CHECK(b.previous_nps("c1", at("2026-11-19T10:00:00Z"), "a0") == std::nullopt);
    CHECK(b.previous_nps("c2", t0, "") == std::nullopt);
    CHECK(b.count("c1", "nps_response", t0, t0) == 2);
}

TEST_CASE("history conformance: window edges are inclusive on both sides") {
    Both b;
    const Time since = at("2026-11-01T00:00:00Z"), until = at("2026-11-30T00:00:00Z");
    b.post("p0", "purchase", "c1", plus_ms(since, -1), {{"order_id", "o1"}, {"amount", 10}, {"currency", "EUR"}});
    b.post("p1", "purchase", "c1", since, {{"order_id", "o1"}, {"amount", 10}, {"currency", "EUR"}});
    b.post("p2", "purchase", "c1", until, {{"order_id", "o1"}, {"amount", 10}, {"currency", "EUR"}});
    b.post("p3", "purchase", "c1", plus_ms(until, 1), {{"order_id", "o1"}, {"amount", 10}, {"currency", "EUR"}});
    b.post("x1", "opened_app", "c1", since);
    CHECK(b.count("c1", "purchase", since, until) == 2);
    CHECK(b.count("c1", "purchase", plus_ms(since, 1), plus_ms(until, -1)) == 0);
    CHECK(b.count("c1", "opened_app", since, until) == 1);
    CHECK(b.count("c1", "opened_ap", since, until) == 0);
    CHECK(b.count("c2", "purchase", since, until) == 0);

    const auto apology = campaign("apology");
    b.assign(apology, "c1", "CODE-1", since);
    CHECK(b.assigned("c1", "apology", since, until));
    CHECK(b.assigned("c1", "apology", plus_ms(since, -1), since));
    CHECK_FALSE(b.assigned("c1", "apology", plus_ms(since, 1), until));
    CHECK_FALSE(b.assigned("c1", "other", since, until));
    CHECK(b.count("c1", "voucher_assigned", since, since) == 1);
}

TEST_CASE("history conformance: a voucher assigned inside the run is seen from its instant on") {
    Both b;
    b.answer("a1", "c1", t0, 3);
    const auto apology = campaign("apology"), percent = campaign("pct", true);
    b.assign(apology, "c1", "CODE-1", t0);
    b.assign(percent, "c1", "CODE-2", plus_ms(t0, 1000));
    CHECK(b.latest("c1", {"apology"}, plus_ms(t0, -1)) == std::nullopt);
    const auto v = b.latest("c1", {"apology"}, t0);
    REQUIRE(v);
    CHECK(v->code == "CODE-1");
    CHECK(v->value == 20);
    CHECK(v->currency == "EUR");
    CHECK(v->assigned_at == t0);
    CHECK(v->expires_at == at("2027-01-20T10:00:00Z"));
    CHECK_FALSE(v->redeemed);
    const auto p = b.latest("c1", {"pct"}, plus_ms(t0, 1000));
    REQUIRE(p);
    CHECK(p->value == 15);  // a percent campaign's value is its percent
    CHECK(p->currency == "");
}

TEST_CASE("history conformance: redeemed and expired vouchers") {
    Both b;
    const auto apology = campaign("apology");
    b.answer("a1", "c1", t0, 3);
    b.assign(apology, "c1", "CODE-1", t0);
    b.assign(apology, "c1", "CODE-2", at("2026-11-21T10:00:00Z"));
    const Time by_code = at("2026-11-22T10:00:00Z");
    b.post("r1", "voucher_redeemed", "c1", by_code, {{"code", "CODE-1"}});
    CHECK_FALSE(b.redeemed("c1", "CODE-1", plus_ms(by_code, -1)));
    CHECK(b.redeemed("c1", "CODE-1", by_code));
    CHECK_FALSE(b.redeemed("c1", "CODE-2", by_code));
    // Naming only the campaign: the contact's latest unused voucher of it.
    const Time by_campaign = at("2026-11-23T10:00:00Z");
    b.post("r2", "voucher_redeemed", "c1", by_campaign, {{"campaign", "apology"}});
    CHECK(b.redeemed("c1", "CODE-2", by_campaign));
    const auto latest = b.latest("c1", {"apology"}, by_campaign);
    REQUIRE(latest);
    CHECK(latest->code == "CODE-2");
    CHECK(latest->redeemed);
    CHECK_FALSE(b.latest("c1", {"apology"}, plus_ms(by_campaign, -1))->redeemed);

    // Expired: still the latest voucher, with its expiry; its status says expired.
    b.assign(apology, "c2", "CODE-3", t0);
    const Time later = at("2027-02-01T00:00:00Z");
    const auto expired = b.latest("c2", {"apology"}, later);
    REQUIRE(expired);
    CHECK(expired->expires_at == at("2027-01-20T10:00:00Z"));
    CHECK_FALSE(expired->redeemed);
    CHECK(voucher_status(std::nullopt, expired->expires_at, later) == VoucherStatus::expired);
    CHECK(voucher_status(std::nullopt, expired->expires_at, t0) == VoucherStatus::active);
    CHECK(voucher_status(later, expired->expires_at, later) == VoucherStatus::redeemed);
    for (const Voucher& v : b.store.vouchers(b.ws, std::string("c2"), 10))
        CHECK(to_string(voucher_status(v.redeemed_at, v.expires_at, later)) == std::string("expired"));
}

TEST_CASE("history conformance: the latest voucher of several campaigns") {
    Both b;
    const auto a = campaign("a"), c = campaign("b");
    b.answer("e1", "c1", t0, 3);
    b.assign(a, "c1", "A-1", t0);
    b.assign(c, "c1", "B-1", at("2026-11-20T11:00:00Z"));
    b.assign(a, "c1", "A-2", at("2026-11-20T12:00:00Z"));
    CHECK(b.latest("c1", {"a", "b"}, at("2026-11-20T11:30:00Z"))->code == "B-1");
    CHECK(b.latest("c1", {"a"}, at("2026-11-20T11:30:00Z"))->code == "A-1");
    CHECK(b.latest("c1", {"a", "b"}, at("2026-11-20T12:00:00Z"))->code == "A-2");
    CHECK(b.latest("c1", {"b"}, at("2026-11-21T00:00:00Z"))->code == "B-1");
    CHECK(b.latest("c1", {"x"}, at("2026-11-21T00:00:00Z")) == std::nullopt);
    // Two assigned at the same instant (one step): the one assigned last, whatever the codes.
    const Time same = at("2026-11-25T10:00:00Z");
    b.assign(a, "c1", "A-9", same);
    b.assign(c, "c1", "B-0", same);
    CHECK(b.latest("c1", {"a", "b"}, same)->code == "B-0");
    b.assign(c, "c1", "Z-9", plus_ms(same, 1));
    b.assign(a, "c1", "A-0", plus_ms(same, 1));
    CHECK(b.latest("c1", {"a", "b"}, plus_ms(same, 1))->code == "A-0");
}

TEST_CASE("history conformance: an erased contact has no history") {
    Both b;
    const auto apology = campaign("apology");
    b.answer("a1", "c1", t0, 3);
    b.answer("a2", "c1", plus_ms(t0, 1000), 5);
    b.answer("k1", "keep", t0, 7);
    b.assign(apology, "c1", "CODE-1", t0);
    b.erase("c1");
    const Time later = at("2026-12-01T00:00:00Z");
    CHECK(b.previous_nps("c1", later, "") == std::nullopt);
    CHECK(b.count("c1", "nps_response", t0, later) == 0);
    CHECK_FALSE(b.assigned("c1", "apology", t0, later));
    CHECK(b.latest("c1", {"apology"}, later) == std::nullopt);
    CHECK_FALSE(b.redeemed("c1", "CODE-1", later));
    CHECK(b.previous_nps("keep", later, "") == 7);
}
