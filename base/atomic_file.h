// SPDX-License-Identifier: MIT
// AtomicFile: writes a file that appears at its path whole or not at all.
// The data goes to a new temporary file in the target's directory (created
// with O_EXCL and O_NOFOLLOW, mode 0600), and Commit() makes it durable and
// renames it over the target: fsync of the file, rename, fsync of the
// directory. Until Commit() succeeds, whatever was at the path before (a
// previous snapshot) is untouched; a destroyed, uncommitted AtomicFile
// removes its temporary file.
//
// Trust boundary: the path comes from the API's caller. Directories on the
// way are followed as usual, but a symbolic link as the final component is
// refused (rename would replace the link, not its target, which is never
// what the caller meant), and so is anything there that is not a regular
// file. The directory is opened once and every later step is relative to
// that descriptor, so swapping a directory on the path mid-write cannot
// redirect the rename.
#ifndef BASE_ATOMIC_FILE_H_
#define BASE_ATOMIC_FILE_H_

#include <string>

#include "absl/status/statusor.h"
#include "base/unique_fd.h"

namespace base {

class AtomicFile {
 public:
  static absl::StatusOr<AtomicFile> Create(const std::string& path);

  AtomicFile(AtomicFile&& other) noexcept;
  AtomicFile& operator=(AtomicFile&&) = delete;
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile();

  // The temporary file, open for writing.
  int fd() const { return fd_.get(); }
  const std::string& path() const { return path_; }
  // The temporary file's name in the target's directory (for tests).
  const std::string& temp_name() const { return temp_name_; }

  // fsync, rename over the target, fsync the directory. On failure the
  // temporary file is removed and the target is as it was (unless the
  // failure is the directory's fsync, after the rename: then the new file
  // is in place but may not survive a crash, which the error says).
  absl::Status Commit();

 private:
  AtomicFile(std::string path, UniqueFd dir, std::string name, std::string temp_name, UniqueFd fd)
      : path_(std::move(path)), dir_(std::move(dir)), name_(std::move(name)),
        temp_name_(std::move(temp_name)), fd_(std::move(fd)) {}
  void RemoveTemp();

  std::string path_;
  UniqueFd dir_;
  std::string name_;       // final component of path_
  std::string temp_name_;  // empty once renamed or removed
  UniqueFd fd_;
};

}  // namespace base

#endif  // BASE_ATOMIC_FILE_H_
