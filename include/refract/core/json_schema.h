// SPDX-License-Identifier: Apache-2.0
/// A JSON Schema validator for the subset of draft 2020-12 that refract's schemas use.
#pragma once

#include <map>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace refract {

/// One place where an instance breaks its schema.
struct SchemaViolation {
  std::string pointer;  ///< JSON pointer into the instance ("" is the root).
  std::string message;  ///< Lowercase, names the offending value and what was expected.
};

/// Validates instances against one schema document.
///
/// Supported keywords: type (name or list), enum, const, properties, required,
/// additionalProperties (boolean or schema), items, minItems, maxItems, minimum, maximum,
/// exclusiveMinimum, exclusiveMaximum, minLength, maxLength, pattern, format "date", local
/// $ref ("#/$defs/name"), anyOf and oneOf. Annotation keywords are ignored. A keyword outside
/// this set is reported by CheckSchemaKeywords, never silently ignored.
class SchemaValidator {
 public:
  explicit SchemaValidator(nlohmann::json schema);

  /// Returns every violation found, in document order; empty when the instance is valid.
  [[nodiscard]] std::vector<SchemaViolation> Validate(const nlohmann::json& instance) const;

  /// Lists keywords the validator does not understand, as "pointer: keyword" strings.
  [[nodiscard]] std::vector<std::string> CheckSchemaKeywords() const;

  [[nodiscard]] const nlohmann::json& schema() const { return schema_; }

 private:
  void ValidateNode(const nlohmann::json& schema, const nlohmann::json& instance, const std::string& pointer,
                    std::vector<SchemaViolation>& out, int depth) const;
  [[nodiscard]] const nlohmann::json* Resolve(const std::string& ref) const;
  [[nodiscard]] const std::regex& Regex(const std::string& pattern) const;

  nlohmann::json schema_;
};

/// Escapes one JSON pointer reference token ("~" and "/").
[[nodiscard]] std::string EscapePointerToken(const std::string& token);

/// Describes a JSON value's type as a user would read it ("a string", "an integer", "null").
[[nodiscard]] std::string DescribeJsonType(const nlohmann::json& value);

}  // namespace refract
