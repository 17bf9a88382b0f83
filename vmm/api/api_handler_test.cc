// SPDX-License-Identifier: MIT
#include "vmm/api/api_handler.h"

#include <gtest/gtest.h>

#include <optional>

#include <nlohmann/json.hpp>

#include "base/version.h"

namespace vmm::api {
namespace {

// A Control that records calls; the real one is vmm::Machine, exercised by
// the guest tests.
class RecordingControl : public Control {
 public:
  VmInfo GetVmInfo() override { return {"running", 1ull << 30, 2, true}; }
  absl::Status SetBalloonTarget(uint64_t bytes) override {
    if (bytes > (1ull << 30)) return absl::InvalidArgumentError("RecordingControl refuses this size");
    target = bytes;
    return absl::OkStatus();
  }
  absl::StatusOr<BalloonInfo> GetBalloonInfo() override {
    return BalloonInfo{target, target / 2, {"STATS_VQ"}, {{"discard_calls", 3}}};
  }
  absl::StatusOr<std::vector<BalloonStat>> GetBalloonStats() override {
    return std::vector<BalloonStat>{{"free_memory", 4096, "bytes"}};
  }
  absl::Status StartMigration(const std::string& destination, const migration::MigrationOptions& options) override {
    if (destination == "tcp:127.0.0.1:1") return absl::UnavailableError("connection refused");
    migrate_to = destination;
    migrate_options = options;
    stats = migration::MigrationStats{.phase = "precopy", .round = 1, .bytes_sent = 1 << 20};
    return absl::OkStatus();
  }
  absl::StatusOr<migration::MigrationStats> GetMigration() override {
    if (!stats) return absl::NotFoundError("no migration has been started");
    return *stats;
  }
  absl::StatusOr<migration::MigrationStats> CancelMigration() override {
    if (!stats || stats->phase != "precopy") {
      return absl::FailedPreconditionError("the migration has sent the guest's last state (END)");
    }
    stats->phase = migration::kPhaseCancelled;
    return *stats;
  }
  absl::StatusOr<migration::MigrationStats> ResumeMigrationSource() override { return Settle(migration::kPhaseResumed); }
  absl::StatusOr<migration::MigrationStats> AbandonMigrationSource() override {
    return Settle(migration::kPhaseAbandoned);
  }
  absl::StatusOr<migration::MigrationStats> Snapshot(const std::string& path) override {
    if (stats && !migration::PhaseIsFinal(stats->phase)) {
      return absl::FailedPreconditionError("cannot start a snapshot to " + path + ": a migration to X is running");
    }
    snapshot_path = path;
    return migration::MigrationStats{.phase = "completed", .round = 1};
  }
  absl::Status PauseVm() override {
    if (paused) return absl::FailedPreconditionError("the VM is already paused");
    paused = true;
    return absl::OkStatus();
  }
  absl::Status ResumeVm() override {
    if (!paused) return absl::FailedPreconditionError("the VM is not paused");
    paused = false;
    return absl::OkStatus();
  }
  absl::Status ShutdownVm(double timeout_seconds) override {
    shutdown_timeout = timeout_seconds;
    return absl::OkStatus();
  }
  VmMetrics GetMetrics() override { return VmMetrics{.uptime_seconds = 3}; }
  bool paused = false;
  std::optional<double> shutdown_timeout;
  absl::StatusOr<migration::MigrationStats> Settle(const char* phase) {
    if (!stats || stats->phase != migration::kPhaseUnknownOutcome) {
      return absl::FailedPreconditionError("no migration has an unknown outcome");
    }
    stats->phase = phase;
    return *stats;
  }
  uint64_t target = 0;
  std::string migrate_to, snapshot_path;
  migration::MigrationOptions migrate_options;
  std::optional<migration::MigrationStats> stats;
};

nlohmann::json Parse(const ApiResponse& r) { return nlohmann::json::parse(r.body); }

TEST(ApiHandler, VmInfo) {
  RecordingControl c;
  ApiResponse r = HandleApiRequest(c, "GET", "/api/v1/vm", "");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(Parse(r)["memory_mib"], 1024);
  EXPECT_EQ(Parse(r)["vcpus"], 2);
  EXPECT_EQ(Parse(r)["state"], "running");
}

TEST(ApiHandler, VmInfoNamesTheVmmVersion) {
  RecordingControl c;
  ApiResponse r = HandleApiRequest(c, "GET", "/api/v1/vm", "");
  ASSERT_EQ(r.status, 200);
  ASSERT_TRUE(Parse(r)["version"].is_string()) << r.body;
  EXPECT_EQ(Parse(r)["version"], std::string(base::Version()));
  EXPECT_FALSE(Parse(r)["version"].get<std::string>().empty());
}

TEST(ApiHandler, PutBalloonSetsTarget) {
  RecordingControl c;
  ApiResponse r = HandleApiRequest(c, "PUT", "/api/v1/balloon", R"({"size_mib": 256})");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(c.target, 256ull << 20);
  r = HandleApiRequest(c, "GET", "/api/v1/balloon", "");
  EXPECT_EQ(Parse(r)["size_mib"], 256);
  EXPECT_EQ(Parse(r)["actual_mib"], 128);
  EXPECT_EQ(Parse(r)["counters"]["discard_calls"], 3);
}

TEST(ApiHandler, BadBalloonRequestsAre400AndChangeNothing) {
  RecordingControl c;
  c.target = 7;
  for (const char* body : {"", "garbage", "[1,2]", "{}", R"({"size_mib": -1})", R"({"size_mib": "1G"})",
                           R"({"size_mib": 1.5})", R"({"size_mib": 99999999999999})"}) {
    ApiResponse r = HandleApiRequest(c, "PUT", "/api/v1/balloon", body);
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_TRUE(Parse(r).contains("error")) << body;
  }
  // A size the Control refuses: its reason goes back word for word, as a
  // 400. (The real Control's reason, vmm::Machine's, is checked by
  // tests/balloon_guest_test.cc.)
  ApiResponse r = HandleApiRequest(c, "PUT", "/api/v1/balloon", R"({"size_mib": 2048})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Parse(r)["error"].get<std::string>(), "RecordingControl refuses this size");
  EXPECT_EQ(c.target, 7u);
}

TEST(ApiHandler, UnknownPathAndMethod) {
  RecordingControl c;
  EXPECT_EQ(HandleApiRequest(c, "GET", "/api/v1/nothing", "").status, 404);
  EXPECT_EQ(HandleApiRequest(c, "DELETE", "/api/v1/vm", "").status, 405);
  EXPECT_EQ(HandleApiRequest(c, "POST", "/api/v1/balloon", "{}").status, 405);
}

TEST(ApiHandler, PauseAndResumeAre409WhenAlreadyInThatState) {
  RecordingControl c;
  EXPECT_EQ(HandleApiRequest(c, "PUT", "/api/v1/vm.resume", "").status, 409);
  ApiResponse r = HandleApiRequest(c, "PUT", "/api/v1/vm.pause", "");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(Parse(r)["state"], "paused");
  EXPECT_TRUE(c.paused);
  r = HandleApiRequest(c, "PUT", "/api/v1/vm.pause", "");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(Parse(r)["error"], "the VM is already paused");
  EXPECT_EQ(HandleApiRequest(c, "PUT", "/api/v1/vm.resume", "").status, 200);
  EXPECT_FALSE(c.paused);
  EXPECT_EQ(HandleApiRequest(c, "GET", "/api/v1/vm.pause", "").status, 405);
}

TEST(ApiHandler, ShutdownTakesAnOptionalTimeout) {
  RecordingControl c;
  ApiResponse r = HandleApiRequest(c, "PUT", "/api/v1/vm.shutdown", "");
  EXPECT_EQ(r.status, 202);
  EXPECT_EQ(c.shutdown_timeout, 30);
  EXPECT_EQ(Parse(r)["timeout_s"], 30);
  EXPECT_EQ(HandleApiRequest(c, "PUT", "/api/v1/vm.shutdown", R"({"timeout_s": 2.5})").status, 202);
  EXPECT_EQ(c.shutdown_timeout, 2.5);
  c.shutdown_timeout.reset();
  for (const char* body : {"x", R"({"timeout_s": -1})", R"({"timeout_s": "5s"})", R"({"timeout": 5})",
                           R"({"timeout_s": 1e9})"}) {
    EXPECT_EQ(HandleApiRequest(c, "PUT", "/api/v1/vm.shutdown", body).status, 400) << body;
  }
  EXPECT_FALSE(c.shutdown_timeout.has_value());
}

TEST(ApiHandler, PingAnswersTheVersion) {
  RecordingControl c;
  ApiResponse r = HandleApiRequest(c, "GET", "/api/v1/ping", "");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(Parse(r)["version"], std::string(base::Version()));
}

TEST(ApiHandler, MetricsAreTextNotJson) {
  RecordingControl c;
  ApiResponse r = HandleApiRequest(c, "GET", "/metrics", "");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type.rfind("text/plain; version=0.0.4", 0), 0u);
  EXPECT_NE(r.body.find("vmm_uptime_seconds 3\n"), std::string::npos) << r.body;
}

TEST(ApiHandler, EveryRouteIsServedAndTheWrongMethodIs405) {
  RecordingControl c;
  for (const Route& route : ApiRoutes()) {
    // (404 itself is a valid answer: GET /api/v1/migrate before any.)
    EXPECT_EQ(HandleApiRequest(c, route.method, route.path, "").body.find("no such endpoint"), std::string::npos)
        << route.path;
    EXPECT_EQ(HandleApiRequest(c, "PATCH", route.path, "").status, 405) << route.path;
  }
}

// Found by fuzz/api_handler_fuzzer: an error quoting bytes that are not
// UTF-8 made nlohmann::json throw, which ended the VMM.
TEST(ApiHandler, ErrorsQuotingInvalidUtf8AreStillJson) {
  RecordingControl c;
  ApiResponse r = HandleApiRequest(c, "GET", "/api/v1/\xff\xfe", "");
  EXPECT_EQ(r.status, 404);
  nlohmann::json body = nlohmann::json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(body.is_discarded()) << r.body;
  EXPECT_EQ(body["error"], "no such endpoint: /api/v1/\uFFFD\uFFFD");
}

TEST(ApiHandler, Statistics) {
  RecordingControl c;
  ApiResponse r = HandleApiRequest(c, "GET", "/api/v1/balloon/statistics", "");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(Parse(r)["free_memory"]["unit"], "bytes");
}

TEST(ApiHandler, MigrateStartsWithOptionsAndReportsProgress) {
  RecordingControl c;
  EXPECT_EQ(HandleApiRequest(c, "GET", "/api/v1/migrate", "").status, 404);
  ApiResponse r = HandleApiRequest(
      c, "PUT", "/api/v1/migrate",
      R"({"destination": "tcp:10.0.0.2:4444", "downtime_ms": 10, "max_rounds": 5, "free_page_hinting": false,
          "bandwidth_mib_s": 100})");
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(c.migrate_to, "tcp:10.0.0.2:4444");
  EXPECT_EQ(c.migrate_options.downtime_target_ms, 10);
  EXPECT_EQ(c.migrate_options.max_rounds, 5u);
  EXPECT_FALSE(c.migrate_options.free_page_hinting);
  EXPECT_EQ(c.migrate_options.bandwidth_bytes_per_s, 100ull << 20);
  ApiResponse g = HandleApiRequest(c, "GET", "/api/v1/migrate", "");
  ASSERT_EQ(g.status, 200);
  EXPECT_EQ(Parse(g)["state"], "precopy");
  EXPECT_EQ(Parse(g)["bytes_sent"], 1 << 20);
  EXPECT_TRUE(Parse(g)["skipped_pages"].contains("hinted"));
  for (const char* key : {"unlogged_pages", "bypassed_pages", "final_pages", "paused_rescan", "hint_wait_ms", "hint_report",
                          "check_ms"}) {
    EXPECT_TRUE(Parse(g).contains(key)) << key;
  }
  for (const char* part : {"pause", "sync", "last_pages", "rescan", "state", "ack"}) {
    EXPECT_TRUE(Parse(g)["downtime_parts_ms"].contains(part)) << part;
  }
}

TEST(ApiHandler, MigrateRejectsBadRequests) {
  RecordingControl c;
  for (const char* body : {"not json", "[]", "{}", R"({"destination": 5})", R"({"destination": "tcp:a:1", "downtime_ms": -1})",
                           R"({"destination": "tcp:a:1", "max_rounds": 0})", R"({"destination": "tcp:a:1", "max_rounds": 2.5})",
                           R"({"destination": "tcp:a:1", "free_page_hinting": "yes"})",
                           R"({"destination": "tcp:a:1", "speed": 1})"}) {
    ApiResponse r = HandleApiRequest(c, "PUT", "/api/v1/migrate", body);
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_TRUE(Parse(r).contains("error")) << body;
  }
  EXPECT_TRUE(c.migrate_to.empty());
  ApiResponse refused = HandleApiRequest(c, "PUT", "/api/v1/migrate", R"({"destination": "tcp:127.0.0.1:1"})");
  EXPECT_EQ(refused.status, 502);
  EXPECT_EQ(HandleApiRequest(c, "POST", "/api/v1/migrate", "{}").status, 405);
  EXPECT_EQ(HandleApiRequest(c, "GET", "/api/v1/migrate/resume", "").status, 405);
  EXPECT_EQ(HandleApiRequest(c, "DELETE", "/api/v1/migrate/abandon", "").status, 405);
}

TEST(ApiHandler, DeleteCancelsARunningMigrationAndIs409PastEnd) {
  RecordingControl c;
  ASSERT_EQ(HandleApiRequest(c, "PUT", "/api/v1/migrate", R"({"destination": "tcp:10.0.0.2:4444"})").status, 202);
  ApiResponse r = HandleApiRequest(c, "DELETE", "/api/v1/migrate", "");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Parse(r)["state"], "cancelled");
  EXPECT_EQ(Parse(HandleApiRequest(c, "GET", "/api/v1/migrate", ""))["state"], "cancelled");
  c.stats->phase = migration::kPhaseAwaitingAck;
  r = HandleApiRequest(c, "DELETE", "/api/v1/migrate", "");
  EXPECT_EQ(r.status, 409);
  EXPECT_NE(Parse(r)["error"].get<std::string>().find("last state (END)"), std::string::npos) << r.body;
}

// Every state the source can be in is named as is in GET's `state`.
TEST(ApiHandler, GetNamesEveryOutcome) {
  RecordingControl c;
  c.stats = migration::MigrationStats{};
  for (const char* phase : {"precopy", "stop-and-copy", "awaiting-ack", "committing", "completed", "failed",
                            "cancelled", "unknown-outcome", "resumed", "abandoned"}) {
    c.stats->phase = phase;
    ApiResponse r = HandleApiRequest(c, "GET", "/api/v1/migrate", "");
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(Parse(r)["state"], phase);
  }
}

TEST(ApiHandler, ResumeAndAbandonSettleOnlyAnUnknownOutcome) {
  RecordingControl c;
  c.stats = migration::MigrationStats{.phase = "failed"};
  for (const char* action : {"/api/v1/migrate/resume", "/api/v1/migrate/abandon"}) {
    ApiResponse r = HandleApiRequest(c, "POST", action, "");
    EXPECT_EQ(r.status, 409) << action;
    EXPECT_EQ(Parse(r)["error"], "no migration has an unknown outcome");
  }
  c.stats->phase = migration::kPhaseUnknownOutcome;
  ApiResponse r = HandleApiRequest(c, "POST", "/api/v1/migrate/resume", "");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Parse(r)["state"], "resumed");
  c.stats->phase = migration::kPhaseUnknownOutcome;
  r = HandleApiRequest(c, "PUT", "/api/v1/migrate/abandon", "");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Parse(r)["state"], "abandoned");
}

TEST(ApiHandler, SnapshotDuringAMigrationIs409WithTheReason) {
  RecordingControl c;
  ASSERT_EQ(HandleApiRequest(c, "PUT", "/api/v1/migrate", R"({"destination": "tcp:10.0.0.2:4444"})").status, 202);
  ApiResponse r = HandleApiRequest(c, "PUT", "/api/v1/snapshot", R"({"path": "/tmp/x.snap"})");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(Parse(r)["error"], "cannot start a snapshot to /tmp/x.snap: a migration to X is running");
  EXPECT_TRUE(c.snapshot_path.empty());
}

TEST(ApiHandler, SnapshotNeedsAPath) {
  RecordingControl c;
  EXPECT_EQ(HandleApiRequest(c, "PUT", "/api/v1/snapshot", "{}").status, 400);
  EXPECT_EQ(HandleApiRequest(c, "DELETE", "/api/v1/snapshot", "").status, 405);
  EXPECT_EQ(HandleApiRequest(c, "GET", "/api/v1/snapshot", "").status, 404);  // none taken yet
  ApiResponse r = HandleApiRequest(c, "PUT", "/api/v1/snapshot", R"({"path": "/tmp/x.snap"})");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(c.snapshot_path, "/tmp/x.snap");
  EXPECT_EQ(Parse(r)["state"], "completed");
}

// A snapshot half written: the figures `vmm ctl snapshot` draws, with the
// rate and time left worked out once, here.
class SnapshottingControl : public Control {
 public:
  VmInfo GetVmInfo() override { return {"paused", 1ull << 30, 1, false}; }
  absl::Status SetBalloonTarget(uint64_t) override { return absl::OkStatus(); }
  absl::StatusOr<BalloonInfo> GetBalloonInfo() override { return absl::NotFoundError("none"); }
  absl::StatusOr<std::vector<BalloonStat>> GetBalloonStats() override { return absl::NotFoundError("none"); }
  absl::StatusOr<SnapshotProgress> GetSnapshot() override { return progress; }
  SnapshotProgress progress;
};

TEST(ApiHandler, SnapshotProgressHasTheRateAndTheTimeLeft) {
  SnapshottingControl c;
  c.progress = {.state = "saving", .path = "/tmp/x.snap", .done_bytes = 100 << 20, .total_bytes = 400 << 20,
                .bytes_written = 90 << 20, .total_ms = 2000};
  nlohmann::json r = Parse(HandleApiRequest(c, "GET", "/api/v1/snapshot", ""));
  EXPECT_EQ(r["state"], "saving");
  EXPECT_EQ(r["done_bytes"], 100 << 20);
  EXPECT_EQ(r["total_bytes"], 400 << 20);
  EXPECT_DOUBLE_EQ(r["rate_mib_s"].get<double>(), 50);
  EXPECT_DOUBLE_EQ(r["eta_s"].get<double>(), 6);  // 300 MiB at 50 MiB/s
  EXPECT_FALSE(r.contains("error"));

  // Before the pages are counted, or before any is out, no time left is
  // known: the field is absent rather than 0 or infinite.
  c.progress = {.state = "saving", .path = "/tmp/x.snap", .total_ms = 5};
  r = Parse(HandleApiRequest(c, "GET", "/api/v1/snapshot", ""));
  EXPECT_FALSE(r.contains("eta_s"));
  EXPECT_EQ(r["rate_mib_s"], 0);
  c.progress.total_bytes = 1 << 20;
  EXPECT_FALSE(Parse(HandleApiRequest(c, "GET", "/api/v1/snapshot", "")).contains("eta_s"));

  c.progress = {.state = "failed", .path = "/tmp/x.snap", .done_bytes = 1, .total_bytes = 2, .total_ms = 1,
                .error = "disk full"};
  EXPECT_EQ(Parse(HandleApiRequest(c, "GET", "/api/v1/snapshot", ""))["error"], "disk full");
}

}  // namespace
}  // namespace vmm::api
