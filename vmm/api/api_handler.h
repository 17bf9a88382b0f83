// SPDX-License-Identifier: MIT
// The control API's request handling: method + path + JSON body in, status
// code + JSON body out. Pure (no sockets), so every endpoint and every
// malformed request is unit-tested. Endpoints (see README):
//   GET /api/v1/ping                the VMM version
//   GET /api/v1/vm                  state, memory, vCPUs, the VMM version
//   PUT /api/v1/vm.pause, vm.resume the user's pause
//   PUT /api/v1/vm.shutdown         {"timeout_s": N}: ACPI power button, then a hard stop
//   PUT /api/v1/balloon             {"size_mib": N}
//   GET /api/v1/balloon             target, actual, features, counters
//   GET /api/v1/balloon/statistics  the guest's statistics, virtio names and units
//   PUT/GET/DELETE /api/v1/migrate  start, follow, cancel a migration
//   POST /api/v1/migrate/resume     after an unknown outcome: run the guest here
//   POST /api/v1/migrate/abandon    after an unknown outcome: end without running it
//   PUT /api/v1/snapshot            {"path": FILE}: answers once it is written
//   GET /api/v1/snapshot            the running or last snapshot's progress
//   GET /metrics                    Prometheus text format
// openapi.json describes each; openapi_test keeps the two in step.
#ifndef VMM_API_API_HANDLER_H_
#define VMM_API_API_HANDLER_H_

#include <string>
#include <vector>

#include "vmm/api/control.h"

namespace vmm::api {

struct ApiResponse {
  int status = 200;
  std::string body;  // JSON, except for /metrics
  std::string content_type = "application/json";
};

struct Route {
  std::string method;
  std::string path;
};
// Every method and path HandleApiRequest serves.
std::vector<Route> ApiRoutes();

ApiResponse HandleApiRequest(Control& control, const std::string& method, const std::string& path,
                             const std::string& body);

}  // namespace vmm::api

#endif  // VMM_API_API_HANDLER_H_
