// SPDX-License-Identifier: Apache-2.0
/// Naranjo adverse drug reaction probability scale: a calculator, and causality for the structured
/// adverse reactions of a patient record, with dechallenge and rechallenge spelled out.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "refract/core/date.h"
#include "refract/core/kb.h"
#include "refract/core/patient.h"
#include "refract/core/result.h"

namespace refract {

/// One question of the scale with its points for each answer.
struct NaranjoItem {
  int number = 0;
  std::string key;
  std::string question;
  int points_yes = 0;
  int points_no = 0;
  int points_unknown = 0;
};

struct NaranjoBand {
  std::string band;
  int min = 0;
  int max = 0;
};

/// The scale as the KB states it (kb/interactions/naranjo.json, kind naranjo_scale).
struct NaranjoScale {
  std::string id;
  std::string name;
  std::vector<NaranjoItem> items;
  std::vector<NaranjoBand> bands;
  std::string dechallenge_key;
  std::string rechallenge_key;
  std::vector<std::string> sources;
};

/// Reads the scale; fails with KbReference when it is missing, when item numbers are not 1..N once
/// each, when the bands do not cover every possible total exactly once, or when the dechallenge or
/// rechallenge key names no item.
[[nodiscard]] Result<NaranjoScale> LoadNaranjoScale(const KnowledgeBase& kb);

enum class NaranjoAnswer { Yes, No, Unknown };
[[nodiscard]] std::string_view NaranjoAnswerName(NaranjoAnswer value);

struct NaranjoItemScore {
  int number = 0;
  std::string key;
  std::string question;
  NaranjoAnswer answer = NaranjoAnswer::Unknown;
  bool answered = false;  ///< False when the item was not given (counted as unknown).
  int points = 0;
};

/// A scored scale: total, band, every item, and what dechallenge and rechallenge showed.
struct NaranjoResult {
  int total = 0;
  std::string band;
  std::vector<NaranjoItemScore> items;
  int unanswered = 0;
  std::string dechallenge;  ///< "positive", "negative" or "unknown".
  std::string rechallenge;
  std::string rule;
  std::vector<std::string> sources;
};

/// Scores answers given as (item key, "yes"|"no"|"unknown"); an item left out counts as unknown.
///
/// Fails with InvalidInput for an unknown key (with a suggestion), an answer other than yes, no or
/// unknown, or a key given twice; `where` prefixes the error location.
[[nodiscard]] Result<NaranjoResult> ScoreNaranjo(const NaranjoScale& scale, std::span<const std::pair<std::string, std::string>> answers,
                                                 std::string_view where = {});

/// Causality of one structured adverse reaction from the record.
struct AdrCausality {
  int input_index = 0;
  std::string drug_name;
  const Drug* drug = nullptr;
  std::string reaction;
  std::optional<Date> date;
  std::string severity;
  NaranjoResult naranjo;
  std::vector<std::string> notes;  ///< What the medication history shows about dechallenge and rechallenge.
};

/// Scores every adverse reaction of the record that has Naranjo answers, and notes from the
/// medication history when the drug was stopped after the reaction (a dechallenge) or restarted
/// later (a rechallenge) while the matching answer is missing or unknown.
[[nodiscard]] Result<std::vector<AdrCausality>> AssessAdverseReactions(const NaranjoScale& scale, const PatientRecord& patient);

[[nodiscard]] nlohmann::json NaranjoToJson(const NaranjoResult& result);
[[nodiscard]] nlohmann::json AdrCausalityToJson(const std::vector<AdrCausality>& causality);
[[nodiscard]] std::string RenderNaranjoText(const NaranjoResult& result);

}  // namespace refract
