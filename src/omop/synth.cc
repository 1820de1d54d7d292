// SPDX-License-Identifier: Apache-2.0
// `refract synth-omop`: a synthetic OMOP CDM with known ground truth per person. Every clinical
// number the generator uses (minimum adequate doses, the 6-week rule, the persistence gap, the
// switch window) is read from the KB, and scenarios keep clear of every threshold so that the
// ground truth does not depend on edge cases.
#include "refract/omop/synth.h"

#include "refract/core/text.h"

#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace refract::omop {
namespace {

// ------------------------------------------------------------------------------------------------
// Output: SQLite or CSV, one interface.
// ------------------------------------------------------------------------------------------------

struct Cell {
  enum class Kind { Null, Int, Real, Text } kind = Kind::Null;
  std::int64_t integer = 0;
  double real = 0;
  std::string text;
  Cell() = default;
  Cell(std::int64_t value) : kind(Kind::Int), integer(value) {}  // NOLINT(google-explicit-constructor)
  Cell(int value) : kind(Kind::Int), integer(value) {}           // NOLINT(google-explicit-constructor)
  Cell(double value) : kind(Kind::Real), real(value) {}          // NOLINT(google-explicit-constructor)
  Cell(std::string value) : kind(Kind::Text), text(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Cell(const char* value) : kind(Kind::Text), text(value) {}     // NOLINT(google-explicit-constructor)
};
Cell Null() { return Cell(); }
template <class T>
Cell Opt(const std::optional<T>& value) {
  return value ? Cell(*value) : Cell();
}

struct TableSpec {
  const char* name;
  const char* ddl;  // column definitions
  std::vector<const char*> columns;
  std::vector<const char*> indexes;  // column lists
};

const std::vector<TableSpec>& Tables() {
  static const std::vector<TableSpec> tables = {
      {"person", "person_id BIGINT NOT NULL PRIMARY KEY, gender_concept_id BIGINT NOT NULL, year_of_birth INTEGER NOT NULL, month_of_birth INTEGER, "
                 "day_of_birth INTEGER, race_concept_id BIGINT NOT NULL, ethnicity_concept_id BIGINT NOT NULL",
       {"person_id", "gender_concept_id", "year_of_birth", "month_of_birth", "day_of_birth", "race_concept_id", "ethnicity_concept_id"}, {}},
      {"observation_period", "observation_period_id BIGINT NOT NULL, person_id BIGINT NOT NULL, observation_period_start_date DATE NOT NULL, "
                             "observation_period_end_date DATE NOT NULL, period_type_concept_id BIGINT NOT NULL",
       {"observation_period_id", "person_id", "observation_period_start_date", "observation_period_end_date", "period_type_concept_id"}, {"person_id"}},
      {"drug_exposure", "drug_exposure_id BIGINT NOT NULL, person_id BIGINT NOT NULL, drug_concept_id BIGINT NOT NULL, drug_exposure_start_date DATE "
                        "NOT NULL, drug_exposure_end_date DATE, drug_type_concept_id BIGINT NOT NULL, quantity REAL, days_supply INTEGER",
       {"drug_exposure_id", "person_id", "drug_concept_id", "drug_exposure_start_date", "drug_exposure_end_date", "drug_type_concept_id", "quantity",
        "days_supply"},
       {"person_id"}},
      {"condition_occurrence", "condition_occurrence_id BIGINT NOT NULL, person_id BIGINT NOT NULL, condition_concept_id BIGINT NOT NULL, "
                               "condition_start_date DATE NOT NULL, condition_type_concept_id BIGINT NOT NULL",
       {"condition_occurrence_id", "person_id", "condition_concept_id", "condition_start_date", "condition_type_concept_id"}, {"person_id"}},
      {"procedure_occurrence", "procedure_occurrence_id BIGINT NOT NULL, person_id BIGINT NOT NULL, procedure_concept_id BIGINT NOT NULL, "
                               "procedure_date DATE NOT NULL, procedure_type_concept_id BIGINT NOT NULL",
       {"procedure_occurrence_id", "person_id", "procedure_concept_id", "procedure_date", "procedure_type_concept_id"}, {"person_id"}},
      {"measurement", "measurement_id BIGINT NOT NULL, person_id BIGINT NOT NULL, measurement_concept_id BIGINT NOT NULL, measurement_date DATE NOT "
                      "NULL, measurement_type_concept_id BIGINT NOT NULL, value_as_number REAL",
       {"measurement_id", "person_id", "measurement_concept_id", "measurement_date", "measurement_type_concept_id", "value_as_number"}, {"person_id"}},
      {"observation", "observation_id BIGINT NOT NULL, person_id BIGINT NOT NULL, observation_concept_id BIGINT NOT NULL, observation_date DATE NOT "
                      "NULL, observation_type_concept_id BIGINT NOT NULL, value_as_number REAL",
       {"observation_id", "person_id", "observation_concept_id", "observation_date", "observation_type_concept_id", "value_as_number"}, {"person_id"}},
      {"concept", "concept_id BIGINT NOT NULL PRIMARY KEY, concept_name VARCHAR(255) NOT NULL, domain_id VARCHAR(20) NOT NULL, vocabulary_id "
                  "VARCHAR(20) NOT NULL, concept_class_id VARCHAR(20) NOT NULL, standard_concept VARCHAR(1), concept_code VARCHAR(50) NOT NULL, "
                  "valid_start_date DATE NOT NULL, valid_end_date DATE NOT NULL, invalid_reason VARCHAR(1)",
       {"concept_id", "concept_name", "domain_id", "vocabulary_id", "concept_class_id", "standard_concept", "concept_code", "valid_start_date",
        "valid_end_date", "invalid_reason"},
       {"vocabulary_id, concept_code"}},
      {"concept_ancestor", "ancestor_concept_id BIGINT NOT NULL, descendant_concept_id BIGINT NOT NULL, min_levels_of_separation INTEGER NOT NULL, "
                           "max_levels_of_separation INTEGER NOT NULL",
       {"ancestor_concept_id", "descendant_concept_id", "min_levels_of_separation", "max_levels_of_separation"}, {"ancestor_concept_id"}},
      {"drug_strength", "drug_concept_id BIGINT NOT NULL, ingredient_concept_id BIGINT NOT NULL, amount_value REAL, amount_unit_concept_id BIGINT, "
                        "numerator_value REAL, numerator_unit_concept_id BIGINT, denominator_value REAL, denominator_unit_concept_id BIGINT, "
                        "box_size INTEGER, valid_start_date DATE NOT NULL, valid_end_date DATE NOT NULL, invalid_reason VARCHAR(1)",
       {"drug_concept_id", "ingredient_concept_id", "amount_value", "amount_unit_concept_id", "numerator_value", "numerator_unit_concept_id",
        "denominator_value", "denominator_unit_concept_id", "box_size", "valid_start_date", "valid_end_date", "invalid_reason"},
       {"ingredient_concept_id"}},
      {"refract_truth", "person_id BIGINT NOT NULL PRIMARY KEY, scenario VARCHAR(200) NOT NULL, trd_status VARCHAR(20) NOT NULL, "
                        "failed_adequate_trials INTEGER NOT NULL, data_quality VARCHAR(200) NOT NULL",
       {"person_id", "scenario", "trd_status", "failed_adequate_trials", "data_quality"}, {}},
  };
  return tables;
}

enum Table : std::size_t { kPerson, kPeriod, kDrug, kCondition, kProcedure, kMeasurement, kObservation, kConcept, kAncestor, kStrength, kTruth };

class Sink {
 public:
  virtual ~Sink() = default;
  virtual Result<bool> Add(Table table, const std::vector<Cell>& cells) = 0;
  virtual Result<bool> Finish() = 0;
};

class SqliteSink final : public Sink {
 public:
  ~SqliteSink() override {
    for (sqlite3_stmt* stmt : inserts_) sqlite3_finalize(stmt);
    if (db_ != nullptr) sqlite3_close_v2(db_);
  }

  Result<bool> Open(const std::string& path) {
    path_ = path;
    std::error_code error;
    std::filesystem::remove(path, error);
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) != SQLITE_OK) return Failure("cannot create");
    if (auto ok = Exec("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA page_size = 8192; BEGIN"); !ok) return ok;
    for (const TableSpec& spec : Tables()) {
      if (auto ok = Exec(fmt::format("CREATE TABLE {} ({})", spec.name, spec.ddl)); !ok) return ok;
      std::string marks;
      for (std::size_t idx = 0; idx < spec.columns.size(); ++idx) marks += idx == 0 ? "?" : ",?";
      sqlite3_stmt* stmt = nullptr;
      const std::string sql = fmt::format("INSERT INTO {} VALUES ({})", spec.name, marks);
      if (sqlite3_prepare_v3(db_, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) != SQLITE_OK) return Failure("cannot prepare insert");
      inserts_.push_back(stmt);
    }
    return true;
  }

  Result<bool> Add(Table table, const std::vector<Cell>& cells) override {
    sqlite3_stmt* stmt = inserts_[table];
    for (std::size_t idx = 0; idx < cells.size(); ++idx) {
      const int column = static_cast<int>(idx) + 1;
      const Cell& cell = cells[idx];
      switch (cell.kind) {
        case Cell::Kind::Null: sqlite3_bind_null(stmt, column); break;
        case Cell::Kind::Int: sqlite3_bind_int64(stmt, column, cell.integer); break;
        case Cell::Kind::Real: sqlite3_bind_double(stmt, column, cell.real); break;
        case Cell::Kind::Text: sqlite3_bind_text(stmt, column, cell.text.c_str(), static_cast<int>(cell.text.size()), SQLITE_TRANSIENT); break;
      }
    }
    const int status = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (status != SQLITE_DONE) return Failure("cannot insert");
    return true;
  }

  Result<bool> Finish() override {
    for (const TableSpec& spec : Tables()) {
      for (const char* columns : spec.indexes) {
        std::string name = fmt::format("idx_{}_{}", spec.name, columns);
        std::replace(name.begin(), name.end(), ',', '_');
        name.erase(std::remove(name.begin(), name.end(), ' '), name.end());
        if (auto ok = Exec(fmt::format("CREATE INDEX {} ON {} ({})", name, spec.name, columns)); !ok) return ok;
      }
    }
    if (auto ok = Exec("COMMIT; ANALYZE"); !ok) return ok;
    return true;
  }

 private:
  Result<bool> Exec(const std::string& sql) {
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) return Failure(fmt::format("cannot run \"{}\"", sql.substr(0, 60)));
    return true;
  }
  tl::unexpected<Error> Failure(const std::string& what) const {
    return tl::unexpected(Error{ErrorCode::Storage, fmt::format("{}: {}", what, db_ != nullptr ? sqlite3_errmsg(db_) : "out of memory"), path_});
  }

  std::string path_;
  sqlite3* db_ = nullptr;
  std::vector<sqlite3_stmt*> inserts_;
};

class CsvSink final : public Sink {
 public:
  Result<bool> Open(const std::string& directory) {
    directory_ = directory;
    std::error_code error;
    std::filesystem::create_directories(directory, error);
    if (error) return Fail(ErrorCode::Io, fmt::format("cannot create the directory: {}", error.message()), directory);
    for (const TableSpec& spec : Tables()) {
      const auto path = std::filesystem::path(directory) / (std::string(spec.name) + ".csv");
      auto stream = std::make_unique<std::ofstream>(path, std::ios::binary | std::ios::trunc);
      if (!*stream) return Fail(ErrorCode::Io, "cannot write the file", path.string());
      std::string header;
      for (std::size_t idx = 0; idx < spec.columns.size(); ++idx) header += (idx == 0 ? "" : ",") + std::string(spec.columns[idx]);
      *stream << header << "\n";
      files_.push_back(std::move(stream));
    }
    return true;
  }

  Result<bool> Add(Table table, const std::vector<Cell>& cells) override {
    std::string line;
    for (std::size_t idx = 0; idx < cells.size(); ++idx) {
      if (idx > 0) line += ',';
      const Cell& cell = cells[idx];
      switch (cell.kind) {
        case Cell::Kind::Null: break;
        case Cell::Kind::Int: line += std::to_string(cell.integer); break;
        case Cell::Kind::Real: line += fmt::format("{}", cell.real); break;
        case Cell::Kind::Text:
          if (cell.text.find_first_of(",\"\n") == std::string::npos) {
            line += cell.text;
          } else {
            line += '"';
            for (const char ch : cell.text) line += ch == '"' ? std::string("\"\"") : std::string(1, ch);
            line += '"';
          }
          break;
      }
    }
    line += '\n';
    *files_[table] << line;
    return true;
  }

  Result<bool> Finish() override {
    for (auto& file : files_) {
      file->flush();
      if (!*file) return Fail(ErrorCode::Io, "cannot write the CSV files", directory_);
    }
    return true;
  }

 private:
  std::string directory_;
  std::vector<std::unique_ptr<std::ofstream>> files_;
};

// ------------------------------------------------------------------------------------------------
// Randomness: one stream per person (splitmix64), so a person's data does not depend on others.
// ------------------------------------------------------------------------------------------------

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t Next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  /// Uniform in [low, high].
  long Between(long low, long high) { return low + static_cast<long>(Next() % static_cast<std::uint64_t>(high - low + 1)); }
  /// True with probability percent/100.
  bool Chance(int percent) { return static_cast<int>(Next() % 100) < percent; }

 private:
  std::uint64_t state_;
};

std::string DateText(Date date) { return FormatDate(date); }

// ------------------------------------------------------------------------------------------------
// Vocabulary
// ------------------------------------------------------------------------------------------------

constexpr ConceptId kDriftOffset = 100000000;
constexpr ConceptId kSyntheticBase = 1900000000;
constexpr ConceptId kUnknownConcept = 1999999999;
constexpr ConceptId kDrugTypeDispensed = 32869;  // "Pharmacy claim" type concept (metadata, not clinical)
constexpr ConceptId kEhrType = 32817;

struct Product {
  ConceptId concept_id = 0;
  double strength_mg = 0;
};

struct SynthDrug {
  const Drug* drug = nullptr;
  ConceptId ingredient = 0;
  Product low;       // half the minimum adequate dose per unit
  Product standard;  // the minimum adequate dose per unit
};

struct Vocabulary {
  std::vector<SynthDrug> antidepressants;
  std::vector<SynthDrug> augmenters;
  std::optional<SynthDrug> esketamine;
  std::vector<ConceptId> noise_products;
  ConceptId depression = 0;
  ConceptId mdd = 0;
  ConceptId bipolar = 0;
  ConceptId psychosis = 0;
  ConceptId dementia = 0;
  ConceptId noise_condition = 0;
  ConceptId ect = 0;
  ConceptId phq9 = 0;
  ConceptId mdd_single = 0;
};

class Generator {
 public:
  Generator(const KnowledgeBase& kb, const OmopConfig& config, const SynthOptions& options, Sink& sink)
      : kb_(kb), config_(config), options_(options), sink_(sink) {}

  Result<SynthStats> Run() {
    if (auto ok = WriteVocabulary(); !ok) return tl::unexpected(ok.error());
    if (vocabulary_.antidepressants.size() < 6) {
      return Fail(ErrorCode::KbReference, "the KB's OMOP concept sets name fewer than 6 antidepressants with an RxNorm code and an adequacy rule", "kb/omop/");
    }
    for (std::int64_t person_idx = 0; person_idx < options_.persons; ++person_idx) {
      if (auto ok = WritePerson(person_idx); !ok) return tl::unexpected(ok.error());
      if (options_.on_progress && (person_idx + 1) % 10000 == 0) options_.on_progress(person_idx + 1);
    }
    if (auto ok = sink_.Finish(); !ok) return tl::unexpected(ok.error());
    return stats_;
  }

 private:
  // ---- vocabulary ----
  ConceptId IdFor(const ConceptEntry& entry) {
    const ConceptId base = entry.expected_id ? *entry.expected_id : kSyntheticBase + next_synthetic_++;
    return options_.drift_concept_ids ? base + kDriftOffset : base;
  }

  ConceptId NewId() { return kSyntheticBase + next_synthetic_++; }

  Result<bool> Concept(ConceptId id, const std::string& name, const char* domain, const std::string& vocabulary, const char* klass,
                       const std::string& code) {
    return sink_.Add(kConcept, {Cell(id), Cell(name), Cell(domain), Cell(vocabulary), Cell(klass), Cell("S"), Cell(code), Cell("1970-01-01"),
                                Cell("2099-12-31"), Null()});
  }

  Result<bool> Ancestor(ConceptId ancestor, ConceptId descendant, int levels) {
    return sink_.Add(kAncestor, {Cell(ancestor), Cell(descendant), Cell(levels), Cell(levels)});
  }

  const ConceptEntry* Entry(const std::string& target, const std::string& vocabulary = "") const {
    for (const ConceptEntry& entry : config_.entries) {
      if (entry.target == target && !entry.exclude && !entry.code.code.empty() && (vocabulary.empty() || entry.code.vocabulary == vocabulary)) {
        return &entry;
      }
    }
    return nullptr;
  }

  Result<bool> WriteVocabulary() {
    std::map<std::string, ConceptId> written;  // "vocabulary|code" -> id
    const auto ensure = [&](const ConceptEntry& entry, const char* domain, const char* klass) -> Result<ConceptId> {
      const std::string key = entry.code.vocabulary + "|" + entry.code.code;
      if (const auto found = written.find(key); found != written.end()) return found->second;
      const ConceptId id = IdFor(entry);
      if (auto ok = Concept(id, entry.name, domain, entry.code.vocabulary, klass, entry.code.code); !ok) return tl::unexpected(ok.error());
      if (auto ok = Ancestor(id, id, 0); !ok) return tl::unexpected(ok.error());
      written[key] = id;
      return id;
    };
    // Units.
    std::map<std::string, ConceptId> units;
    for (const ConceptEntry& entry : config_.entries) {
      if (entry.domain != ConceptDomain::Unit) continue;
      auto id = ensure(entry, "Unit", "Unit");
      if (!id) return tl::unexpected(id.error());
      units[entry.target] = *id;
    }
    const ConceptId mg = units.count("unit.mg") > 0 ? units["unit.mg"] : 0;
    // Ingredients and two products each.
    for (const ConceptEntry& entry : config_.entries) {
      if (entry.domain != ConceptDomain::Drug || entry.code.code.empty()) continue;
      const Drug* drug = kb_.FindDrug(entry.target);
      if (drug == nullptr) continue;
      const bool usable = (drug->counts_as == CountsAs::Antidepressant || drug->counts_as == CountsAs::Augmentation) && drug->adequacy &&
                          drug->components.empty() && drug->dose_expressed_as.empty();
      const bool interventional = drug->id == "drug.esketamine";
      if (!usable && !interventional) continue;
      auto ingredient = ensure(entry, "Drug", "Ingredient");
      if (!ingredient) return tl::unexpected(ingredient.error());
      SynthDrug synth{drug, *ingredient, {}, {}};
      const double standard = interventional ? drug->max_dose_mg_per_day.value_or(1) / 3.0 : drug->adequacy->min_dose_mg_per_day;
      for (Product* product : {&synth.low, &synth.standard}) {
        product->concept_id = NewId();
        product->strength_mg = product == &synth.low ? standard / 2.0 : standard;
        const std::string name = fmt::format("{} {} MG Oral Tablet", drug->inn, FormatNumber(product->strength_mg));
        if (auto ok = Concept(product->concept_id, name, "Drug", "RxNorm", "Clinical Drug", fmt::format("SYN{}", product->concept_id)); !ok) return ok;
        if (auto ok = Ancestor(*ingredient, product->concept_id, 1); !ok) return ok;
        if (auto ok = Ancestor(product->concept_id, product->concept_id, 0); !ok) return ok;
        if (auto ok = sink_.Add(kStrength, {Cell(product->concept_id), Cell(*ingredient), Cell(product->strength_mg), Cell(mg), Null(), Null(), Null(),
                                            Null(), Null(), Cell("1970-01-01"), Cell("2099-12-31"), Null()});
            !ok) {
          return ok;
        }
      }
      if (interventional) {
        vocabulary_.esketamine = synth;
      } else if (drug->counts_as == CountsAs::Antidepressant) {
        vocabulary_.antidepressants.push_back(synth);
      } else {
        vocabulary_.augmenters.push_back(synth);
      }
    }
    // Other KB codes (combination ingredients, conditions, procedures, PHQ-9).
    for (const ConceptEntry& entry : config_.entries) {
      if (entry.code.code.empty() || entry.domain == ConceptDomain::Unit) continue;
      const char* domain = entry.domain == ConceptDomain::Condition   ? "Condition"
                           : entry.domain == ConceptDomain::Procedure ? "Procedure"
                           : entry.domain == ConceptDomain::Measurement ? "Observation"
                                                                        : "Drug";
      const char* klass = entry.domain == ConceptDomain::Drug ? "Ingredient" : "Clinical Finding";
      auto id = ensure(entry, domain, klass);
      if (!id) return tl::unexpected(id.error());
    }
    const auto id_of = [&](const std::string& target, const std::string& code) -> ConceptId {
      for (const ConceptEntry& entry : config_.entries) {
        if (entry.target == target && entry.code.code == code) return written[entry.code.vocabulary + "|" + entry.code.code];
      }
      return 0;
    };
    vocabulary_.depression = id_of("condition.depression", "35489007");
    vocabulary_.mdd = id_of("condition.depression", "370143000");
    vocabulary_.bipolar = id_of("condition.bipolar", "13746004");
    vocabulary_.psychosis = id_of("condition.psychosis", "69322001");
    vocabulary_.dementia = id_of("condition.dementia", "52448006");
    vocabulary_.ect = id_of("procedure.ect", "90870");
    vocabulary_.phq9 = id_of("measurement.phq9_total", "44261-6");
    if (vocabulary_.depression != 0 && vocabulary_.mdd != 0) {
      if (auto ok = Ancestor(vocabulary_.depression, vocabulary_.mdd, 1); !ok) return ok;
    }
    // A site-specific child of MDD, found only through CONCEPT_ANCESTOR.
    vocabulary_.mdd_single = NewId();
    if (auto ok = Concept(vocabulary_.mdd_single, "Major depression, single episode (synthetic child)", "Condition", "SNOMED", "Clinical Finding",
                          fmt::format("SYN{}", vocabulary_.mdd_single));
        !ok) {
      return ok;
    }
    for (const ConceptId ancestor : {vocabulary_.mdd_single, vocabulary_.mdd, vocabulary_.depression}) {
      if (ancestor == 0) continue;
      if (auto ok = Ancestor(ancestor, vocabulary_.mdd_single, ancestor == vocabulary_.mdd_single ? 0 : 1); !ok) return ok;
    }
    // Non-psychiatric drugs and a condition that screening must ignore.
    for (int noise_idx = 0; noise_idx < 12; ++noise_idx) {
      const ConceptId id = NewId();
      if (auto ok = Concept(id, fmt::format("synthetic other drug {} 10 MG Oral Tablet", noise_idx + 1), "Drug", "RxNorm", "Clinical Drug",
                            fmt::format("SYN{}", id));
          !ok) {
        return ok;
      }
      vocabulary_.noise_products.push_back(id);
    }
    vocabulary_.noise_condition = NewId();
    return Concept(vocabulary_.noise_condition, "synthetic other condition", "Condition", "SNOMED", "Clinical Finding",
                   fmt::format("SYN{}", vocabulary_.noise_condition));
  }

  // ---- persons ----
  struct PlannedCourse {
    const SynthDrug* drug = nullptr;
    std::string kind;  // adequate, short, low_dose, poor_adherence
    Date start;
    long days = 0;
    bool ongoing = false;
    std::optional<bool> failed;  // planned verdict of the engine
  };

  struct PersonState {
    std::int64_t person_id = 0;
    std::int64_t row = 0;  // per-person row counter for ids
    std::array<std::int64_t, kDqIssueCount> dq{};
  };

  std::int64_t RowId(PersonState& person) { return person.person_id * 1000 + person.row++; }

  Result<bool> Exposure(PersonState& person, ConceptId concept_id, Date start, std::optional<Date> end, std::optional<double> quantity,
                        std::optional<std::int64_t> days_supply) {
    ++stats_.drug_exposures;
    return sink_.Add(kDrug, {Cell(RowId(person)), Cell(person.person_id), Cell(concept_id), Cell(DateText(start)), end ? Cell(DateText(*end)) : Null(),
                             Cell(kDrugTypeDispensed), Opt(quantity), Opt(days_supply)});
  }

  Result<bool> Condition(PersonState& person, ConceptId concept_id, Date date) {
    ++stats_.conditions;
    return sink_.Add(kCondition, {Cell(RowId(person)), Cell(person.person_id), Cell(concept_id), Cell(DateText(date)), Cell(kEhrType)});
  }

  Result<bool> Score(PersonState& person, Date date, double value, bool in_observation) {
    ++stats_.scores;
    return sink_.Add(in_observation ? kObservation : kMeasurement,
                     {Cell(RowId(person)), Cell(person.person_id), Cell(vocabulary_.phq9), Cell(DateText(date)), Cell(kEhrType), Cell(value)});
  }

  // Fills of a course: 30-day fills back to back (or every 50 days for poor adherence), the last one
  // cut to the course's length; an ongoing course gets a last fill reaching past the extract date.
  Result<bool> WriteCourse(PersonState& person, const PlannedCourse& course, bool implausible_duplicate) {
    const Product& product = course.kind == "low_dose" ? course.drug->low : course.drug->standard;
    const long step = course.kind == "poor_adherence" ? 50 : 30;
    int fill_idx = 0;
    for (long offset = 0; offset < course.days; offset += step, ++fill_idx) {
      const long supply = std::min<long>(30, course.days - offset);
      const Date start = AddDays(course.start, offset);
      if (auto ok = Exposure(person, product.concept_id, start, AddDays(start, supply - 1), static_cast<double>(supply), supply); !ok) return ok;
      if (implausible_duplicate && fill_idx == 1) {
        if (auto ok = Exposure(person, product.concept_id, start, AddDays(start, supply - 1), static_cast<double>(supply) * 1000.0, supply); !ok) return ok;
        ++person.dq[static_cast<std::size_t>(DqIssue::ImplausibleDose)];
      }
    }
    return true;
  }

  Result<bool> WritePerson(std::int64_t person_idx) {
    Rng rng(options_.seed * 0x100000001b3ULL + static_cast<std::uint64_t>(person_idx) * 0x9e3779b97f4a7c15ULL + 7);
    PersonState person;
    person.person_id = person_idx * 3 + 1;  // sparse ids, as in real CDMs
    ++stats_.persons;
    const Date extract = *ParseDate("2025-12-31");
    const Date obs_start = AddDays(*ParseDate("2012-01-01"), rng.Between(0, 1500));
    const int year_of_birth = static_cast<int>(rng.Between(1940, 2004));
    if (auto ok = sink_.Add(kPerson, {Cell(person.person_id), Cell(rng.Chance(60) ? 8532 : 8507), Cell(year_of_birth), Null(), Null(), Cell(0), Cell(0)});
        !ok) {
      return ok;
    }
    if (auto ok = sink_.Add(kPeriod, {Cell(person.person_id), Cell(person.person_id), Cell(DateText(obs_start)), Cell(DateText(extract)), Cell(kEhrType)});
        !ok) {
      return ok;
    }
    const auto& rules = config_.rules;
    const int roll = static_cast<int>(rng.Between(0, 99));
    std::string scenario = roll < 35 ? "no_depression" : roll < 40 ? "bipolar" : "depression";
    std::string status = "does_not_meet";
    int failed_count = 0;

    // Non-psychiatric chronic medication: monthly fills.
    const long noise_series = rng.Between(0, 3);
    for (long series_idx = 0; series_idx < noise_series; ++series_idx) {
      const ConceptId product = vocabulary_.noise_products[static_cast<std::size_t>(rng.Between(0, static_cast<long>(vocabulary_.noise_products.size()) - 1))];
      Date start = AddDays(obs_start, rng.Between(0, 2000));
      const long fills = rng.Between(3, 30);
      for (long fill_idx = 0; fill_idx < fills && !(extract < start); ++fill_idx) {
        if (auto ok = Exposure(person, product, start, AddDays(start, 29), 30.0, 30); !ok) return ok;
        start = AddDays(start, 30);
      }
    }
    if (rng.Chance(20)) {
      if (auto ok = Condition(person, vocabulary_.noise_condition, AddDays(obs_start, rng.Between(0, 3000))); !ok) return ok;
    }

    if (scenario != "no_depression") {
      auto planned = PlanCourses(rng, extract, obs_start, person, scenario);
      if (!planned) return tl::unexpected(planned.error());
      failed_count = planned->first;
      status = scenario == "bipolar" ? "not_applicable" : planned->second;
      if (scenario == "bipolar") {
        if (auto ok = Condition(person, vocabulary_.bipolar, AddDays(extract, -rng.Between(10, 1500))); !ok) return ok;
      }
      scenario = planned_scenario_;
    }

    // Data-quality problems on non-psychiatric rows (the ground truth counts them).
    const ConceptId noise = vocabulary_.noise_products.front();
    const Date when = AddDays(obs_start, rng.Between(0, 1000));
    const auto dq = [&](DqIssue issue) { ++person.dq[static_cast<std::size_t>(issue)]; };
    if (rng.Chance(3)) {
      if (auto ok = Exposure(person, noise, when, AddDays(when, 29), 30.0, -30); !ok) return ok;
      dq(DqIssue::NegativeDaysSupply);
    }
    if (rng.Chance(2)) {
      if (auto ok = Exposure(person, noise, when, std::nullopt, 30.0, 30); !ok) return ok;
      dq(DqIssue::EndDateMissing);
    }
    if (rng.Chance(2)) {
      if (auto ok = Exposure(person, 0, when, AddDays(when, 29), 30.0, 30); !ok) return ok;
      dq(DqIssue::UnmappedDrugConcept);
    }
    if (rng.Chance(1)) {
      if (auto ok = Exposure(person, kUnknownConcept, when, AddDays(when, 29), 30.0, 30); !ok) return ok;
      dq(DqIssue::UnknownDrugConcept);
    }
    if (rng.Chance(1)) {
      if (auto ok = Exposure(person, noise, when, AddDays(when, -5), 30.0, 30); !ok) return ok;
      dq(DqIssue::EndBeforeStart);
    }
    if (rng.Chance(1)) {
      const long supply = rules.max_days_supply + 35;
      if (auto ok = Exposure(person, noise, when, AddDays(when, supply - 1), static_cast<double>(supply), supply); !ok) return ok;
      dq(DqIssue::DaysSupplyOver365);
    }
    std::string quality;
    for (std::size_t issue_idx = 0; issue_idx < kDqIssueCount; ++issue_idx) {
      if (person.dq[issue_idx] == 0) continue;
      quality += fmt::format("{}{}={}", quality.empty() ? "" : ";", DqIssueName(static_cast<DqIssue>(issue_idx)), person.dq[issue_idx]);
    }
    return sink_.Add(kTruth, {Cell(person.person_id), Cell(scenario), Cell(status), Cell(failed_count), Cell(quality)});
  }

  // Plans and writes the depression history; returns (failed adequate trials, TRD status).
  Result<std::pair<int, std::string>> PlanCourses(Rng& rng, Date extract, Date obs_start, PersonState& person, const std::string& scenario) {
    const auto& rules = config_.rules;
    const Criteria* criteria = kb_.FindCriteria(kb_.default_criteria());
    const long min_days = criteria != nullptr ? criteria->min_duration_days : 42;
    const long window = rules.switch_window_days;
    // Durations keep clear of the thresholds: adequate courses reach min_days + 2 weeks, short
    // ones end well before min_days and before the switch window.
    const long adequate_min = std::max(min_days, window) + 14;
    const long short_max = std::min(min_days, window) - 3;
    const long course_count = std::min<long>(static_cast<long>(vocabulary_.antidepressants.size()) - 2,
                                             rng.Chance(30) ? 1 : rng.Chance(43) ? 2 : rng.Chance(60) ? 3 : 4);
    // Distinct drugs, in random order.
    std::vector<const SynthDrug*> pool;
    for (const SynthDrug& drug : vocabulary_.antidepressants) pool.push_back(&drug);
    for (std::size_t idx = pool.size(); idx > 1; --idx) std::swap(pool[idx - 1], pool[static_cast<std::size_t>(rng.Between(0, static_cast<long>(idx) - 1))]);

    std::vector<PlannedCourse> courses;
    const bool last_ongoing = rng.Chance(40);
    for (long course_idx = 0; course_idx < course_count; ++course_idx) {
      PlannedCourse course;
      course.drug = pool[static_cast<std::size_t>(course_idx)];
      const bool last = course_idx + 1 == course_count;
      const int kind_roll = static_cast<int>(rng.Between(0, 99));
      course.kind = kind_roll < 60 ? "adequate" : kind_roll < 75 ? "short" : kind_roll < 90 ? "low_dose" : "poor_adherence";
      if (last && last_ongoing && course.kind != "short") course.kind = "adequate";
      course.days = course.kind == "short" ? rng.Between(10, short_max) : rng.Between(adequate_min, adequate_min + 120);
      if (course.kind == "poor_adherence") course.days = rng.Between(3, 4) * 50 - 20;  // fills at 0, 50, 100(, 150), 30 days each
      courses.push_back(course);
    }
    // Layout: back to back with gaps of 1-10 days, ending either at the extract date (ongoing last
    // course) or well before it.
    long total = 0;
    std::vector<long> gaps;
    for (std::size_t idx = 0; idx < courses.size(); ++idx) {
      gaps.push_back(idx == 0 ? 0 : rng.Between(1, 10));
      total += gaps.back() + courses[idx].days;
    }
    const long tail = last_ongoing ? 0 : rng.Between(60, 500);
    Date episode = AddDays(extract, -(total + tail + rng.Between(5, 20)));
    if (episode < AddDays(obs_start, 1100)) episode = AddDays(obs_start, 1100);
    Date cursor = AddDays(episode, rng.Between(0, 14));
    for (std::size_t idx = 0; idx < courses.size(); ++idx) {
      cursor = AddDays(cursor, gaps[idx]);
      courses[idx].start = cursor;
      cursor = AddDays(cursor, courses[idx].days);
    }
    if (last_ongoing) {
      // Stretch the last course past the extract date; its last fill starts on or before it.
      PlannedCourse& last = courses.back();
      last.ongoing = true;
      last.days = (DaysBetween(last.start, extract) / 30 + 1) * 30;
    }
    planned_scenario_ = scenario;
    // What follows each course: an augmenting agent (while it runs), the next course, ECT or esketamine.
    const bool augment = !vocabulary_.augmenters.empty() && courses.size() > 1 && rng.Chance(20);
    const bool ect = !last_ongoing && rng.Chance(5) && vocabulary_.ect != 0;
    const bool esketamine = !last_ongoing && !ect && rng.Chance(4) && vocabulary_.esketamine;
    const bool phq9 = !last_ongoing && !ect && !esketamine && vocabulary_.phq9 != 0 && rng.Chance(25);
    const bool phq9_response = phq9 && rng.Chance(50);

    if (auto ok = Condition(person, rng.Chance(50) ? vocabulary_.mdd_single : vocabulary_.mdd, episode); !ok) return tl::unexpected(ok.error());
    // A previous episode, long before, with two adequate courses: never counted.
    if (rng.Chance(15)) {
      const Date previous = AddDays(episode, -(2 * rules.episode_treatment_free_days + 600));
      if (!(previous < obs_start)) {
        if (auto ok = Condition(person, vocabulary_.depression, previous); !ok) return tl::unexpected(ok.error());
        PlannedCourse first{pool[pool.size() - 1], "adequate", AddDays(previous, 3), adequate_min + 20, false, std::nullopt};
        PlannedCourse second{pool[pool.size() - 2], "adequate", AddDays(first.start, first.days + 2), adequate_min, false, std::nullopt};
        for (const PlannedCourse* course : {&first, &second}) {
          if (auto ok = WriteCourse(person, *course, false); !ok) return tl::unexpected(ok.error());
        }
        planned_scenario_ += "+previous_episode";
      }
    }
    int failed = 0;
    int undecided = 0;
    const bool implausible = rng.Chance(2);
    bool implausible_written = false;
    for (std::size_t idx = 0; idx < courses.size(); ++idx) {
      PlannedCourse& course = courses[idx];
      const bool last = idx + 1 == courses.size();
      const bool followed = !last || ect || esketamine;
      const bool adequate = course.kind == "adequate";
      if (course.ongoing) {
        course.failed = std::nullopt;  // adequate or still in progress: outcome unknown
      } else if (!adequate) {
        course.failed = false;
      } else if (last && phq9) {
        course.failed = !phq9_response;
      } else {
        course.failed = followed ? std::optional<bool>(true) : std::nullopt;
      }
      const bool duplicate = implausible && !implausible_written && course.days > 70 && course.kind != "poor_adherence";
      implausible_written = implausible_written || duplicate;
      if (auto ok = WriteCourse(person, course, duplicate); !ok) return tl::unexpected(ok.error());
      if (course.failed && *course.failed) ++failed;
      if (!course.failed) ++undecided;
      // Repeat diagnoses during the episode.
      if (rng.Chance(50)) {
        if (auto ok = Condition(person, vocabulary_.mdd, AddDays(course.start, rng.Between(0, std::min<long>(course.days, 300) - 1))); !ok) {
          return tl::unexpected(ok.error());
        }
      }
      if (augment && idx == 0 && adequate) {
        // Augment from day window+15 to the end: the antidepressant continues, so it failed as an addition.
        const SynthDrug& agent = vocabulary_.augmenters[static_cast<std::size_t>(rng.Between(0, static_cast<long>(vocabulary_.augmenters.size()) - 1))];
        const long from = window + 15;
        if (course.days >= from + rules.combination_min_overlap_days + 10) {
          PlannedCourse added{&agent, "adequate", AddDays(course.start, from), course.days - from, false, std::nullopt};
          if (auto ok = WriteCourse(person, added, false); !ok) return tl::unexpected(ok.error());
          planned_scenario_ += "+augmented";
        }
      }
    }
    const PlannedCourse& last = courses.back();
    const Date after_last = AddDays(last.start, last.days + rng.Between(3, 15));
    if (ect) {
      for (int session_idx = 0; session_idx < 10; ++session_idx) {
        ++stats_.procedures;
        if (auto ok = sink_.Add(kProcedure, {Cell(RowId(person)), Cell(person.person_id), Cell(vocabulary_.ect),
                                             Cell(DateText(AddDays(after_last, session_idx * 3))), Cell(kEhrType)});
            !ok) {
          return tl::unexpected(ok.error());
        }
      }
      planned_scenario_ += "+ect";
    }
    if (esketamine) {
      for (int session_idx = 0; session_idx < 8; ++session_idx) {
        const Date day = AddDays(after_last, session_idx * 3 + session_idx / 2);
        if (auto ok = Exposure(person, vocabulary_.esketamine->standard.concept_id, day, day, 2.0, 1); !ok) return tl::unexpected(ok.error());
      }
      planned_scenario_ += "+esketamine";
    }
    if (phq9) {
      // Baseline just before the last course and a follow-up after the switch window; the earlier
      // courses get no baseline, so their outcome still comes from the treatment change.
      const bool in_observation = rng.Chance(50);
      const double baseline = static_cast<double>(rng.Between(15, 24));
      const double followup = phq9_response ? std::floor(baseline * 0.3) : std::floor(baseline * 0.85);
      if (auto ok = Score(person, AddDays(last.start, -3), baseline, in_observation); !ok) return tl::unexpected(ok.error());
      if (auto ok = Score(person, AddDays(last.start, rules.phq9_followup_min_days + 14), followup, !in_observation); !ok) return tl::unexpected(ok.error());
      planned_scenario_ += phq9_response ? "+phq9_response" : "+phq9_nonresponse";
    }
    if (scenario == "depression" && rng.Chance(3)) {
      if (auto ok = Condition(person, vocabulary_.psychosis, AddDays(episode, 30)); !ok) return tl::unexpected(ok.error());
    }
    const int required = kb_.trd_definition().min_failed_trials;
    const std::string status = failed >= required ? "meets" : failed + undecided >= required ? "indeterminate" : "does_not_meet";
    return std::make_pair(failed, status);
  }

  const KnowledgeBase& kb_;
  const OmopConfig& config_;
  const SynthOptions& options_;
  Sink& sink_;
  Vocabulary vocabulary_;
  ConceptId next_synthetic_ = 0;
  SynthStats stats_;
  std::string planned_scenario_;
};

}  // namespace

Result<SynthStats> WriteSyntheticCdm(const KnowledgeBase& kb, const OmopConfig& config, const SynthOptions& options, const std::string& out) {
  std::string target = out;
  if (target.rfind("sqlite:", 0) == 0) target = target.substr(7);
  bool sqlite = out.rfind("sqlite:", 0) == 0;
  for (const char* suffix : {".sqlite", ".sqlite3", ".db"}) {
    const std::string ending(suffix);
    if (target.size() > ending.size() && target.compare(target.size() - ending.size(), ending.size(), ending) == 0) sqlite = true;
  }
  if (sqlite) {
    // Build under a temporary name and rename: a reader never sees half a database.
    const std::string temporary = target + ".partial";
    Result<SynthStats> stats;
    {
      SqliteSink sink;
      if (auto ok = sink.Open(temporary); !ok) return tl::unexpected(ok.error());
      stats = Generator(kb, config, options, sink).Run();
    }
    if (!stats) return stats;
    std::error_code error;
    std::filesystem::rename(temporary, target, error);
    if (error) return Fail(ErrorCode::Io, fmt::format("cannot rename {}: {}", temporary, error.message()), target);
    return stats;
  }
  CsvSink sink;
  if (auto ok = sink.Open(target); !ok) return tl::unexpected(ok.error());
  return Generator(kb, config, options, sink).Run();
}

}  // namespace refract::omop
