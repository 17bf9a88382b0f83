// SPDX-License-Identifier: MIT
// The filters loaded for real, each in a death test's child process (a
// loaded filter cannot be taken off again).
#include "vmm/seccomp/thread_filter.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

namespace vmm::seccomp {
namespace {

// This thread's "Seccomp:" line of /proc/self/task/TID/status, read
// through a descriptor opened before the filter.
std::string SeccompLine(int status_fd) {
  char text[4096];
  ssize_t n = ::pread(status_fd, text, sizeof(text) - 1, 0);
  if (n <= 0) return "";
  text[n] = '\0';
  const char* line = std::strstr(text, "Seccomp:");
  return line == nullptr ? "" : std::string(line, std::strcspn(line, "\n"));
}

TEST(ThreadFilterDeathTest, VcpuThreadOpeningASocketEndsTheVmmNamingCallAndThread) {
  EXPECT_EXIT(
      {
        if (!PrepareSeccomp(SeccompMode::kOn).ok()) std::_Exit(10);
        std::thread vcpu([] {
          ConfineThisThread(ThreadKind::kVcpu);
          ::socket(AF_INET, SOCK_STREAM, 0);
          std::_Exit(11);  // not reached: the call above ends the process
        });
        vcpu.join();
        std::_Exit(12);
      },
      ::testing::ExitedWithCode(1),
      "^vmm: error: seccomp: the vCPU thread '[^']*' made the system call socket, which its list forbids; "
      "stopping the VMM \\(exit status 1\\)\n$");
}

// Refused rather than fatal: glibc opens files on its own on any thread
// (seccomp_lists.h, RefusedCallsFor), and copes with a refusal.
TEST(ThreadFilterDeathTest, VcpuThreadOpeningAFileIsRefusedWithEacces) {
  EXPECT_EXIT(
      {
        if (!PrepareSeccomp(SeccompMode::kOn).ok()) std::_Exit(10);
        std::thread vcpu([] {
          ConfineThisThread(ThreadKind::kVcpu);
          const int fd = ::open("/etc/passwd", O_RDONLY);
          std::fprintf(stderr, "open: %d %s\n", fd, fd < 0 ? std::strerror(errno) : "opened");
          std::_Exit(0);
        });
        vcpu.join();
        std::_Exit(12);
      },
      ::testing::ExitedWithCode(0), "^open: -1 Permission denied\n$");
}

TEST(ThreadFilterDeathTest, InheritedFilterIsReportedUnderTheParentsKind) {
  EXPECT_EXIT(
      {
        if (!PrepareSeccomp(SeccompMode::kOn).ok()) std::_Exit(10);
        std::thread api([] {
          ConfineThisThread(ThreadKind::kApiServer);
          std::thread worker([] {
            ::syscall(SYS_ptrace, 0, 0, 0, 0);
            std::_Exit(11);
          });
          worker.join();
        });
        api.join();
        std::_Exit(12);
      },
      ::testing::ExitedWithCode(1), "the API server thread 'vmm-api' made the system call ptrace");
}

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(ThreadFilterDeathTest, LogModeReportsOnceAndLetsTheCallProceed) {
  EXPECT_EXIT(
      {
        // The reports go to a file, read back once the thread is done.
        FILE* reports = std::tmpfile();
        const int real_stderr = ::dup(STDERR_FILENO);
        if (reports == nullptr || !PrepareSeccomp(SeccompMode::kLog).ok()) std::_Exit(10);
        ::dup2(::fileno(reports), STDERR_FILENO);
        int status_fd = -1;
        std::string seccomp_line;
        int sockets = 0;
        std::thread vcpu([&] {
          status_fd = ::open(("/proc/self/task/" + std::to_string(::gettid()) + "/status").c_str(), O_RDONLY);
          ConfineThisThread(ThreadKind::kVcpu);
          seccomp_line = SeccompLine(status_fd);
          for (int i = 0; i < 3; ++i) {
            int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (fd >= 0) ++sockets;
            if (fd >= 0) ::close(fd);  // close is not on the vCPU list either
          }
        });
        vcpu.join();
        ::dup2(real_stderr, STDERR_FILENO);
        std::string text(8192, '\0');
        text.resize(std::max<ssize_t>(0, ::pread(::fileno(reports), text.data(), text.size(), 0)));
        std::fprintf(stderr, "socket reports %zu, close reports %zu, sockets made %d, [%s]\n",
                     Count(text, "made the system call socket(0x1, 0x80001, 0x0, ...) outside its list; made anyway"),
                     Count(text, "made the system call close("), sockets, seccomp_line.c_str());
        std::fputs(text.c_str(), stderr);
        std::_Exit(0);
      },
      ::testing::ExitedWithCode(0),
      "^socket reports 1, close reports 1, sockets made 3, \\[Seccomp:\t2\\]\n"
      "vmm: seccomp \\(log\\): the vCPU thread ");
}

TEST(ThreadFilterTest, OffLoadsNothing) {
  ASSERT_TRUE(PrepareSeccomp(SeccompMode::kOff).ok());
  ConfineThisThread(ThreadKind::kVcpu);
  std::ifstream status("/proc/thread-self/status");
  std::string line;
  while (std::getline(status, line) && line.rfind("Seccomp:", 0) != 0) {
  }
  EXPECT_EQ(line, "Seccomp:\t0");
}

}  // namespace
}  // namespace vmm::seccomp
