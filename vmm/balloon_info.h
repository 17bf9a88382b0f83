// SPDX-License-Identifier: MIT
// What GET /api/v1/balloon and GET /api/v1/balloon/statistics report about
// the balloon: the negotiated features by their virtio names, the device's
// counters, and the guest's memory statistics. Reads the device only; the
// figures are the guest's and the device's, passed on as they are.
#ifndef VMM_BALLOON_INFO_H_
#define VMM_BALLOON_INFO_H_

#include <cstdint>
#include <string>
#include <vector>

#include "devices/balloon/balloon.h"
#include "vmm/api/control.h"

namespace vmm {

// VIRTIO_BALLOON_F_* names of the bits set in `features`, e.g. "STATS_VQ".
std::vector<std::string> BalloonFeatureNames(uint64_t features);

// Target, actual size, features the driver accepted, and the counters.
api::BalloonInfo DescribeBalloon(const devices::Balloon& balloon, uint64_t driver_features);

// Asks the guest for fresh statistics and waits briefly for them; when none
// come (stats not negotiated, a busy guest) returns the last known ones.
std::vector<api::BalloonStat> FreshBalloonStats(devices::Balloon& balloon);

}  // namespace vmm

#endif  // VMM_BALLOON_INFO_H_
