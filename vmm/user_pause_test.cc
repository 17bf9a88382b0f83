// SPDX-License-Identifier: MIT
// The user's pause over a real PauseBarrier (no participants, so a pause
// returns at once), with a snapshot's pause and resume in between.
#include "vmm/user_pause.h"

#include <gtest/gtest.h>

#include "vmm/pause_barrier.h"

namespace vmm {
namespace {

struct Vm {
  PauseBarrier barrier{0};
  OperationLock operations;
  UserPause user{operations, [this] { barrier.Pause([] {}); }, [this] { barrier.Resume(); }};
};

TEST(UserPause, PausingTwiceOrResumingARunningVmIsRefused) {
  Vm vm;
  EXPECT_EQ(vm.user.Resume().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(vm.user.Pause().ok());
  EXPECT_TRUE(vm.barrier.paused());
  absl::Status again = vm.user.Pause();
  EXPECT_EQ(again.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(again.message(), "the VM is already paused");
  EXPECT_EQ(vm.barrier.pauses(), 1u);
  ASSERT_TRUE(vm.user.Resume().ok());
  EXPECT_FALSE(vm.barrier.paused());
}

TEST(UserPause, AUserPausedVmStaysPausedAfterASnapshot) {
  Vm vm;
  ASSERT_TRUE(vm.user.Pause().ok());
  {
    absl::StatusOr<OperationLock::Claim> snapshot = vm.operations.TryBegin("a snapshot", "a snapshot is running");
    ASSERT_TRUE(snapshot.ok());
    vm.barrier.Pause([] {});  // what the snapshot does
    absl::Status refused = vm.user.Resume();
    EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_EQ(refused.message(), "cannot resume the VM: a snapshot is running");
    vm.barrier.Resume();
  }
  EXPECT_TRUE(vm.barrier.paused());
  EXPECT_TRUE(vm.user.paused());
  ASSERT_TRUE(vm.user.Resume().ok());
  EXPECT_FALSE(vm.barrier.paused());
}

TEST(UserPause, PauseIsRefusedWhileAMigrationRuns) {
  Vm vm;
  absl::StatusOr<OperationLock::Claim> migration = vm.operations.TryBegin("a migration", "a migration to X is running");
  ASSERT_TRUE(migration.ok());
  EXPECT_EQ(vm.user.Pause().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(vm.barrier.paused());
  migration->Release();
  EXPECT_TRUE(vm.user.Pause().ok());
}

}  // namespace
}  // namespace vmm
