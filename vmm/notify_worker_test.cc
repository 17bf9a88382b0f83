#include "vmm/notify_worker.h"

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

bool WaitFor(const std::atomic<int>& value, int expected) {
  absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (value.load() != expected && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));
  return value.load() == expected;
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
  absl::SleepFor(absl::Milliseconds(50));
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
  while (!inside.load()) absl::SleepFor(absl::Milliseconds(1));
  (*worker)->Pause();
  EXPECT_TRUE(finished.load());
  (*worker)->Resume();
}

}  // namespace
}  // namespace vmm
