// The API server on a real Unix socket: raw malformed HTTP, and a client
// pointed at a socket nobody serves.
#include "vmm/api/api_server.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "vmm/api/api_client.h"

namespace vmm::api {
namespace {

class FixedControl : public Control {
 public:
  VmInfo GetVmInfo() override { return {"running", 512ull << 20, 1, false}; }
  absl::Status SetBalloonTarget(uint64_t) override { return absl::OkStatus(); }
  absl::StatusOr<BalloonInfo> GetBalloonInfo() override { return BalloonInfo{}; }
  absl::StatusOr<std::vector<BalloonStat>> GetBalloonStats() override { return std::vector<BalloonStat>{}; }
};

std::string Exchange(const std::string& path, const std::string& request) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  path.copy(addr.sun_path, path.size());
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  EXPECT_EQ(::write(fd, request.data(), request.size()), static_cast<ssize_t>(request.size()));
  std::string reply;
  char buffer[4096];
  ssize_t n;
  while ((n = ::read(fd, buffer, sizeof(buffer))) > 0) reply.append(buffer, static_cast<size_t>(n));
  ::close(fd);
  return reply;
}

TEST(ApiServer, ServesJsonAndSurvivesGarbage) {
  std::string path = ::testing::TempDir() + "/api-test.sock";
  FixedControl control;
  auto server = ApiServer::Start(path, control);
  ASSERT_TRUE(server.ok()) << server.status();
  std::string ok = Exchange(path, "GET /api/v1/vm HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_NE(ok.find("200"), std::string::npos) << ok;
  EXPECT_NE(ok.find("\"memory_mib\":512"), std::string::npos) << ok;
  std::string garbage = Exchange(path, "\x01\x02 not http at all\r\n\r\n");
  EXPECT_NE(garbage.find("400"), std::string::npos) << garbage;
  // Still serving after the garbage.
  ok = Exchange(path, "GET /api/v1/vm HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_NE(ok.find("200"), std::string::npos);
  // A second server on the same live socket is refused.
  FixedControl other;
  EXPECT_FALSE(ApiServer::Start(path, other).ok());
}

TEST(ApiClient, UnreachableSocketIsAClearFailure) {
  EXPECT_EQ(RunCtlCommand("/nonexistent/api.sock", {"status"}), 1);
  EXPECT_EQ(RunCtlCommand("", {"status"}), 2);
  EXPECT_EQ(RunCtlCommand("/x", {"balloon", "lots"}), 2);
  EXPECT_EQ(RunCtlCommand("/x", {"frob"}), 2);
}

}  // namespace
}  // namespace vmm::api
