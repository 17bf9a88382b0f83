// SPDX-License-Identifier: MIT
// PauseBarrier with std::threads standing in for vCPU threads: each runs
// "guest work" (a shared counter) between Checkpoints, so a participant that
// runs while a pause is held shows up as a counter that moved.
#include "vmm/pause_barrier.h"

#include <atomic>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace vmm {
namespace {

class Participants {
 public:
  Participants(PauseBarrier& barrier, size_t count) {
    for (size_t i = 0; i < count; ++i) {
      threads_.emplace_back([this, &barrier] {
        while (barrier.Checkpoint() != PauseBarrier::Next::kStop) {
          work_.fetch_add(1);
          std::this_thread::yield();
        }
      });
    }
  }
  ~Participants() {
    for (std::thread& t : threads_) t.join();
  }
  uint64_t work() const { return work_.load(); }
  // Blocks until the participants have run at least once more.
  void AwaitWorkAfter(uint64_t value) const {
    while (work_.load() <= value) std::this_thread::yield();
  }

 private:
  std::atomic<uint64_t> work_{0};
  std::vector<std::thread> threads_;
};

constexpr size_t kThreads = 3;
const std::function<void()> kNoKick = [] {};

TEST(PauseBarrierTest, PauseReturnsWithEveryParticipantParked) {
  PauseBarrier barrier(kThreads);
  {
    Participants p(barrier, kThreads);
    p.AwaitWorkAfter(0);
    EXPECT_TRUE(barrier.Pause(kNoKick));
    EXPECT_EQ(barrier.parked(), kThreads);
    EXPECT_TRUE(barrier.paused());
    const uint64_t before = p.work();
    EXPECT_TRUE(barrier.Resume());
    EXPECT_FALSE(barrier.paused());
    p.AwaitWorkAfter(before);
    barrier.Stop();
  }
  EXPECT_EQ(barrier.parked(), 0u);
}

TEST(PauseBarrierTest, NestedPausesReleaseOnlyOnTheLastResume) {
  PauseBarrier barrier(kThreads);
  Participants p(barrier, kThreads);
  EXPECT_TRUE(barrier.Pause(kNoKick));    // say, a migration
  EXPECT_FALSE(barrier.Pause(kNoKick));   // and a snapshot request meanwhile
  const uint64_t held = p.work();
  EXPECT_FALSE(barrier.Resume());  // the first one ends: still paused
  EXPECT_TRUE(barrier.paused());
  EXPECT_EQ(barrier.pauses(), 1u);
  EXPECT_EQ(barrier.parked(), kThreads);
  for (int i = 0; i < 1000; ++i) std::this_thread::yield();
  EXPECT_EQ(p.work(), held);
  EXPECT_TRUE(barrier.Resume());
  p.AwaitWorkAfter(held);
  barrier.Stop();
}

// Two callers pausing and resuming on their own schedules: while either
// holds its pause, no participant runs.
TEST(PauseBarrierTest, TwoPausersCompose) {
  PauseBarrier barrier(kThreads);
  Participants p(barrier, kThreads);
  std::atomic<int> violations{0};
  auto pauser = [&] {
    for (int round = 0; round < 200; ++round) {
      barrier.Pause(kNoKick);
      const uint64_t before = p.work();
      for (int i = 0; i < 20; ++i) std::this_thread::yield();
      if (p.work() != before) violations.fetch_add(1);
      barrier.Resume();
      std::this_thread::yield();
    }
  };
  std::thread a(pauser);
  std::thread b(pauser);
  a.join();
  b.join();
  EXPECT_EQ(violations.load(), 0);
  EXPECT_FALSE(barrier.paused());
  barrier.Stop();
}

TEST(PauseBarrierTest, ResumeWithoutPauseIsIgnored) {
  PauseBarrier barrier(kThreads);
  Participants p(barrier, kThreads);
  EXPECT_FALSE(barrier.Resume());
  EXPECT_EQ(barrier.pauses(), 0u);
  // The count did not go below zero: one Pause still parks everyone.
  EXPECT_TRUE(barrier.Pause(kNoKick));
  EXPECT_EQ(barrier.parked(), kThreads);
  EXPECT_TRUE(barrier.Resume());
  barrier.Stop();
}

TEST(PauseBarrierTest, KickRunsAfterThePauseIsCounted) {
  PauseBarrier barrier(1);
  Participants p(barrier, 1);
  size_t seen = 0;
  barrier.Pause([&] { seen = barrier.pauses(); });
  EXPECT_EQ(seen, 1u);
  barrier.Resume();
  barrier.Stop();
}

TEST(PauseBarrierTest, StopReleasesParkedParticipantsAndPausers) {
  PauseBarrier barrier(kThreads);
  {
    Participants p(barrier, kThreads);
    barrier.Pause(kNoKick);
    barrier.Stop();  // the participants leave though the pause is held
  }
  EXPECT_EQ(barrier.Checkpoint(), PauseBarrier::Next::kStop);
  // With fewer participants than expected and stopped, Pause does not wait.
  PauseBarrier lonely(2);
  lonely.Stop();
  lonely.Pause(kNoKick);
  EXPECT_EQ(lonely.parked(), 0u);
}

}  // namespace
}  // namespace vmm
