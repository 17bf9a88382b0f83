// SPDX-License-Identifier: MIT
// What legacy devices can ask of the machine: end the VM (power off, reset)
// or report a guest panic. The machine decides what each means for the
// process (exit status, see README).
#ifndef DEVICES_VM_EVENTS_H_
#define DEVICES_VM_EVENTS_H_

#include <functional>

namespace devices {

class VmEvents {
 public:
  virtual ~VmEvents() = default;
  virtual void PowerOff() = 0;
  virtual void Reset() = 0;
  virtual void GuestPanicked() = 0;
};

// Sets an interrupt line's level (true = asserted).
using IrqLine = std::function<void(bool)>;

}  // namespace devices

#endif  // DEVICES_VM_EVENTS_H_
