// SPDX-License-Identifier: MIT
// The guest's serial console on the VMM's own stdin/stdout (or a file).
// When stdin is a terminal it is put in raw mode (restored by the
// destructor, so on every exit path that unwinds) and Ctrl-A x quits, as in
// QEMU; Ctrl-A Ctrl-A sends one Ctrl-A. When stdin is a pipe or FIFO its bytes
// go to the guest unchanged, which is how scripts and tests drive the guest.
#ifndef VMM_CONSOLE_H_
#define VMM_CONSOLE_H_

#include <termios.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/unique_fd.h"

namespace vmm {

struct ConsoleConfig {
  // Empty: stdout. Otherwise the console output is written to this file.
  std::string output_file;
};

// Ctrl-A escape handling of an interactive console.
class EscapeFilter {
 public:
  struct Result {
    std::vector<uint8_t> to_guest;
    bool quit = false;  // Ctrl-A x
  };
  Result Feed(const uint8_t* bytes, size_t length);

 private:
  bool escape_pending_ = false;
};

class Console {
 public:
  static absl::StatusOr<std::unique_ptr<Console>> Create(const ConsoleConfig& config);
  ~Console();
  Console(const Console&) = delete;
  Console& operator=(const Console&) = delete;

  // Fd to poll for input, or -1 when there is none (stdin closed).
  int input_fd() const { return input_open_ ? 0 : -1; }
  bool interactive() const { return saved_termios_.has_value(); }

  struct Input {
    std::vector<uint8_t> to_guest;
    bool quit = false;  // Ctrl-A x
    bool closed = false;  // end of input
  };
  // Reads what stdin has now (call when input_fd() is readable).
  Input ReadInput();

  void Output(uint8_t byte);

 private:
  Console(int output_fd, base::UniqueFd owned_output, std::optional<termios> saved)
      : output_fd_(output_fd), owned_output_(std::move(owned_output)), saved_termios_(saved) {}

  int output_fd_;
  base::UniqueFd owned_output_;
  std::optional<termios> saved_termios_;
  bool input_open_ = true;
  EscapeFilter escape_filter_;
};

}  // namespace vmm

#endif  // VMM_CONSOLE_H_
