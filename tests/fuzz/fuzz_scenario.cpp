// libFuzzer target: the scenario loader and validator on arbitrary bytes (as JSON), and the
// engine on every scenario that validates.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "closeloop/detail/json_read.h"
#include "closeloop/engine.h"
#include "closeloop/scenario.h"
#include "closeloop/simulator.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace closeloop;
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto j = detail::parse_json(text);
    if (!j) return 0;
    auto loaded = load_scenario(*j);
    if (!loaded.errors.empty()) return 0;
    (void)nlohmann::json(loaded.scenario).dump();
    if (!validate(loaded.scenario, {}).empty()) return 0;

    // A valid scenario: run it once on an event of its trigger type.
    Event e;
    e.id = "e1";
    e.type = loaded.scenario.trigger.event;
    e.kind = event_type_of(e.type);
    e.time = Time{1'700'000'000'000};
    e.contact.id = "c1";
    e.data = {{"score", 3}, {"order_id", "o"}, {"amount", 1}, {"currency", "EUR"}, {"ticket_id", "t"}};
    Contact c;
    c.id = "c1";
    c.email = "c1@example.cz";
    MemoryHistory history;
    DeterministicCodes codes;
    const std::map<std::string, VoucherCampaign> campaigns;
    const StepContext ctx{loaded.scenario, history, history, codes, campaigns, nullptr, *e.time};
    auto r = start_run(ctx, "run-1", e, c);
    for (int i = 0; i < 3 && r.state.status == RunStatus::waiting; ++i) {
        const StepContext later{loaded.scenario, history, history, codes, campaigns, nullptr, *r.state.wake_at};
        if (r.contact) c = *r.contact;
        r = resume_run(later, std::move(r.state), c);
    }
    return 0;
}
