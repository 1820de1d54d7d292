// SPDX-License-Identifier: Apache-2.0
/// Rating scales: their KB definitions (items, ranges, scoring, bands, screens, safety items),
/// item-level validation with exact messages, and scoring of one administration.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "refract/core/kb.h"
#include "refract/core/patient.h"
#include "refract/core/result.h"

namespace refract {

/// A condition on the answers of one administration, as written in a scale's KB file.
struct ScaleCondition {
  enum class Kind { Item, CountOf, Total, Any, All };
  Kind kind = Kind::Item;
  std::string item;                   ///< Item label for Kind::Item.
  std::vector<std::string> count_of;  ///< Item labels for Kind::CountOf (items at or above 1 are counted).
  std::optional<int> at_least;
  std::optional<int> at_most;
  std::vector<ScaleCondition> children;  ///< For Any and All.
};

/// Three-valued truth: an unanswered item makes a condition Unknown unless the others decide it.
enum class Truth { False, True, Unknown };

/// One item of a scale.
struct ScaleItem {
  std::string label;
  std::string construct;  ///< Our short name of what the item asks about.
  std::string text;       ///< Item wording; empty when the licence does not allow shipping it.
  int min = 0;
  int max = 0;
  std::vector<std::string> answers;  ///< Short answer names, index = score (may be empty).
  bool required = true;
  std::optional<ScaleCondition> required_if;
  bool scored = true;
  std::optional<int> positive_from;
  std::string loinc;
};

enum class ScoringMethod { Sum, DomainMaxSum, CountPositive, None };

struct ScaleDomain {
  std::string name;
  std::vector<std::size_t> items;  ///< Indexes into ScaleDefinition::items.
};

struct ScaleBand {
  int min = 0;
  int max = 0;
  std::string label;
};

struct ScaleScreenRule {
  std::string name;
  std::optional<ScaleCondition> positive_if;
  std::optional<ScaleCondition> female;
  std::optional<ScaleCondition> male;
  std::string when_unknown;  ///< "female" or "male" when the rule depends on sex.
  std::string alert;         ///< "warning", "info" or empty (no alert).
  std::string advice;
  std::vector<std::string> sources;
};

struct ScaleRiskTier {
  std::string tier;
  ScaleCondition condition;
};

struct ScaleSafetyItem {
  std::string what;
  ScaleCondition positive_if;
  std::string severity;  ///< "critical" or "warning".
  std::string note;
  std::vector<std::string> sources;
};

struct ScaleReliableChange {
  std::string method;  ///< "points" or "jacobson_truax".
  std::optional<int> min_points;
  std::optional<double> reliability;
  std::optional<double> reference_sd;
  std::vector<std::string> sources;
};

/// How much of a scale file to read: everything (KB checks, adapters that show the scale), or only
/// what scoring needs (item wording, construct names, answer names and item LOINC codes are then
/// left empty; DescribeAnswer still finds answer names through `source`).
enum class ScaleDetail { Full, Scoring };

/// A scale as the KB defines it. Every number comes from the scale's KB file.
struct ScaleDefinition {
  std::string id;
  std::string name;
  std::string short_name;
  std::vector<std::string> aliases;
  std::string measures;
  std::string rater;
  std::vector<ScaleItem> items;
  ScoringMethod method = ScoringMethod::Sum;
  std::vector<ScaleDomain> domains;
  std::optional<int> total_min;
  std::optional<int> total_max;
  std::vector<ScaleBand> bands;
  std::vector<std::string> bands_sources;
  std::optional<ScaleScreenRule> screen;
  std::vector<ScaleRiskTier> risk_tiers;
  std::optional<int> remission_max;
  std::vector<std::string> remission_sources;
  std::optional<int> response_min_baseline;
  std::vector<std::string> response_sources;
  std::optional<int> episode_min;
  std::vector<std::string> episode_sources;
  std::optional<ScaleReliableChange> reliable_change;
  std::vector<ScaleSafetyItem> safety_items;
  std::string loinc_panel;
  std::string loinc_total;
  std::string licence_status;
  bool ship_text = false;
  std::vector<std::string> sources;
  const nlohmann::json* source = nullptr;  ///< The KB file it was read from (owned by the KnowledgeBase).

  /// The number of items a record must give at least: up to the last unconditionally required item
  /// (conditional and optional items after it may be left off).
  [[nodiscard]] std::size_t MinItems() const;
  /// Index of the item with this label, or nothing.
  [[nodiscard]] std::optional<std::size_t> ItemIndex(std::string_view label) const;
};

/// Reads one scale from its KB file (already schema-valid) and checks what the schema cannot:
/// bands contiguous over the total range, labels unique and resolvable, ranges consistent.
/// Fails with KbReference naming the file and the first problem.
[[nodiscard]] Result<ScaleDefinition> ReadScaleDefinition(const nlohmann::json& file, std::string_view kb_path,
                                                          ScaleDetail detail = ScaleDetail::Full);

/// Finds a scale by id ("scale.phq9"), short name or alias, case- and punctuation-insensitively.
/// An unknown name gives InvalidInput `unknown scale "X"` with a "did you mean" suggestion when one is close.
[[nodiscard]] Result<ScaleDefinition> FindScale(const KnowledgeBase& kb, std::string_view name, ScaleDetail detail = ScaleDetail::Full);

/// Every problem of the KB's scale files that ReadScaleDefinition finds, plus aliases used twice.
[[nodiscard]] std::vector<Error> CheckScaleDefinitions(const KnowledgeBase& kb);

/// What is wrong with one administration's recorded values, and where (a JSON pointer below the
/// administration: "/items/8", "/items", "/total" or "").
struct ScaleInputProblem {
  std::string message;
  std::string pointer;
};

/// Checks the item count, each item's range and a recorded total against the scale. Unanswered
/// items (nullopt) are not errors here; scoring reports them.
[[nodiscard]] std::optional<ScaleInputProblem> CheckScaleInput(const ScaleDefinition& scale, std::span<const std::optional<int>> items,
                                                               const std::optional<double>& total);

/// Validates every administration of a record: the scale name resolves and the values fit.
/// Fails with InvalidInput at "LABEL#/scales/N/..." with the exact message.
[[nodiscard]] Result<bool> ValidateScaleAdministrations(const KnowledgeBase& kb, std::span<const ScaleAdministration> scales,
                                                        std::string_view label);

enum class ScreenResult { NotApplicable, Negative, Positive, Indeterminate };
[[nodiscard]] std::string_view ScreenResultName(ScreenResult value);

/// One explained statement about a score (the rule is the scale's id, the sources its sources).
struct ScaleNote {
  std::string code;
  std::string message;
};

/// A safety item's state in one administration.
struct SafetyItemResult {
  const ScaleSafetyItem* rule = nullptr;
  Truth state = Truth::Unknown;
  std::string answer;  ///< The answer that made it positive ("item 9 = 2 (more than half the days)").
};

struct DomainScore {
  std::string name;
  std::optional<int> score;
};

/// The score of one administration.
struct ScaleScore {
  std::optional<double> total;
  bool total_from_items = false;
  bool complete = true;  ///< False when a required item is unanswered (then no total from items).
  std::string band;
  ScreenResult screen = ScreenResult::NotApplicable;
  std::string screen_rule;  ///< Which cut-off was applied, e.g. "women's cut-off (sex unknown)".
  std::string risk_tier;    ///< For scales with risk tiers: the tier, "none", or "unknown".
  std::vector<DomainScore> domains;
  std::vector<SafetyItemResult> safety;
  std::vector<ScaleNote> notes;
};

/// Scores one administration whose values passed CheckScaleInput. `sex` ("female", "male",
/// other or empty) selects sex-specific screen cut-offs; an unknown sex uses the KB's choice and a
/// note says so. A recorded total without items is used as it is; items are then unknown.
[[nodiscard]] ScaleScore ScoreScale(const ScaleDefinition& scale, std::span<const std::optional<int>> items,
                                    const std::optional<double>& total, std::string_view sex);

/// The band label for a total, or empty when the scale has no bands.
[[nodiscard]] std::string BandFor(const ScaleDefinition& scale, double total);

/// "item 9 = 2 (more than half the days)": an item's value with its answer name when the KB has one.
[[nodiscard]] std::string DescribeAnswer(const ScaleDefinition& scale, std::size_t item_index, int value);

}  // namespace refract
