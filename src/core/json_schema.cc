// SPDX-License-Identifier: Apache-2.0
// Validation of JSON instances against refract's JSON Schemas (draft 2020-12 subset).
#include "refract/core/json_schema.h"

#include "refract/core/date.h"
#include "refract/core/text.h"

#include <algorithm>
#include <cmath>
#include <mutex>
#include <set>

#include <fmt/format.h>

namespace refract {
namespace {

constexpr int kMaxDepth = 64;

const std::set<std::string>& KnownKeywords() {
  static const std::set<std::string> keywords = {
      "$schema", "$id", "$defs", "$ref", "title", "description", "type", "enum", "const", "properties",
      "required", "additionalProperties", "items", "minItems", "maxItems", "minimum", "maximum",
      "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength", "pattern", "format", "anyOf", "oneOf",
      "default", "examples"};
  return keywords;
}

bool MatchesType(const nlohmann::json& instance, const std::string& type) {
  if (type == "object") return instance.is_object();
  if (type == "array") return instance.is_array();
  if (type == "string") return instance.is_string();
  if (type == "boolean") return instance.is_boolean();
  if (type == "null") return instance.is_null();
  if (type == "number") return instance.is_number();
  if (type == "integer") {
    if (instance.is_number_integer()) return true;
    if (!instance.is_number_float()) return false;
    const double value = instance.get<double>();
    return std::isfinite(value) && std::floor(value) == value;
  }
  return false;
}

std::string Article(const std::string& type) {
  if (type == "null") return type;
  return (type == "object" || type == "array" || type == "integer") ? "an " + type : "a " + type;
}

// Length in Unicode code points, as JSON Schema counts it (UTF-8 continuation bytes are skipped).
std::size_t CodePoints(const std::string& text) {
  return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char byte) { return (static_cast<unsigned char>(byte) & 0xC0U) != 0x80U; }));
}

std::string ShortValue(const nlohmann::json& value) {
  std::string text = value.dump();
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return text;
}

std::string JoinEnum(const nlohmann::json& values) {
  std::string out;
  for (const auto& value : values) {
    if (!out.empty()) out += ", ";
    out += value.dump();
  }
  return out;
}

}  // namespace

std::string EscapePointerToken(const std::string& token) {
  std::string out;
  for (const char character : token) {
    if (character == '~') {
      out += "~0";
    } else if (character == '/') {
      out += "~1";
    } else {
      out.push_back(character);
    }
  }
  return out;
}

std::string DescribeJsonType(const nlohmann::json& value) {
  if (value.is_null()) return "null";
  if (value.is_boolean()) return "a boolean";
  if (value.is_number_integer()) return "an integer";
  if (value.is_number()) return "a number";
  if (value.is_string()) return "a string";
  if (value.is_array()) return "an array";
  return "an object";
}

SchemaValidator::SchemaValidator(nlohmann::json schema) : schema_(std::move(schema)) {}

std::vector<SchemaViolation> SchemaValidator::Validate(const nlohmann::json& instance) const {
  std::vector<SchemaViolation> out;
  ValidateNode(schema_, instance, "", out, 0);
  return out;
}

const nlohmann::json* SchemaValidator::Resolve(const std::string& ref) const {
  if (ref.rfind("#/", 0) != 0) return nullptr;
  const nlohmann::json::json_pointer pointer(ref.substr(1));
  if (!schema_.contains(pointer)) return nullptr;
  return &schema_.at(pointer);
}

const std::regex& SchemaValidator::Regex(const std::string& pattern) const {
  // Compiled patterns are shared by every validator: the KB's schemas repeat the same few.
  // The cache only grows (schemas are finite), so returned references stay valid.
  static std::mutex mutex;
  static std::map<std::string, std::unique_ptr<std::regex>> cache;
  const std::lock_guard<std::mutex> lock(mutex);
  auto found = cache.find(pattern);
  if (found == cache.end()) found = cache.emplace(pattern, std::make_unique<std::regex>(pattern, std::regex::ECMAScript)).first;
  return *found->second;
}

void SchemaValidator::ValidateNode(const nlohmann::json& schema, const nlohmann::json& instance,
                                   const std::string& pointer, std::vector<SchemaViolation>& out, int depth) const {
  if (depth > kMaxDepth) {
    out.push_back({pointer, "value is nested too deeply"});
    return;
  }
  if (schema.is_boolean()) {
    if (!schema.get<bool>()) out.push_back({pointer, "no value is allowed here"});
    return;
  }
  if (!schema.is_object()) return;

  if (const auto ref = schema.find("$ref"); ref != schema.end() && ref->is_string()) {
    const nlohmann::json* target = Resolve(ref->get<std::string>());
    if (target == nullptr) {
      out.push_back({pointer, fmt::format("schema reference {} does not resolve", ref->get<std::string>())});
      return;
    }
    ValidateNode(*target, instance, pointer, out, depth + 1);
  }

  if (const auto type = schema.find("type"); type != schema.end()) {
    std::vector<std::string> types;
    if (type->is_string()) types.push_back(type->get<std::string>());
    if (type->is_array()) {
      for (const auto& entry : *type) types.push_back(entry.get<std::string>());
    }
    const bool matched = std::any_of(types.begin(), types.end(),
                                     [&](const std::string& name) { return MatchesType(instance, name); });
    if (!matched) {
      std::string expected;
      for (std::size_t type_idx = 0; type_idx < types.size(); ++type_idx) {
        if (type_idx > 0) expected += type_idx + 1 == types.size() ? " or " : ", ";
        expected += Article(types[type_idx]);
      }
      out.push_back({pointer, fmt::format("expected {}, got {}", expected, DescribeJsonType(instance))});
      return;
    }
  }

  if (const auto constant = schema.find("const"); constant != schema.end() && instance != *constant) {
    out.push_back({pointer, fmt::format("expected {}, got {}", constant->dump(), ShortValue(instance))});
    return;
  }

  if (const auto values = schema.find("enum"); values != schema.end()) {
    if (std::find(values->begin(), values->end(), instance) == values->end()) {
      std::string message = fmt::format("{} is not one of {}", ShortValue(instance), JoinEnum(*values));
      if (instance.is_string()) {
        std::vector<std::string> names;
        for (const auto& value : *values) {
          if (value.is_string()) names.push_back(value.get<std::string>());
        }
        if (auto suggestion = Suggest(instance.get<std::string>(), names)) {
          message += fmt::format(" (did you mean \"{}\"?)", *suggestion);
        }
      }
      out.push_back({pointer, message});
      return;
    }
  }

  if (instance.is_number()) {
    const double value = instance.get<double>();
    if (const auto bound = schema.find("minimum"); bound != schema.end() && value < bound->get<double>()) {
      out.push_back({pointer, fmt::format("{} is below the minimum {}", FormatNumber(value), bound->dump())});
    }
    if (const auto bound = schema.find("maximum"); bound != schema.end() && value > bound->get<double>()) {
      out.push_back({pointer, fmt::format("{} is above the maximum {}", FormatNumber(value), bound->dump())});
    }
    if (const auto bound = schema.find("exclusiveMinimum"); bound != schema.end() && value <= bound->get<double>()) {
      out.push_back({pointer, fmt::format("{} must be greater than {}", FormatNumber(value), bound->dump())});
    }
    if (const auto bound = schema.find("exclusiveMaximum"); bound != schema.end() && value >= bound->get<double>()) {
      out.push_back({pointer, fmt::format("{} must be less than {}", FormatNumber(value), bound->dump())});
    }
  }

  if (instance.is_string()) {
    const auto& text = instance.get_ref<const std::string&>();
    if (const auto bound = schema.find("minLength"); bound != schema.end() && CodePoints(text) < bound->get<std::size_t>()) {
      out.push_back({pointer, text.empty() ? std::string("must not be empty")
                                           : fmt::format("\"{}\" is shorter than {} characters", text, bound->dump())});
    }
    if (const auto bound = schema.find("maxLength"); bound != schema.end() && CodePoints(text) > bound->get<std::size_t>()) {
      out.push_back({pointer, fmt::format("text is longer than {} characters", bound->dump())});
    }
    const auto format = schema.find("format");
    const bool is_date = format != schema.end() && *format == "date";
    if (is_date && !ParseDate(text)) {
      out.push_back({pointer, fmt::format("\"{}\" is not a valid date (expected YYYY-MM-DD)", text)});
    } else if (const auto pattern = schema.find("pattern"); !is_date && pattern != schema.end()) {
      if (!std::regex_search(text, Regex(pattern->get<std::string>()))) {
        out.push_back({pointer, fmt::format("\"{}\" does not match the pattern {}", text, pattern->get<std::string>())});
      }
    }
  }

  if (instance.is_array()) {
    if (const auto bound = schema.find("minItems"); bound != schema.end() && instance.size() < bound->get<std::size_t>()) {
      out.push_back({pointer, fmt::format("expected at least {} items, got {}", bound->dump(), instance.size())});
    }
    if (const auto bound = schema.find("maxItems"); bound != schema.end() && instance.size() > bound->get<std::size_t>()) {
      out.push_back({pointer, fmt::format("expected at most {} items, got {}", bound->dump(), instance.size())});
    }
    if (const auto items = schema.find("items"); items != schema.end()) {
      for (std::size_t item_idx = 0; item_idx < instance.size(); ++item_idx) {
        ValidateNode(*items, instance[item_idx], pointer + "/" + std::to_string(item_idx), out, depth + 1);
      }
    }
  }

  if (instance.is_object()) {
    const auto properties = schema.find("properties");
    if (const auto required = schema.find("required"); required != schema.end()) {
      for (const auto& name : *required) {
        if (!instance.contains(name.get<std::string>())) {
          // Point at the missing member itself: that is where the reader has to add it.
          out.push_back({pointer + "/" + EscapePointerToken(name.get<std::string>()),
                         fmt::format("missing required property \"{}\"", name.get<std::string>())});
        }
      }
    }
    const auto additional = schema.find("additionalProperties");
    for (const auto& [name, value] : instance.items()) {
      const std::string child = pointer + "/" + EscapePointerToken(name);
      if (properties != schema.end() && properties->contains(name)) {
        ValidateNode((*properties)[name], value, child, out, depth + 1);
        continue;
      }
      if (additional == schema.end()) continue;
      if (additional->is_boolean() && !additional->get<bool>()) {
        std::string message = fmt::format("unknown property \"{}\"", name);
        if (properties != schema.end()) {
          std::vector<std::string> names;
          for (const auto& [known, unused] : properties->items()) names.push_back(known);
          if (auto suggestion = Suggest(name, names)) message += fmt::format(" (did you mean \"{}\"?)", *suggestion);
        }
        out.push_back({child, message});
        continue;
      }
      ValidateNode(*additional, value, child, out, depth + 1);
    }
  }

  if (const auto any_of = schema.find("anyOf"); any_of != schema.end()) {
    std::vector<SchemaViolation> first_branch;
    bool matched = false;
    for (const auto& branch : *any_of) {
      std::vector<SchemaViolation> branch_out;
      ValidateNode(branch, instance, pointer, branch_out, depth + 1);
      if (branch_out.empty()) {
        matched = true;
        break;
      }
      if (first_branch.empty()) first_branch = std::move(branch_out);
    }
    if (!matched) out.insert(out.end(), first_branch.begin(), first_branch.end());
  }

  if (const auto one_of = schema.find("oneOf"); one_of != schema.end()) {
    int matches = 0;
    for (const auto& branch : *one_of) {
      std::vector<SchemaViolation> branch_out;
      ValidateNode(branch, instance, pointer, branch_out, depth + 1);
      if (branch_out.empty()) ++matches;
    }
    if (matches != 1) {
      out.push_back({pointer, fmt::format("value matches {} of the {} allowed shapes; exactly one is required", matches,
                                          one_of->size())});
    }
  }
}

std::vector<std::string> SchemaValidator::CheckSchemaKeywords() const {
  std::vector<std::string> unknown;
  // Walk every subschema position: keys under properties/$defs are names, not keywords.
  const auto walk = [&](const auto& self, const nlohmann::json& node, const std::string& pointer) -> void {
    if (!node.is_object()) return;
    for (const auto& [key, value] : node.items()) {
      const std::string child = pointer + "/" + EscapePointerToken(key);
      if (key == "properties" || key == "$defs") {
        for (const auto& [name, subschema] : value.items()) self(self, subschema, child + "/" + EscapePointerToken(name));
        continue;
      }
      if (KnownKeywords().count(key) == 0) unknown.push_back(child + ": " + key);
      if (key == "items" || key == "additionalProperties") self(self, value, child);
      if (key == "anyOf" || key == "oneOf") {
        for (std::size_t branch_idx = 0; branch_idx < value.size(); ++branch_idx) {
          self(self, value[branch_idx], child + "/" + std::to_string(branch_idx));
        }
      }
    }
  };
  walk(walk, schema_, "");
  return unknown;
}

}  // namespace refract
