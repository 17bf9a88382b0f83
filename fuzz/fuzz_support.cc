// SPDX-License-Identifier: MIT
#include "fuzz/fuzz_support.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "base/logging.h"
#include "state/state_tree.h"

namespace fuzz {

void QuietLogs() { base::SetMinLogLevel(base::LogLevel::kError); }

base::UniqueFd MemfdWith(std::span<const uint8_t> bytes) {
  base::UniqueFd fd(memfd_create("fuzz-input", MFD_CLOEXEC));
  if (!fd.valid()) std::abort();  // the host, not the input
  for (size_t done = 0; done < bytes.size();) {
    const ssize_t n = write(fd.get(), bytes.data() + done, bytes.size() - done);
    if (n <= 0) std::abort();
    done += static_cast<size_t>(n);
  }
  if (lseek(fd.get(), 0, SEEK_SET) != 0) std::abort();
  return fd;
}

std::vector<memory::RamRegion> SmallLayout() { return devices::testing::ScriptRamLayout(); }

memory::GuestMemory SmallMemory() {
  absl::StatusOr<memory::GuestMemory> mem = memory::GuestMemory::Create(SmallLayout());
  if (!mem.ok()) {
    std::fprintf(stderr, "fuzz: cannot create guest memory: %s\n", std::string(mem.status().message()).c_str());
    std::abort();  // the host, not the input
  }
  return std::move(*mem);
}

memory::GuestMemory& ZeroedSharedMemory() {
  static memory::GuestMemory* const mem = new memory::GuestMemory(SmallMemory());
  devices::testing::ZeroScriptRam(*mem);
  return *mem;
}

void CheckSaveLoad(state::Migratable& part, state::Migratable& fresh, const char* what) {
  auto die = [&](const absl::Status& st, const char* step) {
    std::fprintf(stderr, "fuzz: %s: %s failed after the input: %s\n", what, step, st.ToString().c_str());
    std::abort();
  };
  state::StateWriter writer;
  writer.BeginNode("part");
  if (absl::Status st = part.Save(writer); !st.ok()) die(st, "Save");
  writer.EndNode();
  absl::StatusOr<std::vector<uint8_t>> tree = writer.Finish();
  if (!tree.ok()) die(tree.status(), "finishing the saved tree");
  absl::StatusOr<state::StateReader> reader = state::StateReader::Parse(*tree);
  if (!reader.ok()) die(reader.status(), "parsing the saved tree");
  absl::StatusOr<state::StateNode> node = reader->Node("part");
  if (!node.ok()) die(node.status(), "finding the saved node");
  if (absl::Status st = fresh.Load(*node); !st.ok()) die(st, "Load into a fresh instance");
}

}  // namespace fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::QuietLogs();
  return 0;
}
