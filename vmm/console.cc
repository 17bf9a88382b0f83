// SPDX-License-Identifier: MIT
#include "vmm/console.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"

namespace vmm {
namespace {
constexpr uint8_t kEscape = 0x01;  // Ctrl-A
}  // namespace

absl::StatusOr<std::unique_ptr<Console>> Console::Create(const ConsoleConfig& config) {
  int output_fd = STDOUT_FILENO;
  base::UniqueFd owned;
  if (!config.output_file.empty()) {
    owned.Reset(::open(config.output_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!owned.valid()) {
      return absl::ErrnoToStatus(errno, absl::StrCat("cannot open console file ", config.output_file));
    }
    output_fd = owned.get();
  }
  std::optional<termios> saved;
  if (::isatty(STDIN_FILENO)) {
    termios original;
    if (::tcgetattr(STDIN_FILENO, &original) == 0) {
      termios raw = original;
      ::cfmakeraw(&raw);
      if (::tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0) saved = original;
    }
  }
  return std::unique_ptr<Console>(new Console(output_fd, std::move(owned), saved));
}

Console::~Console() {
  if (saved_termios_) ::tcsetattr(STDIN_FILENO, TCSANOW, &*saved_termios_);
}

Console::Input Console::ReadInput() {
  uint8_t buffer[4096];
  ssize_t n = ::read(STDIN_FILENO, buffer, sizeof(buffer));
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return {};
  if (n <= 0) {
    input_open_ = false;
    return Input{.closed = true};
  }
  if (!interactive()) return Input{.to_guest = {buffer, buffer + n}};
  EscapeFilter::Result filtered = escape_filter_.Feed(buffer, static_cast<size_t>(n));
  return Input{.to_guest = std::move(filtered.to_guest), .quit = filtered.quit};
}

EscapeFilter::Result EscapeFilter::Feed(const uint8_t* bytes, size_t length) {
  Result result;
  for (size_t i = 0; i < length; ++i) {
    uint8_t b = bytes[i];
    if (escape_pending_) {
      escape_pending_ = false;
      if (b == 'x' || b == 'X') {
        result.quit = true;
        return result;
      }
      if (b == kEscape) result.to_guest.push_back(kEscape);
      // Any other key after Ctrl-A is dropped, like QEMU's unknown escapes.
      continue;
    }
    if (b == kEscape) {
      escape_pending_ = true;
      continue;
    }
    result.to_guest.push_back(b);
  }
  return result;
}

void Console::Output(uint8_t byte) {
  // A closed stdout (EPIPE, SIGPIPE ignored) must not stop the guest. A
  // write blocked on a full pipe is interrupted by the vCPU kick signal
  // (pauses, --profile-guest) before it wrote anything: write it again.
  while (::write(output_fd_, &byte, 1) < 0 && errno == EINTR) {
  }
}

}  // namespace vmm
