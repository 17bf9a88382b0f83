// SPDX-License-Identifier: MIT
// PauseBarrier: where the vCPU threads park while the VM is paused.
//
// The pause is counted: several callers (a migration, a snapshot, an API
// request) may each Pause() and Resume() independently, and the
// participants (the vCPU threads) run again only once every Pause has had
// its Resume. Pause() returns once every participant is parked, so the
// caller then sees no guest code running; Stop() ends it all for good
// (participants leave, pausers stop waiting).
//
// Knows nothing of KVM: the participants call Checkpoint() between runs, and
// Pause() takes the function that makes them get there soon (for vCPUs, a
// kick out of KVM_RUN). Tests run it with plain std::threads. No guest
// input reaches it: only the VMM's own threads call in.
#ifndef VMM_PAUSE_BARRIER_H_
#define VMM_PAUSE_BARRIER_H_

#include <cstddef>
#include <functional>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace vmm {

class PauseBarrier {
 public:
  explicit PauseBarrier(size_t participants) : participants_(participants) {}

  PauseBarrier(const PauseBarrier&) = delete;
  PauseBarrier& operator=(const PauseBarrier&) = delete;

  // Control side, any thread. Counts one more pause, calls `kick` (without
  // the barrier's lock) and returns once every participant is parked or the
  // barrier is stopped. True when this was the outermost pause (the count
  // went from 0 to 1).
  bool Pause(const std::function<void()>& kick);
  // Ends one pause. True when this was the last one outstanding, which lets
  // the participants go. A Resume with no Pause outstanding is a caller's
  // bug: logged, ignored, false.
  bool Resume();
  // For good: every Checkpoint() from now on says kStop, and pausers waiting
  // for participants return.
  void Stop();

  // Participant side, called between runs. Waits while the VM is paused.
  enum class Next {
    kRun,      // no pause: run
    kResumed,  // was parked and is released now: check again before running
    kStop,     // end the thread
  };
  Next Checkpoint();

  bool paused() const;
  size_t pauses() const;
  size_t parked() const;

 private:
  const size_t participants_;
  mutable absl::Mutex mu_;
  size_t pauses_ ABSL_GUARDED_BY(mu_) = 0;
  size_t parked_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace vmm

#endif  // VMM_PAUSE_BARRIER_H_
