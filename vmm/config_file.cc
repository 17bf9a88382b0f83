// SPDX-License-Identifier: MIT
#include "vmm/config_file.h"

#include <cstring>
#include <fstream>
#include <sstream>
#include <variant>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace vmm {
namespace {

using nlohmann::json;

// A RunFlags member a config key sets.
using Member = std::variant<std::string RunFlags::*, std::optional<std::string> RunFlags::*, bool RunFlags::*,
                            int64_t RunFlags::*, std::vector<std::string> RunFlags::*>;

struct Field {
  const char* name;  // the flag's name with '_'
  Member member;
};

// Every `vmm run` flag that shapes the VM; the order is --print-config's.
// (--verbose and --config itself are about this run of the program, not the VM.)
const Field kFields[] = {
    {"kernel", &RunFlags::kernel},
    {"initrd", &RunFlags::initrd},
    {"cmdline", &RunFlags::cmdline},
    {"memory", &RunFlags::memory},
    {"memory_backend", &RunFlags::memory_backend},
    {"cpus", &RunFlags::cpus},
    {"console", &RunFlags::console},
    {"timeout", &RunFlags::timeout},
    {"api_socket", &RunFlags::api_socket},
    {"api_socket_mode", &RunFlags::api_socket_mode},
    {"balloon", &RunFlags::balloon},
    {"balloon_size", &RunFlags::balloon_size},
    {"balloon_deflate_on_oom", &RunFlags::balloon_deflate_on_oom},
    {"balloon_reporting", &RunFlags::balloon_reporting},
    {"balloon_chunks", &RunFlags::balloon_chunks},
    {"disk", &RunFlags::disks},
    {"net", &RunFlags::nets},
    {"mmio_cmdline", &RunFlags::mmio_cmdline},
    {"virtio_notify", &RunFlags::virtio_notify},
    {"migration_write_tracking", &RunFlags::migration_write_tracking},
    {"incoming", &RunFlags::incoming},
    {"incoming_timeout", &RunFlags::incoming_timeout},
    {"tls_dir", &RunFlags::tls_dir},
    {"tls_peer_name", &RunFlags::tls_peer_name},
    {"insecure", &RunFlags::insecure},
    {"restore", &RunFlags::restore},
    {"profile_guest", &RunFlags::profile_guest},
    {"seccomp", &RunFlags::seccomp},
};

const Field* FindField(const std::string& name) {
  for (const Field& field : kFields) {
    if (name == field.name) return &field;
  }
  return nullptr;
}

std::string Underscored(absl::string_view name) { return absl::StrReplaceAll(name, {{"-", "_"}}); }

// Sets one field from its JSON value; the error names the key as written.
absl::Status SetField(const Field& field, const std::string& key, const json& value, absl::string_view origin,
                      RunFlags& flags) {
  auto wrong_type = [&](const char* expected) {
    return absl::InvalidArgumentError(
        absl::StrCat(origin, ": \"", key, "\" must be ", expected, ", not ", value.dump()));
  };
  struct Visitor {
    const json& value;
    RunFlags& flags;
    decltype(wrong_type)& wrong;
    absl::Status operator()(std::string RunFlags::*m) {
      if (!value.is_string()) return wrong("a string");
      flags.*m = value.get<std::string>();
      return absl::OkStatus();
    }
    absl::Status operator()(std::optional<std::string> RunFlags::*m) {
      if (!value.is_string()) return wrong("a string");
      flags.*m = value.get<std::string>();
      return absl::OkStatus();
    }
    absl::Status operator()(bool RunFlags::*m) {
      if (!value.is_boolean()) return wrong("true or false");
      flags.*m = value.get<bool>();
      return absl::OkStatus();
    }
    // A repeated flag (--disk): an array of its values, in order.
    absl::Status operator()(std::vector<std::string> RunFlags::*m) {
      if (!value.is_array()) return wrong("an array of strings");
      std::vector<std::string> values;
      for (const json& item : value) {
        if (!item.is_string()) return wrong("an array of strings");
        values.push_back(item.get<std::string>());
      }
      flags.*m = std::move(values);
      return absl::OkStatus();
    }
    absl::Status operator()(int64_t RunFlags::*m) {
      if (!value.is_number_integer()) return wrong("an integer");
      flags.*m = value.get<int64_t>();
      return absl::OkStatus();
    }
  };
  return std::visit(Visitor{value, flags, wrong_type}, field.member);
}

}  // namespace

std::set<std::string> FlagsGivenOnCommandLine(int argc, char** argv) {
  std::set<std::string> given;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--") break;
    if (arg.size() < 3 || arg.substr(0, 2) != "--") continue;
    absl::string_view name_part = arg.substr(2);
    name_part = name_part.substr(0, name_part.find('='));
    std::string name = Underscored(name_part);
    given.insert(name);
    if (name.size() > 2 && name.compare(0, 2, "no") == 0) given.insert(name.substr(2));
  }
  return given;
}

absl::Status ApplyConfigJson(absl::string_view text, absl::string_view origin, const std::set<std::string>& given,
                             RunFlags& flags) {
  json config = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (config.is_discarded()) return absl::InvalidArgumentError(absl::StrCat(origin, ": not valid JSON"));
  if (!config.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(origin, ": not a JSON object ({\"memory\": \"1G\", ...})"));
  }
  for (const auto& [key, value] : config.items()) {
    const Field* field = FindField(Underscored(key));
    if (field == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(origin, ": unknown field \"", key, "\" (the fields are the vmm run flags: man vmm)"));
    }
    if (given.count(field->name) != 0) continue;  // the command line wins
    if (absl::Status status = SetField(*field, key, value, origin, flags); !status.ok()) return status;
  }
  return absl::OkStatus();
}

absl::Status ApplyConfigFile(const std::string& path, const std::set<std::string>& given, RunFlags& flags) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read config file ", path, ": ", std::strerror(errno)));
  std::stringstream text;
  text << in.rdbuf();
  return ApplyConfigJson(text.str(), path, given, flags);
}

std::string ConfigJson(const RunFlags& flags) {
  // ordered_json keeps kFields' order: the flags as the man page lists them.
  nlohmann::ordered_json config = nlohmann::ordered_json::object();
  for (const Field& field : kFields) {
    std::visit(
        [&](auto member) {
          using Value = std::decay_t<decltype(flags.*member)>;
          if constexpr (std::is_same_v<Value, std::optional<std::string>>) {
            if ((flags.*member).has_value()) config[field.name] = *(flags.*member);
          } else {
            config[field.name] = flags.*member;
          }
        },
        field.member);
  }
  return config.dump(2) + "\n";
}

}  // namespace vmm
