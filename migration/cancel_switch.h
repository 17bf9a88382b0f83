// SPDX-License-Identifier: MIT
// CancelSwitch: how an operator stops a running migration (DELETE
// /api/v1/migrate, `vmm ctl migrate-cancel`) without racing the sender past
// its point of no return.
//
// The sender arms the switch with its socket when it starts and, just
// before it writes END (the last state), asks to pass the point of no
// return. Both that and Cancel() take one lock, so exactly one of them
// wins: a cancel that comes first makes the sender fail and resume the
// guest (the destination has no END, so it cannot run it); a cancel that
// comes after is refused, because from then on only the destination's
// answer (or an operator who knows it) may decide which copy runs.
// Cancel shuts the socket down, so a sender blocked in a write or a read
// returns at once; the destination sees the connection end.
//
// One switch per migration: its owner may arm it before the sender starts
// (so a cancel right after the start is not lost), the sender arms it
// again (idempotent) and disarms it when it is done, for good.
#ifndef MIGRATION_CANCEL_SWITCH_H_
#define MIGRATION_CANCEL_SWITCH_H_

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace migration {

class CancelSwitch {
 public:
  enum class CancelResult {
    kCancelled,   // the sender stops and resumes the guest
    kTooLate,     // END is out: the outcome is the destination's now
    kNotRunning,  // no armed sender (not started yet, or finished)
  };

  // Sender side. `fd`: the migration socket (-1 for none), shut down on
  // cancel (at once if a cancel came before). Disarm before the socket is
  // closed; a disarmed switch stays so.
  void Arm(int fd);
  void Disarm();
  // True when the sender may write END; false when cancelled first.
  bool PassPointOfNoReturn();
  bool cancelled() const;

  // Operator side, any thread.
  CancelResult Cancel();

 private:
  mutable absl::Mutex mu_;
  int fd_ ABSL_GUARDED_BY(mu_) = -1;
  bool armed_ ABSL_GUARDED_BY(mu_) = false;
  bool disarmed_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool past_end_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace migration

#endif  // MIGRATION_CANCEL_SWITCH_H_
