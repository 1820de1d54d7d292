// SPDX-License-Identifier: Apache-2.0
// `refract user add`: creates a clinic user from the command line (the operator's alternative to
// the web set-up), with a generated password printed once or one read from standard input.
#include <iostream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "commands.h"
#include "refract/server/security.h"
#include "refract/store/store.h"

namespace refract::cli {
namespace {

struct UserArgs {
  std::string db = "sqlite:refract-clinic.db";
  std::string username;
  std::string role;
  std::string clinic;
  std::int64_t patient_id = 0;
  bool password_stdin = false;
};

int RunUserAdd(const UserArgs& args) {
  const auto role = store::ParseRole(args.role);
  if (!role) return Report(Error{ErrorCode::InvalidInput, "the role is admin, clinician or patient", "--role"});
  auto store = store::OpenStore(args.db);
  if (!store) return Report(store.error());
  store::AuditEvent event;
  event.at_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  event.actor = "command line";
  event.action = "create";
  event.remote_addr = "local";
  store::NewUser user{args.username, "", *role, std::nullopt, std::nullopt};
  if (*role == store::Role::Clinician) {
    if (args.clinic.empty()) return Report(Error{ErrorCode::InvalidInput, "a clinician needs --clinic NAME (created when new)", "--clinic"});
    auto clinics = (*store)->ListClinics();
    if (!clinics) return Report(clinics.error());
    for (const store::Clinic& clinic : *clinics) {
      if (clinic.name == args.clinic) user.clinic_id = clinic.id;
    }
    if (!user.clinic_id) {
      event.resource = "clinics";
      auto created = (*store)->CreateClinic(args.clinic, event);
      if (!created) return Report(created.error());
      user.clinic_id = created->id;
    }
  }
  if (*role == store::Role::Patient) {
    auto patient = (*store)->GetPatient(args.patient_id);
    if (!patient) return Report(Error{ErrorCode::InvalidInput, fmt::format("no patient {}", args.patient_id), "--patient-id"});
    user.patient_id = patient->id;
    user.clinic_id = patient->clinic_id;
  }
  std::string password;
  if (args.password_stdin) {
    std::getline(std::cin, password);
    if (auto policy = server::CheckPasswordPolicy(password); !policy) return Report(Error{policy.error().code, policy.error().message, "stdin"});
  } else {
    password = server::RandomPassword();
  }
  auto hash = server::HashPassword(password, server::PasswordCost{});
  if (!hash) return Report(hash.error());
  user.password_hash = *hash;
  event.resource = "users";
  auto created = (*store)->CreateUser(user, event);
  if (!created) return Report(created.error());
  std::cout << fmt::format("created {} {} (id {})\n", args.role, created->username, created->id);
  if (!args.password_stdin) std::cout << fmt::format("password (shown once): {}\n", password);
  return 0;
}

void AddUserCommands(CLI::App& app, std::vector<Handler>& handlers) {
  static UserArgs args;
  auto* user = app.add_subcommand("user", "clinic users");
  user->require_subcommand(1);
  auto* add = user->add_subcommand("add", "create a user of the clinic server");
  add->add_option("--db", args.db, "the server's database (default sqlite:refract-clinic.db)");
  add->add_option("--username", args.username, "login name")->required();
  add->add_option("--role", args.role, "admin, clinician or patient")->required();
  add->add_option("--clinic", args.clinic, "clinician: the clinic's name (created when new)");
  add->add_option("--patient-id", args.patient_id, "patient: the patient's id in the server");
  add->add_flag("--password-stdin", args.password_stdin, "read the password from standard input instead of generating one");
  handlers.push_back(Handler{add, [] { return RunUserAdd(args); }});
}

const RegisterCommands kRegister{&AddUserCommands};

}  // namespace
}  // namespace refract::cli
