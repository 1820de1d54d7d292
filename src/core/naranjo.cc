// SPDX-License-Identifier: Apache-2.0
// The Naranjo adverse drug reaction probability scale.
#include "refract/core/naranjo.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "refract/core/text.h"

namespace refract {

std::string_view NaranjoAnswerName(NaranjoAnswer value) {
  switch (value) {
    case NaranjoAnswer::Yes: return "yes";
    case NaranjoAnswer::No: return "no";
    case NaranjoAnswer::Unknown: return "unknown";
  }
  return "unknown";
}

namespace {

std::string Str(const nlohmann::json& node, const char* key) {
  const auto found = node.find(key);
  return found != node.end() && found->is_string() ? found->get<std::string>() : std::string();
}

int Int(const nlohmann::json& node, const char* key) {
  const auto found = node.find(key);
  return found != node.end() && found->is_number_integer() ? found->get<int>() : 0;
}

int Points(const NaranjoItem& item, NaranjoAnswer answer) {
  switch (answer) {
    case NaranjoAnswer::Yes: return item.points_yes;
    case NaranjoAnswer::No: return item.points_no;
    case NaranjoAnswer::Unknown: return item.points_unknown;
  }
  return 0;
}

std::string ChallengeResult(const NaranjoResult& result, const std::string& key) {
  for (const NaranjoItemScore& item : result.items) {
    if (item.key != key) continue;
    if (item.answer == NaranjoAnswer::Yes) return "positive";
    if (item.answer == NaranjoAnswer::No) return "negative";
  }
  return "unknown";
}

}  // namespace

Result<NaranjoScale> LoadNaranjoScale(const KnowledgeBase& kb) {
  const auto files = kb.FilesOfKind("naranjo_scale");
  if (files.size() != 1) {
    return Fail(ErrorCode::KbReference, fmt::format("expected exactly one file of kind \"naranjo_scale\", found {}", files.size()), "kb/interactions/");
  }
  const auto& [path, json] = files.front();
  const std::string location = "kb/" + path + "#";
  NaranjoScale scale;
  scale.id = Str(*json, "id");
  scale.name = Str(*json, "name");
  scale.dechallenge_key = Str(*json, "dechallenge_item");
  scale.rechallenge_key = Str(*json, "rechallenge_item");
  for (const auto& entry : json->value("sources", nlohmann::json::array())) scale.sources.push_back(entry.get<std::string>());
  int lowest = 0;
  int highest = 0;
  for (const auto& entry : json->value("items", nlohmann::json::array())) {
    const nlohmann::json points = entry.value("points", nlohmann::json::object());
    NaranjoItem item{Int(entry, "number"), Str(entry, "key"), Str(entry, "question"), Int(points, "yes"), Int(points, "no"), Int(points, "unknown")};
    lowest += std::min({item.points_yes, item.points_no, item.points_unknown});
    highest += std::max({item.points_yes, item.points_no, item.points_unknown});
    scale.items.push_back(std::move(item));
  }
  std::sort(scale.items.begin(), scale.items.end(), [](const NaranjoItem& left, const NaranjoItem& right) { return left.number < right.number; });
  for (std::size_t item_idx = 0; item_idx < scale.items.size(); ++item_idx) {
    if (scale.items[item_idx].number != static_cast<int>(item_idx) + 1) {
      return Fail(ErrorCode::KbReference, fmt::format("item numbers must be 1 to {}, each once", scale.items.size()), location + "/items");
    }
  }
  for (const std::string* key : {&scale.dechallenge_key, &scale.rechallenge_key}) {
    const bool known = std::any_of(scale.items.begin(), scale.items.end(), [&](const NaranjoItem& item) { return item.key == *key; });
    if (!known) return Fail(ErrorCode::KbReference, fmt::format("\"{}\" is not an item key", *key), location);
  }
  for (const auto& entry : json->value("bands", nlohmann::json::array())) scale.bands.push_back(NaranjoBand{Str(entry, "band"), Int(entry, "min"), Int(entry, "max")});
  std::sort(scale.bands.begin(), scale.bands.end(), [](const NaranjoBand& left, const NaranjoBand& right) { return left.min < right.min; });
  // The bands must cover every reachable total exactly once.
  int expected = lowest;
  for (const NaranjoBand& band : scale.bands) {
    if (band.min != expected || band.max < band.min) {
      return Fail(ErrorCode::KbReference, fmt::format("bands must cover {} to {} without gaps or overlaps", lowest, highest), location + "/bands");
    }
    expected = band.max + 1;
  }
  if (expected != highest + 1) {
    return Fail(ErrorCode::KbReference, fmt::format("bands must cover {} to {} without gaps or overlaps", lowest, highest), location + "/bands");
  }
  return scale;
}

Result<NaranjoResult> ScoreNaranjo(const NaranjoScale& scale, std::span<const std::pair<std::string, std::string>> answers, std::string_view where) {
  NaranjoResult result;
  result.rule = scale.id;
  result.sources = scale.sources;
  for (const NaranjoItem& item : scale.items) {
    result.items.push_back(NaranjoItemScore{item.number, item.key, item.question, NaranjoAnswer::Unknown, false, item.points_unknown});
  }
  std::vector<std::string> keys;
  for (const NaranjoItem& item : scale.items) keys.push_back(item.key);
  std::set<std::string> seen;
  for (const auto& [key, answer_text] : answers) {
    const std::string location = where.empty() ? key : fmt::format("{}{}", where, key);
    const auto found = std::find_if(result.items.begin(), result.items.end(), [&](const NaranjoItemScore& item) { return item.key == key; });
    if (found == result.items.end()) {
      std::string message = fmt::format("unknown Naranjo question \"{}\"", key);
      if (auto suggestion = Suggest(key, keys)) message += fmt::format(" (did you mean \"{}\"?)", *suggestion);
      return Fail(ErrorCode::InvalidInput, message, location);
    }
    if (!seen.insert(key).second) return Fail(ErrorCode::InvalidInput, fmt::format("Naranjo question \"{}\" is answered twice", key), location);
    const std::string answer = NormalizeName(answer_text);
    if (answer != "yes" && answer != "no" && answer != "unknown") {
      return Fail(ErrorCode::InvalidInput, fmt::format("answer \"{}\" to \"{}\" must be yes, no or unknown", answer_text, key), location);
    }
    found->answered = true;
    found->answer = answer == "yes" ? NaranjoAnswer::Yes : answer == "no" ? NaranjoAnswer::No : NaranjoAnswer::Unknown;
    found->points = Points(scale.items[static_cast<std::size_t>(found->number - 1)], found->answer);
  }
  for (const NaranjoItemScore& item : result.items) {
    result.total += item.points;
    if (!item.answered) ++result.unanswered;
  }
  for (const NaranjoBand& band : scale.bands) {
    if (result.total >= band.min && result.total <= band.max) result.band = band.band;
  }
  result.dechallenge = ChallengeResult(result, scale.dechallenge_key);
  result.rechallenge = ChallengeResult(result, scale.rechallenge_key);
  return result;
}

Result<std::vector<AdrCausality>> AssessAdverseReactions(const NaranjoScale& scale, const PatientRecord& patient) {
  std::vector<AdrCausality> out;
  for (const AdverseReaction& reaction : patient.adverse_reactions) {
    if (reaction.naranjo.empty()) continue;
    auto scored = ScoreNaranjo(scale, reaction.naranjo, fmt::format("adverse_reactions[{}].naranjo.", reaction.input_index));
    if (!scored) return tl::unexpected(scored.error());
    AdrCausality causality{reaction.input_index, reaction.drug_name, reaction.drug, reaction.reaction, reaction.date, reaction.severity, std::move(*scored), {}};
    if (reaction.drug != nullptr && reaction.date) {
      // What the medication history says about stopping and restarting the suspected drug.
      std::vector<const Course*> courses;
      for (const Course& course : patient.courses) {
        if (course.drug == reaction.drug) courses.push_back(&course);
      }
      for (const Course* course : courses) {
        if (course->end && !(*course->end < *reaction.date)) {
          std::string note = fmt::format("{} was stopped on {}, after the reaction on {}", reaction.drug->inn, FormatDate(*course->end), FormatDate(*reaction.date));
          if (!course->stop_reason.empty()) note += fmt::format(" (stop reason: {})", course->stop_reason);
          if (causality.naranjo.dechallenge == "unknown") note += ": a dechallenge took place; record whether the reaction improved (item improved_on_stop)";
          causality.notes.push_back(note);
        }
        if (*reaction.date < course->start) {
          std::string note = fmt::format("{} was started again on {}, after the reaction", reaction.drug->inn, FormatDate(course->start));
          if (causality.naranjo.rechallenge == "unknown") note += ": a rechallenge took place; record whether the reaction came back (item reappeared_on_rechallenge)";
          causality.notes.push_back(note);
        }
      }
    }
    out.push_back(std::move(causality));
  }
  return out;
}

nlohmann::json NaranjoToJson(const NaranjoResult& result) {
  nlohmann::json items = nlohmann::json::array();
  for (const NaranjoItemScore& item : result.items) {
    items.push_back(nlohmann::json{{"number", item.number}, {"key", item.key}, {"question", item.question}, {"answer", NaranjoAnswerName(item.answer)},
                                   {"answered", item.answered}, {"points", item.points}});
  }
  return nlohmann::json{{"total", result.total}, {"band", result.band}, {"unanswered", result.unanswered}, {"dechallenge", result.dechallenge},
                        {"rechallenge", result.rechallenge}, {"items", std::move(items)}, {"rule", result.rule}, {"sources", result.sources}};
}

nlohmann::json AdrCausalityToJson(const std::vector<AdrCausality>& causality) {
  nlohmann::json out = nlohmann::json::array();
  for (const AdrCausality& entry : causality) {
    out.push_back(nlohmann::json{{"input_index", entry.input_index},
                                 {"drug_name", entry.drug_name},
                                 {"drug", entry.drug != nullptr ? nlohmann::json(entry.drug->id) : nlohmann::json(nullptr)},
                                 {"reaction", entry.reaction},
                                 {"date", entry.date ? nlohmann::json(FormatDate(*entry.date)) : nlohmann::json(nullptr)},
                                 {"severity", entry.severity},
                                 {"naranjo", NaranjoToJson(entry.naranjo)},
                                 {"notes", entry.notes}});
  }
  return out;
}

std::string RenderNaranjoText(const NaranjoResult& result) {
  std::string out = fmt::format("Naranjo score {}: {} ({} of {} items not answered; dechallenge {}, rechallenge {})\n", result.total, result.band,
                                result.unanswered, result.items.size(), result.dechallenge, result.rechallenge);
  for (const NaranjoItemScore& item : result.items) {
    out += fmt::format("  {:>2}. {:<8} {:>+3}  {}\n", item.number, item.answered ? std::string(NaranjoAnswerName(item.answer)) : std::string("(unknown)"),
                       item.points, item.question);
  }
  out += fmt::format("rule: {}; sources: {}\n", result.rule, fmt::join(result.sources, ", "));
  return out;
}

}  // namespace refract
