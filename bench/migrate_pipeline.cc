// SPDX-License-Identifier: MIT
// bench/migrate_pipeline: the host side of a live migration at full size,
// without a guest. A source VM of --memory bytes (plain memfd RAM) with
// --used bytes of distinct non-zero pages and --zero bytes of populated
// zero pages is migrated over a local TCP (or Unix) socket into a second VM
// in this process, by the real Sender and Receiver. No vCPU writes, so one
// round plus an empty stop-and-copy. Prints wall time, throughput, CPU time
// of each side and the sender's figures (also as JSON: --json FILE), with
// the PVM verification on or off, and optionally with part of the used
// memory hinted free by the "guest" or a "guest" thread rewriting memory at
// a given rate while it runs. --transport tls runs the same over TLS 1.3
// (both ends in this process, certificates from a throw-away CA), naming
// the record layer it got (ktls or openssl). --seccomp on confines the
// sending and receiving threads with the VMM's own filters for them, so
// the filters' cost shows without a guest's noise.
//
// What it isolates: everything but the guest and the wire between hosts,
// i.e. the zero check, bounce copy, checksums, fingerprints, socket writes,
// reads into memory and the receiver's populate, which the guest-level
// bench/migrate.py cannot separate from the emulated guest's own work.
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "base/size_parse.h"
#include "migration/channel.h"
#include "migration/testing/plain_vm.h"
#include "migration/receiver.h"
#include "migration/sender.h"
#include "migration/testing/test_pki.h"
#include "migration/tls_credentials.h"
#include "vmm/seccomp/thread_filter.h"

namespace {

struct Flags {
  uint64_t memory = 4ull << 30;
  uint64_t used = 2ull << 30;
  uint64_t zero = 256ull << 20;
  uint64_t hinted = 0;
  uint64_t dirty_mib_s = 0;
  std::string transport = "tcp";
  bool verify = true;
  bool seccomp = false;  // the sender and receiver threads under their VMM filters
  std::string json;  // --json FILE: the figures as JSON too
};

void Usage() {
  std::fprintf(stderr,
               "usage: migrate_pipeline [--memory 4G] [--used 2G] [--zero 256M] [--hinted 0] "
               "[--dirty-mib-s 0] [--transport tcp|tls|unix] [--verify=true|false] [--seccomp=on|off] [--json FILE]\n");
}

bool ParseFlags(int argc, char** argv, Flags& f) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string value;
    if (auto eq = arg.find('='); eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    }
    absl::StatusOr<uint64_t> size = base::ParseSize(value);
    if (arg == "--memory" && size.ok()) {
      f.memory = *size;
    } else if (arg == "--used" && size.ok()) {
      f.used = *size;
    } else if (arg == "--zero" && size.ok()) {
      f.zero = *size;
    } else if (arg == "--hinted" && size.ok()) {
      f.hinted = *size;
    } else if (arg == "--dirty-mib-s" && absl::SimpleAtoi(value, &f.dirty_mib_s)) {
      // parsed in the condition
    } else if (arg == "--transport" && (value == "tcp" || value == "tls" || value == "unix")) {
      f.transport = value;
    } else if (arg == "--verify" && (value == "true" || value == "false")) {
      f.verify = value == "true";
    } else if (arg == "--seccomp" && (value == "on" || value == "off")) {
      f.seccomp = value == "on";
    } else if (arg == "--json" && !value.empty()) {
      f.json = value;
    } else {
      std::fprintf(stderr, "migrate_pipeline: bad flag or value: %s %s\n", arg.c_str(), value.c_str());
      return false;
    }
  }
  if (f.used + f.zero > f.memory || f.hinted > f.used) {
    std::fprintf(stderr, "migrate_pipeline: --used plus --zero exceeds --memory, or --hinted exceeds --used\n");
    return false;
  }
  return true;
}

// A --tls-dir under /tmp from a throw-away CA, loaded (both ends use it).
absl::StatusOr<std::shared_ptr<const migration::TlsCredentials>> MakeTlsCredentials() {
  absl::StatusOr<migration::TestCa> ca = migration::TestCa::Create("migrate-pipeline CA");
  if (!ca.ok()) return ca.status();
  const std::string dir = "/tmp/migrate-pipeline-tls-" + std::to_string(::getpid());
  if (absl::Status st = migration::WriteTlsDir(dir, *ca); !st.ok()) return st;
  absl::StatusOr<std::shared_ptr<const migration::TlsCredentials>> loaded = migration::TlsCredentials::Load(dir, "");
  std::filesystem::remove_all(dir);
  return loaded;
}

// bench/results.py's layout (bench, format, args, rows), so one tool reads
// every bench's figures. Written beside the path and renamed over it.
bool WriteJson(const Flags& f, const nlohmann::json& row) {
  const nlohmann::json doc{{"bench", "migrate_pipeline"},
                           {"format", 1},
                           {"args",
                            {{"memory", f.memory},
                             {"used", f.used},
                             {"zero", f.zero},
                             {"hinted", f.hinted},
                             {"dirty_mib_s", f.dirty_mib_s},
                             {"transport", f.transport},
                             {"verify", f.verify},
                             {"seccomp", f.seccomp}}},
                           {"rows", nlohmann::json::array({row})}};
  const std::string tmp = f.json + ".tmp";
  std::ofstream out(tmp, std::ios::trunc);
  out << doc.dump(1) << "\n";
  out.close();
  if (!out || std::rename(tmp.c_str(), f.json.c_str()) != 0) {
    std::fprintf(stderr, "migrate_pipeline: cannot write --json %s: %s\n", f.json.c_str(), std::strerror(errno));
    std::remove(tmp.c_str());
    return false;
  }
  return true;
}

// The calling thread's CPU time (clock_gettime: on the confined threads'
// lists, where getrusage is not).
double ThreadCpuSeconds() {
  timespec t{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + t.tv_nsec / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  if (!ParseFlags(argc, argv, flags)) {
    Usage();
    return 2;
  }
  if (flags.seccomp) {
    if (absl::Status st = vmm::seccomp::PrepareSeccomp(vmm::seccomp::SeccompMode::kOn); !st.ok()) {
      std::fprintf(stderr, "migrate_pipeline: seccomp: %s\n", std::string(st.message()).c_str());
      return 1;
    }
  }
  // The VMM's own layout: above 3 GiB the rest of RAM sits above 4 GiB.
  const std::vector<memory::RamRegion> layout = memory::RamRegionsForSize(flags.memory);
  migration::PlainSource source(layout);
  migration::PlainTarget target(layout);
  // Distinct non-zero pages, then populated zero pages, as a guest that
  // used memory leaves it. Written into the memfd, not through the VMM's
  // mapping: a guest's writes do not map pages into the VMM either, and on
  // a host with shadow paging the VMM's first touch of a page is the
  // expensive part this bench must see.
  const absl::Time fill_start = absl::Now();
  uint8_t* ram = source.mem_.Regions()[0].host;
  {
    std::vector<uint8_t> chunk(1 << 20);
    for (uint64_t off = 0; off < flags.used + flags.zero; off += chunk.size()) {
      const uint64_t n = std::min<uint64_t>(chunk.size(), flags.used + flags.zero - off);
      std::memset(chunk.data(), 0, n);
      for (uint64_t p = 0; p < n && off + p < flags.used; p += memory::kPageSize) {
        for (size_t w = 0; w < memory::kPageSize; w += 512) {
          const uint64_t v = off + p + w + 1;
          std::memcpy(chunk.data() + p + w, &v, sizeof(v));
        }
      }
      if (::pwrite(source.mem_.memfd(), chunk.data(), n, static_cast<off_t>(off)) != static_cast<ssize_t>(n)) {
        std::perror("migrate_pipeline: pwrite");
        return 1;
      }
    }
  }
  // The last --hinted bytes of the used pages are reported free at once, as
  // a guest that freed them would (they still hold data, so the checks
  // fingerprint them).
  // Hinted ranges are guest-physical: one per region the range touches.
  if (flags.hinted > 0) {
    uint64_t offset = 0;
    for (const memory::RamRegion& r : layout) {
      const uint64_t from = std::max(offset, flags.used - flags.hinted), to = std::min(offset + r.length, flags.used);
      if (from < to) source.hints.push_back({r.start + (from - offset), to - from});
      offset += r.length;
    }
  }
  std::printf("filled %.0f MiB used + %.0f MiB zero of %.0f MiB in %.0f ms\n", flags.used / 1048576.0,
              flags.zero / 1048576.0, flags.memory / 1048576.0,
              absl::ToDoubleMilliseconds(absl::Now() - fill_start));

  // A "guest" rewriting the first quarter of its used memory (low RAM) at
  // the given rate while the migration runs (every write tracked).
  if (flags.dirty_mib_s > 0) {
    const uint64_t pages = std::max<uint64_t>(flags.used / 4 / memory::kPageSize, 1);
    source.StartWriting(0, pages, std::max<uint64_t>(flags.dirty_mib_s * 256 / 1000, 1));
  }
  const std::string port = std::to_string(20000 + ::getpid() % 20000);
  const std::string where = flags.transport == "unix"
                                ? "unix:/tmp/migrate-pipeline-" + std::to_string(::getpid()) + ".sock"
                                : flags.transport + ":127.0.0.1:" + port;
  // tls: both ends in this process, with certificates from a throw-away CA.
  std::shared_ptr<const migration::TlsCredentials> tls;
  if (flags.transport == "tls") {
    absl::StatusOr<std::shared_ptr<const migration::TlsCredentials>> loaded = MakeTlsCredentials();
    if (!loaded.ok()) {
      std::fprintf(stderr, "migrate_pipeline: TLS set-up: %s\n", std::string(loaded.status().message()).c_str());
      return 1;
    }
    tls = *loaded;
  }
  absl::StatusOr<migration::Endpoint> endpoint = migration::ParseEndpoint(where);
  absl::StatusOr<migration::Listener> listener = migration::Listener::Listen(*endpoint);
  if (!listener.ok()) {
    std::fprintf(stderr, "migrate_pipeline: %s\n", std::string(listener.status().message()).c_str());
    return 1;
  }
  absl::StatusOr<migration::ReceiveStats> received;
  double receiver_cpu = 0;
  std::thread receiver_thread([&] {
    absl::StatusOr<migration::Channel> in = listener->Accept(absl::Seconds(30));
    if (!in.ok()) {
      received = in.status();
      return;
    }
    const double cpu_start = ThreadCpuSeconds();
    if (tls != nullptr) {
      if (absl::Status st = in->StartTls(*tls, migration::TlsRole::kServer, absl::Now() + absl::Seconds(30)); !st.ok()) {
        received = st;
        return;
      }
    }
    // As the VMM's receiving thread: confined once its channel is open.
    if (flags.seccomp) vmm::seccomp::ConfineThisThread(vmm::seccomp::ThreadKind::kMigrationReceiver);
    migration::Receiver receiver(target, *in);
    received = receiver.Run();
    if (received.ok() && receiver.SendAck().ok()) (void)receiver.AwaitCommit(absl::Seconds(30));
    receiver_cpu = ThreadCpuSeconds() - cpu_start;
  });
  absl::StatusOr<migration::Channel> out = migration::Channel::Connect(*endpoint, {.tls = tls.get()});
  if (!out.ok()) {
    std::fprintf(stderr, "migrate_pipeline: %s\n", std::string(out.status().message()).c_str());
    receiver_thread.join();
    return 1;
  }
  if (tls != nullptr) std::printf("tls: %s, record layer %s\n", out->DescribeTls().c_str(), out->Encryption().c_str());
  // The sender on a thread of its own, confined after the connect as the
  // VMM's migration thread is (this thread goes on to open files).
  absl::StatusOr<migration::MigrationStats> stats = absl::UnknownError("the sender did not run");
  double sender_cpu = 0;
  std::thread sender_thread([&] {
    if (flags.seccomp) vmm::seccomp::ConfineThisThread(vmm::seccomp::ThreadKind::kMigrationSender);
    const double sender_cpu_start = ThreadCpuSeconds();
    migration::Sender sender(source, *out, {.verify_final_pass = flags.verify}, nullptr);
    stats = sender.Migrate();
    sender_cpu = ThreadCpuSeconds() - sender_cpu_start;
  });
  sender_thread.join();
  receiver_thread.join();
  if (!stats.ok() || !received.ok()) {
    std::fprintf(stderr, "migrate_pipeline: failed: %s / %s\n", std::string(stats.status().message()).c_str(),
                 std::string(received.status().message()).c_str());
    return 1;
  }
  // The source is paused now; the destination must hold exactly its bytes.
  if (std::memcmp(ram, target.mem_.Regions()[0].host, flags.used - flags.hinted) != 0) {
    std::fprintf(stderr, "migrate_pipeline: destination memory differs from the source\n");
    return 1;
  }
  const double mib = stats->bytes_sent / 1048576.0;
  std::printf(
      "%s verify=%s seccomp=%s dirty=%lu MiB/s: %.0f ms total, %.1f ms downtime, %.1f MiB sent (%.0f MiB/s), rounds %u, zero pages %lu, "
      "unpopulated %lu, sender CPU %.0f ms, receiver CPU %.0f ms\n",
      flags.transport.c_str(), flags.verify ? "true" : "false", flags.seccomp ? "on" : "off", static_cast<unsigned long>(flags.dirty_mib_s),
      stats->total_ms, stats->downtime_ms, mib,
      mib / (stats->total_ms / 1000.0), stats->round, static_cast<unsigned long>(stats->zero_pages),
      static_cast<unsigned long>(stats->skipped_unpopulated), sender_cpu * 1000, receiver_cpu * 1000);
  const migration::MigrationStats::DowntimeParts& d = stats->downtime_parts;
  std::printf("downtime parts (ms): pause %.2f, sync %.2f, last pages %.2f, rescan %.2f, state %.2f, ack %.2f; "
              "live checks %.0f ms\n",
              d.pause, d.sync, d.last_pages, d.rescan, d.state, d.ack, stats->check_ms);
  if (!flags.json.empty()) {
    nlohmann::json rounds = nlohmann::json::array();
    for (const migration::MigrationStats::Round& r : stats->round_history) {
      rounds.push_back({{"round", r.round}, {"dirty_bytes", r.dirty_bytes}, {"bytes_sent", r.bytes_sent},
                        {"ms", r.ms}, {"paused", r.paused}});
    }
    const nlohmann::json row{
        {"total_ms", stats->total_ms},
        {"downtime_ms", stats->downtime_ms},
        {"bytes_sent", stats->bytes_sent},
        {"mib_s", mib / (stats->total_ms / 1000.0)},
        {"rounds", stats->round},
        {"zero_pages", stats->zero_pages},
        {"unpopulated_pages", stats->skipped_unpopulated},
        {"sender_cpu_ms", sender_cpu * 1000},
        {"receiver_cpu_ms", receiver_cpu * 1000},
        {"check_ms", stats->check_ms},
        {"downtime_parts_ms",
         {{"pause", d.pause}, {"sync", d.sync}, {"last_pages", d.last_pages}, {"rescan", d.rescan},
          {"state", d.state}, {"ack", d.ack}}},
        {"round_history", rounds}};
    if (!WriteJson(flags, row)) return 1;
  }
  return 0;
}
