// SPDX-License-Identifier: Apache-2.0
/// Wording shared by the text and HTML renderings (private to the core library).
#pragma once

#include <string>
#include <string_view>

#include <fmt/format.h>

#include "refract/core/assessment.h"
#include "refract/core/text.h"

namespace refract::report_detail {

inline std::string Dates(const TrialAssessment& trial) {
  const std::string end = trial.end ? FormatDate(*trial.end) : trial.ongoing ? "ongoing" : "end?";
  return FormatDate(trial.start) + " to " + end;
}

inline std::string Weeks(const TrialAssessment& trial) {
  if (!trial.days_at_adequate_dose) return "?";
  return fmt::format("{}{}", trial.days_at_adequate_dose_is_lower_bound ? ">=" : "",
                     FormatNumber(static_cast<double>(*trial.days_at_adequate_dose * 10 / 7) / 10.0));
}

inline std::string RoleText(const TrialAssessment& trial) {
  if (trial.drug->counts_as == CountsAs::Augmentation) return "augmenting agent";
  return fmt::format("antidepressant, {}", CourseRoleName(trial.role));
}

inline std::string Failed(const std::optional<bool>& failed) {
  if (!failed) return "unknown";
  return *failed ? "yes" : "no";
}

inline std::string TrdHeadline(const TrdAssessment& trd) {
  switch (trd.status) {
    case TrdStatus::Meets: return "MEETS TRD CRITERIA";
    case TrdStatus::DoesNotMeet: return "DOES NOT MEET TRD CRITERIA";
    case TrdStatus::Indeterminate: return "TRD STATUS INDETERMINATE";
    case TrdStatus::NotApplicable: return "TRD CRITERIA NOT APPLICABLE";
  }
  return "";
}

inline std::string MaudsleyLine(const MaudsleyResult& maudsley) {
  if (!maudsley.applicable) return "not applicable (no failed adequate trial)";
  if (!maudsley.total) return fmt::format("incomplete (between {} and {})", *maudsley.possible_min, *maudsley.possible_max);
  return fmt::format("{} of 15 ({})", *maudsley.total, maudsley.band);
}

inline std::string EuropeanLine(const EuropeanResult& european) {
  if (european.category == "none") return "not staged (no failed adequate trial)";
  std::string category = european.category;
  for (char& character : category) character = static_cast<char>(std::toupper(static_cast<unsigned char>(character)));
  return fmt::format("{} ({} failed trial{}, {} weeks)", european.category == "nonresponder" ? "nonresponder" : category,
                     european.failed_trials, european.failed_trials == 1 ? "" : "s", FormatNumber(european.total_weeks));
}

inline std::string Escape(std::string_view text) {
  std::string out;
  for (const char character : text) {
    switch (character) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out.push_back(character);
    }
  }
  return out;
}

}  // namespace refract::report_detail
