// SPDX-License-Identifier: Apache-2.0
// The refract command line: assembles the registered subcommands, parses, runs one.
#include <unistd.h>

#include <iostream>

#include "commands.h"
#include "refract/app/app.h"

namespace refract::cli {

std::vector<CommandFactory>& Factories() {
  static std::vector<CommandFactory> factories;
  return factories;
}

int ExitCodeFor(const Error& error) {
  switch (error.code) {
    case ErrorCode::InvalidInput:
    case ErrorCode::KbSchema:
    case ErrorCode::KbReference:
    case ErrorCode::NotFound: return kExitDataError;
    case ErrorCode::Io:
    case ErrorCode::Storage: return kExitIoError;
    case ErrorCode::Internal: return kExitInternal;
  }
  return kExitInternal;
}

int Report(const Error& error) {
  if (error.location.empty()) {
    std::cerr << "refract: error: " << error.message << "\n";
  } else {
    std::cerr << "refract: error: " << error.location << ": " << error.message << "\n";
  }
  return ExitCodeFor(error);
}

std::optional<std::filesystem::path> KbDir(const std::string& kb_dir) {
  if (kb_dir.empty()) return std::nullopt;
  return std::filesystem::path(kb_dir);
}

bool StdoutIsTerminal() { return isatty(STDOUT_FILENO) == 1; }

}  // namespace refract::cli

int main(int argc, char** argv) {
  using namespace refract::cli;
  try {
    CLI::App app{"refract: decision support for treatment-resistant depression"};
    app.require_subcommand(1);
    app.set_version_flag("--version", std::string(refract::app::Engine().version));
    std::vector<Handler> handlers;
    for (const CommandFactory factory : Factories()) factory(app, handlers);
    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& error) {
      const int code = app.exit(error);
      return code == 0 ? 0 : kExitUsage;
    }
    for (const Handler& handler : handlers) {
      if (handler.command->parsed()) return handler.run();
    }
    return kExitUsage;
  } catch (const std::exception& error) {
    std::cerr << "refract: internal error: " << error.what() << "\n";
    return kExitInternal;
  }
}
