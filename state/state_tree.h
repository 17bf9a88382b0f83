// SPDX-License-Identifier: MIT
// state::StateWriter / StateReader: the saved state of a VM as one
// flattened device tree (libfdt). Each stateful part owns one node (a vCPU,
// the irqchip, the UART, a virtio-mmio transport, ...) and stores its fields
// as properties: fixed-width little-endian integers or raw byte blobs (KVM
// structs are x86 little-endian already).
//
// Trust boundary: a state tree read from a stream or a file is untrusted
// until checked. StateReader::Parse runs fdt_check_full before anything
// else looks at it, and every accessor checks the property's exact size, so
// a short or oversized blob is an error naming the node and the property,
// never an over-read. Loaders must still check the *values* they restore
// (indices, addresses, lengths) as they would guest input.
#ifndef STATE_STATE_TREE_H_
#define STATE_STATE_TREE_H_

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include "absl/strings/string_view.h"
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace state {

class StateWriter {
 public:
  StateWriter();

  // Nodes nest; every BeginNode needs its EndNode. Names follow the device
  // tree rules ("vcpu@0", "balloon", "virtio-mmio@d0000000"). A node's
  // properties come before its child nodes (the flattened format has no
  // place for later ones); a property after a child is an error at Finish.
  void BeginNode(absl::string_view name);
  void EndNode();

  void PutU32(absl::string_view name, uint32_t value);
  void PutU64(absl::string_view name, uint64_t value);
  void PutBytes(absl::string_view name, std::span<const uint8_t> bytes);
  void PutString(absl::string_view name, absl::string_view value);
  template <typename T>
  void PutStruct(absl::string_view name, const T& value) {
    static_assert(std::is_trivially_copyable_v<T>);
    PutBytes(name, {reinterpret_cast<const uint8_t*>(&value), sizeof(T)});
  }

  // The finished tree. The first error seen while building (a libfdt
  // failure, unbalanced nodes) is returned here.
  absl::StatusOr<std::vector<uint8_t>> Finish();

 private:
  void Grow();
  std::vector<uint8_t> buffer_;
  int depth_ = 0;
  // Per open node (root first): whether a child of it has been written.
  std::vector<bool> has_child_ = {false};
  absl::Status status_;
};

class StateNode;

class StateReader {
 public:
  // Validates `blob` with fdt_check_full and keeps a copy.
  static absl::StatusOr<StateReader> Parse(std::span<const uint8_t> blob);

  // A node by path below the root ("vcpu@0", "devices/serial"); NotFound
  // names the path when it is missing.
  absl::StatusOr<StateNode> Node(absl::string_view path) const;
  bool HasNode(absl::string_view path) const;

 private:
  explicit StateReader(std::vector<uint8_t> blob) : blob_(std::move(blob)) {}
  std::vector<uint8_t> blob_;
};

// A view of one node; valid while its StateReader lives.
class StateNode {
 public:
  absl::StatusOr<uint32_t> U32(absl::string_view name) const;
  absl::StatusOr<uint64_t> U64(absl::string_view name) const;
  // A property's bytes; `expected_size` >= 0 demands that exact length.
  absl::StatusOr<std::span<const uint8_t>> Bytes(absl::string_view name, int64_t expected_size = -1) const;
  absl::StatusOr<std::string> String(absl::string_view name) const;
  bool Has(absl::string_view name) const;
  template <typename T>
  absl::StatusOr<T> Struct(absl::string_view name) const {
    static_assert(std::is_trivially_copyable_v<T>);
    absl::StatusOr<std::span<const uint8_t>> bytes = Bytes(name, sizeof(T));
    if (!bytes.ok()) return bytes.status();
    T value;
    std::memcpy(&value, bytes->data(), sizeof(T));
    return value;
  }
  // A child node; NotFound names the full path when it is missing.
  absl::StatusOr<StateNode> Child(absl::string_view name) const;
  const std::string& path() const { return path_; }

 private:
  friend class StateReader;
  StateNode(const void* fdt, int offset, std::string path) : fdt_(fdt), offset_(offset), path_(std::move(path)) {}
  const void* fdt_;
  int offset_;
  std::string path_;
};

}  // namespace state

#endif  // STATE_STATE_TREE_H_
