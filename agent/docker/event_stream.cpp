#include "docker/event_stream.hpp"

#include "core/logging.hpp"
#include "docker/engine_client.hpp"
#include "docker/json_lines.hpp"
#include "http/curl_transport.hpp"

#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <boost/url/url.hpp>

namespace kn::docker {

Status follow_events(std::string_view docker_host, const nlohmann::json& filters,
                     const std::function<void(const nlohmann::json& event)>& on_event, http::StreamInterrupt& stop) {
  http::CurlTransport transport;
  auto engine = EngineClient::connect(transport, std::string(docker_host));
  if (!engine) return engine.error();
  const std::string where = "unix://" + engine->socket_path();

  boost::urls::url url(kApiUrlBase);
  url.set_path("/v" + engine->api_version() + "/events");
  if (!filters.is_null() && !filters.empty()) {
    url.encoded_params().append({"filters", boost::urls::encode(filters.dump(), boost::urls::unreserved_chars)});
  }
  http::Request request;
  request.url = std::string(url.buffer());
  request.unix_socket = engine->socket_path();
  request.timeout = std::chrono::milliseconds(0);  // the stream has no end of its own
  request.interrupt = &stop;

  // The engine sends one JSON object per line, as events happen; `stop` wakes the transfer.
  // https://docs.docker.com/engine/api/v1.41/#tag/System/operation/SystemEvents
  JsonLines lines;
  auto response = transport.perform_stream(request, [&](std::string_view chunk) {
    lines.feed(chunk, [&](std::string_view line) {
      if (stop.interrupted()) return;
      auto event = nlohmann::json::parse(line, nullptr, false);
      if (!event.is_object()) {
        log::get("docker")->warn("skipping a malformed Docker event from {} ({} bytes)", where, line.size());
        return;
      }
      on_event(event);
    });
    return !stop.interrupted();
  });
  if (stop.interrupted()) return {};
  if (!response) {
    return fail(Errc::docker_unavailable, "failed to follow the Docker events at " + where + ": " +
                                              response.error().message + " (did dockerd stop?)");
  }
  if (response->status != 200) {
    auto doc = nlohmann::json::parse(response->body, nullptr, false);
    const std::string message = doc.is_object() ? doc.value("message", response->body) : response->body;
    return fail(Errc::docker_failed, "failed to follow the Docker events at " + where + ": " + message + " (HTTP " +
                                         std::to_string(response->status) + ")");
  }
  return fail(Errc::docker_unavailable,
              "failed to follow the Docker events at " + where + ": the engine ended the stream (did dockerd stop?)");
}

}  // namespace kn::docker
