// SPDX-License-Identifier: MIT
#include "vmm/seccomp/sigsys_report.h"

#include <linux/audit.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "vmm/seccomp/syscall_proxy.h"

namespace vmm::seccomp {
namespace {

// Above every x86-64 system call number.
constexpr int kSyscallTableSize = 512;
constexpr int kKinds = std::size(kAllThreadKinds);
constexpr int kUnknownKind = kKinds;
// si_code of a SIGSYS from a seccomp filter (SYS_SECCOMP in the kernel's
// siginfo.h; glibc hides its name in this build mode).
constexpr int kSiCodeSeccomp = 1;

SeccompMode g_mode = SeccompMode::kOff;
char g_syscall_names[kSyscallTableSize][32];
char g_kind_names[kKinds + 1][32];
// --seccomp=log: whether a (thread kind, call) was reported already.
std::atomic<bool> g_reported[kKinds + 1][kSyscallTableSize];
thread_local int t_kind = kUnknownKind;

// A line built without allocating.
class Line {
 public:
  Line& Add(const char* text) {
    while (*text != '\0' && size_ < sizeof(buffer_) - 1) buffer_[size_++] = *text++;
    return *this;
  }
  Line& AddNumber(unsigned long value, unsigned base) {
    char digits[24];
    int n = 0;
    do {
      digits[n++] = "0123456789abcdef"[value % base];
      value /= base;
    } while (value != 0);
    if (base == 16) Add("0x");
    while (n > 0 && size_ < sizeof(buffer_) - 1) buffer_[size_++] = digits[--n];
    return *this;
  }
  void WriteToStderr() {
    buffer_[size_++] = '\n';
    ssize_t unused = ::write(STDERR_FILENO, buffer_, size_);
    (void)unused;
  }

 private:
  char buffer_[320];
  size_t size_ = 0;
};

int KindIndex(ThreadKind kind) {
  for (int i = 0; i < kKinds; ++i) {
    if (kAllThreadKinds[i] == kind) return i;
  }
  return kUnknownKind;
}

// A thread that inherited its filter goes by its parent's thread name.
int KindOfThreadNamed(const char* name) {
  for (int i = 0; i < kKinds; ++i) {
    const char* kind_name = ThreadNameFor(kAllThreadKinds[i]);
    if (kind_name != nullptr && std::strcmp(kind_name, name) == 0) return i;
  }
  return kUnknownKind;
}

void OnSigsys(int, siginfo_t* info, void* raw_context) {
  const int saved_errno = errno;
  if (info->si_code != kSiCodeSeccomp) return;  // a SIGSYS someone sent: not ours
  greg_t* regs = static_cast<ucontext_t*>(raw_context)->uc_mcontext.gregs;
  const int nr = info->si_syscall;
  const bool native = info->si_arch == AUDIT_ARCH_X86_64;
  char thread_name[17] = {};
  ::prctl(PR_GET_NAME, thread_name);  // every list allows this
  const int kind = t_kind != kUnknownKind ? t_kind : KindOfThreadNamed(thread_name);

  Line line;
  if (g_mode == SeccompMode::kOn) line.Add("vmm: error: seccomp: ");
  else line.Add("vmm: seccomp (log): ");
  line.Add("the ").Add(g_kind_names[kind]).Add(" thread '").Add(thread_name).Add("' made the system call ");
  if (native && nr >= 0 && nr < kSyscallTableSize) line.Add(g_syscall_names[nr]);
  else line.Add("#").AddNumber(static_cast<unsigned long>(nr), 10).Add(native ? "" : " of another architecture");
  const long args[6] = {static_cast<long>(regs[REG_RDI]), static_cast<long>(regs[REG_RSI]),
                        static_cast<long>(regs[REG_RDX]), static_cast<long>(regs[REG_R10]),
                        static_cast<long>(regs[REG_R8]),  static_cast<long>(regs[REG_R9])};
  if (g_mode == SeccompMode::kOn) {
    line.Add(", which its list forbids; stopping the VMM (exit status 1)");
    line.WriteToStderr();
    ::syscall(SYS_exit_group, 1);
  }
  const bool first = nr < 0 || nr >= kSyscallTableSize || !g_reported[kind][nr].exchange(true);
  const bool proxied = native && CanProxy(nr);
  if (first) {
    line.Add("(").AddNumber(static_cast<unsigned long>(args[0]), 16).Add(", ");
    line.AddNumber(static_cast<unsigned long>(args[1]), 16).Add(", ").AddNumber(static_cast<unsigned long>(args[2]), 16);
    line.Add(", ...) outside its list; ").Add(proxied ? "made anyway" : "answered ENOSYS");
    line.Add(" (first report for this thread kind and call)");
    line.WriteToStderr();
  }
  regs[REG_RAX] = proxied ? ProxySyscall(nr, args) : -ENOSYS;
  errno = saved_errno;
}

}  // namespace

const char* ThreadNameFor(ThreadKind kind) {
  switch (kind) {
    case ThreadKind::kApiServer: return "vmm-api";
    case ThreadKind::kMigrationSender: return "vmm-migrate";
    case ThreadKind::kMigrationReceiver: return "vmm-incoming";
    case ThreadKind::kProfilerTimer: return "vmm-profiler";
    default: return nullptr;
  }
}

void SetReportedThreadKind(ThreadKind kind) {
  t_kind = KindIndex(kind);
  if (const char* name = ThreadNameFor(kind)) ::prctl(PR_SET_NAME, name);
}

absl::Status InstallSigsysReport(SeccompMode mode) {
  for (int nr = 0; nr < kSyscallTableSize; ++nr) {
    char* name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
    std::string text = name != nullptr ? name : absl::StrCat("#", nr);
    std::free(name);
    text.copy(g_syscall_names[nr], sizeof(g_syscall_names[nr]) - 1);
  }
  for (int i = 0; i <= kKinds; ++i) {
    const char* name = i < kKinds ? ThreadKindName(kAllThreadKinds[i]) : "unconfined-kind";
    std::strncpy(g_kind_names[i], name, sizeof(g_kind_names[i]) - 1);
  }
  g_mode = mode;
  if (mode == SeccompMode::kLog) {
    if (absl::Status st = StartSyscallProxy(); !st.ok()) return st;
  }
  struct sigaction action {};
  action.sa_sigaction = OnSigsys;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_SIGINFO;
  if (::sigaction(SIGSYS, &action, nullptr) != 0) return absl::ErrnoToStatus(errno, "sigaction(SIGSYS)");
  return absl::OkStatus();
}

}  // namespace vmm::seccomp
