// SPDX-License-Identifier: MIT
// openapi.json against the real server: every documented route answers
// with a documented status code and fields its schema lists (no more, none
// of the required ones missing), and every route the handler serves is
// documented. A change to either side without the other fails here.
#include <httplib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "vmm/api/api_handler.h"
#include "vmm/api/api_server.h"

namespace vmm::api {
namespace {

using nlohmann::json;

json LoadSpec() {
  std::ifstream file(VMM_OPENAPI_JSON);
  return json::parse(file, nullptr, /*allow_exceptions=*/false);
}

// A VM that says yes to everything, with every optional field filled, so
// each success response shows its whole shape.
class AgreeableControl : public Control {
 public:
  VmInfo GetVmInfo() override { return {"running", 512ull << 20, 2, false}; }
  absl::Status SetBalloonTarget(uint64_t) override { return absl::OkStatus(); }
  absl::StatusOr<BalloonInfo> GetBalloonInfo() override {
    return BalloonInfo{256 << 20, 128 << 20, {"STATS_VQ"}, {{"requests", 2}}};
  }
  absl::StatusOr<std::vector<BalloonStat>> GetBalloonStats() override {
    return std::vector<BalloonStat>{{"free_memory", 4096, "bytes"}, {"major_faults", 3, "count"}};
  }
  absl::Status StartMigration(const std::string&, const migration::MigrationOptions&) override {
    return absl::OkStatus();
  }
  absl::StatusOr<migration::MigrationStats> GetMigration() override { return Stats(); }
  absl::StatusOr<migration::MigrationStats> CancelMigration() override { return Stats(); }
  absl::StatusOr<migration::MigrationStats> ResumeMigrationSource() override { return Stats(); }
  absl::StatusOr<migration::MigrationStats> AbandonMigrationSource() override { return Stats(); }
  absl::StatusOr<migration::MigrationStats> Snapshot(const std::string&) override { return Stats(); }
  absl::StatusOr<SnapshotProgress> GetSnapshot() override {
    return SnapshotProgress{.state = "failed", .path = "/tmp/vm.snap", .done_bytes = 1 << 20, .total_bytes = 2 << 20,
                            .bytes_written = 1 << 20, .total_ms = 12, .error = "disk full"};
  }
  absl::Status PauseVm() override { return absl::OkStatus(); }
  absl::Status ResumeVm() override { return absl::OkStatus(); }
  absl::Status ShutdownVm(double) override { return absl::OkStatus(); }
  VmMetrics GetMetrics() override { return VmMetrics{.uptime_seconds = 1}; }

 private:
  static migration::MigrationStats Stats() {
    return migration::MigrationStats{
        .phase = "failed",
        .round = 2,
        .round_history = {{.round = 1, .dirty_bytes = 8192, .bytes_sent = 8300, .ms = 1.5},
                          {.round = 2, .dirty_bytes = 4096, .bytes_sent = 4150, .ms = 0.5, .paused = true}},
        .error = "the destination went away"};
  }
};

const json& Resolve(const json& spec, const json& schema) {
  if (!schema.contains("$ref")) return schema;
  const std::string ref = schema["$ref"];  // "#/components/schemas/X"
  return spec.at(json::json_pointer(ref.substr(1)));
}

// Differences between `value` and `schema`, each naming where.
void Check(const json& spec, const json& value, const json& raw_schema, const std::string& where,
           std::vector<std::string>& problems) {
  const json& schema = Resolve(spec, raw_schema);
  const std::string type = schema.value("type", "");
  auto fail = [&](const std::string& what) { problems.push_back(where + ": " + what); };
  if (schema.contains("enum") && std::find(schema["enum"].begin(), schema["enum"].end(), value) == schema["enum"].end()) {
    fail("value " + value.dump() + " is not in the enum");
  }
  if (type == "object") {
    if (!value.is_object()) return fail("not an object");
    const json properties = schema.value("properties", json::object());
    for (const std::string& name : schema.value("required", std::vector<std::string>{})) {
      if (!value.contains(name)) fail("required field " + name + " is missing");
    }
    for (auto it = value.begin(); it != value.end(); ++it) {
      if (properties.contains(it.key())) {
        Check(spec, it.value(), properties[it.key()], where + "." + it.key(), problems);
      } else if (schema.contains("additionalProperties") && schema["additionalProperties"].is_object()) {
        Check(spec, it.value(), schema["additionalProperties"], where + "." + it.key(), problems);
      } else {
        fail("field " + it.key() + " is not in the schema");
      }
    }
  } else if (type == "array") {
    if (!value.is_array()) return fail("not an array");
    for (const json& item : value) Check(spec, item, schema["items"], where + "[]", problems);
  } else if (type == "integer") {
    if (!value.is_number_integer()) fail("not an integer: " + value.dump());
  } else if (type == "number") {
    if (!value.is_number()) fail("not a number: " + value.dump());
  } else if (type == "string") {
    if (!value.is_string()) fail("not a string: " + value.dump());
  } else if (type == "boolean") {
    if (!value.is_boolean()) fail("not a boolean: " + value.dump());
  } else {
    fail("schema without a type this test knows: " + schema.dump());
  }
}

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

TEST(OpenApi, DescribesExactlyTheRoutesTheServerServes) {
  json spec = LoadSpec();
  ASSERT_FALSE(spec.is_discarded()) << VMM_OPENAPI_JSON << " is not JSON";
  std::set<std::pair<std::string, std::string>> documented, served;
  for (auto& [path, item] : spec["paths"].items()) {
    for (auto& [method, operation] : item.items()) documented.insert({Upper(method), path});
  }
  for (const Route& r : ApiRoutes()) served.insert({r.method, r.path});
  for (const auto& [method, path] : served) EXPECT_TRUE(documented.count({method, path})) << "undocumented: " << method << " " << path;
  for (const auto& [method, path] : documented) EXPECT_TRUE(served.count({method, path})) << "not served: " << method << " " << path;
}

TEST(OpenApi, EveryRouteAnswersWhatItsSchemaSays) {
  json spec = LoadSpec();
  ASSERT_FALSE(spec.is_discarded());
  AgreeableControl control;
  const std::string socket = ::testing::TempDir() + "/openapi-" + std::to_string(::getpid()) + ".sock";
  auto server = ApiServer::Start(socket, control);
  ASSERT_TRUE(server.ok()) << server.status();
  httplib::Client client(socket);
  client.set_address_family(AF_UNIX);
  int checked = 0;
  for (auto& [path, item] : spec["paths"].items()) {
    for (auto& [method, operation] : item.items()) {
      const std::string what = Upper(method) + " " + path;
      std::string body;
      if (operation.contains("requestBody")) body = operation["requestBody"]["content"]["application/json"]["example"].dump();
      httplib::Request request;
      request.method = Upper(method);
      request.path = path;
      request.body = body;
      if (!body.empty()) request.set_header("Content-Type", "application/json");
      httplib::Result result = client.send(request);
      ASSERT_TRUE(result) << what << ": " << httplib::to_string(result.error());
      const std::string status = std::to_string(result->status);
      ASSERT_TRUE(operation["responses"].contains(status)) << what << " answered undocumented " << status << ": " << result->body;
      const json& response = operation["responses"][status];
      ASSERT_TRUE(response.contains("content")) << what;
      const std::string content_type = result->get_header_value("Content-Type");
      if (response["content"].contains("application/json")) {
        EXPECT_EQ(content_type, "application/json") << what;
        json value = json::parse(result->body, nullptr, false);
        ASSERT_FALSE(value.is_discarded()) << what << ": " << result->body;
        std::vector<std::string> problems;
        Check(spec, value, response["content"]["application/json"]["schema"], what, problems);
        for (const std::string& p : problems) ADD_FAILURE() << p << " (body " << result->body << ")";
      } else {
        ASSERT_TRUE(response["content"].contains("text/plain")) << what;
        EXPECT_EQ(content_type.rfind("text/plain", 0), 0u) << what << ": " << content_type;
      }
      ++checked;
    }
  }
  EXPECT_EQ(checked, static_cast<int>(ApiRoutes().size()));
}

// The documented error shape and a documented 400 for each route that
// takes a body.
TEST(OpenApi, MalformedBodiesGetTheDocumentedError) {
  json spec = LoadSpec();
  ASSERT_FALSE(spec.is_discarded());
  AgreeableControl control;
  for (auto& [path, item] : spec["paths"].items()) {
    for (auto& [method, operation] : item.items()) {
      if (!operation.contains("requestBody")) continue;
      const std::string what = Upper(method) + " " + path;
      ApiResponse r = HandleApiRequest(control, Upper(method), path, "not json");
      EXPECT_EQ(r.status, 400) << what;
      ASSERT_TRUE(operation["responses"].contains("400")) << what;
      std::vector<std::string> problems;
      Check(spec, json::parse(r.body), operation["responses"]["400"]["content"]["application/json"]["schema"], what,
            problems);
      EXPECT_TRUE(problems.empty()) << problems.front();
    }
  }
}

}  // namespace
}  // namespace vmm::api
