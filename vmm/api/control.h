// SPDX-License-Identifier: MIT
// What the control API can ask of a running VM. vmm::Machine implements
// it; the API layer (api_handler.h) only translates HTTP/JSON to these calls,
// so it is tested without a VM.
#ifndef VMM_API_CONTROL_H_
#define VMM_API_CONTROL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "migration/stats.h"

namespace vmm::api {

struct VmInfo {
  std::string state;  // "running", "paused"
  uint64_t memory_bytes = 0;
  uint32_t vcpus = 0;
  bool pvm_host = false;
};

struct BalloonInfo {
  uint64_t target_bytes = 0;
  uint64_t actual_bytes = 0;
  std::vector<std::string> features;  // negotiated, by virtio name
  std::vector<std::pair<std::string, uint64_t>> counters;
};

struct BalloonStat {
  std::string name;  // virtio name, e.g. "free_memory"
  uint64_t value = 0;
  std::string unit;  // "bytes" or "count"
};

// GET /metrics: the figures a scrape reads, gathered in one call so the
// API layer formats them without knowing where each comes from.
struct VcpuExitCount {
  uint32_t vcpu = 0;
  std::string reason;  // "io", "mmio", "halt", ... (vcpu_exit_counters.h)
  uint64_t count = 0;
};

struct VmMetrics {
  double uptime_seconds = 0;  // since the VMM process started
  uint64_t rss_bytes = 0;     // the VMM process's resident memory
  uint64_t guest_ram_resident_bytes = 0;
  double cpu_user_seconds = 0;
  double cpu_system_seconds = 0;
  std::vector<VcpuExitCount> vcpu_exits;
  std::optional<BalloonInfo> balloon;                 // none without a balloon
  std::optional<migration::MigrationStats> migration;  // the current or last one
};

// GET /api/v1/snapshot: the running or last snapshot, as `vmm ctl
// snapshot` draws it.
struct SnapshotProgress {
  std::string state;  // "saving", "completed" or "failed"
  std::string path;
  // Guest memory the snapshot goes through and how much of it is out
  // (MigrationStats::snapshot_*): done_bytes <= total_bytes.
  uint64_t done_bytes = 0;
  uint64_t total_bytes = 0;
  uint64_t bytes_written = 0;  // to the file so far
  double total_ms = 0;
  std::string error;  // when failed
};

class Control {
 public:
  virtual ~Control() = default;
  virtual VmInfo GetVmInfo() = 0;
  virtual absl::Status SetBalloonTarget(uint64_t bytes) = 0;
  virtual absl::StatusOr<BalloonInfo> GetBalloonInfo() = 0;
  virtual absl::StatusOr<std::vector<BalloonStat>> GetBalloonStats() = 0;

  // Live migration (PUT/GET /api/v1/migrate): Start connects to the
  // destination and returns once the migration runs in the background;
  // GetMigration reports the current or last one (NotFound if none).
  virtual absl::Status StartMigration(const std::string& destination, const migration::MigrationOptions& options) {
    return absl::UnimplementedError("migration is not supported here");
  }
  virtual absl::StatusOr<migration::MigrationStats> GetMigration() {
    return absl::NotFoundError("no migration has been started");
  }
  // DELETE /api/v1/migrate: stops a running migration before its last
  // state is out and runs the guest here again; FailedPrecondition (409)
  // when none runs or it is past END. Returns the figures once stopped.
  virtual absl::StatusOr<migration::MigrationStats> CancelMigration() {
    return absl::UnimplementedError("migration is not supported here");
  }
  // POST /api/v1/migrate/resume and /abandon: the operator's answer to a
  // migration in unknown-outcome (FailedPrecondition otherwise): run the
  // guest here again, or end this VMM without running it.
  virtual absl::StatusOr<migration::MigrationStats> ResumeMigrationSource() {
    return absl::UnimplementedError("migration is not supported here");
  }
  virtual absl::StatusOr<migration::MigrationStats> AbandonMigrationSource() {
    return absl::UnimplementedError("migration is not supported here");
  }
  // PUT /api/v1/vm.pause and vm.resume: the user's own pause, one level
  // of the VM's counted pause (so a snapshot's pause and resume leave a
  // user-paused VM paused). FailedPrecondition (409) when already in the
  // asked state or while a snapshot or migration runs.
  virtual absl::Status PauseVm() { return absl::UnimplementedError("pausing is not supported here"); }
  virtual absl::Status ResumeVm() { return absl::UnimplementedError("resuming is not supported here"); }
  // PUT /api/v1/vm.shutdown: presses the guest's ACPI power button and ends
  // the VM (exit status 0) after `timeout_seconds` if the guest has not
  // powered off by then.
  virtual absl::Status ShutdownVm(double timeout_seconds) {
    return absl::UnimplementedError("shutdown is not supported here");
  }
  // GET /metrics.
  virtual VmMetrics GetMetrics() { return {}; }
  // Snapshot to a file (PUT /api/v1/snapshot): the guest pauses while its
  // state is written and then runs on.
  virtual absl::StatusOr<migration::MigrationStats> Snapshot(const std::string& path) {
    return absl::UnimplementedError("snapshots are not supported here");
  }
  // GET /api/v1/snapshot: how far the running snapshot has got, or how
  // the last one ended (NotFound if none was taken).
  virtual absl::StatusOr<SnapshotProgress> GetSnapshot() {
    return absl::NotFoundError("no snapshot has been taken");
  }
};

}  // namespace vmm::api

#endif  // VMM_API_CONTROL_H_
