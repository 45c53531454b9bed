// Finding --label flags given to dockerd: argv and docker.service drop-ins.
#include "docker/dockerd_flags.hpp"
#include "support/catch_result.hpp"
#include "support/process.hpp"

#include <fstream>
#include <unistd.h>

using namespace kn::docker;

TEST_CASE("label flag values are found in both spellings and other flags are ignored") {
  const std::vector<std::string> args{"dockerd", "--host=fd://", "--label", "a=1", "--label=b=2", "--labels-x", "--debug"};
  CHECK(label_flags_in_args(args) == std::vector<std::string>{"a=1", "b=2"});
  const std::vector<std::string> none{"dockerd", "--config-file", "/etc/docker/daemon.json"};
  CHECK(label_flags_in_args(none).empty());
}

TEST_CASE("flags map to the daemon.json keys dockerd checks them against") {
  const std::vector<std::string> args{"/usr/bin/dockerd", "--host=fd://", "-H", "unix:///x.sock", "--label", "a=1",
                                      "--containerd=/run/containerd/containerd.sock", "--selinux-enabled=true",
                                      "--log-opt", "max-size=1m", "--iptables=false"};
  CHECK(config_keys_of_flags(args) ==
        std::vector<std::string>{"hosts", "labels", "containerd", "selinux-enabled", "log-opts", "iptables"});
}

TEST_CASE("Environment= values split like systemd does") {
  CHECK(split_environment_assignments(R"("DOCKER_OPTS=--label a=b --debug" X=1)") ==
        std::vector<std::string>{"DOCKER_OPTS=--label a=b --debug", "X=1"});
  CHECK(split_environment_assignments(R"(DOCKER_OPTS='--label c=d')") ==
        std::vector<std::string>{"DOCKER_OPTS=--label c=d"});
}

TEST_CASE("DOCKER_OPTS in docker.service drop-ins under /etc and /run are read") {
  kn::test::TempDir root;
  const auto etc = root / "etc/systemd/system/docker.service.d";
  const auto run = root / "run/systemd/system/docker.service.d";
  std::filesystem::create_directories(etc);
  std::filesystem::create_directories(run);
  std::ofstream(etc / "10-opts.conf") << "[Service]\nEnvironment=\"DOCKER_OPTS=--log-level=warn --label team=x\"\n";
  std::ofstream(run / "20-more.conf") << "[Service]\nEnvironment=DOCKER_CGROUPS=--exec-opt x DOCKER_OPTS=--label=zone=1\n";
  std::ofstream(etc / "ignored.txt") << "Environment=\"DOCKER_OPTS=--label no=1\"\n";
  std::ofstream(etc / "30-nolabel.conf") << "[Service]\nEnvironment=\"DOCKER_OPTS=--debug\"\n";
  const auto flags = label_flags_in_dropins(root.path());
  REQUIRE(flags.size() == 2);
  CHECK(flags[0].value == "team=x");
  CHECK(flags[0].where == (etc / "10-opts.conf").string() + " line 2");
  CHECK(flags[1].value == "zone=1");
  CHECK(label_flags_in_dropins(root / "nothing-here").empty());
}

TEST_CASE("the command line of a running process is read from /proc") {
  auto args = process_args(::getpid());
  REQUIRE(args);
  REQUIRE_FALSE(args->empty());
  CHECK_FALSE(process_args(999999999));
}

TEST_CASE("the conflict message lists the flags and names the fix") {
  const std::vector<LabelFlag> flags{{"team=x", "dockerd (pid 42) command line"}};
  const auto f = label_flag_conflict(flags, "/etc/docker/daemon.json");
  CHECK(f.is(kn::Errc::docker_config_invalid));
  CHECK_THAT(f.message, Catch::Contains("--label team=x (dockerd (pid 42) command line)") &&
                            Catch::Contains("nothing was written") && Catch::Contains("KONTENA_NODE_LABELS") &&
                            Catch::Contains("DOCKER_OPTS"));
}
