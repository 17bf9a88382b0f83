// Machine's side of migration and snapshots: the MigrationSource and
// MigrationTarget interfaces over KVM, guest memory and the devices (whose
// state and shape the DeviceManager saves and checks, part by part), the
// VM's shape, the migrate/snapshot API calls and receiving an incoming VM.
#include <sys/socket.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "base/logging.h"
#include "base/status_macros.h"
#include "migration/receiver.h"
#include "migration/sender.h"
#include "state/state_tree.h"
#include "vmm/machine.h"
#include "vmm/kvm/vcpu_state.h"
#include "vmm/kvm/vm_state.h"

namespace vmm {

absl::Status Machine::ListenForIncoming() {
  if (config_.incoming.empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(migration::Endpoint endpoint, migration::ParseEndpoint(config_.incoming));
  ASSIGN_OR_RETURN(migration::Listener listener, migration::Listener::Listen(endpoint));
  listener_.emplace(std::move(listener));
  LOG_INFO("migration: waiting for the source on %s", endpoint.ToString());
  return absl::OkStatus();
}

absl::Status Machine::ReceiveGuest() {
  const absl::Time start = absl::Now();
  std::optional<migration::Channel> channel;
  if (listener_.has_value()) {
    ASSIGN_OR_RETURN(migration::Channel accepted, listener_->Accept(absl::InfiniteDuration()));
    channel.emplace(std::move(accepted));
    listener_.reset();  // one source only
  } else {
    ASSIGN_OR_RETURN(migration::Channel file, migration::Channel::OpenFile(config_.restore_path));
    channel.emplace(std::move(file));
  }
  migration::Receiver receiver(*this, *channel);
  absl::StatusOr<migration::ReceiveStats> stats = receiver.Run();
  if (!stats.ok()) {
    receiver.SendError(stats.status());
    return absl::Status(stats.status().code(),
                        absl::StrCat(listener_.has_value() || config_.restore_path.empty() ? "incoming migration"
                                                                                             : "restore",
                                     " failed: ", stats.status().message()));
  }
  // The source lets go only after this; the vCPUs start right after it.
  RETURN_IF_ERROR(receiver.SendAck());
  LOG_INFO("migration: received %.1f MiB (%u pages, %u zero pages, %u rounds) from %s in %.0f ms; the guest runs here now",
           static_cast<double>(stats->bytes_received) / (1 << 20), stats->pages_received, stats->zero_pages,
           stats->rounds, channel->name(), absl::ToDoubleMilliseconds(absl::Now() - start));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<uint8_t>> Machine::SaveShape() {
  state::StateWriter w;
  w.BeginNode("shape");
  std::vector<uint64_t> regions;
  for (const memory::MappedRegion& r : memory_->Regions()) {
    regions.push_back(r.gpa);
    regions.push_back(r.size);
  }
  w.PutBytes("ram", {reinterpret_cast<const uint8_t*>(regions.data()), regions.size() * sizeof(uint64_t)});
  w.PutU64("ram_bytes", memory_->TotalSize());
  w.PutU32("vcpus", config_.cpus);
  devices_->SaveShape(w);
  w.EndNode();
  return w.Finish();
}

absl::Status Machine::CheckShape(std::span<const uint8_t> shape_tree) {
  ASSIGN_OR_RETURN(state::StateReader theirs, state::StateReader::Parse(shape_tree));
  ASSIGN_OR_RETURN(std::vector<uint8_t> own_tree, SaveShape());
  ASSIGN_OR_RETURN(state::StateReader ours, state::StateReader::Parse(own_tree));
  ASSIGN_OR_RETURN(state::StateNode t, theirs.Node("shape"));
  ASSIGN_OR_RETURN(state::StateNode o, ours.Node("shape"));
  ASSIGN_OR_RETURN(uint64_t their_ram, t.U64("ram_bytes"));
  if (their_ram != memory_->TotalSize()) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "VM shape mismatch: the source has %u MiB of RAM, this VM %u MiB (start it with --memory %uM)",
        their_ram >> 20, memory_->TotalSize() >> 20, their_ram >> 20));
  }
  ASSIGN_OR_RETURN(std::span<const uint8_t> their_layout, t.Bytes("ram"));
  ASSIGN_OR_RETURN(std::span<const uint8_t> our_layout, o.Bytes("ram"));
  if (!std::equal(their_layout.begin(), their_layout.end(), our_layout.begin(), our_layout.end())) {
    return absl::FailedPreconditionError("VM shape mismatch: the RAM layouts differ");
  }
  ASSIGN_OR_RETURN(uint32_t their_cpus, t.U32("vcpus"));
  if (their_cpus != config_.cpus) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "VM shape mismatch: the source has %u vCPUs, this VM %u (start it with --cpus %u)", their_cpus,
        config_.cpus, their_cpus));
  }
  return devices_->CheckShape(t);
}

absl::Status Machine::SetDirtyLogging(bool on) {
  if (!on) write_tracker_.reset();
  // VMM-side tracking first, so no device write slips between the two.
  memory_->SetDirtyTracking(on);
  absl::Status st = vm_->SetDirtyLogging(*memory_, on);
  if (!st.ok() && on) memory_->SetDirtyTracking(false);
  if (st.ok() && on && kvm_->is_pvm() && config_.migration_write_tracking) {
    // PVM's dirty log misses some guest writes (see migration/FORMAT.md);
    // the host page tables do not.
    const memory::MappedRegion& first = memory_->Regions().front();
    absl::StatusOr<std::unique_ptr<memory::WriteTracker>> tracker =
        memory::WriteTracker::Start(first.host, memory_->TotalSize());
    if (tracker.ok()) {
      write_tracker_ = std::move(*tracker);
      LOG_INFO("migration: PVM host: guest writes are tracked in the host page tables too (its dirty log misses some)");
    } else {
      LOG_INFO("migration: no host-side write tracking (%s); the final pass re-checks every page",
               std::string(tracker.status().message()));
    }
  }
  return st;
}

absl::StatusOr<std::vector<uint64_t>> Machine::TakeDirtyPages(size_t region) {
  const uint64_t pages = memory_->Regions()[region].size / memory::kPageSize;
  ASSIGN_OR_RETURN(std::vector<uint64_t> dirty, vm_->GetDirtyLog(static_cast<uint32_t>(region), pages));
  std::vector<uint64_t> vmm = memory_->TakeDirtyPages(region);
  for (size_t i = 0; i < std::min(dirty.size(), vmm.size()); ++i) dirty[i] |= vmm[i];
  if (write_tracker_) {
    const memory::MappedRegion& r = memory_->Regions()[region];
    RETURN_IF_ERROR(write_tracker_->TakeWritten(r.host, r.size, dirty));
  }
  return dirty;
}

absl::StatusOr<std::vector<uint8_t>> Machine::SaveState() {
  const std::vector<std::unique_ptr<Vcpu>>& vcpus = runner_->vcpus();
  if (saveable_msrs_.empty()) {
    ASSIGN_OR_RETURN(saveable_msrs_, SaveableMsrs(*kvm_, *vcpus[0]));
  }
  state::StateWriter w;
  RETURN_IF_ERROR(SaveVmState(*vm_, w));
  for (const std::unique_ptr<Vcpu>& vcpu : vcpus) RETURN_IF_ERROR(SaveVcpuState(*vcpu, saveable_msrs_, w));
  RETURN_IF_ERROR(devices_->SaveState(w));
  return w.Finish();
}

absl::Status Machine::LoadState(std::span<const uint8_t> state_tree) {
  ASSIGN_OR_RETURN(state::StateReader in, state::StateReader::Parse(state_tree));
  RETURN_IF_ERROR(LoadVmState(*vm_, in));
  for (const std::unique_ptr<Vcpu>& vcpu : runner_->vcpus()) RETURN_IF_ERROR(LoadVcpuState(*vcpu, in));
  return devices_->LoadState(in);
}

absl::Status Machine::StartMigration(const std::string& destination, const migration::MigrationOptions& options) {
  ASSIGN_OR_RETURN(migration::Endpoint endpoint, migration::ParseEndpoint(destination));
  {
    absl::MutexLock lock(&migration_mu_);
    if (migration_running_) return absl::FailedPreconditionError("a migration is already running");
    if (migration_stats_.has_value() && migration_stats_->phase == "completed") {
      return absl::FailedPreconditionError("this VM has already migrated away");
    }
    migration_running_ = true;
    migration_result_fetched_ = false;
    migration_stats_ = migration::MigrationStats{.guest_ram_bytes = memory_->TotalSize()};
  }
  // Connecting here makes "connection refused" the API call's own error.
  absl::StatusOr<migration::Channel> channel = migration::Channel::Connect(endpoint);
  if (!channel.ok()) {
    absl::MutexLock lock(&migration_mu_);
    migration_running_ = false;
    migration_stats_->phase = "failed";
    migration_stats_->error = std::string(channel.status().message());
    return absl::UnavailableError(channel.status().message());
  }
  if (migration_thread_.joinable()) migration_thread_.join();  // the previous, finished one
  migration_socket_.store(channel->fd());
  migration::MigrationOptions effective = options;
  // PVM's dirty log misses some guest writes (pages changed with no log
  // entry, see migration/FORMAT.md); the verified final pass catches them.
  // Hardware KVM does not need it.
  effective.verify_final_pass = kvm_->is_pvm();
  effective.read_through_memfd = kvm_->is_pvm();
  migration_thread_ = std::thread([this, ch = std::move(*channel), options = effective]() mutable {
    MigrationThread(std::move(ch), options);
  });
  return absl::OkStatus();
}

void Machine::MigrationThread(migration::Channel channel, migration::MigrationOptions options) {
  LOG_INFO("migration: sending the guest to %s", channel.name());
  migration::Sender sender(*this, channel, options, [this](const migration::MigrationStats& s) {
    absl::MutexLock lock(&migration_mu_);
    migration_stats_ = s;
  });
  absl::StatusOr<migration::MigrationStats> result = sender.Migrate();
  migration_socket_.store(-1);
  {
    absl::MutexLock lock(&migration_mu_);
    migration_running_ = false;
  }
  if (!result.ok()) {
    LOG_ERROR("migration to %s failed, the guest keeps running here: %s", channel.name(),
              std::string(result.status().message()));
    return;
  }
  LOG_INFO("migration: done, %.1f MiB sent in %u rounds, %.0f ms in all, downtime %.1f ms; the guest runs at %s",
           static_cast<double>(result->bytes_sent) / (1 << 20), result->round, result->total_ms, result->downtime_ms,
           channel.name());
  End(MachineOutcome::kMigrated);
}

absl::StatusOr<migration::MigrationStats> Machine::GetMigration() {
  absl::MutexLock lock(&migration_mu_);
  if (!migration_stats_.has_value()) return absl::NotFoundError("no migration has been started");
  if (migration_stats_->phase == "completed" || migration_stats_->phase == "failed") {
    migration_result_fetched_ = true;
  }
  return *migration_stats_;
}

void Machine::WaitForMigrationResultFetched() {
  {
    absl::MutexLock lock(&mu_);
    if (outcome_ != MachineOutcome::kMigrated) return;
  }
  absl::MutexLock lock(&migration_mu_);
  migration_mu_.AwaitWithTimeout(absl::Condition(&migration_result_fetched_), absl::Seconds(3));
}

absl::StatusOr<migration::MigrationStats> Machine::Snapshot(const std::string& path) {
  {
    absl::MutexLock lock(&migration_mu_);
    if (migration_running_) return absl::FailedPreconditionError("a migration is running");
  }
  ASSIGN_OR_RETURN(migration::Channel channel, migration::Channel::CreateFile(path));
  migration::Sender sender(*this, channel, {.read_through_memfd = kvm_->is_pvm()}, nullptr);
  absl::StatusOr<migration::MigrationStats> stats = sender.Snapshot();
  if (!stats.ok()) {
    ::unlink(path.c_str());  // no half-written snapshot left behind
    return stats.status();
  }
  stats->bytes_sent = channel.bytes_written();
  LOG_INFO("snapshot: %.1f MiB written to %s in %.0f ms", static_cast<double>(stats->bytes_sent) / (1 << 20), path,
           stats->total_ms);
  return stats;
}

}  // namespace vmm
