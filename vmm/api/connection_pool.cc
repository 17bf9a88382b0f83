// SPDX-License-Identifier: MIT
#include "vmm/api/connection_pool.h"

#include <utility>

namespace vmm::api {

ConnectionPool::ConnectionPool(size_t workers, size_t waiting, std::shared_ptr<ConnectionGauge> gauge)
    : limit_(workers + waiting), gauge_(std::move(gauge)) {
  for (size_t i = 0; i < workers; ++i) workers_.emplace_back([this] { Work(); });
}

ConnectionPool::~ConnectionPool() { shutdown(); }

void ConnectionPool::enqueue(std::function<void()> serve) {
  std::unique_lock lock(mu_);
  changed_.wait(lock, [this] { return held_ < limit_; });
  queued_.push_back(std::move(serve));
  ++held_;
  gauge_->held.store(held_);
  if (held_ > gauge_->peak.load()) gauge_->peak.store(held_);
  changed_.notify_all();
}

void ConnectionPool::Work() {
  while (true) {
    std::function<void()> serve;
    {
      std::unique_lock lock(mu_);
      changed_.wait(lock, [this] { return !queued_.empty() || shutting_down_; });
      if (queued_.empty()) return;
      serve = std::move(queued_.front());
      queued_.pop_front();
    }
    serve();
    std::lock_guard lock(mu_);
    --held_;
    gauge_->held.store(held_);
    changed_.notify_all();
  }
}

void ConnectionPool::shutdown() {
  {
    std::lock_guard lock(mu_);
    shutting_down_ = true;
    changed_.notify_all();
  }
  for (std::thread& t : workers_) {
    if (t.joinable()) t.join();
  }
}

}  // namespace vmm::api
