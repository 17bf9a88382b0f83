// SPDX-License-Identifier: MIT
#include "vmm/vcpu_exit_counters.h"

namespace vmm {

VcpuExitCounters::VcpuExitCounters(size_t vcpus) : vcpus_(vcpus), rows_(std::make_unique<Row[]>(vcpus)) {}

std::vector<api::VcpuExitCount> VcpuExitCounters::Snapshot() const {
  std::vector<api::VcpuExitCount> out;
  for (size_t v = 0; v < vcpus_; ++v) {
    for (size_t r = 0; r < kExitReasonNames.size(); ++r) {
      uint64_t n = rows_[v].by_reason[r].load(std::memory_order_relaxed);
      if (n > 0) out.push_back({static_cast<uint32_t>(v), kExitReasonNames[r], n});
    }
  }
  return out;
}

}  // namespace vmm
