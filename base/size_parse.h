// SPDX-License-Identifier: MIT
// Parses user-given sizes ("512M", "4G", "1048576", "64K") and durations.
#ifndef BASE_SIZE_PARSE_H_
#define BASE_SIZE_PARSE_H_

#include <cstdint>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"

namespace base {

// Bytes; suffixes K, M, G, T (powers of 1024, optional trailing "iB"/"B").
absl::StatusOr<uint64_t> ParseSize(absl::string_view text);

}  // namespace base

#endif  // BASE_SIZE_PARSE_H_
