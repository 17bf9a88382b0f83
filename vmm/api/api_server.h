// The control API's HTTP/1.1 server on a Unix socket (cpp-httplib), in the
// style of Firecracker's and Cloud Hypervisor's APIs, so that
// `curl --unix-socket PATH http://localhost/api/v1/vm` works. Requests are
// served on the server's own threads and handed to HandleApiRequest().
#ifndef VMM_API_API_SERVER_H_
#define VMM_API_API_SERVER_H_

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "vmm/api/control.h"

namespace httplib {
class Server;
}

namespace vmm::api {

class ApiServer {
 public:
  static absl::StatusOr<std::unique_ptr<ApiServer>> Start(const std::string& socket_path,
                                                          Control& control);
  ~ApiServer();

 private:
  ApiServer(std::string path, std::unique_ptr<httplib::Server> server);
  std::string path_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
};

}  // namespace vmm::api

#endif  // VMM_API_API_SERVER_H_
