// SPDX-License-Identifier: MIT
// LinkCapture: reads every frame crossing one network interface of a
// network namespace (an AF_PACKET socket, what tcpdump uses, without the
// tool) and counts frames, bytes, and frames that contain a given byte
// string. The migration guest tests use it to show what an observer of the
// link sees: a guest page's pattern in the clear, or not.
//
// Frames are searched one by one, not reassembled into streams: a marker
// that repeats through a page is whole in every frame carrying more than
// twice its length of that page, so no reassembly is needed to find it.
// Frames the kernel dropped or cut short are counted, so a test can insist
// that nothing escaped the search.
#ifndef TESTS_LINK_CAPTURE_H_
#define TESTS_LINK_CAPTURE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace tests {

class LinkCapture {
 public:
  struct Totals {
    uint64_t frames = 0;
    uint64_t bytes = 0;          // whole frames, headers included
    uint64_t marker_frames = 0;  // frames holding the marker
    uint64_t truncated_frames = 0;
    uint64_t dropped_frames = 0;  // lost by the kernel (socket buffer full)
  };

  // Starts capturing on `interface` of namespace `ns` (made by `ip netns
  // add`). Needs CAP_NET_RAW there.
  static absl::StatusOr<std::unique_ptr<LinkCapture>> Start(const std::string& ns, const std::string& interface,
                                                            std::string marker);
  ~LinkCapture();
  LinkCapture(const LinkCapture&) = delete;
  LinkCapture& operator=(const LinkCapture&) = delete;

  // Captures for `settle` more (frames already sent may still be on their
  // way through the receive path), then stops and returns what was seen.
  Totals Stop(absl::Duration settle);

 private:
  LinkCapture(int fd, std::string marker);
  void Read();
  void ReadOne(uint8_t* buffer, size_t size);

  const int fd_;
  const std::string marker_;
  std::atomic<bool> done_{false};
  Totals totals_;  // written by the reading thread only, until it is joined
  std::thread reader_;
  bool stopped_ = false;
};

}  // namespace tests

#endif  // TESTS_LINK_CAPTURE_H_
