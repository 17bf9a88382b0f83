// SPDX-License-Identifier: MIT
#include "state/testing/tree_edits.h"

#include <libfdt.h>

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"

namespace state::testing {
namespace {

absl::Status FdtError(absl::string_view what, int err) {
  return absl::InternalError(absl::StrCat("tree edit: ", what, ": ", fdt_strerror(err)));
}

absl::StatusOr<int> NodeOffset(const void* fdt, absl::string_view path) {
  int offset = fdt_path_offset_namelen(fdt, path.data(), static_cast<int>(path.size()));
  if (offset < 0) return FdtError(path, offset);
  return offset;
}

// Appends the properties of `node` and of every node below it to
// `properties`, and the paths of the nodes below it to `nodes`.
void Collect(const void* fdt, int node, const std::string& path, const std::string& relative,
             std::vector<TreeProperty>& properties, std::vector<std::string>& nodes) {
  auto below = [&](const char* name) { return relative.empty() ? std::string(name) : absl::StrCat(relative, "/", name); };
  int property;
  fdt_for_each_property_offset(property, fdt, node) {
    const char* name = nullptr;
    int length = 0;
    if (fdt_getprop_by_offset(fdt, property, &name, &length) == nullptr) continue;
    properties.push_back({.node = path, .name = name, .size = static_cast<size_t>(length), .relative = below(name)});
  }
  int child;
  fdt_for_each_subnode(child, fdt, node) {
    const char* name = fdt_get_name(fdt, child, nullptr);
    nodes.push_back(absl::StrCat(path, "/", name));
    Collect(fdt, child, nodes.back(), below(name), properties, nodes);
  }
}

absl::Status Walk(std::span<const uint8_t> blob, absl::string_view under, std::vector<TreeProperty>& properties,
                  std::vector<std::string>& nodes) {
  if (int err = fdt_check_full(blob.data(), blob.size()); err != 0) return FdtError("check", err);
  absl::StatusOr<int> offset = NodeOffset(blob.data(), under);
  if (!offset.ok()) return offset.status();
  Collect(blob.data(), *offset, std::string(under), "", properties, nodes);
  return absl::OkStatus();
}

// A writable copy of `blob` with `extra` bytes of room, `edit` applied to
// the node at `node`, packed again.
template <typename Edit>
absl::StatusOr<std::vector<uint8_t>> Edited(std::span<const uint8_t> blob, absl::string_view node, size_t extra,
                                            Edit edit) {
  std::vector<uint8_t> out(blob.size() + extra + 64);
  if (int err = fdt_open_into(blob.data(), out.data(), static_cast<int>(out.size())); err != 0) {
    return FdtError("open", err);
  }
  absl::StatusOr<int> offset = NodeOffset(out.data(), node);
  if (!offset.ok()) return offset.status();
  if (int err = edit(out.data(), *offset); err != 0) return FdtError(node, err);
  if (int err = fdt_pack(out.data()); err != 0) return FdtError("pack", err);
  out.resize(fdt_totalsize(out.data()));
  return out;
}

}  // namespace

absl::StatusOr<std::vector<TreeProperty>> PropertiesUnder(std::span<const uint8_t> blob, absl::string_view under) {
  std::vector<TreeProperty> properties;
  std::vector<std::string> nodes;
  if (absl::Status st = Walk(blob, under, properties, nodes); !st.ok()) return st;
  return properties;
}

absl::StatusOr<std::vector<std::string>> NodesUnder(std::span<const uint8_t> blob, absl::string_view under) {
  std::vector<TreeProperty> properties;
  std::vector<std::string> nodes;
  if (absl::Status st = Walk(blob, under, properties, nodes); !st.ok()) return st;
  return nodes;
}

absl::StatusOr<std::vector<uint8_t>> WithoutProperty(std::span<const uint8_t> blob, absl::string_view node,
                                                     absl::string_view name) {
  return Edited(blob, node, 0, [&](void* fdt, int offset) {
    return fdt_delprop(fdt, offset, std::string(name).c_str());
  });
}

absl::StatusOr<std::vector<uint8_t>> WithPropertySize(std::span<const uint8_t> blob, absl::string_view node,
                                                      absl::string_view name, size_t size) {
  return Edited(blob, node, size, [&](void* fdt, int offset) {
    const std::string property(name);
    int length = 0;
    const void* old = fdt_getprop(fdt, offset, property.c_str(), &length);
    if (old == nullptr) return length;
    // Copied first: setprop moves the tree under `old`.
    std::vector<uint8_t> value(size, 0);
    std::copy_n(static_cast<const uint8_t*>(old), std::min(size, static_cast<size_t>(length)), value.begin());
    return fdt_setprop(fdt, offset, property.c_str(), value.data(), static_cast<int>(value.size()));
  });
}

absl::StatusOr<std::vector<uint8_t>> WithoutNode(std::span<const uint8_t> blob, absl::string_view node) {
  return Edited(blob, node, 0, [](void* fdt, int offset) { return fdt_del_node(fdt, offset); });
}

}  // namespace state::testing
