// SPDX-License-Identifier: MIT
// PlainSource / PlainTarget: the two sides of a migration with nothing but
// guest RAM (a real GuestMemory: memfd, mapping, dirty bitmap) and a tiny
// state tree. The stream tests drive the Sender and Receiver with them, with
// hooks to act as the guest at chosen moments; bench/migrate_pipeline uses
// them to time the host-side pipeline (scan, copy, checksums, socket) at
// full size without a guest. PlainSource is its own memory::PageHints (a
// balloon that reports what the test sets).
#ifndef MIGRATION_TESTING_PLAIN_VM_H_
#define MIGRATION_TESTING_PLAIN_VM_H_

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <thread>
#include <string>
#include <vector>

#include "memory/guest_memory.h"
#include "memory/page_hints.h"
#include "migration/source.h"
#include "state/state_tree.h"

namespace migration {

// A state tree with one node "test" holding `value`.
inline std::vector<uint8_t> PlainTree(const std::string& value) {
  state::StateWriter w;
  w.BeginNode("test");
  w.PutString("value", value);
  w.EndNode();
  return *w.Finish();
}

class PlainSource : public MigrationSource, public memory::PageHints {
 public:
  explicit PlainSource(const std::vector<memory::RamRegion>& layout) : mem_(*memory::GuestMemory::Create(layout)) {}
  memory::GuestMemory& memory() override { return mem_; }
  absl::StatusOr<std::vector<uint8_t>> SaveShape() override { return PlainTree(shape); }
  absl::Status SetDirtyLogging(bool on) override {
    logging = on;
    mem_.SetDirtyTracking(on);
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<uint64_t>> TakeDirtyPages(size_t region) override {
    ++syncs;
    if (on_sync) on_sync(syncs);
    return mem_.TakeDirtyPages(region);
  }
  ~PlainSource() override { StopWriting(); }
  void PauseGuest() override {
    StopWriting();  // the "vCPU" stops for good; enough for one migration
    paused = true;
  }
  void ResumeGuest() override {
    paused = false;
    ++resumes;
  }
  absl::StatusOr<std::vector<uint8_t>> SaveState() override { return PlainTree("state"); }
  memory::PageHints* page_hints() override { return this; }

  // memory::PageHints
  std::vector<memory::GpaRange> BalloonedRanges() const override { return ballooned; }
  bool CanHint() const override { return !hints.empty() || !hint_batches.empty(); }
  absl::Status StartHinting() override {
    // The guest answers at once (`hints`) or one batch per take
    // (`hint_batches`); then, before the sender syncs the dirty log, it
    // reuses the pages in `reuse_after_hint` (writes the log sees).
    if (hint_batches.empty()) ++reports;
    for (const memory::GpaRange& r : reuse_after_hint) FillPage(r.start, 0x77);
    return absl::OkStatus();
  }
  uint64_t HintReportsCompleted() const override { return reports; }
  absl::Status StopHinting() override {
    hint_stopped = true;
    return absl::OkStatus();
  }
  absl::Status DoneHinting() override {
    done = true;
    return absl::OkStatus();
  }
  std::vector<memory::GpaRange> TakeHintedRanges() override {
    if (hint_batches.empty()) return hints;
    if (hint_stopped || hint_batches_sent == hint_batches.size()) return {};
    if (++hint_batches_sent == hint_batches.size()) ++reports;  // the last batch ends with STOP
    return hint_batches[hint_batches_sent - 1];
  }

  // A guest write of one page: through GuestMemory, so the dirty bitmap
  // sees it. The first byte holds the page number, the rest `value`.
  void FillPage(memory::Gpa gpa, uint8_t value) {
    std::vector<uint8_t> page(memory::kPageSize, value);
    page[0] = static_cast<uint8_t>(gpa >> 12);
    if (!mem_.WriteBytes(gpa, page).ok()) std::abort();  // a broken test or bench, not input
  }

  // A guest that keeps writing until PauseGuest: `per_ms` pages each
  // millisecond, in a stride over the `pages` pages from `first`, every
  // write tracked (as a vCPU's is on a host whose dirty log is sound).
  void StartWriting(memory::Gpa first, uint64_t pages, uint64_t per_ms) {
    writer_ = std::thread([this, first, pages, per_ms] {
      uint8_t value = 1;
      uint64_t n = 0;
      auto tick = std::chrono::steady_clock::now();
      while (!stop_writing_.load()) {
        for (uint64_t k = 0; k < per_ms; ++k, ++n) FillPage(first + (n * 7 % pages) * memory::kPageSize, value++);
        pages_written_ += per_ms;
        tick += std::chrono::milliseconds(1);
        std::this_thread::sleep_until(tick);
      }
    });
  }
  uint64_t pages_written() const { return pages_written_.load(); }

  memory::GuestMemory mem_;
  std::string shape = "shape-1";
  bool logging = false, paused = false, done = false;
  int resumes = 0, syncs = 0;
  uint64_t reports = 0;
  std::vector<memory::GpaRange> ballooned, hints, reuse_after_hint;
  std::vector<std::vector<memory::GpaRange>> hint_batches;
  size_t hint_batches_sent = 0;
  bool hint_stopped = false;
  std::function<void(int)> on_sync;  // called with the sync count, before each region's take

 private:
  void StopWriting() {
    stop_writing_.store(true);
    if (writer_.joinable()) writer_.join();
  }
  std::atomic<bool> stop_writing_{false};
  std::atomic<uint64_t> pages_written_{0};
  std::thread writer_;
};

class PlainTarget : public MigrationTarget {
 public:
  explicit PlainTarget(const std::vector<memory::RamRegion>& layout) : mem_(*memory::GuestMemory::Create(layout)) {}
  memory::GuestMemory& memory() override { return mem_; }
  absl::Status CheckShape(std::span<const uint8_t> tree) override {
    absl::StatusOr<state::StateReader> r = state::StateReader::Parse(tree);
    if (!r.ok()) return r.status();
    absl::StatusOr<state::StateNode> node = r->Node("test");
    if (!node.ok()) return node.status();
    absl::StatusOr<std::string> v = node->String("value");
    if (!v.ok()) return v.status();
    if (*v != expected_shape) return absl::FailedPreconditionError("shape mismatch: " + *v);
    return absl::OkStatus();
  }
  absl::Status LoadState(std::span<const uint8_t> tree) override {
    if (!load_error.empty()) return absl::FailedPreconditionError(load_error);
    loaded_state.assign(tree.begin(), tree.end());
    return absl::OkStatus();
  }

  memory::GuestMemory mem_;
  std::string expected_shape = "shape-1";
  std::string load_error;  // non-empty: LoadState refuses the state with it
  std::vector<uint8_t> loaded_state;
};

}  // namespace migration

#endif  // MIGRATION_TESTING_PLAIN_VM_H_
