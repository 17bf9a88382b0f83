// SPDX-License-Identifier: MIT
#include "vmm/receive_progress.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/progress_line.h"

namespace vmm {

double RestoreRate(const migration::ReadProgress& p, absl::Duration elapsed) {
  const double seconds = absl::ToDoubleSeconds(elapsed);
  if (seconds < 0.5 && !p.done) return 0;
  return static_cast<double>(p.done_bytes) / std::max(seconds, 1e-3);
}

std::string RestoreProgressText(std::string_view path, const migration::ReadProgress& p, double bytes_per_second) {
  return absl::StrCat("restoring ", std::string(path), ": ", base::TransferText(p.done_bytes, p.total_bytes, bytes_per_second));
}

std::string IncomingProgressText(std::string_view source, const migration::ReadProgress& p, double bytes_per_second) {
  // Rounds counted as the source counts them: the live ones (each ended by
  // ROUND_END) and the last pass, sent while the guest is paused, which
  // ends with MEMORY_END instead.
  const uint32_t all_rounds = p.rounds + 1;
  std::string stage;
  if (p.done) {
    stage = absl::StrFormat("received in %d round%s", all_rounds, all_rounds == 1 ? "" : "s");
  } else if (p.memory_done) {
    stage = absl::StrFormat("memory in after %d round%s, loading the state", all_rounds, all_rounds == 1 ? "" : "s");
  } else {
    stage = absl::StrFormat("round %d", p.rounds + 1);
  }
  constexpr double kMib = 1 << 20;
  return absl::StrFormat("incoming migration from %s: %s, %.1f MiB received, %.0f MiB/s", source, stage,
                         static_cast<double>(p.done_bytes) / kMib, std::max(bytes_per_second, 0.0) / kMib);
}

BarEnds IncomingBar(const migration::ReadProgress& p, uint64_t guest_ram_bytes) {
  const uint64_t total = std::max<uint64_t>(guest_ram_bytes, 1);
  if (p.done) return {total, total};
  // One short of full until the end: a guest whose later rounds resend
  // pages passes its RAM size long before the stream ends.
  return {std::min(p.done_bytes, total - 1), total};
}

}  // namespace vmm
