// libFuzzer target: the expression parser, checker and evaluator on arbitrary text.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "closeloop/expr.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace closeloop;
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto e = Expression::parse(text);
    if (!e) return 0;
    for (const char* type : {"nps_response", "purchase", "custom_thing", ""}) {
        TypeEnv env;
        env.event_type = type;
        (void)e->check(env);
    }
    Event event;
    event.id = "e1";
    event.type = "nps_response";
    event.kind = EventType::nps_response;
    event.time = Time{1'700'000'000'000};
    event.contact.id = "c1";
    event.data = {{"score", 4}, {"comment", "Doprava trvala 3 týdny."}};
    Contact contact;
    contact.id = "c1";
    contact.tags = {"vip", "newsletter"};
    contact.attributes = {{"branch", "Brno"}, {"seats", 12}};
    VoucherView voucher;
    voucher.code = "ABC";
    voucher.expires_at = Time{1'705'000'000'000};
    RunView run{"run-1", Time{1'700'000'000'000}};
    EmptyHistory history;
    EvalContext ctx;
    ctx.event = &event;
    ctx.contact = &contact;
    ctx.voucher = &voucher;
    ctx.run = &run;
    ctx.history = &history;
    ctx.now = Time{1'700'000'100'000};
    auto v = e->evaluate(ctx);
    if (v) (void)to_display_string(*v);
    (void)e->paths();
    return 0;
}
