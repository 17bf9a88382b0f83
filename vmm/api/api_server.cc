#include "vmm/api/api_server.h"

#include <httplib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>

#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "vmm/api/api_handler.h"

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

}  // namespace

ApiServer::ApiServer(std::string path, std::unique_ptr<httplib::Server> server)
    : path_(std::move(path)), server_(std::move(server)) {}

absl::StatusOr<std::unique_ptr<ApiServer>> ApiServer::Start(const std::string& socket_path,
                                                            Control& control) {
  if (socket_path.empty()) return absl::InvalidArgumentError("--api-socket path is empty");
  if (absl::Status claimed = ClaimSocketPath(socket_path); !claimed.ok()) return claimed;
  auto server = std::make_unique<httplib::Server>();
  server->set_address_family(AF_UNIX);
  auto handler = [&control](const httplib::Request& request, httplib::Response& response) {
    ApiResponse out = HandleApiRequest(control, request.method, request.path, request.body);
    response.status = out.status;
    response.set_content(out.body, "application/json");
  };
  for (const char* pattern : {"/.*"}) {
    server->Get(pattern, handler);
    server->Put(pattern, handler);
    server->Post(pattern, handler);
    server->Patch(pattern, handler);
    server->Delete(pattern, handler);
  }
  // Malformed HTTP never reaches the handler; cpp-httplib answers 400.
  server->set_error_handler([](const httplib::Request&, httplib::Response& response) {
    if (response.body.empty()) {
      response.set_content(absl::StrCat("{\"error\":\"HTTP ", response.status, "\"}"), "application/json");
    }
  });
  if (!server->bind_to_port(socket_path, 80)) {
    return absl::UnavailableError(absl::StrCat("cannot listen on --api-socket ", socket_path));
  }
  std::unique_ptr<ApiServer> api(new ApiServer(socket_path, std::move(server)));
  api->thread_ = std::thread([raw = api->server_.get()] { raw->listen_after_bind(); });
  LOG_INFO("control API listening on %s", socket_path);
  return api;
}

ApiServer::~ApiServer() {
  server_->stop();
  if (thread_.joinable()) thread_.join();
  ::unlink(path_.c_str());
}

}  // namespace vmm::api
