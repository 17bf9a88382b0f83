// SPDX-License-Identifier: MIT
#include "vmm/guest_profiler.h"

#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "absl/time/clock.h"

namespace vmm {
namespace {

constexpr uint64_t kKernelRip = 0xffffffff8110bb04ull;

TEST(ProfileSampleLineTest, KernelSampleListsOnlyKernelTextWordsFromTheStack) {
  const std::vector<uint64_t> stack = {0x1234, 0xffffffff81000132ull, 0xffff888000001000ull /* direct map */,
                                       0xffffffffa0000000ull /* modules, past text */, 0xffffffff81c10404ull};
  EXPECT_EQ(ProfileSampleLine(1700, 1, kKernelRip, stack),
            "1700 1 ffffffff8110bb04 ffffffff81000132 ffffffff81c10404");
}

TEST(ProfileSampleLineTest, UserSampleHasNoStack) {
  EXPECT_EQ(ProfileSampleLine(5, 0, 0x401000, {0xffffffff81000132ull}), "5 0 401000");
}

TEST(GuestProfilerTest, CreateNamesAFileItCannotWrite) {
  auto profiler = GuestProfiler::Create("/nonexistent-dir/profile.txt", absl::Milliseconds(1));
  ASSERT_FALSE(profiler.ok());
  EXPECT_NE(profiler.status().message().find("/nonexistent-dir/profile.txt"), std::string::npos);
}

std::atomic<int> signals_seen{0};
void CountSignal(int) { signals_seen.fetch_add(1); }

TEST(GuestProfilerTest, StartSignalsEachThreadUntilStopped) {
  struct sigaction action {};
  action.sa_handler = CountSignal;
  struct sigaction previous {};
  ASSERT_EQ(::sigaction(SIGUSR2, &action, &previous), 0);
  char path[] = "/tmp/guest_profiler_test.XXXXXX";
  int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ::close(fd);

  std::atomic<bool> done{false};
  std::thread target([&] {
    while (!done.load()) ::usleep(100);
  });
  {
    auto profiler = GuestProfiler::Create(path, absl::Milliseconds(1));
    ASSERT_TRUE(profiler.ok()) << profiler.status();
    (*profiler)->Start({target.native_handle()}, SIGUSR2);
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (signals_seen.load() < 5 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));
    (*profiler)->Stop();
  }
  // A signal sent just before Stop() may still be on its way to the target
  // thread (delivered when it next runs); let those land before counting.
  absl::SleepFor(absl::Milliseconds(50));
  const int after_stop = signals_seen.load();
  EXPECT_GE(after_stop, 5);
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(signals_seen.load(), after_stop);  // nothing sent once stopped
  done.store(true);
  target.join();
  ::sigaction(SIGUSR2, &previous, nullptr);
  ::unlink(path);
}

}  // namespace
}  // namespace vmm
