// SPDX-License-Identifier: MIT
// Machine's side of migration and snapshots: the MigrationSource and
// MigrationTarget interfaces over KVM, guest memory and the devices (whose
// state and shape the DeviceManager saves and checks, part by part), the
// VM's shape, the migrate/snapshot API calls and receiving an incoming VM.
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "base/logging.h"
#include "base/progress_line.h"
#include "base/status_macros.h"
#include "migration/incoming.h"
#include "migration/receiver.h"
#include "migration/sender.h"
#include "migration/snapshot_file.h"
#include "migration/transport_policy.h"
#include "state/state_tree.h"
#include "vmm/machine.h"
#include "vmm/receive_progress.h"
#include "vmm/kvm/vcpu_state.h"
#include "vmm/kvm/vm_state.h"
#include "vmm/seccomp/thread_filter.h"

namespace vmm {
namespace {

// How long the destination waits for COMMIT after its ACK. The source
// sends it as soon as it reads the ACK; a source that has not within this
// is stalled, dead or cut off, and the guest must not run here.
constexpr absl::Duration kCommitTimeout = absl::Seconds(10);
// How long a destination waits for the source VMM to exit and free the
// disk images it shares with this one.
constexpr absl::Duration kDiskLockWait = absl::Seconds(30);

}  // namespace

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
    // Connections that fail the handshake or the preamble are dropped
    // and the wait goes on (incoming.h). The stream's reads then wait at
    // most the usual limit plus the source's longest silence by design:
    // its wait for the guest's free page report, before round 1.
    ASSIGN_OR_RETURN(migration::Channel accepted,
                     migration::AcceptSource(*listener_, {.tls = config_.tls.get(),
                                                          .wait = config_.incoming_timeout,
                                                          .io_timeout = migration::kDefaultIoTimeout +
                                                                        absl::Milliseconds(migration::MigrationOptions{}.hint_timeout_ms)}));
    channel.emplace(std::move(accepted));
    listener_.reset();  // one source only
  } else {
    ASSIGN_OR_RETURN(migration::Channel file, migration::Channel::OpenFile(config_.restore_path));
    channel.emplace(std::move(file));
  }
  // How far the guest got in: a bar on a terminal, as `vmm ctl migrate`
  // draws; elsewhere a log line every few seconds. A snapshot file's length
  // is known, so a restore shows the time left; a migration's stream ends
  // when its source decides, so an incoming guest shows the round, the
  // bytes received and the recent rate (the average would count the wait
  // for the source's first round).
  base::ProgressLine line(stderr, base::ProgressLine::StyleOf(stderr),
                          {.plain_sink = [](std::string_view text) { LOG_INFO("%s", text); }, .start = start});
  migration::Receiver::ProgressCallback on_progress;
  struct stat file_stat {};
  if (!config_.restore_path.empty()) {
    if (::fstat(channel->fd(), &file_stat) == 0 && file_stat.st_size > 0) {
      on_progress = [&line, start, this](const migration::ReadProgress& p) {
        line.Show(p.done_bytes, p.total_bytes,
                  RestoreProgressText(config_.restore_path, p, RestoreRate(p, absl::Now() - start)));
        if (p.done) line.Finish();
      };
    }
  } else {
    on_progress = [&line, rate = base::RecentRate(), source = channel->name(),
                   ram = memory_->TotalSize()](const migration::ReadProgress& p) mutable {
      rate.Add(absl::Now(), p.done_bytes);
      const BarEnds bar = IncomingBar(p, ram);
      line.Show(bar.done, bar.total, IncomingProgressText(source, p, rate.PerSecond()));
      if (p.done) line.Finish();
    };
  }
  // The stream is untrusted input: it is parsed on a thread of its own,
  // confined to the receiver's list once the connection or file is open.
  // (Confining this thread instead would stack that list on every thread
  // it starts afterwards.)
  absl::Status received;
  std::thread receiving([&] {
    seccomp::ConfineThisThread(seccomp::ThreadKind::kMigrationReceiver);
    received = ReceiveFrom(*channel, start, {static_cast<uint64_t>(file_stat.st_size), std::move(on_progress)});
  });
  receiving.join();
  line.Finish();  // before the error, if the restore failed half-way
  RETURN_IF_ERROR(received);
  // The source committed and exits, freeing its disks' locks; this VM's
  // guest may write them only once they are its (before the vCPUs start).
  return devices_->LockDisks(kDiskLockWait);
}

absl::Status Machine::ReceiveFrom(migration::Channel& channel, absl::Time start, ReceiveProgress progress) {
  migration::Receiver receiver(*this, channel);
  if (progress.on_progress) receiver.ReportProgress(progress.total_bytes, std::move(progress.on_progress));
  absl::StatusOr<migration::ReceiveStats> stats = receiver.Run();
  if (!stats.ok()) {
    receiver.SendError(stats.status());
    return absl::Status(stats.status().code(),
                        absl::StrCat(listener_.has_value() || config_.restore_path.empty() ? "incoming migration"
                                                                                             : "restore",
                                     " failed: ", stats.status().message()));
  }
  // The explicit commit (migration/FORMAT.md, "Failures"): the guest runs
  // here only once the source, having seen this ACK, sends COMMIT.
  RETURN_IF_ERROR(receiver.SendAck());
  if (absl::Status st = receiver.AwaitCommit(kCommitTimeout); !st.ok()) {
    return absl::Status(st.code(), absl::StrCat("incoming migration failed: ", st.message()));
  }
  // A migration's rounds as its source counts them (its summary says the
  // same number): the live ones and the paused last pass.
  LOG_INFO("migration: received %.1f MiB (%u pages, %u zero pages, %u rounds) from %s in %.0f ms; the guest runs here now",
           static_cast<double>(stats->bytes_received) / (1 << 20), stats->pages_received, stats->zero_pages,
           stats->rounds + (channel.is_socket() ? 1 : 0), channel.name(), absl::ToDoubleMilliseconds(absl::Now() - start));
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
  RETURN_IF_ERROR(migration::CheckTransport(
      endpoint, {.have_tls_credentials = config_.tls != nullptr, .insecure = config_.insecure_transport}));
  const std::string where = endpoint.ToString();
  // Refused (409) while a snapshot is written, another migration runs or
  // has an unknown outcome, or the guest has migrated away.
  ASSIGN_OR_RETURN(OperationLock::Claim claim, operations_.TryBegin(absl::StrCat("a migration to ", where),
                                                                    absl::StrCat("a migration to ", where, " is running")));
  // The switch exists, armed without a socket, from the moment the
  // migration counts as running: a cancel during the connect and the TLS
  // handshake (which may take the whole io timeout) is kept, and shuts the
  // socket down as soon as there is one, instead of finding no switch.
  auto cancel = std::make_shared<migration::CancelSwitch>();
  cancel->Arm(-1);
  {
    absl::MutexLock lock(&migration_mu_);
    migration_running_ = true;
    migration_result_fetched_ = false;
    migration_stats_ = migration::MigrationStats{.guest_ram_bytes = memory_->TotalSize()};
    migration_cancel_ = cancel;
  }
  // Connecting here (and the TLS handshake) makes "connection refused" or
  // "certificate refused" the API call's own error.
  absl::StatusOr<migration::Channel> channel = migration::Channel::Connect(endpoint, {.tls = config_.tls.get()});
  if (!channel.ok()) {
    cancel->Disarm();
    absl::MutexLock lock(&migration_mu_);
    migration_running_ = false;
    migration_stats_->phase = migration::kPhaseFailed;
    migration_stats_->error = std::string(channel.status().message());
    return absl::UnavailableError(channel.status().message());  // the claim ends here
  }
  if (migration_thread_.joinable()) migration_thread_.join();  // the previous, finished one
  {
    absl::MutexLock lock(&migration_mu_);
    migration_stats_->encryption = channel->Encryption();
  }
  if (endpoint.kind == migration::Endpoint::Kind::kTls) {
    LOG_INFO("migration: destination %s: %s, record layer: %s", channel->name(), channel->DescribeTls(),
             channel->Encryption());
  }
  migration_socket_.store(channel->fd());
  // Armed with the socket before the thread starts, so a cancel right
  // after this call returns (or one during the connect) is not lost.
  cancel->Arm(channel->fd());
  {
    absl::MutexLock lock(&migration_mu_);
    migration_claim_.emplace(std::move(claim));
  }
  migration::MigrationOptions effective = options;
  // PVM's dirty log misses some guest writes (pages changed with no log
  // entry, see migration/FORMAT.md); the verified final pass catches them.
  // Hardware KVM does not need it.
  effective.verify_final_pass = kvm_->is_pvm();
  effective.read_through_memfd = kvm_->is_pvm();
  migration_thread_ = std::thread([this, ch = std::move(*channel), options = effective, cancel]() mutable {
    MigrationThread(std::move(ch), options, std::move(cancel));
  });
  return absl::OkStatus();
}

void Machine::MigrationThread(migration::Channel channel, migration::MigrationOptions options,
                              std::shared_ptr<migration::CancelSwitch> cancel) {
  // Started by an API worker, so its list applies too: this thread can do
  // what both lists allow.
  seccomp::ConfineThisThread(seccomp::ThreadKind::kMigrationSender);
  LOG_INFO("migration: sending the guest to %s", channel.name());
  migration::Sender sender(
      *this, channel, options,
      [this](const migration::MigrationStats& s) {
        absl::MutexLock lock(&migration_mu_);
        migration_stats_ = s;
      },
      cancel.get());
  absl::StatusOr<migration::MigrationStats> result = sender.Migrate();
  migration_socket_.store(-1);
  const bool unknown = !result.ok() && sender.outcome_unknown();
  {
    absl::MutexLock lock(&migration_mu_);
    migration_running_ = false;
    migration_stats_ = sender.stats();
    if (result.ok()) {
      migration_claim_->Describe(absl::StrCat("this VM has migrated away to ", channel.name()));
    } else if (unknown) {
      // The guest stays paused (the sender kept its pause) and the VM
      // claimed until an operator settles it.
      migration_claim_->Describe(absl::StrCat("the migration to ", channel.name(),
                                              " has an unknown outcome; settle it first (vmm ctl migrate-resume "
                                              "or migrate-abandon)"));
    } else {
      migration_claim_.reset();
    }
  }
  if (unknown) {
    LOG_ERROR("migration to %s: outcome unknown, the guest stays paused here: %s. Once you know whether the "
              "destination runs it: `vmm ctl migrate-resume` runs it here, `vmm ctl migrate-abandon` ends this VMM "
              "without running it",
              channel.name(), std::string(result.status().message()));
    return;
  }
  if (!result.ok()) {
    LOG_ERROR("migration to %s %s, the guest keeps running here: %s", channel.name(), sender.stats().phase,
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
  if (migration::PhaseIsFinal(migration_stats_->phase)) migration_result_fetched_ = true;
  return *migration_stats_;
}

absl::StatusOr<migration::MigrationStats> Machine::CancelMigration() {
  std::shared_ptr<migration::CancelSwitch> cancel;
  {
    absl::MutexLock lock(&migration_mu_);
    if (!migration_running_) {
      return absl::FailedPreconditionError(
          migration_stats_.has_value() ? absl::StrCat("no migration is running (the last one: ", migration_stats_->phase, ")")
                                       : "no migration is running");
    }
    cancel = migration_cancel_;
  }
  if (cancel == nullptr) return absl::FailedPreconditionError("no migration is running");
  switch (cancel->Cancel()) {
    case migration::CancelSwitch::CancelResult::kTooLate:
      return absl::FailedPreconditionError(
          "the migration has sent the guest's last state (END) and can no longer be cancelled: the destination "
          "decides now (GET /api/v1/migrate; if it ends in unknown-outcome, resume or abandon it)");
    case migration::CancelSwitch::CancelResult::kNotRunning:
      return absl::FailedPreconditionError("no migration is running");
    case migration::CancelSwitch::CancelResult::kCancelled:
      break;
  }
  // The sender stops at its next read or write (the socket is shut down)
  // and resumes the guest; answer once it has.
  absl::MutexLock lock(&migration_mu_);
  migration_mu_.AwaitWithTimeout(
      absl::Condition(+[](bool* running) { return !*running; }, &migration_running_), absl::Seconds(30));
  return *migration_stats_;
}

absl::Status Machine::NoUnknownOutcome() {
  return absl::FailedPreconditionError(
      migration_stats_.has_value()
          ? absl::StrCat("no migration has an unknown outcome (the last one: ", migration_stats_->phase, ")")
          : "no migration has been started");
}

absl::StatusOr<migration::MigrationStats> Machine::ResumeMigrationSource() {
  absl::MutexLock lock(&migration_mu_);
  if (!migration_stats_.has_value() || migration_stats_->phase != migration::kPhaseUnknownOutcome) {
    return NoUnknownOutcome();
  }
  migration_stats_->phase = migration::kPhaseResumed;
  migration_stats_->error += "; the operator resumed the guest here";
  migration_claim_.reset();
  Resume();  // the pause the sender kept
  LOG_INFO("migration: the operator resumed the guest here after an unknown outcome");
  return *migration_stats_;
}

absl::StatusOr<migration::MigrationStats> Machine::AbandonMigrationSource() {
  migration::MigrationStats stats;
  {
    absl::MutexLock lock(&migration_mu_);
    if (!migration_stats_.has_value() || migration_stats_->phase != migration::kPhaseUnknownOutcome) {
      return NoUnknownOutcome();
    }
    migration_stats_->phase = migration::kPhaseAbandoned;
    migration_stats_->error += "; the operator abandoned this copy: the VMM ends without running the guest";
    migration_result_fetched_ = true;  // this answer carries it
    stats = *migration_stats_;
  }
  LOG_INFO("migration: the operator abandoned this copy of the guest after an unknown outcome; ending without running it");
  End(MachineOutcome::kMigrated);
  return stats;
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
  // Refused (409) while another snapshot or a migration runs: each would
  // resume the guest while the other still copies it.
  ASSIGN_OR_RETURN(OperationLock::Claim claim, operations_.TryBegin(absl::StrCat("a snapshot to ", path),
                                                                    absl::StrCat("a snapshot to ", path,
                                                                                 " is being written")));
  {
    absl::MutexLock lock(&snapshot_mu_);
    snapshot_progress_ = api::SnapshotProgress{.state = "saving", .path = path};
  }
  auto progress = [this](const migration::MigrationStats& s) {
    absl::MutexLock lock(&snapshot_mu_);
    snapshot_progress_->done_bytes = s.snapshot_done_bytes;
    snapshot_progress_->total_bytes = s.snapshot_total_bytes;
    snapshot_progress_->bytes_written = s.bytes_sent;
    snapshot_progress_->total_ms = s.total_ms;
  };
  // Written beside the path and renamed over it once complete: a failed
  // snapshot leaves the previous file there as it was.
  absl::StatusOr<migration::MigrationStats> stats =
      migration::WriteSnapshotFile(*this, path, {.read_through_memfd = kvm_->is_pvm()}, progress);
  {
    absl::MutexLock lock(&snapshot_mu_);
    snapshot_progress_->state = stats.ok() ? "completed" : "failed";
    if (stats.ok()) {
      snapshot_progress_->bytes_written = stats->bytes_sent;
      snapshot_progress_->total_ms = stats->total_ms;
    } else {
      snapshot_progress_->error = std::string(stats.status().message());
    }
  }
  if (!stats.ok()) return stats.status();
  LOG_INFO("snapshot: %.1f MiB written to %s in %.0f ms", static_cast<double>(stats->bytes_sent) / (1 << 20), path,
           stats->total_ms);
  return stats;
}

absl::StatusOr<api::SnapshotProgress> Machine::GetSnapshot() {
  absl::MutexLock lock(&snapshot_mu_);
  if (!snapshot_progress_.has_value()) return absl::NotFoundError("no snapshot has been taken");
  return *snapshot_progress_;
}

}  // namespace vmm
