// closeloop — `simulate` and `validate`: the core engine from the command line, with no
// server and no side effects (they link core only, plus file reading).
#pragma once

#include <optional>
#include <string>

namespace closeloop::cli {

struct SimulateOptions {
    std::string scenario, events, contacts, history, campaigns;
    std::string templates;  // a folder of template documents (*.json): each line gets `emails`
    bool fast_forward = false;
    bool trace = false;  // include each run's trace in the output lines
};
int simulate(const SimulateOptions& options);

struct ValidateOptions {
    std::string scenario;
    std::string templates;  // a folder of template documents (*.json); empty = not checked
    std::string campaigns;  // a JSON array of voucher campaigns; empty = not checked
};
int validate(const ValidateOptions& options);

}  // namespace closeloop::cli
