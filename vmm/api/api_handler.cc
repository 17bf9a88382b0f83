#include "vmm/api/api_handler.h"

#include <nlohmann/json.hpp>

namespace vmm::api {
namespace {

using nlohmann::json;

ApiResponse Error(int status, const std::string& message) {
  return {status, json{{"error", message}}.dump()};
}

ApiResponse FromStatus(const absl::Status& status) {
  int code = 500;
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      code = 400;
      break;
    case absl::StatusCode::kNotFound:
      code = 404;
      break;
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kUnavailable:
      code = 409;
      break;
    default:
      break;
  }
  return Error(code, std::string(status.message()));
}

ApiResponse Vm(Control& control) {
  VmInfo info = control.GetVmInfo();
  return {200, json{{"state", info.state},
                    {"memory_mib", info.memory_bytes >> 20},
                    {"vcpus", info.vcpus},
                    {"pvm_host", info.pvm_host}}
                   .dump()};
}

ApiResponse PutBalloon(Control& control, const std::string& body) {
  json request = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (request.is_discarded() || !request.is_object()) return Error(400, "body is not a JSON object");
  auto size = request.find("size_mib");
  if (size == request.end()) return Error(400, "missing field size_mib");
  if (!size->is_number_integer() && !size->is_number_unsigned()) {
    return Error(400, "size_mib must be a non-negative integer");
  }
  if (size->is_number_integer() && size->get<int64_t>() < 0) {
    return Error(400, "size_mib must be a non-negative integer");
  }
  uint64_t mib = size->get<uint64_t>();
  if (mib > (1ull << 40)) return Error(400, "size_mib is too large");
  absl::Status status = control.SetBalloonTarget(mib << 20);
  if (!status.ok()) return FromStatus(status);
  return {200, json{{"size_mib", mib}}.dump()};
}

ApiResponse GetBalloon(Control& control) {
  absl::StatusOr<BalloonInfo> info = control.GetBalloonInfo();
  if (!info.ok()) return FromStatus(info.status());
  json counters = json::object();
  for (const auto& [name, value] : info->counters) counters[name] = value;
  return {200, json{{"size_mib", info->target_bytes >> 20},
                    {"actual_mib", info->actual_bytes >> 20},
                    {"features", info->features},
                    {"counters", counters}}
                   .dump()};
}

ApiResponse GetBalloonStats(Control& control) {
  absl::StatusOr<std::vector<BalloonStat>> stats = control.GetBalloonStats();
  if (!stats.ok()) return FromStatus(stats.status());
  json out = json::object();
  for (const BalloonStat& s : *stats) out[s.name] = json{{"value", s.value}, {"unit", s.unit}};
  return {200, out.dump()};
}

}  // namespace

ApiResponse HandleApiRequest(Control& control, const std::string& method, const std::string& path,
                             const std::string& body) {
  if (path == "/api/v1/vm") {
    if (method == "GET") return Vm(control);
    return Error(405, "method not allowed; use GET");
  }
  if (path == "/api/v1/balloon") {
    if (method == "PUT") return PutBalloon(control, body);
    if (method == "GET") return GetBalloon(control);
    return Error(405, "method not allowed; use GET or PUT");
  }
  if (path == "/api/v1/balloon/statistics") {
    if (method == "GET") return GetBalloonStats(control);
    return Error(405, "method not allowed; use GET");
  }
  return Error(404, "no such endpoint: " + path);
}

}  // namespace vmm::api
