// SPDX-License-Identifier: MIT
#include "vmm/api/api_server.h"

#include <httplib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/logging.h"
#include "vmm/api/api_handler.h"
#include "vmm/api/connection_pool.h"
#include "vmm/seccomp/thread_filter.h"

namespace vmm::api {
namespace {

// A socket file left behind by a VMM that died is replaced; one that a
// live process still listens on is not.
absl::Status ClaimSocketPath(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return absl::OkStatus();
  if (!S_ISSOCK(st.st_mode)) {
    return absl::AlreadyExistsError(absl::StrCat("--api-socket ", path, " exists and is not a socket"));
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("--api-socket path is too long: ", path));
  }
  path.copy(addr.sun_path, path.size());
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  bool in_use = fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  if (fd >= 0) ::close(fd);
  if (in_use) {
    return absl::AlreadyExistsError(absl::StrCat("--api-socket ", path, " is in use by another process"));
  }
  ::unlink(path.c_str());
  return absl::OkStatus();
}

// bind() creates the socket file with mode 0777 less the umask, and a
// client could connect before a chmod afterwards narrows it: the umask is
// set for the bind so that the file never has more than `mode`, and the
// chmod then gives it exactly `mode`. The umask is the process's; no other
// thread creates files while the VMM starts its API.
bool BindWithMode(httplib::Server& server, const std::string& path, mode_t mode) {
  const mode_t previous = ::umask(~mode & 0777);
  const bool bound = server.bind_to_port(path, 80);
  ::umask(previous);
  return bound && ::chmod(path.c_str(), mode) == 0;
}

}  // namespace

ApiServer::ApiServer(std::string path, std::unique_ptr<httplib::Server> server,
                     std::shared_ptr<ConnectionGauge> gauge)
    : path_(std::move(path)), server_(std::move(server)), gauge_(std::move(gauge)) {}

absl::StatusOr<std::unique_ptr<ApiServer>> ApiServer::Start(const std::string& socket_path, Control& control,
                                                            const ApiServerOptions& options) {
  if (socket_path.empty()) return absl::InvalidArgumentError("--api-socket path is empty");
  if (options.socket_mode > 0777) {
    return absl::InvalidArgumentError(absl::StrFormat("--api-socket-mode %04o has bits beyond 0777", options.socket_mode));
  }
  if (options.max_connections == 0) return absl::InvalidArgumentError("the API needs at least one connection");
  if (absl::Status claimed = ClaimSocketPath(socket_path); !claimed.ok()) return claimed;
  auto server = std::make_unique<httplib::Server>();
  server->set_address_family(AF_UNIX);
  // Larger bodies are answered 413 from their Content-Length, unread.
  server->set_payload_max_length(options.max_body_bytes);
  server->set_read_timeout(options.read_timeout_seconds, 0);
  server->set_keep_alive_timeout(options.read_timeout_seconds);
  auto gauge = std::make_shared<ConnectionGauge>();
  server->new_task_queue = [gauge, options] {
    return new ConnectionPool(options.max_connections, options.max_waiting_connections, gauge);
  };
  auto handler = [&control](const httplib::Request& request, httplib::Response& response) {
    ApiResponse out = HandleApiRequest(control, request.method, request.path, request.body);
    response.status = out.status;
    response.set_content(out.body, out.content_type);
  };
  for (const char* pattern : {"/.*"}) {
    server->Get(pattern, handler);
    server->Put(pattern, handler);
    server->Post(pattern, handler);
    server->Patch(pattern, handler);
    server->Delete(pattern, handler);
  }
  // Malformed HTTP never reaches the handler; cpp-httplib answers 400.
  server->set_error_handler([max = options.max_body_bytes](const httplib::Request&, httplib::Response& response) {
    if (!response.body.empty()) return;
    const std::string what = response.status == 413 ? absl::StrCat("request body larger than ", max, " bytes")
                                                    : absl::StrCat("HTTP ", response.status);
    response.set_content(absl::StrCat("{\"error\":\"", what, "\"}"), "application/json");
  });
  if (!BindWithMode(*server, socket_path, options.socket_mode)) {
    return absl::UnavailableError(absl::StrCat("cannot listen on --api-socket ", socket_path));
  }
  std::unique_ptr<ApiServer> api(new ApiServer(socket_path, std::move(server), std::move(gauge)));
  // The listener confines itself before it serves; cpp-httplib starts its
  // worker pool from this thread inside listen_after_bind, so the workers
  // that run the requests inherit the filter.
  auto listener_ended = std::make_shared<std::atomic<bool>>(false);
  api->thread_ = std::thread([raw = api->server_.get(), listener_ended] {
    seccomp::ConfineThisThread(seccomp::ThreadKind::kApiServer);
    raw->listen_after_bind();
    listener_ended->store(true);
  });
  // cpp-httplib's stop() does nothing until its listener runs, so a server
  // stopped before that would never end: return only once it serves.
  while (!api->server_->is_running() && !listener_ended->load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  LOG_INFO("control API listening on %s", socket_path);
  return api;
}

size_t ApiServer::connections_held() const { return gauge_->held.load(); }

size_t ApiServer::peak_connections_held() const { return gauge_->peak.load(); }

ApiServer::~ApiServer() {
  server_->stop();
  if (thread_.joinable()) thread_.join();
  ::unlink(path_.c_str());
}

}  // namespace vmm::api
