// SPDX-License-Identifier: MIT
// VcpuExitCounters: KVM_RUN exits per vCPU and reason, for GET /metrics.
// Each vCPU thread bumps only its own row (relaxed atomics on a cache line
// of its own, so vCPUs do not contend); a scrape reads them all. The
// reason is the VcpuExit variant's alternative, named in kExitReasonNames.
#ifndef VMM_VCPU_EXIT_COUNTERS_H_
#define VMM_VCPU_EXIT_COUNTERS_H_

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <variant>
#include <vector>

#include "vmm/api/control.h"
#include "vmm/kvm/vcpu.h"

namespace vmm {

// In the order of VcpuExit's alternatives.
inline constexpr std::array<const char*, 9> kExitReasonNames = {
    "io", "mmio", "halt", "shutdown", "system_event", "internal_error", "fail_entry", "interrupted", "unhandled"};
static_assert(kExitReasonNames.size() == std::variant_size_v<VcpuExit>);

class VcpuExitCounters {
 public:
  explicit VcpuExitCounters(size_t vcpus);

  // On vCPU `vcpu`'s own thread.
  void Count(size_t vcpu, size_t reason_index) {
    rows_[vcpu].by_reason[reason_index].fetch_add(1, std::memory_order_relaxed);
  }
  // Every (vCPU, reason) with a non-zero count.
  std::vector<api::VcpuExitCount> Snapshot() const;

 private:
  struct alignas(64) Row {
    std::array<std::atomic<uint64_t>, kExitReasonNames.size()> by_reason{};
  };
  size_t vcpus_;
  std::unique_ptr<Row[]> rows_;
};

}  // namespace vmm

#endif  // VMM_VCPU_EXIT_COUNTERS_H_
