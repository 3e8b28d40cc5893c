#include "daemon/followups/followup_desk.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "domain/states.hpp"
#include "domain/timestamp.hpp"

namespace callpop::daemon {

// Follow-ups and policies keep their kinds and statuses as the database and the config spell
// them; the names come from domain/states.hpp.
using domain::AttemptResult;
using domain::FollowupKind;
using domain::FollowupStatus;
using domain::SurveyScale;

namespace {

bool is_e164(const std::string& number) { return number.size() > 1 && number.front() == '+'; }

// The number to call: the one the customer called from, else the first on their record.
std::string number_to_call(const std::string& caller, const std::optional<domain::Customer>& customer) {
    if (is_e164(caller)) return caller;
    if (customer) {
        for (const auto& phone : customer->phones)
            if (is_e164(phone)) return phone;
    }
    return {};
}

std::string date_of(const std::string& iso) { return iso.substr(0, 10); }

std::string days_text(std::chrono::seconds period) {
    const auto days = period.count() / 86400;
    if (days * 86400 == period.count()) return fmt::format("{} day{}", days, days == 1 ? "" : "s");
    return fmt::format("{} s", period.count());
}

bool score_fits(SurveyScale scale, int score) {
    return scale == SurveyScale::nps ? (score >= 0 && score <= 10) : (score >= 1 && score <= 5);
}

// Attempts and closes apply to open follow-ups only: the reply when `found` is not one.
std::optional<FollowupUpdate> refusal_unless_open(const std::optional<domain::Followup>& found,
                                                  std::int64_t id) {
    if (!found)
        return FollowupUpdate{"unknown_followup", fmt::format("no follow-up {}", id), {}, ""};
    if (found->status != FollowupStatus::open)
        return FollowupUpdate{"followup_closed",
                              fmt::format("follow-up {} is already {}", found->id,
                                          domain::to_string(found->status)),
                              {}, ""};
    return std::nullopt;
}

}  // namespace

FollowupDesk::FollowupDesk(const config::Config& config)
    : policies_(config.followups), history_(config.pop.history), schedule_(config.site) {}

domain::CallLogRecord FollowupDesk::event(const char* kind, const domain::Followup& followup,
                                            const std::string& agent, Instant now) const {
    return domain::followup_event(kind, followup, agent, domain::format_utc(now));
}

FollowupDecision FollowupDesk::after_outcome(JobContext& context,
                                             const domain::CallLogRecord& outcome,
                                             std::optional<bool> requested, Instant now) {
    if (requested == false) return {std::nullopt, "declined by the agent"};
    const auto found = policies_.by_outcome.find(outcome.outcome);
    const config::FollowupPolicy* policy =
        found != policies_.by_outcome.end() && found->second.kind != "none" ? &found->second
                                                                              : nullptr;
    std::string reason = outcome.outcome;
    if (policy == nullptr && requested == true) {
        if (policies_.on_request.kind == "none")
            return {std::nullopt, "no follow-up is configured for requests"};
        policy = &policies_.on_request;
        reason = "requested";
    }
    if (policy == nullptr) return {};
    // An outcome recorded long after the call finds it in the store, not in memory.
    domain::CallLogRecord source = outcome;
    if (!source.customer_id || !is_e164(source.from)) {
        if (auto call = context.store.call_summary(outcome.call)) {
            if (!source.customer_id) source.customer_id = call->customer_id;
            if (!is_e164(source.from)) source.from = call->caller;
        }
    }
    return schedule(context, *policy, reason, source, now);
}

FollowupDecision FollowupDesk::after_missed_call(JobContext& context,
                                                 const domain::CallLogRecord& hangup, Instant now) {
    if (!schedules_missed_calls()) return {};
    const std::string reason = hangup.cause == "abandoned" ? "abandoned" : "missed";
    return schedule(context, policies_.missed_calls, reason, hangup, now);
}

void FollowupDesk::after_late_answer(JobContext& context, const std::string& call_id, Instant now) {
    for (auto& followup : context.store.open_followups_of_call(call_id)) {
        if (followup.kind != FollowupKind::callback ||
            (followup.reason != "missed" && followup.reason != "abandoned"))
            continue;
        followup.status = FollowupStatus::cancelled;
        followup.closed_at = domain::format_utc(now);
        followup.leased_by.clear();
        followup.lease_until.clear();
        context.store.update_followup(followup);
        auto record = event("followup_cancelled", followup, "", now);
        record.notes = "the call was answered after all";
        context.log(std::move(record));
    }
}

FollowupDecision FollowupDesk::schedule(JobContext& context, const config::FollowupPolicy& policy,
                                        const std::string& reason,
                                        const domain::CallLogRecord& source, Instant now) {
    std::optional<domain::Customer> customer;
    if (source.customer_id) customer = context.store.customer_by_id(*source.customer_id);
    if (customer && customer->do_not_call)
        return {std::nullopt, "the customer is on the do-not-call list"};
    const std::string number = number_to_call(source.from, customer);
    if (number.empty()) return {std::nullopt, "no number to call back"};
    // The config admits satisfaction, callback or none, and none schedules nothing.
    const FollowupKind kind = domain::parse<FollowupKind>(policy.kind).value();
    if (kind == FollowupKind::satisfaction && customer) {
        if (auto last = context.store.last_survey_created(customer->id)) {
            if (domain::parse_utc(*last) > now - policies_.survey_period)
                return {std::nullopt, fmt::format("surveyed on {} (one survey per {})", date_of(*last),
                                                  days_text(policies_.survey_period))};
        }
    }
    const ZoneChoice zone = schedule_.zone_for(customer ? customer->timezone : "", number);
    const Instant due = schedule_.first_due(policy, now, zone.zone);

    domain::Followup followup;
    followup.kind = kind;
    followup.customer_id = customer ? std::optional(customer->id) : std::nullopt;
    followup.customer_name = customer ? customer->name : "";
    followup.number = number;
    followup.call = source.call;
    followup.reason = reason;
    followup.due_at = domain::format_utc(due);
    followup.timezone = zone.zone;
    followup.timezone_source = zone.source;
    followup.window = window_to_json(policy.window);
    followup.attempts_max = policy.attempts;
    followup.retry_after_s = policy.retry_after.count();
    if (kind == FollowupKind::satisfaction) {
        const auto scale = domain::parse<SurveyScale>(policy.survey.scale).value();
        followup.survey = {{"scale", domain::to_string(scale)},
                           {"question", policy.survey.question},
                           {"comment_question", policy.survey.comment_question}};
    }
    followup.created_at = domain::format_utc(now);
    const auto id = context.store.create_followup(followup);
    if (!id) return {std::nullopt, "an open callback for " + number + " exists already"};
    followup.id = *id;

    const std::string due_local = format_local(due, zone.zone);
    auto record = event("followup_created", followup, source.agent, now);
    record.notes = fmt::format("{} due {} ({}, from the {}){}", domain::to_string(followup.kind),
                               due_local, zone.zone, zone.source,
                               zone.note.empty() ? "" : "; " + zone.note);
    if (!zone.note.empty())
        spdlog::info("follow-up {}: time zone of the site: {}", followup.id, zone.note);
    context.log(std::move(record));
    return {protocol::ScheduledFollowup{followup.id, followup.kind, due_local}, ""};
}

std::vector<FollowupOfferMade> FollowupDesk::offer_due(JobContext& context,
                                                       const std::vector<std::string>& agents,
                                                       Instant now) {
    std::vector<FollowupOfferMade> offers;
    if (agents.empty()) return offers;
    // Read (and, on a shared store, lock) only as many as there are agents left to serve:
    // rows locked here are skipped by every other daemon until this transaction ends, so
    // reading ahead would starve their agents. Each row read is offered, moved to its next
    // window or set aside, so a second read finds others; the budget bounds a run of rows
    // that are all outside their window just now.
    const auto now_utc = domain::format_utc(now);
    std::size_t examined_budget = agents.size() * 4 + 16;
    while (offers.size() < agents.size() && examined_budget > 0) {
        auto due = context.store.due_followups(
            now_utc, std::min(agents.size() - offers.size(), examined_budget));
        if (due.empty()) break;
        examined_budget -= std::min(examined_budget, due.size());
        for (auto& followup : due) {
            try {
                if (auto offer = offer_one(context, followup, agents[offers.size()], now))
                    offers.push_back(std::move(*offer));
            } catch (const storage::StorageError&) {
                throw;  // the store's trouble, not the row's: the writer retries or reports it
            } catch (const std::exception& error) {
                spdlog::error("follow-up {}: cannot be offered ({}); set aside for a day",
                              followup.id, error.what());
                followup.due_at = domain::format_utc(now + std::chrono::days(1));
                context.store.update_followup(followup);
            }
        }
    }
    return offers;
}

std::optional<FollowupOfferMade> FollowupDesk::offer_one(JobContext& context,
                                                         domain::Followup& followup,
                                                         const std::string& agent, Instant now) {
    // What can fail on the row's own data fails here, before anything is written.
    const auto window = window_from_json(followup.window);
    const bool open_now = schedule_.in_window(window, now, followup.timezone);
    protocol::FollowupOffer offer;
    offer.due_local = format_local(domain::parse_utc(followup.due_at), followup.timezone);
    if (!open_now) {
        // Its window closed before anyone took it: due again when it reopens.
        followup.due_at =
            domain::format_utc(schedule_.next_in_window(window, now, followup.timezone));
        followup.leased_by.clear();
        followup.lease_until.clear();
        context.store.update_followup(followup);
        return std::nullopt;
    }
    followup.leased_by = agent;
    followup.lease_until = domain::format_utc(now + policies_.lease);
    context.store.update_followup(followup);
    auto record = event("followup_offered", followup, agent, now);
    record.notes = fmt::format("attempt {} of {}", followup.attempts_made + 1, followup.attempts_max);
    context.log(std::move(record));

    if (followup.customer_id) {
        if (auto customer = context.store.customer_by_id(*followup.customer_id))
            offer.customer = context.store.card(*customer, history_);
    }
    if (auto call = context.store.call_summary(followup.call)) offer.call = call->entry;
    offer.followup = followup;
    return FollowupOfferMade{{followup.id, agent, followup.lease_until},
                             protocol::encode_followup_offer(offer)};
}

FollowupUpdate FollowupDesk::record_attempt(JobContext& context, const std::string& agent,
                                            const protocol::FollowupResult& result, Instant now) {
    auto found = context.store.followup(result.followup);
    if (auto refusal = refusal_unless_open(found, result.followup)) return *refusal;
    auto& followup = *found;
    if (followup.leased_by != agent)
        return {"not_offered", fmt::format("follow-up {} is not offered to you", followup.id), {},
                ""};
    if (result.score) {
        if (followup.survey.is_null())
            return {"bad_field", fmt::format("follow-up {} is a callback: it has no score", followup.id),
                    {}, ""};
        // A survey that names no scale is csat, as the reports (SQL coalesce) read it.
        const SurveyScale scale = domain::survey_scale(followup.survey).value_or(SurveyScale::csat);
        if (!score_fits(scale, *result.score))
            return {"bad_field",
                    fmt::format("score {} is outside the {} scale ({})", *result.score,
                                domain::to_string(scale),
                                scale == SurveyScale::nps ? "0 to 10" : "1 to 5"),
                    {}, ""};
    }
    context.store.add_followup_attempt(
        followup.id, {domain::format_utc(now), agent, result.result, result.score, result.comment});
    ++followup.attempts_made;
    followup.last_result = result.result;
    followup.leased_by.clear();
    followup.lease_until.clear();

    auto attempted = event("followup_attempted", followup, agent, now);
    attempted.outcome = domain::to_string(result.result);
    attempted.notes = result.comment;
    if (result.score)
        attempted.notes = fmt::format("score {}{}{}", *result.score,
                                      result.comment.empty() ? "" : ": ", result.comment);
    context.log(std::move(attempted));

    const char* closing_kind = nullptr;
    if (result.result == AttemptResult::reached || result.result == AttemptResult::refused) {
        followup.status = FollowupStatus::completed;
        followup.score = result.score;
        followup.comment = result.comment;
        closing_kind = "followup_completed";
    } else if (result.result == AttemptResult::wrong_number ||
               followup.attempts_made >= followup.attempts_max) {
        followup.status = FollowupStatus::unreachable;
        closing_kind = "followup_unreachable";
    }
    FollowupUpdate update;
    if (closing_kind != nullptr) {
        followup.closed_at = domain::format_utc(now);
        followup.closed_by = agent;
        auto closing = event(closing_kind, followup, agent, now);
        closing.notes = fmt::format("after {} attempt{}, last: {}", followup.attempts_made,
                                    followup.attempts_made == 1 ? "" : "s",
                                    domain::to_string(result.result));
        context.log(std::move(closing));
    } else {
        const Instant next = schedule_.next_in_window(
            window_from_json(followup.window),
            now + std::chrono::seconds(followup.retry_after_s), followup.timezone);
        followup.due_at = domain::format_utc(next);
        update.next_due = format_local(next, followup.timezone);
    }
    context.store.update_followup(followup);
    update.status = followup.status;
    return update;
}

FollowupUpdate FollowupDesk::close(JobContext& context, const std::string& by,
                                   const protocol::FollowupClose& request, Instant now) {
    auto found = context.store.followup(request.followup);
    if (auto refusal = refusal_unless_open(found, request.followup)) return *refusal;
    auto& followup = *found;
    followup.status = request.status;
    followup.closed_at = domain::format_utc(now);
    followup.closed_by = by;
    followup.leased_by.clear();
    followup.lease_until.clear();
    context.store.update_followup(followup);
    const bool completed = request.status == FollowupStatus::completed;
    auto record = event(completed ? "followup_completed" : "followup_cancelled", followup, by, now);
    record.notes = request.notes.empty() ? "closed by " + by : request.notes;
    context.log(std::move(record));
    return {"", "", followup.status, ""};
}

namespace {

// The follow-up if `lease` still holds it: open, with that agent, not renewed since.
std::optional<domain::Followup> still_held(JobContext& context, const FollowupLease& lease) {
    auto followup = context.store.followup(lease.followup_id);
    if (!followup || followup->status != FollowupStatus::open ||
        followup->leased_by != lease.agent)
        return std::nullopt;
    if (!lease.lease_until.empty() && followup->lease_until != lease.lease_until)
        return std::nullopt;
    return followup;
}

}  // namespace

void FollowupDesk::release(JobContext& context, const std::vector<FollowupLease>& leases) {
    for (const auto& lease : leases) {
        if (auto followup = still_held(context, lease)) {
            followup->leased_by.clear();
            followup->lease_until.clear();
            context.store.update_followup(*followup);
        }
    }
}

void FollowupDesk::renew_leases(JobContext& context, const std::vector<FollowupLease>& held,
                                Instant now) {
    for (const auto& lease : held) {
        if (auto followup = still_held(context, lease)) {
            followup->lease_until = domain::format_utc(now + policies_.lease);
            context.store.update_followup(*followup);
        }
    }
}

std::size_t FollowupDesk::flag_overdue(JobContext& context, Instant now) {
    // A long backlog (the first sweep after an outage) is flagged a slice at a time, so one
    // transaction does not hold the writer for long.
    constexpr std::size_t slice = 500;
    auto late = context.store.unflagged_overdue_callbacks(
        domain::format_utc(now - policies_.overdue_after), slice);
    for (auto& followup : late) {
        followup.overdue_at = domain::format_utc(now);
        context.store.update_followup(followup);
        auto record = event("followup_overdue", followup, followup.leased_by, now);
        const Instant due = domain::parse_utc(followup.due_at);
        const auto late_by = std::chrono::duration_cast<std::chrono::minutes>(now - due);
        std::string due_text = followup.due_at;
        try {
            due_text = format_local(due, followup.timezone);
        } catch (const std::exception&) {
            // A zone the tz database no longer has: the UTC time says the same.
        }
        record.notes = fmt::format("callback due {} is {} min late", due_text, late_by.count());
        context.log(std::move(record));
    }
    return late.size();
}

}  // namespace callpop::daemon
