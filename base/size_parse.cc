// SPDX-License-Identifier: MIT
#include "base/size_parse.h"

#include <cctype>
#include <limits>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace base {

absl::StatusOr<uint64_t> ParseSize(absl::string_view text) {
  absl::string_view s = absl::StripAsciiWhitespace(text);
  size_t digits = 0;
  while (digits < s.size() && absl::ascii_isdigit(static_cast<unsigned char>(s[digits]))) {
    ++digits;
  }
  auto error = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid size '", text, "': expected a number with an optional K, M, G or T suffix"));
  };
  if (digits == 0) return error();
  uint64_t number = 0;
  if (!absl::SimpleAtoi(s.substr(0, digits), &number)) return error();
  std::string suffix = absl::AsciiStrToUpper(s.substr(digits));
  if (suffix.size() >= 2 && suffix.substr(suffix.size() - 2) == "IB") {
    suffix.resize(suffix.size() - 2);
  } else if (suffix.size() >= 2 && suffix.back() == 'B') {
    suffix.pop_back();
  }
  int shift = 0;
  if (suffix.empty() || suffix == "B") shift = 0;
  else if (suffix == "K") shift = 10;
  else if (suffix == "M") shift = 20;
  else if (suffix == "G") shift = 30;
  else if (suffix == "T") shift = 40;
  else return error();
  if (number > (std::numeric_limits<uint64_t>::max() >> shift)) {
    return absl::InvalidArgumentError(absl::StrCat("size '", text, "' is too large"));
  }
  return number << shift;
}

}  // namespace base
