// SPDX-License-Identifier: MIT
// A sampling profiler of the guest, for `vmm run --profile-guest=PATH`.
//
// On PVM the guest kernel is emulated instruction by instruction, so a loop
// that costs nothing on hardware can dominate a boot or a device protocol.
// This finds such loops: a timer thread kicks every vCPU thread out of
// KVM_RUN (the same signal VcpuRunner uses to pause them), and the vCPU thread,
// seeing the interrupted run, records where the guest was. One line per
// sample:
//   <host ms> <vcpu> <rip> [<kernel text addresses found on the stack>...]
// scripts/profile-guest.py turns a file of these into a flat profile and,
// for one function, its likely callers (a stack scan, not an unwind: the
// guest kernel may have no frame pointers).
#ifndef VMM_GUEST_PROFILER_H_
#define VMM_GUEST_PROFILER_H_

#include <pthread.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/unique_fd.h"
#include "memory/guest_memory.h"

namespace vmm {

class Vcpu;

// The x86-64 Linux kernel text mapping ("kernel text mapping, mapped to
// physical address 0" in Documentation/x86/x86_64/mm.rst): stack words in
// this range are taken as return addresses.
inline constexpr uint64_t kKernelTextStart = 0xffffffff80000000ull;
inline constexpr uint64_t kKernelTextEnd = 0xffffffffa0000000ull;
// How much of the stack above RSP is scanned, within its page.
inline constexpr uint64_t kStackScanBytes = 4096;

// One sample's line, without the newline. `stack` holds the guest's stack
// words from RSP up (already read); those inside the kernel text mapping
// are listed, and only when the vCPU was in the kernel text itself.
std::string ProfileSampleLine(int64_t host_ms, uint32_t vcpu, uint64_t rip,
                              const std::vector<uint64_t>& stack);

class GuestProfiler {
 public:
  // Creates (truncates) the output file.
  static absl::StatusOr<std::unique_ptr<GuestProfiler>> Create(const std::string& path,
                                                               absl::Duration interval);
  GuestProfiler(base::UniqueFd fd, absl::Duration interval) : fd_(std::move(fd)), interval_(interval) {}
  ~GuestProfiler();  // stops the timer thread, flushes what is buffered

  // Starts sending `signal` to each thread every interval.
  void Start(std::vector<pthread_t> vcpu_threads, int signal);
  void Stop();

  // On a vCPU thread, after KVM_RUN returned because of a signal.
  void Sample(const Vcpu& vcpu, const memory::GuestMemory& mem);

  uint64_t samples() const { return samples_.load(); }

 private:
  void Append(const std::string& line);
  void Flush() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  base::UniqueFd fd_;
  absl::Duration interval_;
  std::thread timer_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> samples_{0};
  absl::Mutex mu_;
  std::string buffer_ ABSL_GUARDED_BY(mu_);
};

}  // namespace vmm

#endif  // VMM_GUEST_PROFILER_H_
