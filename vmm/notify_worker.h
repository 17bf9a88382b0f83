// SPDX-License-Identifier: MIT
// NotifyWorker: the device thread of the ioeventfd notification mode
// (--virtio-notify=thread). KVM signals one eventfd per (device, queue)
// without leaving the kernel when the guest writes QueueNotify; this thread
// waits on all of them and runs the device's queue processing.
//
// Pause() returns only once no handler is running and none will start until
// Resume(); notifications that arrive meanwhile stay pending in their
// eventfds and are handled after Resume(). That keeps the "vCPUs paused =>
// devices quiet" property migration relies on.
#ifndef VMM_NOTIFY_WORKER_H_
#define VMM_NOTIFY_WORKER_H_

#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "base/unique_fd.h"

namespace vmm {

class NotifyWorker {
 public:
  static absl::StatusOr<std::unique_ptr<NotifyWorker>> Create();
  ~NotifyWorker();  // stops and joins the thread

  // Before Start(): `handler` runs on the worker thread each time `fd` (an
  // eventfd; the worker owns it from now on) becomes readable.
  absl::Status Add(base::UniqueFd fd, std::function<void()> handler);
  void Start();
  void Pause();
  void Resume();

 private:
  NotifyWorker(base::UniqueFd epoll, base::UniqueFd control)
      : epoll_(std::move(epoll)), control_(std::move(control)) {}
  void Loop();

  struct Source {
    base::UniqueFd fd;
    std::function<void()> handler;
    bool pending = false;  // signalled while paused
  };
  base::UniqueFd epoll_;
  base::UniqueFd control_;  // eventfd: wakes the loop for Resume and stop
  std::vector<std::unique_ptr<Source>> sources_;
  std::thread thread_;

  absl::Mutex mu_;  // held while a handler runs
  bool paused_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace vmm

#endif  // VMM_NOTIFY_WORKER_H_
