// SPDX-License-Identifier: MIT
// The API server on a real Unix socket: raw malformed HTTP, the socket's
// mode, the body limit, the connection limit, and a client pointed at a
// socket nobody serves.
#include "vmm/api/api_server.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "vmm/api/api_client.h"

namespace vmm::api {
namespace {

class FixedControl : public Control {
 public:
  VmInfo GetVmInfo() override { return {"running", 512ull << 20, 1, false}; }
  absl::Status SetBalloonTarget(uint64_t) override {
    ++balloon_requests;
    return absl::OkStatus();
  }
  std::atomic<int> balloon_requests{0};
  absl::StatusOr<BalloonInfo> GetBalloonInfo() override { return BalloonInfo{}; }
  absl::StatusOr<std::vector<BalloonStat>> GetBalloonStats() override { return std::vector<BalloonStat>{}; }
};

// A connected client socket, or -1 (errno set) when connect() fails.
int Connect(const std::string& path, int flags = 0) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | flags, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  path.copy(addr.sun_path, path.size());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    const int saved = errno;
    ::close(fd);
    errno = saved;
    return -1;
  }
  return fd;
}

std::string ReadToEnd(int fd) {
  std::string reply;
  char buffer[4096];
  ssize_t n;
  while ((n = ::read(fd, buffer, sizeof(buffer))) > 0) reply.append(buffer, static_cast<size_t>(n));
  if (n < 0) reply += std::string("<read: ") + std::strerror(errno) + ">";
  return reply;
}

std::string Exchange(const std::string& path, const std::string& request) {
  int fd = Connect(path);
  EXPECT_GE(fd, 0) << std::strerror(errno);
  EXPECT_EQ(::write(fd, request.data(), request.size()), static_cast<ssize_t>(request.size()));
  std::string reply = ReadToEnd(fd);
  ::close(fd);
  return reply;
}

constexpr char kGetVm[] = "GET /api/v1/vm HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

std::string SocketPath(const char* name) {
  return ::testing::TempDir() + "/" + name + "-" + std::to_string(::getpid()) + ".sock";
}

TEST(ApiServer, ServesJsonAndSurvivesGarbage) {
  std::string path = ::testing::TempDir() + "/api-test.sock";
  FixedControl control;
  auto server = ApiServer::Start(path, control);
  ASSERT_TRUE(server.ok()) << server.status();
  std::string ok = Exchange(path, kGetVm);
  EXPECT_NE(ok.find("200"), std::string::npos) << ok;
  EXPECT_NE(ok.find("\"memory_mib\":512"), std::string::npos) << ok;
  std::string garbage = Exchange(path, "\x01\x02 not http at all\r\n\r\n");
  EXPECT_NE(garbage.find("400"), std::string::npos) << garbage;
  // Still serving after the garbage.
  ok = Exchange(path, kGetVm);
  EXPECT_NE(ok.find("200"), std::string::npos);
  // A second server on the same live socket is refused.
  FixedControl other;
  EXPECT_FALSE(ApiServer::Start(path, other).ok());
}

TEST(ApiServer, SocketIsOwnerOnlyUnlessAskedOtherwise) {
  FixedControl control;
  const std::string path = SocketPath("api-mode");
  // A permissive umask must not widen it.
  const mode_t umask_before = ::umask(0);
  {
    auto server = ApiServer::Start(path, control);
    ASSERT_TRUE(server.ok()) << server.status();
    struct stat st;
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
    EXPECT_EQ(st.st_mode & 07777, 0600u);
  }
  {
    auto server = ApiServer::Start(path, control, {.socket_mode = 0660});
    ASSERT_TRUE(server.ok()) << server.status();
    struct stat st;
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0660u);
  }
  ::umask(umask_before);
  EXPECT_FALSE(ApiServer::Start(path, control, {.socket_mode = 04700}).ok());
}

TEST(ApiServer, BodyAboveTheLimitGets413AndNeverReachesTheVm) {
  FixedControl control;
  const std::string path = SocketPath("api-body");
  auto server = ApiServer::Start(path, control);
  ASSERT_TRUE(server.ok()) << server.status();
  constexpr size_t kBody = 10 << 20;
  int fd = Connect(path);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  const std::string head = "PUT /api/v1/balloon HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                           "Content-Length: " + std::to_string(kBody) + "\r\nConnection: close\r\n\r\n";
  // The body goes out on its own thread: the server may answer (and
  // close) before it has all of it, and the reply must still be read.
  std::thread body([fd, head] {
    std::string data = head + "{\"size_mib\": 1" + std::string(kBody - 17, ' ') + "}";
    size_t sent = 0;
    while (sent < data.size()) {
      ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += static_cast<size_t>(n);
    }
    // No shutdown(SHUT_WR): cpp-httplib takes a half-closed client for
    // gone and would not answer.
  });
  const std::string reply = ReadToEnd(fd);
  body.join();
  ::close(fd);
  EXPECT_EQ(reply.rfind("HTTP/1.1 413", 0), 0u) << reply.size() << " bytes: " << reply.substr(0, 200);
  EXPECT_NE(reply.find("larger than 65536 bytes"), std::string::npos) << reply.substr(0, 400);
  EXPECT_EQ(control.balloon_requests.load(), 0);
  // A request within the limit is served as before.
  const std::string ok = Exchange(path, "PUT /api/v1/balloon HTTP/1.1\r\nHost: x\r\nContent-Length: 15\r\n"
                                        "Connection: close\r\n\r\n{\"size_mib\": 1}");
  EXPECT_EQ(ok.rfind("HTTP/1.1 200", 0), 0u) << ok;
  EXPECT_EQ(control.balloon_requests.load(), 1);
}

// Idle clients take every worker and waiting place: a further client is
// neither served nor held by the server (it waits in the kernel's backlog,
// or its connect is refused once that is full) until they go.
TEST(ApiServer, ConnectionsBeyondTheLimitWaitUntilOthersEnd) {
  FixedControl control;
  const std::string path = SocketPath("api-conns");
  auto server = ApiServer::Start(
      path, control, {.max_connections = 2, .max_waiting_connections = 1, .read_timeout_seconds = 60});
  ASSERT_TRUE(server.ok()) << server.status();
  std::vector<int> idle;
  for (int i = 0; i < 3; ++i) {
    idle.push_back(Connect(path));
    ASSERT_GE(idle.back(), 0) << std::strerror(errno);
  }
  for (int i = 0; i < 6000 && (*server)->connections_held() < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ((*server)->connections_held(), 3u);

  int waiting = Connect(path);
  ASSERT_GE(waiting, 0) << std::strerror(errno);
  ASSERT_EQ(::write(waiting, kGetVm, sizeof(kGetVm) - 1), static_cast<ssize_t>(sizeof(kGetVm) - 1));
  // Many more: none of them may cost the server anything.
  std::vector<int> more;
  int refused = 0;
  for (int i = 0; i < 50; ++i) {
    int fd = Connect(path, SOCK_NONBLOCK);
    if (fd >= 0) {
      more.push_back(fd);
    } else {
      ++refused;
    }
  }
  pollfd answer{.fd = waiting, .events = POLLIN, .revents = 0};
  EXPECT_EQ(::poll(&answer, 1, 300), 0) << "served beyond the connection limit";
  EXPECT_EQ((*server)->connections_held(), 3u);
  EXPECT_GT(refused, 0) << "the kernel's backlog took all 50 more";

  for (int fd : more) ::close(fd);
  for (int fd : idle) ::close(fd);
  const std::string reply = ReadToEnd(waiting);
  ::close(waiting);
  EXPECT_EQ(reply.rfind("HTTP/1.1 200", 0), 0u) << reply;
  EXPECT_EQ((*server)->peak_connections_held(), 3u);
}

TEST(ApiClient, UnreachableSocketIsAClearFailure) {
  EXPECT_EQ(RunCtlCommand("/nonexistent/api.sock", {"status"}), 1);
  EXPECT_EQ(RunCtlCommand("", {"status"}), 2);
  EXPECT_EQ(RunCtlCommand("/x", {"balloon", "lots"}), 2);
  EXPECT_EQ(RunCtlCommand("/x", {"frob"}), 2);
}

}  // namespace
}  // namespace vmm::api
