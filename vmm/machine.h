// SPDX-License-Identifier: MIT
// Machine: the composition root, the VM's lifecycle. Creates guest memory,
// the KVM VM, the devices (DeviceManager) and the vCPUs (boot/x86_boot, or
// empty ones for an incoming guest), runs the vCPU threads (VcpuRunner) and
// the console/signal loop until the guest powers off, panics, crashes,
// times out, migrates away or the user stops it; serves the control API
// and starts migrations (machine_migration.cc).
//
// Threads: one per vCPU (VcpuRunner), the migration thread while one runs,
// the API server's, and the caller's, which runs the console/signal loop in
// Run().
#ifndef VMM_MACHINE_H_
#define VMM_MACHINE_H_

#include <atomic>
#include <cstdint>
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
#include "devices/vm_events.h"
#include "memory/guest_memory.h"
#include "memory/write_tracker.h"
#include "migration/cancel_switch.h"
#include "migration/channel.h"
#include "migration/receiver.h"
#include "migration/tls_credentials.h"
#include "migration/source.h"
#include "migration/stats.h"
#include "virtio/mmio_transport.h"
#include "vmm/api/api_server.h"
#include "vmm/api/control.h"
#include "vmm/console.h"
#include "vmm/device_manager.h"
#include "vmm/kvm/kvm.h"
#include "vmm/kvm/vm.h"
#include "vmm/operation_lock.h"
#include "vmm/user_pause.h"
#include "vmm/seccomp/seccomp_mode.h"
#include "vmm/vcpu_runner.h"

namespace vmm {

// A VM as `vmm run` was asked for it; run_options.cc validates every field
// that comes from the command line.
struct MachineConfig {
  std::string kernel_path;
  std::string initrd_path;  // empty: none
  std::string cmdline;
  uint64_t memory_size = 512ull << 20;
  memory::MemoryBackend memory_backend = memory::MemoryBackend::kMemfd;  // --memory-backend
  uint32_t cpus = 1;
  ConsoleConfig console;
  std::string api_socket;  // empty: no control API
  uint32_t api_socket_mode = 0600;  // the socket file's permissions
  DeviceConfig devices;
  bool mmio_cmdline = false;   // also describe virtio-mmio devices on the kernel command line
  // On PVM hosts, while migrating: also track guest writes in the VMM's
  // page tables (memory/write_tracker.h). Off leaves the dirty log and the
  // checks of the verified pass alone.
  bool migration_write_tracking = true;
  absl::Duration timeout = absl::InfiniteDuration();
  // Instead of booting a kernel: wait for a migration stream on this
  // endpoint (tcp:HOST:PORT or unix:PATH), or load a snapshot file.
  std::string incoming;
  std::string restore_path;
  // How long --incoming waits for a source that passes the checks.
  absl::Duration incoming_timeout = absl::InfiniteDuration();
  // --tls-dir: the certificates for tls: migrations either way (null: none).
  std::shared_ptr<const migration::TlsCredentials> tls;
  // --insecure: plain tcp: migrations to and from any address.
  bool insecure_transport = false;
  // --profile-guest: sample the guest's RIP into this file (guest_profiler.h).
  std::string profile_guest_path;
  // --seccomp: each thread's system calls confined to its kind's list
  // (seccomp/seccomp_lists.cc).
  seccomp::SeccompMode seccomp = seccomp::DefaultSeccompMode();
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

  // Counted: the guest runs again once every Pause has had its Resume.
  void Pause() { runner_->Pause(); }
  void Resume() { runner_->Resume(); }

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
  absl::StatusOr<migration::MigrationStats> CancelMigration() override;
  absl::StatusOr<migration::MigrationStats> ResumeMigrationSource() override;
  absl::StatusOr<migration::MigrationStats> AbandonMigrationSource() override;
  absl::StatusOr<migration::MigrationStats> Snapshot(const std::string& path) override;
  absl::StatusOr<api::SnapshotProgress> GetSnapshot() override;
  absl::Status PauseVm() override { return user_pause_.Pause(); }
  absl::Status ResumeVm() override { return user_pause_.Resume(); }
  absl::Status ShutdownVm(double timeout_seconds) override;
  api::VmMetrics GetMetrics() override;

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
  absl::Status Build(std::unique_ptr<GuestProfiler> profiler);
  // --incoming: listens for the source before the vCPUs exist.
  absl::Status ListenForIncoming();
  // Receives the guest (--incoming/--restore) before the vCPUs start.
  absl::Status ReceiveGuest();
  // A restore's progress: the file's length and what to tell as it is read
  // (no callback: nothing).
  struct ReceiveProgress {
    uint64_t total_bytes = 0;
    migration::Receiver::ProgressCallback on_progress;
  };
  absl::Status ReceiveFrom(migration::Channel& channel, absl::Time start, ReceiveProgress progress);
  void MigrationThread(migration::Channel channel, migration::MigrationOptions options,
                       std::shared_ptr<migration::CancelSwitch> cancel);
  // The 409 for resume/abandon when no migration has an unknown outcome.
  absl::Status NoUnknownOutcome() ABSL_EXCLUSIVE_LOCKS_REQUIRED(migration_mu_);
  // After a successful migration, keeps the API up briefly so `vmm ctl
  // migrate` can read the final figures.
  void WaitForMigrationResultFetched();
  // Serves the console, the termination signals and --timeout until the
  // guest ends.
  void ServeUntilEnded();
  void End(MachineOutcome outcome);
  bool Ended();
  bool receives_guest() const { return !config_.incoming.empty() || !config_.restore_path.empty(); }

  MachineConfig config_;
  std::optional<Kvm> kvm_;
  std::optional<memory::GuestMemory> memory_;
  // While migrating on PVM: writes seen in the host page tables, which
  // the dirty log misses there (memory/write_tracker.h).
  std::unique_ptr<memory::WriteTracker> write_tracker_;
  std::optional<Vm> vm_;
  std::unique_ptr<Console> console_;
  std::unique_ptr<DeviceManager> devices_;
  // The balloon (null without one), for the API and the hinting methods.
  std::shared_ptr<devices::Balloon> balloon_;
  std::shared_ptr<virtio::MmioTransport> balloon_transport_;
  std::unique_ptr<VcpuRunner> runner_;  // after the devices its threads call into
  base::UniqueFd wake_fd_;  // eventfd: wakes Run() when the guest ends
  std::unique_ptr<api::ApiServer> api_server_;  // started by Run(), stopped before the vCPUs

  absl::Mutex mu_;
  std::optional<MachineOutcome> outcome_ ABSL_GUARDED_BY(mu_);
  // After PUT /api/v1/vm.shutdown: when ServeUntilEnded stops a guest that
  // has not acted on the power button.
  std::optional<absl::Time> shutdown_deadline_ ABSL_GUARDED_BY(mu_);
  int signal_number_ = 0;

  // Snapshot or migration: one at a time (operation_lock.h).
  OperationLock operations_;
  // The API user's pause: one level of the counted pause (user_pause.h).
  UserPause user_pause_{operations_, [this] { Pause(); }, [this] { Resume(); }};
  // Migration, source side: one at a time, on its own thread.
  std::optional<migration::Listener> listener_;  // --incoming
  std::vector<uint32_t> saveable_msrs_;
  absl::Mutex migration_mu_;
  std::optional<migration::MigrationStats> migration_stats_ ABSL_GUARDED_BY(migration_mu_);
  bool migration_running_ ABSL_GUARDED_BY(migration_mu_) = false;
  // The running (or last) migration's claim on operations_, held from its
  // start until its outcome is settled (an unknown outcome included), and
  // its cancel switch.
  std::optional<OperationLock::Claim> migration_claim_ ABSL_GUARDED_BY(migration_mu_);
  std::shared_ptr<migration::CancelSwitch> migration_cancel_ ABSL_GUARDED_BY(migration_mu_);
  std::string migration_destination_ ABSL_GUARDED_BY(migration_mu_);
  bool migration_result_fetched_ ABSL_GUARDED_BY(migration_mu_) = false;
  std::thread migration_thread_;
  std::atomic<int> migration_socket_{-1};  // shut down to stop a migration at exit
  // The running or last snapshot (GET /api/v1/snapshot), updated by the
  // snapshot writer as its pages go out.
  absl::Mutex snapshot_mu_;
  std::optional<api::SnapshotProgress> snapshot_progress_ ABSL_GUARDED_BY(snapshot_mu_);
};

}  // namespace vmm

#endif  // VMM_MACHINE_H_
