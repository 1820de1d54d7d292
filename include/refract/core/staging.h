// SPDX-License-Identifier: Apache-2.0
/// The four staging models, computed from assessed trials (docs/assessment.md section 6).
#pragma once

#include <vector>

#include "refract/core/assessment.h"

namespace refract {

// Each model takes `explain` (EvaluateOptions::explain): when false the stage, points and values are
// the same but the explanation (rule, sources, computation, ambiguities, MGH point items) stays empty.

/// Thase & Rush stage 0-5 from failed adequate antidepressant trials and failed ECT.
[[nodiscard]] ThaseRushResult StageThaseRush(const ThaseRushModel& model, const std::vector<TrialAssessment>& trials,
                                             const std::vector<ProcedureAssessment>& procedures, bool explain = true);

/// European Staging Method category (none, nonresponder, trd1-trd5, crd).
[[nodiscard]] EuropeanResult StageEuropean(const EuropeanModel& model, const TrdAssessment& trd,
                                           const std::vector<TrialAssessment>& trials, Date as_of, bool explain = true);

/// Maudsley Staging Method; total is empty when a component is unknown, with the possible range.
[[nodiscard]] MaudsleyResult StageMaudsley(const MaudsleyModel& model, const PatientRecord& patient, const TrdAssessment& trd,
                                           const std::vector<TrialAssessment>& trials,
                                           const std::vector<ProcedureAssessment>& procedures, Date as_of, bool explain = true);

/// MGH staging score with per-trial points.
[[nodiscard]] MghResult StageMgh(const MghModel& model, const std::vector<TrialAssessment>& trials,
                                 const std::vector<ProcedureAssessment>& procedures, Date as_of, bool explain = true);

/// Formats a day count as weeks with one decimal, truncated ("6", "5.8").
[[nodiscard]] std::string FormatWeeks(long days);

}  // namespace refract
