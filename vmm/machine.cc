// SPDX-License-Identifier: MIT
#include "vmm/machine.h"

#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "base/logging.h"
#include "base/status_macros.h"
#include "memory/layout.h"
#include "vmm/balloon_info.h"
#include "vmm/boot/x86_boot.h"
#include "vmm/kvm/cpuid.h"
#include "vmm/resource_use.h"
#include "vmm/seccomp/thread_filter.h"

namespace vmm {
namespace {

// --profile-guest: samples per vCPU and second, 1000.
constexpr absl::Duration kProfileInterval = absl::Milliseconds(1);

sigset_t TerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  return set;
}

MachineOutcome OutcomeFor(VcpuStop stop) {
  switch (stop) {
    case VcpuStop::kPowerOff: return MachineOutcome::kPoweredOff;
    case VcpuStop::kReset: return MachineOutcome::kReset;
    case VcpuStop::kGuestCrash: return MachineOutcome::kGuestCrash;
    case VcpuStop::kVmmError: return MachineOutcome::kVmmError;
  }
  return MachineOutcome::kVmmError;
}

absl::Status NoBalloon() { return absl::FailedPreconditionError("this VM has no balloon device (--balloon=false)"); }

}  // namespace

int ExitStatusFor(MachineOutcome outcome, int signal_number) {
  switch (outcome) {
    case MachineOutcome::kPoweredOff:
    case MachineOutcome::kReset:
    case MachineOutcome::kUserQuit:
    case MachineOutcome::kMigrated:
      return 0;
    case MachineOutcome::kVmmError:
      return 1;
    case MachineOutcome::kGuestPanic:
      return 3;
    case MachineOutcome::kTimeout:
      return 4;
    case MachineOutcome::kGuestCrash:
      return 5;
    case MachineOutcome::kSignal:
      return 128 + signal_number;
  }
  return 1;
}

absl::StatusOr<std::unique_ptr<Machine>> Machine::Create(const MachineConfig& config) {
  std::unique_ptr<Machine> machine(new Machine(config));
  std::unique_ptr<GuestProfiler> profiler;
  if (!config.profile_guest_path.empty()) {
    ASSIGN_OR_RETURN(profiler, GuestProfiler::Create(config.profile_guest_path, kProfileInterval));
  }
  RETURN_IF_ERROR(machine->Build(std::move(profiler)));
  return machine;
}

Machine::~Machine() {
  End(MachineOutcome::kVmmError);  // no-op when the guest already ended
  if (int fd = migration_socket_.load(); fd >= 0) ::shutdown(fd, SHUT_RDWR);
  if (migration_thread_.joinable()) migration_thread_.join();
  runner_.reset();  // joins the vCPU threads while what they call into still exists
}

absl::Status Machine::Build(std::unique_ptr<GuestProfiler> profiler) {
  ASSIGN_OR_RETURN(Kvm kvm, Kvm::Open());
  kvm_.emplace(std::move(kvm));
  if (kvm_->is_pvm()) {
    LOG_INFO("PVM host (kvm_pvm): hiding CPUID features its emulator cannot run and adding '%s' to the kernel command line",
             kPvmKernelOptions);
  }
  ASSIGN_OR_RETURN(memory::GuestMemory mem,
                   memory::GuestMemory::Create(memory::RamRegionsForSize(config_.memory_size),
                                               config_.memory_backend));
  memory_.emplace(std::move(mem));
  ASSIGN_OR_RETURN(Vm vm, Vm::Create(*kvm_));
  vm_.emplace(std::move(vm));
  RETURN_IF_ERROR(vm_->SetMemoryRegions(*memory_));
  RETURN_IF_ERROR(vm_->CreatePlatformDevices());

  wake_fd_.Reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake_fd_.valid()) return absl::ErrnoToStatus(errno, "eventfd");
  ASSIGN_OR_RETURN(console_, Console::Create(config_.console));
  ASSIGN_OR_RETURN(devices_, DeviceManager::Create(*vm_, *memory_, *this, *console_, config_.devices));
  balloon_ = devices_->balloon();
  balloon_transport_ = devices_->balloon_transport();

  std::vector<std::unique_ptr<Vcpu>> vcpus;
  if (receives_guest()) {
    // Everything but the CPUID arrives in the saved state.
    ASSIGN_OR_RETURN(vcpus, boot::CreateVcpus(*kvm_, *vm_, config_.cpus));
    RETURN_IF_ERROR(ListenForIncoming());
  } else {
    ASSIGN_OR_RETURN(vcpus, boot::LoadGuest(*kvm_, *vm_, *memory_,
                                            {.kernel_path = config_.kernel_path,
                                             .initrd_path = config_.initrd_path,
                                             .cmdline = config_.cmdline,
                                             .cpus = config_.cpus,
                                             .virtio_mmio = devices_->virtio_mmio_devices(),
                                             .mmio_cmdline = config_.mmio_cmdline}));
  }
  runner_ = std::make_unique<VcpuRunner>(VcpuRunnerParts{
      .vcpus = std::move(vcpus),
      .memory = &*memory_,
      .pio_bus = &devices_->pio_bus(),
      .mmio_bus = &devices_->mmio_bus(),
      .device_thread = devices_->device_thread(),
      .drain_devices = [devices = devices_.get()] { devices->DrainDevices(); },
      .resume_devices = [devices = devices_.get()] { devices->ResumeDevices(); },
      .profiler = std::move(profiler),
      .profile_path = config_.profile_guest_path,
      .pvm_host = kvm_->is_pvm(),
      .process_start = config_.process_start,
      .on_stop = [this](VcpuStop stop) { End(OutcomeFor(stop)); },
  });
  return absl::OkStatus();
}

MachineOutcome Machine::Run() {
  ::signal(SIGPIPE, SIG_IGN);
  // Set-up is done (files, memory, KVM, the listener): from here on each
  // thread confines itself to its kind's list as it starts.
  if (absl::Status st = seccomp::PrepareSeccomp(config_.seccomp); !st.ok()) {
    LOG_ERROR("%s", std::string(st.message()));
    return MachineOutcome::kVmmError;
  }
  if (receives_guest()) {
    // Before the signal mask below: a Ctrl-C or SIGTERM while waiting for
    // the source simply ends the process.
    if (absl::Status st = ReceiveGuest(); !st.ok()) {
      LOG_ERROR("%s", std::string(st.message()));
      return MachineOutcome::kVmmError;
    }
  }
  // Termination signals are blocked here before the vCPU threads exist (so
  // they inherit the mask) and read from a signalfd by ServeUntilEnded.
  sigset_t termination = TerminationSignals();
  sigset_t previous;
  ::pthread_sigmask(SIG_BLOCK, &termination, &previous);

  devices_->StartDeviceThread();
  runner_->Start();
  // The guest's NICs now answer from this host: the switches between it
  // and its peers learn their new port now, not at its next frame.
  if (receives_guest()) devices_->AnnounceNics();
  if (!config_.api_socket.empty()) {
    absl::StatusOr<std::unique_ptr<api::ApiServer>> server = api::ApiServer::Start(config_.api_socket, *this, {.socket_mode = config_.api_socket_mode});
    if (server.ok()) {
      api_server_ = std::move(*server);
    } else {
      LOG_ERROR("%s", server.status().message());
      End(MachineOutcome::kVmmError);
    }
  }
  ServeUntilEnded();
  WaitForMigrationResultFetched();
  api_server_.reset();  // no API request may run into a stopping machine
  runner_->Join();
  ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  LogResourceUse(memory_->memfd());
  absl::MutexLock lock(&mu_);
  return *outcome_;
}

void Machine::ServeUntilEnded() {
  sigset_t termination = TerminationSignals();
  base::UniqueFd signal_fd(::signalfd(-1, &termination, SFD_CLOEXEC | SFD_NONBLOCK));
  base::UniqueFd epoll(::epoll_create1(EPOLL_CLOEXEC));
  auto watch = [&](int fd) {
    epoll_event ev{.events = EPOLLIN, .data = {.fd = fd}};
    ::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, fd, &ev);
  };
  watch(wake_fd_.get());
  if (signal_fd.valid()) watch(signal_fd.get());
  if (console_->input_fd() >= 0) watch(console_->input_fd());
  // Set-up done, and every other thread started (none may inherit this
  // list): from here this thread only serves, and then shuts down.
  seccomp::ConfineThisThread(seccomp::ThreadKind::kMain);

  absl::Time deadline = absl::InfiniteFuture();
  if (config_.timeout != absl::InfiniteDuration()) deadline = absl::Now() + config_.timeout;

  while (!Ended()) {
    absl::Time shutdown_deadline = absl::InfiniteFuture();
    {
      absl::MutexLock lock(&mu_);
      if (shutdown_deadline_) shutdown_deadline = *shutdown_deadline_;
    }
    if (absl::Now() >= shutdown_deadline) {
      LOG_INFO("the guest has not powered off after the power button (vm.shutdown); stopping it");
      End(MachineOutcome::kPoweredOff);
      break;
    }
    int timeout_ms = -1;
    if (deadline != absl::InfiniteFuture() || shutdown_deadline != absl::InfiniteFuture()) {
      if (deadline <= absl::Now()) {
        LOG_ERROR("guest still running after --timeout %s; stopping it",
                  absl::FormatDuration(config_.timeout));
        End(MachineOutcome::kTimeout);
        break;
      }
      absl::Duration left = std::min(deadline, shutdown_deadline) - absl::Now();
      timeout_ms = static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(left) + 1, 1 << 30));
    }
    epoll_event events[4];
    int n = ::epoll_wait(epoll.get(), events, 4, timeout_ms);
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == wake_fd_.get()) {
        // A shutdown request (or the end): the loop reads the deadline again.
        uint64_t count;
        ssize_t unused = ::read(fd, &count, sizeof(count));
        (void)unused;
      } else if (fd == signal_fd.get()) {
        signalfd_siginfo info;
        if (::read(fd, &info, sizeof(info)) == sizeof(info)) {
          signal_number_ = static_cast<int>(info.ssi_signo);
          LOG_INFO("stopping the guest on signal %d", signal_number_);
          End(MachineOutcome::kSignal);
        }
      } else if (fd == console_->input_fd()) {
        Console::Input input = console_->ReadInput();
        if (!input.to_guest.empty()) devices_->serial().QueueInput(input.to_guest);
        if (input.quit) End(MachineOutcome::kUserQuit);
        if (input.closed) ::epoll_ctl(epoll.get(), EPOLL_CTL_DEL, fd, nullptr);
      }
    }
  }
}

bool Machine::Ended() {
  absl::MutexLock lock(&mu_);
  return outcome_.has_value();
}

void Machine::End(MachineOutcome outcome) {
  {
    absl::MutexLock lock(&mu_);
    if (outcome_.has_value()) return;
    outcome_ = outcome;
  }
  uint64_t one = 1;
  ssize_t unused = ::write(wake_fd_.get(), &one, sizeof(one));
  (void)unused;
  if (runner_) runner_->Stop();
}

void Machine::GuestPanicked() {
  LOG_ERROR("the guest kernel panicked (pvpanic)");
  End(MachineOutcome::kGuestPanic);
}

api::VmInfo Machine::GetVmInfo() {
  absl::MutexLock lock(&mu_);
  return api::VmInfo{.state = outcome_.has_value()        ? "stopping"
                              : shutdown_deadline_.has_value() ? "shutting-down"
                              : runner_->paused()              ? "paused"
                                                               : "running",
                     .memory_bytes = memory_->TotalSize(),
                     .vcpus = config_.cpus,
                     .pvm_host = kvm_->is_pvm()};
}

absl::Status Machine::ShutdownVm(double timeout_seconds) {
  if (std::optional<std::string> running = operations_.Running()) {
    return absl::FailedPreconditionError("cannot shut down the VM: " + *running);
  }
  {
    absl::MutexLock lock(&mu_);
    if (outcome_.has_value()) return absl::FailedPreconditionError("the VM is already stopping");
    if (shutdown_deadline_) return absl::FailedPreconditionError("a shutdown is already under way");
    // A paused guest cannot act on the button: it is stopped at once.
    shutdown_deadline_ = absl::Now() + (user_pause_.paused() ? absl::ZeroDuration() : absl::Seconds(timeout_seconds));
  }
  LOG_INFO("vm.shutdown: pressing the guest's power button; stopping it in %.0f s unless it powers off",
           timeout_seconds);
  devices_->pm().PressPowerButton();
  // ServeUntilEnded owns the deadline (and ending the VM from its thread).
  uint64_t one = 1;
  ssize_t unused = ::write(wake_fd_.get(), &one, sizeof(one));
  (void)unused;
  return absl::OkStatus();
}

api::VmMetrics Machine::GetMetrics() {
  const ResourceUse use = ReadResourceUse(memory_->memfd());
  api::VmMetrics m{.uptime_seconds = absl::ToDoubleSeconds(absl::Now() - config_.process_start),
                   .rss_bytes = use.rss_kib << 10,
                   .guest_ram_resident_bytes = use.guest_ram_resident_kib << 10,
                   .cpu_user_seconds = use.user_seconds,
                   .cpu_system_seconds = use.system_seconds,
                   .vcpu_exits = runner_->exit_counters().Snapshot()};
  if (balloon_) m.balloon = DescribeBalloon(*balloon_, balloon_transport_->driver_features());
  if (absl::StatusOr<migration::MigrationStats> stats = GetMigration(); stats.ok()) m.migration = *stats;
  return m;
}

absl::Status Machine::SetBalloonTarget(uint64_t bytes) {
  // The API's request, checked against this VM (the CLI's --balloon-size
  // is checked in run_options.cc).
  if (!balloon_) return NoBalloon();
  if (bytes >= memory_->TotalSize()) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "balloon size %u MiB must be below the guest's %u MiB", bytes >> 20, memory_->TotalSize() >> 20));
  }
  if (bytes % memory::kPageSize != 0) return absl::InvalidArgumentError("balloon size must be whole pages");
  balloon_->SetTargetPages(static_cast<uint32_t>(bytes / memory::kPageSize));
  return absl::OkStatus();
}

absl::StatusOr<api::BalloonInfo> Machine::GetBalloonInfo() {
  if (!balloon_) return NoBalloon();
  return DescribeBalloon(*balloon_, balloon_transport_->driver_features());
}

absl::StatusOr<std::vector<api::BalloonStat>> Machine::GetBalloonStats() {
  if (!balloon_) return NoBalloon();
  return FreshBalloonStats(*balloon_);
}

}  // namespace vmm
