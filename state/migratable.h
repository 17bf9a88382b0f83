// SPDX-License-Identifier: MIT
// state::Migratable: the one interface every stateful part of the VM
// implements (vCPUs, the irqchip, legacy devices, virtio transports and
// devices), so the machine saves, loads and checks them in one loop.
#ifndef STATE_MIGRATABLE_H_
#define STATE_MIGRATABLE_H_

#include "absl/status/status.h"
#include "state/state_tree.h"

namespace state {

// Implemented by every stateful part of the VM. The owner (the machine)
// opens a node named for the part and calls Save, which writes the part's
// properties (and child nodes, if it has parts of its own); Load gets the
// same node back and restores it, rejecting values that could not have come
// from a running device. Both run with the vCPUs paused.
class Migratable {
 public:
  virtual ~Migratable() = default;
  virtual absl::Status Save(StateWriter& out) = 0;
  virtual absl::Status Load(const StateNode& in) = 0;
};

}  // namespace state

#endif  // STATE_MIGRATABLE_H_
