// SPDX-License-Identifier: Apache-2.0
/// The engine-test fixture KB: tests/kb-fixtures plus the real schemas from kb/schema.
#pragma once

#include <algorithm>
#include <filesystem>
#include <vector>

#include "refract/app/app.h"

namespace refract::testing_support {

/// Files of the fixture KB; the schemas come from kb/schema so the fixture never drifts.
inline std::vector<KbFile> FixtureKbFiles() {
  const std::filesystem::path source = REFRACT_SOURCE_DIR;
  auto files = app::ReadKbDirectory(source / "tests" / "kb-fixtures");
  auto schemas = app::ReadKbDirectory(source / "kb" / "schema");
  if (!files || !schemas) return {};
  for (KbFile& schema : *schemas) files->push_back(KbFile{"schema/" + schema.path, schema.content});
  std::sort(files->begin(), files->end(), [](const KbFile& left, const KbFile& right) { return left.path < right.path; });
  return *files;
}

/// The loaded fixture KB (aborts the test binary if it does not load: every test depends on it).
inline const KnowledgeBase& FixtureKb() {
  static const KnowledgeBase kb = [] {
    auto loaded = LoadKnowledgeBase(FixtureKbFiles(), "fixtures");
    if (!loaded) {
      std::fprintf(stderr, "fixture KB does not load: %s: %s\n", loaded.error().location.c_str(), loaded.error().message.c_str());
      std::abort();
    }
    return std::move(*loaded);
  }();
  return kb;
}

}  // namespace refract::testing_support
