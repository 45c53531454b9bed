#include "support/agent_process.hpp"

#include <chrono>
#include <csignal>

namespace kn::test {

AgentProcess::AgentProcess(const MasterSim& master, const Dockerd* docker, AgentOptions options)
    : name(std::move(options.name)), prefix(std::move(options.prefix)) {
  env = master.env();
  if (docker != nullptr) {
    env = merge(env, docker->env());
  } else {
    env.set["DOCKER_HOST"] = "unix://" + (dir / "no-docker.sock").string();
    env.set["KONTENA_DOCKER_CONFIG"] = (dir / "daemon.json").string();
    env.set["KONTENA_DOCKER_PIDFILE"] = (dir / "docker.pid").string();
  }
  env.set["AWS_EC2_METADATA_DISABLED"] = "true";  // no IMDS on loopback here: labels ephemeral=true (or none)
  if (options.ephemeral) env.set["KONTENA_EPHEMERAL"] = *options.ephemeral ? "true" : "false";
  env.set["KONTENA_CONFIG"] = "/dev/null";
  env.set["KONTENA_NODE_NAME"] = name;
  env.set["KONTENA_STATE_DIR"] = state_dir().string();
  env.set["KONTENA_LOG_LEVEL"] = "debug";
  env.set["KONTENA_RECONNECT_MAX_DELAY"] = "1s";
  for (auto& [key, value] : options.env) env.set[key] = value;
  env.unset.insert(env.unset.end(), {"NOTIFY_SOCKET", "WATCHDOG_USEC", "KONTENA_NODE_ID", "KONTENA_NODE_LABELS",
                                     "AWS_EC2_METADATA_SERVICE_ENDPOINT"});
  start();
}

AgentProcess::~AgentProcess() {
  if (process && process->running()) (void)terminate();
}

void AgentProcess::start() {
  ++starts;
  auto argv = prefix;
  argv.insert(argv.end(), {binary("kontena-agent"), "run"});
  process = std::make_unique<Process>(std::move(argv), env,
                                      dir / "agent.out", dir / ("agent-" + std::to_string(starts) + ".err"));
}

std::optional<int> AgentProcess::terminate() {
  process->signal(SIGTERM);
  return process->wait_for(std::chrono::seconds(10));
}

std::string AgentProcess::log() const {
  std::string all;
  for (int i = 1; i <= starts; ++i) all += read_text(dir / ("agent-" + std::to_string(i) + ".err"));
  return all;
}

}  // namespace kn::test
