// SPDX-License-Identifier: MIT
#include "state/testing/tree_edits.h"

#include <gtest/gtest.h>

#include "state/state_tree.h"

namespace state::testing {
namespace {

std::vector<uint8_t> Sample() {
  StateWriter w;
  w.BeginNode("part");
  w.PutU32("a", 7);
  w.PutBytes("b", std::vector<uint8_t>{1, 2, 3});
  w.BeginNode("device");
  w.PutU64("c", 9);
  w.EndNode();
  w.EndNode();
  return *w.Finish();
}

TEST(TreeEdits, ListsPropertiesAndNodesBelowANode) {
  const std::vector<uint8_t> blob = Sample();
  absl::StatusOr<std::vector<TreeProperty>> properties = PropertiesUnder(blob, "/part");
  ASSERT_TRUE(properties.ok()) << properties.status();
  ASSERT_EQ(properties->size(), 3u);
  EXPECT_EQ((*properties)[1].relative, "b");
  EXPECT_EQ((*properties)[1].size, 3u);
  EXPECT_EQ((*properties)[2].node, "/part/device");
  EXPECT_EQ((*properties)[2].relative, "device/c");
  EXPECT_EQ(*NodesUnder(blob, "/part"), std::vector<std::string>{"/part/device"});
  EXPECT_FALSE(PropertiesUnder(blob, "/other").ok());
}

TEST(TreeEdits, DropsAndResizesOneThing) {
  const std::vector<uint8_t> blob = Sample();
  auto read = [](const absl::StatusOr<std::vector<uint8_t>>& edited) {
    EXPECT_TRUE(edited.ok()) << edited.status();
    return *StateReader::Parse(*edited);
  };
  StateReader without_a = read(WithoutProperty(blob, "/part", "a"));
  EXPECT_FALSE(without_a.Node("part")->Has("a"));
  EXPECT_EQ(*without_a.Node("part/device")->U64("c"), 9u);

  StateReader longer = read(WithPropertySize(blob, "/part", "b", 4));
  std::span<const uint8_t> b = *longer.Node("part")->Bytes("b", 4);
  EXPECT_EQ(std::vector<uint8_t>(b.begin(), b.end()), (std::vector<uint8_t>{1, 2, 3, 0}));
  StateReader shorter = read(WithPropertySize(blob, "/part", "a", 3));
  EXPECT_FALSE(shorter.Node("part")->U32("a").ok());

  StateReader without_device = read(WithoutNode(blob, "/part/device"));
  EXPECT_FALSE(without_device.HasNode("part/device"));
  EXPECT_EQ(*without_device.Node("part")->U32("a"), 7u);
}

}  // namespace
}  // namespace state::testing
