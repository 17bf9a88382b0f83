// SPDX-License-Identifier: MIT
// Fuzzes vmm::api::HandleApiRequest, the control API behind the HTTP
// server: the input is a request (method, path and body, one per line; the
// body is the rest) against a Control that answers like the Machine, with
// errors that quote what was asked for. Every request must get a response
// with a JSON body; nothing may throw or crash.
#include <fuzzer/FuzzedDataProvider.h>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

#include "fuzz/fuzz_support.h"
#include "migration/channel.h"
#include "vmm/api/api_handler.h"

namespace {

class FakeControl : public vmm::api::Control {
 public:
  vmm::api::VmInfo GetVmInfo() override { return {"running", 1ull << 30, 2, false}; }
  absl::Status SetBalloonTarget(uint64_t bytes) override {
    if (bytes > (1ull << 30)) return absl::InvalidArgumentError(absl::StrCat("target ", bytes, " is beyond RAM"));
    target_ = bytes;
    return absl::OkStatus();
  }
  absl::StatusOr<vmm::api::BalloonInfo> GetBalloonInfo() override {
    return vmm::api::BalloonInfo{target_, target_ / 2, {"STATS_VQ"}, {{"discard_calls", 3}}};
  }
  absl::StatusOr<std::vector<vmm::api::BalloonStat>> GetBalloonStats() override {
    return std::vector<vmm::api::BalloonStat>{{"free_memory", 4096, "bytes"}};
  }
  absl::Status StartMigration(const std::string& destination, const migration::MigrationOptions& options) override {
    // The Machine parses the destination first; its error quotes it.
    absl::StatusOr<migration::Endpoint> endpoint = migration::ParseEndpoint(destination);
    if (!endpoint.ok()) return endpoint.status();
    return absl::UnavailableError(absl::StrCat("cannot connect to ", endpoint->ToString()));
  }
  absl::StatusOr<migration::MigrationStats> Snapshot(const std::string& path) override {
    return absl::PermissionDeniedError(absl::StrCat("cannot create ", path));
  }

 private:
  uint64_t target_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const size_t first = input.find('\n');
  const size_t second = first == std::string::npos ? std::string::npos : input.find('\n', first + 1);
  if (second == std::string::npos) return 0;
  const std::string method = input.substr(0, first);
  const std::string path = input.substr(first + 1, second - first - 1);
  const std::string body = input.substr(second + 1);
  FakeControl control;
  const vmm::api::ApiResponse response = vmm::api::HandleApiRequest(control, method, path, body);
  if (response.status < 100 || response.status > 599) __builtin_trap();
  // What the server sends as JSON must be JSON a client can parse
  // (GET /metrics answers text).
  if (response.content_type == "application/json" &&
      nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false).is_discarded()) {
    __builtin_trap();
  }
  return 0;
}
