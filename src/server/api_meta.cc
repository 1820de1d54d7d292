// SPDX-License-Identifier: Apache-2.0
// Routes about the server and the KB: health, the OpenAPI document, drugs, scales, criteria.
#include <fmt/format.h>

#include "internal.h"
#include "refract/app/app.h"
#include "refract/core/scales.h"

namespace refract::server {
namespace detail {
/// src/server/openapi.json, built into the binary.
const std::vector<std::pair<std::string_view, std::string_view>>& OpenApiFiles();
}  // namespace detail


void ServerImpl::AddMetaRoutes() {
  Add("GET", "/api/v1/health", Access::Public, [this](RequestContext& /*context*/) -> Outcome {
    auto version = store_.SchemaVersion();
    if (!version) return tl::unexpected(FromError(version.error()));
    return Json({{"status", "ok"},
                 {"engine", app::Engine().version},
                 {"kb_version", kb_.version()},
                 {"kb_digest", kb_.digest()},
                 {"database", std::string(store_.Dialect())},
                 {"schema_version", *version},
                 {"setup_required", !SetupToken().empty()}});
  });

  Add("GET", "/api/v1/openapi.json", Access::Public, [](RequestContext& /*context*/) -> Outcome {
    const auto& files = detail::OpenApiFiles();
    if (files.empty()) return HttpFail(500, "internal", "the OpenAPI document was not built in");
    Reply reply;
    reply.content_type = "application/json";
    reply.text = std::string(files.front().second);
    return reply;
  });

  Add("GET", "/api/v1/kb", Access::AnyUser, [this](RequestContext& /*context*/) -> Outcome {
    nlohmann::json criteria = nlohmann::json::array();
    for (const Criteria& entry : kb_.criteria()) criteria.push_back({{"id", entry.id}, {"name", entry.name}, {"description", entry.description}});
    return Json({{"kb_version", kb_.version()},
                 {"kb_digest", kb_.digest()},
                 {"engine", app::Engine().version},
                 {"default_criteria", kb_.default_criteria()},
                 {"criteria", criteria},
                 {"interactions_available", interactions_.has_value()}});
  });

  Add("GET", "/api/v1/drugs", Access::AnyUser, [this](RequestContext& /*context*/) -> Outcome {
    nlohmann::json drugs = nlohmann::json::array();
    for (const Drug& drug : kb_.drugs()) {
      drugs.push_back({{"id", drug.id}, {"inn", drug.inn}, {"brands", drug.brands}, {"class", drug.class_id},
                       {"counts_as", std::string(CountsAsName(drug.counts_as))}, {"dose_expressed_as", drug.dose_expressed_as}});
    }
    return Json({{"items", drugs}});
  });

  Add("GET", "/api/v1/scales", Access::AnyUser, [this](RequestContext& /*context*/) -> Outcome {
    nlohmann::json scales = nlohmann::json::array();
    for (const auto& [path, raw] : kb_.FilesOfKind("scale")) {
      if (raw == nullptr) continue;
      auto scale = ReadScaleDefinition(*raw, path);
      if (!scale) continue;
      scales.push_back({{"id", scale->id}, {"short_name", scale->short_name}, {"name", scale->name}, {"rater", scale->rater},
                        {"measures", scale->measures}, {"items", scale->items.size()}});
    }
    return Json({{"items", scales}});
  });

  Add("GET", "/api/v1/scales/{scale_id}", Access::AnyUser, [this](RequestContext& context) -> Outcome {
    auto scale = FindScale(kb_, context.path.at("scale_id"));
    if (!scale) return HttpFail(404, "not_found", scale.error().message);
    nlohmann::json items = nlohmann::json::array();
    for (const ScaleItem& item : scale->items) {
      items.push_back({{"label", item.label}, {"text", item.text}, {"min", item.min}, {"max", item.max}, {"answers", item.answers},
                       {"required", item.required}});
    }
    return Json({{"id", scale->id}, {"short_name", scale->short_name}, {"name", scale->name}, {"rater", scale->rater},
                 {"measures", scale->measures}, {"items", items}});
  });
}

}  // namespace refract::server
