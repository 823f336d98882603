// libFuzzer target: the template parser, checker and renderer on arbitrary text.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "closeloop/render.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace closeloop;
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto t = TemplateText::parse(text);
    if (!t) return 0;
    TypeEnv env;
    env.event_type = "nps_response";
    (void)t->check(env);
    Event event;
    event.type = "nps_response";
    event.kind = EventType::nps_response;
    event.time = Time{1'700'000'000'000};
    event.contact.id = "c1";
    event.data = {{"score", 9}, {"comment", "<b>great</b> & fast"}};
    Contact contact;
    contact.id = "c1";
    contact.first_name = "Jiří";
    VoucherView voucher;
    voucher.code = "ABC";
    voucher.expires_at = Time{1'705'000'000'000};
    EmptyHistory history;
    EvalContext ctx;
    ctx.event = &event;
    ctx.contact = &contact;
    ctx.voucher = &voucher;
    ctx.history = &history;
    ctx.now = Time{1'700'000'100'000};
    (void)t->render(ctx, Escape::html, "cs");
    (void)t->render(ctx, Escape::none, "en");
    return 0;
}
