// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include "refract/core/json_schema.h"

namespace refract {
namespace {

using nlohmann::json;

const json kSchema = json::parse(R"({
  "type": "object",
  "required": ["id"],
  "additionalProperties": false,
  "properties": {
    "id": { "type": "string", "minLength": 1 },
    "dose": { "type": "number", "minimum": 0, "maximum": 100 },
    "when": { "$ref": "#/$defs/date" },
    "role": { "enum": ["monotherapy", "augmentation"] },
    "items": { "type": "array", "items": { "type": ["integer", "null"] }, "maxItems": 3 }
  },
  "$defs": { "date": { "type": "string", "format": "date" } }
})");

std::vector<SchemaViolation> Check(const char* text) { return SchemaValidator(kSchema).Validate(json::parse(text)); }

TEST(SchemaValidator, AcceptsValidInstance) { EXPECT_TRUE(Check(R"({"id": "a", "dose": 5, "when": "2026-01-01", "items": [1, null]})").empty()); }

TEST(SchemaValidator, NamesMissingRequiredProperty) {
  const auto violations = Check("{}");
  ASSERT_EQ(violations.size(), 1U);
  EXPECT_EQ(violations[0].pointer, "/id");
  EXPECT_EQ(violations[0].message, "missing required property \"id\"");
}

TEST(SchemaValidator, SuggestsForUnknownProperty) {
  const auto violations = Check(R"({"id": "a", "dos": 5})");
  ASSERT_EQ(violations.size(), 1U);
  EXPECT_EQ(violations[0].pointer, "/dos");
  EXPECT_EQ(violations[0].message, "unknown property \"dos\" (did you mean \"dose\"?)");
}

TEST(SchemaValidator, ReportsTypeAndRange) {
  auto violations = Check(R"({"id": "a", "dose": "20"})");
  ASSERT_EQ(violations.size(), 1U);
  EXPECT_EQ(violations[0].pointer, "/dose");
  EXPECT_EQ(violations[0].message, "expected a number, got a string");
  violations = Check(R"({"id": "a", "dose": 120})");
  ASSERT_EQ(violations.size(), 1U);
  EXPECT_EQ(violations[0].message, "120 is above the maximum 100");
}

TEST(SchemaValidator, ChecksDatesThroughReferences) {
  const auto violations = Check(R"({"id": "a", "when": "2026-02-30"})");
  ASSERT_EQ(violations.size(), 1U);
  EXPECT_EQ(violations[0].pointer, "/when");
  EXPECT_EQ(violations[0].message, "\"2026-02-30\" is not a valid date (expected YYYY-MM-DD)");
}

TEST(SchemaValidator, SuggestsEnumValue) {
  const auto violations = Check(R"({"id": "a", "role": "augmentaton"})");
  ASSERT_EQ(violations.size(), 1U);
  EXPECT_EQ(violations[0].message, "\"augmentaton\" is not one of \"monotherapy\", \"augmentation\" (did you mean \"augmentation\"?)");
}

TEST(SchemaValidator, ChecksArrayItemsAndLength) {
  const auto violations = Check(R"({"id": "a", "items": [1, "x", 3, 4]})");
  ASSERT_EQ(violations.size(), 2U);
  EXPECT_EQ(violations[0].message, "expected at most 3 items, got 4");
  EXPECT_EQ(violations[1].pointer, "/items/1");
  EXPECT_EQ(violations[1].message, "expected an integer or null, got a string");
}

TEST(SchemaValidator, ListsUnsupportedKeywords) {
  const SchemaValidator validator(json::parse(R"({"type": "object", "properties": {"a": {"type": "string", "contentMediaType": "x"}}})"));
  const auto unknown = validator.CheckSchemaKeywords();
  ASSERT_EQ(unknown.size(), 1U);
  EXPECT_EQ(unknown[0], "/properties/a/contentMediaType: contentMediaType");
}

}  // namespace
}  // namespace refract
