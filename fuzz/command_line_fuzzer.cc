// SPDX-License-Identifier: MIT
// Fuzzes the parsers of what a user types and what reaches the guest's
// kernel command line: base::ParseSize, migration::ParseEndpoint and
// vmm::BuildMachineConfig (every --flag's text from the input, one per
// line), and for an accepted configuration the boot parameters writer with
// its command line. Each either accepts or says what is wrong; none may
// crash, and an accepted command line must be written to guest RAM.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <string>

#include "base/size_parse.h"
#include "fuzz/fuzz_support.h"
#include "memory/layout.h"
#include "migration/channel.h"
#include "vmm/boot/boot_params.h"
#include "vmm/run_options.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  const uint8_t switches = in.ConsumeIntegral<uint8_t>();
  auto line = [&] {
    std::string s;
    while (in.remaining_bytes() > 0) {
      const char c = in.ConsumeIntegral<char>();
      if (c == '\n') break;
      s.push_back(c);
    }
    return s;
  };
  vmm::RunFlags flags;
  flags.kernel = "/proc/self/exe";  // readable: the checks go on past it
  flags.memory = line();
  flags.balloon_size = line();
  flags.timeout = line();
  flags.console = line();
  flags.virtio_notify = line();
  flags.incoming = line();
  flags.cpus = static_cast<int8_t>(in.ConsumeIntegral<uint8_t>());
  flags.balloon = switches & 1;
  flags.host_memory_bytes = switches & 2 ? 1ull << 30 : 0;
  if (switches & 4) flags.cmdline = in.ConsumeBytesAsString(in.remaining_bytes());

  for (const std::string* text : {&flags.memory, &flags.balloon_size, &flags.timeout}) {
    absl::StatusOr<uint64_t> bytes = base::ParseSize(*text);
    if (!bytes.ok() && bytes.status().message().empty()) __builtin_trap();  // must say what is wrong
  }
  (void)migration::ParseEndpoint(flags.incoming);
  absl::StatusOr<vmm::MachineConfig> config = vmm::BuildMachineConfig(flags);
  if (!config.ok()) {
    if (config.status().message().empty()) __builtin_trap();
    return 0;
  }
  absl::StatusOr<memory::GuestMemory> mem = memory::GuestMemory::Create({{0, 4 << 20}});
  if (!mem.ok()) __builtin_trap();
  (void)vmm::boot::WriteBootParams(*mem, {.cmdline = config->cmdline,
                                          .e820 = memory::E820Map(memory::RamRegionsForSize(config->memory_size))});
  return 0;
}
