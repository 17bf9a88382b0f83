// SPDX-License-Identifier: MIT
// `vmm ctl`: the command-line client of the control API.
//   vmm ctl --api PATH status | ping | pause | resume | metrics
//   vmm ctl --api PATH shutdown [--timeout 30s]
//   vmm ctl --api PATH balloon SIZE      (e.g. 3G, 256M, 0)
//   vmm ctl --api PATH balloon           (target, actual, counters)
//   vmm ctl --api PATH balloon stats
//   vmm ctl --api PATH migrate tcp:HOST:PORT|unix:PATH [--json] [--downtime-ms N]
//       [--max-rounds N] [--bandwidth-mib-s N] [--free-page-hinting=false]
//   vmm ctl --api PATH migrate-status | migrate-cancel      (GET, DELETE /api/v1/migrate)
//   vmm ctl --api PATH migrate-resume | migrate-abandon     (after an unknown outcome)
//   vmm ctl --api PATH snapshot FILE [--json]
#ifndef VMM_API_API_CLIENT_H_
#define VMM_API_API_CLIENT_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "migration/stats.h"

namespace vmm::api {

// Runs one ctl command; prints the response and returns the exit status
// (0 success, 1 the API or the connection failed, 2 bad usage).
struct CtlOptions {
  bool json = false;  // migrate/snapshot: one JSON object instead of a summary line
  migration::MigrationOptions migrate;
  // shutdown: seconds the guest gets to act on the power button (unset:
  // the server's default).
  std::optional<double> shutdown_timeout_seconds;
  // migrate/snapshot on a stderr that is not a terminal: a progress line
  // at most this often (on a terminal the bar is redrawn at every poll).
  absl::Duration progress_interval = absl::Seconds(5);
};
int RunCtlCommand(const std::string& socket_path, const std::vector<std::string>& words,
                  const CtlOptions& options = {});

}  // namespace vmm::api

#endif  // VMM_API_API_CLIENT_H_
