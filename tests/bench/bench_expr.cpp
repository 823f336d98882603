// Evaluation cost of typical scenario expressions and of one template render.
//
//   ./build/native/tests/bench/bench_expr            figures (ns per evaluation)
//   ./build/native/tests/bench/bench_expr --smoke    tiny sizes; checks the results only
//
// The engine's target is >= 1 million events/s with a few expressions each, so a simple
// condition must stay well under 100 ns.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include "closeloop/expr.h"
#include "closeloop/render.h"

using namespace closeloop;

namespace {

struct Case {
    const char* text;
    bool expected;
};

int fail(const char* what) {
    std::fprintf(stderr, "bench_expr: %s\n", what);
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    const bool smoke = argc > 1 && std::strcmp(argv[1], "--smoke") == 0;
    const long iterations = smoke ? 1000 : 10'000'000;

    Event event;
    event.id = "evt-9f1c";
    event.type = "nps_response";
    event.kind = EventType::nps_response;
    event.time = Time{1'795'345'200'000};
    event.data = {{"score", 4}, {"comment", "Doprava trvala 3 týdny."}, {"survey", "nps-main"}};
    Contact contact;
    contact.id = "c-42";
    contact.first_name = "Jana";
    contact.tags = {"newsletter", "NPS 10"};
    contact.attributes = {{"branch", "Brno"}};
    contact.rfm = ContactRfm{2, 1, 2, "Hibernating"};
    VoucherView voucher;
    voucher.expires_at = Time{1'800'000'000'000};
    const EmptyHistory history;
    EvalContext ctx;
    ctx.event = &event;
    ctx.contact = &contact;
    ctx.voucher = &voucher;
    ctx.history = &history;
    ctx.now = Time{1'795'345'205'000};

    const Case cases[] = {
        {"event.score < 7", true},
        {"contact.rfm.segment in ['Lost', 'Hibernating']", true},
        {"contact.rfm.segment in ['Champions', 'Loyal', 'Cannot Lose']", false},
        {"not voucher.redeemed", true},
        {"voucher.expires_at - days(10) > now", true},
        {"voucher_assigned_within('nps-apology-20', days(183))", false},
        {"event.score <= 6 and contact.attributes.branch == 'Brno' and has_tag('newsletter')", true},
        {"contains(lower(event.data.comment), 'doprava')", true},
    };

    for (const Case& c : cases) {
        auto e = Expression::parse(c.text);
        if (!e) return fail(e.error().message.c_str());
        if (!e->check(TypeEnv{"nps_response"})) return fail(c.text);
        long hits = 0;
        const auto start = std::chrono::steady_clock::now();
        for (long i = 0; i < iterations; ++i) {
            auto v = e->evaluate(ctx);
            hits += v.ok() && v->truthy();
        }
        const auto elapsed = std::chrono::steady_clock::now() - start;
        if (hits != (c.expected ? iterations : 0)) return fail(c.text);
        const double ns = static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count()) /
                          static_cast<double>(iterations);
        if (!smoke) std::printf("%8.1f ns  %s\n", ns, c.text);
    }

    auto t = TemplateText::parse(
        "<p>Dear {{contact.first_name}},</p>{{#if event.score < 7}}<p>We are sorry.</p>{{else}}<p>Thanks!</p>{{/if}}"
        "<p>Use it by {{voucher.expires_at | date}}.</p>");
    if (!t) return fail(t.error().message.c_str());
    const long renders = iterations / 10;
    std::size_t bytes = 0;
    const auto start = std::chrono::steady_clock::now();
    for (long i = 0; i < renders; ++i) {
        auto out = t->render(ctx, Escape::html, "en");
        if (!out) return fail(out.error().message.c_str());
        bytes += out->size();
    }
    const auto elapsed = std::chrono::steady_clock::now() - start;
    if (bytes == 0) return fail("template rendered nothing");
    if (!smoke)
        std::printf("%8.1f ns  template render (3 tags, one if)\n",
                    static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count()) /
                        static_cast<double>(renders));
    if (smoke) std::printf("bench_expr: smoke OK\n");
    return 0;
}
