// SPDX-License-Identifier: Apache-2.0
// OMOP CSV exports: one file per table (person.csv, DRUG_EXPOSURE.csv, …; comma or tab, with a
// header row). The clinical tables are read once into memory and served by person id range.
#include <algorithm>
#include <charconv>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "internal.h"

namespace refract::omop::internal {
namespace {

// One CSV file read row by row; fields are located by header name.
class CsvTable {
 public:
  static Result<std::optional<CsvTable>> Open(const std::filesystem::path& directory, const std::string& table) {
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator(directory, error)) {
      std::string name = entry.path().filename().string();
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
      if (name == table + ".csv" || name == table + ".tsv" || name == table + ".txt") {
        CsvTable out;
        out.path_ = entry.path().string();
        out.stream_ = std::make_unique<std::ifstream>(entry.path(), std::ios::binary);
        if (!*out.stream_) return Fail(ErrorCode::Io, "cannot read the file", out.path_);
        std::string header;
        std::getline(*out.stream_, header);
        if (!header.empty() && header.back() == '\r') header.pop_back();
        out.separator_ = header.find('\t') != std::string::npos ? '\t' : ',';
        std::vector<std::string> names;
        out.Split(header, names);
        for (std::size_t idx = 0; idx < names.size(); ++idx) {
          std::string column = names[idx];
          std::transform(column.begin(), column.end(), column.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
          out.columns_[column] = idx;
        }
        return std::optional<CsvTable>(std::move(out));
      }
    }
    if (error) return Fail(ErrorCode::Io, fmt::format("cannot list the directory: {}", error.message()), directory.string());
    return std::optional<CsvTable>();
  }

  /// Index of a column, or -1.
  [[nodiscard]] int Column(const std::string& name) const {
    const auto found = columns_.find(name);
    return found == columns_.end() ? -1 : static_cast<int>(found->second);
  }

  bool Next(std::vector<std::string>& fields) {
    std::string line;
    while (std::getline(*stream_, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      // A quoted field may span lines.
      while (std::count(line.begin(), line.end(), '"') % 2 == 1) {
        std::string more;
        if (!std::getline(*stream_, more)) break;
        line += "\n" + more;
      }
      if (line.empty()) continue;
      Split(line, fields);
      ++line_;
      return true;
    }
    return false;
  }

  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  void Split(const std::string& line, std::vector<std::string>& fields) const {
    fields.clear();
    std::string field;
    bool quoted = false;
    for (std::size_t idx = 0; idx < line.size(); ++idx) {
      const char ch = line[idx];
      if (quoted) {
        if (ch == '"' && idx + 1 < line.size() && line[idx + 1] == '"') {
          field += '"';
          ++idx;
        } else if (ch == '"') {
          quoted = false;
        } else {
          field += ch;
        }
      } else if (ch == '"') {
        quoted = true;
      } else if (ch == separator_) {
        fields.push_back(std::move(field));
        field.clear();
      } else {
        field += ch;
      }
    }
    fields.push_back(std::move(field));
  }

  std::string path_;
  std::unique_ptr<std::ifstream> stream_;
  char separator_ = ',';
  std::map<std::string, std::size_t> columns_;
  long line_ = 1;
};

const std::string& Field(const std::vector<std::string>& fields, int column) {
  static const std::string kEmpty;
  return column >= 0 && static_cast<std::size_t>(column) < fields.size() ? fields[static_cast<std::size_t>(column)] : kEmpty;
}

std::optional<std::int64_t> Int(const std::string& text) {
  if (text.empty()) return std::nullopt;
  std::int64_t value = 0;
  const auto parsed = std::from_chars(text.data(), text.data() + text.size(), value);
  if (parsed.ec == std::errc() && parsed.ptr == text.data() + text.size()) return value;
  double number = 0;
  if (std::from_chars(text.data(), text.data() + text.size(), number).ec == std::errc()) return static_cast<std::int64_t>(number);
  return std::nullopt;
}

std::optional<double> Double(const std::string& text) {
  if (text.empty()) return std::nullopt;
  double value = 0;
  if (std::from_chars(text.data(), text.data() + text.size(), value).ec != std::errc()) return std::nullopt;
  return value;
}

struct Vocabulary {
  std::vector<ConceptRow> concepts;
  std::vector<DescendantRow> ancestors;  // ancestor -> descendant (all rows)
  std::vector<StrengthRow> strengths;
};

class CsvSource;

class CsvReader final : public PersonReader {
 public:
  CsvReader(const std::vector<PersonRows>* persons, ReadFilter filter) : persons_(persons), filter_(std::move(filter)) {}
  Result<std::vector<PersonRows>> Read(std::int64_t first_id, std::int64_t last_id) override {
    const auto begin = std::lower_bound(persons_->begin(), persons_->end(), first_id,
                                        [](const PersonRows& person, std::int64_t id) { return person.person_id < id; });
    std::vector<PersonRows> out;
    for (auto it = begin; it != persons_->end() && it->person_id <= last_id; ++it) {
      PersonRows person = *it;
      const auto keep = [](const std::vector<ConceptId>& ids, ConceptId id) { return std::binary_search(ids.begin(), ids.end(), id); };
      std::erase_if(person.conditions, [&](const ConditionRow& row) { return !keep(filter_.condition_ids, row.concept_id); });
      std::erase_if(person.procedures, [&](const ProcedureRow& row) { return !keep(filter_.procedure_ids, row.concept_id); });
      std::erase_if(person.scores, [&](const ScoreRow& row) { return !keep(filter_.score_ids, row.concept_id); });
      out.push_back(std::move(person));
    }
    return out;
  }

 private:
  const std::vector<PersonRows>* persons_;
  ReadFilter filter_;
};

class CsvSource final : public Source {
 public:
  std::string_view Kind() const override { return "csv"; }

  Result<bool> Load(const std::filesystem::path& directory) {
    directory_ = directory.string();
    std::vector<std::string> fields;
    // Vocabulary.
    auto concept_table = CsvTable::Open(directory, "concept");
    if (!concept_table) return tl::unexpected(concept_table.error());
    if (!*concept_table) return Fail(ErrorCode::Storage, "not an OMOP CSV export: concept.csv is missing", directory_);
    {
      CsvTable& table = **concept_table;
      const int id = table.Column("concept_id"), vocabulary = table.Column("vocabulary_id"), code = table.Column("concept_code"),
                name = table.Column("concept_name"), klass = table.Column("concept_class_id"), invalid = table.Column("invalid_reason");
      while (table.Next(fields)) {
        const auto concept_id = Int(Field(fields, id));
        if (!concept_id) continue;
        vocabulary_.concepts.push_back(
            ConceptRow{*concept_id, Field(fields, vocabulary), Field(fields, code), Field(fields, name), Field(fields, klass), Field(fields, invalid)});
      }
    }
    if (auto table = CsvTable::Open(directory, "concept_ancestor"); !table) {
      return tl::unexpected(table.error());
    } else if (*table) {
      const int ancestor = (*table)->Column("ancestor_concept_id"), descendant = (*table)->Column("descendant_concept_id");
      while ((*table)->Next(fields)) {
        const auto from = Int(Field(fields, ancestor));
        const auto to = Int(Field(fields, descendant));
        if (from && to) vocabulary_.ancestors.push_back(DescendantRow{*from, *to});
      }
    }
    if (auto table = CsvTable::Open(directory, "concept_relationship"); !table) {
      return tl::unexpected(table.error());
    } else if (*table) {
      const int one = (*table)->Column("concept_id_1"), two = (*table)->Column("concept_id_2"), relationship = (*table)->Column("relationship_id"),
                invalid = (*table)->Column("invalid_reason");
      while ((*table)->Next(fields)) {
        const std::string& kind = Field(fields, relationship);
        if ((kind != "RxNorm has ing" && kind != "Has ingredient") || !Field(fields, invalid).empty()) continue;
        const auto drug = Int(Field(fields, one));
        const auto ingredient = Int(Field(fields, two));
        if (drug && ingredient) vocabulary_.ancestors.push_back(DescendantRow{*ingredient, *drug});
      }
    }
    if (auto table = CsvTable::Open(directory, "drug_strength"); !table) {
      return tl::unexpected(table.error());
    } else if (*table) {
      CsvTable& strength = **table;
      const int drug = strength.Column("drug_concept_id"), ingredient = strength.Column("ingredient_concept_id"),
                amount = strength.Column("amount_value"), amount_unit = strength.Column("amount_unit_concept_id"),
                numerator = strength.Column("numerator_value"), numerator_unit = strength.Column("numerator_unit_concept_id"),
                denominator = strength.Column("denominator_value"), denominator_unit = strength.Column("denominator_unit_concept_id");
      while (strength.Next(fields)) {
        const auto drug_id = Int(Field(fields, drug));
        const auto ingredient_id = Int(Field(fields, ingredient));
        if (!drug_id || !ingredient_id) continue;
        vocabulary_.strengths.push_back(StrengthRow{*drug_id, *ingredient_id, Double(Field(fields, amount)), Int(Field(fields, amount_unit)).value_or(0),
                                                    Double(Field(fields, numerator)), Int(Field(fields, numerator_unit)).value_or(0),
                                                    Double(Field(fields, denominator)), Int(Field(fields, denominator_unit)).value_or(0)});
        vocabulary_.ancestors.push_back(DescendantRow{*ingredient_id, *drug_id});
      }
    }
    // Clinical tables.
    auto person_table = CsvTable::Open(directory, "person");
    if (!person_table) return tl::unexpected(person_table.error());
    if (!*person_table) return Fail(ErrorCode::Storage, "not an OMOP CSV export: person.csv is missing", directory_);
    {
      CsvTable& table = **person_table;
      const int id = table.Column("person_id"), year = table.Column("year_of_birth");
      while (table.Next(fields)) {
        const auto person_id = Int(Field(fields, id));
        if (!person_id) continue;
        PersonRows person;
        person.person_id = *person_id;
        if (const auto born = Int(Field(fields, year))) person.year_of_birth = static_cast<int>(*born);
        persons_.push_back(std::move(person));
      }
    }
    std::stable_sort(persons_.begin(), persons_.end(), [](const PersonRows& left, const PersonRows& right) { return left.person_id < right.person_id; });
    const auto find = [&](const std::string& text) -> PersonRows* {
      const auto id = Int(text);
      if (!id) return nullptr;
      const auto it = std::lower_bound(persons_.begin(), persons_.end(), *id, [](const PersonRows& person, std::int64_t wanted) { return person.person_id < wanted; });
      return it != persons_.end() && it->person_id == *id ? &*it : nullptr;
    };
    const auto each = [&](const char* name, auto&& on_table) -> Result<bool> {
      auto table = CsvTable::Open(directory, name);
      if (!table) return tl::unexpected(table.error());
      if (*table) on_table(**table);
      return true;
    };
    auto ok = each("observation_period", [&](CsvTable& table) {
      const int person = table.Column("person_id"), start = table.Column("observation_period_start_date"), end = table.Column("observation_period_end_date");
      while (table.Next(fields)) {
        PersonRows* rows = find(Field(fields, person));
        const auto from = ParseCdmDate(Field(fields, start));
        const auto to = ParseCdmDate(Field(fields, end));
        if (rows != nullptr && from && to) rows->observation_periods.push_back(ObservationPeriodRow{*from, *to});
      }
    });
    if (ok) ok = each("drug_exposure", [&](CsvTable& table) {
      const int person = table.Column("person_id"), id = table.Column("drug_exposure_id"), concept_column = table.Column("drug_concept_id"),
                start = table.Column("drug_exposure_start_date"), end = table.Column("drug_exposure_end_date"), quantity = table.Column("quantity"),
                days = table.Column("days_supply");
      while (table.Next(fields)) {
        PersonRows* rows = find(Field(fields, person));
        const auto from = ParseCdmDate(Field(fields, start));
        if (rows == nullptr || !from) continue;
        DrugExposureRow row;
        row.drug_exposure_id = Int(Field(fields, id)).value_or(0);
        row.drug_concept_id = Int(Field(fields, concept_column)).value_or(0);
        row.start = *from;
        row.end = ParseCdmDate(Field(fields, end));
        row.quantity = Double(Field(fields, quantity));
        row.days_supply = Int(Field(fields, days));
        rows->drug_exposures.push_back(row);
      }
    });
    if (ok) ok = each("condition_occurrence", [&](CsvTable& table) {
      const int person = table.Column("person_id"), concept_column = table.Column("condition_concept_id"), start = table.Column("condition_start_date");
      while (table.Next(fields)) {
        PersonRows* rows = find(Field(fields, person));
        const auto from = ParseCdmDate(Field(fields, start));
        if (rows != nullptr && from) rows->conditions.push_back(ConditionRow{Int(Field(fields, concept_column)).value_or(0), *from});
      }
    });
    if (ok) ok = each("procedure_occurrence", [&](CsvTable& table) {
      const int person = table.Column("person_id"), concept_column = table.Column("procedure_concept_id"), date = table.Column("procedure_date");
      while (table.Next(fields)) {
        PersonRows* rows = find(Field(fields, person));
        const auto on = ParseCdmDate(Field(fields, date));
        if (rows != nullptr && on) rows->procedures.push_back(ProcedureRow{Int(Field(fields, concept_column)).value_or(0), *on});
      }
    });
    for (const char* name : {"measurement", "observation"}) {
      const std::string prefix = name;
      if (ok) ok = each(name, [&](CsvTable& table) {
        const int person = table.Column("person_id"), concept_column = table.Column(prefix + "_concept_id"), date = table.Column(prefix + "_date"),
                  value = table.Column("value_as_number");
        while (table.Next(fields)) {
          PersonRows* rows = find(Field(fields, person));
          const auto on = ParseCdmDate(Field(fields, date));
          if (rows != nullptr && on) rows->scores.push_back(ScoreRow{Int(Field(fields, concept_column)).value_or(0), *on, Double(Field(fields, value))});
        }
      });
    }
    return ok;
  }

  Result<std::vector<ConceptRow>> LookupConcepts(const ConceptLookups& lookups) override {
    std::vector<ConceptRow> out;
    for (const ConceptRow& row : vocabulary_.concepts) {
      const bool by_code = std::any_of(lookups.codes.begin(), lookups.codes.end(),
                                       [&](const ConceptCode& code) { return code.vocabulary == row.vocabulary && code.code == row.code; });
      const bool by_id = std::binary_search(lookups.ids.begin(), lookups.ids.end(), row.concept_id);
      if (by_code || by_id) out.push_back(row);
    }
    return out;
  }

  Result<std::vector<DescendantRow>> Descendants(std::span<const ConceptId> ancestors) override {
    std::vector<DescendantRow> out;
    for (const DescendantRow& row : vocabulary_.ancestors) {
      if (std::find(ancestors.begin(), ancestors.end(), row.ancestor) != ancestors.end()) out.push_back(row);
    }
    return out;
  }

  Result<std::vector<StrengthRow>> Strengths(std::span<const ConceptId> ingredients) override {
    std::vector<StrengthRow> out;
    for (const StrengthRow& row : vocabulary_.strengths) {
      if (std::find(ingredients.begin(), ingredients.end(), row.ingredient_concept_id) != ingredients.end()) out.push_back(row);
    }
    return out;
  }

  Result<std::vector<ConceptId>> KnownConcepts() override {
    std::vector<ConceptId> out;
    out.reserve(vocabulary_.concepts.size());
    for (const ConceptRow& row : vocabulary_.concepts) out.push_back(row.concept_id);
    std::sort(out.begin(), out.end());
    return out;
  }

  Result<std::vector<std::int64_t>> PersonIds() override {
    std::vector<std::int64_t> out;
    out.reserve(persons_.size());
    for (const PersonRows& person : persons_) out.push_back(person.person_id);
    return out;
  }

  Result<std::unique_ptr<PersonReader>> OpenReader(const ReadFilter& filter) override {
    return std::unique_ptr<PersonReader>(std::make_unique<CsvReader>(&persons_, filter));
  }

 private:
  std::string directory_;
  Vocabulary vocabulary_;
  std::vector<PersonRows> persons_;
};

}  // namespace

Result<std::unique_ptr<Source>> OpenCsv(const std::string& directory) {
  auto source = std::make_unique<CsvSource>();
  if (auto ok = source->Load(directory); !ok) return tl::unexpected(ok.error());
  return std::unique_ptr<Source>(std::move(source));
}

}  // namespace refract::omop::internal
