// SPDX-License-Identifier: MIT
// Seccomp under real use: a guest whose VMMs all run with --seccomp=on
// goes through the balloon (inflate and deflate through the API), a live
// migration over tcp to a second VMM, a snapshot and a restore into a
// third. Checked: everything works as without filters, no VMM reports a
// forbidden call, and every thread of every VMM (the helpers that live only
// during a migration included, where they are caught) shows
// `Seccomp: 2` (a filter) in /proc/PID/task/*/status.
#include <dirent.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string_view>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "tests/booted_guest.h"
#include "tests/ctl_json.h"
#include "tests/guest_process.h"
#include "tests/scratch_dir.h"

namespace tests {
namespace {

// Sanitizer builds (CMake VMM_SANITIZE) run this under `log`: their
// runtimes make calls of their own that the lists do not carry, and any
// report is then theirs or ours (see README "Seccomp").
#ifndef SECCOMP_TEST_MODE
#define SECCOMP_TEST_MODE "on"
#endif
constexpr char kSeccompFlag[] = "--seccomp=" SECCOMP_TEST_MODE;
constexpr bool kSeccompOn = std::string_view(SECCOMP_TEST_MODE) == "on";

struct ThreadInfo {
  std::string name;
  std::string seccomp;  // the value of the "Seccomp:" line
};

// Every thread of `pid` now, by thread id (threads that end while being
// read are left out).
std::map<int, ThreadInfo> Threads(pid_t pid) {
  std::map<int, ThreadInfo> out;
  const std::string dir = absl::StrCat("/proc/", pid, "/task");
  DIR* tasks = ::opendir(dir.c_str());
  if (tasks == nullptr) return out;
  while (dirent* entry = ::readdir(tasks)) {
    if (entry->d_name[0] == '.') continue;
    std::ifstream status(dir + "/" + entry->d_name + "/status");
    ThreadInfo info;
    for (std::string line; std::getline(status, line);) {
      absl::string_view rest = line;
      if (absl::ConsumePrefix(&rest, "Name:")) info.name = std::string(absl::StripAsciiWhitespace(rest));
      if (absl::ConsumePrefix(&rest, "Seccomp:")) info.seccomp = std::string(absl::StripAsciiWhitespace(rest));
    }
    if (!info.seccomp.empty()) out[std::atoi(entry->d_name)] = info;
  }
  ::closedir(tasks);
  return out;
}

// Remembers every thread seen across calls, and the ones never seen with a
// filter. A thread the unconfined main thread starts (vCPUs, the API
// listener, the receiver, ...) runs for a moment before it confines itself,
// and the main thread of an --incoming VMM confines itself only once the
// guest has arrived and the other threads are started (machine.cc): a
// thread is unconfined when no look saw it with a filter.
class ThreadCensus {
 public:
  void Look(pid_t pid) {
    for (const auto& [tid, info] : Threads(pid)) {
      // Under `log` the helpers that make reported calls are unconfined.
      if (!kSeccompOn && info.name == "vmm-log-proxy") continue;
      names_.insert(info.name);
      if (info.seccomp == "2") {
        confined_.insert(tid);
      } else {
        unconfined_.emplace(tid, absl::StrCat(info.name, " (", tid, "): Seccomp ", info.seccomp));
      }
    }
  }
  const std::set<std::string>& names() const { return names_; }
  std::string unconfined() const {
    std::string out;
    for (const auto& [tid, text] : unconfined_) {
      if (!confined_.count(tid)) absl::StrAppend(&out, text, "; ");
    }
    return out;
  }

 private:
  std::set<std::string> names_;
  std::set<int> confined_;
  std::map<int, std::string> unconfined_;
};

bool WaitForLog(GuestProcess& vm, const std::string& text, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (vm.stderr_text().find(text) != std::string::npos) return true;
    if (vm.WaitExit(absl::Milliseconds(100)).has_value()) return false;
  }
  return false;
}

class SeccompGuestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    REQUIRE_KVM();
    ASSERT_TRUE(dir_.ok()) << dir_.why();
  }
  // The shape the balloon and migration tests share, so one booted guest
  // serves them all.
  const std::vector<std::string> shape_ = {"--memory", "1G", "--balloon-reporting=false"};
  ScratchDir dir_{"seccomp-test"};
};

TEST_F(SeccompGuestTest, BalloonMigrationSnapshotAndRestoreWorkWithEveryThreadFiltered) {
  absl::StatusOr<std::string> booted = BootedGuestSnapshot(shape_);
  ASSERT_TRUE(booted.ok()) << booted.status();

  // A: the device thread too (--virtio-notify=thread), so that its list is
  // used by the balloon.
  auto a = std::make_unique<GuestProcess>(
      RestoreArgs(shape_, *booted, {"--api-socket", dir_.Path("a.sock"), kSeccompFlag, "--virtio-notify=thread"}));
  ASSERT_TRUE(a->RunCommand("true", absl::Seconds(120)).has_value()) << a->output() << a->stderr_text();
  ThreadCensus census_a;
  census_a.Look(a->pid());

  // The balloon: inflate, then deflate, through the API.
  ASSERT_TRUE(CtlJson(dir_.Path("a.sock"), {"balloon", "64M"}, absl::Seconds(60)).has_value()) << a->stderr_text();
  ASSERT_TRUE(WaitForBalloonActual(dir_.Path("a.sock"), 64, absl::Seconds(300))) << a->stderr_text();
  ASSERT_TRUE(CtlJson(dir_.Path("a.sock"), {"balloon", "stats"}, absl::Seconds(60)).has_value());
  census_a.Look(a->pid());
  ASSERT_TRUE(CtlJson(dir_.Path("a.sock"), {"balloon", "0"}, absl::Seconds(60)).has_value());
  ASSERT_TRUE(WaitForBalloonActual(dir_.Path("a.sock"), 0, absl::Seconds(300))) << a->stderr_text();
  auto echoed = a->RunCommand("echo balloon-done", absl::Seconds(60));
  ASSERT_TRUE(echoed && echoed->find("balloon-done") != std::string::npos) << a->stderr_text();

  // A -> B over tcp on this host; B samples the guest (--profile-guest) so
  // the profiler's timer thread runs too.
  const std::string to_b = absl::StrCat("tcp:127.0.0.1:", 20000 + ::getpid() % 20000);
  auto b =
      std::make_unique<GuestProcess>(RunArgs(shape_, {"--api-socket", dir_.Path("b.sock"), kSeccompFlag, "--incoming",
                                                      to_b, "--profile-guest", dir_.Path("profile.txt")}));
  ASSERT_TRUE(WaitForLog(*b, "waiting for the source", absl::Seconds(60))) << b->stderr_text();
  ThreadCensus census_b;
  GuestProcess migrate({"ctl", "--api", dir_.Path("a.sock"), "migrate", to_b, "--json"});
  // Threads that live only while the guest moves (A's migration thread and
  // its workers, B's receiver) are caught here when the poll meets them.
  std::optional<int> migrate_status;
  const absl::Time deadline = absl::Now() + absl::Seconds(600);
  while (!(migrate_status = migrate.WaitExit(absl::Milliseconds(5))).has_value() && absl::Now() < deadline) {
    census_a.Look(a->pid());
    census_b.Look(b->pid());
  }
  ASSERT_EQ(migrate_status, 0) << migrate.stderr_text() << a->stderr_text() << b->stderr_text();
  nlohmann::json result = nlohmann::json::parse(migrate.output(), nullptr, false);
  EXPECT_EQ(result.value("state", ""), "completed") << migrate.output();
  EXPECT_EQ(a->WaitExit(absl::Seconds(60)), 0) << a->stderr_text();
  echoed = b->RunCommand("echo moved", absl::Seconds(120));
  ASSERT_TRUE(echoed && echoed->find("moved") != std::string::npos) << b->output() << b->stderr_text();
  census_b.Look(b->pid());

  // A snapshot of B, and C restored from it.
  const std::string snap = dir_.Path("guest.snap");
  ASSERT_TRUE(CtlJson(dir_.Path("b.sock"), {"snapshot", snap, "--json"}, absl::Seconds(300)).has_value())
      << b->stderr_text();
  census_b.Look(b->pid());
  echoed = b->RunCommand("echo after-snapshot", absl::Seconds(60));
  ASSERT_TRUE(echoed && echoed->find("after-snapshot") != std::string::npos) << b->stderr_text();
  GuestProcess c(RestoreArgs(shape_, snap, {"--api-socket", dir_.Path("c.sock"), kSeccompFlag}));
  echoed = c.RunCommand("echo restored", absl::Seconds(120));
  ASSERT_TRUE(echoed && echoed->find("restored") != std::string::npos) << c.output() << c.stderr_text();
  ThreadCensus census_c;
  census_c.Look(c.pid());
  ASSERT_TRUE(CtlJson(dir_.Path("c.sock"), {"status"}, absl::Seconds(60)).has_value()) << c.stderr_text();
  census_c.Look(c.pid());

  c.Send("poweroff -f\n");
  EXPECT_EQ(c.WaitExit(absl::Seconds(60)), 0) << c.stderr_text();
  b->Send("poweroff -f\n");
  EXPECT_EQ(b->WaitExit(absl::Seconds(60)), 0) << b->stderr_text();

  // Every thread of every VMM had a filter; the threads of each kind were there.
  for (const auto* census : {&census_a, &census_b, &census_c}) EXPECT_EQ(census->unconfined(), "");
  for (const char* name : {"vmm", "vcpu0", "vmm-api", "vmm-notify"}) {
    EXPECT_TRUE(census_a.names().count(name)) << name;
  }
  for (const char* name : {"vmm", "vcpu0", "vmm-api", "vmm-profiler"}) {
    EXPECT_TRUE(census_b.names().count(name)) << name;
  }
  EXPECT_TRUE(census_c.names().count("vcpu0"));
  std::cout << "threads seen: A " << census_a.names().size() << ", B " << census_b.names().size() << ", C "
            << census_c.names().size() << " names; A:";
  for (const std::string& n : census_a.names()) std::cout << " " << n;
  std::cout << "\n";
  // And nothing was reported (a forbidden call would have ended a VMM with
  // status 1 above; this names it).
  for (GuestProcess* vm : {a.get(), b.get(), &c}) {
    if (kSeccompOn) {
      // The report's own words: "seccomp" alone is also in this test's
      // socket paths, which the VMM logs.
      EXPECT_EQ(vm->stderr_text().find("made the system call"), std::string::npos) << vm->stderr_text();
    }
  }
}

}  // namespace
}  // namespace tests
