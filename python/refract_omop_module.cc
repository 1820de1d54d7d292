// SPDX-License-Identifier: Apache-2.0
// Python module `refract_omop`: the per-person OMOP engine (the same Reconstruct + Evaluate as
// `refract screen`) for distributed runners (Dask, Spark mapInPandas).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <string>
#include <vector>

#include "refract/app/app.h"
#include "refract/core/omop.h"
#include "refract/omop/source.h"

namespace py = pybind11;
using namespace refract;

namespace {

[[noreturn]] void Raise(const Error& error) {
  throw std::runtime_error(error.location.empty() ? error.message : error.location + ": " + error.message);
}

// One engine: a KB, its OMOP configuration and the concept index resolved against a source.
class Engine {
 public:
  Engine(const std::string& omop_url, const std::string& kb_dir, const std::string& as_of, const std::string& criteria) {
    auto kb = app::LoadKb(kb_dir.empty() ? std::nullopt : std::optional<std::filesystem::path>(kb_dir));
    if (!kb) Raise(kb.error());
    kb_ = std::make_unique<KnowledgeBase>(std::move(*kb));
    auto config = omop::LoadOmopConfig(*kb_);
    if (!config) Raise(config.error());
    config_ = std::move(*config);
    source_url_ = omop_url;
    auto source = omop::OpenSource(omop_url);
    if (!source) Raise(source.error());
    auto index = omop::PrepareIndex(**source, *kb_, config_);
    if (!index) Raise(index.error());
    index_ = std::move(*index);
    if (!as_of.empty()) {
      const auto date = ParseDate(as_of);
      if (!date) throw std::invalid_argument("as_of must be YYYY-MM-DD");
      options_.as_of = *date;
    }
    options_.criteria_id = criteria;
  }

  std::vector<std::int64_t> PersonIds() {
    auto source = omop::OpenSource(source_url_);
    if (!source) Raise(source.error());
    auto ids = (*source)->PersonIds();
    if (!ids) Raise(ids.error());
    return *ids;
  }

  // Screens the persons with first_id <= person_id <= last_id; returns (CSV lines, summary dict).
  py::tuple ScreenRange(std::int64_t first_id, std::int64_t last_id) {
    std::string text;
    omop::ScreenSummary summary;
    {
      py::gil_scoped_release release;
      if (!reader_) {
        auto source = omop::OpenSource(source_url_);
        if (!source) Raise(source.error());
        source_ = std::move(*source);
        auto reader = source_->OpenReader(omop::FilterFor(index_));
        if (!reader) Raise(reader.error());
        reader_ = std::move(*reader);
      }
      auto persons = reader_->Read(first_id, last_id);
      if (!persons) Raise(persons.error());
      for (const omop::PersonRows& person : *persons) {
        auto result = omop::ScreenPerson(*kb_, config_, index_, person, options_);
        if (!result) Raise(result.error());
        summary.Add(*result, person.drug_exposures.size());
        text += omop::ResultCsvRow(*result);
      }
    }
    return py::make_tuple(text, SummaryDict(summary));
  }

  static py::dict SummaryDict(const omop::ScreenSummary& summary) {
    py::dict out;
    out["persons"] = summary.persons;
    out["drug_exposure_rows"] = summary.drug_exposure_rows;
    py::dict status;
    for (const TrdStatus value : {TrdStatus::Meets, TrdStatus::DoesNotMeet, TrdStatus::Indeterminate, TrdStatus::NotApplicable}) {
      status[py::str(std::string(TrdStatusName(value)))] = summary.by_status[static_cast<std::size_t>(value)];
    }
    out["trd_status"] = status;
    py::dict quality;
    for (std::size_t issue_idx = 0; issue_idx < omop::kDqIssueCount; ++issue_idx) {
      quality[py::str(std::string(omop::DqIssueName(static_cast<omop::DqIssue>(issue_idx))))] = summary.data_quality.counts[issue_idx];
    }
    out["data_quality"] = quality;
    return out;
  }

 private:
  std::unique_ptr<KnowledgeBase> kb_;
  omop::OmopConfig config_;
  omop::ConceptIndex index_;
  omop::ScreenOptions options_;
  std::string source_url_;
  std::unique_ptr<omop::Source> source_;
  std::unique_ptr<omop::PersonReader> reader_;
};

}  // namespace

PYBIND11_MODULE(refract_omop, module) {
  module.doc() = "refract's per-person OMOP screening engine (TRD status and staging from OMOP CDM rows)";
  module.attr("CSV_HEADER") = std::string(omop::ResultCsvHeader());
  module.attr("ENGINE_VERSION") = std::string(app::Engine().version);
  py::class_<Engine>(module, "Engine")
      .def(py::init<const std::string&, const std::string&, const std::string&, const std::string&>(), py::arg("omop"), py::arg("kb_dir") = "",
           py::arg("as_of") = "", py::arg("criteria") = "",
           "Loads the KB (built-in unless kb_dir), resolves its OMOP concepts against the source's CONCEPT table.")
      .def("person_ids", &Engine::PersonIds, "Every person_id of PERSON, ascending.")
      .def("screen_range", &Engine::ScreenRange, py::arg("first_id"), py::arg("last_id"),
           "Screens persons with first_id <= person_id <= last_id: (CSV lines without header, summary dict).");
}
