// SPDX-License-Identifier: MIT
#include "vmm/api/api_handler.h"

#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/progress_line.h"
#include "base/version.h"
#include "vmm/api/metrics_text.h"
#include "vmm/api/prometheus_text.h"

namespace vmm::api {
namespace {

using nlohmann::json;

// Strings in a response may quote what the client sent (a path, a
// destination), which need not be UTF-8; dump() would throw on them, so
// invalid bytes become U+FFFD instead.
std::string Dump(const json& value) { return value.dump(-1, ' ', false, json::error_handler_t::replace); }

ApiResponse Error(int status, const std::string& message) {
  return {status, Dump(json{{"error", message}})};
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
    case absl::StatusCode::kAlreadyExists:
      code = 409;
      break;
    case absl::StatusCode::kUnavailable:
      code = 502;  // the migration destination could not be reached
      break;
    case absl::StatusCode::kUnimplemented:
      code = 501;
      break;
    default:
      break;
  }
  return Error(code, std::string(status.message()));
}

ApiResponse Vm(Control& control) {
  VmInfo info = control.GetVmInfo();
  return {200, Dump(json{{"state", info.state},
                         {"memory_mib", info.memory_bytes >> 20},
                         {"vcpus", info.vcpus},
                         {"pvm_host", info.pvm_host},
                         {"version", std::string(base::Version())}})};
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
  return {200, Dump(json{{"size_mib", mib}})};
}

ApiResponse GetBalloon(Control& control) {
  absl::StatusOr<BalloonInfo> info = control.GetBalloonInfo();
  if (!info.ok()) return FromStatus(info.status());
  json counters = json::object();
  for (const auto& [name, value] : info->counters) counters[name] = value;
  return {200, Dump(json{{"size_mib", info->target_bytes >> 20},
                         {"actual_mib", info->actual_bytes >> 20},
                         {"features", info->features},
                         {"counters", counters}})};
}

json StatsJson(const migration::MigrationStats& s) {
  json out{{"state", s.phase},
           {"encryption", s.encryption},
           {"rounds", s.round},
           {"guest_ram_bytes", s.guest_ram_bytes},
           {"bytes_sent", s.bytes_sent},
           {"pages_sent", s.pages_sent},
           {"remaining_bytes", s.remaining_bytes},
           {"rate_mib_s", s.rate_bytes_per_s / (1 << 20)},
           {"expected_downtime_ms", s.expected_downtime_ms},
           {"total_ms", s.total_ms},
           {"downtime_ms", s.downtime_ms},
           {"hinted_pages", s.hinted_pages},
           {"unlogged_pages", s.unlogged_pages},
           {"paused_rescan", s.paused_rescan},
           {"bypassed_pages", s.bypassed_pages},
           {"final_pages", s.final_pages},
           {"hint_wait_ms", s.hint_wait_ms},
           {"hint_report", s.hint_report},
           {"check_ms", s.check_ms},
           {"downtime_parts_ms",
            {{"pause", s.downtime_parts.pause},
             {"sync", s.downtime_parts.sync},
             {"last_pages", s.downtime_parts.last_pages},
             {"rescan", s.downtime_parts.rescan},
             {"state", s.downtime_parts.state},
             {"ack", s.downtime_parts.ack}}},
           {"skipped_pages",
            {{"zero", s.zero_pages},
             {"unpopulated", s.skipped_unpopulated},
             {"ballooned", s.skipped_ballooned},
             {"hinted", s.skipped_hinted}}}};
  json rounds = json::array();
  for (const migration::MigrationStats::Round& r : s.round_history) {
    rounds.push_back({{"round", r.round},
                      {"dirty_bytes", r.dirty_bytes},
                      {"bytes_sent", r.bytes_sent},
                      {"ms", r.ms},
                      {"paused", r.paused}});
  }
  out["round_history"] = std::move(rounds);
  if (!s.error.empty()) out["error"] = s.error;
  return out;
}

// Optional fields of PUT /api/v1/migrate; each must have the right type.
absl::Status ReadMigrateOptions(const json& request, migration::MigrationOptions& options) {
  for (auto it = request.begin(); it != request.end(); ++it) {
    const std::string& key = it.key();
    const json& v = it.value();
    auto non_negative_number = [&]() -> absl::Status {
      if (!v.is_number() || v.get<double>() < 0) {
        return absl::InvalidArgumentError(key + " must be a non-negative number");
      }
      return absl::OkStatus();
    };
    if (key == "destination") continue;
    if (key == "downtime_ms") {
      if (absl::Status st = non_negative_number(); !st.ok()) return st;
      options.downtime_target_ms = v.get<double>();
    } else if (key == "bandwidth_mib_s") {
      if (absl::Status st = non_negative_number(); !st.ok()) return st;
      options.bandwidth_bytes_per_s = static_cast<uint64_t>(v.get<double>() * (1 << 20));
    } else if (key == "max_rounds") {
      if (!v.is_number_unsigned() || v.get<uint64_t>() < 1 || v.get<uint64_t>() > 1000) {
        return absl::InvalidArgumentError("max_rounds must be an integer from 1 to 1000");
      }
      options.max_rounds = v.get<uint32_t>();
    } else if (key == "free_page_hinting") {
      if (!v.is_boolean()) return absl::InvalidArgumentError("free_page_hinting must be true or false");
      options.free_page_hinting = v.get<bool>();
    } else {
      return absl::InvalidArgumentError("unknown field " + key);
    }
  }
  return absl::OkStatus();
}

ApiResponse PutMigrate(Control& control, const std::string& body) {
  json request = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (request.is_discarded() || !request.is_object()) return Error(400, "body is not a JSON object");
  auto dest = request.find("destination");
  if (dest == request.end() || !dest->is_string()) {
    return Error(400, "missing field destination (\"tls:HOST:PORT\", \"tcp:HOST:PORT\" or \"unix:PATH\")");
  }
  migration::MigrationOptions options;
  if (absl::Status st = ReadMigrateOptions(request, options); !st.ok()) return FromStatus(st);
  absl::Status status = control.StartMigration(dest->get<std::string>(), options);
  if (!status.ok()) return FromStatus(status);
  absl::StatusOr<migration::MigrationStats> stats = control.GetMigration();
  return {202, stats.ok() ? Dump(StatsJson(*stats)) : Dump(json{{"state", "setup"}})};
}

ApiResponse GetMigrate(Control& control) {
  absl::StatusOr<migration::MigrationStats> stats = control.GetMigration();
  if (!stats.ok()) return FromStatus(stats.status());
  return {200, Dump(StatsJson(*stats))};
}

// DELETE /api/v1/migrate and the two answers to an unknown outcome: no
// body, the figures back.
ApiResponse MigrationAction(absl::StatusOr<migration::MigrationStats> stats) {
  if (!stats.ok()) return FromStatus(stats.status());
  return {200, Dump(StatsJson(*stats))};
}

ApiResponse PutSnapshot(Control& control, const std::string& body) {
  json request = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (request.is_discarded() || !request.is_object()) return Error(400, "body is not a JSON object");
  auto path = request.find("path");
  if (path == request.end() || !path->is_string() || path->get<std::string>().empty()) {
    return Error(400, "missing field path (the snapshot file to write)");
  }
  absl::StatusOr<migration::MigrationStats> stats = control.Snapshot(path->get<std::string>());
  if (!stats.ok()) return FromStatus(stats.status());
  return {200, Dump(StatsJson(*stats))};
}

ApiResponse GetSnapshot(Control& control) {
  absl::StatusOr<SnapshotProgress> p = control.GetSnapshot();
  if (!p.ok()) return FromStatus(p.status());
  // The rate so far and the time left at it: the same figures `vmm ctl
  // snapshot` shows, so a script polling this need not work them out.
  const double rate = p->total_ms > 0 ? static_cast<double>(p->done_bytes) / (p->total_ms / 1000) : 0;
  json out{{"state", p->state},
           {"path", p->path},
           {"done_bytes", p->done_bytes},
           {"total_bytes", p->total_bytes},
           {"bytes_written", p->bytes_written},
           {"total_ms", p->total_ms},
           {"rate_mib_s", rate / (1 << 20)}};
  // Left out until the total is counted and a rate is known.
  if (const std::optional<double> left = base::SecondsLeft(p->done_bytes, p->total_bytes, rate);
      left.has_value() && p->total_bytes > 0) {
    out["eta_s"] = *left;
  }
  if (!p->error.empty()) out["error"] = p->error;
  return {200, Dump(out)};
}

ApiResponse GetBalloonStats(Control& control) {
  absl::StatusOr<std::vector<BalloonStat>> stats = control.GetBalloonStats();
  if (!stats.ok()) return FromStatus(stats.status());
  json out = json::object();
  for (const BalloonStat& s : *stats) out[s.name] = json{{"value", s.value}, {"unit", s.unit}};
  return {200, Dump(out)};
}

ApiResponse Ping() { return {200, Dump(json{{"version", std::string(base::Version())}})}; }

ApiResponse Done(const absl::Status& status, const char* state) {
  if (!status.ok()) return FromStatus(status);
  return {200, Dump(json{{"state", state}})};
}

// Seconds the guest gets to act on the power button before the VM is
// stopped, when the request names none.
constexpr double kDefaultShutdownTimeoutSeconds = 30;
constexpr double kMaxShutdownTimeoutSeconds = 24 * 3600;

ApiResponse PutShutdown(Control& control, const std::string& body) {
  double timeout = kDefaultShutdownTimeoutSeconds;
  if (!body.empty()) {
    json request = json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (request.is_discarded() || !request.is_object()) return Error(400, "body is not a JSON object");
    for (auto it = request.begin(); it != request.end(); ++it) {
      if (it.key() != "timeout_s") return Error(400, "unknown field " + it.key());
      if (!it->is_number() || it->get<double>() < 0 || it->get<double>() > kMaxShutdownTimeoutSeconds) {
        return Error(400, "timeout_s must be a number of seconds from 0 to 86400");
      }
      timeout = it->get<double>();
    }
  }
  absl::Status status = control.ShutdownVm(timeout);
  if (!status.ok()) return FromStatus(status);
  return {202, Dump(json{{"state", "shutting-down"}, {"timeout_s", timeout}})};
}

ApiResponse Metrics(Control& control) {
  return {200, FormatMetrics(control.GetMetrics()), kPrometheusContentType};
}

using Handler = ApiResponse (*)(Control&, const std::string& body);

struct RouteHandler {
  Route route;
  Handler handler;
};

// Every endpoint, in one table: the dispatcher, the 405 answers and
// ApiRoutes() (which the OpenAPI test compares with openapi.json) all
// read it.
const std::vector<RouteHandler>& Table() {
  static const std::vector<RouteHandler> table = {
      {{"GET", "/api/v1/ping"}, [](Control&, const std::string&) { return Ping(); }},
      {{"GET", "/api/v1/vm"}, [](Control& c, const std::string&) { return Vm(c); }},
      {{"PUT", "/api/v1/vm.pause"}, [](Control& c, const std::string&) { return Done(c.PauseVm(), "paused"); }},
      {{"PUT", "/api/v1/vm.resume"}, [](Control& c, const std::string&) { return Done(c.ResumeVm(), "running"); }},
      {{"PUT", "/api/v1/vm.shutdown"}, PutShutdown},
      {{"PUT", "/api/v1/balloon"}, PutBalloon},
      {{"GET", "/api/v1/balloon"}, [](Control& c, const std::string&) { return GetBalloon(c); }},
      {{"GET", "/api/v1/balloon/statistics"}, [](Control& c, const std::string&) { return GetBalloonStats(c); }},
      {{"PUT", "/api/v1/migrate"}, PutMigrate},
      {{"GET", "/api/v1/migrate"}, [](Control& c, const std::string&) { return GetMigrate(c); }},
      {{"DELETE", "/api/v1/migrate"},
       [](Control& c, const std::string&) { return MigrationAction(c.CancelMigration()); }},
      {{"POST", "/api/v1/migrate/resume"},
       [](Control& c, const std::string&) { return MigrationAction(c.ResumeMigrationSource()); }},
      {{"PUT", "/api/v1/migrate/resume"},
       [](Control& c, const std::string&) { return MigrationAction(c.ResumeMigrationSource()); }},
      {{"POST", "/api/v1/migrate/abandon"},
       [](Control& c, const std::string&) { return MigrationAction(c.AbandonMigrationSource()); }},
      {{"PUT", "/api/v1/migrate/abandon"},
       [](Control& c, const std::string&) { return MigrationAction(c.AbandonMigrationSource()); }},
      {{"PUT", "/api/v1/snapshot"}, PutSnapshot},
      {{"GET", "/api/v1/snapshot"}, [](Control& c, const std::string&) { return GetSnapshot(c); }},
      {{"GET", "/metrics"}, [](Control& c, const std::string&) { return Metrics(c); }},
  };
  return table;
}

}  // namespace

std::vector<Route> ApiRoutes() {
  std::vector<Route> routes;
  for (const RouteHandler& r : Table()) routes.push_back(r.route);
  return routes;
}

ApiResponse HandleApiRequest(Control& control, const std::string& method, const std::string& path,
                             const std::string& body) {
  std::string allowed;
  for (const RouteHandler& r : Table()) {
    if (r.route.path != path) continue;
    if (r.route.method == method) return r.handler(control, body);
    absl::StrAppend(&allowed, allowed.empty() ? "" : ", ", r.route.method);
  }
  if (!allowed.empty()) return Error(405, "method not allowed; use " + allowed);
  return Error(404, "no such endpoint: " + path);
}

}  // namespace vmm::api
