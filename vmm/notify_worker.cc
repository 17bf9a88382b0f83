// SPDX-License-Identifier: MIT
#include "vmm/notify_worker.h"

#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "base/logging.h"
#include "vmm/seccomp/thread_filter.h"

namespace vmm {
namespace {

void Signal(int fd) {
  uint64_t one = 1;
  ssize_t unused = ::write(fd, &one, sizeof(one));
  (void)unused;
}

void Drain(int fd) {
  uint64_t count;
  ssize_t unused = ::read(fd, &count, sizeof(count));
  (void)unused;
}

}  // namespace

absl::StatusOr<std::unique_ptr<NotifyWorker>> NotifyWorker::Create() {
  base::UniqueFd epoll(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll.valid()) return absl::ErrnoToStatus(errno, "epoll_create1");
  base::UniqueFd control(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!control.valid()) return absl::ErrnoToStatus(errno, "eventfd");
  epoll_event ev{.events = EPOLLIN, .data = {.ptr = nullptr}};
  if (::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, control.get(), &ev) != 0) {
    return absl::ErrnoToStatus(errno, "epoll_ctl");
  }
  return std::unique_ptr<NotifyWorker>(new NotifyWorker(std::move(epoll), std::move(control)));
}

NotifyWorker::~NotifyWorker() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  Signal(control_.get());
  if (thread_.joinable()) thread_.join();
}

absl::Status NotifyWorker::Add(base::UniqueFd fd, std::function<void()> handler) {
  auto source = std::make_unique<Source>(Source{.fd = std::move(fd), .handler = std::move(handler)});
  epoll_event ev{.events = EPOLLIN, .data = {.ptr = source.get()}};
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, source->fd.get(), &ev) != 0) {
    return absl::ErrnoToStatus(errno, "epoll_ctl");
  }
  sources_.push_back(std::move(source));
  return absl::OkStatus();
}

void NotifyWorker::Start() {
  thread_ = std::thread([this] { Loop(); });
  // Named so bench/balloon can read this thread's CPU time apart.
  ::pthread_setname_np(thread_.native_handle(), "vmm-notify");
}

void NotifyWorker::Pause() {
  absl::MutexLock lock(&mu_);  // waits for a running handler
  paused_ = true;
}

void NotifyWorker::Resume() {
  {
    absl::MutexLock lock(&mu_);
    paused_ = false;
  }
  Signal(control_.get());  // runs what was signalled while paused
}

void NotifyWorker::Loop() {
  seccomp::ConfineThisThread(seccomp::ThreadKind::kDeviceWorker);
  epoll_event events[16];
  while (true) {
    int n = ::epoll_wait(epoll_.get(), events, 16, -1);
    if (n < 0 && errno != EINTR) {
      LOG_ERROR("device thread: epoll_wait: %s", std::strerror(errno));
      return;
    }
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    for (int i = 0; i < n; ++i) {
      auto* source = static_cast<Source*>(events[i].data.ptr);
      if (source == nullptr) {
        Drain(control_.get());
        continue;
      }
      Drain(source->fd.get());
      source->pending = true;
    }
    if (paused_) continue;
    for (const std::unique_ptr<Source>& source : sources_) {
      if (!source->pending) continue;
      source->pending = false;
      source->handler();
    }
  }
}

}  // namespace vmm
