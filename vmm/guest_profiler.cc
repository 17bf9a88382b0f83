// SPDX-License-Identifier: MIT
#include "vmm/guest_profiler.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "base/logging.h"
#include "vmm/guest_page_walk.h"
#include "vmm/kvm/vcpu.h"
#include "vmm/seccomp/thread_filter.h"

namespace vmm {
namespace {

// Lines are written in batches of about this size: a write per sample
// would add a system call to every 1 ms interruption.
constexpr size_t kFlushBytes = 64 * 1024;

bool InKernelText(uint64_t address) { return address >= kKernelTextStart && address < kKernelTextEnd; }

}  // namespace

std::string ProfileSampleLine(int64_t host_ms, uint32_t vcpu, uint64_t rip,
                              const std::vector<uint64_t>& stack) {
  std::string line = absl::StrFormat("%d %u %x", host_ms, vcpu, rip);
  if (!InKernelText(rip)) return line;
  for (uint64_t word : stack) {
    if (InKernelText(word)) absl::StrAppendFormat(&line, " %x", word);
  }
  return line;
}

absl::StatusOr<std::unique_ptr<GuestProfiler>> GuestProfiler::Create(const std::string& path,
                                                                     absl::Duration interval) {
  base::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd.valid()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("--profile-guest: cannot create %s: %s", path, std::strerror(errno)));
  }
  return std::make_unique<GuestProfiler>(std::move(fd), interval);
}

GuestProfiler::~GuestProfiler() {
  Stop();
  absl::MutexLock lock(&mu_);
  Flush();
}

void GuestProfiler::Start(std::vector<pthread_t> vcpu_threads, int signal) {
  timer_ = std::thread([this, threads = std::move(vcpu_threads), signal] {
    seccomp::ConfineThisThread(seccomp::ThreadKind::kProfilerTimer);
    while (!stop_.load()) {
      absl::SleepFor(interval_);
      for (pthread_t t : threads) ::pthread_kill(t, signal);
    }
  });
}

void GuestProfiler::Stop() {
  stop_.store(true);
  if (timer_.joinable()) timer_.join();
}

void GuestProfiler::Sample(const Vcpu& vcpu, const memory::GuestMemory& mem) {
  absl::StatusOr<kvm_regs> regs = vcpu.GetRegs();
  if (!regs.ok()) return;
  std::vector<uint64_t> stack;
  if (InKernelText(regs->rip)) {
    absl::StatusOr<kvm_sregs> sregs = vcpu.GetSregs();
    absl::StatusOr<uint64_t> gpa =
        sregs.ok() ? TranslateGuestVirtual(mem, *sregs, regs->rsp) : absl::StatusOr<uint64_t>(sregs.status());
    if (gpa.ok()) {
      // To the end of RSP's page: the next page of the stack may map
      // anywhere, and a few hundred words are plenty to name the callers.
      const uint64_t bytes = std::min<uint64_t>(kStackScanBytes, memory::kPageSize - (regs->rsp % memory::kPageSize));
      stack.resize(bytes / sizeof(uint64_t));
      if (!mem.ReadBytes(*gpa, {reinterpret_cast<uint8_t*>(stack.data()), stack.size() * sizeof(uint64_t)}).ok()) {
        stack.clear();
      }
    }
  }
  Append(ProfileSampleLine(absl::ToUnixMillis(absl::Now()), vcpu.id(), regs->rip, stack));
  samples_.fetch_add(1);
}

void GuestProfiler::Append(const std::string& line) {
  absl::MutexLock lock(&mu_);
  buffer_ += line;
  buffer_ += '\n';
  if (buffer_.size() >= kFlushBytes) Flush();
}

void GuestProfiler::Flush() {
  size_t done = 0;
  while (done < buffer_.size()) {
    ssize_t n = ::write(fd_.get(), buffer_.data() + done, buffer_.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      LOG_ERROR("--profile-guest: write failed: %s; samples dropped", std::strerror(errno));
      break;
    }
    done += static_cast<size_t>(n);
  }
  buffer_.clear();
}

}  // namespace vmm
