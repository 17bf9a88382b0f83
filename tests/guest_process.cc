// SPDX-License-Identifier: MIT
#include "tests/guest_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"

namespace tests {

std::string VmmBinary() { return VMM_BINARY; }
std::string SourceDir() { return VMM_SOURCE_DIR; }
std::string GuestImageDir() { return SourceDir() + "/guest-images/out"; }
bool InCi() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string(ci) == "true";
}

std::string KvmUnavailableReason() {
  if (::access("/dev/kvm", R_OK | W_OK) == 0) return "";
  return "/dev/kvm is missing or not accessible; guest tests cannot run";
}

std::optional<std::string> HostCommand(const std::string& command) {
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return std::nullopt;
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
  return ::pclose(pipe) == 0 ? std::optional<std::string>(out) : std::nullopt;
}

uint64_t MeminfoKib(const std::string& meminfo, const std::string& field) {
  for (absl::string_view line : absl::StrSplit(meminfo, '\n')) {
    if (absl::ConsumePrefix(&line, field + ":")) {
      line = absl::StripAsciiWhitespace(line);
      absl::ConsumeSuffix(&line, "kB");
      uint64_t kib = 0;
      if (absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &kib)) return kib;
    }
  }
  return 0;
}

GuestProcess::GuestProcess(const std::vector<std::string>& prefix, const std::vector<std::string>& args) {
  int in[2], out[2], err[2];
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
    std::abort();
  }
  pid_ = ::fork();
  if (pid_ == 0) {
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    std::vector<std::string> words = prefix;
    words.push_back(VmmBinary());
    words.insert(words.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& a : words) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execvp(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  stdin_fd_ = in[1];
  stdout_fd_ = out[0];
  stderr_fd_ = err[0];
  ::fcntl(stdout_fd_, F_SETFL, O_NONBLOCK);
  ::fcntl(stderr_fd_, F_SETFL, O_NONBLOCK);
}

GuestProcess::~GuestProcess() {
  if (!exit_status_.has_value()) {
    Kill(SIGKILL);
    WaitExit(absl::Seconds(10));
  }
  if (stdin_fd_ >= 0) ::close(stdin_fd_);
  ::close(stdout_fd_);
  ::close(stderr_fd_);
}

void GuestProcess::Pump(absl::Duration wait) {
  pollfd fds[2] = {{stdout_fd_, POLLIN, 0}, {stderr_fd_, POLLIN, 0}};
  ::poll(fds, 2, static_cast<int>(absl::ToInt64Milliseconds(wait)));
  char buffer[65536];
  for (;;) {
    ssize_t n = ::read(stdout_fd_, buffer, sizeof(buffer));
    if (n <= 0) break;
    output_.append(buffer, static_cast<size_t>(n));
  }
  for (;;) {
    ssize_t n = ::read(stderr_fd_, buffer, sizeof(buffer));
    if (n <= 0) break;
    stderr_.append(buffer, static_cast<size_t>(n));
  }
  if (!exit_status_.has_value()) {
    int status;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
  }
}

bool GuestProcess::WaitFor(const std::string& text, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (true) {
    size_t at = output_.find(text, search_from_);
    if (at != std::string::npos) {
      search_from_ = at + text.size();
      return true;
    }
    if (exit_status_.has_value() || absl::Now() >= deadline) {
      Pump(absl::ZeroDuration());
      at = output_.find(text, search_from_);
      if (at != std::string::npos) {
        search_from_ = at + text.size();
        return true;
      }
      return false;
    }
    Pump(absl::Milliseconds(100));
  }
}

void GuestProcess::Send(const std::string& text) {
  ssize_t unused = ::write(stdin_fd_, text.data(), text.size());
  (void)unused;
}

std::optional<std::string> GuestProcess::RunCommand(const std::string& command,
                                                    absl::Duration timeout) {
  ++command_counter_;
  // The markers are built by the guest shell from two halves, so the echo
  // of the typed command line never matches them.
  std::string begin = absl::StrCat("CMD-BEGIN-", command_counter_);
  std::string end = absl::StrCat("CMD-END-", command_counter_);
  Send(absl::StrCat("echo CMD-BEGIN\"-\"", command_counter_, "; ", command, "; echo CMD-END\"-\"",
                    command_counter_, "\n"));
  if (!WaitFor(begin, timeout)) return std::nullopt;
  size_t start = search_from_;
  if (!WaitFor(end, timeout)) return std::nullopt;
  std::string text = output_.substr(start, search_from_ - end.size() - start);
  return std::string(absl::StripAsciiWhitespace(text));
}

bool GuestProcess::WaitForStderr(const std::string& text, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (stderr_text().find(text) != std::string::npos) return true;
    if (WaitExit(absl::Milliseconds(100)).has_value()) return false;
  }
  return false;
}

std::optional<int> GuestProcess::WaitExit(absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (!exit_status_.has_value() && absl::Now() < deadline) Pump(absl::Milliseconds(100));
  Pump(absl::ZeroDuration());
  return exit_status_;
}

void GuestProcess::Kill(int signal) {
  if (!exit_status_.has_value()) ::kill(pid_, signal);
}

std::string GuestProcess::stderr_text() {
  Pump(absl::ZeroDuration());
  return stderr_;
}

uint64_t GuestProcess::RssBytes() const {
  std::ifstream status(absl::StrCat("/proc/", pid_, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtoull(line.c_str() + 6, nullptr, 10) * 1024;
  }
  return 0;
}

}  // namespace tests
