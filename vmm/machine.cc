#include "vmm/machine.h"

#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <linux/virtio_balloon.h>
#include <linux/virtio_mmio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "base/logging.h"
#include "base/status_macros.h"
#include "devices/legacy.h"
#include "devices/pc_ports.h"
#include "memory/layout.h"
#include "vmm/acpi/tables.h"
#include "vmm/boot/boot_params.h"
#include "vmm/boot/initrd.h"
#include "vmm/boot/kernel_loader.h"
#include "vmm/cpuid.h"
#include "vmm/guest_page_walk.h"
#include "vmm/x86_cpu_setup.h"

namespace vmm {
namespace {

// 32 bytes, what the kernel's pool needs to count as fully seeded (256 bits).
constexpr size_t kBootRngSeedBytes = 32;

// A seed for the guest's RNG from the host's; empty (no seed, the guest
// gathers entropy itself, slowly under emulation) if the host has none.
std::vector<uint8_t> BootRngSeed() {
  std::vector<uint8_t> seed(kBootRngSeedBytes);
  if (::getrandom(seed.data(), seed.size(), GRND_NONBLOCK) != static_cast<ssize_t>(seed.size())) {
    LOG_WARNING("no RNG seed for the guest: getrandom: %s", std::strerror(errno));
    seed.clear();
  }
  return seed;
}

// vCPU threads are kicked out of KVM_RUN with this signal; its handler does
// nothing, the point is the EINTR (the handler is installed without
// SA_RESTART).
constexpr int kKickSignal = SIGUSR1;
// --profile-guest: samples per vCPU and second, 1000.
constexpr absl::Duration kProfileInterval = absl::Milliseconds(1);

void InstallKickHandler() {
  struct sigaction action {};
  action.sa_handler = [](int) {};
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;
  ::sigaction(kKickSignal, &action, nullptr);
}

sigset_t TerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  return set;
}

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
  RETURN_IF_ERROR(machine->Build());
  return machine;
}

Machine::~Machine() {
  End(MachineOutcome::kVmmError);  // no-op when the guest already ended
  if (int fd = migration_socket_.load(); fd >= 0) ::shutdown(fd, SHUT_RDWR);
  if (migration_thread_.joinable()) migration_thread_.join();
  for (std::thread& t : vcpu_threads_) {
    if (t.joinable()) t.join();
  }
}

absl::Status Machine::Build() {
  if (config_.cpus == 0 || config_.cpus > 255) {
    return absl::InvalidArgumentError(absl::StrCat("--cpus must be 1..255, not ", config_.cpus));
  }
  if (!config_.profile_guest_path.empty()) {
    ASSIGN_OR_RETURN(profiler_, GuestProfiler::Create(config_.profile_guest_path, kProfileInterval));
  }
  ASSIGN_OR_RETURN(Kvm kvm, Kvm::Open());
  kvm_.emplace(std::move(kvm));
  if (kvm_->is_pvm()) {
    LOG_INFO("PVM host (kvm_pvm): hiding CPUID features its emulator cannot run and adding '%s' to the kernel command line",
             kPvmKernelOptions);
  }
  ASSIGN_OR_RETURN(memory::GuestMemory mem,
                   memory::GuestMemory::Create(memory::RamRegionsForSize(config_.memory_size)));
  memory_.emplace(std::move(mem));
  ASSIGN_OR_RETURN(Vm vm, Vm::Create(*kvm_));
  vm_.emplace(std::move(vm));
  RETURN_IF_ERROR(vm_->SetMemoryRegions(*memory_));
  RETURN_IF_ERROR(vm_->CreatePlatformDevices());

  wake_fd_.Reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake_fd_.valid()) return absl::ErrnoToStatus(errno, "eventfd");
  ASSIGN_OR_RETURN(console_, Console::Create(config_.console));
  RETURN_IF_ERROR(AddLegacyDevices());
  RETURN_IF_ERROR(AddVirtioDevices());
  if (!config_.incoming.empty() || !config_.restore_path.empty()) return CreateVcpusForIncoming();
  RETURN_IF_ERROR(LoadGuest());
  return absl::OkStatus();
}

absl::Status Machine::AddLegacyDevices() {
  serial_ = std::make_shared<devices::Serial>(
      [this](bool level) {
        absl::Status st = vm_->SetIrqLine(devices::kCom1Irq, level);
        if (!st.ok()) LOG_ERROR("serial interrupt: %s", st.ToString());
      },
      [this](uint8_t byte) { console_->Output(byte); });
  RETURN_IF_ERROR(pio_bus_.Insert(devices::kCom1Port, devices::kCom1PortCount, serial_));
  RETURN_IF_ERROR(pio_bus_.Insert(devices::kI8042DataPort,
                                  devices::kI8042CommandPort - devices::kI8042DataPort + 1,
                                  std::make_shared<devices::I8042>(*this)));
  RETURN_IF_ERROR(pio_bus_.Insert(devices::kResetPort, 1, std::make_shared<devices::ResetPort>(*this)));
  RETURN_IF_ERROR(pio_bus_.Insert(devices::kPvpanicPort, 1, std::make_shared<devices::Pvpanic>(*this)));
  cmos_ = std::make_shared<devices::Cmos>();
  RETURN_IF_ERROR(pio_bus_.Insert(devices::kCmosPort, 2, cmos_));
  uint64_t control_offset = devices::kPm1aControlPort - devices::kPm1aEventPort;
  pm_ = std::make_shared<devices::AcpiPm>(*this, control_offset);
  RETURN_IF_ERROR(pio_bus_.Insert(devices::kPm1aEventPort, control_offset + devices::kPm1aControlLength, pm_));
  return absl::OkStatus();
}

absl::Status Machine::AddVirtioDevices() {
  if (!config_.balloon) return absl::OkStatus();
  if (config_.balloon_size >= config_.memory_size) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "--balloon-size %u MiB must be below the guest's %u MiB", config_.balloon_size >> 20,
        config_.memory_size >> 20));
  }
  // Each virtio-mmio device gets the next register window and GSI. GSIs
  // start at 5: 0-4 are the PIT, cascade and COM1/2 lines.
  const uint64_t base = memory::kVirtioMmioBase + virtio_mmio_devices_.size() * memory::kVirtioMmioWindowSize;
  const uint32_t gsi = 5 + static_cast<uint32_t>(virtio_mmio_devices_.size());
  ASSIGN_OR_RETURN(base::UniqueFd irqfd, vm_->CreateIrqfd(gsi));
  int raw_irqfd = irqfd.get();
  irqfds_.push_back(std::move(irqfd));

  balloon_ = std::make_shared<devices::Balloon>(
      *memory_, devices::BalloonOptions{.deflate_on_oom = config_.balloon_deflate_on_oom,
                                                  .reporting = config_.balloon_reporting});
  // Notifications: by default handled on the vCPU that wrote QueueNotify
  // (an MMIO exit). The alternative, --virtio-notify=thread, registers a
  // KVM_IOEVENTFD per queue and runs the device on a worker thread. The
  // guest waits for the used buffer after every 256 PFNs, so that round
  // trip is the inflate speed: inline saves the eventfd signal, the thread
  // wake-up and a cross-CPU handoff per request, while the exit itself is
  // paid in both modes (an ioeventfd write still traps into KVM; only the
  // trip out to user space is saved). bench/balloon --notify both, 2 GiB
  // guest inflating 1 GiB on PVM: wall time is the same (~140 s, the guest's
  // page allocation), service time p50 ~50 us in both, but the device thread
  // costs 80 ms of CPU per GiB (340 touched) against 37 (276) of inline
  // service: the eventfd signal, epoll wake-up and handoff add ~35 us per
  // request. Inline stays the default.
  balloon_transport_ = std::make_shared<virtio::MmioTransport>(*memory_, balloon_, [raw_irqfd] {
    uint64_t one = 1;
    ssize_t unused = ::write(raw_irqfd, &one, sizeof(one));
    (void)unused;
  });
  RETURN_IF_ERROR(mmio_bus_.Insert(base, memory::kVirtioMmioWindowSize, balloon_transport_));
  if (config_.virtio_notify == VirtioNotifyMode::kDeviceThread) {
    ASSIGN_OR_RETURN(notify_worker_, NotifyWorker::Create());
    const uint16_t queues = static_cast<uint16_t>(balloon_->queue_max_sizes().size());
    for (uint16_t q = 0; q < queues; ++q) {
      ASSIGN_OR_RETURN(base::UniqueFd fd, vm_->CreateIoeventfd(base + VIRTIO_MMIO_QUEUE_NOTIFY, q));
      RETURN_IF_ERROR(notify_worker_->Add(std::move(fd), [transport = balloon_transport_.get(), q] {
        const uint32_t value = q;
        transport->Write(VIRTIO_MMIO_QUEUE_NOTIFY, {reinterpret_cast<const uint8_t*>(&value), sizeof(value)});
      }));
    }
  }
  virtio_mmio_devices_.push_back({.base = base, .size = memory::kVirtioMmioWindowSize, .irq = gsi});
  if (config_.balloon_size > 0) {
    balloon_->SetTargetPages(static_cast<uint32_t>(config_.balloon_size / memory::kPageSize));
  }
  return absl::OkStatus();
}

absl::Status Machine::LoadGuest() {
  ASSIGN_OR_RETURN(boot::LoadedKernel kernel, boot::LoadKernel(config_.kernel_path, *memory_));

  std::optional<boot::InitrdPlacement> initrd;
  if (!config_.initrd_path.empty()) {
    ASSIGN_OR_RETURN(initrd, boot::LoadInitrd(config_.initrd_path, *memory_,
                                              boot::InitrdAddrMax(kernel.setup_header), kernel.load_end));
  }

  acpi::AcpiConfig acpi_config{.num_cpus = config_.cpus, .virtio_mmio = virtio_mmio_devices_};
  ASSIGN_OR_RETURN(acpi::AcpiTables tables,
                   acpi::BuildAcpiTables(acpi_config, memory::kBiosRomStart,
                                         memory::kBiosRomEnd - memory::kBiosRomStart));
  RETURN_IF_ERROR(memory_->WriteBytes(tables.base_gpa, tables.bytes));

  std::string cmdline = config_.cmdline;
  if (kvm_->is_pvm()) absl::StrAppend(&cmdline, " ", kPvmKernelOptions);
  if (config_.mmio_cmdline) {
    // For kernels without ACPI: virtio_mmio.device=<size>@<base>:<irq>.
    for (const acpi::MmioDevice& d : virtio_mmio_devices_) {
      absl::StrAppend(&cmdline, absl::StrFormat(" virtio_mmio.device=%uK@0x%x:%u", d.size >> 10, d.base, d.irq));
    }
  }

  std::vector<memory::RamRegion> ram;
  for (const memory::MappedRegion& r : memory_->Regions()) ram.push_back({r.gpa, r.size});
  RETURN_IF_ERROR(boot::WriteBootParams(*memory_, boot::BootParamsInput{
                                                      .setup_header = kernel.setup_header,
                                                      .cmdline = cmdline,
                                                      .initrd = initrd,
                                                      .e820 = memory::E820Map(ram),
                                                      .acpi_rsdp_addr = tables.rsdp_gpa,
                                                      .rng_seed = BootRngSeed(),
                                                  }));
  RETURN_IF_ERROR(WriteIdentityPageTables(*memory_));
  RETURN_IF_ERROR(WriteBootGdt(*memory_));

  ASSIGN_OR_RETURN(std::vector<kvm_cpuid_entry2> supported, kvm_->SupportedCpuid());
  // Only the MSRs this KVM can save are initialised; others keep KVM's reset values.
  ASSIGN_OR_RETURN(std::vector<uint32_t> supported_msrs, kvm_->MsrIndexList());
  std::vector<kvm_msr_entry> msrs;
  for (const kvm_msr_entry& m : BootMsrs()) {
    if (std::find(supported_msrs.begin(), supported_msrs.end(), m.index) != supported_msrs.end()) {
      msrs.push_back(m);
    }
  }
  for (uint32_t id = 0; id < config_.cpus; ++id) {
    ASSIGN_OR_RETURN(Vcpu vcpu, Vcpu::Create(*kvm_, *vm_, id));
    vcpus_.push_back(std::make_unique<Vcpu>(std::move(vcpu)));
    std::vector<kvm_cpuid_entry2> cpuid = AdjustCpuid(
        supported, {.vcpu_id = id, .vcpu_count = config_.cpus, .pvm_host = kvm_->is_pvm()});
    RETURN_IF_ERROR(SetUpVcpu(*vcpus_.back(), cpuid, msrs, kernel.entry_64, memory::kBootParamsAddress));
  }
  return absl::OkStatus();
}

absl::Status Machine::SetUpVcpu(Vcpu& vcpu, const std::vector<kvm_cpuid_entry2>& cpuid,
                                const std::vector<kvm_msr_entry>& msrs, uint64_t entry,
                                uint64_t boot_params) {
  RETURN_IF_ERROR(vcpu.SetCpuid(cpuid));
  RETURN_IF_ERROR(vcpu.SetMsrs(msrs));
  ASSIGN_OR_RETURN(kvm_lapic_state lapic, vcpu.GetLapic());
  RETURN_IF_ERROR(vcpu.SetLapic(ConfigureLapicLints(lapic)));
  // Application processors wait for INIT/SIPI from the boot CPU, in the
  // state KVM gives them.
  if (vcpu.id() != 0) return absl::OkStatus();
  RETURN_IF_ERROR(vcpu.SetFpu(BootFpu()));
  ASSIGN_OR_RETURN(kvm_sregs sregs, vcpu.GetSregs());
  RETURN_IF_ERROR(vcpu.SetSregs(LongModeSregs(sregs)));
  RETURN_IF_ERROR(vcpu.SetRegs(BootRegs(entry, boot_params)));
  return absl::OkStatus();
}

MachineOutcome Machine::Run() {
  InstallKickHandler();
  ::signal(SIGPIPE, SIG_IGN);
  if (!config_.incoming.empty() || !config_.restore_path.empty()) {
    // Before the signal mask below: a Ctrl-C or SIGTERM while waiting for
    // the source simply ends the process.
    if (absl::Status st = ReceiveGuest(); !st.ok()) {
      LOG_ERROR("%s", std::string(st.message()));
      return MachineOutcome::kVmmError;
    }
  }
  // Termination signals are blocked here before the vCPU threads exist (so
  // they inherit the mask) and read from a signalfd by this loop.
  sigset_t termination = TerminationSignals();
  sigset_t previous;
  ::pthread_sigmask(SIG_BLOCK, &termination, &previous);
  base::UniqueFd signal_fd(::signalfd(-1, &termination, SFD_CLOEXEC | SFD_NONBLOCK));

  if (notify_worker_) notify_worker_->Start();
  for (size_t i = 0; i < vcpus_.size(); ++i) {
    vcpu_threads_.emplace_back([this, i] { VcpuLoop(i); });
  }
  if (profiler_) {
    std::vector<pthread_t> threads;
    for (std::thread& t : vcpu_threads_) threads.push_back(t.native_handle());
    profiler_->Start(std::move(threads), kKickSignal);
  }
  if (!config_.api_socket.empty()) {
    absl::StatusOr<std::unique_ptr<api::ApiServer>> server = api::ApiServer::Start(config_.api_socket, *this);
    if (server.ok()) {
      api_server_ = std::move(*server);
    } else {
      LOG_ERROR("%s", server.status().message());
      End(MachineOutcome::kVmmError);
    }
  }

  base::UniqueFd epoll(::epoll_create1(EPOLL_CLOEXEC));
  auto watch = [&](int fd) {
    epoll_event ev{.events = EPOLLIN, .data = {.fd = fd}};
    ::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, fd, &ev);
  };
  watch(wake_fd_.get());
  if (signal_fd.valid()) watch(signal_fd.get());
  if (console_->input_fd() >= 0) watch(console_->input_fd());

  absl::Time deadline = absl::InfiniteFuture();
  if (config_.timeout != absl::InfiniteDuration()) deadline = absl::Now() + config_.timeout;

  while (!Ended()) {
    int timeout_ms = -1;
    if (deadline != absl::InfiniteFuture()) {
      absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) {
        LOG_ERROR("guest still running after --timeout %s; stopping it",
                  absl::FormatDuration(config_.timeout));
        End(MachineOutcome::kTimeout);
        break;
      }
      timeout_ms = static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(left) + 1, 1 << 30));
    }
    epoll_event events[4];
    int n = ::epoll_wait(epoll.get(), events, 4, timeout_ms);
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == signal_fd.get()) {
        signalfd_siginfo info;
        if (::read(fd, &info, sizeof(info)) == sizeof(info)) {
          signal_number_ = static_cast<int>(info.ssi_signo);
          LOG_INFO("stopping the guest on signal %d", signal_number_);
          End(MachineOutcome::kSignal);
        }
      } else if (fd == console_->input_fd()) {
        Console::Input input = console_->ReadInput();
        if (!input.to_guest.empty()) serial_->QueueInput(input.to_guest);
        if (input.quit) End(MachineOutcome::kUserQuit);
        if (input.closed) ::epoll_ctl(epoll.get(), EPOLL_CTL_DEL, fd, nullptr);
      }
    }
  }
  WaitForMigrationResultFetched();
  api_server_.reset();  // no API request may run into a stopping machine
  if (profiler_) profiler_->Stop();  // no more signals to threads about to end
  KickVcpus();
  for (std::thread& t : vcpu_threads_) t.join();
  vcpu_threads_.clear();
  if (profiler_) {
    LOG_INFO("--profile-guest: %u samples in %s (scripts/profile-guest.py reads them)", profiler_->samples(),
             config_.profile_guest_path);
    profiler_.reset();  // writes what is still buffered
  }
  ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  LogResourceUse();
  absl::MutexLock lock(&mu_);
  return *outcome_;
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
  KickVcpus();
}

void Machine::KickVcpus() {
  for (size_t i = 0; i < vcpus_.size(); ++i) {
    vcpus_[i]->SetImmediateExit(true);
    if (i < vcpu_threads_.size() && vcpu_threads_[i].joinable()) {
      ::pthread_kill(vcpu_threads_[i].native_handle(), kKickSignal);
    }
  }
}

void Machine::Pause() {
  {
    absl::MutexLock lock(&mu_);
    pause_requested_ = true;
  }
  KickVcpus();
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](Machine* m) ABSL_EXCLUSIVE_LOCKS_REQUIRED(m->mu_) {
        return m->paused_vcpus_ == m->vcpus_.size() || m->outcome_.has_value();
      },
      this));
  if (notify_worker_) notify_worker_->Pause();
}

void Machine::Resume() {
  if (notify_worker_) notify_worker_->Resume();
  absl::MutexLock lock(&mu_);
  pause_requested_ = false;
}

void Machine::LogResourceUse() {
  // Guest RAM is the memfd (shmem): its allocated blocks are the guest's
  // resident pages, whether or not the VMM's mapping ever touched them
  // (migration and the loader write through the memfd, so RSS misses
  // those). The VMM's own overhead is its proportional share of everything
  // else: Pss_Anon + Pss_File (shared libraries count by their share, as a
  // host running many VMMs pays for them). bench/boot reads this line.
  uint64_t rss_kib = 0, pss_anon_kib = 0, pss_file_kib = 0;
  std::ifstream rollup("/proc/self/smaps_rollup");
  std::string line;
  while (std::getline(rollup, line)) {
    if (line.rfind("Rss:", 0) == 0) rss_kib = std::strtoull(line.c_str() + 4, nullptr, 10);
    if (line.rfind("Pss_Anon:", 0) == 0) pss_anon_kib = std::strtoull(line.c_str() + 9, nullptr, 10);
    if (line.rfind("Pss_File:", 0) == 0) pss_file_kib = std::strtoull(line.c_str() + 9, nullptr, 10);
  }
  struct stat st {};
  ::fstat(memory_->memfd(), &st);
  uint64_t guest_kib = static_cast<uint64_t>(st.st_blocks) * 512 / 1024;
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  LOG_INFO("resources: rss_kib=%u guest_ram_resident_kib=%u vmm_overhead_kib=%u user_ms=%d sys_ms=%d", rss_kib,
           guest_kib, pss_anon_kib + pss_file_kib, usage.ru_utime.tv_sec * 1000 + usage.ru_utime.tv_usec / 1000,
           usage.ru_stime.tv_sec * 1000 + usage.ru_stime.tv_usec / 1000);
}

api::VmInfo Machine::GetVmInfo() {
  absl::MutexLock lock(&mu_);
  return api::VmInfo{.state = outcome_.has_value() ? "stopping" : pause_requested_ ? "paused" : "running",
                     .memory_bytes = memory_->TotalSize(),
                     .vcpus = config_.cpus,
                     .pvm_host = kvm_->is_pvm()};
}

absl::Status Machine::SetBalloonTarget(uint64_t bytes) {
  if (!balloon_) return absl::FailedPreconditionError("this VM has no balloon device (--balloon=false)");
  if (bytes >= memory_->TotalSize()) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "balloon size %u MiB must be below the guest's %u MiB", bytes >> 20, memory_->TotalSize() >> 20));
  }
  if (bytes % memory::kPageSize != 0) return absl::InvalidArgumentError("balloon size must be whole pages");
  balloon_->SetTargetPages(static_cast<uint32_t>(bytes / memory::kPageSize));
  return absl::OkStatus();
}

absl::StatusOr<api::BalloonInfo> Machine::GetBalloonInfo() {
  if (!balloon_) return absl::FailedPreconditionError("this VM has no balloon device (--balloon=false)");
  api::BalloonInfo info;
  info.target_bytes = uint64_t{balloon_->target_pages()} * memory::kPageSize;
  info.actual_bytes = uint64_t{balloon_->actual_pages()} * memory::kPageSize;
  uint64_t features = balloon_transport_->driver_features();
  const std::pair<int, const char*> kNames[] = {
      {VIRTIO_BALLOON_F_MUST_TELL_HOST, "MUST_TELL_HOST"}, {VIRTIO_BALLOON_F_STATS_VQ, "STATS_VQ"},
      {VIRTIO_BALLOON_F_DEFLATE_ON_OOM, "DEFLATE_ON_OOM"}, {VIRTIO_BALLOON_F_FREE_PAGE_HINT, "FREE_PAGE_HINT"},
      {VIRTIO_BALLOON_F_PAGE_POISON, "PAGE_POISON"},       {VIRTIO_BALLOON_F_REPORTING, "REPORTING"},
  };
  for (const auto& [bit, name] : kNames) {
    if (features & (1ull << bit)) info.features.push_back(name);
  }
  devices::Balloon::Counters c = balloon_->counters();
  info.counters = {{"requests", c.requests},
                   {"pages_inflated", c.pages_inflated},
                   {"pages_deflated", c.pages_deflated},
                   {"ranges", c.ranges},
                   {"discard_calls", c.discard_calls},
                   {"bytes_returned", c.bytes_returned},
                   {"pfns_out_of_range", c.pfns_out_of_range},
                   {"reported_ranges", c.reported_ranges},
                   {"hinted_ranges", c.hinted_ranges},
                   {"ballooned_pages", balloon_->ballooned_pages()},
                   {"service_cpu_ns", c.service_cpu_ns}};
  devices::Balloon::ServiceTimes service = balloon_->service_times();
  info.counters.push_back({"service_samples", service.samples});
  info.counters.push_back({"service_p50_ns", service.p50_ns});
  info.counters.push_back({"service_p99_ns", service.p99_ns});
  return info;
}

absl::StatusOr<std::vector<api::BalloonStat>> Machine::GetBalloonStats() {
  if (!balloon_) return absl::FailedPreconditionError("this VM has no balloon device (--balloon=false)");
  uint64_t before = balloon_->Stats().updates;
  // Ask the guest for fresh figures and give it a moment to answer; if it
  // does not (stats not negotiated, guest busy) the last known ones are returned.
  if (balloon_->RequestStats().ok()) {
    absl::Time deadline = absl::Now() + absl::Seconds(2);
    while (balloon_->Stats().updates == before && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(20));
  }
  devices::BalloonStats stats = balloon_->Stats();
  std::vector<api::BalloonStat> out;
  for (const devices::StatDescription& d : devices::StatDescriptions()) {
    if (std::optional<uint64_t> v = stats.Get(d.tag)) {
      out.push_back({std::string(d.name), *v, std::string(d.unit)});
    }
  }
  return out;
}

void Machine::GuestPanicked() {
  LOG_ERROR("the guest kernel panicked (pvpanic)");
  End(MachineOutcome::kGuestPanic);
}

void Machine::VcpuLoop(size_t index) {
  ::pthread_setname_np(::pthread_self(), absl::StrCat("vcpu", index).c_str());  // bench/ leaves vCPU threads out
  Vcpu& vcpu = *vcpus_[index];
  if (index == 0) {
    timespec mono{};
    ::clock_gettime(CLOCK_MONOTONIC, &mono);  // bench/ times exec -> first KVM_RUN with it
    LOG_INFO("vCPU 0 enters the guest %.2f ms after process start (CLOCK_MONOTONIC %d.%09d s)",
             absl::ToDoubleMilliseconds(absl::Now() - config_.process_start), mono.tv_sec, mono.tv_nsec);
  }
  while (true) {
    // Cleared before the flags are read: a kick that lands after this
    // point either is seen below or makes KVM_RUN return at once.
    vcpu.SetImmediateExit(false);
    {
      absl::MutexLock lock(&mu_);
      if (outcome_.has_value()) return;
      if (pause_requested_) {
        ++paused_vcpus_;
        mu_.Await(absl::Condition(
            +[](Machine* m) ABSL_EXCLUSIVE_LOCKS_REQUIRED(m->mu_) {
              return !m->pause_requested_ || m->outcome_.has_value();
            },
            this));
        --paused_vcpus_;
        continue;
      }
    }
    absl::StatusOr<VcpuExit> exit = vcpu.Run();
    if (!exit.ok()) {
      LOG_ERROR("vCPU %u: %s", vcpu.id(), exit.status().ToString());
      End(MachineOutcome::kVmmError);
      return;
    }
    if (!HandleExit(vcpu, *exit)) return;
  }
}

bool Machine::HandleExit(Vcpu& vcpu, VcpuExit& exit) {
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
    if (profiler_ && std::holds_alternative<InterruptedExit>(exit)) profiler_->Sample(vcpu, *memory_);
    return true;
  }
  if (std::holds_alternative<ShutdownExit>(exit)) {
    auto regs = vcpu.GetRegs();
    LOG_ERROR("vCPU %u: the guest triple-faulted (KVM_EXIT_SHUTDOWN) at RIP 0x%x", vcpu.id(),
              regs.ok() ? regs->rip : 0);
    End(MachineOutcome::kGuestCrash);
    return false;
  }
  if (auto* event = std::get_if<SystemEventExit>(&exit)) {
    switch (event->type) {
      case KVM_SYSTEM_EVENT_SHUTDOWN: PowerOff(); break;
      case KVM_SYSTEM_EVENT_RESET: Reset(); break;
      default:
        LOG_ERROR("vCPU %u: system event %u (crash)", vcpu.id(), event->type);
        End(MachineOutcome::kGuestCrash);
    }
    return false;
  }
  if (auto* internal = std::get_if<InternalErrorExit>(&exit)) {
    ReportInternalError(vcpu, *internal);
    End(MachineOutcome::kGuestCrash);
    return false;
  }
  if (auto* fail = std::get_if<FailEntryExit>(&exit)) {
    LOG_ERROR("vCPU %u: KVM could not enter the guest (hardware reason 0x%x)", vcpu.id(), fail->reason);
    End(MachineOutcome::kGuestCrash);
    return false;
  }
  LOG_ERROR("vCPU %u: unhandled KVM exit reason %u", vcpu.id(), std::get<UnhandledExit>(exit).reason);
  End(MachineOutcome::kVmmError);
  return false;
}

void Machine::ReportInternalError(Vcpu& vcpu, const InternalErrorExit& exit) {
  auto regs = vcpu.GetRegs();
  auto sregs = vcpu.GetSregs();
  uint64_t rip = regs.ok() ? regs->rip : 0;
  std::string bytes = sregs.ok() ? GuestBytesAt(*memory_, *sregs, rip, 16) : "<no sregs>";
  std::string what = exit.suberror == KVM_INTERNAL_ERROR_EMULATION
                         ? "this host's KVM cannot emulate the instruction"
                         : absl::StrCat("KVM internal error, suberror ", exit.suberror);
  LOG_ERROR("vCPU %u: %s at guest RIP 0x%x (CPL %d), instruction bytes: %s", vcpu.id(), what, rip,
            sregs.ok() ? (sregs->cs.selector & 3) : -1, bytes);
  if (kvm_->is_pvm()) {
    LOG_ERROR("this host's KVM is PVM, whose guest-kernel emulator lacks some instructions; "
              "a guest kernel built for it is in guest-images/ (see its README)");
  }
}

}  // namespace vmm
