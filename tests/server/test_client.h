// SPDX-License-Identifier: Apache-2.0
/// An in-process clinic server on 127.0.0.1 (port 0) and a small HTTP client that keeps the
/// session cookie and CSRF token like the web app does.
#pragma once

#include <memory>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "refract/app/app.h"
#include "refract/server/server.h"
#include "test_databases.h"

namespace refract::testing {

/// One HTTP answer.
struct Answer {
  int status = 0;
  std::string body;
  httplib::Headers headers;

  [[nodiscard]] nlohmann::json Json() const {
    auto json = nlohmann::json::parse(body, nullptr, false);
    return json.is_discarded() ? nlohmann::json() : json;
  }
  [[nodiscard]] std::string Header(const std::string& name) const {
    const auto found = headers.find(name);
    return found == headers.end() ? std::string() : found->second;
  }
  [[nodiscard]] std::string ErrorCode() const { return Json().value("/error/code"_json_pointer, std::string()); }
};

/// A browser-like client: remembers the session cookie and sends the CSRF token on writes.
class Browser {
 public:
  explicit Browser(int port) : client_("127.0.0.1", port) { client_.set_read_timeout(30, 0); }

  Answer Send(const std::string& method, const std::string& path, const std::string& body = {}, httplib::Headers headers = {},
              const std::string& content_type = "application/json") {
    if (!cookie_.empty()) headers.emplace("Cookie", cookie_);
    if (!csrf_.empty() && method != "GET") headers.emplace("X-CSRF-Token", csrf_);
    httplib::Result result = method == "GET"      ? client_.Get(path.c_str(), headers)
                             : method == "POST"   ? client_.Post(path.c_str(), headers, body, content_type.c_str())
                             : method == "PUT"    ? client_.Put(path.c_str(), headers, body, content_type.c_str())
                             : method == "PATCH"  ? client_.Patch(path.c_str(), headers, body, content_type.c_str())
                             : method == "DELETE" ? client_.Delete(path.c_str(), headers, body, content_type.c_str())
                                                  : client_.Options(path.c_str(), headers);
    Answer answer;
    if (!result) {
      ADD_FAILURE() << method << " " << path << ": no answer (" << httplib::to_string(result.error()) << ")";
      return answer;
    }
    answer.status = result->status;
    answer.body = result->body;
    answer.headers = result->headers;
    const std::string cookie = answer.Header("Set-Cookie");
    if (!cookie.empty()) {
      const std::string pair = cookie.substr(0, cookie.find(';'));
      cookie_ = pair.ends_with("=") ? std::string() : pair;
    }
    return answer;
  }
  Answer Get(const std::string& path, httplib::Headers headers = {}) { return Send("GET", path, {}, std::move(headers)); }
  Answer Post(const std::string& path, const nlohmann::json& body, httplib::Headers headers = {}) {
    return Send("POST", path, body.dump(), std::move(headers));
  }
  Answer Put(const std::string& path, const nlohmann::json& body) { return Send("PUT", path, body.dump()); }
  Answer Patch(const std::string& path, const nlohmann::json& body) { return Send("PATCH", path, body.dump()); }
  Answer Delete(const std::string& path) { return Send("DELETE", path); }

  /// Signs in and keeps the session; returns the answer to the sign-in.
  Answer Login(const std::string& username, const std::string& password) {
    Answer answer = Post("/api/v1/session", {{"username", username}, {"password", password}});
    if (answer.status == 200) csrf_ = answer.Json().value("csrf_token", "");
    return answer;
  }

  void ForgetCsrf() { csrf_.clear(); }
  [[nodiscard]] const std::string& cookie() const { return cookie_; }

 private:
  httplib::Client client_;
  std::string cookie_;
  std::string csrf_;
};

/// A server on a test database with cheap password hashing and a captured log.
class TestServer {
 public:
  explicit TestServer(const std::string& backend) : database_(backend) {}
  ~TestServer() {
    if (server_) server_->Stop();
    spdlog::set_default_logger(previous_logger_);
  }

  void Start() {
    auto kb = app::LoadKb(std::nullopt);
    ASSERT_TRUE(kb);
    kb_ = std::make_unique<KnowledgeBase>(std::move(*kb));
    store_ = &database_.Open();
    server::ServerOptions options;
    options.port = 0;
    options.password_cost = server::PasswordCost{1024, 1, 1};
    options.as_of = ParseDate("2026-11-22");
    options.threads = 16;
    previous_logger_ = spdlog::default_logger();
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(log_);
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", sink));
    auto server = server::Server::Create(*store_, *kb_, options);
    ASSERT_TRUE(server) << server.error().message;
    server_ = std::move(*server);
    server_->Start();
  }

  [[nodiscard]] int port() const { return server_->port(); }
  [[nodiscard]] server::Server& server() { return *server_; }
  [[nodiscard]] store::Store& store() { return *store_; }
  [[nodiscard]] std::string Log() const { return log_.str(); }

 private:
  TestDatabase database_;
  std::unique_ptr<KnowledgeBase> kb_;
  store::Store* store_ = nullptr;
  std::unique_ptr<server::Server> server_;
  std::ostringstream log_;
  std::shared_ptr<spdlog::logger> previous_logger_;
};

}  // namespace refract::testing
