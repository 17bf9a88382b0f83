// SPDX-License-Identifier: MIT
#include "vmm/notify_worker.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace vmm {
namespace {

void Signal(int fd) {
  uint64_t one = 1;
  ASSERT_EQ(::write(fd, &one, sizeof(one)), 8);
}

// Waits (at most 5 s) until `done` holds.
template <typename Condition>
bool WaitUntil(Condition done) {
  absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (!done() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));
  return done();
}

bool WaitFor(const std::atomic<int>& value, int expected) {
  return WaitUntil([&] { return value.load() == expected; });
}

// Whether the eventfd has a count nobody has read yet.
bool Readable(int fd) {
  pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
  return ::poll(&p, 1, 0) == 1;
}

TEST(NotifyWorkerTest, RunsHandlersAndHoldsNotificationsWhilePaused) {
  auto worker = NotifyWorker::Create();
  ASSERT_TRUE(worker.ok());
  base::UniqueFd fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  const int raw = fd.get();
  std::atomic<int> calls{0};
  ASSERT_TRUE((*worker)->Add(std::move(fd), [&] { ++calls; }).ok());
  (*worker)->Start();

  Signal(raw);
  ASSERT_TRUE(WaitFor(calls, 1));
  // Two signals before the handler runs coalesce into one call, like two
  // QueueNotify writes the device serves with one pass over the ring.
  (*worker)->Pause();
  Signal(raw);
  Signal(raw);
  // The worker has taken the signals (read the eventfd, under the lock that
  // Pause() takes too); a second Pause() returns once that pass is over, so
  // a handler run in it would have been counted by now.
  ASSERT_TRUE(WaitUntil([&] { return !Readable(raw); })) << "the worker never took the signals";
  (*worker)->Pause();
  EXPECT_EQ(calls.load(), 1) << "a handler ran while paused";
  (*worker)->Resume();
  EXPECT_TRUE(WaitFor(calls, 2));
}

TEST(NotifyWorkerTest, PauseWaitsForARunningHandler) {
  auto worker = NotifyWorker::Create();
  ASSERT_TRUE(worker.ok());
  base::UniqueFd fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  const int raw = fd.get();
  std::atomic<bool> inside{false}, finished{false};
  ASSERT_TRUE((*worker)
                  ->Add(std::move(fd),
                        [&] {
                          inside = true;
                          absl::SleepFor(absl::Milliseconds(100));
                          finished = true;
                        })
                  .ok());
  (*worker)->Start();
  Signal(raw);
  ASSERT_TRUE(WaitUntil([&] { return inside.load(); })) << "the handler never ran";
  (*worker)->Pause();
  EXPECT_TRUE(finished.load());
  (*worker)->Resume();
}

}  // namespace
}  // namespace vmm
