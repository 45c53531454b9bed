// kontena-bootstrap as users run it: apply --root against the IMDS simulator, render checked
// by golden files and the real validators (ignition-validate, yaml-cpp, systemd-analyze).
#include "support/catch_result.hpp"
#include "support/imds_sim.hpp"
#include "support/process.hpp"

#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <functional>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>

using namespace kn::test;
namespace fs = std::filesystem;

namespace {

const fs::path kSource = KN_SOURCE_DIR;

void write(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

Env offline_env() {
  Env e;
  e.set["AWS_EC2_METADATA_DISABLED"] = "true";
  e.set["KONTENA_CONFIG"] = "/dev/null";
  return e;
}

RunResult render(const std::string& format, const fs::path& output) {
  return run({binary("kontena-bootstrap"), "render", "--values", (kSource / "cloud-config/values.yml").string(),
              "--format", format, "-o", output.string()},
             offline_env());
}

void check_golden(const std::string& actual, const fs::path& golden) {
  if (std::getenv("KN_UPDATE_GOLDEN") != nullptr) write(golden, actual);
  CHECK(actual == read_text(golden));
}

}  // namespace

TEST_CASE("apply --root writes metadata.env and labels and a zone-carrying unit and a second run changes nothing") {
  ImdsSim sim;
  TempDir root;
  write(root / "etc/kontena/templates/efs.service",
        "[Unit]\nDescription=EFS in $availability_zone\n[Service]\nType=oneshot\n"
        "Environment=AZ=$az ZONE=$availability_zone\nExecStart=/bin/true\n");
  write(root / "etc/kontena/templates/docker.service.d/10-az.conf", "[Service]\nEnvironment=KONTENA_AZ=$az\n");
  const std::vector<std::string> argv{binary("kontena-bootstrap"), "apply", "--root", root.path().string()};

  auto first = run(argv, sim.env());
  INFO(first.out << first.err);
  REQUIRE(first.exit_code == 0);
  CHECK(first.out.find("skipped daemon-reload") != std::string::npos);

  const auto env = read_text(root / "run/kontena/metadata.env");
  CHECK(env.find("KONTENA_AWS_REGION=\"us-east-1\"\n") != std::string::npos);
  CHECK(env.find("KONTENA_AWS_AZ=\"a\"\n") != std::string::npos);
  CHECK(env.find("KONTENA_AWS_AVAILABILITY_ZONE=\"us-east-1a\"\n") != std::string::npos);
  CHECK(env.find("KONTENA_AWS_AVAILABILITY_ZONE_ID=\"use1-az4\"\n") != std::string::npos);
  CHECK(env.find("KONTENA_AWS_INSTANCE_ID=\"i-1234567890abcdef0\"\n") != std::string::npos);
  CHECK(env.find("KONTENA_AWS_IPV4_LOCAL=\"172.16.34.43\"\n") != std::string::npos);
  CHECK(env.find("KONTENA_LABELS=\"region=us-east-1 az=a") != std::string::npos);
  CHECK((fs::status(root / "run/kontena/metadata.env").permissions() & fs::perms::all) ==
        (fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read));

  const auto unit = read_text(root / "run/systemd/system/efs.service");
  CHECK(unit.find("Environment=AZ=a ZONE=us-east-1a\n") != std::string::npos);
  CHECK(unit.find("Description=EFS in us-east-1a\n") != std::string::npos);
  CHECK(read_text(root / "run/systemd/system/docker.service.d/10-az.conf") == "[Service]\nEnvironment=KONTENA_AZ=a\n");

  auto daemon = nlohmann::json::parse(read_text(root / "etc/docker/daemon.json"));
  const auto labels = daemon.at("labels").get<std::vector<std::string>>();
  CHECK(std::ranges::find(labels, "az=a") != labels.end());
  CHECK(std::ranges::find(labels, "ephemeral=true") != labels.end());

  const auto before = fs::last_write_time(root / "run/systemd/system/efs.service");
  auto second = run(argv, sim.env());
  INFO(second.out << second.err);
  REQUIRE(second.exit_code == 0);
  CHECK(second.out.find("metadata unchanged") != std::string::npos);
  CHECK(second.out.find("rendered") == std::string::npos);
  CHECK(second.out.find("nothing written") != std::string::npos);
  CHECK(second.out.find("skipped daemon-reload") == std::string::npos);  // nothing to reload
  CHECK(fs::last_write_time(root / "run/systemd/system/efs.service") == before);
  CHECK(read_text(root / "run/kontena/metadata.env") == env);
}

TEST_CASE("apply refuses an unknown template variable with exit 78 naming the file") {
  ImdsSim sim;
  TempDir root;
  write(root / "etc/kontena/templates/x.service", "[Service]\nEnvironment=Z=$zone\n");
  auto r = run({binary("kontena-bootstrap"), "apply", "--root", root.path().string()}, sim.env());
  CHECK(r.exit_code == 78);
  CHECK(r.err.find("x.service: line 2: unknown template variable $zone") != std::string::npos);
  CHECK_FALSE(fs::exists(root / "run/systemd/system/x.service"));
}

TEST_CASE("hostile public IP from IMDS: a newline is refused naming the key") {
  TempDir dir;
  auto fixture = nlohmann::json::parse(read_text(kSource / "tests/fixtures/imds/aemm-metadata-default-values.json"));
  bool replaced = false;
  // The AEMM fixture keeps values under "values"; replace public-ipv4 wherever it is.
  std::function<void(nlohmann::json&)> walk = [&](nlohmann::json& j) {
    if (!j.is_object()) return;
    for (auto& [k, v] : j.items()) {
      if (k == "public-ipv4" && v.is_string() && !v.get<std::string>().starts_with("/")) {
        v = "192.0.2.1\nExecStartPre=/bin/evil";
        replaced = true;
      } else {
        walk(v);
      }
    }
  };
  walk(fixture);
  REQUIRE(replaced);
  write(dir / "fixture.json", fixture.dump());
  ImdsSim sim({"--fixture", (dir / "fixture.json").string()});
  write(dir / "root/etc/kontena/templates/x.service", "[Service]\nEnvironment=IP=$public_ipv4\n");
  auto r = run({binary("kontena-bootstrap"), "apply", "--root", (dir / "root").string()}, sim.env());
  CHECK(r.exit_code == 78);
  CHECK(r.err.find("KONTENA_AWS_IPV4_PUBLIC ($public_ipv4)") != std::string::npos);
  CHECK_FALSE(fs::exists(dir / "root/run/systemd/system/x.service"));
}

TEST_CASE("metadata --format json prints the variables with compatibility names") {
  ImdsSim sim;
  auto r = run({binary("kontena-bootstrap"), "metadata", "--format", "json", "--compat", "afterburn"}, sim.env());
  REQUIRE(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j.at("KONTENA_AWS_AZ") == "a");
  CHECK(j.at("AFTERBURN_AWS_REGION") == "us-east-1");
}

TEST_CASE("render --format ignition matches the golden file and passes ignition-validate") {
  TempDir dir;
  auto r = render("ignition", dir / "user-data.ign");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto text = read_text(dir / "user-data.ign");
  CHECK(text.size() <= 16384);
  check_golden(text, kSource / "tests/bootstrap/golden/default.ign");
  auto v = run({"/usr/bin/ignition-validate", (dir / "user-data.ign").string()});
  INFO(v.out << v.err);
  CHECK(v.exit_code == 0);
  auto j = nlohmann::json::parse(text);
  CHECK(j["ignition"]["version"] == "3.3.0");
  bool env_0600 = false;
  for (const auto& f : j["storage"]["files"]) {
    if (f["path"] == "/etc/kontena/agent.env") env_0600 = f["mode"] == 384;
  }
  CHECK(env_0600);
  std::vector<std::string> units;
  for (const auto& u : j["systemd"]["units"]) {
    CHECK(u["enabled"] == true);
    units.push_back(u["name"]);
    CHECK(u["contents"] == read_text(kSource / "systemd" / u["name"].get<std::string>()));
  }
  CHECK(units == std::vector<std::string>{"kontena-bootstrap.service", "kontena-agent.service"});
}

TEST_CASE("render --format cloud-config matches the golden file and has the Container Linux structure") {
  TempDir dir;
  auto r = render("cloud-config", dir / "user-data.yml");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto text = read_text(dir / "user-data.yml");
  CHECK(text.size() <= 16384);
  CHECK(text.starts_with("#cloud-config\n"));
  check_golden(text, kSource / "tests/bootstrap/golden/default.cloud-config.yml");
  const YAML::Node doc = YAML::Load(text);
  // Underscore keys only: Flatcar >= 3975.2.0 ignores hyphenated ones.
  std::function<void(const YAML::Node&)> no_hyphen = [&](const YAML::Node& n) {
    if (n.IsMap()) {
      for (const auto& kv : n) {
        CHECK(kv.first.as<std::string>().find('-') == std::string::npos);
        no_hyphen(kv.second);
      }
    } else if (n.IsSequence()) {
      for (const auto& item : n) no_hyphen(item);
    }
  };
  no_hyphen(doc);
  bool env_found = false;
  for (const auto& f : doc["write_files"]) {
    CHECK(std::regex_match(f["permissions"].as<std::string>(), std::regex("^0?[0-7]{3,4}$")));
    CHECK(f["permissions"].Tag() == "!");  // quoted: a string, not a number
    if (f["path"].as<std::string>() == "/etc/kontena/agent.env") {
      env_found = true;
      CHECK(f["permissions"].as<std::string>() == "0600");
      CHECK(f["content"].as<std::string>().find("KONTENA_URL=\"https://master.example.com\"\n") != std::string::npos);
    }
    if (f["path"].as<std::string>() == "/etc/kontena/templates/efs-data.mount") {
      CHECK(f["content"].as<std::string>() == read_text(kSource / "cloud-config/templates/efs-data.mount"));
    }
  }
  CHECK(env_found);
  std::vector<std::string> units;
  for (const auto& u : doc["coreos"]["units"]) {
    units.push_back(u["name"].as<std::string>());
    CHECK(u["enable"].as<bool>());
    CHECK(u["command"].as<std::string>() == "start");
    CHECK(u["content"].as<std::string>() == read_text(kSource / "systemd" / u["name"].as<std::string>()));
  }
  CHECK(units == std::vector<std::string>{"kontena-bootstrap.service", "kontena-agent.service"});
}

TEST_CASE("render over 16 KB: cloud-config is gzipped and still whole - Ignition is refused with the fix") {
  TempDir dir;
  std::string big = "[Unit]\nDescription=padding\n";
  for (int i = 0; big.size() < 20000; ++i) big += "# padding line " + std::to_string(i) + " of a large unit template\n";
  write(dir / "big.service", big);
  write(dir / "token", "big-grid-token-0123456789\n");
  write(dir / "v.yml", "url: https://master.example.com\ntoken_file: token\ntemplates:\n  - file: big.service\n");
  Env env = offline_env();
  auto cc = run({binary("kontena-bootstrap"), "render", "--values", (dir / "v.yml").string(), "--format",
                 "cloud-config", "-o", (dir / "user-data.gz").string()},
                env);
  INFO(cc.err);
  REQUIRE(cc.exit_code == 0);
  CHECK(cc.err.find("gzip'd") != std::string::npos);
  const auto bytes = read_text(dir / "user-data.gz");
  CHECK(bytes.size() <= 16384);
  REQUIRE(bytes.size() > 2);
  CHECK(static_cast<unsigned char>(bytes[0]) == 0x1f);  // gzip magic: coreos-cloudinit unpacks it
  CHECK(static_cast<unsigned char>(bytes[1]) == 0x8b);
  auto plain = run({"/bin/sh", "-c", "gzip -dc < '" + (dir / "user-data.gz").string() + "'"});
  REQUIRE(plain.exit_code == 0);
  CHECK(plain.out.size() > 16384);
  CHECK(plain.out.starts_with("#cloud-config\n"));
  const YAML::Node doc = YAML::Load(plain.out);
  bool found = false;
  for (const auto& f : doc["write_files"]) {
    if (f["path"].as<std::string>() == "/etc/kontena/templates/big.service") {
      found = true;
      CHECK(f["content"].as<std::string>() == big);
    }
  }
  CHECK(found);

  auto ign = run({binary("kontena-bootstrap"), "render", "--values", (dir / "v.yml").string(), "--format", "ignition",
                  "-o", (dir / "user-data.ign").string()},
                 env);
  CHECK(ign.exit_code == 78);
  CHECK(ign.err.find("16384-byte") != std::string::npos);
  CHECK(ign.err.find("ignition.config.replace.source") != std::string::npos);
  CHECK(ign.err.find("big-grid-token") == std::string::npos);
  CHECK_FALSE(fs::exists(dir / "user-data.ign"));
}

TEST_CASE("render refuses a values file without url with exit 78 naming the key") {
  TempDir dir;
  write(dir / "v.yml", "token: secret-token-value\n");
  auto r = run({binary("kontena-bootstrap"), "render", "--values", (dir / "v.yml").string()}, offline_env());
  CHECK(r.exit_code == 78);
  CHECK(r.err.find("v.yml: url: missing") != std::string::npos);
  CHECK(r.err.find("secret-token-value") == std::string::npos);
}

TEST_CASE("shipped and rendered units pass systemd-analyze verify and their security exposure is computed") {
  TempDir dir;
  // Stubs for what the units reference but this build host lacks.
  write(dir / "stubs/docker.service", "[Unit]\nDescription=stub\n[Service]\nExecStart=/bin/true\n");
  Env env;
  env.set["SYSTEMD_UNIT_PATH"] = (dir / "stubs").string() + ":";
  std::vector<std::string> files;
  for (const auto* name : {"kontena-bootstrap.service", "kontena-agent.service"}) {
    // The unit as shipped, with ExecStart pointed at a binary of this build (verify needs an
    // executable there; which one does not matter to it).
    auto text = read_text(kSource / "systemd" / name);
    text = std::regex_replace(text, std::regex("/usr/bin/kontena-[a-z]+"), binary("kontena-bootstrap"));
    write(dir / "units" / name, text);
    files.push_back((dir / "units" / name).string());
  }
  // A rendered template too (from apply --root against the simulator).
  ImdsSim sim;
  fs::create_directories(dir / "root/etc/kontena");
  std::filesystem::copy(kSource / "cloud-config/templates", dir / "root/etc/kontena/templates",
                        fs::copy_options::recursive);
  auto applied = run({binary("kontena-bootstrap"), "apply", "--root", (dir / "root").string()}, sim.env());
  REQUIRE(applied.exit_code == 0);
  files.push_back((dir / "root/run/systemd/system/efs-data.mount").string());

  std::vector<std::string> argv{"/usr/bin/systemd-analyze", "verify", "--man=no"};
  argv.insert(argv.end(), files.begin(), files.end());
  auto v = run(argv, env);
  INFO(v.out << v.err);
  CHECK(v.exit_code == 0);
  CHECK(v.err.empty());

  for (std::size_t i = 0; i < 2; ++i) {
    auto s = run({"/usr/bin/systemd-analyze", "security", "--offline=yes", files[i]}, env);
    std::smatch m;
    REQUIRE(std::regex_search(s.out, m, std::regex("Overall exposure level for (\\S+): ([0-9.]+)")));
    std::cout << "systemd-analyze security: " << m[1] << " exposure " << m[2] << '\n';
    CHECK(std::stod(m[2]) <= 2.5);  // the units measure 1.9 and 2.0: a regression shows here
  }
}
