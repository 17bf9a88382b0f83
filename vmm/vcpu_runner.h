// SPDX-License-Identifier: MIT
// VcpuRunner: the vCPU threads. Each runs the KVM_RUN loop of one vCPU and
// dispatches its exits inline: port I/O and MMIO to the buses (device work
// runs on the vCPU that exited), halts, kicks, and the exits that end the
// guest (power-off, reset, triple fault, KVM internal errors, reported with
// the guest's instruction bytes).
//
// Threads are kicked out of KVM_RUN with a signal (kKickSignal) and
// ImmediateExit; between runs they pass a PauseBarrier, so Pause() returns
// with no guest code running and the device thread (if any) quiet. Pauses
// are counted: nested Pause()/Resume() from several callers compose.
//
// Trust boundary: exits carry guest-chosen ports, addresses and data; they
// go to the buses, whose devices check them.
#ifndef VMM_VCPU_RUNNER_H_
#define VMM_VCPU_RUNNER_H_

#include <csignal>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "memory/bus.h"
#include "memory/guest_memory.h"
#include "vmm/guest_profiler.h"
#include "vmm/kvm/vcpu.h"
#include "vmm/notify_worker.h"
#include "vmm/pause_barrier.h"
#include "vmm/vcpu_exit_counters.h"

namespace vmm {

// vCPU threads are kicked out of KVM_RUN with this signal; its handler does
// nothing, the point is the EINTR (the handler is installed without
// SA_RESTART).
inline constexpr int kKickSignal = SIGUSR1;

// How a vCPU ended the guest.
enum class VcpuStop { kPowerOff, kReset, kGuestCrash, kVmmError };

struct VcpuRunnerParts {
  std::vector<std::unique_ptr<Vcpu>> vcpus;
  memory::GuestMemory* memory = nullptr;
  memory::Bus* pio_bus = nullptr;
  memory::Bus* mmio_bus = nullptr;
  // Runs device work off the vCPU threads; paused with them. May be null.
  NotifyWorker* device_thread = nullptr;
  // Called once the vCPUs and the device thread are paused (outermost
  // Pause only): waits for the devices' own threads (virtio-blk's worker)
  // to finish what the guest asked before the pause, and virtio-net's to
  // stop writing received frames into guest memory. May be empty.
  std::function<void()> drain_devices;
  // Called before the last Resume lets the vCPUs go: what drain_devices
  // stopped starts again. May be empty.
  std::function<void()> resume_devices;
  // --profile-guest; started with the threads. May be null.
  std::unique_ptr<GuestProfiler> profiler;
  std::string profile_path;  // for the summary line
  bool pvm_host = false;
  absl::Time process_start;  // for the first KVM_RUN's log line
  // Called on a vCPU thread when the guest ends there; the owner then calls
  // Stop().
  std::function<void(VcpuStop)> on_stop;
};

class VcpuRunner {
 public:
  explicit VcpuRunner(VcpuRunnerParts parts);
  ~VcpuRunner();  // stops and joins the threads

  VcpuRunner(const VcpuRunner&) = delete;
  VcpuRunner& operator=(const VcpuRunner&) = delete;

  // Starts one thread per vCPU (and the profiler). Threads inherit the
  // caller's signal mask.
  void Start();
  // Makes every thread leave its loop soon; any thread, any number of times.
  void Stop();
  // After Stop(): joins the threads; logs the profiler's summary.
  void Join();

  // Returns once no vCPU runs guest code and the device thread is paused
  // (or the runner is stopped). Counted; see PauseBarrier.
  void Pause();
  void Resume();
  bool paused() const { return barrier_.paused(); }

  const std::vector<std::unique_ptr<Vcpu>>& vcpus() const { return vcpus_; }
  const VcpuExitCounters& exit_counters() const { return exit_counters_; }

 private:
  void Loop(size_t index);
  // False when the vCPU must stop.
  bool HandleExit(Vcpu& vcpu, VcpuExit& exit);
  void ReportInternalError(Vcpu& vcpu, const InternalErrorExit& exit);
  void Kick();

  std::vector<std::unique_ptr<Vcpu>> vcpus_;
  memory::GuestMemory& memory_;
  memory::Bus& pio_bus_;
  memory::Bus& mmio_bus_;
  NotifyWorker* const device_thread_;
  const std::function<void()> drain_devices_;
  const std::function<void()> resume_devices_;
  std::unique_ptr<GuestProfiler> profiler_;
  const std::string profile_path_;
  const bool pvm_host_;
  const absl::Time process_start_;
  const std::function<void(VcpuStop)> on_stop_;

  VcpuExitCounters exit_counters_;
  PauseBarrier barrier_;
  // Serialises Pause and Resume, so the device thread pauses with the
  // outermost Pause and resumes with the last Resume.
  absl::Mutex control_mu_;
  absl::Mutex threads_mu_;  // Kick reads the threads while Start adds them
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(threads_mu_);
};

}  // namespace vmm

#endif  // VMM_VCPU_RUNNER_H_
