#pragma once
// What `callpop console` shows: a pop as a card an agent reads at a glance, and one line for
// each other message from the daemon. Pure functions of the messages (docs/protocol-agent.md).
#include <string>

#include <nlohmann/json.hpp>

namespace callpop::cli {

// Name, tier and company; the number and line; assets with purchase dates and service tags;
// preferences and notes; the last calls with their outcomes; open follow-ups.
std::string render_card(const nlohmann::json& pop);
// One line for a message that is not a pop ("" for those not shown: pong).
std::string render_event(const nlohmann::json& message);

}  // namespace callpop::cli
