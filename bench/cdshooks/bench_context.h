// SPDX-License-Identifier: Apache-2.0
/// The CDS Hooks context the benchmarks serve with: built-in KB, FHIR maps, patient parser,
/// interaction and pharmacogenomic knowledge, loaded once before any timing; the assessment memo of
/// `refract serve` (256 prefetches).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <memory>

#include "refract/app/app.h"
#include "refract/cdshooks/service.h"
#include "refract/core/interactions.h"
#include "refract/core/pgx.h"
#include "refract/fhir/knowledge.h"

namespace refract::bench {

struct Served {
  KnowledgeBase kb;
  std::unique_ptr<fhir::FhirKnowledge> fhir;
  std::unique_ptr<InteractionKnowledge> interactions;
  std::unique_ptr<PgxKnowledge> pgx;
  cdshooks::CdsHooksContext context;
};

inline std::unique_ptr<Served> LoadServed() {
  const auto die = [](const Error& error) {
    std::fprintf(stderr, "cannot load: %s: %s\n", error.location.c_str(), error.message.c_str());
    std::exit(1);
  };
  auto kb = app::LoadKb(std::nullopt);
  if (!kb) die(kb.error());
  auto served = std::make_unique<Served>(Served{std::move(*kb), nullptr, nullptr, nullptr, {}});
  auto fhir = fhir::LoadFhirKnowledge(served->kb);
  if (!fhir) die(fhir.error());
  served->fhir = std::make_unique<fhir::FhirKnowledge>(std::move(*fhir));
  auto interactions = LoadInteractionKnowledge(served->kb);
  if (!interactions) die(interactions.error());
  served->interactions = std::make_unique<InteractionKnowledge>(std::move(*interactions));
  auto pgx = LoadPgxKnowledge(served->kb);
  if (!pgx) die(pgx.error());
  served->pgx = std::make_unique<PgxKnowledge>(std::move(*pgx));
  cdshooks::CdsHooksContext& context = served->context;
  context.kb = &served->kb;
  context.fhir = served->fhir.get();
  context.parser = &app::Parser();
  context.interactions = served->interactions.get();
  context.pgx = served->pgx.get();
  context.engine = app::Engine();
  context.base_url = "http://127.0.0.1";
  const Date today = *ParseDate("2026-11-22");
  context.today = [today] { return today; };
  context.now_seconds = [] { return std::int64_t{1795000000}; };
  context.memo = std::make_shared<cdshooks::AssessmentMemo>(256);  // as refract serve does
  return served;
}

}  // namespace refract::bench
