// SPDX-License-Identifier: Apache-2.0
/// How the refract command line is assembled: each cmd_*.cc file registers its subcommands,
/// and main() runs the one the user chose. Shared helpers map errors to exit codes.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "refract/core/result.h"

namespace refract::cli {

inline constexpr int kExitUsage = 2;
inline constexpr int kExitDataError = 65;
inline constexpr int kExitInternal = 70;
inline constexpr int kExitIoError = 74;

/// One runnable subcommand: run when `command->parsed()` after parsing.
struct Handler {
  CLI::App* command = nullptr;
  std::function<int()> run;
};

/// Adds subcommands to `app` and their handlers to `handlers`.
using CommandFactory = void (*)(CLI::App& app, std::vector<Handler>& handlers);

/// The factories registered by the cmd_*.cc files, in registration order.
std::vector<CommandFactory>& Factories();

/// Registers a factory at static-initialisation time: `const RegisterCommands kRegister{&AddMyCommands};`.
struct RegisterCommands {
  explicit RegisterCommands(CommandFactory factory) { Factories().push_back(factory); }
};

/// The exit code for an error (65 input and KB, 74 I/O and storage, 70 internal).
[[nodiscard]] int ExitCodeFor(const Error& error);

/// Prints "refract: error: LOCATION: MESSAGE" to standard error and returns the exit code.
int Report(const Error& error);

/// The --kb option's value as a path, or nothing for the built-in KB.
[[nodiscard]] std::optional<std::filesystem::path> KbDir(const std::string& kb_dir);

/// Whether standard output is a terminal (text by default, colour allowed).
[[nodiscard]] bool StdoutIsTerminal();

}  // namespace refract::cli
