// SPDX-License-Identifier: MIT
#include "vmm/api/api_client.h"

#include <httplib.h>
#include <sys/socket.h>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "base/progress_line.h"
#include "base/size_parse.h"

namespace vmm::api {
namespace {

constexpr const char* kCommands =
    "status, ping, pause, resume, shutdown, metrics, balloon [SIZE|stats], migrate DEST, migrate-status, migrate-cancel, migrate-resume, "
    "migrate-abandon, snapshot FILE";

int Fail(int status, const std::string& message) {
  std::fprintf(stderr, "vmm: error: %s\n", message.c_str());
  return status;
}

struct Reply {
  int status = 0;
  nlohmann::json body;
  std::string raw;
};

httplib::Result Call(httplib::Client& client, const std::string& method, const std::string& path,
                     const std::string& body) {
  if (method == "GET") return client.Get(path.c_str());
  if (method == "DELETE") return client.Delete(path.c_str());
  if (method == "POST") return client.Post(path.c_str(), body, "application/json");
  return client.Put(path.c_str(), body, "application/json");
}

// One request; a transport failure is an error naming the socket.
absl::StatusOr<Reply> Request(const std::string& socket_path, const std::string& method, const std::string& path,
                              const std::string& body, int read_timeout_s) {
  httplib::Client client(socket_path);
  client.set_address_family(AF_UNIX);
  client.set_connection_timeout(5);
  client.set_read_timeout(read_timeout_s);
  httplib::Result result = Call(client, method, path, body);
  if (!result) {
    return absl::UnavailableError("cannot reach the VMM's API socket " + socket_path + ": " +
                                  httplib::to_string(result.error()));
  }
  Reply reply{result->status, nlohmann::json::parse(result->body, nullptr, false), result->body};
  return reply;
}

std::string ErrorText(const Reply& r) {
  if (!r.body.is_discarded() && r.body.is_object() && r.body.contains("error")) {
    return r.body["error"].get<std::string>();
  }
  return r.raw;
}

double Mib(const nlohmann::json& v) { return v.get<double>() / (1 << 20); }
double Mib(uint64_t bytes) { return static_cast<double>(bytes) / (1 << 20); }

std::string Summary(const nlohmann::json& s, const char* what) {
  const nlohmann::json& skipped = s["skipped_pages"];
  char line[512];
  std::snprintf(line, sizeof(line),
                "%s %.0f MiB guest in %.0f ms: %.1f MiB sent in %d rounds, downtime %.1f ms; skipped pages: "
                "%llu zero, %llu unpopulated, %llu ballooned, %llu hinted",
                what, Mib(s["guest_ram_bytes"]), s["total_ms"].get<double>(), Mib(s["bytes_sent"]),
                s["rounds"].get<int>(), s["downtime_ms"].get<double>(),
                static_cast<unsigned long long>(skipped["zero"].get<uint64_t>()),
                static_cast<unsigned long long>(skipped["unpopulated"].get<uint64_t>()),
                static_cast<unsigned long long>(skipped["ballooned"].get<uint64_t>()),
                static_cast<unsigned long long>(skipped["hinted"].get<uint64_t>()));
  return line;
}

void ShowProgress(base::ProgressLine& line, const nlohmann::json& s) {
  const uint64_t remaining = s["remaining_bytes"].get<uint64_t>();
  // The last full round's rate, or before one has ended the average so far.
  const double total_ms = s["total_ms"].get<double>();
  double rate = s["rate_mib_s"].get<double>() * (1 << 20);
  if (rate <= 0 && total_ms > 0) rate = s["bytes_sent"].get<double>() / (total_ms / 1000);
  // What is left of the current round at that rate: the time the round
  // still needs, not the migration's (the guest dirties more meanwhile).
  const std::optional<double> left = base::SecondsLeft(0, remaining, rate);
  line.Show(s["bytes_sent"].get<uint64_t>(), s["guest_ram_bytes"].get<uint64_t>(),
            absl::StrFormat("migration %s, round %d: %.1f MiB sent, %.1f MiB left (%s at %.1f MiB/s), downtime ~%.1f ms",
                            s["state"].get<std::string>(), s["rounds"].get<int>(), Mib(s["bytes_sent"]),
                            Mib(remaining), left ? base::FormatDuration(*left) : "?", rate / (1 << 20),
                            std::min(s["expected_downtime_ms"].get<double>(), 1e9)));
}

// Progress on stderr: a bar on a terminal, a line every few seconds
// elsewhere, nothing with --json (the object on stdout is the output).
base::ProgressStyle ProgressStyleFor(const CtlOptions& options) {
  return options.json ? base::ProgressStyle::kOff : base::ProgressLine::StyleOf(stderr);
}
base::ProgressLine::Options ProgressOptionsFor(const CtlOptions& options) {
  return {.plain_interval = options.progress_interval};
}

int Migrate(const std::string& socket_path, const std::string& destination, const CtlOptions& options) {
  const migration::MigrationOptions& m = options.migrate;
  nlohmann::json body{{"destination", destination},
                      {"downtime_ms", m.downtime_target_ms},
                      {"max_rounds", m.max_rounds},
                      {"free_page_hinting", m.free_page_hinting}};
  if (m.bandwidth_bytes_per_s > 0) body["bandwidth_mib_s"] = static_cast<double>(m.bandwidth_bytes_per_s) / (1 << 20);
  absl::StatusOr<Reply> started = Request(socket_path, "PUT", "/api/v1/migrate", body.dump(), 60);
  if (!started.ok()) return Fail(1, std::string(started.status().message()));
  if (started->status / 100 != 2) return Fail(1, "migration not started: " + ErrorText(*started));
  base::ProgressLine line(stderr, ProgressStyleFor(options), ProgressOptionsFor(options));
  nlohmann::json last;
  while (true) {
    absl::StatusOr<Reply> r = Request(socket_path, "GET", "/api/v1/migrate", "", 10);
    if (!r.ok()) {
      line.Finish();
      return Fail(1, "lost the source VMM before the migration ended: " + std::string(r.status().message()));
    }
    if (r->status != 200 || r->body.is_discarded()) {
      line.Finish();
      return Fail(1, "migration status: " + ErrorText(*r));
    }
    last = r->body;
    const std::string state = last["state"].get<std::string>();
    ShowProgress(line, last);
    if (migration::PhaseIsFinal(state)) break;
    ::usleep(200 * 1000);
  }
  line.Finish();
  if (options.json) std::printf("%s\n", last.dump().c_str());
  const std::string state = last["state"].get<std::string>();
  const std::string error = last.value("error", std::string("?"));
  if (state == migration::kPhaseUnknownOutcome) {
    return Fail(1, "migration outcome unknown, the guest is paused here: " + error +
                       ". Once you know whether the destination runs it: `vmm ctl --api-socket " + socket_path +
                       " migrate-resume` runs it here, `migrate-abandon` ends this VMM without running it");
  }
  if (state != migration::kPhaseCompleted) {
    return Fail(1, "migration " + state + " (the guest keeps running here): " + error);
  }
  if (!options.json) std::printf("%s\n", Summary(last, "migrated").c_str());
  return 0;
}

// How long `ctl snapshot` waits for the VMM's answer: the VMM writes the
// whole guest RAM at most, so the wait grows with it instead of being a
// fixed limit a large guest on a slow disk could pass. The floor is the
// minimum write rate a snapshot is still allowed before it is taken as hung.
int SnapshotWaitSeconds(const std::string& socket_path) {
  constexpr int kFloorSeconds = 600;
  constexpr uint64_t kSlowestMibPerSecond = 16;
  absl::StatusOr<Reply> vm = Request(socket_path, "GET", "/api/v1/vm", "", 10);
  if (!vm.ok() || vm->status != 200 || !vm->body.contains("memory_mib") || !vm->body["memory_mib"].is_number_unsigned()) {
    return kFloorSeconds;
  }
  const uint64_t seconds = vm->body["memory_mib"].get<uint64_t>() / kSlowestMibPerSecond;
  return static_cast<int>(std::clamp<uint64_t>(seconds, kFloorSeconds, 24 * 3600));
}

// While the snapshot's PUT is out, what GET /api/v1/snapshot says about it,
// every 200 ms until `finished`.
void FollowSnapshot(const std::string& socket_path, const std::string& path, base::ProgressLine& line,
                    absl::Notification& finished) {
  while (!finished.WaitForNotificationWithTimeout(absl::Milliseconds(200))) {
    absl::StatusOr<Reply> r = Request(socket_path, "GET", "/api/v1/snapshot", "", 10);
    if (!r.ok() || r->status != 200 || !r->body.is_object()) continue;
    const nlohmann::json& p = r->body;
    // The last snapshot's figures until this one has begun (or another
    // client's, refused to us with a 409 the PUT will report).
    if (p.value("state", "") != "saving" || p.value("path", "") != path) continue;
    const uint64_t done = p.value("done_bytes", uint64_t{0}), total = p.value("total_bytes", uint64_t{0});
    line.Show(done, total,
              absl::StrCat("snapshot to ", path, ": guest memory ",
                           base::TransferText(done, total, p.value("rate_mib_s", 0.0) * (1 << 20)),
                           absl::StrFormat("; %.1f MiB written", Mib(p.value("bytes_written", uint64_t{0})))));
  }
}

int Snapshot(const std::string& socket_path, const std::string& path, const CtlOptions& options) {
  const int wait_seconds = SnapshotWaitSeconds(socket_path);
  const std::string body = nlohmann::json{{"path", path}}.dump();
  absl::StatusOr<Reply> r = absl::UnknownError("no answer");
  base::ProgressLine line(stderr, ProgressStyleFor(options), ProgressOptionsFor(options));
  if (line.active()) {
    // The PUT answers only once the file is written; the bar comes from
    // polling beside it, as `ctl migrate` polls its migration.
    absl::Notification finished;
    std::thread put([&] {
      r = Request(socket_path, "PUT", "/api/v1/snapshot", body, wait_seconds);
      finished.Notify();
    });
    FollowSnapshot(socket_path, path, line, finished);
    put.join();
    line.Finish();
  } else {
    r = Request(socket_path, "PUT", "/api/v1/snapshot", body, wait_seconds);
  }
  if (!r.ok()) return Fail(1, std::string(r.status().message()));
  if (r->status != 200) return Fail(1, "snapshot failed: " + ErrorText(*r));
  if (options.json) {
    std::printf("%s\n", r->body.dump().c_str());
  } else {
    std::printf("%s\n", Summary(r->body, "saved").c_str());
  }
  return 0;
}

int Send(const std::string& socket_path, const std::string& method, const std::string& path,
         const std::string& body) {
  absl::StatusOr<Reply> r = Request(socket_path, method, path, body, 60);
  if (!r.ok()) return Fail(1, std::string(r.status().message()));
  if (r->status / 100 != 2) return Fail(1, "API " + std::to_string(r->status) + ": " + ErrorText(*r));
  // /metrics is text, printed as it came.
  std::printf("%s%s", r->body.is_discarded() ? r->raw.c_str() : r->body.dump(2).c_str(),
              !r->body.is_discarded() || r->raw.empty() || r->raw.back() != '\n' ? "\n" : "");
  return 0;
}

int Shutdown(const std::string& socket_path, const CtlOptions& options) {
  nlohmann::json body = nlohmann::json::object();
  if (options.shutdown_timeout_seconds) body["timeout_s"] = *options.shutdown_timeout_seconds;
  return Send(socket_path, "PUT", "/api/v1/vm.shutdown", body.dump());
}

}  // namespace

int RunCtlCommand(const std::string& socket_path, const std::vector<std::string>& words,
                  const CtlOptions& options) {
  if (socket_path.empty()) return Fail(2, "vmm ctl needs --api-socket PATH (the socket the VMM serves its API on)");
  if (words.empty()) return Fail(2, std::string("vmm ctl: expected a command: ") + kCommands);
  const std::string& command = words[0];
  if (command == "status" && words.size() == 1) return Send(socket_path, "GET", "/api/v1/vm", "");
  if (command == "balloon") {
    if (words.size() == 1) return Send(socket_path, "GET", "/api/v1/balloon", "");
    if (words.size() == 2 && (words[1] == "stats" || words[1] == "statistics")) {
      return Send(socket_path, "GET", "/api/v1/balloon/statistics", "");
    }
    if (words.size() == 2) {
      absl::StatusOr<uint64_t> size = base::ParseSize(words[1]);
      if (!size.ok()) return Fail(2, "balloon size: " + std::string(size.status().message()));
      if (*size % (1ull << 20) != 0) return Fail(2, "balloon size must be a whole number of MiB");
      return Send(socket_path, "PUT", "/api/v1/balloon",
                  nlohmann::json{{"size_mib", *size >> 20}}.dump());
    }
  }
  if (command == "migrate" && words.size() == 2) return Migrate(socket_path, words[1], options);
  if (words.size() == 1) {
    if (command == "ping") return Send(socket_path, "GET", "/api/v1/ping", "");
    if (command == "pause") return Send(socket_path, "PUT", "/api/v1/vm.pause", "");
    if (command == "resume") return Send(socket_path, "PUT", "/api/v1/vm.resume", "");
    if (command == "shutdown") return Shutdown(socket_path, options);
    if (command == "metrics") return Send(socket_path, "GET", "/metrics", "");
    if (command == "migrate-status") return Send(socket_path, "GET", "/api/v1/migrate", "");
    if (command == "migrate-cancel") return Send(socket_path, "DELETE", "/api/v1/migrate", "");
    if (command == "migrate-resume") return Send(socket_path, "POST", "/api/v1/migrate/resume", "");
    if (command == "migrate-abandon") return Send(socket_path, "POST", "/api/v1/migrate/abandon", "");
  }
  if (command == "migrate") return Fail(2, "vmm ctl migrate: expected one destination, tcp:HOST:PORT or unix:PATH");
  if (command == "snapshot" && words.size() == 2) return Snapshot(socket_path, words[1], options);
  if (command == "snapshot") return Fail(2, "vmm ctl snapshot: expected one file path");
  return Fail(2, "vmm ctl: unknown command '" + command + "'; expected: " + kCommands);
}

}  // namespace vmm::api
