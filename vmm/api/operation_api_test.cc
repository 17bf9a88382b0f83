// SPDX-License-Identifier: MIT
// One operation at a time, through the real API server and `vmm ctl`: a
// fake VM that takes the same OperationLock as vmm::Machine, with a
// snapshot that holds the VM until the test lets it go, and migrations that
// end in each outcome.
#include <httplib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <atomic>
#include <optional>
#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "vmm/api/api_client.h"
#include "vmm/api/api_server.h"
#include "vmm/operation_lock.h"
#include "vmm/user_pause.h"

namespace vmm::api {
namespace {

class ExclusiveControl : public Control {
 public:
  VmInfo GetVmInfo() override { return {"running", 512ull << 20, 1, false}; }
  absl::Status SetBalloonTarget(uint64_t) override { return absl::OkStatus(); }
  absl::StatusOr<BalloonInfo> GetBalloonInfo() override { return BalloonInfo{}; }
  absl::StatusOr<std::vector<BalloonStat>> GetBalloonStats() override { return std::vector<BalloonStat>{}; }

  absl::StatusOr<migration::MigrationStats> Snapshot(const std::string& path) override {
    absl::StatusOr<OperationLock::Claim> claim =
        ops.TryBegin("a snapshot to " + path, "a snapshot to " + path + " is being written");
    if (!claim.ok()) return claim.status();
    {
      absl::MutexLock lock(&mu);
      snapshot_progress = SnapshotProgress{.state = "saving", .path = path, .done_bytes = 100 << 20,
                                           .total_bytes = 400 << 20, .bytes_written = 90 << 20, .total_ms = 2000};
    }
    if (!snapshot_started.HasBeenNotified()) snapshot_started.Notify();
    release_snapshot.WaitForNotification();  // stays notified: later snapshots pass
    absl::MutexLock lock(&mu);
    snapshot_progress->state = "completed";
    return migration::MigrationStats{.phase = "completed", .round = 1};
  }
  absl::StatusOr<SnapshotProgress> GetSnapshot() override {
    absl::MutexLock lock(&mu);
    if (!snapshot_progress) return absl::NotFoundError("no snapshot has been taken");
    return *snapshot_progress;
  }
  absl::Status StartMigration(const std::string& destination, const migration::MigrationOptions&) override {
    absl::StatusOr<OperationLock::Claim> claim =
        ops.TryBegin("a migration to " + destination, "a migration to " + destination + " is running");
    if (!claim.ok()) return claim.status();
    absl::MutexLock lock(&mu);
    migration_claim.emplace(std::move(*claim));
    stats = migration::MigrationStats{.phase = ends_in};
    if (ends_in != migration::kPhaseUnknownOutcome && migration::PhaseIsFinal(ends_in)) migration_claim.reset();
    return absl::OkStatus();
  }
  absl::StatusOr<migration::MigrationStats> GetMigration() override {
    absl::MutexLock lock(&mu);
    if (!stats) return absl::NotFoundError("no migration has been started");
    return *stats;
  }
  absl::StatusOr<migration::MigrationStats> CancelMigration() override {
    absl::MutexLock lock(&mu);
    if (!stats || migration::PhaseIsFinal(stats->phase)) return absl::FailedPreconditionError("no migration is running");
    stats->phase = migration::kPhaseCancelled;
    migration_claim.reset();
    return *stats;
  }
  absl::StatusOr<migration::MigrationStats> ResumeMigrationSource() override {
    absl::MutexLock lock(&mu);
    if (!stats || stats->phase != migration::kPhaseUnknownOutcome) {
      return absl::FailedPreconditionError("no migration has an unknown outcome");
    }
    stats->phase = migration::kPhaseResumed;
    migration_claim.reset();
    return *stats;
  }

  // The user's pause over a counted pause, as vmm::Machine has it; the
  // snapshot above does not pause this fake, the count is what matters.
  absl::Status PauseVm() override { return user_pause.Pause(); }
  absl::Status ResumeVm() override { return user_pause.Resume(); }
  absl::Status ShutdownVm(double timeout_seconds) override {
    shutdown_timeout = timeout_seconds;
    return absl::OkStatus();
  }
  std::atomic<double> shutdown_timeout{-1};

  OperationLock ops;
  std::atomic<int> pauses{0};
  UserPause user_pause{ops, [this] { ++pauses; }, [this] { --pauses; }};
  absl::Notification snapshot_started, release_snapshot;
  std::string ends_in = "precopy";
  absl::Mutex mu;
  std::optional<migration::MigrationStats> stats ABSL_GUARDED_BY(mu);
  std::optional<SnapshotProgress> snapshot_progress ABSL_GUARDED_BY(mu);
  std::optional<OperationLock::Claim> migration_claim ABSL_GUARDED_BY(mu);
};

class OperationApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = ::testing::TempDir() + "/operation-api-" + std::to_string(::getpid()) + ".sock";
    absl::StatusOr<std::unique_ptr<ApiServer>> server = ApiServer::Start(path_, control_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }
  httplib::Result Put(const std::string& endpoint, const std::string& body) {
    httplib::Client client(path_);
    client.set_address_family(AF_UNIX);
    return client.Put(endpoint.c_str(), body, "application/json");
  }
  std::string path_;
  ExclusiveControl control_;
  std::unique_ptr<ApiServer> server_;
};

TEST_F(OperationApiTest, TwoConcurrentSnapshotsOneSucceedsOneIs409) {
  int first_status = 0;
  std::thread snapshot([&] {
    httplib::Result first = Put("/api/v1/snapshot", R"({"path": "/tmp/a.snap"})");
    if (first) first_status = first->status;
  });
  control_.snapshot_started.WaitForNotification();
  httplib::Result second = Put("/api/v1/snapshot", R"({"path": "/tmp/b.snap"})");
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 409);
  EXPECT_EQ(nlohmann::json::parse(second->body)["error"],
            "cannot start a snapshot to /tmp/b.snap: a snapshot to /tmp/a.snap is being written");
  // A migration is refused the same way, and `vmm ctl` says why (exit 1).
  httplib::Result migrate = Put("/api/v1/migrate", R"({"destination": "tcp:10.0.0.2:7000"})");
  ASSERT_TRUE(migrate);
  EXPECT_EQ(migrate->status, 409);
  EXPECT_EQ(RunCtlCommand(path_, {"snapshot", "/tmp/c.snap"}), 1);
  control_.release_snapshot.Notify();
  snapshot.join();
  EXPECT_EQ(first_status, 200);
  // Once it is written, the next one goes through.
  EXPECT_EQ(RunCtlCommand(path_, {"snapshot", "/tmp/d.snap"}), 0);
}

// Off a terminal (a test's stderr, a log) `vmm ctl snapshot` writes a plain
// line of progress every interval while the VMM writes the file, and none
// with --json, whose object is the output.
TEST_F(OperationApiTest, CtlSnapshotWritesPlainProgressLinesOffATerminal) {
  const absl::Duration interval = absl::Milliseconds(100);
  int status = -1;
  ::testing::internal::CaptureStderr();
  std::thread ctl([&] { status = RunCtlCommand(path_, {"snapshot", "/tmp/p.snap"}, {.progress_interval = interval}); });
  control_.snapshot_started.WaitForNotification();
  absl::SleepFor(absl::Milliseconds(900));  // the client polls every 200 ms
  control_.release_snapshot.Notify();
  ctl.join();
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(status, 0);
  EXPECT_NE(err.find("snapshot to /tmp/p.snap: guest memory 100.0 of 400.0 MiB (25%), 50 MiB/s, 6 s left; "
                     "90.0 MiB written\n"),
            std::string::npos)
      << err;
  EXPECT_EQ(err.find('\r'), std::string::npos) << "a terminal's redraw in a log";

  ::testing::internal::CaptureStderr();
  EXPECT_EQ(RunCtlCommand(path_, {"snapshot", "/tmp/p.snap"}, {.json = true, .progress_interval = interval}), 0);
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

TEST_F(OperationApiTest, SnapshotDuringAMigrationIs409UntilItIsCancelled) {
  ASSERT_EQ(Put("/api/v1/migrate", R"({"destination": "tcp:10.0.0.2:7000"})")->status, 202);
  httplib::Result refused = Put("/api/v1/snapshot", R"({"path": "/tmp/a.snap"})");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 409);
  EXPECT_NE(refused->body.find("a migration to tcp:10.0.0.2:7000 is running"), std::string::npos) << refused->body;
  EXPECT_EQ(RunCtlCommand(path_, {"migrate-cancel"}), 0);
  EXPECT_EQ(RunCtlCommand(path_, {"migrate-cancel"}), 1);  // nothing left to cancel
  control_.release_snapshot.Notify();
  EXPECT_EQ(Put("/api/v1/snapshot", R"({"path": "/tmp/a.snap"})")->status, 200);
}

TEST_F(OperationApiTest, CtlPauseAndResumeAreRefusedWhileASnapshotRunsAndTwice) {
  EXPECT_EQ(RunCtlCommand(path_, {"resume"}), 1);  // 409: not paused
  EXPECT_EQ(RunCtlCommand(path_, {"pause"}), 0);
  EXPECT_EQ(control_.pauses, 1);
  EXPECT_EQ(RunCtlCommand(path_, {"pause"}), 1);  // 409: already paused
  std::thread snapshot([&] { Put("/api/v1/snapshot", R"({"path": "/tmp/a.snap"})"); });
  control_.snapshot_started.WaitForNotification();
  httplib::Result refused = Put("/api/v1/vm.resume", "");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 409);
  EXPECT_EQ(nlohmann::json::parse(refused->body)["error"],
            "cannot resume the VM: a snapshot to /tmp/a.snap is being written");
  control_.release_snapshot.Notify();
  snapshot.join();
  EXPECT_EQ(control_.pauses, 1);  // still the user's
  EXPECT_EQ(RunCtlCommand(path_, {"resume"}), 0);
  EXPECT_EQ(control_.pauses, 0);
  EXPECT_EQ(RunCtlCommand(path_, {"pause", "now"}), 2);
}

TEST_F(OperationApiTest, CtlPingShutdownAndMetrics) {
  EXPECT_EQ(RunCtlCommand(path_, {"ping"}), 0);
  EXPECT_EQ(RunCtlCommand(path_, {"metrics"}), 0);
  EXPECT_EQ(RunCtlCommand(path_, {"shutdown"}, {.shutdown_timeout_seconds = 5}), 0);
  EXPECT_EQ(control_.shutdown_timeout, 5);
  EXPECT_EQ(RunCtlCommand(path_, {"shutdown"}), 0);
  EXPECT_EQ(control_.shutdown_timeout, 30);  // the server's default
}

// `vmm ctl migrate` waits for the end and fails (exit 1) on every outcome
// but completed; an unknown outcome holds the VM until it is settled.
TEST_F(OperationApiTest, CtlMigrateExitsByOutcome) {
  control_.ends_in = migration::kPhaseCompleted;
  EXPECT_EQ(RunCtlCommand(path_, {"migrate", "tcp:10.0.0.2:7000"}), 0);
  control_.ends_in = migration::kPhaseCancelled;
  EXPECT_EQ(RunCtlCommand(path_, {"migrate", "tcp:10.0.0.2:7000"}), 1);
  control_.ends_in = migration::kPhaseUnknownOutcome;
  EXPECT_EQ(RunCtlCommand(path_, {"migrate", "tcp:10.0.0.2:7000"}), 1);
  EXPECT_EQ(RunCtlCommand(path_, {"migrate", "tcp:10.0.0.2:7000"}), 1);  // 409: not settled yet
  EXPECT_EQ(RunCtlCommand(path_, {"migrate-status"}), 0);
  EXPECT_EQ(RunCtlCommand(path_, {"migrate-resume"}), 0);
  EXPECT_EQ(RunCtlCommand(path_, {"migrate-resume"}), 1);  // settled already
  EXPECT_EQ(RunCtlCommand(path_, {"migrate-abandon"}), 1);  // not implemented by this fake: 501
  EXPECT_EQ(RunCtlCommand(path_, {"migrate-cancel", "now"}), 2);
}

}  // namespace
}  // namespace vmm::api
