// Machine: the composition root. Owns guest memory, the KVM VM and its
// vCPU threads, the buses and devices, and the console; runs the guest until
// it powers off, panics, crashes, times out or the user stops it.
//
// Threads: one per vCPU (KVM_RUN loop, device work runs inline on the vCPU
// that exited), and the caller's thread, which runs the console/signal loop
// in Run(). Pause() parks every vCPU at a barrier.
#ifndef VMM_MACHINE_H_
#define VMM_MACHINE_H_

#include <cstdint>
#include <atomic>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/unique_fd.h"
#include "devices/balloon/balloon.h"
#include "devices/legacy.h"
#include "migration/channel.h"
#include "migration/source.h"
#include "migration/stats.h"
#include "devices/serial.h"
#include "devices/vm_events.h"
#include "memory/bus.h"
#include "memory/guest_memory.h"
#include "memory/write_tracker.h"
#include "vmm/api/api_server.h"
#include "vmm/api/control.h"
#include "vmm/console.h"
#include "vmm/kvm.h"
#include "vmm/notify_worker.h"
#include "vmm/vcpu.h"
#include "virtio/mmio_transport.h"
#include "vmm/acpi/acpi_config.h"
#include "vmm/guest_profiler.h"
#include "vmm/vm.h"

namespace vmm {

// Where virtio queue notifications are handled; see AddVirtioDevices.
enum class VirtioNotifyMode { kInline, kDeviceThread };

struct MachineConfig {
  std::string kernel_path;
  std::string initrd_path;  // empty: none
  std::string cmdline;
  uint64_t memory_size = 512ull << 20;
  uint32_t cpus = 1;
  ConsoleConfig console;
  std::string api_socket;  // empty: no control API
  bool balloon = true;
  uint64_t balloon_size = 0;   // bytes taken from the guest at boot
  bool balloon_deflate_on_oom = false;
  bool balloon_reporting = true;  // VIRTIO_BALLOON_F_REPORTING
  bool mmio_cmdline = false;   // also describe virtio-mmio devices on the kernel command line
  VirtioNotifyMode virtio_notify = VirtioNotifyMode::kInline;
  // On PVM hosts, while migrating: also track guest writes in the VMM's
  // page tables (memory/write_tracker.h). Off leaves the dirty log and the
  // checks of the verified pass alone.
  bool migration_write_tracking = true;
  absl::Duration timeout = absl::InfiniteDuration();
  // Instead of booting a kernel: wait for a migration stream on this
  // endpoint (tcp:HOST:PORT or unix:PATH), or load a snapshot file.
  std::string incoming;
  std::string restore_path;
  // --profile-guest: sample the guest's RIP into this file (guest_profiler.h).
  std::string profile_guest_path;
  // When main() started, for the start-up figure logged at the first KVM_RUN.
  absl::Time process_start = absl::Now();
};

// How the guest's run ended; the process exit status follows from it.
enum class MachineOutcome {
  kPoweredOff,
  kReset,
  kUserQuit,
  kGuestPanic,
  kTimeout,
  kGuestCrash,   // triple fault, emulation failure
  kVmmError,     // a host-side failure while running
  kSignal,
  kMigrated,     // the guest runs on at a migration destination
};
int ExitStatusFor(MachineOutcome outcome, int signal_number);

class Machine : public devices::VmEvents,
                public api::Control,
                public migration::MigrationSource,
                public migration::MigrationTarget {
 public:
  static absl::StatusOr<std::unique_ptr<Machine>> Create(const MachineConfig& config);
  ~Machine() override;

  // Starts the vCPUs and serves the console until the guest ends.
  MachineOutcome Run();
  int signal_number() const { return signal_number_; }

  void Pause();
  void Resume();

  // devices::VmEvents
  void PowerOff() override { End(MachineOutcome::kPoweredOff); }
  void Reset() override { End(MachineOutcome::kReset); }
  void GuestPanicked() override;

  // api::Control
  api::VmInfo GetVmInfo() override;
  absl::Status SetBalloonTarget(uint64_t bytes) override;
  absl::StatusOr<api::BalloonInfo> GetBalloonInfo() override;
  absl::StatusOr<std::vector<api::BalloonStat>> GetBalloonStats() override;
  absl::Status StartMigration(const std::string& destination, const migration::MigrationOptions& options) override;
  absl::StatusOr<migration::MigrationStats> GetMigration() override;
  absl::StatusOr<migration::MigrationStats> Snapshot(const std::string& path) override;

  // migration::MigrationSource and MigrationTarget (machine_migration.cc)
  memory::GuestMemory& memory() override { return *memory_; }
  absl::StatusOr<std::vector<uint8_t>> SaveShape() override;
  absl::Status SetDirtyLogging(bool on) override;
  absl::StatusOr<std::vector<uint64_t>> TakeDirtyPages(size_t region) override;
  void PauseGuest() override { Pause(); }
  void ResumeGuest() override { Resume(); }
  absl::StatusOr<std::vector<uint8_t>> SaveState() override;
  memory::PageHints* page_hints() override { return balloon_.get(); }
  absl::Status CheckShape(std::span<const uint8_t> shape_tree) override;
  absl::Status LoadState(std::span<const uint8_t> state_tree) override;

 private:
  explicit Machine(const MachineConfig& config) : config_(config) {}
  absl::Status Build();
  absl::Status LoadGuest();
  // vCPUs with their CPUID, for a guest whose state arrives by migration.
  absl::Status CreateVcpusForIncoming();
  // Receives the guest (--incoming/--restore) before the vCPUs start.
  absl::Status ReceiveGuest();
  void MigrationThread(migration::Channel channel, migration::MigrationOptions options);
  // After a successful migration, keeps the API up briefly so `vmm ctl
  // migrate` can read the final figures.
  void WaitForMigrationResultFetched();
  absl::Status SetUpVcpu(Vcpu& vcpu, const std::vector<kvm_cpuid_entry2>& cpuid,
                         const std::vector<kvm_msr_entry>& msrs, uint64_t entry,
                         uint64_t boot_params);
  absl::Status AddLegacyDevices();
  absl::Status AddVirtioDevices();
  void VcpuLoop(size_t index);
  // False when the vCPU must stop.
  bool HandleExit(Vcpu& vcpu, VcpuExit& exit);
  void ReportInternalError(Vcpu& vcpu, const InternalErrorExit& exit);
  void LogResourceUse();
  void End(MachineOutcome outcome);
  void KickVcpus();
  bool Ended();

  MachineConfig config_;
  std::optional<Kvm> kvm_;
  std::optional<memory::GuestMemory> memory_;
  // While migrating on PVM: writes seen in the host page tables, which
  // the dirty log misses there (memory/write_tracker.h).
  std::unique_ptr<memory::WriteTracker> write_tracker_;
  std::optional<Vm> vm_;
  std::vector<std::unique_ptr<Vcpu>> vcpus_;
  std::vector<std::thread> vcpu_threads_;
  memory::Bus pio_bus_{"port I/O"};
  memory::Bus mmio_bus_{"MMIO"};
  std::unique_ptr<Console> console_;
  std::shared_ptr<devices::Serial> serial_;
  std::shared_ptr<devices::Cmos> cmos_;
  std::shared_ptr<devices::AcpiPm> pm_;
  std::shared_ptr<devices::Balloon> balloon_;
  std::shared_ptr<virtio::MmioTransport> balloon_transport_;
  // kDeviceThread only; declared after the transports it calls into, so it
  // stops first.
  std::unique_ptr<NotifyWorker> notify_worker_;
  std::vector<base::UniqueFd> irqfds_;
  std::vector<acpi::MmioDevice> virtio_mmio_devices_;  // for ACPI and --mmio-cmdline
  base::UniqueFd wake_fd_;
  std::unique_ptr<GuestProfiler> profiler_;  // --profile-guest; started with the vCPU threads
  std::unique_ptr<api::ApiServer> api_server_;  // started by Run(), stopped before the vCPUs  // eventfd: wakes Run() when the guest ends

  absl::Mutex mu_;
  std::optional<MachineOutcome> outcome_ ABSL_GUARDED_BY(mu_);
  bool pause_requested_ ABSL_GUARDED_BY(mu_) = false;
  size_t paused_vcpus_ ABSL_GUARDED_BY(mu_) = 0;
  int signal_number_ = 0;

  // Migration, source side: one at a time, on its own thread.
  std::optional<migration::Listener> listener_;  // --incoming
  std::vector<uint32_t> saveable_msrs_;
  absl::Mutex migration_mu_;
  std::optional<migration::MigrationStats> migration_stats_ ABSL_GUARDED_BY(migration_mu_);
  bool migration_running_ ABSL_GUARDED_BY(migration_mu_) = false;
  bool migration_result_fetched_ ABSL_GUARDED_BY(migration_mu_) = false;
  std::thread migration_thread_;
  std::atomic<int> migration_socket_{-1};  // shut down to stop a migration at exit
};

}  // namespace vmm

#endif  // VMM_MACHINE_H_
