// Databases of every released schema, as the closeloop that released it wrote them
// (tests/data/schema/v<N>.sql, made by make_dump.py from the commit that released schema N):
// today's store opens each, migrates it to the current schema and reads back what was in it.
// A migration that loses or garbles data of an older release fails here.
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "closeloop/time.h"
#include "keys.h"
#include "store/sqlite_probe.h"
#include "store/sqlite_store.h"
#include "temp_dir.h"

using namespace closeloop;
using namespace closeloop::server;

namespace {

std::string dump_text(int version) {
    std::ifstream in(std::string(CLOSELOOP_SCHEMA_DUMPS_DIR) + "/v" + std::to_string(version) + ".sql");
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

Time at(const char* text) {
    return parse_time(text).value();
}

// What every dump from schema 2 on holds (make_dump.py's populate).
void check_common(Store& store, WorkspaceId ws) {
    const auto grant = store.find_key(sha256_hex("cl_admin_schema_dump_key_000000000000"));
    REQUIRE(grant);
    CHECK(grant->workspace == ws);
    CHECK(grant->kind == KeyKind::admin);

    const auto card = store.contact_card(ws, "jana", 10);
    REQUIRE(card);
    const Contact& jana = card->contact.contact;
    CHECK(jana.attributes["city"] == "Brno");
    CHECK(jana.tags == std::vector<std::string>{"vip-club"});
    CHECK(jana.email == "jana@example.com");
    CHECK(jana.first_name == "Jana");
    REQUIRE(jana.rfm);
    CHECK(jana.rfm->frequency == 1);
    CHECK(jana.rfm->monetary_cents == 12050);
    CHECK_FALSE(jana.rfm->segment.empty());
    REQUIRE(card->nps.size() == 1);
    CHECK(card->nps[0].score == 3);
    CHECK(card->nps[0].comment == "slow delivery");
    CHECK(card->nps[0].time == at("2026-11-04T09:00:00Z"));

    EventQuery q;
    q.contact = "jana";
    std::vector<std::string> ids;
    for (const auto& e : store.list_events(ws, q).events)
        if (e.event.type != "voucher_assigned") ids.push_back(e.event.id);
    CHECK(ids == std::vector<std::string>{"nps-1", "visit-1", "buy-1"});  // newest first
    const auto purchases = store.purchases(ws, at("2026-11-01T00:00:00Z"), at("2026-11-30T00:00:00Z"));
    CHECK(purchases.contact_ids == std::vector<std::string>{"jana"});

    REQUIRE(store.find_voucher_campaign(ws, "sorry-10"));
    const auto vouchers = store.vouchers(ws, std::string("jana"), 10);
    REQUIRE_FALSE(vouchers.empty());
    CHECK(vouchers.back().campaign == "sorry-10");
    CHECK(vouchers.back().value == 10);

    bool ring = false;
    for (const auto& t : store.tasks(ws, {})) ring = ring || (t.title == "Ring Jana" && t.role == "call_center_agent");
    CHECK(ring);
}

// Schema 3 on: the scenario, its template and the run the NPS answer started (waiting).
void check_runs(Store& store, WorkspaceId ws) {
    const auto scenario = store.find_scenario(ws, "detractors");
    REQUIRE(scenario);
    CHECK(scenario->status == ScenarioStatus::active);
    CHECK(scenario->version == 1);
    CHECK(scenario->document["nodes"].size() == 4);
    CHECK(store.find_template(ws, "sorry"));

    RunQuery q;
    q.contact = "jana";
    const auto runs = store.runs(ws, q);
    REQUIRE(runs.size() == 1);
    CHECK(runs[0].scenario == "detractors");
    CHECK(runs[0].event_id == "nps-1");
    CHECK(runs[0].status == RunStatus::waiting);
    CHECK(runs[0].wake_at);
    CHECK(store.next_wake_at() == runs[0].wake_at);
    const auto outbox = store.run_outbox(ws, runs[0].id);
    REQUIRE(outbox.size() == 1);
    CHECK(outbox[0].kind == "send_email");
    CHECK(outbox[0].params["template"] == "sorry");
}

// What schema 5 added, read from any older dump after its migration: every key has its id,
// and the current version of a scenario its status.
void check_migrated_to_5(Store& store, WorkspaceId ws, int version) {
    const auto keys = store.api_keys(ws);
    REQUIRE(keys.size() >= 2);
    for (const auto& k : keys) CHECK(k.id.rfind("key_", 0) == 0);
    const auto info = store.find_key_info(sha256_hex("cl_admin_schema_dump_key_000000000000"));
    REQUIRE(info);
    CHECK(info->id == key_id_of(sha256_hex("cl_admin_schema_dump_key_000000000000")));
    if (version < 3) return;
    const auto versions = store.scenario_versions(ws, "detractors");
    REQUIRE(versions.size() == 1);
    CHECK(versions[0].status == ScenarioStatus::active);
}

// Schema 5 on: a draft saved twice, and a revoked key.
void check_builder(Store& store, WorkspaceId ws) {
    const auto versions = store.scenario_versions(ws, "drafty");
    REQUIRE(versions.size() == 2);
    CHECK(versions[0].version == 2);
    CHECK(versions[0].status == ScenarioStatus::draft);
    CHECK(store.find_scenario(ws, "drafty")->document["name"] == "Drafty 2");
    CHECK(store.find_scenario_version(ws, "drafty", 1)->document["name"] == "Drafty");
    bool revoked = false;
    for (const auto& k : store.api_keys(ws)) revoked = revoked || (k.prefix == "revoked-dump-k..." && k.revoked_at);
    CHECK(revoked);
    CHECK_FALSE(store.find_key(sha256_hex("revoked-dump-key-0000000000000")));
}

}  // namespace

TEST_CASE("a database of every released schema opens, migrates to the current one and reads back") {
    for (int version = 1; version <= SqliteStore::latest_schema_version(); ++version) {
        CAPTURE(version);
        const std::string dump = dump_text(version);
        REQUIRE_FALSE(dump.empty());
        TempDir dir;
        {
            sqlite::Probe old(dir.path / "closeloop.db");
            old.exec(dump);
            REQUIRE(old.number("PRAGMA user_version") == version);
        }
        SqliteStore store(dir.path);
        CHECK(store.schema_version() == SqliteStore::latest_schema_version());
        CHECK(store.healthy());
        if (version == 1) {  // no data yet: the tables arrive with the migrations
            CHECK(store.workspaces().empty());
            continue;
        }
        const auto ws = store.find_workspace("demo");
        REQUIRE(ws);
        check_common(store, ws->id);
        if (version >= 3) check_runs(store, ws->id);
        check_migrated_to_5(store, ws->id, version);
        if (version >= 5) check_builder(store, ws->id);
        // Every workspace has the secret of its unsubscribe links (made by schema 6, or with it).
        const auto secret = store.setting(ws->id, "link_secret");
        CHECK((secret && secret->is_string() && secret->get<std::string>().size() == 64));
        if (version >= 6) {
            const auto hooks = store.find_endpoint(ws->id, "hooks");
            REQUIRE(hooks);
            CHECK(hooks->kind == "generic");
            CHECK(hooks->secret.rfind("whsec_", 0) == 0);
        }
        // Nothing old is a backlog for the executor, and the migrated file takes new writes.
        CHECK(store.unprocessed_events(10).empty());
        const auto more = store.insert_events(ws->id,
                                              std::vector<Event>{*event_from_json({{"id", "nps-2"},
                                                                                   {"type", "nps_response"},
                                                                                   {"contact", "jana"},
                                                                                   {"time", "2026-11-05T09:00:00Z"},
                                                                                   {"data", {{"score", 9}}}})},
                                              at("2026-11-05T09:00:01Z"));
        CHECK(more.accepted == 1);
        CHECK(store.contact_card(ws->id, "jana", 10)->nps.size() == 2);
    }
}
