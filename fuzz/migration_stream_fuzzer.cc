// SPDX-License-Identifier: MIT
// Fuzzes migration::Receiver: the input is a migration stream (a snapshot
// file's bytes) read into a small VM (migration/testing/plain_vm.h). Every
// record, length, page set and checksum is the sender's to choose; the
// receiver must refuse what is wrong without writing outside guest RAM,
// allocating without bound or hanging.
#include <cstdint>

#include "base/unique_fd.h"
#include "fuzz/fuzz_support.h"
#include "migration/channel.h"
#include "migration/receiver.h"
#include "migration/testing/plain_vm.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // A file channel, as for a snapshot: the receiver sends no answers.
  base::UniqueFd fd = fuzz::MemfdWith({data, size});
  migration::Channel channel(std::move(fd), "fuzz", /*is_socket=*/false);
  migration::PlainTarget target(fuzz::SmallLayout());
  migration::Receiver receiver(target, channel);
  (void)receiver.Run();
  return 0;
}
