// SPDX-License-Identifier: MIT
// state::testing tree edits: copies of a saved state tree with one property
// dropped, one property resized or one node dropped, so a test can hand a
// Migratable every malformed tree a damaged or hostile stream could carry
// without knowing the part's property names. Test-only: the blobs come from
// the test's own StateWriter, and a libfdt failure here is a test bug
// (returned as an error).
#ifndef STATE_TESTING_TREE_EDITS_H_
#define STATE_TESTING_TREE_EDITS_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace state::testing {

struct TreeProperty {
  std::string node;  // absolute path of its node: "/part", "/part/device"
  std::string name;
  size_t size = 0;
  // node and name below `under`: "rx", "device/queues".
  std::string relative;
};

// Every property of the node at `under` (an absolute path) and of the
// nodes below it, in tree order.
absl::StatusOr<std::vector<TreeProperty>> PropertiesUnder(std::span<const uint8_t> blob,
                                                          absl::string_view under);
// The absolute paths of every node below `under` (not `under` itself).
absl::StatusOr<std::vector<std::string>> NodesUnder(std::span<const uint8_t> blob, absl::string_view under);

absl::StatusOr<std::vector<uint8_t>> WithoutProperty(std::span<const uint8_t> blob, absl::string_view node,
                                                     absl::string_view name);
// The property cut to, or zero-padded up to, `size` bytes.
absl::StatusOr<std::vector<uint8_t>> WithPropertySize(std::span<const uint8_t> blob, absl::string_view node,
                                                      absl::string_view name, size_t size);
absl::StatusOr<std::vector<uint8_t>> WithoutNode(std::span<const uint8_t> blob, absl::string_view node);

}  // namespace state::testing

#endif  // STATE_TESTING_TREE_EDITS_H_
