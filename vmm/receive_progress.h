// SPDX-License-Identifier: MIT
// How `vmm run` words a guest arriving: from a snapshot file (--restore),
// whose length is known, and from a migration source (--incoming), whose
// stream is not (it runs until the source decides to stop and copy). The
// figures come from migration::Receiver; ProgressLine draws them.
#ifndef VMM_RECEIVE_PROGRESS_H_
#define VMM_RECEIVE_PROGRESS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "migration/receiver.h"

namespace vmm {

// The average rate of a restore after `elapsed`: none during the first
// half second (the header alone would promise minutes), unless done.
double RestoreRate(const migration::ReadProgress& p, absl::Duration elapsed);

// "restoring /var/tmp/vm.snap: 400.0 of 1000.0 MiB (40%), 50 MiB/s, 12 s left"
std::string RestoreProgressText(std::string_view path, const migration::ReadProgress& p, double bytes_per_second);

// "incoming migration from local pid 7 (uid 0): round 3, 412.5 MiB received, 210 MiB/s"
// then "...: memory in after 4 rounds, loading the state, ..." once the
// memory is in, and "...: received in 4 rounds, ..." at the end. The round
// is the one being received (rounds ended + 1), counted as the source
// counts them (the paused last pass is one); the rate is the recent one
// (RecentRate).
std::string IncomingProgressText(std::string_view source, const migration::ReadProgress& p, double bytes_per_second);

// The bar's two ends for an incoming stream: bytes received against the
// guest's RAM, as the source's bar counts bytes sent. Later rounds can take
// the count past the RAM size; the bar is full only once the stream is.
struct BarEnds {
  uint64_t done = 0;
  uint64_t total = 0;
};
BarEnds IncomingBar(const migration::ReadProgress& p, uint64_t guest_ram_bytes);

}  // namespace vmm

#endif  // VMM_RECEIVE_PROGRESS_H_
