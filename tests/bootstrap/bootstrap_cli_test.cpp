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
#include <map>
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

RunResult render_values(const fs::path& values, const std::string& format, const fs::path& output) {
  return run({binary("kontena-bootstrap"), "render", "--values", values.string(), "--format", format, "-o",
              output.string()},
             offline_env());
}

// The example values (cloud-config/values.yml) copied into `dir` with its artifact replaced:
// the example names the Ignition sysext image, cloud-config installs the tarball.
fs::path example_values(const fs::path& dir, const std::string& artifact) {
  fs::create_directories(dir / "cloud-config");
  fs::copy(kSource / "cloud-config", dir / "cloud-config", fs::copy_options::recursive);
  auto text = read_text(kSource / "cloud-config/values.yml");
  const auto at = text.find("\nartifact:");
  REQUIRE(at != std::string::npos);
  text = text.substr(0, at + 1) + "artifact: " + artifact + "\n";
  write(dir / "cloud-config/values.yml", text);
  return dir / "cloud-config/values.yml";
}

const std::string kTarballUrl = "https://downloads.example.com/kontena-node/0.1.0/kontena-node-0.1.0-x86_64.tar.gz";
const std::string kTarballHash(128, 'c');

RunResult render(const std::string& format, const fs::path& output) {
  if (format == "cloud-config") {
    const auto values = example_values(output.parent_path() / "values",
                                       "{url: '" + kTarballUrl + "', sha512: " + kTarballHash + "}");
    return render_values(values, format, output);
  }
  return render_values(kSource / "cloud-config/values.yml", format, output);
}

// The shipped unit as the cloud-config install runs it: binaries from /opt/kontena-node/bin.
std::string unit_from_opt(const std::string& name) {
  return std::regex_replace(read_text(kSource / "systemd" / name), std::regex("/usr/bin/kontena-"),
                            "/opt/kontena-node/bin/kontena-");
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
  // The sysext image from the values' artifact, hash-checked by Ignition.
  const auto values = YAML::LoadFile((kSource / "cloud-config/values.yml").string());
  bool sysext = false;
  for (const auto& f : j["storage"]["files"]) {
    if (f["path"] != "/etc/extensions/kontena-node.raw") continue;
    sysext = true;
    CHECK(f["contents"]["source"] == values["artifact"]["url"].as<std::string>());
    CHECK(f["contents"]["verification"]["hash"] == "sha512-" + values["artifact"]["sha512"].as<std::string>());
  }
  CHECK(sysext);
  std::vector<std::string> units;
  for (const auto& u : j["systemd"]["units"]) {
    CHECK(u["enabled"] == true);
    units.push_back(u["name"]);
    // The shipped text: /usr/bin/kontena-* is where the merged sysext image puts the binaries.
    CHECK(u["contents"] == read_text(kSource / "systemd" / u["name"].get<std::string>()));
    REQUIRE(u["dropins"].size() == 1);
    const auto dropin = u["dropins"][0]["contents"].get<std::string>();
    CHECK(dropin.find("\nAfter=systemd-sysext.service\n") != std::string::npos);
    CHECK(dropin.find("\nWants=systemd-sysext.service\n") != std::string::npos);
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
  std::map<std::string, std::string> files;
  for (const auto& f : doc["write_files"]) files[f["path"].as<std::string>()] = f["permissions"].as<std::string>();
  CHECK(files["/etc/kontena/install-kontena-node.sh"] == "0755");
  CHECK(files["/etc/kontena/artifact.env"] == "0644");
  std::vector<std::string> units;
  for (const auto& u : doc["coreos"]["units"]) {
    const auto name = u["name"].as<std::string>();
    units.push_back(name);
    CHECK(u["enable"].as<bool>());
    CHECK(u["command"].as<std::string>() == "start");
    if (name == "kontena-node-install.service") {
      CHECK(u["content"].as<std::string>() == read_text(kSource / "cloud-config/install" / name));
      continue;
    }
    CHECK(u["content"].as<std::string>() == unit_from_opt(name));
    REQUIRE(u["drop_ins"].size() == 1);
    CHECK(u["drop_ins"][0]["content"].as<std::string>() ==
          "[Unit]\nRequires=kontena-node-install.service\nAfter=kontena-node-install.service\n");
  }
  // The installer first: coreos-cloudinit starts the units in this order.
  CHECK(units == std::vector<std::string>{"kontena-node-install.service", "kontena-bootstrap.service",
                                          "kontena-agent.service"});
}

TEST_CASE("render with artifact baked: true writes the shipped units verbatim and fetches nothing") {
  TempDir dir;
  const auto values = example_values(dir.path(), "{baked: true}");
  for (const std::string format : {"ignition", "cloud-config"}) {
    auto r = render_values(values, format, dir / ("user-data." + format));
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    const auto text = read_text(dir / ("user-data." + format));
    CHECK(text.find("kontena-node-install") == std::string::npos);
    CHECK(text.find("/etc/extensions") == std::string::npos);
    CHECK(text.find("/opt/kontena-node") == std::string::npos);
    CHECK(text.find("ExecStart=/usr/bin/kontena-bootstrap apply") != std::string::npos);
  }
}

TEST_CASE("render refuses a missing or misplaced artifact with exit 78 naming the key and the fix") {
  TempDir dir;
  const auto refused = [&](const std::string& artifact, const std::string& format, const std::string& message) {
    TempDir sub;
    const auto values = artifact.empty() ? [&] {
      auto v = example_values(sub.path(), "{baked: true}");
      auto text = read_text(v);
      write(v, text.substr(0, text.find("artifact: {baked: true}")));
      return v;
    }()
                                         : example_values(sub.path(), artifact);
    auto r = render_values(values, format, sub / "out");
    INFO(artifact << " " << format << ": " << r.err);
    CHECK(r.exit_code == 78);
    CHECK(r.err.find(message) != std::string::npos);
    CHECK_FALSE(fs::exists(sub / "out"));
  };
  const std::string hash(128, 'b');
  refused("", "ignition", "values.yml: artifact: missing;");
  refused("", "cloud-config", "or artifact: {baked: true} when the AMI has /usr/bin/kontena-*");
  refused("{url: 'https://x.example.com/kontena-node-0.1.0-x86_64.tar.gz', sha512: " + hash + "}", "ignition",
          "artifact: url: Ignition installs the systemd-sysext image");
  refused("{url: 'https://x.example.com/kontena-node-0.1.0-x86-64.raw', sha512: " + hash + "}", "cloud-config",
          "artifact: url: cloud-config installs the release tarball");
  refused("{url: 's3://bucket/kontena-node-0.1.0-x86_64.tar.gz', sha512: " + hash + "}", "cloud-config",
          "cloud-config fetches the tarball with curl: use an https:// URL");
}

TEST_CASE("the cloud-config installer fetches, checks and unpacks the tarball, and skips a second run") {
  TempDir dir;
  write(dir / "tree/kontena-node-0.1.0/bin/kontena-agent", "#!/bin/sh\necho kontena-agent 0.1.0\n");
  fs::permissions(dir / "tree/kontena-node-0.1.0/bin/kontena-agent", fs::perms::owner_all, fs::perm_options::add);
  write(dir / "tree/kontena-node-0.1.0/lib/libx.so.1", "lib");
  REQUIRE(run({"/bin/tar", "-czf", (dir / "k.tar.gz").string(), "-C", (dir / "tree").string(), "kontena-node-0.1.0"})
              .exit_code == 0);
  auto sum = run({"/usr/bin/sha512sum", (dir / "k.tar.gz").string()});
  REQUIRE(sum.exit_code == 0);
  const auto hash = sum.out.substr(0, 128);
  const auto script = (kSource / "cloud-config/install/install-kontena-node.sh").string();
  Env env;
  env.set["KONTENA_NODE_PREFIX"] = (dir / "opt/kontena-node").string();
  env.set["KONTENA_NODE_URL"] = "file://" + (dir / "k.tar.gz").string();  // curl reads file: like https:
  env.set["KONTENA_NODE_SHA512"] = hash;

  auto first = run({"/bin/sh", script}, env);
  INFO(first.out << first.err);
  REQUIRE(first.exit_code == 0);
  CHECK(first.out.find("installed kontena-agent 0.1.0 into") != std::string::npos);
  CHECK(read_text(dir / "opt/kontena-node/lib/libx.so.1") == "lib");
  CHECK(read_text(dir / "opt/kontena-node/.sha512") == hash + "\n");

  auto second = run({"/bin/sh", script}, env);
  CHECK(second.exit_code == 0);
  CHECK(second.out.find("nothing to do") != std::string::npos);

  // Another release whose hash does not match: refused, the installed tree stays whole.
  env.set["KONTENA_NODE_SHA512"] = std::string(128, '0');
  auto bad = run({"/bin/sh", script}, env);
  CHECK(bad.exit_code == 1);
  CHECK(bad.err.find("failed to verify") != std::string::npos);
  CHECK(read_text(dir / "opt/kontena-node/.sha512") == hash + "\n");
  std::size_t leftovers = 0;
  for (const auto& e : fs::directory_iterator(dir / "opt")) leftovers += e.path().filename() != "kontena-node";
  CHECK(leftovers == 0);  // no half-unpacked work directory
}

TEST_CASE("render over 16 KB: cloud-config is gzipped and still whole - Ignition is refused with the fix") {
  TempDir dir;
  std::string big = "[Unit]\nDescription=padding\n";
  for (int i = 0; big.size() < 20000; ++i) big += "# padding line " + std::to_string(i) + " of a large unit template\n";
  write(dir / "big.service", big);
  write(dir / "token", "big-grid-token-0123456789\n");
  write(dir / "v.yml", "url: https://master.example.com\ntoken_file: token\ntemplates:\n  - file: big.service\n"
                       "artifact: {baked: true}\n");
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
  // The cloud-config installer unit, and the drop-ins render adds (in a unit path, where
  // verify finds them next to their units).
  files.push_back((kSource / "cloud-config/install/kontena-node-install.service").string());
  for (const std::string format : {"ignition", "cloud-config"}) {
    auto r = render(format, dir / ("render-" + format) / "user-data");
    REQUIRE(r.exit_code == 0);
  }
  const auto ign = nlohmann::json::parse(read_text(dir / "render-ignition/user-data"));
  for (const auto& u : ign["systemd"]["units"]) {
    for (const auto& d : u["dropins"]) {
      write(dir / "stubs" / (u["name"].get<std::string>() + ".d") / d["name"].get<std::string>(),
            d["contents"].get<std::string>());
    }
  }
  const auto cc = YAML::LoadFile((dir / "render-cloud-config/user-data").string());
  for (const auto& u : cc["coreos"]["units"]) {
    for (const auto& d : u["drop_ins"]) {
      write(dir / "stubs" / (u["name"].as<std::string>() + ".d") / d["name"].as<std::string>(),
            d["content"].as<std::string>());
    }
  }
  write(dir / "stubs/kontena-node-install.service", read_text(kSource / "cloud-config/install/kontena-node-install.service"));

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
