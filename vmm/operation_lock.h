// SPDX-License-Identifier: MIT
// OperationLock: one VM-wide operation at a time. A snapshot and a
// migration both pause the guest and read all of its memory and state; two
// at once (or a snapshot during a migration's stop-and-copy) would each
// resume the guest while the other still copies it. The second one is
// refused at once with the reason (the API answers 409), never queued.
//
// A migration holds its claim from its start until its outcome is settled:
// through an unknown outcome too (the guest is paused, and may be running
// at the destination), until an operator resumes or abandons it; a
// completed migration keeps it (the VM is leaving).
#ifndef VMM_OPERATION_LOCK_H_
#define VMM_OPERATION_LOCK_H_

#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace vmm {

class OperationLock {
 public:
  // Proof of holding the lock; releases it when destroyed (or Release()d).
  class Claim {
   public:
    Claim(Claim&& other) noexcept : lock_(other.lock_) { other.lock_ = nullptr; }
    Claim& operator=(Claim&& other) noexcept;
    Claim(const Claim&) = delete;
    Claim& operator=(const Claim&) = delete;
    ~Claim() { Release(); }
    // What a refused operation is told is running ("a migration to X is
    // running").
    void Describe(std::string running);
    void Release();

   private:
    friend class OperationLock;
    explicit Claim(OperationLock* lock) : lock_(lock) {}
    OperationLock* lock_;
  };

  // Claims the VM for `what` ("a snapshot to /x"), described to later
  // callers as `running` while held. FailedPrecondition otherwise:
  // "cannot start <what>: <running>".
  absl::StatusOr<Claim> TryBegin(const std::string& what, std::string running);
  // The running operation's description, if any.
  std::optional<std::string> Running() const;

 private:
  mutable absl::Mutex mu_;
  std::optional<std::string> running_ ABSL_GUARDED_BY(mu_);
};

}  // namespace vmm

#endif  // VMM_OPERATION_LOCK_H_
