// SPDX-License-Identifier: MIT
#include "vmm/seccomp/syscall_proxy.h"

#include <linux/futex.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <functional>
#include <thread>

namespace vmm::seccomp {
namespace {

// Each slot has its own helper thread, so a call that blocks (an accept,
// a read) holds up only its own slot. A slot goes kFree -> kClaimed (a
// caller fills it) -> kPosted (its helper runs it) -> kDone (the caller
// takes the result) -> kFree.
enum State : uint32_t { kFree, kClaimed, kPosted, kDone };
constexpr int kSlots = 8;

struct Mailbox {
  std::atomic<uint32_t> state{kFree};
  long nr = 0;
  long args[6] = {};
  long result = 0;
};
Mailbox g_slots[kSlots];
// Bumped whenever a slot is freed: callers finding every slot busy wait on it.
std::atomic<uint32_t> g_freed{0};
std::atomic<bool> g_started{false};

static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t));

void FutexWait(std::atomic<uint32_t>& word, uint32_t seen) {
  ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAIT_PRIVATE, seen, nullptr, nullptr, 0);
}
void FutexWakeAll(std::atomic<uint32_t>& word) {
  ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0);
}

void HelperLoop(Mailbox& slot) {
  while (true) {
    uint32_t s = slot.state.load();
    if (s != kPosted) {
      FutexWait(slot.state, s);
      continue;
    }
    const long* a = slot.args;
    long r = ::syscall(slot.nr, a[0], a[1], a[2], a[3], a[4], a[5]);
    slot.result = r == -1 ? -errno : r;
    slot.state.store(kDone);
    FutexWakeAll(slot.state);
  }
}

Mailbox& ClaimSlot() {
  while (true) {
    const uint32_t freed = g_freed.load();
    for (Mailbox& slot : g_slots) {
      uint32_t expected = kFree;
      if (slot.state.compare_exchange_strong(expected, kClaimed)) return slot;
    }
    FutexWait(g_freed, freed);
  }
}

}  // namespace

absl::Status StartSyscallProxy() {
  if (g_started.exchange(true)) return absl::OkStatus();
  // Detached: a confined thread may need them up to the process's last call.
  for (Mailbox& slot : g_slots) {
    std::thread helper(HelperLoop, std::ref(slot));
    // Named, so that a look at the threads tells them from confined ones.
    ::pthread_setname_np(helper.native_handle(), kSyscallProxyThreadName);
    helper.detach();
  }
  return absl::OkStatus();
}

bool CanProxy(long nr) {
  switch (nr) {
    case SYS_clone: case SYS_clone3: case SYS_fork: case SYS_vfork: case SYS_exit:
    case SYS_rt_sigreturn: case SYS_rt_sigprocmask: case SYS_rt_sigsuspend: case SYS_rt_sigtimedwait:
    case SYS_sigaltstack: case SYS_set_tid_address: case SYS_set_robust_list: case SYS_get_robust_list:
    case SYS_rseq: case SYS_arch_prctl: case SYS_prctl: case SYS_seccomp: case SYS_gettid:
    case SYS_unshare: case SYS_setns: case SYS_sched_setaffinity: case SYS_sched_getaffinity:
      return false;
    default:
      return g_started.load();
  }
}

long ProxySyscall(long nr, const long args[6]) {
  Mailbox& slot = ClaimSlot();
  slot.nr = nr;
  for (int i = 0; i < 6; ++i) slot.args[i] = args[i];
  slot.state.store(kPosted);
  FutexWakeAll(slot.state);
  uint32_t s;
  while ((s = slot.state.load()) != kDone) FutexWait(slot.state, s);
  const long result = slot.result;
  slot.state.store(kFree);
  g_freed.fetch_add(1);
  FutexWakeAll(g_freed);
  return result;
}

}  // namespace vmm::seccomp
