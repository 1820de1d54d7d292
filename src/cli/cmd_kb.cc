// SPDX-License-Identifier: Apache-2.0
// `refract kb check|info` and `refract drug`: knowledge-base tools.
#include <iostream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "refract/app/app.h"
#include "refract/app/embedded.h"
#include "refract/core/kb_modules.h"

namespace refract::cli {
namespace {

int RunKbCheck(const std::string& kb_dir) {
  std::vector<KbFile> files;
  std::string origin = "built-in";
  if (kb_dir.empty()) {
    const auto embedded = embedded::KbFiles();
    files.assign(embedded.begin(), embedded.end());
  } else {
    auto read = app::ReadKbDirectory(kb_dir);
    if (!read) return Report(read.error());
    files = std::move(*read);
    origin = kb_dir;
  }
  const auto problems = CheckKnowledgeBase(files);
  for (const Error& problem : problems) std::cerr << problem.location << ": " << problem.message << "\n";
  if (!problems.empty()) {
    std::cerr << fmt::format("refract: kb check: {} problem{} in {}\n", problems.size(), problems.size() == 1 ? "" : "s", origin);
    return kExitDataError;
  }
  auto kb = LoadKnowledgeBase(files, origin);
  if (!kb) return Report(kb.error());
  const auto module_problems = CheckKnowledgeModules(*kb);
  for (const Error& problem : module_problems) std::cerr << problem.location << ": " << problem.message << "\n";
  if (!module_problems.empty()) {
    std::cerr << fmt::format("refract: kb check: {} problem{} in {}\n", module_problems.size(), module_problems.size() == 1 ? "" : "s", origin);
    return kExitDataError;
  }
  std::cout << fmt::format("kb check: ok: {} files, {} drugs, {} criteria sets, {} sources; kb_version {} {} ({})\n", files.size(),
                           kb->drugs().size(), kb->criteria().size(), kb->sources().size(), kb->version(), kb->digest(), origin);
  return 0;
}

int RunKbInfo(const std::string& kb_dir) {
  auto kb = app::LoadKb(KbDir(kb_dir));
  if (!kb) return Report(kb.error());
  nlohmann::json out{{"engine", app::Engine().version},
                     {"kb_version", kb->version()},
                     {"kb_digest", kb->digest()},
                     {"kb_source", kb->origin()},
                     {"drugs", kb->drugs().size()},
                     {"sources", kb->sources().size()},
                     {"default_criteria", kb->default_criteria()}};
  std::vector<std::string> criteria;
  for (const auto& entry : kb->criteria()) criteria.push_back(entry.id);
  out["criteria"] = criteria;
  std::cout << out.dump(2) << "\n";
  return 0;
}

int RunDrug(const std::string& name, const std::string& kb_dir) {
  auto kb = app::LoadKb(KbDir(kb_dir));
  if (!kb) return Report(kb.error());
  auto drug = kb->ResolveDrug(name);
  if (!drug) return Report(Error{drug.error().code, drug.error().message, "DRUG"});
  const auto* raw = kb->RawFile("drugs/" + (*drug)->id.substr(5) + ".json");
  std::cout << (raw != nullptr ? raw->dump(2) : std::string("{}")) << "\n";
  return 0;
}

void AddKbCommands(CLI::App& app, std::vector<Handler>& handlers) {
  static std::string kb_dir;
  static std::string drug_name;
  auto* kb = app.add_subcommand("kb", "knowledge base tools");
  kb->require_subcommand(1);
  auto* kb_check = kb->add_subcommand("check", "validate schema, references, units and ranges");
  kb_check->add_option("--kb", kb_dir, "check this directory instead of the built-in KB");
  auto* kb_info = kb->add_subcommand("info", "print version, digest and contents");
  kb_info->add_option("--kb", kb_dir, "describe this directory instead of the built-in KB");
  auto* drug = app.add_subcommand("drug", "show the KB entry of a drug (any name, brand or misspelling)");
  drug->add_option("name", drug_name, "drug name")->required();
  drug->add_option("--kb", kb_dir, "use this KB directory");
  handlers.push_back(Handler{kb_check, [] { return RunKbCheck(kb_dir); }});
  handlers.push_back(Handler{kb_info, [] { return RunKbInfo(kb_dir); }});
  handlers.push_back(Handler{drug, [] { return RunDrug(drug_name, kb_dir); }});
}

const RegisterCommands kRegister{&AddKbCommands};

}  // namespace
}  // namespace refract::cli
