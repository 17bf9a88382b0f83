// SPDX-License-Identifier: MIT
#include "vmm/operation_lock.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace vmm {

OperationLock::Claim& OperationLock::Claim::operator=(Claim&& other) noexcept {
  if (this != &other) {
    Release();
    lock_ = other.lock_;
    other.lock_ = nullptr;
  }
  return *this;
}

void OperationLock::Claim::Describe(std::string running) {
  if (lock_ == nullptr) return;
  absl::MutexLock lock(&lock_->mu_);
  lock_->running_ = std::move(running);
}

void OperationLock::Claim::Release() {
  if (lock_ == nullptr) return;
  absl::MutexLock lock(&lock_->mu_);
  lock_->running_.reset();
  lock_ = nullptr;
}

absl::StatusOr<OperationLock::Claim> OperationLock::TryBegin(const std::string& what, std::string running) {
  absl::MutexLock lock(&mu_);
  if (running_.has_value()) return absl::FailedPreconditionError(absl::StrCat("cannot start ", what, ": ", *running_));
  running_ = std::move(running);
  return Claim(this);
}

std::optional<std::string> OperationLock::Running() const {
  absl::MutexLock lock(&mu_);
  return running_;
}

}  // namespace vmm
