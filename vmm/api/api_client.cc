#include "vmm/api/api_client.h"

#include <httplib.h>
#include <sys/socket.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "base/size_parse.h"

namespace vmm::api {
namespace {

int Fail(int status, const std::string& message) {
  std::fprintf(stderr, "vmm: error: %s\n", message.c_str());
  return status;
}

int Send(const std::string& socket_path, const std::string& method, const std::string& path,
         const std::string& body) {
  httplib::Client client(socket_path);
  client.set_address_family(AF_UNIX);
  client.set_connection_timeout(5);
  client.set_read_timeout(60);
  httplib::Result result = method == "GET" ? client.Get(path.c_str())
                                           : client.Put(path.c_str(), body, "application/json");
  if (!result) {
    return Fail(1, "cannot reach the VMM's API socket " + socket_path + ": " +
                       httplib::to_string(result.error()));
  }
  nlohmann::json parsed = nlohmann::json::parse(result->body, nullptr, false);
  if (result->status / 100 != 2) {
    std::string message = !parsed.is_discarded() && parsed.contains("error")
                              ? parsed["error"].get<std::string>()
                              : result->body;
    return Fail(1, "API " + std::to_string(result->status) + ": " + message);
  }
  std::printf("%s\n", parsed.is_discarded() ? result->body.c_str() : parsed.dump(2).c_str());
  return 0;
}

}  // namespace

int RunCtlCommand(const std::string& socket_path, const std::vector<std::string>& words) {
  if (socket_path.empty()) return Fail(2, "vmm ctl needs --api PATH (the VMM's --api-socket)");
  if (words.empty()) return Fail(2, "vmm ctl: expected a command: status, balloon [SIZE|stats]");
  const std::string& command = words[0];
  if (command == "status" && words.size() == 1) return Send(socket_path, "GET", "/api/v1/vm", "");
  if (command == "balloon") {
    if (words.size() == 1) return Send(socket_path, "GET", "/api/v1/balloon", "");
    if (words.size() == 2 && (words[1] == "stats" || words[1] == "statistics")) {
      return Send(socket_path, "GET", "/api/v1/balloon/statistics", "");
    }
    if (words.size() == 2) {
      absl::StatusOr<uint64_t> size = base::ParseSize(words[1]);
      if (!size.ok()) return Fail(2, "balloon size: " + std::string(size.status().message()));
      if (*size % (1ull << 20) != 0) return Fail(2, "balloon size must be a whole number of MiB");
      return Send(socket_path, "PUT", "/api/v1/balloon",
                  nlohmann::json{{"size_mib", *size >> 20}}.dump());
    }
  }
  return Fail(2, "vmm ctl: unknown command; expected: status, balloon [SIZE|stats]");
}

}  // namespace vmm::api
