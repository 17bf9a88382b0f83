// SPDX-License-Identifier: MIT
#include "vmm/seccomp/seccomp_lists.h"

#include <linux/kvm.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <algorithm>
#include <cerrno>

#include <gtest/gtest.h>

#include "vmm/seccomp/seccomp_mode.h"

namespace vmm::seccomp {
namespace {

std::vector<SyscallRule> RulesFor(ThreadKind kind, int syscall) {
  std::vector<SyscallRule> out;
  for (const SyscallRule& rule : AllowListFor(kind)) {
    if (rule.syscall == syscall) out.push_back(rule);
  }
  return out;
}

TEST(SeccompListsTest, VcpuThreadCannotOpenExecConnectTraceOrStartProcesses) {
  for (int forbidden : {SCMP_SYS(open), SCMP_SYS(openat), SCMP_SYS(openat2), SCMP_SYS(creat), SCMP_SYS(execve),
                        SCMP_SYS(execveat), SCMP_SYS(socket), SCMP_SYS(connect), SCMP_SYS(accept4),
                        SCMP_SYS(ptrace), SCMP_SYS(process_vm_writev), SCMP_SYS(fork), SCMP_SYS(vfork),
                        SCMP_SYS(clone), SCMP_SYS(kill), SCMP_SYS(unlink), SCMP_SYS(mount)}) {
    EXPECT_TRUE(RulesFor(ThreadKind::kVcpu, forbidden).empty()) << forbidden;
  }
}

TEST(SeccompListsTest, VcpuIoctlsAreLimitedToKvmRequests) {
  std::vector<SyscallRule> ioctls = RulesFor(ThreadKind::kVcpu, SCMP_SYS(ioctl));
  ASSERT_FALSE(ioctls.empty());
  bool has_run = false;
  for (const SyscallRule& rule : ioctls) {
    ASSERT_EQ(rule.only_if.size(), 1u) << "an ioctl without a request check";
    EXPECT_EQ(rule.only_if[0].arg, 1u);
    EXPECT_EQ(rule.only_if[0].op, SCMP_CMP_EQ);
    has_run |= rule.only_if[0].datum_a == KVM_RUN;
  }
  EXPECT_TRUE(has_run);
}

TEST(SeccompListsTest, NoThreadMayMapExecutableMemory) {
  for (ThreadKind kind : kAllThreadKinds) {
    for (int call : {SCMP_SYS(mmap), SCMP_SYS(mprotect)}) {
      std::vector<SyscallRule> rules = RulesFor(kind, call);
      ASSERT_EQ(rules.size(), 1u) << ThreadKindName(kind);
      ASSERT_EQ(rules[0].only_if.size(), 1u);
      EXPECT_EQ(rules[0].only_if[0].op, SCMP_CMP_MASKED_EQ);
      EXPECT_EQ(rules[0].only_if[0].datum_a, static_cast<uint64_t>(PROT_EXEC));
      EXPECT_EQ(rules[0].only_if[0].datum_b, 0u);
    }
    EXPECT_TRUE(RulesFor(kind, SCMP_SYS(execve)).empty()) << ThreadKindName(kind);
    EXPECT_TRUE(RulesFor(kind, SCMP_SYS(ptrace)).empty()) << ThreadKindName(kind);
  }
}

TEST(SeccompListsTest, ThreadCreationOnlyWhereThreadsAreStartedAndOnlyThreads) {
  for (ThreadKind kind : kAllThreadKinds) {
    std::vector<SyscallRule> clones = RulesFor(kind, SCMP_SYS(clone));
    const bool starts_threads = kind == ThreadKind::kApiServer || kind == ThreadKind::kMigrationSender;
    EXPECT_EQ(!clones.empty(), starts_threads) << ThreadKindName(kind);
    for (const SyscallRule& rule : clones) {
      ASSERT_EQ(rule.only_if.size(), 1u) << ThreadKindName(kind);
      EXPECT_EQ(rule.only_if[0].op, SCMP_CMP_MASKED_EQ);
      EXPECT_EQ(rule.only_if[0].datum_a, static_cast<uint64_t>(CLONE_THREAD));
      EXPECT_EQ(rule.only_if[0].datum_b, static_cast<uint64_t>(CLONE_THREAD));
    }
  }
}

TEST(SeccompListsTest, Clone3IsRefusedEverywhereAndOpenatWhereNoFileIsOpened) {
  for (ThreadKind kind : kAllThreadKinds) {
    int clone3_error = 0, openat_error = 0;
    for (const RefusedCall& refused : RefusedCallsFor(kind)) {
      if (refused.syscall == SCMP_SYS(clone3)) clone3_error = refused.error;
      if (refused.syscall == SCMP_SYS(openat)) openat_error = refused.error;
    }
    EXPECT_EQ(clone3_error, ENOSYS) << ThreadKindName(kind);
    const bool opens_files = !RulesFor(kind, SCMP_SYS(openat)).empty();
    EXPECT_EQ(openat_error, opens_files ? 0 : EACCES) << ThreadKindName(kind);
  }
}

TEST(SeccompModeTest, ParsesTheThreeModesAndNamesWhatWasTyped) {
  EXPECT_EQ(*ParseSeccompMode("on"), SeccompMode::kOn);
  EXPECT_EQ(*ParseSeccompMode("log"), SeccompMode::kLog);
  EXPECT_EQ(*ParseSeccompMode("off"), SeccompMode::kOff);
  absl::StatusOr<SeccompMode> bad = ParseSeccompMode("yes");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "--seccomp must be 'on', 'log' or 'off', not 'yes'");
}

}  // namespace
}  // namespace vmm::seccomp
