#include "cli/console_card.hpp"

#include <fmt/format.h>

namespace callpop::cli {

namespace {

using nlohmann::json;

std::string text(const json& object, const char* key) {
    const auto found = object.find(key);
    if (found == object.end() || found->is_null()) return {};
    return found->is_string() ? found->get<std::string>() : found->dump();
}

// "2026-11-01T15:00:00.000Z" → "2026-11-01 15:00"
std::string when(const std::string& iso) {
    if (iso.size() < 16) return iso;
    std::string shown = iso.substr(0, 16);
    shown[10] = ' ';
    return shown;
}

void section(std::string& out, const json& items, const char* title,
             std::string (*line)(const json&)) {
    if (!items.is_array() || items.empty()) return;
    out += fmt::format("  {}:\n", title);
    for (const auto& item : items) out += "    " + line(item) + "\n";
}

std::string asset_line(const json& asset) {
    std::string line = text(asset, "product");
    if (const auto serial = text(asset, "serial"); !serial.empty()) line += " (tag " + serial + ")";
    if (const auto bought = text(asset, "purchased"); !bought.empty()) line += ", bought " + bought;
    if (const auto warranty = text(asset, "warranty_end"); !warranty.empty())
        line += ", warranty to " + warranty;
    return line;
}

std::string note_line(const json& note) {
    return text(note, "text") + "  (" + text(note, "by") + ", " + when(text(note, "at")).substr(0, 10) + ")";
}

std::string history_line(const json& call) {
    std::string line = when(text(call, "at")) + "  " + text(call, "state");
    if (const auto agent = text(call, "agent"); !agent.empty()) line += " by " + agent;
    if (const auto outcome = text(call, "outcome"); !outcome.empty()) line += ": " + outcome;
    if (const auto notes = text(call, "notes"); !notes.empty()) line += " \"" + notes + "\"";
    return line;
}

std::string followup_line(const json& followup) {
    return fmt::format("#{} {} due {} ({})", text(followup, "id"), text(followup, "kind"),
                       when(text(followup, "due")), text(followup, "reason"));
}

}  // namespace

std::string render_card(const json& pop) {
    const json& caller = pop.contains("caller") ? pop["caller"] : json::object();
    const std::string number =
        caller.value("withheld", false) ? std::string("number withheld") : text(caller, "number");
    std::string out = fmt::format("=== call {} from {}", text(pop, "call"), number);
    if (const auto line = text(pop, "line"); !line.empty()) out += " on " + line;
    if (const auto queue = text(pop, "queue"); !queue.empty()) out += " (queue " + queue + ")";
    out += " ===\n";
    const auto customer = pop.find("customer");
    if (customer == pop.end() || !customer->is_object()) {
        const auto name = text(caller, "name");
        out += "  unknown caller" + (name.empty() ? std::string() : ": " + name) + "\n";
        return out;
    }
    out += "  " + text(*customer, "name");
    if (const auto tier = text(*customer, "tier"); !tier.empty()) out += " [" + tier + "]";
    if (const auto company = text(*customer, "company"); !company.empty()) out += ", " + company;
    if (customer->value("do_not_call", false)) out += "  (do not call back)";
    out += "\n";
    section(out, pop.value("assets", json::array()), "assets", asset_line);
    section(out, customer->value("preferences", json::array()), "preferences", note_line);
    section(out, customer->value("notes", json::array()), "notes", note_line);
    section(out, pop.value("history", json::array()), "last calls", history_line);
    section(out, pop.value("followups", json::array()), "open follow-ups", followup_line);
    const auto others = pop.value("candidates", json::array());
    if (!others.empty())
        out += fmt::format("  ({} more customer{} on this number)\n", others.size(), others.size() == 1 ? "" : "s");
    return out;
}

std::string render_event(const json& message) {
    const std::string type = text(message, "type");
    if (type == "call") {
        const std::string state = text(message, "state");
        if (state == "answered" || state == "transferred")
            return fmt::format("--- call {} {} by {}: card cleared", text(message, "call"), state,
                               text(message, "by"));
        return fmt::format("--- call {} ended ({})", text(message, "call"), text(message, "cause"));
    }
    if (type == "outcome_saved") return fmt::format("--- outcome of call {} saved", text(message, "call"));
    if (type == "note_saved") return fmt::format("--- note saved for customer {}", text(message, "customer"));
    if (type == "error") return fmt::format("!!! {}: {}", text(message, "code"), text(message, "message"));
    if (type == "bye") return fmt::format("!!! disconnected: {}", text(message, "message"));
    if (type == "pong" || type == "welcome") return {};
    return "--- " + message.dump();
}

}  // namespace callpop::cli
