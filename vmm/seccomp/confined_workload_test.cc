// SPDX-License-Identifier: MIT
// The thread kinds' real work, each on a thread confined to its list, with
// everything but KVM: the API server serving `vmm ctl` (status, balloon,
// migrate, snapshot), the migration sender (with its page-scan workers)
// streaming to a receiver over a Unix socket, a snapshot written from an
// API worker and restored by a receiver, and the device worker running a
// balloon-like discard, a vCPU thread's balloon inflate (its exit
// handling without KVM_RUN), a disk's and a NIC's workers. Run under --seccomp=log, with the reports
// collected: the workload must complete and nothing may be reported (a
// report names the thread kind and the call its list lacks). The guest
// test (tests/seccomp_guest_test.cc) covers the KVM side under `on`.
#include <linux/if_ether.h>
#include <linux/virtio_config.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <mutex>
#include <filesystem>
#include <latch>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "absl/synchronization/mutex.h"
#include "devices/balloon/balloon.h"
#include "devices/block/testing/block_harness.h"
#include "devices/legacy.h"
#include "devices/net/testing/net_harness.h"
#include "migration/cancel_switch.h"
#include "migration/channel.h"
#include "migration/incoming.h"
#include "migration/receiver.h"
#include "migration/sender.h"
#include "migration/snapshot_file.h"
#include "migration/testing/plain_vm.h"
#include "migration/testing/test_pki.h"
#include "virtio/testing/fake_driver.h"
#include "vmm/api/api_client.h"
#include "vmm/api/api_server.h"
#include "vmm/notify_worker.h"
#include "vmm/pause_barrier.h"
#include "vmm/vcpu_runner.h"
#include "vmm/seccomp/thread_filter.h"

namespace vmm::seccomp {
namespace {

constexpr uint64_t kRam = 32ull << 20;
const std::vector<memory::RamRegion> kLayout = {{0, kRam}};

// A VM with nothing but RAM behind the control API, migrating and saving
// itself the way Machine does (machine_migration.cc): connect on the API
// worker, stream on a migration thread confined to its own list, snapshot
// on the API worker.
class PlainMachine : public api::Control {
 public:
  PlainMachine() : source_(kLayout) {
    for (uint64_t gpa = 0; gpa < kRam; gpa += 5 * memory::kPageSize) source_.FillPage(gpa, 0x5a);
  }
  ~PlainMachine() override {
    if (thread_.joinable()) thread_.join();
  }
  api::VmInfo GetVmInfo() override { return {"running", kRam, 1, false}; }
  absl::Status SetBalloonTarget(uint64_t) override { return absl::OkStatus(); }
  absl::StatusOr<api::BalloonInfo> GetBalloonInfo() override { return api::BalloonInfo{}; }
  absl::StatusOr<std::vector<api::BalloonStat>> GetBalloonStats() override {
    return std::vector<api::BalloonStat>{};
  }
  absl::Status StartMigration(const std::string& destination, const migration::MigrationOptions& options) override {
    absl::StatusOr<migration::Endpoint> endpoint = migration::ParseEndpoint(destination);
    if (!endpoint.ok()) return endpoint.status();
    // As Machine does: the cancel switch exists before the connect.
    auto cancel = std::make_shared<migration::CancelSwitch>();
    cancel->Arm(-1);
    {
      absl::MutexLock lock(&mu_);
      stats_ = migration::MigrationStats{.guest_ram_bytes = kRam};
      cancel_ = cancel;
    }
    absl::StatusOr<migration::Channel> channel = migration::Channel::Connect(*endpoint, {.tls = tls.get()});
    if (!channel.ok()) return channel.status();
    if (thread_.joinable()) thread_.join();  // the previous, finished one
    migration::MigrationOptions effective = options;
    effective.verify_final_pass = true;  // the PVM path: more work per page
    effective.read_through_memfd = true;
    cancel->Arm(channel->fd());
    thread_ = std::thread([this, ch = std::move(*channel), effective, cancel]() mutable {
      ConfineThisThread(ThreadKind::kMigrationSender);
      migration::Sender sender(
          source_, ch, effective,
          [this](const migration::MigrationStats& s) {
            absl::MutexLock lock(&mu_);
            stats_ = s;
          },
          cancel.get());
      absl::StatusOr<migration::MigrationStats> result = sender.Migrate();
      absl::MutexLock lock(&mu_);
      stats_ = result.ok() ? *result : sender.stats();
    });
    return absl::OkStatus();
  }
  absl::StatusOr<migration::MigrationStats> GetMigration() override {
    absl::MutexLock lock(&mu_);
    return stats_;
  }
  // On the API worker, as Machine does: the switch shuts the socket down,
  // and the answer waits for the sender to have stopped.
  absl::StatusOr<migration::MigrationStats> CancelMigration() override {
    std::shared_ptr<migration::CancelSwitch> cancel;
    {
      absl::MutexLock lock(&mu_);
      cancel = cancel_;
    }
    if (cancel == nullptr || cancel->Cancel() != migration::CancelSwitch::CancelResult::kCancelled) {
      return absl::FailedPreconditionError("no migration is running");
    }
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(
                             +[](migration::MigrationStats* s) { return migration::PhaseIsFinal(s->phase); }, &stats_),
                         absl::Seconds(60));
    return stats_;
  }
  absl::StatusOr<migration::MigrationStats> Snapshot(const std::string& path) override {
    return migration::WriteSnapshotFile(source_, path, {.read_through_memfd = true});
  }
  migration::PlainSource& source() { return source_; }
  // --tls-dir's credentials, for tls: destinations.
  std::shared_ptr<const migration::TlsCredentials> tls;

 private:
  migration::PlainSource source_;
  std::thread thread_;
  absl::Mutex mu_;
  migration::MigrationStats stats_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<migration::CancelSwitch> cancel_ ABSL_GUARDED_BY(mu_);
};

// Receives one stream into `target` on a thread confined to the
// receiver's list (the channel opened before, as Machine::ReceiveGuest does).
bool ReceiveConfined(migration::Channel& channel, migration::PlainTarget& target) {
  bool ok = false;
  std::thread receiving([&] {
    ConfineThisThread(ThreadKind::kMigrationReceiver);
    migration::Receiver receiver(target, channel);
    absl::StatusOr<migration::ReceiveStats> stats = receiver.Run();
    ok = stats.ok() && receiver.SendAck().ok() && receiver.AwaitCommit(absl::Seconds(30)).ok();
  });
  receiving.join();
  return ok;
}

bool SameRam(migration::PlainSource& source, migration::PlainTarget& target) {
  std::vector<uint8_t> a(kRam), b(kRam);
  return source.memory().ReadBytes(0, a).ok() && target.memory().ReadBytes(0, b).ok() && a == b;
}

// What a vCPU thread does on the balloon's QueueNotify exit (with
// --virtio-notify=inline), minus KVM: the inflate queue's PFNs discarded
// from guest RAM, the used ring written, the interrupt raised through an
// irqfd-like eventfd; and the power-off path's kick of another thread.
std::string InflateOnAVcpuThread() {
  absl::StatusOr<memory::GuestMemory> mem = memory::GuestMemory::Create({{0, 16ull << 20}});
  if (!mem.ok()) return "guest memory: " + std::string(mem.status().message());
  devices::Balloon balloon(*mem);
  base::UniqueFd irqfd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  const std::vector<memory::Gpa> rings = {1 << 20, (1 << 20) + 0x10000, (1 << 20) + 0x20000,
                                          (1 << 20) + 0x30000, (1 << 20) + 0x40000};
  const uint64_t features = 1ull << VIRTIO_F_VERSION_1;
  std::vector<std::unique_ptr<virtio::FakeDriver>> drivers;
  std::vector<virtio::Queue> queues;
  for (size_t i = 0; i < devices::Balloon::QueueRoles(features).size(); ++i) {
    drivers.push_back(std::make_unique<virtio::FakeDriver>(*mem, rings[i], devices::Balloon::kQueueSize));
    queues.emplace_back(devices::Balloon::kQueueSize);
    drivers.back()->Configure(queues.back());
  }
  absl::Status activated = balloon.Activate({.mem = &*mem,
                                             .queues = std::move(queues),
                                             .features = features,
                                             .signal_used = [&] {
                                               uint64_t one = 1;
                                               (void)!::write(irqfd.get(), &one, sizeof(one));
                                             }});
  if (!activated.ok()) return "balloon activate: " + std::string(activated.message());
  std::vector<uint32_t> pfns;
  for (uint32_t pfn = 1024; pfn < 1024 + 256; ++pfn) pfns.push_back(pfn);
  const memory::Gpa buffer = 2 << 20;
  if (!mem->WriteBytes(buffer, {reinterpret_cast<const uint8_t*>(pfns.data()), pfns.size() * 4}).ok()) {
    return "pfn buffer write failed";
  }
  virtio::FakeDriver::Buffer chain[] = {{buffer, static_cast<uint32_t>(pfns.size() * 4), false}};
  drivers[0]->AddChain(chain);

  struct sigaction kick {};
  kick.sa_handler = [](int) {};
  ::sigaction(kKickSignal, &kick, nullptr);
  std::string problems;
  std::thread vcpu([&] {
    ConfineThisThread(ThreadKind::kVcpu);
    if (!balloon.ProcessQueue(0).ok()) problems += "inflate failed; ";
    // The guest's power-off stops the other vCPUs: a kick to this process.
    if (::pthread_kill(::pthread_self(), kKickSignal) != 0) problems += "kick failed; ";
  });
  vcpu.join();
  uint64_t raised = 0;
  if (::read(irqfd.get(), &raised, sizeof(raised)) != sizeof(raised) || raised == 0) problems += "no interrupt; ";
  if (balloon.ballooned_pages() != 256) problems += "pages not ballooned; ";
  return problems;
}

// The workload; returns what went wrong, empty when all went well.
// A disk's requests: notified from a vCPU-confined thread, served by the
// disk's worker confined to its own list (read, write, flush, get-id,
// discard, write-zeroes), the image opened beforehand as Machine does.
std::string DiskRequestsConfined() {
  devices::testing::TempImage image(1 << 20);
  std::unique_ptr<devices::testing::BlockHarness> h = devices::testing::BlockHarness::Make(
      image.path(), /*readonly=*/false, [] { ConfineThisThread(ThreadKind::kBlockWorker); });
  if (h == nullptr) return "disk: cannot open the image; ";
  std::string problems;
  std::thread vcpu([&] {
    ConfineThisThread(ThreadKind::kVcpu);
    using Buffer = virtio::FakeDriver::Buffer;
    constexpr memory::Gpa data = devices::testing::BlockHarness::kData;
    const virtio_blk_discard_write_zeroes range = {.sector = 8, .num_sectors = 8, .flags = 0};
    if (!(h->Negotiate() & VIRTIO_CONFIG_S_DRIVER_OK) ||
        h->Submit(VIRTIO_BLK_T_OUT, 0, {Buffer{data, 4096, false}}) != VIRTIO_BLK_S_OK ||
        h->Submit(VIRTIO_BLK_T_IN, 0, {Buffer{data, 4096, true}}) != VIRTIO_BLK_S_OK ||
        h->Submit(VIRTIO_BLK_T_FLUSH, 0, {}) != VIRTIO_BLK_S_OK ||
        h->Submit(VIRTIO_BLK_T_GET_ID, 0, {Buffer{data, 20, true}}) != VIRTIO_BLK_S_OK ||
        !h->mem.Write(data, range).ok() ||
        h->Submit(VIRTIO_BLK_T_DISCARD, 0, {Buffer{data, sizeof(range), false}}) != VIRTIO_BLK_S_OK ||
        h->Submit(VIRTIO_BLK_T_WRITE_ZEROES, 0, {Buffer{data, sizeof(range), false}}) != VIRTIO_BLK_S_OK) {
      problems = "disk requests failed; ";
    }
  });
  vcpu.join();
  return problems;
}

// A NIC's frames: its driver notifying from a vCPU-confined thread, its
// worker confined to its own list sending, receiving, draining and
// announcing and setting the tap's offloads, on a real tap. The tap lives
// in a network namespace of its own, entered by a thread of its own (a
// namespace is per thread; the migrations above need the test's loopback).
// Without the privilege for a namespace there is no tap to confine.
std::string NicFramesConfined() {
  std::string problems;
  std::thread netns([&] {
    if (!devices::testing::EnterFreshNetns()) {
      std::fprintf(stderr, "NIC worker not exercised: no network namespace of our own (not root?)\n");
      return;
    }
    constexpr char kTap[] = "vmmseccomp0";
    absl::StatusOr<devices::Tap> tap = devices::Tap::Open(kTap);
    if (!tap.ok()) {
      problems = "tap: " + std::string(tap.status().message()) + "; ";
      return;
    }
    using devices::testing::NetHarness;
    std::unique_ptr<NetHarness> h =
        NetHarness::Make(std::move(*tap), [] { ConfineThisThread(ThreadKind::kNetWorker); });
    std::optional<devices::testing::HostPort> host;
    if (h != nullptr && devices::testing::SetLinkUp(kTap)) host = devices::testing::HostPort::Open(kTap);
    if (!host.has_value()) {
      problems = "NIC: no device or host port; ";
      return;
    }
    const std::vector<uint8_t> out = devices::testing::TestFrame(200, 1, {0x02, 0, 0, 0, 0, 0x99});
    const std::vector<uint8_t> in = devices::testing::TestFrame(300, 2, NetHarness::kMac);
    std::thread vcpu([&] {
      ConfineThisThread(ThreadKind::kVcpu);
      if (!(h->Negotiate() & VIRTIO_CONFIG_S_DRIVER_OK)) {
        problems += "NIC negotiation failed; ";
        return;
      }
      h->Transmit({}, out, NetHarness::kData);
      const virtio::FakeDriver::Buffer rx{NetHarness::kData + (1 << 20), 2048, true};
      h->rx->AddChain({&rx, 1});
      h->Notify(devices::Net::kRxQueue);
    });
    vcpu.join();
    std::optional<std::vector<uint8_t>> sent = host->Receive();
    if (!sent.has_value() || *sent != out) problems += "NIC frame not sent; ";
    if (!host->Send(in) || !h->WaitRxUsed(1)) problems += "NIC frame not received; ";
    h->net->Announce();
    std::optional<devices::testing::HostPort> rarp = devices::testing::HostPort::Open(kTap, ETH_P_RARP);
    if (!rarp.has_value() || !rarp->Receive().has_value()) problems += "no announce; ";
    if (h->net->tap_offloads() == 0) problems += "NIC offloads not set; ";
  });
  netns.join();
  return problems;
}

std::string RunWorkload(const std::string& dir) {
  std::string problems = InflateOnAVcpuThread();
  PlainMachine machine;
  const std::string api_socket = dir + "/api.sock";
  absl::StatusOr<std::unique_ptr<api::ApiServer>> server = api::ApiServer::Start(api_socket, machine);
  if (!server.ok()) return "api server: " + std::string(server.status().message());
  if (api::RunCtlCommand(api_socket, {"status"}) != 0) problems += "status failed; ";
  if (api::RunCtlCommand(api_socket, {"balloon", "8M"}) != 0) problems += "balloon failed; ";
  if (api::RunCtlCommand(api_socket, {"balloon", "stats"}) != 0) problems += "balloon stats failed; ";

  // Live migrations over a Unix socket, over tcp to a name (resolved on
  // the API's thread) and over tls (the handshake on the API's thread, the
  // records on the confined sender and receiver): the listener, accept
  // loop and the destination's handshake on this (main-like) thread, the
  // stream on a confined receiver.
  if (absl::Status st = migration::WriteTlsDir(dir + "/tls", *migration::TestCa::Create("Workload CA")); !st.ok()) {
    return problems + "test certificates: " + std::string(st.message());
  }
  absl::StatusOr<std::shared_ptr<const migration::TlsCredentials>> tls =
      migration::TlsCredentials::Load(dir + "/tls", "");
  if (!tls.ok()) return problems + "credentials: " + std::string(tls.status().message());
  machine.tls = *tls;
  api::CtlOptions options;
  options.json = true;
  for (const std::string& to :
       {"unix:" + dir + "/migrate.sock", "tcp:localhost:" + std::to_string(20000 + ::getpid() % 20000),
        "tls:localhost:" + std::to_string(20000 + (::getpid() + 1) % 20000)}) {
    absl::StatusOr<migration::Listener> listener = migration::Listener::Listen(*migration::ParseEndpoint(to));
    if (!listener.ok()) return problems + "listen: " + std::string(listener.status().message());
    migration::PlainTarget target(kLayout);
    bool received = false;
    std::thread destination([&] {
      absl::StatusOr<migration::Channel> in =
          migration::AcceptSource(*listener, {.tls = tls->get(), .wait = absl::Seconds(60)});
      received = in.ok() && ReceiveConfined(*in, target);
    });
    if (api::RunCtlCommand(api_socket, {"migrate", to}, options) != 0) problems += "migrate to " + to + " failed; ";
    destination.join();
    if (!received) problems += "receiver failed; ";
    if (!SameRam(machine.source(), target)) problems += "migrated RAM differs; ";
  }

  // A tls: migration cancelled while the sender waits for a ROUND_SYNC the
  // destination never sends: the cancel (DELETE) on an API worker shuts
  // the socket down under OpenSSL, the confined sender's read ends, it
  // undoes what it changed and reports `cancelled`.
  {
    const std::string to = "tls:localhost:" + std::to_string(20000 + (::getpid() + 2) % 20000);
    absl::StatusOr<migration::Listener> listener = migration::Listener::Listen(*migration::ParseEndpoint(to));
    if (!listener.ok()) return problems + "listen: " + std::string(listener.status().message());
    std::thread destination([&] {
      absl::StatusOr<migration::Channel> in =
          migration::AcceptSource(*listener, {.tls = tls->get(), .wait = absl::Seconds(60)});
      if (!in.ok()) return;
      in->set_io_timeout(absl::Seconds(60));
      std::vector<uint8_t> sink(memory::kPageSize);
      while (in->ReadExact(sink.data(), sink.size()).ok()) {
      }
    });
    int migrate_status = 0;
    std::thread migrate([&] { migrate_status = api::RunCtlCommand(api_socket, {"migrate", to}, options); });
    for (absl::Time end = absl::Now() + absl::Seconds(60);
         absl::Now() < end && machine.GetMigration()->phase != "stop-and-copy";) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    if (api::RunCtlCommand(api_socket, {"migrate-cancel"}, options) != 0) problems += "migrate-cancel failed; ";
    migrate.join();
    destination.join();
    if (migrate_status == 0) problems += "the cancelled migration reported success; ";
    if (machine.GetMigration()->phase != migration::kPhaseCancelled) {
      problems += "cancelled migration ended as " + machine.GetMigration()->phase + "; ";
    }
    // (The stand-in stays "paused" from the completed migrations above, so
    // only what this one changed is checked: dirty logging is off again.)
    if (machine.source().logging) problems += "the cancelled migration left dirty logging on; ";
  }

  // Snapshot on the API worker, restored by a confined receiver; twice, so
  // that the second replaces the first (a temporary file renamed over it),
  // and once refused (a symbolic link at the path).
  const std::string snapshot = dir + "/snap";
  for (int i = 0; i < 2; ++i) {
    if (api::RunCtlCommand(api_socket, {"snapshot", snapshot}, options) != 0) problems += "snapshot failed; ";
  }
  const std::string link = dir + "/snap-link";
  if (::symlink(snapshot.c_str(), link.c_str()) != 0 ||
      api::RunCtlCommand(api_socket, {"snapshot", link}, options) == 0) {
    problems += "a snapshot onto a symbolic link was not refused; ";
  }
  absl::StatusOr<migration::Channel> file = migration::Channel::OpenFile(snapshot);
  migration::PlainTarget restored(kLayout);
  if (!file.ok() || !ReceiveConfined(*file, restored)) problems += "restore failed; ";
  if (!SameRam(machine.source(), restored)) problems += "restored RAM differs; ";

  // The device worker: an eventfd-driven handler that discards guest RAM,
  // as the balloon's inflate does with --virtio-notify=thread.
  absl::StatusOr<std::unique_ptr<NotifyWorker>> worker = NotifyWorker::Create();
  if (!worker.ok()) return problems + "notify worker: " + std::string(worker.status().message());
  base::UniqueFd kick(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  base::UniqueFd kick_copy(::dup(kick.get()));
  absl::Mutex mu;
  bool discarded = false;
  if (!(*worker)
           ->Add(std::move(kick_copy),
                 [&] {
                   absl::Status st = restored.memory().Discard(0, 16 * memory::kPageSize);
                   absl::MutexLock lock(&mu);
                   discarded = st.ok();
                 })
           .ok()) {
    return problems + "notify worker add failed";
  }
  (*worker)->Start();
  uint64_t one = 1;
  if (::write(kick.get(), &one, sizeof(one)) != sizeof(one)) problems += "eventfd write failed; ";
  {
    absl::MutexLock lock(&mu);
    if (!mu.AwaitWithTimeout(absl::Condition(&discarded), absl::Seconds(30))) problems += "no discard; ";
  }
  worker->reset();
  server->reset();
  return problems + DiskRequestsConfined() + NicFramesConfined();
}

// What glibc and absl do the first time, on whichever thread gets there
// first, done on vCPU-confined threads under `on` (a call outside the list
// ends the process with status 1): the CMOS clock's gmtime_r (reads the
// time zone), vCPUs queueing on a pause barrier's absl::Mutex behind each
// other (the queued thread's scheduling priority and absl's cycle-clock
// frequency), more threads allocating than malloc makes arenas for before
// it caps their number (reads the CPU count), and a thread's heap shrinking
// (reads /proc/sys/vm/overcommit_memory). Each runs in a fresh child, so it
// is that process's first time.
struct ConfinedRun {
  int vcpus = 1;
  std::function<void()> set_up = [] {};     // before any thread starts
  std::function<void()> on_vcpu;            // on each vCPU-confined thread
  std::function<void()> alongside = [] {};  // on an unconfined thread meanwhile
};

void ExpectRunsConfinedAsVcpus(const ConfinedRun& run) {
  EXPECT_EXIT(
      {
        if (!PrepareSeccomp(SeccompMode::kOn).ok()) std::_Exit(10);
        run.set_up();
        std::thread helper(run.alongside);
        std::vector<std::thread> vcpus;
        for (int i = 0; i < run.vcpus; ++i) {
          vcpus.emplace_back([&] {
            ConfineThisThread(ThreadKind::kVcpu);
            run.on_vcpu();
          });
        }
        for (std::thread& t : vcpus) t.join();
        helper.join();
        std::fprintf(stderr, "confined work done\n");
        std::_Exit(0);
      },
      ::testing::ExitedWithCode(0), "confined work done");
}

TEST(ConfinedFirstUseTest, CmosClockReadOnAVcpuThread) {
  devices::Cmos cmos;
  ExpectRunsConfinedAsVcpus({.on_vcpu = [&] {
    const uint8_t seconds_register = 0x00;
    cmos.Write(0, {&seconds_register, 1});
    uint8_t value = 0xff;
    cmos.Read(1, {&value, 1});
    if ((value & 0x0f) > 9 || (value >> 4) > 5) std::_Exit(20);  // not a BCD second
  }});
}

// glibc's CPU count where /sys and /proc cannot be opened (openat is
// refused on these threads): its last fallback, sched_getaffinity.
TEST(ConfinedFirstUseTest, CpuCountOnAThreadThatOpensNoFiles) {
  ExpectRunsConfinedAsVcpus({.on_vcpu = [] {
    if (std::thread::hardware_concurrency() == 0) std::_Exit(22);
  }});
}

TEST(ConfinedFirstUseTest, VcpusQueueBehindEachOtherAtAPauseBarrier) {
  constexpr int kVcpus = 3;
  PauseBarrier barrier(kVcpus);
  ExpectRunsConfinedAsVcpus({
      .vcpus = kVcpus,
      // Pause returns once every vCPU is parked, each queued on the
      // barrier's mutex behind the ones before it.
      .on_vcpu = [&] {
        while (barrier.Checkpoint() != PauseBarrier::Next::kStop) {
        }
      },
      .alongside = [&] {
        barrier.Pause([] {});
        barrier.Resume();
        barrier.Stop();
      },
  });
}

TEST(ConfinedFirstUseTest, ManyThreadsAllocateAndTheirHeapsShrink) {
  constexpr int kThreads = 24;  // more than malloc makes arenas for before its cap
  std::latch all_allocated(kThreads);
  ExpectRunsConfinedAsVcpus({
      .vcpus = kThreads,
      // Thresholds that make a 1 MiB block come from the thread's own heap
      // and its free shrink that heap.
      .set_up = [] {
        ::mallopt(M_MMAP_THRESHOLD, 4 << 20);
        ::mallopt(M_TRIM_THRESHOLD, 128 << 10);
      },
      .on_vcpu = [&] {
        void* volatile block = std::malloc(1 << 20);  // volatile: not optimised away
        if (block == nullptr) std::_Exit(21);
        std::memset(block, 1, 1 << 20);
        // Every thread holds its block until all have one, so each needs
        // an arena of its own (up to the cap).
        all_allocated.count_down();
        all_allocated.wait();
        std::free(block);
      },
  });
}

TEST(ConfinedWorkloadTest, EveryThreadKindDoesItsWorkWithNothingOutsideItsList) {
  const std::string dir = ::testing::TempDir() + "/confined-workload-" + std::to_string(::getpid());
  ASSERT_EQ(std::system(("rm -rf " + dir + " && mkdir -p " + dir).c_str()), 0);
  EXPECT_EXIT(
      {
        // The reports go to a file, printed once the workload is done.
        FILE* reports = std::tmpfile();
        const int real_stderr = ::dup(STDERR_FILENO);
        if (reports == nullptr || !PrepareSeccomp(SeccompMode::kLog).ok()) std::_Exit(10);
        ::dup2(::fileno(reports), STDERR_FILENO);
        std::string problems = RunWorkload(dir);
        ::dup2(real_stderr, STDERR_FILENO);
        std::string text(1 << 16, '\0');
        text.resize(std::max<ssize_t>(0, ::pread(::fileno(reports), text.data(), text.size(), 0)));
        std::string seccomp_reports;
        size_t at = 0;
        for (size_t end; (end = text.find('\n', at)) != std::string::npos; at = end + 1) {
          std::string line = text.substr(at, end - at);
          if (line.find("seccomp") != std::string::npos) seccomp_reports += line + "\n";
        }
        std::fprintf(stderr, "workload problems: [%s]\nseccomp reports:\n%s(end)\n", problems.c_str(),
                     seccomp_reports.c_str());
        std::_Exit(0);
      },
      ::testing::ExitedWithCode(0), "^workload problems: \\[\\]\nseccomp reports:\n\\(end\\)\n$");
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
}

}  // namespace
}  // namespace vmm::seccomp
