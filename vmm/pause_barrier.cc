// SPDX-License-Identifier: MIT
#include "vmm/pause_barrier.h"

#include "base/logging.h"

namespace vmm {

bool PauseBarrier::Pause(const std::function<void()>& kick) {
  bool outermost;
  {
    absl::MutexLock lock(&mu_);
    outermost = pauses_++ == 0;
  }
  // After the count is raised: a participant that misses the kick sees the
  // pause at its next Checkpoint.
  kick();
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](PauseBarrier* b) ABSL_EXCLUSIVE_LOCKS_REQUIRED(b->mu_) {
        return b->parked_ == b->participants_ || b->stopped_;
      },
      this));
  return outermost;
}

bool PauseBarrier::Resume() {
  absl::MutexLock lock(&mu_);
  if (pauses_ == 0) {
    LOG_ERROR("internal error: resume of a VM that is not paused (ignored)");
    return false;
  }
  return --pauses_ == 0;
}

void PauseBarrier::Stop() {
  absl::MutexLock lock(&mu_);
  stopped_ = true;
}

PauseBarrier::Next PauseBarrier::Checkpoint() {
  absl::MutexLock lock(&mu_);
  if (stopped_) return Next::kStop;
  if (pauses_ == 0) return Next::kRun;
  ++parked_;
  mu_.Await(absl::Condition(
      +[](PauseBarrier* b) ABSL_EXCLUSIVE_LOCKS_REQUIRED(b->mu_) { return b->pauses_ == 0 || b->stopped_; },
      this));
  --parked_;
  return stopped_ ? Next::kStop : Next::kResumed;
}

bool PauseBarrier::paused() const {
  absl::MutexLock lock(&mu_);
  return pauses_ > 0;
}

size_t PauseBarrier::pauses() const {
  absl::MutexLock lock(&mu_);
  return pauses_;
}

size_t PauseBarrier::parked() const {
  absl::MutexLock lock(&mu_);
  return parked_;
}

}  // namespace vmm
