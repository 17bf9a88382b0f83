// SPDX-License-Identifier: MIT
// ConnectionPool: the control API server's workers (a cpp-httplib
// TaskQueue), with a bound on the connections it holds. cpp-httplib's own
// ThreadPool queues every accepted connection without limit; here at most
// `workers` are served at once and `waiting` more wait for a worker. When
// both are full, the listener blocks in enqueue() and stops accepting, so
// further clients wait in the kernel's listen backlog (and beyond it are
// refused by connect()) instead of costing the VMM memory or threads.
// cpp-httplib's read timeout frees a worker held by an idle client.
//
// cpp-httplib creates the pool on its listener thread, so the workers
// inherit that thread's seccomp filter. That is also why this pool uses a
// std::mutex and not absl::Mutex: absl::Mutex asks for the thread's
// scheduling priority (sched_getparam, sched_getscheduler) the first time a
// thread blocks on it, which the API server's list has no other use for.
#ifndef VMM_API_CONNECTION_POOL_H_
#define VMM_API_CONNECTION_POOL_H_

#include <httplib.h>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace vmm::api {

// Connections held (being served or waiting), for the server's owner and
// tests; the pool itself lives inside cpp-httplib.
struct ConnectionGauge {
  std::atomic<size_t> held{0};
  std::atomic<size_t> peak{0};
};

class ConnectionPool : public httplib::TaskQueue {
 public:
  ConnectionPool(size_t workers, size_t waiting, std::shared_ptr<ConnectionGauge> gauge);
  ~ConnectionPool() override;

  // One accepted connection; blocks while workers + waiting are held.
  void enqueue(std::function<void()> serve) override;
  // Serves what is queued, then ends the workers.
  void shutdown() override;

 private:
  void Work();

  const size_t limit_;
  const std::shared_ptr<ConnectionGauge> gauge_;
  std::mutex mu_;
  std::condition_variable changed_;  // a place freed, work queued, or shutting down
  // Guarded by mu_.
  std::deque<std::function<void()>> queued_;
  size_t held_ = 0;
  bool shutting_down_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace vmm::api

#endif  // VMM_API_CONNECTION_POOL_H_
