// SPDX-License-Identifier: Apache-2.0
/// Measurement-based care: scale trajectories per trial and over the episode, response and
/// remission from scores, relapse and recurrence, reliable change, tachyphylaxis, the daily-log
/// summary and the suicide-risk and screening alerts. Every number comes from kb/ (rule.mbc.*, scale.*).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "refract/core/assessment.h"
#include "refract/core/kb.h"
#include "refract/core/patient.h"
#include "refract/core/scales.h"

namespace refract {

/// The rule.mbc.* entities of a KB. Each part is empty when the KB has no such rule (the fixture KB);
/// the code that needs it then reports that the rule is missing instead of guessing a number.
struct MbcRules {
  struct Outcomes {
    std::string id;
    double response_from_percent = 0;
    double partial_from_percent = 0;
    int baseline_max_days_before_start = 0;
    std::vector<std::string> scale_priority;
    int recovery_days = 0;
    int return_min_assessments = 0;
    int return_min_span_days = 0;
    std::vector<std::string> sources;
  };
  struct Tachyphylaxis {
    std::string id;
    int min_response_assessments = 0;
    int min_response_span_days = 0;
    int min_loss_assessments = 0;
    int min_loss_span_days = 0;
    std::vector<AlternativeExplanation> alternatives;  ///< code, name and (in detail) how it is checked.
    std::vector<std::string> sources;
  };
  struct ReliableChange {
    std::string id;
    double critical_z = 0;
    std::vector<std::string> sources;
  };
  struct DailyField {
    std::string field;
    std::string label;
    std::string better;
    double trend_min_change = 0;
  };
  struct DailyLog {
    std::string id;
    int window_days = 0;
    int min_entries = 0;
    std::vector<DailyField> fields;
    std::vector<std::string> sources;
  };
  struct CrisisLine {
    std::string locale;
    std::string text;
    std::string emergency;
    std::vector<std::string> sources;
  };
  struct CrisisLines {
    std::string id;
    std::string default_locale;
    std::string action;
    std::vector<CrisisLine> lines;
    std::vector<std::string> sources;
  };
  std::optional<Outcomes> outcomes;
  std::optional<Tachyphylaxis> tachyphylaxis;
  std::optional<ReliableChange> reliable_change;
  std::optional<DailyLog> daily_log;
  std::optional<CrisisLines> crisis_lines;
};

/// Reads the rule.mbc.* entities (already schema-valid) of a KB.
[[nodiscard]] MbcRules ReadMbcRules(const KnowledgeBase& kb);

/// Problems of the MBC rules and scales the schemas cannot see: inverted bands, a scale priority
/// naming no scale, a default locale without a line, plus CheckScaleDefinitions. Empty when fine.
[[nodiscard]] std::vector<Error> CheckMeasurementKnowledge(const KnowledgeBase& kb);

/// A record's scale administrations scored against the KB, oldest first (ties in record order).
struct MbcContext {
  MbcRules rules;
  std::string default_locale;  ///< rule.mbc.crisis_lines default_locale (empty without the rule).
  std::map<std::string, ScaleDefinition, std::less<>> scales;  ///< By scale id.
  std::vector<ScaleResult> results;
  std::vector<ScaleScore> scores;  ///< Parallel to results.
  std::vector<std::vector<std::optional<int>>> items;  ///< Parallel to results: the recorded items.
  std::vector<Finding> findings;
};

/// Scores every administration of the record. A scale name the KB does not know (possible only for
/// records that did not pass PatientParser) is skipped with a finding, never guessed. An
/// administration dated after `as_of` is skipped with a finding: it was not known on that date.
[[nodiscard]] MbcContext PrepareMeasurement(const KnowledgeBase& kb, const PatientRecord& patient, Date as_of);

/// The trajectories of one trial on every depression scale with totals, from the last total on or
/// before `anchor` (the start of the trial's counting window) to `last_day` (its end, or as_of when
/// ongoing; when unknown, `as_of` is used and a finding says so). `decided_by` names the first scale in
/// rule.mbc.outcomes `scale_priority` whose trajectory could be evaluated.
[[nodiscard]] TrialMeasurement MeasureTrial(const MbcContext& context, int trial_index, Date anchor, std::optional<Date> last_day,
                                            Date as_of);

/// Fills `assessment.measurement` beyond the per-trial trajectories: the episode trajectories,
/// remission/relapse/recurrence events, tachyphylaxis and the daily-log summary.
void CompleteMeasurement(const MbcContext& context, const PatientRecord& patient, const Criteria& criteria, Date as_of,
                         Assessment& assessment);

/// The alerts of measurement-based care. Suicide-risk alerts (a positive critical safety item on
/// the latest administration of a scale) come first, are critical, carry the date of the answer and
/// the crisis line of `locale` (the KB default when empty); nothing else can suppress them. A positive
/// answer that a later administration of the same scale does not repeat gives a warning when it lies in
/// the current episode (on or after `episode_start`, or at any date when the start is unknown).
[[nodiscard]] std::vector<Alert> MeasurementAlerts(const MbcContext& context, const Assessment& assessment, std::string_view locale,
                                                   std::optional<Date> episode_start);

}  // namespace refract
