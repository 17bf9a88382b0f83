// SPDX-License-Identifier: MIT
// UserPause: the pause an API user asks for (PUT /api/v1/vm.pause and
// vm.resume), one level of the VM's counted pause (pause_barrier.h). A
// snapshot or migration pauses and resumes the guest on its own count, so
// a user-paused VM stays paused after a snapshot. Refused (409) while a
// snapshot or migration holds the OperationLock: its pause and the user's
// would interleave in ways nobody asked for (a user resume in the middle of
// a stop-and-copy), and when already in the asked state.
#ifndef VMM_USER_PAUSE_H_
#define VMM_USER_PAUSE_H_

#include <functional>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "vmm/operation_lock.h"

namespace vmm {

class UserPause {
 public:
  // `pause` returns once no guest code runs; `resume` ends one pause.
  UserPause(const OperationLock& operations, std::function<void()> pause, std::function<void()> resume)
      : operations_(operations), pause_(std::move(pause)), resume_(std::move(resume)) {}

  absl::Status Pause();
  absl::Status Resume();
  bool paused() const;

 private:
  absl::Status RefuseDuringOperation(const char* what) const;

  const OperationLock& operations_;
  const std::function<void()> pause_;
  const std::function<void()> resume_;
  mutable absl::Mutex mu_;
  bool paused_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace vmm

#endif  // VMM_USER_PAUSE_H_
