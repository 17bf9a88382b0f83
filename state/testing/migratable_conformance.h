// SPDX-License-Identifier: MIT
// state::testing::MigratableConformance: the one suite every
// state::Migratable runs (after crosvm's snapshot suite for every device).
// A part is saved, changed, and loaded into a fresh instance, as a
// destination VMM would, and what the guest and the VMM can see of it is
// compared; then every malformed copy of its saved tree (each property
// missing, each property one byte long or short, each child node missing) is
// loaded into a fresh instance and must be refused with nothing applied.
//
// A part takes part with a Case type (see CaseDefaults) and one line in its
// test file:
//   namespace state::testing {
//   INSTANTIATE_TYPED_TEST_SUITE_P(Serial, MigratableConformance, devices::SerialCase);
//   }
// The suite knows no property names: it reads them from the saved tree, so a
// property added later is covered without touching the test.
#ifndef STATE_TESTING_MIGRATABLE_CONFORMANCE_H_
#define STATE_TESTING_MIGRATABLE_CONFORMANCE_H_

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "state/migratable.h"
#include "state/state_tree.h"
#include "state/testing/tree_edits.h"

namespace state::testing {

// What can be seen of an instance from outside it (registers read through
// its bus interface, the VMM's accessors, the level of its interrupt line),
// by name, compared as a whole. Not its saved bytes: a loaded part must look
// the same to its users, which is what the bytes stand for.
using Observed = std::map<std::string, uint64_t>;

// A Case names the part under test and how to reach its state:
//   using Instance = ...;  // one VM's copy of the part with what it needs
//                          // around it (guest memory, an IRQ line, ...)
//   static std::unique_ptr<Instance> Make();  // fresh, as a destination builds it
//   static state::Migratable& Part(Instance&);
//   // Drives an instance into a state other than the fresh one, through its
//   // guest-facing interface (bus reads and writes, virtqueues), the same
//   // way every time (the suite compares two instances driven alike).
//   static void Change(Instance&);
//   // Drives an instance from Change's state into yet another one.
//   static void ChangeAgain(Instance&);
//   // What can be seen of it. It may change the instance (a register read
//   // that pops a FIFO): the suite observes an instance last.
//   static Observed Observe(Instance&);
// and inherits CaseDefaults for the lists below, or overrides them.
struct CaseDefaults {
  // Properties (by path below the part's node, "device/x") a loader takes
  // as optional, for streams from VMMs that did not save them yet.
  static std::vector<std::string> Optional() { return {}; }
  // Properties whose length is the data's (a FIFO's bytes): any length may
  // be valid, so the wrong-size check skips them.
  static std::vector<std::string> AnyLength() { return {}; }
};

// The node the suite saves a part under, and its path in the tree.
inline constexpr char kPartNode[] = "part";
inline constexpr char kPartPath[] = "/part";

// The part's saved tree; a failed save fails the test and returns nothing.
inline std::vector<uint8_t> SaveTree(Migratable& part) {
  StateWriter out;
  out.BeginNode(kPartNode);
  absl::Status saved = part.Save(out);
  out.EndNode();
  EXPECT_TRUE(saved.ok()) << saved;
  absl::StatusOr<std::vector<uint8_t>> blob = out.Finish();
  EXPECT_TRUE(blob.ok()) << blob.status();
  if (!saved.ok() || !blob.ok()) return {};
  return *std::move(blob);
}

inline absl::Status LoadTree(Migratable& part, std::span<const uint8_t> blob) {
  absl::StatusOr<StateReader> reader = StateReader::Parse(blob);
  if (!reader.ok()) return reader.status();
  absl::StatusOr<StateNode> node = reader->Node(kPartNode);
  if (!node.ok()) return node.status();
  return part.Load(*node);
}

// The names whose values differ between two observations, with both
// values; empty when they are the same.
inline std::string Differences(const Observed& got, const Observed& want) {
  std::string out;
  auto value = [](const Observed& o, const std::string& name) {
    auto it = o.find(name);
    return it == o.end() ? std::string("absent") : absl::StrCat(it->second);
  };
  Observed names = got;
  names.insert(want.begin(), want.end());
  for (const auto& [name, unused] : names) {
    if (value(got, name) != value(want, name)) {
      absl::StrAppend(&out, "\n  ", name, ": ", value(got, name), ", expected ", value(want, name));
    }
  }
  return out;
}

template <typename Case>
class MigratableConformance : public ::testing::Test {
 protected:
  using Instance = typename Case::Instance;

  static std::unique_ptr<Instance> Changed() {
    std::unique_ptr<Instance> instance = Case::Make();
    Case::Change(*instance);
    return instance;
  }
  // The saved tree of an instance after Change.
  static std::vector<uint8_t> SavedChanged() {
    std::unique_ptr<Instance> source = Changed();
    return SaveTree(Case::Part(*source));
  }
  static Observed ObserveFresh() {
    std::unique_ptr<Instance> fresh = Case::Make();
    return Case::Observe(*fresh);
  }
  static bool Listed(const std::vector<std::string>& list, const std::string& path) {
    return std::find(list.begin(), list.end(), path) != list.end();
  }
  // Loads a malformed tree into a fresh instance: it must be refused and
  // leave the instance as fresh as it was.
  static void ExpectRefusedCleanly(const absl::StatusOr<std::vector<uint8_t>>& tree, const std::string& what) {
    ASSERT_TRUE(tree.ok()) << what << ": " << tree.status();
    std::unique_ptr<Instance> fresh = Case::Make();
    absl::Status loaded = LoadTree(Case::Part(*fresh), *tree);
    EXPECT_FALSE(loaded.ok()) << what << " was accepted";
    const std::string applied = Differences(Case::Observe(*fresh), ObserveFresh());
    EXPECT_TRUE(applied.empty()) << what << ": refused, but partly applied:" << applied;
  }
};

TYPED_TEST_SUITE_P(MigratableConformance);

// The other checks mean something only if the change shows.
TYPED_TEST_P(MigratableConformance, ChangesAreObservable) {
  using Case = TypeParam;
  std::unique_ptr<typename Case::Instance> changed = this->Changed(), changed_again = this->Changed();
  Case::ChangeAgain(*changed_again);
  const Observed fresh = this->ObserveFresh(), once = Case::Observe(*changed);
  EXPECT_NE(once, fresh);
  EXPECT_NE(Case::Observe(*changed_again), once);
}

TYPED_TEST_P(MigratableConformance, LoadedCopySavesTheSameBytes) {
  using Case = TypeParam;
  const std::vector<uint8_t> saved = this->SavedChanged();
  ASSERT_FALSE(saved.empty());
  std::unique_ptr<typename Case::Instance> copy = Case::Make();
  const absl::Status loaded = LoadTree(Case::Part(*copy), saved);
  ASSERT_TRUE(loaded.ok()) << loaded;
  EXPECT_TRUE(SaveTree(Case::Part(*copy)) == saved) << "a loaded copy saves a different tree";
}

// Save -> change the source -> load into a fresh instance: it shows the
// state at the save, not the source's later one.
TYPED_TEST_P(MigratableConformance, FreshLoadShowsTheSavedStateNotLaterChanges) {
  using Case = TypeParam;
  std::unique_ptr<typename Case::Instance> source = this->Changed();
  const std::vector<uint8_t> saved = SaveTree(Case::Part(*source));
  ASSERT_FALSE(saved.empty());
  Case::ChangeAgain(*source);
  std::unique_ptr<typename Case::Instance> copy = Case::Make();
  const absl::Status loaded = LoadTree(Case::Part(*copy), saved);
  ASSERT_TRUE(loaded.ok()) << loaded;
  // What the source showed at the save, from an instance driven alike.
  std::unique_ptr<typename Case::Instance> at_save = this->Changed();
  const std::string differences = Differences(Case::Observe(*copy), Case::Observe(*at_save));
  EXPECT_TRUE(differences.empty()) << "the loaded copy differs from the source at the save:" << differences;
}

TYPED_TEST_P(MigratableConformance, MissingPropertyOrNodeIsRefused) {
  using Case = TypeParam;
  const std::vector<uint8_t> saved = this->SavedChanged();
  ASSERT_FALSE(saved.empty());
  absl::StatusOr<std::vector<TreeProperty>> properties = PropertiesUnder(saved, kPartPath);
  ASSERT_TRUE(properties.ok()) << properties.status();
  ASSERT_FALSE(properties->empty());
  for (const TreeProperty& p : *properties) {
    absl::StatusOr<std::vector<uint8_t>> tree = WithoutProperty(saved, p.node, p.name);
    if (this->Listed(Case::Optional(), p.relative)) {
      ASSERT_TRUE(tree.ok()) << tree.status();
      std::unique_ptr<typename Case::Instance> fresh = Case::Make();
      EXPECT_TRUE(LoadTree(Case::Part(*fresh), *tree).ok()) << "optional " << p.relative << " missing";
      continue;
    }
    this->ExpectRefusedCleanly(tree, "missing " + p.relative);
  }
  absl::StatusOr<std::vector<std::string>> nodes = NodesUnder(saved, kPartPath);
  ASSERT_TRUE(nodes.ok()) << nodes.status();
  for (const std::string& node : *nodes) this->ExpectRefusedCleanly(WithoutNode(saved, node), "missing " + node);
}

TYPED_TEST_P(MigratableConformance, WrongSizedPropertyIsRefused) {
  using Case = TypeParam;
  const std::vector<uint8_t> saved = this->SavedChanged();
  ASSERT_FALSE(saved.empty());
  absl::StatusOr<std::vector<TreeProperty>> properties = PropertiesUnder(saved, kPartPath);
  ASSERT_TRUE(properties.ok()) << properties.status();
  for (const TreeProperty& p : *properties) {
    if (this->Listed(Case::AnyLength(), p.relative)) continue;
    this->ExpectRefusedCleanly(WithPropertySize(saved, p.node, p.name, p.size + 1),
                               absl::StrCat(p.relative, " one byte long"));
    if (p.size > 0) {
      this->ExpectRefusedCleanly(WithPropertySize(saved, p.node, p.name, p.size - 1),
                                 absl::StrCat(p.relative, " one byte short"));
    }
  }
}

REGISTER_TYPED_TEST_SUITE_P(MigratableConformance, ChangesAreObservable, LoadedCopySavesTheSameBytes,
                            FreshLoadShowsTheSavedStateNotLaterChanges, MissingPropertyOrNodeIsRefused,
                            WrongSizedPropertyIsRefused);

}  // namespace state::testing

#endif  // STATE_TESTING_MIGRATABLE_CONFORMANCE_H_
