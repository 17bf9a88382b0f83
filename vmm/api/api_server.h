// SPDX-License-Identifier: MIT
// The control API's HTTP/1.1 server on a Unix socket (cpp-httplib), in the
// style of Firecracker's and Cloud Hypervisor's APIs, so that
// `curl --unix-socket PATH http://localhost/api/v1/vm` works. Requests are
// served on the server's own threads and handed to HandleApiRequest().
//
// Trust boundary: whoever can open the socket controls the VM (and can make
// it write snapshot files), so the socket file is created with mode 0600
// unless the operator asks for another; request bodies above
// max_body_bytes are refused with 413 before they are read into memory, and
// at most max_connections clients are served at once (ConnectionPool).
#ifndef VMM_API_API_SERVER_H_
#define VMM_API_API_SERVER_H_

#include <sys/types.h>

#include <cstddef>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "vmm/api/control.h"

namespace httplib {
class Server;
}

namespace vmm::api {

struct ConnectionGauge;  // connection_pool.h

struct ApiServerOptions {
  mode_t socket_mode = 0600;  // --api-socket-mode
  // Every request this API takes is a small JSON object.
  size_t max_body_bytes = 64 << 10;
  // Clients served at once, and accepted ones waiting for a worker; more
  // wait in the kernel's listen backlog, unread.
  size_t max_connections = 4;
  size_t max_waiting_connections = 4;
  // A client that sends nothing for this long is dropped, freeing its
  // worker.
  int read_timeout_seconds = 5;
};

class ApiServer {
 public:
  static absl::StatusOr<std::unique_ptr<ApiServer>> Start(const std::string& socket_path, Control& control,
                                                          const ApiServerOptions& options = {});
  ~ApiServer();

  // Connections accepted and not yet finished (served or waiting), and the
  // most there ever were at once.
  size_t connections_held() const;
  size_t peak_connections_held() const;

 private:
  ApiServer(std::string path, std::unique_ptr<httplib::Server> server, std::shared_ptr<ConnectionGauge> gauge);
  std::string path_;
  std::unique_ptr<httplib::Server> server_;
  std::shared_ptr<ConnectionGauge> gauge_;
  std::thread thread_;
};

}  // namespace vmm::api

#endif  // VMM_API_API_SERVER_H_
