// SPDX-License-Identifier: MIT
// GuestProcess: runs `vmm run ...` as a child with its console on pipes, the
// way a CI system or a script drives a guest: wait for text on the console,
// type commands, wait for the exit status. Also reads the child's RSS.
#ifndef TESTS_GUEST_PROCESS_H_
#define TESTS_GUEST_PROCESS_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace tests {

// The vmm binary and the default guest image, set by CMake.
std::string VmmBinary();
std::string GuestImageDir();
std::string SourceDir();
// True when the test may not skip for lack of /dev/kvm (CI=true).
bool InCi();
// Empty when /dev/kvm is usable; otherwise why not (tests fail on it under
// CI=true and skip elsewhere).
std::string KvmUnavailableReason();
// In a test body or SetUp: skips the test where /dev/kvm is unusable, and
// fails it instead under CI=true (there a missing /dev/kvm is a failure).
#define REQUIRE_KVM()                                                         \
  do {                                                                        \
    if (std::string why = ::tests::KvmUnavailableReason(); !why.empty()) {    \
      if (::tests::InCi()) FAIL() << why;                                     \
      GTEST_SKIP() << why;                                                    \
    }                                                                         \
  } while (0)

// A /proc/meminfo field in KiB ("MemTotal"), 0 when absent.
uint64_t MeminfoKib(const std::string& meminfo, const std::string& field);

// Runs `command` (a shell line) on the host: its output, or nullopt when
// it cannot start or exits non-zero.
std::optional<std::string> HostCommand(const std::string& command);

class GuestProcess {
 public:
  // Starts `vmm` with `args` (e.g. {"run", "--memory", "1G"}).
  explicit GuestProcess(const std::vector<std::string>& args) : GuestProcess({}, args) {}
  // Runs `prefix... vmm args...`, e.g. prefix {"ip", "netns", "exec", "ns1"}
  // (which execs in place, so pid() is still the VMM's).
  GuestProcess(const std::vector<std::string>& prefix, const std::vector<std::string>& args);
  ~GuestProcess();

  // Waits until `text` appears in the console output after the last match;
  // false on timeout or when the process exited first.
  bool WaitFor(const std::string& text, absl::Duration timeout);
  void Send(const std::string& text);
  // Runs a shell command in the guest and returns its output (the lines
  // between two unique markers).
  std::optional<std::string> RunCommand(const std::string& command, absl::Duration timeout);
  // Waits until the VMM's own log (stderr) shows `text`; false on timeout
  // or when the process exited first.
  bool WaitForStderr(const std::string& text, absl::Duration timeout);
  // Exit status (or 128+signal); nullopt on timeout.
  std::optional<int> WaitExit(absl::Duration timeout);
  void Kill(int signal);

  const std::string& output() const { return output_; }
  std::string stderr_text();
  pid_t pid() const { return pid_; }
  // Resident set size of the VMM process in bytes (0 once it exited).
  uint64_t RssBytes() const;

 private:
  void Pump(absl::Duration wait);
  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  int stdout_fd_ = -1;
  int stderr_fd_ = -1;
  std::string output_;
  std::string stderr_;
  size_t search_from_ = 0;
  std::optional<int> exit_status_;
  int command_counter_ = 0;
};

}  // namespace tests

#endif  // TESTS_GUEST_PROCESS_H_
