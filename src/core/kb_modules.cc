// SPDX-License-Identifier: Apache-2.0
// The module checks of `refract kb check`: each module validates its own tables.
#include "refract/core/kb_modules.h"

#include "refract/core/interactions.h"
#include "refract/core/mbc.h"
#include "refract/core/next_steps.h"
#include "refract/core/pgx.h"

namespace refract {

std::vector<Error> CheckKnowledgeModules(const KnowledgeBase& kb) {
  std::vector<Error> errors;
  const auto append = [&errors](std::vector<Error> found) { errors.insert(errors.end(), found.begin(), found.end()); };
  if (!kb.FilesOfKind("ddi_pk_matrix").empty()) append(CheckInteractionKnowledge(kb));
  append(CheckMeasurementKnowledge(kb));
  if (!kb.FilesOfKind("pgx_gene").empty()) append(CheckPgxKnowledge(kb));
  if (!kb.FilesOfKind("next_step_rules").empty()) append(CheckNextStepsKnowledge(kb));
  return errors;
}

}  // namespace refract
