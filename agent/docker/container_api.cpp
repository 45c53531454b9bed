#include "docker/container_api.hpp"

#include "core/json_text.hpp"
#include "core/logging.hpp"
#include "docker/image_ref.hpp"
#include "docker/json_lines.hpp"

#include <openssl/evp.h>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <boost/url/url.hpp>

#include <algorithm>
#include <initializer_list>
#include <utility>

namespace kn::docker {
namespace {

// Inspect documents and container lists of a busy host are a few MiB at most; the cap only
// guards against a runaway peer.
constexpr std::size_t kMaxBody = 16U << 20U;
// Most engine calls answer in milliseconds; creating and removing copy or delete a root
// filesystem (the vfs driver copies whole layers), so they get a generous bound.
constexpr std::chrono::seconds kCallTimeout{120};
// stop and restart wait `grace` for the process, then kill it; this is on top of that.
constexpr std::chrono::seconds kKillMargin{30};

using Query = std::initializer_list<std::pair<std::string_view, std::string_view>>;

// An Engine API URL: `path` below /vVERSION, each query value percent-encoded whole (JSON
// filters hold '"', '+' and '&'; Go's query parser reads a bare '+' as a space).
std::string api_url(const EngineClient& engine, std::string_view path, Query query = {}) {
  boost::urls::url url(kApiUrlBase);
  url.set_path("/v" + engine.api_version() + std::string(path));
  for (const auto& [key, value] : query) {
    url.encoded_params().append({key, boost::urls::encode(value, boost::urls::unreserved_chars)});
  }
  return std::string(url.buffer());
}

// "/containers/ID/SUFFIX" with ID as one percent-encoded path segment.
std::string container_path(std::string_view id, std::string_view suffix = {}) {
  boost::urls::url path;
  path.set_path("/containers");
  path.segments().push_back(id);
  if (!suffix.empty()) path.segments().push_back(suffix);
  return std::string(path.encoded_path());
}

// Docker's error bodies are {"message": "..."}; anything else is quoted as sent (trimmed).
std::string engine_message(const http::Response& response) {
  auto doc = nlohmann::json::parse(response.body, nullptr, false);
  if (doc.is_object() && doc.contains("message") && doc["message"].is_string())
    return doc["message"].get<std::string>();
  std::string text = response.body.substr(0, 300);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
  return text.empty() ? "no message" : text;
}

Failure engine_failure(std::string_view what, const http::Response& response) {
  const Errc code = response.status == 404   ? Errc::docker_not_found
                    : response.status == 409 ? Errc::docker_conflict
                                             : Errc::docker_failed;
  return fail(code, "failed to " + std::string(what) + ": " + engine_message(response) + " (HTTP " +
                        std::to_string(response.status) + ")");
}

Result<nlohmann::json> parse_json(std::string_view what, const http::Response& response) {
  auto doc = nlohmann::json::parse(response.body, nullptr, false);
  if (doc.is_discarded())
    return fail(Errc::docker_failed, "failed to " + std::string(what) + ": the answer is not JSON");
  return doc;
}

std::string base64url(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(data.data()), static_cast<int>(data.size()));
  out.resize(static_cast<std::size_t>(n));
  std::ranges::replace(out, '+', '-');
  std::ranges::replace(out, '/', '_');
  return out;
}

std::string quoted(std::string_view text) { return "'" + std::string(text) + "'"; }

}  // namespace

std::string encode_registry_auth(const RegistryAuth& auth, std::string_view image) {
  const std::string server = auth.server_address.empty() ? registry_host_of(image) : auth.server_address;
  const nlohmann::json doc = {
      {"username", auth.username}, {"password", auth.password}, {"email", auth.email}, {"serveraddress", server}};
  return base64url(json_text(doc));
}

Result<ContainerApi> ContainerApi::connect(std::string docker_host) {
  auto transport = std::make_unique<http::CurlTransport>();
  auto engine = EngineClient::connect(*transport, std::move(docker_host));
  if (!engine) return engine.error();
  return ContainerApi(std::move(transport), std::move(*engine));
}

Result<http::Response> ContainerApi::send(std::string_view what, std::string method, std::string url,
                                          std::chrono::milliseconds timeout, std::string body) {
  http::Request request;
  request.method = std::move(method);
  request.url = std::move(url);
  request.unix_socket = engine_.socket_path();
  request.timeout = timeout;
  request.max_response_bytes = kMaxBody;
  if (!body.empty()) {
    request.body = std::move(body);
    request.headers.emplace_back("Content-Type", "application/json");
  }
  auto response = transport_->perform(request);
  if (!response) return unreachable(what, response.error());
  return response;
}

Failure ContainerApi::unreachable(std::string_view what, const Failure& cause) const {
  return fail(Errc::docker_unavailable, "failed to " + std::string(what) + ": the Docker engine at unix://" +
                                            engine_.socket_path() + " did not answer: " + cause.message +
                                            " (is dockerd running?)");
}

Result<std::vector<ContainerSummary>> ContainerApi::list(const std::vector<std::string>& label_filters) {
  const std::string what = "list the Docker containers";
  std::string url;
  if (label_filters.empty()) {
    url = api_url(engine_, "/containers/json", {{"all", "1"}});
  } else {
    const std::string filters = nlohmann::json{{"label", label_filters}}.dump();
    url = api_url(engine_, "/containers/json", {{"all", "1"}, {"filters", filters}});
  }
  auto response = send(what, "GET", url, kCallTimeout);
  if (!response) return response.error();
  if (response->status != 200) return engine_failure(what, *response);
  auto doc = parse_json(what, *response);
  if (!doc) return doc.error();
  if (!doc->is_array()) return fail(Errc::docker_failed, "failed to " + what + ": the answer is not a JSON array");
  std::vector<ContainerSummary> out;
  for (const auto& item : *doc) {
    if (!item.is_object()) continue;
    ContainerSummary summary;
    summary.id = item.value("Id", "");
    if (auto names = item.find("Names");
        names != item.end() && names->is_array() && !names->empty() && (*names)[0].is_string()) {
      summary.name = (*names)[0].get<std::string>();
      if (summary.name.starts_with('/')) summary.name.erase(0, 1);
    }
    summary.image = item.value("Image", "");
    summary.image_id = item.value("ImageID", "");
    summary.state = item.value("State", "");
    if (auto labels = item.find("Labels"); labels != item.end() && labels->is_object()) {
      for (const auto& [key, value] : labels->items()) {
        if (value.is_string()) summary.labels[key] = value.get<std::string>();
      }
    }
    out.push_back(std::move(summary));
  }
  return out;
}

Result<nlohmann::json> ContainerApi::inspect(std::string_view id) {
  const std::string what = "inspect container " + quoted(id);
  auto response = send(what, "GET", api_url(engine_, container_path(id, "json")), kCallTimeout);
  if (!response) return response.error();
  if (response->status != 200) return engine_failure(what, *response);
  return parse_json(what, *response);
}

Result<std::string> ContainerApi::create(std::string_view name, const nlohmann::json& body) {
  const std::string what = "create container " + quoted(name);
  const auto url =
      name.empty() ? api_url(engine_, "/containers/create") : api_url(engine_, "/containers/create", {{"name", name}});
  auto response = send(what, "POST", url, kCallTimeout, json_text(body));
  if (!response) return response.error();
  if (response->status != 201) return engine_failure(what, *response);
  auto doc = parse_json(what, *response);
  if (!doc) return doc.error();
  if (!doc->is_object() || !(*doc)["Id"].is_string()) {
    return fail(Errc::docker_failed, "failed to " + what + ": the answer has no \"Id\"");
  }
  for (const auto& warning : doc->value("Warnings", nlohmann::json::array())) {
    if (warning.is_string()) log::get("docker")->warn("creating container {}: {}", name, warning.get<std::string>());
  }
  return (*doc)["Id"].get<std::string>();
}

Status ContainerApi::start(std::string_view id) {
  const std::string what = "start container " + quoted(id);
  auto response = send(what, "POST", api_url(engine_, container_path(id, "start")), kCallTimeout);
  if (!response) return response.error();
  if (response->status != 204 && response->status != 304) return engine_failure(what, *response);
  return {};
}

Status ContainerApi::stop(std::string_view id, std::chrono::seconds grace) {
  const std::string what = "stop container " + quoted(id);
  const auto url = api_url(engine_, container_path(id, "stop"), {{"t", std::to_string(grace.count())}});
  auto response = send(what, "POST", url, grace + kKillMargin);
  if (!response) return response.error();
  if (response->status != 204 && response->status != 304) return engine_failure(what, *response);
  return {};
}

Status ContainerApi::restart(std::string_view id, std::chrono::seconds grace) {
  const std::string what = "restart container " + quoted(id);
  const auto url = api_url(engine_, container_path(id, "restart"), {{"t", std::to_string(grace.count())}});
  auto response = send(what, "POST", url, grace + kKillMargin);
  if (!response) return response.error();
  if (response->status != 204) return engine_failure(what, *response);
  return {};
}

Status ContainerApi::remove(std::string_view id, bool volumes, bool force) {
  const std::string what = "remove container " + quoted(id);
  const auto url = api_url(engine_, container_path(id), {{"v", volumes ? "1" : "0"}, {"force", force ? "1" : "0"}});
  auto response = send(what, "DELETE", url, kCallTimeout);
  if (!response) return response.error();
  if (response->status != 204 && response->status != 404) return engine_failure(what, *response);
  return {};
}

Result<long> ContainerApi::wait(std::string_view id, std::chrono::seconds limit) {
  const std::string what = "wait for container " + quoted(id);
  http::Request request;
  request.method = "POST";
  request.url = api_url(engine_, container_path(id, "wait"));
  request.unix_socket = engine_.socket_path();
  request.timeout = limit;
  auto response = transport_->perform(request);
  if (!response && response.error().is(Errc::http_timeout)) {
    return fail(Errc::http_timeout,
                "failed to " + what + ": still running after " + std::to_string(limit.count()) + " s");
  }
  if (!response) return unreachable(what, response.error());
  if (response->status != 200) return engine_failure(what, *response);
  auto doc = parse_json(what, *response);
  if (!doc) return doc.error();
  if (!doc->is_object() || !(*doc)["StatusCode"].is_number_integer()) {
    return fail(Errc::docker_failed, "failed to " + what + ": the answer has no \"StatusCode\"");
  }
  return (*doc)["StatusCode"].get<long>();
}

Status ContainerApi::pull(std::string_view image, const std::optional<RegistryAuth>& auth, std::chrono::seconds limit,
                          const std::function<bool()>& cancelled) {
  const std::string what = "pull image " + quoted(image);
  auto ref = parse_image_ref(image);
  if (!ref) return ref.error();
  http::Request request;
  request.method = "POST";
  request.url = api_url(engine_, "/images/create", {{"fromImage", ref->name}, {"tag", ref->tag_or_digest()}});
  request.unix_socket = engine_.socket_path();
  request.timeout = limit;
  // The header carries the password: it is never logged, and no message quotes it.
  if (auth) request.headers.emplace_back("X-Registry-Auth", encode_registry_auth(*auth, ref->name));

  // The engine answers 200 as soon as it starts, then reports progress and failures as JSON
  // lines: {"status": ...} or {"error": ..., "errorDetail": {"message": ...}}.
  // https://docs.docker.com/engine/api/v1.41/#tag/Image/operation/ImageCreate
  JsonLines lines;
  std::optional<std::string> stream_error;
  auto response = transport_->perform_stream(request, [&](std::string_view chunk) {
    lines.feed(chunk, [&](std::string_view line) {
      auto doc = nlohmann::json::parse(line, nullptr, false);
      if (!doc.is_object() || stream_error) return;
      if (auto detail = doc.find("errorDetail"); detail != doc.end() && detail->is_object()) {
        stream_error = detail->value("message", "");
      }
      if (auto error = doc.find("error");
          error != doc.end() && error->is_string() && (!stream_error || stream_error->empty())) {
        stream_error = error->get<std::string>();
      }
    });
    return !(cancelled && cancelled());  // without an interrupt the stream ticks every 100 ms
  });
  if (cancelled && cancelled()) return fail(Errc::stopped, "failed to " + what + ": the agent is stopping");
  if (!response && response.error().is(Errc::http_timeout)) {
    return fail(Errc::http_timeout, "failed to " + what + ": not done after " + std::to_string(limit.count()) + " s");
  }
  if (!response) return unreachable(what, response.error());
  if (response->status != 200 || stream_error) {
    auto failure = response->status != 200 ? engine_failure(what, *response)
                                           : fail(Errc::docker_failed, "failed to " + what + ": " + *stream_error);
    // dockerd 20.10 reports rejected credentials as HTTP 500 "unauthorized: ...".
    if (failure.message.find("unauthorized") != std::string::npos || response->status == 401) {
      failure.message += auth ? "; check the registry user and password given for " + registry_host_of(ref->name)
                              : "; the registry " + registry_host_of(ref->name) + " needs credentials";
    }
    return failure;
  }
  return {};
}

Result<nlohmann::json> ContainerApi::inspect_image(std::string_view image) {
  const std::string what = "inspect image " + quoted(image);
  // The engine routes /images/{name}/json with slashes in the name, so it is not one segment.
  auto response = send(what, "GET", api_url(engine_, "/images/" + std::string(image) + "/json"), kCallTimeout);
  if (!response) return response.error();
  if (response->status != 200) return engine_failure(what, *response);
  return parse_json(what, *response);
}

// ---- exec (lifecycle hooks, exec sessions, /containers/exec) ----

namespace {

// "/exec/ID/SUFFIX" with ID as one percent-encoded path segment.
std::string exec_path(std::string_view exec_id, std::string_view suffix) {
  boost::urls::url path;
  path.set_path("/exec");
  path.segments().push_back(exec_id);
  path.segments().push_back(suffix);
  return std::string(path.encoded_path());
}

// A request whose answer is Docker's multiplexed stream, handed to `on_output` frame by frame.
Result<http::Response> perform_frames(http::Transport& transport, const http::Request& request,
                                      const OutputSink& on_output) {
  StreamDemux frames;
  return transport.perform_stream(request, [&](std::string_view chunk) {
    frames.feed(chunk, [&](int stream, std::string_view piece, bool) {
      if (stream == kStdout || stream == kStderr) on_output(static_cast<OutputStream>(stream), piece);
    });
    return true;
  });
}

}  // namespace

// The logs of a container created without a TTY come as Docker's multiplexed stream.
Status ContainerApi::logs(std::string_view id, const OutputSink& on_output, std::chrono::seconds limit) {
  const std::string what = "read the output of container " + quoted(id);
  http::Request request;
  request.url = api_url(engine_, container_path(id, "logs"), {{"stdout", "1"}, {"stderr", "1"}});
  request.unix_socket = engine_.socket_path();
  request.timeout = limit;
  auto response = perform_frames(*transport_, request, on_output);
  if (!response) return unreachable(what, response.error());
  if (response->status != 200) return engine_failure(what, *response);
  return {};
}

Result<std::string> ContainerApi::create_exec(std::string_view container_id, const nlohmann::json& config) {
  const std::string what = "create an exec in container " + quoted(container_id);
  auto response = send(what, "POST", api_url(engine_, container_path(container_id, "exec")), kCallTimeout,
                       json_text(config));
  if (!response) return response.error();
  if (response->status != 201) return engine_failure(what, *response);
  auto doc = parse_json(what, *response);
  if (!doc) return doc.error();
  if (!doc->is_object() || !(*doc)["Id"].is_string()) {
    return fail(Errc::docker_failed, "failed to " + what + ": the answer has no \"Id\"");
  }
  return (*doc)["Id"].get<std::string>();
}

// Without an `Upgrade` header the engine answers 200 and writes the output on the hijacked
// connection, closing it when the command ends
// (https://docs.docker.com/engine/api/v1.41/#tag/Exec/operation/ExecStart).
Status ContainerApi::exec_start(std::string_view exec_id, const OutputSink& on_output, std::chrono::seconds limit) {
  const std::string what = "run exec " + quoted(exec_id);
  http::Request request;
  request.method = "POST";
  request.url = api_url(engine_, exec_path(exec_id, "start"));
  request.unix_socket = engine_.socket_path();
  request.timeout = limit;
  request.body = nlohmann::json{{"Detach", false}, {"Tty", false}}.dump();
  request.headers.emplace_back("Content-Type", "application/json");
  auto response = perform_frames(*transport_, request, on_output);
  if (!response && response.error().is(Errc::http_timeout)) {
    return fail(Errc::http_timeout,
                "failed to " + what + ": still running after " + std::to_string(limit.count()) + " s");
  }
  if (!response) return unreachable(what, response.error());
  if (response->status != 200) return engine_failure(what, *response);
  return {};
}

Status ContainerApi::resize_exec(std::string_view exec_id, int height, int width) {
  const std::string what = "resize the TTY of exec " + quoted(exec_id);
  const auto url =
      api_url(engine_, exec_path(exec_id, "resize"), {{"h", std::to_string(height)}, {"w", std::to_string(width)}});
  auto response = send(what, "POST", url, kCallTimeout);
  if (!response) return response.error();
  if (response->status != 200 && response->status != 201) return engine_failure(what, *response);
  return {};
}

Result<nlohmann::json> ContainerApi::inspect_exec(std::string_view exec_id) {
  const std::string what = "inspect exec " + quoted(exec_id);
  auto response = send(what, "GET", api_url(engine_, exec_path(exec_id, "json")), kCallTimeout);
  if (!response) return response.error();
  if (response->status != 200) return engine_failure(what, *response);
  return parse_json(what, *response);
}

Result<long> ContainerApi::exec_exit_code(std::string_view exec_id) {
  auto doc = inspect_exec(exec_id);
  if (!doc) return doc.error();
  if (!doc->is_object() || !(*doc)["ExitCode"].is_number_integer()) {
    return fail(Errc::docker_failed,
                "failed to inspect exec " + quoted(exec_id) + ": the answer has no \"ExitCode\" (still running?)");
  }
  return (*doc)["ExitCode"].get<long>();
}

// ---- health checks and stats ----

Result<nlohmann::json> ContainerApi::stats(std::string_view id) {
  const std::string what = "read the stats of container " + quoted(id);
  // The engine takes two samples about a second apart for precpu_stats.
  auto response =
      send(what, "GET", api_url(engine_, container_path(id, "stats"), {{"stream", "false"}}), kCallTimeout);
  if (!response) return response.error();
  if (response->status != 200) return engine_failure(what, *response);
  return parse_json(what, *response);
}

// ---- volumes ----

namespace {
// "/volumes/NAME" with NAME as one percent-encoded path segment.
std::string volume_path(std::string_view name) {
  boost::urls::url path;
  path.set_path("/volumes");
  path.segments().push_back(name);
  return std::string(path.encoded_path());
}
}  // namespace

Result<nlohmann::json> ContainerApi::inspect_volume(std::string_view name) {
  const std::string what = "inspect volume " + quoted(name);
  auto response = send(what, "GET", api_url(engine_, volume_path(name)), kCallTimeout);
  if (!response) return response.error();
  if (response->status != 200) return engine_failure(what, *response);
  return parse_json(what, *response);
}

Result<nlohmann::json> ContainerApi::create_volume(const nlohmann::json& body) {
  const std::string name = body.value("Name", "");
  const std::string what = "create volume " + quoted(std::string_view(name));
  auto response = send(what, "POST", api_url(engine_, "/volumes/create"), kCallTimeout, json_text(body));
  if (!response) return response.error();
  if (response->status != 201) return engine_failure(what, *response);
  return parse_json(what, *response);
}

Result<std::vector<nlohmann::json>> ContainerApi::list_volumes(const std::vector<std::string>& label_filters) {
  const std::string what = "list the Docker volumes";
  const auto url = label_filters.empty()
                       ? api_url(engine_, "/volumes")
                       : api_url(engine_, "/volumes", {{"filters", nlohmann::json{{"label", label_filters}}.dump()}});
  auto response = send(what, "GET", url, kCallTimeout);
  if (!response) return response.error();
  if (response->status != 200) return engine_failure(what, *response);
  auto doc = parse_json(what, *response);
  if (!doc) return doc.error();
  // "Volumes" is null when there is none.
  std::vector<nlohmann::json> out;
  if (doc->is_object() && (*doc)["Volumes"].is_array()) {
    for (const auto& v : (*doc)["Volumes"]) {
      if (v.is_object()) out.push_back(v);
    }
  }
  return out;
}

Status ContainerApi::remove_volume(std::string_view name) {
  const std::string what = "remove volume " + quoted(name);
  auto response = send(what, "DELETE", api_url(engine_, volume_path(name)), kCallTimeout);
  if (!response) return response.error();
  if (response->status != 204 && response->status != 404) return engine_failure(what, *response);
  return {};
}

}  // namespace kn::docker
