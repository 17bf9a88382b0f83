// SPDX-License-Identifier: MIT
#include "vmm/user_pause.h"

#include <optional>
#include <string>

namespace vmm {

absl::Status UserPause::RefuseDuringOperation(const char* what) const {
  std::optional<std::string> running = operations_.Running();
  if (!running) return absl::OkStatus();
  return absl::FailedPreconditionError(std::string("cannot ") + what + " the VM: " + *running);
}

absl::Status UserPause::Pause() {
  absl::MutexLock lock(&mu_);
  if (paused_) return absl::FailedPreconditionError("the VM is already paused");
  if (absl::Status busy = RefuseDuringOperation("pause"); !busy.ok()) return busy;
  pause_();
  paused_ = true;
  return absl::OkStatus();
}

absl::Status UserPause::Resume() {
  absl::MutexLock lock(&mu_);
  if (!paused_) return absl::FailedPreconditionError("the VM is not paused (vm.pause first)");
  if (absl::Status busy = RefuseDuringOperation("resume"); !busy.ok()) return busy;
  resume_();
  paused_ = false;
  return absl::OkStatus();
}

bool UserPause::paused() const {
  absl::MutexLock lock(&mu_);
  return paused_;
}

}  // namespace vmm
