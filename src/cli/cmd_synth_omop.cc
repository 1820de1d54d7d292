// SPDX-License-Identifier: Apache-2.0
// `refract synth-omop`: write a synthetic OMOP CDM (SQLite or CSV) with ground truth per person.
#include <unistd.h>

#include <iostream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "commands.h"
#include "refract/app/app.h"
#include "refract/core/omop.h"
#include "refract/omop/synth.h"

namespace refract::cli {
namespace {

struct SynthArgs {
  std::int64_t persons = 1000;
  std::uint64_t seed = 1;
  std::string out;
  std::string kb_dir;
  bool drift = false;
};

int RunSynth(const SynthArgs& args) {
  if (args.persons < 1) return Report(Error{ErrorCode::InvalidInput, "--persons must be at least 1", "--persons"});
  auto kb = app::LoadKb(KbDir(args.kb_dir));
  if (!kb) return Report(kb.error());
  auto config = omop::LoadOmopConfig(*kb);
  if (!config) return Report(config.error());
  omop::SynthOptions options;
  options.persons = args.persons;
  options.seed = args.seed;
  options.drift_concept_ids = args.drift;
  const bool terminal = isatty(STDERR_FILENO) == 1;
  if (terminal) {
    options.on_progress = [&](std::int64_t done) { std::cerr << fmt::format("\rsynth-omop: {}/{} persons", done, args.persons) << std::flush; };
  }
  auto stats = omop::WriteSyntheticCdm(*kb, *config, options, args.out);
  if (terminal) std::cerr << "\r\033[K";
  if (!stats) return Report(stats.error());
  std::cout << fmt::format("synth-omop: wrote {} persons, {} drug exposures, {} conditions, {} procedures, {} PHQ-9 scores to {} (seed {}{})\n",
                           stats->persons, stats->drug_exposures, stats->conditions, stats->procedures, stats->scores, args.out, args.seed,
                           args.drift ? ", drifted concept ids" : "");
  return 0;
}

void AddSynthOmop(CLI::App& app, std::vector<Handler>& handlers) {
  static SynthArgs args;
  auto* command = app.add_subcommand("synth-omop", "generate a synthetic OMOP CDM with known ground truth (refract_truth)");
  command->add_option("--persons", args.persons, "number of persons (default 1000)");
  command->add_option("--seed", args.seed, "random seed; the same seed gives the same database (default 1)");
  command->add_option("--out", args.out, "cdm.sqlite (SQLite file) or a directory (CSV files)")->required();
  command->add_flag("--drift-concept-ids", args.drift, "shift concept ids away from the KB's expected ids (tests resolution by code)");
  command->add_option("--kb", args.kb_dir, "load the knowledge base from this directory instead of the built-in one");
  handlers.push_back(Handler{command, [] { return RunSynth(args); }});
}

const RegisterCommands kRegister{&AddSynthOmop};

}  // namespace
}  // namespace refract::cli
