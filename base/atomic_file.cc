// SPDX-License-Identifier: MIT
#include "base/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <utility>

#include "absl/strings/str_cat.h"

namespace base {
namespace {

// Splits "a/b/c" into ("a/b", "c"), "c" into (".", "c"), "/c" into ("/", "c").
std::pair<std::string, std::string> SplitPath(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return {".", path};
  return {slash == 0 ? "/" : path.substr(0, slash), path.substr(slash + 1)};
}

// Distinct across the threads of this process; O_EXCL settles any clash
// with another process (or a leftover of this one), and the name is then
// simply tried again with the next number.
std::atomic<uint64_t> temp_counter{0};

}  // namespace

absl::StatusOr<AtomicFile> AtomicFile::Create(const std::string& path) {
  auto [dir_path, name] = SplitPath(path);
  if (name.empty() || name == "." || name == "..") {
    return absl::InvalidArgumentError(absl::StrCat("'", path, "' does not name a file"));
  }
  UniqueFd dir(::open(dir_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) return absl::ErrnoToStatus(errno, absl::StrCat("cannot open the directory of ", path));
  struct stat st;
  if (::fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    if (S_ISLNK(st.st_mode)) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", path, "' is a symbolic link; refusing to replace it (name the file it points to)"));
    }
    if (!S_ISREG(st.st_mode)) {
      return absl::InvalidArgumentError(absl::StrCat("'", path, "' exists and is not a regular file"));
    }
  } else if (errno != ENOENT) {
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot check ", path));
  }
  for (int attempt = 0; attempt < 100; ++attempt) {
    std::string temp_name = absl::StrCat(".", name, ".tmp-", ::getpid(), "-", temp_counter.fetch_add(1));
    UniqueFd fd(::openat(dir.get(), temp_name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (fd.valid()) return AtomicFile(path, std::move(dir), std::move(name), std::move(temp_name), std::move(fd));
    if (errno != EEXIST) {
      return absl::ErrnoToStatus(errno, absl::StrCat("cannot create a temporary file beside ", path));
    }
  }
  return absl::AlreadyExistsError(absl::StrCat("no free temporary file name beside ", path));
}

AtomicFile::AtomicFile(AtomicFile&& other) noexcept
    : path_(std::move(other.path_)), dir_(std::move(other.dir_)), name_(std::move(other.name_)),
      temp_name_(std::exchange(other.temp_name_, {})), fd_(std::move(other.fd_)) {}

AtomicFile::~AtomicFile() { RemoveTemp(); }

void AtomicFile::RemoveTemp() {
  if (temp_name_.empty()) return;
  ::unlinkat(dir_.get(), temp_name_.c_str(), 0);
  temp_name_.clear();
}

absl::Status AtomicFile::Commit() {
  if (temp_name_.empty()) return absl::FailedPreconditionError(absl::StrCat(path_, ": already committed"));
  if (::fsync(fd_.get()) != 0) {
    absl::Status st = absl::ErrnoToStatus(errno, absl::StrCat("cannot flush ", path_, " to disk"));
    RemoveTemp();
    return st;
  }
  // rename replaces whatever is at the name, a symbolic link included, and
  // never follows one: a link planted after Create's check is replaced, its
  // target untouched.
  if (::renameat(dir_.get(), temp_name_.c_str(), dir_.get(), name_.c_str()) != 0) {
    absl::Status st = absl::ErrnoToStatus(errno, absl::StrCat("cannot rename the new file over ", path_));
    RemoveTemp();
    return st;
  }
  temp_name_.clear();
  if (::fsync(dir_.get()) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat(path_, " is written, but its directory could not be flushed"));
  }
  return absl::OkStatus();
}

}  // namespace base
