// SPDX-License-Identifier: MIT
#include "vmm/vcpu_runner.h"

#include <pthread.h>
#include <signal.h>
#include <time.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/logging.h"
#include "vmm/guest_page_walk.h"
#include "vmm/seccomp/thread_filter.h"

namespace vmm {
namespace {

void InstallKickHandler() {
  struct sigaction action {};
  action.sa_handler = [](int) {};
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;
  ::sigaction(kKickSignal, &action, nullptr);
}

}  // namespace

VcpuRunner::VcpuRunner(VcpuRunnerParts parts)
    : vcpus_(std::move(parts.vcpus)),
      memory_(*parts.memory),
      pio_bus_(*parts.pio_bus),
      mmio_bus_(*parts.mmio_bus),
      device_thread_(parts.device_thread),
      drain_devices_(std::move(parts.drain_devices)),
      resume_devices_(std::move(parts.resume_devices)),
      profiler_(std::move(parts.profiler)),
      profile_path_(std::move(parts.profile_path)),
      pvm_host_(parts.pvm_host),
      process_start_(parts.process_start),
      on_stop_(std::move(parts.on_stop)),
      exit_counters_(vcpus_.size()),
      barrier_(vcpus_.size()) {}

VcpuRunner::~VcpuRunner() {
  Stop();
  Join();
}

void VcpuRunner::Start() {
  InstallKickHandler();
  {
    absl::MutexLock lock(&threads_mu_);
    for (size_t i = 0; i < vcpus_.size(); ++i) threads_.emplace_back([this, i] { Loop(i); });
    if (profiler_) {
      std::vector<pthread_t> handles;
      for (std::thread& t : threads_) handles.push_back(t.native_handle());
      profiler_->Start(std::move(handles), kKickSignal);
    }
  }
}

void VcpuRunner::Stop() {
  barrier_.Stop();
  Kick();
}

void VcpuRunner::Join() {
  if (profiler_) profiler_->Stop();  // no more signals to threads about to end
  Kick();
  std::vector<std::thread> threads;
  {
    absl::MutexLock lock(&threads_mu_);
    threads.swap(threads_);
  }
  for (std::thread& t : threads) t.join();
  if (profiler_) {
    LOG_INFO("--profile-guest: %u samples in %s (scripts/profile-guest.py reads them)", profiler_->samples(),
             profile_path_);
    profiler_.reset();  // writes what is still buffered
  }
}

void VcpuRunner::Kick() {
  absl::MutexLock lock(&threads_mu_);
  for (size_t i = 0; i < vcpus_.size(); ++i) {
    vcpus_[i]->SetImmediateExit(true);
    if (i < threads_.size() && threads_[i].joinable()) ::pthread_kill(threads_[i].native_handle(), kKickSignal);
  }
}

void VcpuRunner::Pause() {
  absl::MutexLock lock(&control_mu_);
  if (!barrier_.Pause([this] { Kick(); })) return;
  if (device_thread_ != nullptr) device_thread_->Pause();
  // With nothing left to notify them, the devices' threads finish what
  // they hold: a paused VM has no request in flight, so what migration and
  // snapshots copy is final.
  if (drain_devices_) drain_devices_();
}

void VcpuRunner::Resume() {
  absl::MutexLock lock(&control_mu_);
  // The device thread first, as the last Resume lets the vCPUs go.
  if (barrier_.pauses() == 1) {
    if (resume_devices_) resume_devices_();
    if (device_thread_ != nullptr) device_thread_->Resume();
  }
  barrier_.Resume();
}

void VcpuRunner::Loop(size_t index) {
  // Named so that bench/ can leave vCPU threads out of the VMM's own CPU time
  // (QEMU's are "CPU N/KVM").
  ::pthread_setname_np(::pthread_self(), absl::StrCat("vcpu", index).c_str());
  // From here on this thread runs the guest and its exits' handlers.
  seccomp::ConfineThisThread(seccomp::ThreadKind::kVcpu);
  Vcpu& vcpu = *vcpus_[index];
  if (index == 0) {
    // The monotonic time lets bench/ time exec -> first KVM_RUN, dynamic
    // loading included (process_start_ is main()'s).
    timespec mono{};
    ::clock_gettime(CLOCK_MONOTONIC, &mono);
    LOG_INFO("vCPU 0 enters the guest %.2f ms after process start (CLOCK_MONOTONIC %d.%09d s)",
             absl::ToDoubleMilliseconds(absl::Now() - process_start_), mono.tv_sec, mono.tv_nsec);
  }
  while (true) {
    // Cleared before the barrier is checked: a kick that lands after this
    // point either is seen there or makes KVM_RUN return at once.
    vcpu.SetImmediateExit(false);
    PauseBarrier::Next next = barrier_.Checkpoint();
    if (next == PauseBarrier::Next::kStop) return;
    if (next == PauseBarrier::Next::kResumed) continue;
    absl::StatusOr<VcpuExit> exit = vcpu.Run();
    if (!exit.ok()) {
      LOG_ERROR("vCPU %u: %s", vcpu.id(), exit.status().ToString());
      on_stop_(VcpuStop::kVmmError);
      return;
    }
    exit_counters_.Count(index, exit->index());
    if (!HandleExit(vcpu, *exit)) return;
  }
}

bool VcpuRunner::HandleExit(Vcpu& vcpu, VcpuExit& exit) {
  if (auto* io = std::get_if<IoExit>(&exit)) {
    for (uint32_t i = 0; i < io->count; ++i) {
      std::span<uint8_t> chunk = io->data.subspan(size_t{i} * io->size, io->size);
      if (io->is_write) pio_bus_.Write(io->port, chunk);
      else pio_bus_.Read(io->port, chunk);
    }
    return true;
  }
  if (auto* mmio = std::get_if<MmioExit>(&exit)) {
    bool handled = mmio->is_write ? mmio_bus_.Write(mmio->address, mmio->data)
                                  : mmio_bus_.Read(mmio->address, mmio->data);
    if (!handled) LOG_GUEST_ERROR("vCPU %u: access to unmapped MMIO 0x%x", vcpu.id(), mmio->address);
    return true;
  }
  if (std::holds_alternative<InterruptedExit>(exit) || std::holds_alternative<HaltExit>(exit)) {
    if (profiler_ && std::holds_alternative<InterruptedExit>(exit)) profiler_->Sample(vcpu, memory_);
    return true;
  }
  if (std::holds_alternative<ShutdownExit>(exit)) {
    auto regs = vcpu.GetRegs();
    LOG_ERROR("vCPU %u: the guest triple-faulted (KVM_EXIT_SHUTDOWN) at RIP 0x%x", vcpu.id(),
              regs.ok() ? regs->rip : 0);
    on_stop_(VcpuStop::kGuestCrash);
    return false;
  }
  if (auto* event = std::get_if<SystemEventExit>(&exit)) {
    switch (event->type) {
      case KVM_SYSTEM_EVENT_SHUTDOWN: on_stop_(VcpuStop::kPowerOff); break;
      case KVM_SYSTEM_EVENT_RESET: on_stop_(VcpuStop::kReset); break;
      default:
        LOG_ERROR("vCPU %u: system event %u (crash)", vcpu.id(), event->type);
        on_stop_(VcpuStop::kGuestCrash);
    }
    return false;
  }
  if (auto* internal = std::get_if<InternalErrorExit>(&exit)) {
    ReportInternalError(vcpu, *internal);
    on_stop_(VcpuStop::kGuestCrash);
    return false;
  }
  if (auto* fail = std::get_if<FailEntryExit>(&exit)) {
    LOG_ERROR("vCPU %u: KVM could not enter the guest (hardware reason 0x%x)", vcpu.id(), fail->reason);
    on_stop_(VcpuStop::kGuestCrash);
    return false;
  }
  LOG_ERROR("vCPU %u: unhandled KVM exit reason %u", vcpu.id(), std::get<UnhandledExit>(exit).reason);
  on_stop_(VcpuStop::kVmmError);
  return false;
}

void VcpuRunner::ReportInternalError(Vcpu& vcpu, const InternalErrorExit& exit) {
  auto regs = vcpu.GetRegs();
  auto sregs = vcpu.GetSregs();
  uint64_t rip = regs.ok() ? regs->rip : 0;
  std::string bytes = sregs.ok() ? GuestBytesAt(memory_, *sregs, rip, 16) : "<no sregs>";
  std::string what = exit.suberror == KVM_INTERNAL_ERROR_EMULATION
                         ? "this host's KVM cannot emulate the instruction"
                         : absl::StrCat("KVM internal error, suberror ", exit.suberror);
  LOG_ERROR("vCPU %u: %s at guest RIP 0x%x (CPL %d), instruction bytes: %s", vcpu.id(), what, rip,
            sregs.ok() ? (sregs->cs.selector & 3) : -1, bytes);
  if (pvm_host_) {
    LOG_ERROR("this host's KVM is PVM, whose guest-kernel emulator lacks some instructions; "
              "a guest kernel built for it is in guest-images/ (see its README)");
  }
}

}  // namespace vmm
