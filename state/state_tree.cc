// SPDX-License-Identifier: MIT
#include "state/state_tree.h"

#include <libfdt.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace state {
namespace {

constexpr size_t kInitialSize = 64 * 1024;

absl::Status FdtError(absl::string_view what, int err) {
  return absl::InternalError(absl::StrCat("state tree: ", what, ": ", fdt_strerror(err)));
}

}  // namespace

StateWriter::StateWriter() : buffer_(kInitialSize) {
  int err = fdt_create(buffer_.data(), static_cast<int>(buffer_.size()));
  if (err == 0) err = fdt_finish_reservemap(buffer_.data());
  if (err == 0) err = fdt_begin_node(buffer_.data(), "");
  if (err != 0) status_ = FdtError("create", err);
}

// The sequential-write API reports -FDT_ERR_NOSPACE; the tree is then moved
// into a buffer twice the size (fdt_resize keeps what was written) and the
// call is retried.
void StateWriter::Grow() {
  std::vector<uint8_t> bigger(buffer_.size() * 2);
  int err = fdt_resize(buffer_.data(), bigger.data(), static_cast<int>(bigger.size()));
  if (err != 0) {
    status_ = FdtError("resize", err);
    return;
  }
  buffer_ = std::move(bigger);
}

#define STATE_WRITER_RETRY(what, call)                    \
  do {                                                    \
    if (!status_.ok()) return;                            \
    int err;                                              \
    while ((err = (call)) == -FDT_ERR_NOSPACE) {          \
      Grow();                                             \
      if (!status_.ok()) return;                          \
    }                                                     \
    if (err != 0) status_ = FdtError(what, err);          \
  } while (0)

void StateWriter::BeginNode(absl::string_view name) {
  std::string n(name);
  STATE_WRITER_RETRY(absl::StrCat("node ", name), fdt_begin_node(buffer_.data(), n.c_str()));
  has_child_.back() = true;
  has_child_.push_back(false);
  ++depth_;
}

void StateWriter::EndNode() {
  if (depth_ == 0) {
    if (status_.ok()) status_ = absl::InternalError("state tree: EndNode without BeginNode");
    return;
  }
  STATE_WRITER_RETRY("end node", fdt_end_node(buffer_.data()));
  has_child_.pop_back();
  --depth_;
}

void StateWriter::PutBytes(absl::string_view name, std::span<const uint8_t> bytes) {
  if (status_.ok() && has_child_.back()) {
    // libfdt would write it, and readers would never find it.
    status_ = absl::InternalError(
        absl::StrCat("state tree: property ", name, " written after a child node; properties go first"));
    return;
  }
  std::string n(name);
  STATE_WRITER_RETRY(absl::StrCat("property ", name),
                     fdt_property(buffer_.data(), n.c_str(), bytes.data(), static_cast<int>(bytes.size())));
}

void StateWriter::PutU32(absl::string_view name, uint32_t value) { PutStruct(name, value); }
void StateWriter::PutU64(absl::string_view name, uint64_t value) { PutStruct(name, value); }
void StateWriter::PutString(absl::string_view name, absl::string_view value) {
  PutBytes(name, {reinterpret_cast<const uint8_t*>(value.data()), value.size()});
}

#undef STATE_WRITER_RETRY

absl::StatusOr<std::vector<uint8_t>> StateWriter::Finish() {
  if (!status_.ok()) return status_;
  if (depth_ != 0) return absl::InternalError("state tree: unbalanced BeginNode/EndNode");
  int err;
  while ((err = fdt_end_node(buffer_.data())) == -FDT_ERR_NOSPACE) {
    Grow();
    if (!status_.ok()) return status_;
  }
  if (err == 0) {
    while ((err = fdt_finish(buffer_.data())) == -FDT_ERR_NOSPACE) {
      Grow();
      if (!status_.ok()) return status_;
    }
  }
  if (err != 0) return FdtError("finish", err);
  std::vector<uint8_t> out(buffer_.begin(), buffer_.begin() + fdt_totalsize(buffer_.data()));
  status_ = absl::FailedPreconditionError("state tree: already finished");
  return out;
}

absl::StatusOr<StateReader> StateReader::Parse(std::span<const uint8_t> blob) {
  if (blob.size() < sizeof(fdt_header)) {
    return absl::DataLossError(absl::StrCat("state tree: ", blob.size(), " bytes is too short"));
  }
  // libfdt reads the header as aligned 32-bit words and the blob may sit
  // anywhere in a stream's buffer: everything below reads the (aligned)
  // copy.
  std::vector<uint8_t> copy(blob.begin(), blob.end());
  // fdt_check_full reads the header's sizes first; they must match the blob.
  if (fdt_totalsize(copy.data()) != copy.size()) {
    return absl::DataLossError(absl::StrCat("state tree: header says ", fdt_totalsize(copy.data()),
                                            " bytes, the section has ", copy.size()));
  }
  // Only version 17 trees (what StateWriter makes) are read: libfdt reads
  // older layouts differently (no size_dt_struct before 17), and a tree
  // that claims one is not ours.
  if (fdt_version(copy.data()) < 17) {
    return absl::DataLossError(absl::StrCat("state tree: version ", fdt_version(copy.data()), ", expected 17"));
  }
  // Debian 12's libfdt (1.6.1) loops forever in fdt_check_full on a
  // property whose length wraps the next tag's offset back onto itself: walk
  // the structure block first and refuse any tag that does not move forward.
  // Offsets only grow and fdt_next_tag stops at the block's end, so the walk
  // is bounded by the blob's size.
  for (int offset = 0;;) {
    int next = 0;
    const uint32_t tag = fdt_next_tag(copy.data(), offset, &next);
    if (tag == FDT_END || next < 0) break;  // the end, or an error fdt_check_full names
    if (next <= offset) {
      return absl::DataLossError(absl::StrCat("state tree is malformed: the tag at offset ", offset,
                                              " has a length that does not move past it"));
    }
    offset = next;
  }
  int err = fdt_check_full(copy.data(), copy.size());
  if (err != 0) return absl::DataLossError(absl::StrCat("state tree is malformed: ", fdt_strerror(err)));
  return StateReader(std::move(copy));
}

absl::StatusOr<StateNode> StateReader::Node(absl::string_view path) const {
  std::string full = absl::StrCat("/", path);
  int offset = fdt_path_offset(blob_.data(), full.c_str());
  if (offset < 0) return absl::NotFoundError(absl::StrCat("saved state has no node ", full));
  return StateNode(blob_.data(), offset, full);
}

bool StateReader::HasNode(absl::string_view path) const { return Node(path).ok(); }

absl::StatusOr<std::span<const uint8_t>> StateNode::Bytes(absl::string_view name, int64_t expected_size) const {
  std::string n(name);
  int len = 0;
  const void* data = fdt_getprop(fdt_, offset_, n.c_str(), &len);
  if (data == nullptr) {
    return absl::NotFoundError(absl::StrCat("saved state: ", path_, " has no property ", name));
  }
  if (expected_size >= 0 && len != expected_size) {
    return absl::DataLossError(absl::StrCat("saved state: ", path_, "/", name, " is ", len,
                                            " bytes, expected ", expected_size));
  }
  return std::span<const uint8_t>(static_cast<const uint8_t*>(data), static_cast<size_t>(len));
}

absl::StatusOr<StateNode> StateNode::Child(absl::string_view name) const {
  std::string n(name);
  int offset = fdt_subnode_offset(fdt_, offset_, n.c_str());
  std::string full = absl::StrCat(path_, "/", n);
  if (offset < 0) return absl::NotFoundError(absl::StrCat("saved state has no node ", full));
  return StateNode(fdt_, offset, full);
}

bool StateNode::Has(absl::string_view name) const {
  std::string n(name);
  return fdt_getprop(fdt_, offset_, n.c_str(), nullptr) != nullptr;
}

absl::StatusOr<uint32_t> StateNode::U32(absl::string_view name) const { return Struct<uint32_t>(name); }
absl::StatusOr<uint64_t> StateNode::U64(absl::string_view name) const { return Struct<uint64_t>(name); }

absl::StatusOr<std::string> StateNode::String(absl::string_view name) const {
  absl::StatusOr<std::span<const uint8_t>> bytes = Bytes(name);
  if (!bytes.ok()) return bytes.status();
  return std::string(reinterpret_cast<const char*>(bytes->data()), bytes->size());
}

}  // namespace state
