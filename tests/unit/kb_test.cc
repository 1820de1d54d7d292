// SPDX-License-Identifier: Apache-2.0
#include <filesystem>

#include <gtest/gtest.h>

#include "refract/app/app.h"
#include "refract/app/embedded.h"
#include "fixture_kb.h"

namespace refract {
namespace {

std::vector<KbFile> FixtureFiles() { return testing_support::FixtureKbFiles(); }

void Replace(std::vector<KbFile>& files, const std::string& path, const std::string& from, const std::string& to) {
  for (KbFile& file : files) {
    if (file.path != path) continue;
    const auto at = file.content.find(from);
    ASSERT_NE(at, std::string::npos) << from << " not in " << path;
    file.content.replace(at, from.size(), to);
    return;
  }
  FAIL() << path << " not in fixtures";
}

TEST(KnowledgeBase, BuiltInKbLoadsAndPassesCheck) {
  EXPECT_TRUE(CheckKnowledgeBase(embedded::KbFiles()).empty());
  auto kb = LoadKnowledgeBase(embedded::KbFiles(), "built-in");
  ASSERT_TRUE(kb) << kb.error().location << ": " << kb.error().message;
  EXPECT_FALSE(kb->drugs().empty());
  EXPECT_EQ(kb->digest().substr(0, 7), "sha256:");
  EXPECT_EQ(kb->digest().size(), 7U + 64U);
}

TEST(KnowledgeBase, FixtureKbLoads) {
  const auto files = FixtureFiles();
  auto kb = LoadKnowledgeBase(files, "fixtures");
  ASSERT_TRUE(kb) << kb.error().location << ": " << kb.error().message;
  EXPECT_NE(kb->FindDrug("drug.sertraline"), nullptr);
}

TEST(KnowledgeBase, ResolvesBrandsAndMisspellingsCaseInsensitively) {
  auto kb = LoadKnowledgeBase(FixtureFiles(), "fixtures");
  ASSERT_TRUE(kb);
  const Drug* sertraline = kb->FindDrug("drug.sertraline");
  const auto by_brand = kb->ResolveDrug("ZOLOFT");
  ASSERT_TRUE(by_brand);
  EXPECT_EQ(*by_brand, sertraline);
  const auto by_id = kb->ResolveDrug("drug.sertraline");
  ASSERT_TRUE(by_id);
  EXPECT_EQ(*by_id, sertraline);
}

TEST(KnowledgeBase, UnknownDrugSuggestsClosestName) {
  auto kb = LoadKnowledgeBase(FixtureFiles(), "fixtures");
  ASSERT_TRUE(kb);
  const auto result = kb->ResolveDrug("sertralime");
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::InvalidInput);
  EXPECT_EQ(result.error().message, "unknown drug \"sertralime\" (did you mean \"sertraline\"?)");
}

TEST(KnowledgeBase, RejectsSchemaViolationWithLocation) {
  auto files = FixtureFiles();
  Replace(files, "drugs/sertraline.json", "\"min_dose_mg_per_day\": 50", "\"min_dose_mg_per_day\": \"50\"");
  const auto problems = CheckKnowledgeBase(files);
  ASSERT_EQ(problems.size(), 1U);
  EXPECT_EQ(problems[0].code, ErrorCode::KbSchema);
  EXPECT_EQ(problems[0].location, "kb/drugs/sertraline.json#/adequacy/min_dose_mg_per_day");
  EXPECT_EQ(problems[0].message, "expected a number, got a string");
}

TEST(KnowledgeBase, RejectsUnresolvedSource) {
  auto files = FixtureFiles();
  Replace(files, "drugs/sertraline.json", "\"class\": \"class.ssri\"", "\"class\": \"class.sssri\"");
  const auto problems = CheckKnowledgeBase(files);
  ASSERT_EQ(problems.size(), 1U);
  EXPECT_EQ(problems[0].code, ErrorCode::KbReference);
  EXPECT_EQ(problems[0].message, "reference \"class.sssri\" does not resolve");
  EXPECT_EQ(problems[0].location, "kb/drugs/sertraline.json#/class");
}

TEST(KnowledgeBase, UnresolvedReferenceInAnArrayIsLocatedByItsPointer) {
  auto files = FixtureFiles();
  Replace(files, "drugs/sertraline.json", "\"basis\": \"atrq\",\n    \"sources\": [\n      \"source.chandler-2010-atrq\"",
          "\"basis\": \"atrq\",\n    \"sources\": [\n      \"source.chandler-2010-atrq\", \"source.nowhere\"");
  const auto problems = CheckKnowledgeBase(files);
  ASSERT_EQ(problems.size(), 1U);
  EXPECT_EQ(problems[0].message, "reference \"source.nowhere\" does not resolve");
  EXPECT_EQ(problems[0].location, "kb/drugs/sertraline.json#/adequacy/sources/1");
}

TEST(KnowledgeBase, RejectsMinimumAboveMaximum) {
  auto files = FixtureFiles();
  Replace(files, "drugs/sertraline.json", "\"min_dose_mg_per_day\": 50", "\"min_dose_mg_per_day\": 250");
  const auto problems = CheckKnowledgeBase(files);
  ASSERT_EQ(problems.size(), 1U);
  EXPECT_EQ(problems[0].message, "minimum adequate dose 250 mg/day is above the maximum 200 mg/day");
}

TEST(KnowledgeBase, DigestChangesWithContent) {
  auto files = FixtureFiles();
  const std::string before = KbDigest(files);
  Replace(files, "drugs/sertraline.json", "\"min_dose_mg_per_day\": 50", "\"min_dose_mg_per_day\": 51");
  EXPECT_NE(KbDigest(files), before);
}

}  // namespace
}  // namespace refract
