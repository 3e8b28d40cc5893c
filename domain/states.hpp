#pragma once
// The states callpop decides on, as enums. Their names, as the wire and the database spell
// them, are listed here and nowhere else; code converts with to_string and parse.
#include <array>
#include <cstddef>
#include <optional>
#include <string_view>

namespace callpop::domain {

// Each role may do all that the one before it may: admins are supervisors who may also
// disconnect any agent's session.
enum class AgentRole { agent, supervisor, admin };
constexpr bool supervises(AgentRole role) { return role >= AgentRole::supervisor; }
enum class FollowupKind { satisfaction, callback };
enum class FollowupStatus { open, completed, unreachable, cancelled };
// How one attempt at a follow-up call went.
enum class AttemptResult { reached, no_answer, busy, wrong_number, refused };
// What a satisfaction survey asks on: csat 1 to 5, nps (would recommend) 0 to 10.
enum class SurveyScale { csat, nps };
// What an agent the call popped for is told it became.
enum class PoppedCallState { answered, transferred, ended };

// Each enum's names, in the order of its values.
template <typename State>
struct StateNames;
template <>
struct StateNames<AgentRole> {
    static constexpr std::array<std::string_view, 3> names{"agent", "supervisor", "admin"};
};
template <>
struct StateNames<FollowupKind> {
    static constexpr std::array<std::string_view, 2> names{"satisfaction", "callback"};
};
template <>
struct StateNames<FollowupStatus> {
    static constexpr std::array<std::string_view, 4> names{"open", "completed", "unreachable",
                                                           "cancelled"};
};
template <>
struct StateNames<AttemptResult> {
    static constexpr std::array<std::string_view, 5> names{"reached", "no_answer", "busy",
                                                           "wrong_number", "refused"};
};
template <>
struct StateNames<SurveyScale> {
    static constexpr std::array<std::string_view, 2> names{"csat", "nps"};
};
template <>
struct StateNames<PoppedCallState> {
    static constexpr std::array<std::string_view, 3> names{"answered", "transferred", "ended"};
};

template <typename State>
concept NamedState = requires { StateNames<State>::names; };

template <NamedState State>
constexpr std::string_view to_string(State state) {
    return StateNames<State>::names[static_cast<std::size_t>(state)];
}

template <NamedState State>
constexpr std::optional<State> parse(std::string_view name) {
    const auto& names = StateNames<State>::names;
    for (std::size_t index = 0; index < names.size(); ++index)
        if (names[index] == name) return static_cast<State>(index);
    return std::nullopt;
}

}  // namespace callpop::domain
