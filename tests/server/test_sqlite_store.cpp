// SqliteStore against a real SQLite file in a temp folder.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <thread>

#include "closeloop/detail/json_read.h"
#include "store/sqlite_probe.h"
#include "store/sqlite_store.h"
#include "temp_dir.h"

using namespace closeloop;
using namespace closeloop::server;
using nlohmann::json;

namespace {

Time at(const char* text) {
    return parse_time(text).value();
}

Event event(const char* text) {
    auto e = event_from_json(detail::parse_json(text).value());
    REQUIRE(e.ok());
    return *e;
}

WorkspaceId make_workspace(Store& store, const std::string& slug) {
    Workspace w;
    store.write([&](WriteTx& tx) { w = tx.create_workspace(slug, slug, at("2026-01-01T00:00:00Z")); });
    return w.id;
}

IngestResult ingest(Store& store, WorkspaceId ws, std::vector<Event> events,
                    Time received = at("2026-11-22T12:00:00Z")) {
    return store.insert_events(ws, events, received);
}

// An EventHandler from a lambda; `wanted` picks the events it is handed.
template <class F>
struct Handler final : EventHandler {
    Handler(F f, std::function<bool(const Event&)> wanted = nullptr) : f(std::move(f)), wanted(std::move(wanted)) {}
    bool wants(WorkspaceId, const Event& e) const override { return !wanted || wanted(e); }
    void handle(WriteTx& tx, WorkspaceId ws, std::int64_t seq, const Event& e, const Contact& c) override {
        f(tx, ws, seq, e, c);
    }
    F f;
    std::function<bool(const Event&)> wanted;
};

VoucherCampaign campaign(const char* text) {
    auto c = voucher_campaign_from_json(detail::parse_json(text).value());
    REQUIRE(c.ok());
    return *c;
}

}  // namespace

TEST_CASE("the database is created, migrated, and reopened with its data") {
    TempDir dir;
    {
        SqliteStore store(dir.path);
        CHECK(store.schema_version() == SqliteStore::latest_schema_version());
        CHECK(store.healthy());
        const auto ws = make_workspace(store, "demo");
        CHECK(ingest(store, ws, {event(R"({"id":"e1","type":"signup","contact":"c1"})")}).accepted == 1);
    }
    SqliteStore again(dir.path);
    CHECK(again.schema_version() == SqliteStore::latest_schema_version());
    REQUIRE(again.find_workspace("demo"));
    CHECK(again.list_events(again.find_workspace("demo")->id, {}).events.size() == 1);
    CHECK(again.size_bytes() > 0);
}

TEST_CASE("schema 3: events stored before scenarios existed are not a backlog for the executor") {
    TempDir dir;
    {
        SqliteStore store(dir.path);
        const auto ws = make_workspace(store, "demo");
        ingest(store, ws, {event(R"({"id":"e1","type":"nps_response","contact":"c1","data":{"score":2}})")});
    }
    // Back to schema 2, as a database of the release before the executor.
    closeloop::server::sqlite::Probe(dir.path / "closeloop.db")
        .exec(
            "DROP TABLE scenarios; DROP TABLE scenario_versions; DROP TABLE templates; DROP TABLE runs; "
            "DROP TABLE sessions; DROP INDEX api_keys_id; ALTER TABLE api_keys DROP COLUMN id; "
            "DROP TABLE endpoints; DROP TABLE suppressions; ALTER TABLE outbox_attempts DROP COLUMN status_code; "
            "ALTER TABLE outbox_attempts DROP COLUMN duration_ms; "
            "UPDATE events SET processed_at = NULL; PRAGMA user_version = 2");
    SqliteStore store(dir.path);
    CHECK(store.schema_version() == SqliteStore::latest_schema_version());
    CHECK(store.unprocessed_events(10).empty());
}

TEST_CASE("a database from a newer closeloop is refused with a clear message") {
    TempDir dir;
    { SqliteStore store(dir.path); }
    closeloop::server::sqlite::Probe(dir.path / "closeloop.db").exec("PRAGMA user_version = 99");
    try {
        SqliteStore store(dir.path);
        FAIL("opened a newer database");
    } catch (const std::runtime_error& e) {
        CHECK(std::string(e.what()).find("upgrade closeloop") != std::string::npos);
    }
}

TEST_CASE("events: ids are idempotent, contacts upserted, responses and purchases derived") {
    TempDir dir;
    SqliteStore store(dir.path);
    const auto ws = make_workspace(store, "demo");

    SUBCASE("a repeated id is a duplicate, in another request or the same batch") {
        auto r = ingest(store, ws,
                        {event(R"({"id":"a","type":"nps_response","contact":"c1","data":{"score":3}})"),
                         event(R"({"id":"b","type":"nps_response","contact":"c1","data":{"score":4}})"),
                         event(R"({"id":"a","type":"nps_response","contact":"c1","data":{"score":5}})")});
        CHECK(r.accepted == 2);
        CHECK(r.duplicates == 1);
        r = ingest(store, ws, {event(R"({"id":"b","type":"nps_response","contact":"c1","data":{"score":9}})")});
        CHECK(r.accepted == 0);
        CHECK(r.duplicates == 1);
        const auto page = store.list_events(ws, {});
        REQUIRE(page.events.size() == 2);
        // The first one stored wins: a duplicate changes nothing.
        for (const auto& e : page.events)
            if (e.event.id == "a") CHECK(e.event.score() == 3);
    }

    SUBCASE("the event's contact is upserted with the patch rules of core (apply)") {
        ingest(store, ws, {event(R"({"id":"1","type":"signup","contact":{"id":"c1","email":"jana@example.cz",
                          "tags":["a"],"attributes":{"branch":"Brno","plan":"pro"}}})")});
        ingest(store, ws, {event(R"({"id":"2","type":"signup","contact":{"id":"c1","first_name":"Jana",
                          "attributes":{"plan":null,"tier":2}}})")});
        const auto card = store.contact_card(ws, "c1", 10);
        REQUIRE(card);
        const Contact& c = card->contact.contact;
        CHECK(c.email == "jana@example.cz");
        CHECK(c.first_name == "Jana");
        CHECK(c.tags == std::vector<std::string>{"a"});
        CHECK(c.attributes == json{{"branch", "Brno"}, {"tier", 2}});
        CHECK_FALSE(c.rfm.has_value());
    }

    SUBCASE("an event repeating the stored fields changes nothing; one changing a field writes it") {
        ingest(store, ws, {event(R"({"id":"1","type":"signup","contact":{"id":"c1","email":"jana@example.cz",
                          "tags":["a"],"attributes":{"plan":"pro"}}})")},
               at("2026-11-22T12:00:00Z"));
        // The same email again, later: the contact is as it was (updated_at too).
        ingest(store, ws, {event(R"({"id":"2","type":"signup","time":"2026-11-23T12:00:00Z",
                          "contact":{"id":"c1","email":"jana@example.cz"}})")},
               at("2026-11-23T12:00:00Z"));
        auto card = store.contact_card(ws, "c1", 10);
        REQUIRE(card);
        CHECK(card->contact.updated_at == at("2026-11-22T12:00:00Z"));
        // A new email and a vip flag: written, tags and attributes kept.
        ingest(store, ws, {event(R"({"id":"3","type":"signup","time":"2026-11-24T12:00:00Z",
                          "contact":{"id":"c1","email":"jana@firma.cz","vip":true}})")},
               at("2026-11-24T12:00:00Z"));
        card = store.contact_card(ws, "c1", 10);
        REQUIRE(card);
        const Contact& c = card->contact.contact;
        CHECK(c.email == "jana@firma.cz");
        CHECK(c.vip);
        CHECK(c.tags == std::vector<std::string>{"a"});
        CHECK(c.attributes == json{{"plan", "pro"}});
        CHECK(card->contact.updated_at == at("2026-11-24T12:00:00Z"));
    }

    SUBCASE("an rfm given with a contact is ignored: it is computed") {
        ingest(store, ws, {event(R"({"id":"1","type":"signup","contact":{"id":"c1","rfm":{"r":5,"f":5,"m":5,
                          "segment":"Champions"}}})")});
        CHECK_FALSE(store.contact_card(ws, "c1", 10)->contact.contact.rfm.has_value());
    }

    SUBCASE("the card has the last and previous NPS and the last CSAT") {
        ingest(
            store, ws,
            {event(
                 R"({"id":"n1","type":"nps_response","time":"2026-11-01T10:00:00Z","contact":"c1","data":{"score":9}})"),
             event(
                 R"({"id":"n2","type":"nps_response","time":"2026-11-10T10:00:00Z","contact":"c1","data":{"score":4}})"),
             event(
                 R"({"id":"n0","type":"nps_response","time":"2026-10-01T10:00:00Z","contact":"c1","data":{"score":10}})"),
             event(
                 R"({"id":"s1","type":"csat_response","time":"2026-11-05T10:00:00Z","contact":"c1","data":{"score":2,"agent":"eva"}})"),
             event(
                 R"({"id":"n9","type":"nps_response","time":"2026-11-20T10:00:00Z","contact":"c2","data":{"score":0}})")});
        const auto card = store.contact_card(ws, "c1", 2);
        REQUIRE(card);
        REQUIRE(card->nps.size() == 2);
        CHECK(card->nps[0].score == 4);
        CHECK(card->nps[1].score == 9);
        REQUIRE(card->csat);
        CHECK(card->csat->score == 2);
        CHECK(card->csat->agent == "eva");
        REQUIRE(card->timeline.size() == 2);  // the limit
        CHECK(card->timeline[0].event.id == "n2");
    }

    SUBCASE("an event without time gets the receive time") {
        ingest(store, ws, {event(R"({"id":"x","type":"signup","contact":"c1"})")}, at("2026-11-22T08:00:00Z"));
        const auto e = store.list_events(ws, {}).events.at(0);
        CHECK(e.event.time == at("2026-11-22T08:00:00Z"));
        CHECK(e.received_at == at("2026-11-22T08:00:00Z"));
        CHECK_FALSE(e.processed_at.has_value());
    }

    SUBCASE("purchases in a window, for RFM") {
        ingest(
            store, ws,
            {event(
                 R"({"id":"p1","type":"purchase","time":"2026-01-10T00:00:00Z","contact":"c1","data":{"order_id":"o1","amount":10,"currency":"EUR"}})"),
             event(
                 R"({"id":"p2","type":"purchase","time":"2026-06-10T00:00:00Z","contact":"c2","data":{"order_id":"o2","amount":25.5,"currency":"EUR"}})"),
             event(
                 R"({"id":"p3","type":"purchase","time":"2026-06-11T00:00:00Z","contact":"c1","data":{"order_id":"o3","amount":5,"currency":"EUR"}})")});
        const auto table = store.purchases(ws, at("2026-06-01T00:00:00Z"), at("2026-12-31T00:00:00Z"));
        REQUIRE(table.purchases.size() == 2);
        REQUIRE(table.contact_ids.size() == 2);
        double total = 0;
        for (double a : table.purchases.amount) total += a;
        CHECK(total == doctest::Approx(30.5));
    }
}

TEST_CASE("events are listed newest first and paged without gaps or repeats") {
    TempDir dir;
    SqliteStore store(dir.path);
    const auto ws = make_workspace(store, "demo");
    std::vector<Event> events;
    for (int i = 0; i < 25; ++i) {
        // Pairs share a time: the cursor must order within equal times too.
        json j = {{"id", "e" + std::to_string(i)},
                  {"type", i % 3 == 0 ? "purchase" : "visit"},
                  {"time", format_time(Time{at("2026-11-01T00:00:00Z").ms + (i / 2) * ms_per_hour})},
                  {"contact", i % 2 ? "odd" : "even"}};
        if (i % 3 == 0) j["data"] = {{"order_id", "o"}, {"amount", 1}, {"currency", "EUR"}};
        events.push_back(event_from_json(j).value());
    }
    ingest(store, ws, events);

    std::vector<std::string> seen;
    EventQuery q;
    q.limit = 7;
    for (int pages = 0; pages < 10; ++pages) {
        const auto page = store.list_events(ws, q);
        for (const auto& e : page.events) seen.push_back(e.event.id);
        if (!page.next) break;
        q.after = page.next;
    }
    REQUIRE(seen.size() == 25);
    for (std::size_t i = 1; i < seen.size(); ++i) {
        const int a = std::stoi(seen[i - 1].substr(1)), b = std::stoi(seen[i].substr(1));
        CHECK(a > b);  // newest first; equal times by arrival
    }

    EventQuery by_contact;
    by_contact.contact = "odd";
    by_contact.type = "visit";
    for (const auto& e : store.list_events(ws, by_contact).events) {
        CHECK(e.event.contact.id == "odd");
        CHECK(e.event.type == "visit");
    }
    EventQuery window;
    window.from = at("2026-11-01T02:00:00Z");
    window.to = at("2026-11-01T04:00:00Z");
    const auto in_window = store.list_events(ws, window).events;
    CHECK(in_window.size() == 4);
    for (const auto& e : in_window) {
        CHECK(*e.event.time >= *window.from);
        CHECK(*e.event.time < *window.to);
    }
}

TEST_CASE("workspaces are isolated: the same ids live side by side, unseen by the other") {
    TempDir dir;
    SqliteStore store(dir.path);
    const auto a = make_workspace(store, "a");
    const auto b = make_workspace(store, "b");
    store.write([&](WriteTx& tx) {
        tx.add_key(a, KeyKind::admin, "hash-a", "cl_admin_a...", Time{0});
        tx.add_key(b, KeyKind::publishable, "hash-b", "cl_pub_b...", Time{0});
    });
    CHECK(store.find_key("hash-a")->workspace == a);
    CHECK(store.find_key("hash-b")->kind == KeyKind::publishable);
    CHECK_FALSE(store.find_key("hash-c"));

    CHECK(
        ingest(store, a, {event(R"({"id":"e1","type":"nps_response","contact":"c1","data":{"score":1}})")}).accepted ==
        1);
    CHECK(
        ingest(store, b, {event(R"({"id":"e1","type":"nps_response","contact":"c1","data":{"score":9}})")}).accepted ==
        1);
    CHECK(store.contact_card(a, "c1", 10)->nps.at(0).score == 1);
    CHECK(store.contact_card(b, "c1", 10)->nps.at(0).score == 9);

    ingest(store, a, {event(R"({"id":"e2","type":"signup","contact":"only-a"})")});
    CHECK_FALSE(store.contact_card(b, "only-a", 10));
    CHECK_FALSE(store.export_contact(b, "only-a"));
    CHECK_FALSE(store.erase_contact(b, "only-a"));
    CHECK(store.contact_card(a, "only-a", 10));

    store.save_voucher_campaign(a, campaign(R"({"id":"v","name":"V","value":5,"currency":"EUR","valid_for":"P1Y"})"),
                                Time{0});
    CHECK(store.voucher_campaigns(b).empty());
    CHECK_FALSE(store.find_voucher_campaign(b, "v"));
    const auto voucher = store.assign_voucher(a, store.find_voucher_campaign(a, "v")->campaign, "c1", "CODE-1", "",
                                              at("2026-11-01T00:00:00Z"));
    CHECK(store.redeem_voucher(b, voucher.code, at("2026-11-02T00:00:00Z")).outcome == RedeemOutcome::not_found);
    CHECK(store.vouchers(b, std::nullopt, 100).empty());

    Task t;
    t.id = "t1";
    t.title = "Call";
    t.role = "agent";
    t.created_at = Time{0};
    store.create_task(a, t);
    CHECK(store.tasks(b, {}).empty());
    CHECK_FALSE(store.complete_task(b, "t1", Time{1}));
    CHECK(store.list_events(b, {}).events.size() == 1);
}

TEST_CASE("GDPR: erasure removes the contact and everything about it, export shows everything") {
    TempDir dir;
    SqliteStore store(dir.path);
    const auto ws = make_workspace(store, "demo");
    ingest(
        store, ws,
        {event(
             R"({"id":"n1","type":"nps_response","contact":{"id":"jana","email":"jana@example.cz"},"data":{"score":3,"comment":"slow"}})"),
         event(
             R"({"id":"p1","type":"purchase","contact":"jana","data":{"order_id":"o1","amount":10,"currency":"EUR"}})"),
         event(R"({"id":"n2","type":"nps_response","contact":"petr","data":{"score":10}})"),
         event(
             R"({"id":"p2","type":"purchase","contact":"petr","data":{"order_id":"o2","amount":10,"currency":"EUR"}})")});
    store.save_voucher_campaign(ws, campaign(R"({"id":"v","name":"V","value":5,"currency":"EUR","valid_for":"P1M"})"),
                                Time{0});
    const auto v = store.find_voucher_campaign(ws, "v")->campaign;
    store.assign_voucher(ws, v, "jana", "JANA-1", "run-1/give", at("2026-11-22T12:00:00Z"));
    store.assign_voucher(ws, v, "petr", "PETR-1", "run-2/give", at("2026-11-22T12:00:00Z"));
    Task t;
    t.id = "t1";
    t.title = "Call Jana";
    t.role = "agent";
    t.contact = "jana";
    t.created_at = Time{0};
    store.create_task(ws, t);
    OutboxEntry mail;
    mail.key = "run-1/mail";
    mail.kind = "send_email";
    mail.contact = "jana";
    mail.params = {{"to", "jana@example.cz"}};
    store.write([&](WriteTx& tx) { CHECK(tx.enqueue_effect(ws, mail)); });

    const auto x = store.export_contact(ws, "jana");
    REQUIRE(x);
    CHECK(x->contact.contact.email == "jana@example.cz");
    CHECK(x->events.size() == 3);  // n1, p1 and voucher_assigned
    CHECK(x->responses.size() == 1);
    CHECK(x->responses[0].comment == "slow");
    CHECK(x->vouchers.size() == 1);
    CHECK(x->tasks.size() == 1);
    CHECK(x->outbox.size() == 1);

    const auto erased = store.erase_contact(ws, "jana");
    REQUIRE(erased);
    CHECK(erased->events == 3);
    CHECK(erased->responses == 1);
    CHECK(erased->purchases == 1);
    CHECK(erased->vouchers == 1);
    CHECK(erased->tasks == 1);
    CHECK(erased->outbox == 1);
    CHECK_FALSE(store.contact_card(ws, "jana", 10));
    CHECK_FALSE(store.erase_contact(ws, "jana"));
    EventQuery q;
    q.contact = "jana";
    CHECK(store.list_events(ws, q).events.empty());
    CHECK(store.vouchers(ws, std::string("jana"), 10).empty());
    CHECK(store.outbox(ws, {}).empty());
    CHECK(store.purchases(ws, Time{0}, at("2030-01-01T00:00:00Z")).contact_ids == std::vector<std::string>{"petr"});
    // Nothing of the other contact went.
    CHECK(store.contact_card(ws, "petr", 10)->nps.size() == 1);
    CHECK(store.vouchers(ws, std::string("petr"), 10).size() == 1);

    CHECK(erased->purged);
}

namespace {

// How often `needle` occurs in the raw bytes of every file of the store's folder.
std::size_t copies_on_disk(const std::filesystem::path& dir, const std::string& needle) {
    std::size_t n = 0;
    for (const auto& f : std::filesystem::directory_iterator(dir)) {
        std::ifstream in(f.path(), std::ios::binary);
        const std::string raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        for (auto at = raw.find(needle); at != std::string::npos; at = raw.find(needle, at + 1)) ++n;
    }
    return n;
}

constexpr const char* zd_email = "zdenka.7731@erase.example";
constexpr const char* zd_phone = "+420 606 481 937";

// A contact with something in every table an erasure clears, its e-mail in each.
void contact_everywhere(SqliteStore& store, WorkspaceId ws, const std::string& id) {
    const std::string contact = std::string(R"({"id":")") + id + R"(","email":")" + zd_email +
                                R"(","first_name":"Zdeňka","last_name":"Zapomenutá","attributes":{"phone":")" +
                                zd_phone + R"("}})";
    auto patch = contact_patch_from_json(detail::parse_json(contact).value());
    REQUIRE(patch.ok());
    store.upsert_contact(ws, *patch, Time{0});
    const std::string n = R"({"id":"n-)" + id + R"(","type":"nps_response","contact":")" + id +
                          R"(","data":{"score":3,"comment":"mail )" + zd_email + R"("}})";
    const std::string p = R"({"id":"p-)" + id + R"(","type":"purchase","contact":")" + id +
                          R"(","data":{"order_id":"o1","amount":10,"currency":"EUR"}})";
    ingest(store, ws, {event(n.c_str()), event(p.c_str())});
    store.save_voucher_campaign(ws, campaign(R"({"id":"v","name":"V","value":5,"currency":"EUR","valid_for":"P1M"})"),
                                Time{0});
    store.assign_voucher(ws, store.find_voucher_campaign(ws, "v")->campaign, id, "CODE-" + id, "",
                         at("2026-11-22T12:00:00Z"));
    Task t;
    t.id = "t-" + id;
    t.title = std::string("Call ") + zd_email;
    t.role = "agent";
    t.contact = id;
    t.created_at = Time{0};
    store.create_task(ws, t);
    store.write([&](WriteTx& tx) {
        RunRecord r;
        r.workspace = ws;
        r.id = "run-" + id;
        r.scenario = "s";
        r.contact = id;
        r.event_id = "n-" + id;
        r.status = RunStatus::done;
        r.state = {{"contact", {{"email", zd_email}, {"phone", zd_phone}}}};
        tx.save_run(r);
        OutboxEntry mail;
        mail.key = "run-" + id + "/mail";
        mail.kind = "send_email";
        mail.contact = id;
        mail.run_id = r.id;
        mail.address = zd_email;
        mail.params = {{"to", zd_email}};
        CHECK(tx.enqueue_effect(ws, mail));
    });
    Suppression s;
    s.address = zd_email;
    s.reason = "unsubscribed";
    s.contact = id;
    store.add_suppression(ws, s);
}

}  // namespace

TEST_CASE("GDPR: the export carries every kind the erasure removes, and after it no byte is left on disk") {
    TempDir dir;
    SqliteStore store(dir.path);
    const auto ws = make_workspace(store, "demo");
    contact_everywhere(store, ws, "zd");
    REQUIRE(copies_on_disk(dir.path, zd_email) > 0);  // the check can see what it looks for

    const auto x = store.export_contact(ws, "zd");
    REQUIRE(x);
    CHECK(x->events.size() == 3);  // the answer, the purchase, voucher_assigned
    CHECK(x->responses.size() == 1);
    CHECK(x->purchases.size() == 1);
    CHECK(x->vouchers.size() == 1);
    CHECK(x->tasks.size() == 1);
    CHECK(x->outbox.size() == 1);
    CHECK(x->runs.size() == 1);
    CHECK(x->suppressions.size() == 1);

    const auto erased = store.erase_contact(ws, "zd");
    REQUIRE(erased);
    // Each kind the export carried, the erasure counted.
    CHECK(erased->events == x->events.size());
    CHECK(erased->responses == x->responses.size());
    CHECK(erased->purchases == x->purchases.size());
    CHECK(erased->vouchers == x->vouchers.size());
    CHECK(erased->tasks == x->tasks.size());
    CHECK(erased->outbox == x->outbox.size());
    CHECK(erased->runs == x->runs.size());
    CHECK(erased->suppressions == x->suppressions.size());
    CHECK(erased->purged);
    CHECK(erased->mentions.empty());
    // The store is still open: the database, its WAL and its shared memory hold no copy.
    CHECK(copies_on_disk(dir.path, zd_email) == 0);
    CHECK(copies_on_disk(dir.path, zd_phone) == 0);
    CHECK(copies_on_disk(dir.path, "Zapomenut") == 0);
    CHECK(std::filesystem::file_size(dir.path / "closeloop.db-wal") == 0);
}

TEST_CASE("GDPR: an erasure lists the mentions it leaves, and keeps a suppression another contact shares") {
    TempDir dir;
    SqliteStore store(dir.path);
    const auto ws = make_workspace(store, "demo");
    contact_everywhere(store, ws, "zd");
    // Another contact with the same address (a shared family mailbox), a hand-made task and
    // another contact's event naming the person, and records that merely look alike.
    store.upsert_contact(ws, *contact_patch_from_json(json{{"id", "twin"}, {"email", "ZDENKA.7731@erase.example"}}),
                         Time{0});
    ingest(store, ws,
           {event(R"({"id":"ref","type":"referral","contact":"other",
                      "data":{"channel":"web","by":{"note":"friend of ZDENKA.7731@ERASE.example"}}})"),
            event(R"({"id":"call","type":"call","contact":"other","data":{"to":"+420 606 481 937"}})"),
            event(R"({"id":"near","type":"call","contact":"other","data":{"to":"+420 606 481 93"}})")});
    Task hand;
    hand.id = "hand";
    hand.title = "Follow up";
    hand.message = "Zdeňka Zapomenutá called twice";
    hand.role = "agent";
    hand.created_at = Time{0};
    store.create_task(ws, hand);

    const auto erased = store.erase_contact(ws, "zd");
    REQUIRE(erased);
    std::vector<std::string> seen;
    for (const auto& m : erased->mentions) seen.push_back(m.kind + " " + m.id + " " + m.contact + " " + m.field);
    std::sort(seen.begin(), seen.end());
    CHECK(seen == std::vector<std::string>{"contact twin twin email", "event call other data.to",
                                           "event ref other data.by.note", "task hand  message"});
    CHECK(erased->mentions_total == 4);
    // The twin still asked not to be mailed: the address's suppression stays, without the id.
    CHECK(erased->suppressions == 0);
    const auto kept = store.find_suppression(ws, zd_email);
    REQUIRE(kept);
    CHECK(kept->contact.empty());
    CHECK(erased->purged);
}

TEST_CASE("GDPR: a reader on an old snapshot holds the WAL back; the erasure says so, and the writer catches up") {
    TempDir dir;
    SqliteStore store(dir.path);
    const auto ws = make_workspace(store, "demo");
    contact_everywhere(store, ws, "zd");
    closeloop::server::sqlite::Probe reader(dir.path / "closeloop.db", true);
    reader.exec("BEGIN");
    CHECK(reader.number("SELECT count(*) FROM contacts") == 1);  // its snapshot holds the WAL

    const auto erased = store.erase_contact(ws, "zd");
    REQUIRE(erased);
    CHECK_FALSE(erased->purged);
    CHECK(copies_on_disk(dir.path, zd_email) > 0);  // in the WAL still: not pretended away

    reader.exec("COMMIT");
    // The writer tries again on its own (at most once a second): the copies go without
    // anything else happening.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (copies_on_disk(dir.path, zd_email) > 0 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    CHECK(copies_on_disk(dir.path, zd_email) == 0);
}

TEST_CASE("vouchers: assigned once per key, redeemed once, expired ones refused") {
    TempDir dir;
    SqliteStore store(dir.path);
    const auto ws = make_workspace(store, "demo");
    const auto v =
        campaign(R"({"id":"nps-apology-20","name":"NPS apology","value":20,"currency":"EUR","valid_for":"P2M"})");
    CHECK(store.save_voucher_campaign(ws, v, Time{0}));
    CHECK_FALSE(store.save_voucher_campaign(ws, v, Time{1}));  // replaced, not created

    const auto first = store.assign_voucher(ws, v, "c1", "AAAA-1", "run-1/give", at("2026-12-31T10:00:00Z"));
    const auto again = store.assign_voucher(ws, v, "c1", "BBBB-2", "run-1/give", at("2026-12-31T11:00:00Z"));
    CHECK(again.code == first.code);
    CHECK(first.expires_at == at("2027-02-28T10:00:00Z"));  // core's calendar months
    CHECK(store.vouchers(ws, std::string("c1"), 10).size() == 1);

    // A voucher_assigned event is on the timeline, and the contact exists.
    const auto card = store.contact_card(ws, "c1", 10);
    REQUIRE(card);
    REQUIRE(card->timeline.size() == 1);
    CHECK(card->timeline[0].event.type == "voucher_assigned");
    CHECK(card->timeline[0].event.data["code"] == "AAAA-1");
    CHECK(card->timeline[0].event.data["expires_at"] == "2027-02-28T10:00:00Z");
    CHECK(validate_event_data(EventType::voucher_assigned, card->timeline[0].event.data, "data") == std::nullopt);

    auto r = store.redeem_voucher(ws, "AAAA-1", at("2027-01-15T00:00:00Z"));
    CHECK(r.outcome == RedeemOutcome::redeemed);
    CHECK(r.voucher->redeemed_at == at("2027-01-15T00:00:00Z"));
    CHECK(store.redeem_voucher(ws, "AAAA-1", at("2027-01-16T00:00:00Z")).outcome == RedeemOutcome::already_redeemed);
    CHECK(store.redeem_voucher(ws, "NOPE", at("2027-01-16T00:00:00Z")).outcome == RedeemOutcome::not_found);

    const auto late = store.assign_voucher(ws, v, "c2", "CCCC-3", "", at("2026-01-01T00:00:00Z"));
    CHECK(store.redeem_voucher(ws, late.code, at("2026-03-02T00:00:00Z")).outcome == RedeemOutcome::expired);

    SUBCASE("a voucher_redeemed event marks the voucher by code, or the contact's latest of the campaign") {
        store.assign_voucher(ws, v, "c3", "DDDD-4", "", at("2026-11-01T00:00:00Z"));
        store.assign_voucher(ws, v, "c3", "EEEE-5", "", at("2026-11-02T00:00:00Z"));
        ingest(store, ws,
               {event(R"({"id":"r1","type":"voucher_redeemed","contact":"c3","data":{"campaign":"nps-apology-20"}})")});
        auto vs = store.vouchers(ws, std::string("c3"), 10);
        REQUIRE(vs.size() == 2);
        CHECK(vs[0].code == "EEEE-5");
        CHECK(vs[0].redeemed_at.has_value());
        CHECK_FALSE(vs[1].redeemed_at.has_value());
        ingest(store, ws, {event(R"({"id":"r2","type":"voucher_redeemed","contact":"c3","data":{"code":"DDDD-4"}})")});
        CHECK(store.vouchers(ws, std::string("c3"), 10)[1].redeemed_at.has_value());
    }

    SUBCASE("history: the latest voucher of a campaign since a time") {
        store.write([&](WriteTx& tx) {
            CHECK(tx.latest_voucher(ws, "c1", "nps-apology-20", at("2026-06-01T00:00:00Z"))->code == "AAAA-1");
            CHECK_FALSE(tx.latest_voucher(ws, "c1", "nps-apology-20", at("2027-06-01T00:00:00Z")));
            CHECK_FALSE(tx.latest_voucher(ws, "c1", "other", Time{0}));
            CHECK(tx.count_events(ws, "c1", "voucher_assigned", Time{0}) == 1);
            CHECK(tx.count_events(ws, "c1", "voucher_redeemed", Time{0}) == 1);
        });
    }
}

TEST_CASE("tasks and the outbox: idempotent by key, listed by role and status") {
    TempDir dir;
    SqliteStore store(dir.path);
    const auto ws = make_workspace(store, "demo");
    Task t;
    t.id = "t1";
    t.title = "Call Jana";
    t.role = "call_center_agent";
    t.key = "run-1/call";
    t.created_at = at("2026-11-22T10:00:00Z");
    CHECK(store.create_task(ws, t).id == "t1");
    t.id = "t2";
    CHECK(store.create_task(ws, t).id == "t1");  // same key: the first task
    t.id = "t3";
    t.key = "";
    t.role = "owner";
    store.create_task(ws, t);

    TaskQuery agent;
    agent.role = "call_center_agent";
    CHECK(store.tasks(ws, agent).size() == 1);
    CHECK(store.tasks(ws, {}).size() == 2);
    const auto done = store.complete_task(ws, "t1", at("2026-11-22T11:00:00Z"));
    REQUIRE(done);
    CHECK(done->status == TaskStatus::done);
    CHECK(store.complete_task(ws, "t1", at("2026-11-22T12:00:00Z"))->done_at == at("2026-11-22T11:00:00Z"));
    TaskQuery open;
    open.status = TaskStatus::open;
    CHECK(store.tasks(ws, open).size() == 1);
    agent.status = TaskStatus::open;
    CHECK(store.tasks(ws, agent).empty());

    OutboxEntry e;
    e.key = "run-1/mail";
    e.kind = "send_email";
    e.params = {{"template", "nps-apology"}};
    e.created_at = Time{5};
    OutboxEntry hook = e;
    hook.key = "run-1/slack";
    hook.kind = "webhook";
    store.write([&](WriteTx& tx) {
        CHECK(tx.enqueue_effect(ws, e));
        CHECK_FALSE(tx.enqueue_effect(ws, e));
        CHECK(tx.enqueue_effect(ws, hook));
    });
    CHECK(store.outbox(ws, {}).size() == 2);
    OutboxQuery mails;
    mails.kind = "send_email";
    mails.status = OutboxStatus::pending;
    const auto listed = store.outbox(ws, mails);
    REQUIRE(listed.size() == 1);
    CHECK(listed[0].params == json{{"template", "nps-apology"}});
    OutboxQuery sent;
    sent.status = OutboxStatus::sent;
    CHECK(store.outbox(ws, sent).empty());
}

TEST_CASE("RFM results replace the previous ones") {
    TempDir dir;
    SqliteStore store(dir.path);
    const auto ws = make_workspace(store, "demo");
    ingest(
        store, ws,
        {event(
             R"({"id":"p1","type":"purchase","time":"2026-11-01T00:00:00Z","contact":"c1","data":{"order_id":"1","amount":100,"currency":"EUR"}})"),
         event(
             R"({"id":"p2","type":"purchase","time":"2026-11-02T00:00:00Z","contact":"c2","data":{"order_id":"2","amount":10,"currency":"EUR"}})")});
    RfmSettings settings;
    settings.as_of = at("2026-11-22T00:00:00Z");
    const auto table = store.purchases(ws, Time{settings.as_of.ms - 365 * ms_per_day}, settings.as_of);
    auto result =
        compute_rfm(settings, static_cast<std::uint32_t>(table.contact_ids.size()), table.purchases.columns());
    REQUIRE(result.ok());
    CHECK(store.save_rfm(ws, table.contact_ids, *result, rfm_edges(*result, settings)) == 2);
    const auto c1 = store.contact_card(ws, "c1", 1)->contact.contact.rfm;
    REQUIRE(c1);
    CHECK(c1->monetary_cents == 10000);
    CHECK_FALSE(c1->segment.empty());

    // A year later c1's purchase has left the window: c1 has no segment any more.
    settings.as_of = at("2027-11-01T12:00:00Z");
    const auto later = store.purchases(ws, Time{settings.as_of.ms - 365 * ms_per_day}, settings.as_of);
    CHECK(later.contact_ids == std::vector<std::string>{"c2"});
    auto again = compute_rfm(settings, 1, later.purchases.columns());
    REQUIRE(again.ok());
    store.save_rfm(ws, later.contact_ids, *again, rfm_edges(*again, settings));
    CHECK_FALSE(store.contact_card(ws, "c1", 1)->contact.contact.rfm);
    CHECK(store.contact_card(ws, "c2", 1)->contact.contact.rfm);
}

TEST_CASE("units of work: one failing unit is undone alone; group commit shares transactions") {
    TempDir dir;
    SqliteStore store(dir.path);
    const auto ws = make_workspace(store, "demo");

    SUBCASE("a throwing unit is rolled back and its exception reaches the caller") {
        CHECK_THROWS_AS(store.write([&](WriteTx& tx) {
            tx.insert_events(ws, std::vector<Event>{event(R"({"id":"lost","type":"signup","contact":"c1"})")}, Time{0});
            throw std::runtime_error("boom");
        }),
                        std::runtime_error);
        CHECK(store.list_events(ws, {}).events.empty());
        CHECK_FALSE(store.contact_card(ws, "c1", 1));
        CHECK(store.stats().failed_units == 1);
        // The store keeps working.
        CHECK(ingest(store, ws, {event(R"({"id":"kept","type":"signup","contact":"c1"})")}).accepted == 1);
    }

    SUBCASE("many threads: every event stored once, in fewer transactions than units") {
        constexpr int threads = 8, per_thread = 50;
        const auto before = store.stats();
        std::atomic<int> failures{0};
        std::vector<std::thread> pool;
        for (int t = 0; t < threads; ++t) {
            pool.emplace_back([&, t] {
                for (int i = 0; i < per_thread; ++i) {
                    json j = {{"id", "t" + std::to_string(t) + "-" + std::to_string(i)},
                              {"type", "nps_response"},
                              {"contact", "c" + std::to_string(i % 7)},
                              {"data", {{"score", i % 11}}}};
                    const auto r = store.insert_events(ws, std::vector<Event>{event_from_json(j).value()}, Time{i});
                    if (r.accepted != 1) ++failures;
                }
            });
        }
        for (auto& th : pool) th.join();
        CHECK(failures == 0);
        EventQuery all;
        all.limit = 1000;
        CHECK(store.list_events(ws, all).events.size() == threads * per_thread);
        const auto after = store.stats();
        CHECK(after.units_of_work - before.units_of_work == threads * per_thread);
        CHECK(after.commits - before.commits <= after.units_of_work - before.units_of_work);
    }

    SUBCASE("events wait for the executor: unprocessed until marked, and the listener hears of commits") {
        std::atomic<int> heard{0};
        store.set_commit_listener([&] { ++heard; });
        ingest(store, ws,
               {event(R"({"id":"a","type":"signup","contact":"c1"})"),
                event(R"({"id":"b","type":"signup","contact":"c1"})")});
        CHECK(heard >= 1);
        auto todo = store.unprocessed_events(10);
        REQUIRE(todo.size() == 2);
        CHECK(todo[0].event.id == "a");  // oldest first
        std::vector<std::int64_t> seqs{todo[0].seq};
        store.write([&](WriteTx& tx) { tx.mark_events_processed(seqs, at("2026-11-22T12:00:01Z")); });
        todo = store.unprocessed_events(10);
        REQUIRE(todo.size() == 1);
        CHECK(todo[0].event.id == "b");
        store.set_commit_listener(nullptr);
    }

    SUBCASE("marks with gaps (set-aside events, other units) mark exactly the seqs given") {
        std::vector<Event> batch;
        for (int i = 0; i < 8; ++i)
            batch.push_back(
                event((R"({"id":"m)" + std::to_string(i) + R"(","type":"signup","contact":"c1"})").c_str()));
        ingest(store, ws, batch);
        auto todo = store.unprocessed_events(20);
        REQUIRE(todo.size() == 8);
        // Runs 0-2 and 5-6, and 4 alone: 3 and 7 stay unprocessed.
        const std::vector<std::int64_t> seqs{todo[0].seq, todo[1].seq, todo[2].seq,
                                             todo[4].seq, todo[5].seq, todo[6].seq};
        store.write([&](WriteTx& tx) { tx.mark_events_processed(seqs, at("2026-11-22T12:00:01Z")); });
        const auto left = store.unprocessed_events(20);
        REQUIRE(left.size() == 2);
        CHECK(left[0].event.id == "m3");
        CHECK(left[1].event.id == "m7");
    }
}

TEST_CASE("events with a handler: each handled right after it is stored, in the same unit; a throw undoes all of it") {
    TempDir dir;
    SqliteStore store(dir.path);
    const auto ws = make_workspace(store, "demo");
    std::atomic<int> heard{0};
    store.set_commit_listener([&] { ++heard; });
    const std::vector<Event> batch{event(R"({"id":"h1","type":"nps_response","contact":"c1","data":{"score":1}})"),
                                   event(R"({"id":"h2","type":"nps_response","contact":"c1","data":{"score":2}})"),
                                   event(R"({"id":"h3","type":"nps_response","contact":"c1","data":{"score":3}})")};
    const Time received = at("2026-11-22T12:00:00Z");

    SUBCASE("stored processed, the handler's writes committed with them, history as of each event") {
        std::vector<std::int64_t> seen;
        const auto commits = store.stats().commits;
        Handler handler([&](WriteTx& tx, WorkspaceId w, std::int64_t seq, const Event& e, const Contact& c) {
            // The events before it in the batch, and itself: not the ones after.
            seen.push_back(tx.count_events_between(ws, "c1", "nps_response", Time{0}, received));
            CHECK(w == ws);
            CHECK(e.time == received);  // the receive time, as stored
            CHECK(seq > 0);
            CHECK(c.id == "c1");
            Task t;
            t.id = "task-" + e.id;
            t.title = "T";
            t.role = "care";
            tx.create_task(ws, t);
        });
        const auto r = store.insert_events(ws, batch, received, &handler);
        CHECK(r.accepted == 3);
        CHECK(r.handled == 3);
        CHECK(seen == std::vector<std::int64_t>{1, 2, 3});
        CHECK(store.stats().commits == commits + 1);
        CHECK(store.tasks(ws, TaskQuery{}).size() == 3);
        CHECK(store.unprocessed_events(10).empty());
        CHECK(heard == 0);  // nothing left for the executor
        for (const auto& e : store.list_events(ws, {}).events) CHECK(e.processed_at == received);

        SUBCASE("a repeated event is a duplicate and not handled again") {
            int calls = 0;
            Handler counter([&](WriteTx&, WorkspaceId, std::int64_t, const Event&, const Contact&) { ++calls; });
            const auto again = store.insert_events(ws, batch, received, &counter);
            CHECK(again.duplicates == 3);
            CHECK(calls == 0);
        }
    }
    SUBCASE("a handler that throws: the events are stored unprocessed, nothing it wrote is kept") {
        int calls = 0;
        Handler failing([&](WriteTx& tx, WorkspaceId, std::int64_t, const Event& e, const Contact&) {
            ++calls;
            Task t;
            t.id = "task-" + e.id;
            t.title = "T";
            tx.create_task(ws, t);
            if (e.id == "h2") throw std::runtime_error("a bug in a scenario step");
        });
        const auto r = store.insert_events(ws, batch, received, &failing);
        CHECK(calls == 2);
        CHECK(r.accepted == 3);
        CHECK(r.handled == 0);
        CHECK(store.tasks(ws, TaskQuery{}).empty());
        const auto todo = store.unprocessed_events(10);
        REQUIRE(todo.size() == 3);
        CHECK(todo[0].event.id == "h1");
        CHECK(heard >= 1);  // the executor is woken to take them up
    }
    SUBCASE("events the handler does not want are stored processed without it, their contacts as usual") {
        int calls = 0;
        Handler picky([&](WriteTx&, WorkspaceId, std::int64_t, const Event&, const Contact&) { ++calls; },
                      [](const Event& e) { return e.id == "h2"; });
        std::vector<Event> mixed = batch;
        mixed.push_back(event(R"({"id":"h4","type":"signup","contact":{"id":"c2","email":"c2@example.cz"}})"));
        const auto r = store.insert_events(ws, mixed, received, &picky);
        CHECK(r.accepted == 4);
        CHECK(r.handled == 4);
        CHECK(calls == 1);
        CHECK(store.unprocessed_events(10).empty());
        const auto card = store.contact_card(ws, "c2", 1);
        REQUIRE(card);
        CHECK(card->contact.contact.email == "c2@example.cz");
    }
    store.set_commit_listener(nullptr);
}

TEST_CASE("every query the store has run uses an index (no full scans of growing tables)") {
    TempDir dir;
    SqliteStore store(dir.path);
    const auto ws = make_workspace(store, "demo");
    store.write([&](WriteTx& tx) { tx.add_key(ws, KeyKind::admin, "h", "p", Time{0}); });
    // Exercise every read and write path once.
    ingest(
        store, ws,
        {event(R"({"id":"n1","type":"nps_response","contact":{"id":"c1","email":"a@b.cz"},"data":{"score":3}})"),
         event(R"({"id":"s1","type":"csat_response","contact":"c1","data":{"score":3}})"),
         event(R"({"id":"p1","type":"purchase","contact":"c1","data":{"order_id":"1","amount":5,"currency":"EUR"}})"),
         event(R"({"id":"r1","type":"voucher_redeemed","contact":"c1","data":{"campaign":"v"}})"),
         event(R"({"id":"r2","type":"voucher_redeemed","contact":"c1","data":{"code":"X"}})")});
    store.find_key("h");
    store.find_workspace("demo");
    store.setting(ws, "rfm");
    for (int variant = 0; variant < 4; ++variant) {
        EventQuery q;
        if (variant & 1) q.contact = "c1";
        if (variant & 2) q.type = "nps_response";
        q.after = EventCursor{Time{1}, 1};
        store.list_events(ws, q);
        TaskQuery t;
        if (variant & 1) t.role = "r";
        if (variant & 2) t.status = TaskStatus::open;
        store.tasks(ws, t);
        OutboxQuery o;
        if (variant & 1) o.status = OutboxStatus::pending;
        if (variant & 2) o.kind = "send_email";
        store.outbox(ws, o);
    }
    store.unprocessed_events(10);
    store.save_voucher_campaign(ws, campaign(R"({"id":"v","name":"V","value":5,"currency":"EUR","valid_for":"P1Y"})"),
                                Time{0});
    store.voucher_campaigns(ws);
    store.find_voucher_campaign(ws, "v");
    store.assign_voucher(ws, store.find_voucher_campaign(ws, "v")->campaign, "c1", "K1", "key", Time{0});
    store.vouchers(ws, std::nullopt, 10);
    store.vouchers(ws, std::string("c1"), 10);
    store.redeem_voucher(ws, "K1", Time{1});
    Task task;
    task.id = "t";
    task.title = "T";
    task.role = "r";
    task.key = "k";
    task.contact = "c1";
    store.create_task(ws, task);
    store.complete_task(ws, "t", Time{2});
    store.write([&](WriteTx& tx) {
        OutboxEntry e;
        e.key = "k";
        e.kind = "send_email";
        e.contact = "c1";
        tx.enqueue_effect(ws, e);
        tx.count_events(ws, "c1", "nps_response", Time{0});
        tx.latest_voucher(ws, "c1", "v", Time{0});
        tx.put_setting(ws, "x", json::object(), Time{0});
        tx.mark_events_processed(std::vector<std::int64_t>{1}, Time{3});
        ContactPatch patch;
        patch.id = "c2";
        patch.email = "x@y.cz";
        tx.upsert_contact(ws, patch, Time{0});
    });
    store.contact_card(ws, "c1", 10);
    store.export_contact(ws, "c1");
    const auto table = store.purchases(ws, Time{0}, Time{ms_per_day * 365 * 100});
    store.save_rfm(ws, table.contact_ids, compute_rfm(RfmSettings{}, 1, table.purchases.columns()).value(),
                   std::nullopt);
    // Scenarios, templates and runs (the executor's statements).
    store.create_scenario(ws, json{{"id", "s"}, {"name", "S"}}, Time{0});
    store.update_scenario(ws, "s", json{{"id", "s"}, {"name", "S2"}}, Time{1}, nullptr);
    store.set_scenario_status(ws, "s", ScenarioStatus::active, Time{2});
    store.update_scenario(ws, "s", json{{"id", "s"}, {"name", "S3"}}, Time{3}, nullptr);
    store.scenarios(ws);
    store.find_scenario_version(ws, "s", 1);
    store.active_scenarios();
    store.save_template(ws, "t", json{{"id", "t"}}, Time{0});
    store.save_template(ws, "t", json{{"id", "t"}}, Time{1});
    store.templates(ws);
    store.find_template(ws, "t");
    store.write([&](WriteTx& tx) {
        RunRecord r;
        r.workspace = ws;
        r.id = "run1";
        r.scenario = "s";
        r.contact = "c1";
        r.status = RunStatus::waiting;
        r.wake_at = Time{10};
        tx.save_run(r);
        tx.save_run(r);
        tx.find_run(ws, "run1");
        tx.run_history(ws, "s", "c1");
        tx.voucher_assigned_between(ws, "c1", "v", Time{0}, Time{5});
        tx.count_events_between(ws, "c1", "purchase", Time{0}, Time{5});
        tx.previous_nps(ws, "c1", Time{5}, "n1");
        tx.contact_vouchers(ws, "c1", Time{5});
        tx.find_voucher(ws, "K1");
    });
    for (int variant = 0; variant < 8; ++variant) {
        RunQuery q;
        if (variant & 1) q.contact = "c1";
        if (variant & 2) q.scenario = "s";
        if (variant & 4) q.status = RunStatus::waiting;
        store.runs(ws, q);
    }
    store.find_run(ws, "run1");
    store.due_runs(Time{20}, 10);
    store.next_wake_at();
    store.run_outbox(ws, "run1");
    CHECK(store.executor_backlog(Time{20}).due_runs == 1);
    store.delete_scenario(ws, "s", Time{4});
    store.erase_contact(ws, "c1");

    const auto plans = store.query_plans();
    if (std::getenv("CLOSELOOP_PRINT_PLANS"))
        for (const auto& [sql, steps] : plans) {
            std::printf("%s\n", sql.c_str());
            for (const auto& step : steps) std::printf("    %s\n", step.c_str());
        }
    CHECK(plans.size() > 40);
    for (const auto& [sql, steps] : plans) {
        for (const auto& step : steps) {
            CAPTURE(sql);
            CAPTURE(step);
            // "SCAN t" alone reads the whole table; "SCAN t USING INDEX" walks an index in order.
            const bool full_scan = step.rfind("SCAN ", 0) == 0 && step.find(" USING ") == std::string::npos &&
                                   step.find("CONSTANT ROW") == std::string::npos;
            const bool small_table = step == "SCAN workspaces";  // one row per workspace
            // json_tree over one row's document (an erasure naming the field of a mention).
            const bool one_document = step.find(" VIRTUAL TABLE ") != std::string::npos;
            CHECK((!full_scan || small_table || one_document));
        }
        // A contact's events are found through its index, never by walking a whole workspace's
        // events in time order (what SQLite picks without statistics when left to choose).
        // (A voucher query that orders by its event's seq reads events by id, not by contact.)
        if (const auto from = sql.find("FROM events");
            from != std::string::npos && sql.find("contact_id = ?", from) != std::string::npos) {
            CAPTURE(sql);
            bool uses_contact_index = false;
            for (const auto& step : steps)
                uses_contact_index = uses_contact_index || step.find("events_contact") != std::string::npos;
            CHECK(uses_contact_index);
        }
        // The re-entry facts of every matching event come from the index alone, not the runs'
        // large rows.
        if (sql.find("FROM runs INDEXED BY runs_scenario_contact") != std::string::npos) {
            CAPTURE(sql);
            bool covered = false;
            for (const auto& step : steps) covered = covered || step.find("COVERING INDEX") != std::string::npos;
            CHECK(covered);
        }
        // Sorting a growing table at each request is as bad as scanning it.
        for (const auto& step : steps) {
            if (step.find("TEMP B-TREE") == std::string::npos) continue;
            CAPTURE(sql);
            CHECK((sql.find("FROM vouchers") != std::string::npos || sql.find("contact_id = ?2") != std::string::npos));
        }
    }
}

TEST_CASE("RFM: a purchase after a computation scores its contact at once against the computation's edges") {
    TempDir dir;
    SqliteStore store(dir.path);
    const auto ws = make_workspace(store, "demo");
    const auto purchase = [](const char* id, const char* contact, const char* time, double amount) {
        Event e =
            event(R"({"id":"x","type":"purchase","contact":"x","data":{"order_id":"o","amount":1,"currency":"EUR"}})");
        e.id = id;
        e.contact.id = contact;
        e.time = at(time);
        e.data["amount"] = amount;
        return e;
    };
    ingest(store, ws,
           {purchase("p1", "small", "2026-11-01T00:00:00Z", 10), purchase("p2", "mid", "2026-11-02T00:00:00Z", 100),
            purchase("p3", "big", "2026-11-03T00:00:00Z", 1000)});
    RfmSettings settings;
    settings.as_of = at("2026-11-22T00:00:00Z");
    const auto table = store.purchases(ws, Time{settings.as_of.ms - 365 * ms_per_day}, settings.as_of);
    const auto result =
        compute_rfm(settings, static_cast<std::uint32_t>(table.contact_ids.size()), table.purchases.columns());
    REQUIRE(result.ok());
    const auto edges = rfm_edges(*result, settings);
    REQUIRE(edges);
    CHECK(store.save_rfm(ws, table.contact_ids, *result, edges) == 3);
    const auto rfm_of = [&](const char* id) { return store.contact_card(ws, id, 1)->contact.contact.rfm; };

    // A new customer buys and then answers: the purchase gives a segment at once, and a scenario
    // handed the answer sees it.
    const Time received = at("2026-11-23T10:00:00Z");
    std::optional<ContactRfm> seen;
    Handler answers([&](WriteTx&, WorkspaceId, std::int64_t, const Event&, const Contact& c) { seen = c.rfm; },
                    [](const Event& e) { return e.type == "nps_response"; });
    store.insert_events(ws,
                        std::vector<Event>{purchase("p4", "newbie", "2026-11-23T09:00:00Z", 2000),
                                           event(R"({"id":"n1","type":"nps_response","contact":"newbie",)"
                                                 R"("time":"2026-11-23T09:30:00Z","data":{"score":4}})")},
                        received, &answers);
    const auto newbie = rfm_of("newbie");
    REQUIRE(newbie);
    const std::array<Time, 1> times = {at("2026-11-23T09:00:00Z")};
    const std::array<double, 1> amounts = {2000};
    CHECK(*newbie == score_contact(*edges, received, times, amounts).value());
    CHECK(newbie->m == 5);  // above every spend of the computation
    CHECK(newbie->recency_days == 0);
    CHECK(seen == newbie);

    // A customer of the computation buys again: frequency and spend move now, not at the next
    // computation.
    const auto before = rfm_of("small");
    REQUIRE(before);
    ingest(store, ws, {purchase("p5", "small", "2026-11-23T11:00:00Z", 990)}, at("2026-11-23T11:00:00Z"));
    const auto after = rfm_of("small");
    REQUIRE(after);
    CHECK(after->frequency == 2);
    CHECK(after->monetary_cents == 100000);
    CHECK(after->m > before->m);

    // A computation that scored no one leaves no edges: purchases then change no scores.
    CHECK(store.save_rfm(ws, {}, compute_rfm(settings, 0, Purchases{}.columns()).value(), std::nullopt) == 0);
    ingest(store, ws, {purchase("p6", "later", "2026-11-24T00:00:00Z", 50)}, at("2026-11-24T00:00:00Z"));
    CHECK_FALSE(rfm_of("later"));
}
