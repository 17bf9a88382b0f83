#include "vmm/api/api_handler.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace vmm::api {
namespace {

// A Control that records calls; the real one is vmm::Machine, exercised by
// the guest tests.
class RecordingControl : public Control {
 public:
  VmInfo GetVmInfo() override { return {"running", 1ull << 30, 2, true}; }
  absl::Status SetBalloonTarget(uint64_t bytes) override {
    if (bytes > (1ull << 30)) return absl::InvalidArgumentError("balloon larger than guest RAM");
    target = bytes;
    return absl::OkStatus();
  }
  absl::StatusOr<BalloonInfo> GetBalloonInfo() override {
    return BalloonInfo{target, target / 2, {"STATS_VQ"}, {{"discard_calls", 3}}};
  }
  absl::StatusOr<std::vector<BalloonStat>> GetBalloonStats() override {
    return std::vector<BalloonStat>{{"free_memory", 4096, "bytes"}};
  }
  uint64_t target = 0;
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
  ApiResponse r = HandleApiRequest(c, "PUT", "/api/v1/balloon", R"({"size_mib": 2048})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(Parse(r)["error"].get<std::string>().find("larger than guest RAM"), std::string::npos);
  EXPECT_EQ(c.target, 7u);
}

TEST(ApiHandler, UnknownPathAndMethod) {
  RecordingControl c;
  EXPECT_EQ(HandleApiRequest(c, "GET", "/api/v1/nothing", "").status, 404);
  EXPECT_EQ(HandleApiRequest(c, "DELETE", "/api/v1/vm", "").status, 405);
  EXPECT_EQ(HandleApiRequest(c, "POST", "/api/v1/balloon", "{}").status, 405);
}

TEST(ApiHandler, Statistics) {
  RecordingControl c;
  ApiResponse r = HandleApiRequest(c, "GET", "/api/v1/balloon/statistics", "");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(Parse(r)["free_memory"]["unit"], "bytes");
}

}  // namespace
}  // namespace vmm::api
