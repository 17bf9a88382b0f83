// SPDX-License-Identifier: MIT
#include "state/state_tree.h"

#include <libfdt.h>

#include <algorithm>

#include "gtest/gtest.h"

namespace state {
namespace {

struct Pair {
  uint32_t a;
  uint64_t b;
};

TEST(StateTreeTest, RoundTripsNestedNodesAndTypes) {
  StateWriter w;
  w.BeginNode("vcpu@0");
  w.PutU32("id", 7);
  w.PutU64("tsc", 0x1122334455667788ull);
  w.PutStruct("pair", Pair{.a = 1, .b = 2});
  w.EndNode();
  w.BeginNode("devices");
  w.BeginNode("serial");
  w.PutString("name", "16550A");
  w.EndNode();
  w.EndNode();
  absl::StatusOr<std::vector<uint8_t>> blob = w.Finish();
  ASSERT_TRUE(blob.ok()) << blob.status();

  absl::StatusOr<StateReader> r = StateReader::Parse(*blob);
  ASSERT_TRUE(r.ok()) << r.status();
  absl::StatusOr<StateNode> vcpu = r->Node("vcpu@0");
  ASSERT_TRUE(vcpu.ok());
  EXPECT_EQ(*vcpu->U32("id"), 7u);
  EXPECT_EQ(*vcpu->U64("tsc"), 0x1122334455667788ull);
  EXPECT_EQ(vcpu->Struct<Pair>("pair")->b, 2u);
  absl::StatusOr<StateNode> serial = r->Node("devices/serial");
  ASSERT_TRUE(serial.ok());
  EXPECT_EQ(*serial->String("name"), "16550A");
  EXPECT_FALSE(r->HasNode("vcpu@1"));
  absl::StatusOr<StateNode> devices = r->Node("devices");
  ASSERT_TRUE(devices.ok());
  EXPECT_EQ(*devices->Child("serial")->String("name"), "16550A");
  EXPECT_EQ(devices->Child("uart").status().code(), absl::StatusCode::kNotFound);
}

TEST(StateTreeTest, WrongPropertySizeIsAnErrorNamingIt) {
  StateWriter w;
  w.BeginNode("uart");
  w.PutU32("ier", 1);
  w.EndNode();
  absl::StatusOr<StateReader> r = StateReader::Parse(*w.Finish());
  ASSERT_TRUE(r.ok());
  absl::StatusOr<uint64_t> v = r->Node("uart")->U64("ier");
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.status().message().find("/uart/ier"), std::string::npos) << v.status();
  EXPECT_EQ(r->Node("uart")->U32("lcr").status().code(), absl::StatusCode::kNotFound);
}

TEST(StateTreeTest, GrowsPastItsInitialBuffer) {
  StateWriter w;
  w.BeginNode("balloon");
  std::vector<uint8_t> big(1 << 20, 0xab);
  w.PutBytes("bitmap", big);
  w.EndNode();
  absl::StatusOr<std::vector<uint8_t>> blob = w.Finish();
  ASSERT_TRUE(blob.ok()) << blob.status();
  absl::StatusOr<StateReader> r = StateReader::Parse(*blob);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->Node("balloon")->Bytes("bitmap")->size(), big.size());
}

TEST(StateTreeTest, UnbalancedNodesAreRefused) {
  StateWriter w;
  w.BeginNode("a");
  EXPECT_FALSE(w.Finish().ok());
}

TEST(StateTreeTest, PropertyAfterAChildNodeIsRefusedNamingIt) {
  StateWriter w;
  w.BeginNode("parent");
  w.PutU32("first", 1);
  w.BeginNode("child");
  w.PutU32("inside", 2);
  w.EndNode();
  w.PutU32("late", 3);
  w.EndNode();
  absl::StatusOr<std::vector<uint8_t>> tree = w.Finish();
  ASSERT_FALSE(tree.ok());
  EXPECT_NE(tree.status().message().find("property late written after a child node"), std::string::npos)
      << tree.status();
}

// A tree with one node "a" holding x = 1.
std::vector<uint8_t> SmallTree() {
  StateWriter w;
  w.BeginNode("a");
  w.PutU32("x", 1);
  w.EndNode();
  return *w.Finish();
}

TEST(StateTreeTest, CorruptOrTruncatedBlobsAreRefused) {
  std::vector<uint8_t> blob = SmallTree();
  EXPECT_FALSE(StateReader::Parse(std::span(blob).first(blob.size() - 4)).ok());
  EXPECT_FALSE(StateReader::Parse(std::span(blob).first(10)).ok());
  std::vector<uint8_t> bad = blob;
  // Point the structure block past the end.
  reinterpret_cast<fdt_header*>(bad.data())->off_dt_struct = cpu_to_fdt32(0x7ffffff0);
  EXPECT_FALSE(StateReader::Parse(bad).ok());
  std::vector<uint8_t> garbage(blob.size(), 0x5a);
  EXPECT_FALSE(StateReader::Parse(garbage).ok());
}

// A tree can sit anywhere in a stream's buffer; libfdt's header reads
// were misaligned on it (UBSan, fuzz/state_load_fuzzer).
TEST(StateTreeTest, ParsesATreeAtAnyAlignment) {
  std::vector<uint8_t> blob = SmallTree();
  std::vector<uint8_t> shifted(blob.size() + 1);
  std::copy(blob.begin(), blob.end(), shifted.begin() + 1);
  absl::StatusOr<StateReader> r = StateReader::Parse(std::span(shifted).subspan(1));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r->Node("a")->U32("x"), 1u);
}

// Found by fuzz/state_load_fuzzer: libfdt reads version 16 trees with
// another layout; only what StateWriter writes (17) is read.
TEST(StateTreeTest, OlderTreeVersionsAreRefused) {
  std::vector<uint8_t> blob = SmallTree();
  ASSERT_TRUE(StateReader::Parse(blob).ok());
  reinterpret_cast<fdt_header*>(blob.data())->version = cpu_to_fdt32(16);
  absl::StatusOr<StateReader> r = StateReader::Parse(blob);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("version 16"), std::string::npos) << r.status();
}

// Found by fuzz/state_load_fuzzer: a property whose length wraps the next
// tag's offset back onto itself made libfdt's fdt_check_full loop forever.
TEST(StateTreeTest, PropertyLengthThatWrapsIsRefusedNotLoopedOn) {
  std::vector<uint8_t> blob = SmallTree();
  const fdt_header* header = reinterpret_cast<const fdt_header*>(blob.data());
  // The first FDT_PROP tag in the structure block; its length follows it.
  size_t at = fdt32_to_cpu(header->off_dt_struct);
  const size_t end = at + fdt32_to_cpu(header->size_dt_struct);
  while (at + 8 <= end && fdt32_to_cpu(*reinterpret_cast<const fdt32_t*>(blob.data() + at)) != FDT_PROP) at += 4;
  ASSERT_LT(at + 8, end);
  // tag + len + nameoff = 12 bytes: a length of -12 points the next tag here.
  *reinterpret_cast<fdt32_t*>(blob.data() + at + 4) = cpu_to_fdt32(0xfffffff4u);
  absl::StatusOr<StateReader> r = StateReader::Parse(blob);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("does not move past it"), std::string::npos) << r.status();
}

}  // namespace
}  // namespace state
