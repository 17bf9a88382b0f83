// SPDX-License-Identifier: MIT
// The VMM's resource figures, logged once when the guest ends (for the
// operator; bench/ measures both VMMs from /proc instead): memory from /proc/self/smaps_rollup and the guest RAM
// memfd, CPU time from getrusage. Reads only this process's own files.
#ifndef VMM_RESOURCE_USE_H_
#define VMM_RESOURCE_USE_H_

#include <cstdint>

#include "absl/strings/string_view.h"

namespace vmm {

// The smaps_rollup fields the log line uses, in KiB; absent ones are 0.
struct SmapsRollup {
  uint64_t rss_kib = 0;
  uint64_t pss_anon_kib = 0;
  uint64_t pss_file_kib = 0;
};
SmapsRollup ParseSmapsRollup(absl::string_view text);

// This process's figures now, for the log line and GET /metrics.
struct ResourceUse {
  uint64_t rss_kib = 0;
  uint64_t guest_ram_resident_kib = 0;
  uint64_t vmm_overhead_kib = 0;  // Pss_Anon + Pss_File
  double user_seconds = 0;
  double system_seconds = 0;
};
ResourceUse ReadResourceUse(int guest_memfd);

// Logs "resources: rss_kib=... guest_ram_resident_kib=... vmm_overhead_kib=...
// user_ms=... sys_ms=..." for this process, whose guest RAM is `guest_memfd`.
void LogResourceUse(int guest_memfd);

}  // namespace vmm

#endif  // VMM_RESOURCE_USE_H_
