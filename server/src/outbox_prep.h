// closeloop server — an external effect made ready for delivery, inside the executor's unit of
// work: what the simulator shows is what is sent.
//
// send_email: the message is rendered now, by core's render_email (the simulator's own call),
// for the contact as the step left it, the run's event and voucher, with the contact's
// unsubscribe link; it is stored in the entry's params ("message"). A marketing e-mail (its
// template is not transactional) to an unsubscribed or bounced address, or one over the
// workspace's frequency cap (core's frequency_cap_reason, counting every scenario's marketing
// e-mails to the contact), is recorded as `suppressed` with the reason, never sent.
// webhook: the payload for the endpoint's kind (core's slack_payload, teams_payload,
// generic_payload) is built now and stored ("payload"); the endpoint is named, its URL and
// secret are read at delivery.
#pragma once

#include <map>
#include <string>

#include "closeloop/delivery.h"
#include "closeloop/engine.h"
#include "closeloop/render.h"
#include "store/store.h"
#include "tx_history.h"

namespace closeloop::server {

struct OutboxPolicy {
    std::string public_url;  // base of links in e-mails and posts
    FrequencyCap cap;
    // {{links.redeem}}: the shop's page that takes a voucher, "{code}" standing for its code
    // ("" = no such link: the templates then leave the redeem button out).
    std::string redeem_url;
};

// What the step knew when it asked for the effect.
struct StepFacts {
    const Scenario& scenario;
    const RunState& state;
    const Contact& contact;  // after the step
    TxHistory& history;
    Time now;
};

struct WorkspaceDelivery {
    const std::map<std::string, MessageTemplate>* templates = nullptr;
    std::string link_secret;
};

// Why no marketing e-mail goes to a suppressed address (the entry's last_error).
std::string suppression_reason(const Suppression& s);

// Fills the entry's params, status (pending or suppressed, with last_error), marketing flag,
// address and endpoint for `effect`.
void prepare_entry(WriteTx& tx, WorkspaceId ws, const Effect& effect, const StepFacts& step,
                   const WorkspaceDelivery& delivery, const OutboxPolicy& policy, OutboxEntry& entry);

}  // namespace closeloop::server
