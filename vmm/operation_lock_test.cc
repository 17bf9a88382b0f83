// SPDX-License-Identifier: MIT
#include "vmm/operation_lock.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace vmm {
namespace {

TEST(OperationLockTest, SecondOperationIsRefusedWithTheRunningOnesDescription) {
  OperationLock lock;
  absl::StatusOr<OperationLock::Claim> migration =
      lock.TryBegin("a migration to tcp:h:1", "a migration to tcp:h:1 is running");
  ASSERT_TRUE(migration.ok());
  absl::StatusOr<OperationLock::Claim> snapshot = lock.TryBegin("a snapshot to /s", "a snapshot to /s is being written");
  ASSERT_FALSE(snapshot.ok());
  EXPECT_EQ(snapshot.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(snapshot.status().message(), "cannot start a snapshot to /s: a migration to tcp:h:1 is running");
  migration->Describe("the migration to tcp:h:1 has an unknown outcome");
  EXPECT_EQ(lock.TryBegin("a snapshot to /s", "x").status().message(),
            "cannot start a snapshot to /s: the migration to tcp:h:1 has an unknown outcome");
  migration->Release();
  EXPECT_FALSE(lock.Running().has_value());
  EXPECT_TRUE(lock.TryBegin("a snapshot to /s", "a snapshot to /s is being written").ok());
}

TEST(OperationLockTest, ClaimReleasesWhenDestroyedAndMovesOnce) {
  OperationLock lock;
  {
    absl::StatusOr<OperationLock::Claim> claim = lock.TryBegin("a", "a is running");
    ASSERT_TRUE(claim.ok());
    OperationLock::Claim moved = std::move(*claim);
    claim->Release();  // the moved-from claim holds nothing
    EXPECT_EQ(lock.Running(), "a is running");
  }
  EXPECT_FALSE(lock.Running().has_value());
}

// Many threads race for the lock: exactly one wins while it is held.
TEST(OperationLockTest, ConcurrentBeginsLetExactlyOneIn) {
  OperationLock lock;
  std::atomic<int> won{0}, refused{0};
  std::atomic<bool> go{false};
  std::vector<OperationLock::Claim> kept;
  absl::Mutex kept_mu;
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      while (!go.load()) std::this_thread::yield();
      absl::StatusOr<OperationLock::Claim> c = lock.TryBegin("a snapshot", "a snapshot is being written");
      if (c.ok()) {
        ++won;
        absl::MutexLock l(&kept_mu);
        kept.push_back(std::move(*c));  // held past the race
      } else {
        ++refused;
      }
    });
  }
  go.store(true);
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(won.load(), 1);
  EXPECT_EQ(refused.load(), 7);
}

}  // namespace
}  // namespace vmm
