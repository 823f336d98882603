// closeloop — the builder's "sample set": a scenario run over generated contacts of every RFM
// segment and every NPS score, and how many of them passed through each node.
//
// Sections: the set, counting passes.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "closeloop/contact.h"
#include "closeloop/event.h"
#include "closeloop/rfm.h"
#include "closeloop/simulator.h"

namespace closeloop {

// ---- the set -------------------------------------------------------------------------------

struct SampleSet {
    std::vector<Contact> contacts;
    std::vector<Event> events;  // nps_response answers, each naming its contact
};

// Every segment of the grid (its first cell in reading order gives r, f and m) and a contact
// with no purchases (no segment), each in three variations (English; Czech VIP with a tag,
// attributes and an owner; Hebrew on another plan), and for each every NPS score 0-10. Each
// answer has a contact of its own ("sample-champions-cs-7"), so a re-entry rule or one
// answer's effects (a voucher assigned) cannot hide another answer's path. Every answer is at
// `at`. The same arguments give the same set.
SampleSet sample_set(Time at, const SegmentGrid& grid = default_segment_grid());
// { "contacts": [Contact], "events": [Event] }: the documents simulate_documents takes.
void to_json(nlohmann::json& j, const SampleSet& s);

// ---- counting passes -----------------------------------------------------------------------

// How many runs passed through each node (by node id; a run that visits a node twice counts
// once; a line with "resumed" continues the run of the line before it with the same event and
// contact).
std::map<std::string, int> passes_by_node(const std::vector<SimulatedRun>& runs);
// The same over simulate_documents' output (or `closeloop simulate`'s lines in an array).
std::map<std::string, int> passes_by_node(const nlohmann::json& runs);

}  // namespace closeloop
