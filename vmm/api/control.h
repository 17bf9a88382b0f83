// What the control API can ask of a running VM. vmm::Machine implements
// it; the API layer (api_handler.h) only translates HTTP/JSON to these calls,
// so it is tested without a VM.
#ifndef VMM_API_CONTROL_H_
#define VMM_API_CONTROL_H_

#include <cstdint>
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
  // Snapshot to a file (PUT /api/v1/snapshot): the guest pauses while its
  // state is written and then runs on.
  virtual absl::StatusOr<migration::MigrationStats> Snapshot(const std::string& path) {
    return absl::UnimplementedError("snapshots are not supported here");
  }
};

}  // namespace vmm::api

#endif  // VMM_API_CONTROL_H_
