// SPDX-License-Identifier: Apache-2.0
// Loopback load test of the CDS Hooks order-select service over HTTP: the service mounted on a
// cpp-httplib server on 127.0.0.1, and client threads with keep-alive connections posting the
// 20-medication request for a fixed time. Prints throughput and latency percentiles. With --serve it
// only serves (for an outside load generator such as wrk).
//
// With --patients P the clients cycle through P patients (the same record under P ids): 1 (the
// default) is the EHR firing order-select again and again for one patient, more than the memo holds
// (256) makes every call the first for its patient.
//
// With --write-request FILE it only writes the request body to FILE (for bench/cdshooks/run_wrk.sh).
//
//   refract_cdshooks_loopback [--clients N] [--server-threads N] [--seconds S] [--patients P] [--serve PORT]
//   refract_cdshooks_loopback --write-request FILE
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>
#include <sys/resource.h>

#include "bench_context.h"
#include "order_select_request.h"
#include "refract/cdshooks/http.h"

namespace {

double CpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& value) { return static_cast<double>(value.tv_sec) + static_cast<double>(value.tv_usec) / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

int Option(int argc, char** argv, const std::string& name, int fallback) {
  for (int arg_idx = 1; arg_idx + 1 < argc; ++arg_idx) {
    if (argv[arg_idx] == name) return std::atoi(argv[arg_idx + 1]);
  }
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  for (int arg_idx = 1; arg_idx + 1 < argc; ++arg_idx) {
    if (std::string(argv[arg_idx]) != "--write-request") continue;
    std::FILE* file = std::fopen(argv[arg_idx + 1], "wb");
    if (file == nullptr) return 1;
    const std::string body = refract::bench::OrderSelectRequest().dump();
    const bool written = std::fwrite(body.data(), 1, body.size(), file) == body.size();
    return std::fclose(file) == 0 && written ? 0 : 1;
  }
  const int clients = Option(argc, argv, "--clients", 4);
  const int server_threads = Option(argc, argv, "--server-threads", 4);
  const int seconds = Option(argc, argv, "--seconds", 10);
  const int serve_port = Option(argc, argv, "--serve", 0);
  const int patients = std::max(1, Option(argc, argv, "--patients", 1));
  auto served = refract::bench::LoadServed();
  httplib::Server server;
  server.new_task_queue = [server_threads] { return new httplib::ThreadPool(static_cast<size_t>(server_threads)); };
  server.set_tcp_nodelay(true);  // as refract serve does
  refract::cdshooks::MountCdsHooks(server, served->context);
  if (serve_port > 0) {
    std::printf("serving on 127.0.0.1:%d (POST /cds-services/%s)\n", serve_port, std::string(refract::cdshooks::kOrderSelectService).c_str());
    return server.listen("127.0.0.1", serve_port) ? 0 : 1;
  }
  const int port = server.bind_to_any_port("127.0.0.1");
  std::thread listener([&] { server.listen_after_bind(); });
  while (!server.is_running()) std::this_thread::yield();
  const std::vector<std::string> bodies = refract::bench::OrderSelectBodies(patients);
  const std::string& body = bodies.front();
  const std::string path = "/cds-services/" + std::string(refract::cdshooks::kOrderSelectService);
  {
    httplib::Client probe("127.0.0.1", port);
    const auto response = probe.Post(path, body, "application/json");
    if (!response || response->status != 200) {
      std::fprintf(stderr, "the service does not answer 200\n");
      server.stop();
      listener.join();
      return 1;
    }
    std::printf("response: %zu bytes, %zu cards\n", response->body.size(), nlohmann::json::parse(response->body)["cards"].size());
  }
  std::atomic<bool> stop{false};
  std::atomic<long> errors{0};
  std::vector<std::vector<double>> latencies(static_cast<std::size_t>(clients));
  // Warm up for one second, then measure.
  std::atomic<bool> measuring{false};
  std::vector<std::thread> threads;
  for (int client_idx = 0; client_idx < clients; ++client_idx) {
    threads.emplace_back([&, client_idx] {
      httplib::Client client("127.0.0.1", port);
      client.set_keep_alive(true);
      client.set_tcp_nodelay(true);
      auto& mine = latencies[static_cast<std::size_t>(client_idx)];
      std::size_t next = static_cast<std::size_t>(client_idx) * 7919 % bodies.size();
      while (!stop.load()) {
        const auto start = std::chrono::steady_clock::now();
        const auto response = client.Post(path, bodies[next], "application/json");
        next = (next + 1) % bodies.size();
        const double micros = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
        if (!response || response->status != 200) {
          ++errors;
          continue;
        }
        if (measuring.load()) mine.push_back(micros);
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));
  measuring = true;
  const auto begin = std::chrono::steady_clock::now();
  const double cpu_begin = CpuSeconds();
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  measuring = false;
  const double cpu = CpuSeconds() - cpu_begin;
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
  stop = true;
  for (auto& thread : threads) thread.join();
  server.stop();
  listener.join();
  std::vector<double> all;
  for (const auto& mine : latencies) all.insert(all.end(), mine.begin(), mine.end());
  std::sort(all.begin(), all.end());
  const auto at = [&](double quantile) { return all.empty() ? 0.0 : all[std::min(all.size() - 1, static_cast<std::size_t>(quantile * static_cast<double>(all.size())))] / 1000.0; };
  const auto memo = served->context.memo->counts();
  std::printf("order-select over loopback HTTP: %d client connections, %d server threads, %d patient(s), %.1f s\n", clients, server_threads, patients,
              elapsed);
  std::printf("assessment memo: %llu hits, %llu misses (warm-up included)\n", static_cast<unsigned long long>(memo.hits),
              static_cast<unsigned long long>(memo.misses));
  std::printf("requests %zu, errors %ld, throughput %.0f requests/s\n", all.size(), errors.load(), static_cast<double>(all.size()) / elapsed);
  // Clients and server share this process: its CPU time per request is the whole loopback's, and two
  // idle cores give at most 2 s of CPU per second.
  const double cpu_per_request = all.empty() ? 0.0 : cpu / static_cast<double>(all.size());
  std::printf("CPU (server + clients, user + sys) %.1f us per request: at most %.0f requests/s on 2 idle cores\n", cpu_per_request * 1e6,
              cpu_per_request > 0 ? 2.0 / cpu_per_request : 0.0);
  std::printf("latency ms: p50 %.2f  p90 %.2f  p99 %.2f  max %.2f\n", at(0.50), at(0.90), at(0.99), all.empty() ? 0.0 : all.back() / 1000.0);
  return 0;
}
