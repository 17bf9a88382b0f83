// The control API's request handling: method + path + JSON body in, status
// code + JSON body out. Pure (no sockets), so every endpoint and every
// malformed request is unit-tested. Endpoints (see README):
//   GET /api/v1/vm                  state, memory, vCPUs
//   PUT /api/v1/balloon             {"size_mib": N}
//   GET /api/v1/balloon             target, actual, features, counters
//   GET /api/v1/balloon/statistics  the guest's statistics, virtio names and units
#ifndef VMM_API_API_HANDLER_H_
#define VMM_API_API_HANDLER_H_

#include <string>

#include "vmm/api/control.h"

namespace vmm::api {

struct ApiResponse {
  int status = 200;
  std::string body;  // JSON
};

ApiResponse HandleApiRequest(Control& control, const std::string& method, const std::string& path,
                             const std::string& body);

}  // namespace vmm::api

#endif  // VMM_API_API_HANDLER_H_
