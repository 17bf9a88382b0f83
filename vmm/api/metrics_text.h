// SPDX-License-Identifier: MIT
// GET /metrics: a VmMetrics snapshot in the Prometheus text format, named
// like the node exporter's metrics (a vmm_ prefix, base units as suffixes:
// _bytes, _seconds, counters in _total) so a scrape needs no relabelling.
#ifndef VMM_API_METRICS_TEXT_H_
#define VMM_API_METRICS_TEXT_H_

#include <string>

#include "vmm/api/control.h"

namespace vmm::api {

std::string FormatMetrics(const VmMetrics& metrics);

}  // namespace vmm::api

#endif  // VMM_API_METRICS_TEXT_H_
