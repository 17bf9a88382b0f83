// SPDX-License-Identifier: MIT
#include "tests/netns_pair.h"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace tests {
namespace {

std::string ShellOutput(const std::string& command) {
  std::string out;
  if (FILE* p = ::popen(command.c_str(), "r")) {
    char buf[256];
    while (std::fgets(buf, sizeof(buf), p)) out += buf;
    ::pclose(p);
  }
  return out;
}

}  // namespace

int Shell(const std::string& command) {
  // A subshell: redirections inside `command` keep their own targets.
  return std::system(("(" + command + ") >/dev/null 2>&1").c_str());
}

NetnsPair::NetnsPair() {
  const std::string id = std::to_string(::getpid() % 100000);
  a_ = "vmmtest-a-" + id;
  b_ = "vmmtest-b-" + id;
  veth_a_ = "va" + id;
  veth_b_ = "vb" + id;
  subnet_ = absl::StrCat("10.77.", ::getpid() % 250, ".");
  Remove();
  ok_ = Shell("ip netns add " + a_) == 0 && Shell("ip netns add " + b_) == 0 &&
        Shell(absl::StrCat("ip link add ", veth_a_, " netns ", a_, " type veth peer name ", veth_b_, " netns ", b_)) ==
            0 &&
        Shell(absl::StrCat("ip -n ", a_, " addr add ", subnet_, "1/24 dev ", veth_a_)) == 0 &&
        Shell(absl::StrCat("ip -n ", b_, " addr add ", subnet_, "2/24 dev ", veth_b_)) == 0 &&
        Shell(absl::StrCat("ip -n ", a_, " link set ", veth_a_, " up")) == 0 &&
        Shell(absl::StrCat("ip -n ", b_, " link set ", veth_b_, " up")) == 0 &&
        Shell("ip -n " + a_ + " link set lo up") == 0 && Shell("ip -n " + b_ + " link set lo up") == 0;
}

NetnsPair::~NetnsPair() { Remove(); }

void NetnsPair::Remove() {
  Shell("ip netns del " + a_);
  Shell("ip netns del " + b_);
}

std::optional<uint64_t> NetnsPair::BytesReceivedByB() const {
  uint64_t v = 0;
  std::string text = ShellOutput("ip netns exec " + b_ + " cat /sys/class/net/" + veth_b_ + "/statistics/rx_bytes");
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &v)) return std::nullopt;
  return v;
}

absl::Status RunInNetns(const std::string& ns, const std::function<void()>& fn) {
  absl::Status entered;
  // setns(CLONE_NEWNET) moves only the calling thread: a thread of its own
  // keeps the test's other threads where they are.
  std::thread in_ns([&] {
    const std::string path = "/run/netns/" + ns;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      entered = absl::ErrnoToStatus(errno, "open " + path);
      return;
    }
    const int joined = ::setns(fd, CLONE_NEWNET);
    const int setns_errno = errno;
    ::close(fd);
    if (joined != 0) {
      entered = absl::ErrnoToStatus(setns_errno, "setns into " + ns);
      return;
    }
    fn();
  });
  in_ns.join();
  return entered;
}

}  // namespace tests
