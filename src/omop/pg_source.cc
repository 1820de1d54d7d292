// SPDX-License-Identifier: Apache-2.0
// OMOP CDM in PostgreSQL (libpqxx): prepared statements only, one connection per reader. libpqxx
// exceptions are caught here and returned as ErrorCode::Storage.
#include <pqxx/pqxx>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "internal.h"

namespace refract::omop::internal {
namespace {

// The URL without its password, for messages.
std::string Redacted(const std::string& url) {
  const auto scheme = url.find("://");
  const auto at = url.find('@');
  if (scheme == std::string::npos || at == std::string::npos) return url;
  const auto colon = url.find(':', scheme + 3);
  if (colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon) + ":***" + url.substr(at);
}

Error StorageError(const std::exception& error, const std::string& url) {
  std::string message = error.what();
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  return Error{ErrorCode::Storage, fmt::format("PostgreSQL: {}", message), Redacted(url)};
}

std::string IdArray(const std::vector<ConceptId>& ids) {
  std::string out = "{";
  for (std::size_t idx = 0; idx < ids.size(); ++idx) out += (idx == 0 ? "" : ",") + std::to_string(ids[idx]);
  return out + "}";
}

std::optional<Date> DateField(const pqxx::field& field) {
  if (field.is_null()) return std::nullopt;
  return ParseCdmDate(field.c_str());
}

std::optional<double> DoubleField(const pqxx::field& field) {
  if (field.is_null()) return std::nullopt;
  return field.as<double>();
}

std::optional<std::int64_t> IntField(const pqxx::field& field) {
  if (field.is_null()) return std::nullopt;
  return field.as<std::int64_t>();
}

std::unique_ptr<pqxx::connection> Connect(const std::string& url) {
  auto connection = std::make_unique<pqxx::connection>(url);
  pqxx::nontransaction setup(*connection);
  setup.exec("SET DateStyle = ISO");
  setup.commit();
  return connection;
}

bool HasTable(pqxx::connection& connection, const std::string& table) {
  pqxx::nontransaction txn(connection);
  const auto result = txn.exec_params("SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = $1", table);
  return !result.empty();
}

class PgReader final : public PersonReader {
 public:
  PgReader(std::string url, ReadFilter filter) : url_(std::move(url)), filter_(std::move(filter)) {}

  Result<bool> Init() {
    try {
      connection_ = Connect(url_);
      has_measurement_ = HasTable(*connection_, "measurement");
      has_observation_ = HasTable(*connection_, "observation");
      const std::string range = "person_id BETWEEN $1 AND $2";
      connection_->prepare("person", "SELECT person_id, year_of_birth FROM person WHERE " + range + " ORDER BY person_id");
      connection_->prepare("period", "SELECT person_id, observation_period_start_date, observation_period_end_date FROM observation_period WHERE " + range +
                                         " ORDER BY person_id");
      connection_->prepare("drug", "SELECT person_id, drug_exposure_id, drug_concept_id, drug_exposure_start_date, drug_exposure_end_date, quantity, "
                                       "days_supply FROM drug_exposure WHERE " + range + " ORDER BY person_id");
      connection_->prepare("condition", "SELECT person_id, condition_concept_id, condition_start_date FROM condition_occurrence WHERE " + range +
                                            " AND condition_concept_id = ANY($3::bigint[]) ORDER BY person_id");
      connection_->prepare("procedure", "SELECT person_id, procedure_concept_id, procedure_date FROM procedure_occurrence WHERE " + range +
                                            " AND procedure_concept_id = ANY($3::bigint[]) ORDER BY person_id");
      if (has_measurement_) {
        connection_->prepare("measurement", "SELECT person_id, measurement_concept_id, measurement_date, value_as_number FROM measurement WHERE " +
                                                range + " AND measurement_concept_id = ANY($3::bigint[]) ORDER BY person_id");
      }
      if (has_observation_) {
        connection_->prepare("observation", "SELECT person_id, observation_concept_id, observation_date, value_as_number FROM observation WHERE " +
                                                range + " AND observation_concept_id = ANY($3::bigint[]) ORDER BY person_id");
      }
    } catch (const std::exception& error) {
      return tl::unexpected(StorageError(error, url_));
    }
    return true;
  }

  Result<std::vector<PersonRows>> Read(std::int64_t first_id, std::int64_t last_id) override {
    std::vector<PersonRows> persons;
    try {
      pqxx::read_transaction txn(*connection_);
      for (const auto& row : txn.exec_prepared("person", first_id, last_id)) {
        PersonRows person;
        person.person_id = row[0].as<std::int64_t>();
        if (const auto year = IntField(row[1])) person.year_of_birth = static_cast<int>(*year);
        persons.push_back(std::move(person));
      }
      std::size_t cursor = 0;
      const auto for_person = [&](std::int64_t id) -> PersonRows* {
        while (cursor < persons.size() && persons[cursor].person_id < id) ++cursor;
        return cursor < persons.size() && persons[cursor].person_id == id ? &persons[cursor] : nullptr;
      };
      for (const auto& row : txn.exec_prepared("period", first_id, last_id)) {
        PersonRows* person = for_person(row[0].as<std::int64_t>());
        const auto start = DateField(row[1]);
        const auto end = DateField(row[2]);
        if (person != nullptr && start && end) person->observation_periods.push_back(ObservationPeriodRow{*start, *end});
      }
      cursor = 0;
      for (const auto& row : txn.exec_prepared("drug", first_id, last_id)) {
        PersonRows* person = for_person(row[0].as<std::int64_t>());
        const auto start = DateField(row[3]);
        if (person == nullptr || !start) continue;
        DrugExposureRow exposure;
        exposure.drug_exposure_id = row[1].as<std::int64_t>();
        exposure.drug_concept_id = row[2].is_null() ? 0 : row[2].as<std::int64_t>();
        exposure.start = *start;
        exposure.end = DateField(row[4]);
        exposure.quantity = DoubleField(row[5]);
        exposure.days_supply = IntField(row[6]);
        person->drug_exposures.push_back(exposure);
      }
      if (!filter_.condition_ids.empty()) {
        cursor = 0;
        for (const auto& row : txn.exec_prepared("condition", first_id, last_id, IdArray(filter_.condition_ids))) {
          PersonRows* person = for_person(row[0].as<std::int64_t>());
          const auto start = DateField(row[2]);
          if (person != nullptr && start) person->conditions.push_back(ConditionRow{row[1].as<std::int64_t>(), *start});
        }
      }
      if (!filter_.procedure_ids.empty()) {
        cursor = 0;
        for (const auto& row : txn.exec_prepared("procedure", first_id, last_id, IdArray(filter_.procedure_ids))) {
          PersonRows* person = for_person(row[0].as<std::int64_t>());
          const auto date = DateField(row[2]);
          if (person != nullptr && date) person->procedures.push_back(ProcedureRow{row[1].as<std::int64_t>(), *date});
        }
      }
      for (const auto& [name, present] : {std::pair<const char*, bool>{"measurement", has_measurement_}, {"observation", has_observation_}}) {
        if (!present || filter_.score_ids.empty()) continue;
        cursor = 0;
        for (const auto& row : txn.exec_prepared(name, first_id, last_id, IdArray(filter_.score_ids))) {
          PersonRows* person = for_person(row[0].as<std::int64_t>());
          const auto date = DateField(row[2]);
          if (person != nullptr && date) person->scores.push_back(ScoreRow{row[1].as<std::int64_t>(), *date, DoubleField(row[3])});
        }
      }
      txn.commit();
    } catch (const std::exception& error) {
      return tl::unexpected(StorageError(error, url_));
    }
    return persons;
  }

 private:
  std::string url_;
  ReadFilter filter_;
  std::unique_ptr<pqxx::connection> connection_;
  bool has_measurement_ = false;
  bool has_observation_ = false;
};

class PgSource final : public Source {
 public:
  explicit PgSource(std::string url) : url_(std::move(url)) {}

  Result<bool> Init() {
    try {
      connection_ = Connect(url_);
      for (const char* table : {"person", "drug_exposure", "concept"}) {
        if (!HasTable(*connection_, table)) {
          return Fail(ErrorCode::Storage, fmt::format("not an OMOP CDM database: table {} is missing", table), Redacted(url_));
        }
      }
    } catch (const std::exception& error) {
      return tl::unexpected(StorageError(error, url_));
    }
    return true;
  }

  std::string_view Kind() const override { return "postgresql"; }

  Result<std::vector<ConceptRow>> LookupConcepts(const ConceptLookups& lookups) override {
    std::vector<ConceptRow> out;
    try {
      const std::string columns =
          "SELECT concept_id, vocabulary_id, concept_code, concept_name, coalesce(concept_class_id, ''), coalesce(invalid_reason, '') FROM concept WHERE ";
      connection_->prepare("concept_by_code", columns + "vocabulary_id = $1 AND concept_code = $2");
      connection_->prepare("concept_by_id", columns + "concept_id = $1");
      pqxx::read_transaction txn(*connection_);
      const auto collect = [&](const pqxx::result& result) {
        for (const auto& row : result) {
          out.push_back(ConceptRow{row[0].as<std::int64_t>(), row[1].c_str(), row[2].c_str(), row[3].is_null() ? "" : row[3].c_str(), row[4].c_str(),
                                   row[5].c_str()});
        }
      };
      for (const ConceptCode& code : lookups.codes) collect(txn.exec_prepared("concept_by_code", code.vocabulary, code.code));
      for (const ConceptId id : lookups.ids) collect(txn.exec_prepared("concept_by_id", id));
      txn.commit();
    } catch (const std::exception& error) {
      return tl::unexpected(StorageError(error, url_));
    }
    return out;
  }

  Result<std::vector<DescendantRow>> Descendants(std::span<const ConceptId> ancestors) override {
    std::vector<DescendantRow> out;
    try {
      std::vector<std::string> queries;
      if (HasTable(*connection_, "concept_ancestor")) queries.push_back("SELECT descendant_concept_id FROM concept_ancestor WHERE ancestor_concept_id = $1");
      if (HasTable(*connection_, "concept_relationship")) {
        queries.push_back("SELECT concept_id_1 FROM concept_relationship WHERE concept_id_2 = $1 AND relationship_id IN ('RxNorm has ing', "
                          "'Has ingredient') AND invalid_reason IS NULL");
      }
      if (HasTable(*connection_, "drug_strength")) queries.push_back("SELECT drug_concept_id FROM drug_strength WHERE ingredient_concept_id = $1");
      for (std::size_t query_idx = 0; query_idx < queries.size(); ++query_idx) {
        const std::string name = fmt::format("descendants_{}", query_idx);
        connection_->prepare(name, queries[query_idx]);
        pqxx::read_transaction txn(*connection_);
        for (const ConceptId ancestor : ancestors) {
          for (const auto& row : txn.exec_prepared(name, ancestor)) out.push_back(DescendantRow{ancestor, row[0].as<std::int64_t>()});
        }
        txn.commit();
      }
    } catch (const std::exception& error) {
      return tl::unexpected(StorageError(error, url_));
    }
    return out;
  }

  Result<std::vector<StrengthRow>> Strengths(std::span<const ConceptId> ingredients) override {
    std::vector<StrengthRow> out;
    try {
      if (!HasTable(*connection_, "drug_strength")) return out;
      connection_->prepare("strengths",
                           "SELECT drug_concept_id, ingredient_concept_id, amount_value, coalesce(amount_unit_concept_id, 0), numerator_value, "
                           "coalesce(numerator_unit_concept_id, 0), denominator_value, coalesce(denominator_unit_concept_id, 0) FROM drug_strength "
                           "WHERE ingredient_concept_id = $1");
      pqxx::read_transaction txn(*connection_);
      for (const ConceptId ingredient : ingredients) {
        for (const auto& row : txn.exec_prepared("strengths", ingredient)) {
          out.push_back(StrengthRow{row[0].as<std::int64_t>(), row[1].as<std::int64_t>(), DoubleField(row[2]), row[3].as<std::int64_t>(),
                                    DoubleField(row[4]), row[5].as<std::int64_t>(), DoubleField(row[6]), row[7].as<std::int64_t>()});
        }
      }
      txn.commit();
    } catch (const std::exception& error) {
      return tl::unexpected(StorageError(error, url_));
    }
    return out;
  }

  Result<std::vector<ConceptId>> KnownConcepts() override { return Column("known_concepts", "SELECT concept_id FROM concept ORDER BY concept_id"); }

  Result<std::vector<std::int64_t>> PersonIds() override { return Column("person_ids", "SELECT person_id FROM person ORDER BY person_id"); }

  Result<std::unique_ptr<PersonReader>> OpenReader(const ReadFilter& filter) override {
    auto reader = std::make_unique<PgReader>(url_, filter);
    if (auto ok = reader->Init(); !ok) return tl::unexpected(ok.error());
    return std::unique_ptr<PersonReader>(std::move(reader));
  }

 private:
  Result<std::vector<std::int64_t>> Column(const std::string& name, const std::string& sql) {
    std::vector<std::int64_t> out;
    try {
      connection_->prepare(name, sql);
      pqxx::read_transaction txn(*connection_);
      const auto result = txn.exec_prepared(name);
      out.reserve(result.size());
      for (const auto& row : result) out.push_back(row[0].as<std::int64_t>());
      txn.commit();
    } catch (const std::exception& error) {
      return tl::unexpected(StorageError(error, url_));
    }
    return out;
  }

  std::string url_;
  std::unique_ptr<pqxx::connection> connection_;
};

}  // namespace

Result<std::unique_ptr<Source>> OpenPostgres(const std::string& url) {
  auto source = std::make_unique<PgSource>(url);
  if (auto ok = source->Init(); !ok) return tl::unexpected(ok.error());
  return std::unique_ptr<Source>(std::move(source));
}

}  // namespace refract::omop::internal
