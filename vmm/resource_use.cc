// SPDX-License-Identifier: MIT
#include "vmm/resource_use.h"

#include <sys/resource.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "base/logging.h"

namespace vmm {
namespace {

// "   1234 kB" -> 1234; 0 when it does not parse.
uint64_t Kib(absl::string_view value) {
  value = absl::StripAsciiWhitespace(value);
  absl::ConsumeSuffix(&value, "kB");
  uint64_t kib = 0;
  return absl::SimpleAtoi(absl::StripAsciiWhitespace(value), &kib) ? kib : 0;
}

}  // namespace

SmapsRollup ParseSmapsRollup(absl::string_view text) {
  SmapsRollup out;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    absl::string_view value = line;
    if (absl::ConsumePrefix(&value, "Rss:")) out.rss_kib = Kib(value);
    else if (absl::ConsumePrefix(&value, "Pss_Anon:")) out.pss_anon_kib = Kib(value);
    else if (absl::ConsumePrefix(&value, "Pss_File:")) out.pss_file_kib = Kib(value);
  }
  return out;
}

ResourceUse ReadResourceUse(int guest_memfd) {
  // Guest RAM is the memfd (shmem): its allocated blocks are the guest's
  // resident pages, whether or not the VMM's mapping ever touched them
  // (migration and the loader write through the memfd, so RSS misses
  // those). The VMM's own overhead is its proportional share of everything
  // else: Pss_Anon + Pss_File (shared libraries count by their share, as a
  // host running many VMMs pays for them).
  std::ifstream file("/proc/self/smaps_rollup");
  std::stringstream text;
  text << file.rdbuf();
  const SmapsRollup rollup = ParseSmapsRollup(text.str());
  struct stat st {};
  ::fstat(guest_memfd, &st);
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return ResourceUse{.rss_kib = rollup.rss_kib,
                     .guest_ram_resident_kib = static_cast<uint64_t>(st.st_blocks) * 512 / 1024,
                     .vmm_overhead_kib = rollup.pss_anon_kib + rollup.pss_file_kib,
                     .user_seconds = seconds(usage.ru_utime),
                     .system_seconds = seconds(usage.ru_stime)};
}

void LogResourceUse(int guest_memfd) {
  const ResourceUse use = ReadResourceUse(guest_memfd);
  LOG_INFO("resources: rss_kib=%u guest_ram_resident_kib=%u vmm_overhead_kib=%u user_ms=%d sys_ms=%d",
           use.rss_kib, use.guest_ram_resident_kib, use.vmm_overhead_kib,
           static_cast<int64_t>(use.user_seconds * 1000), static_cast<int64_t>(use.system_seconds * 1000));
}

}  // namespace vmm
