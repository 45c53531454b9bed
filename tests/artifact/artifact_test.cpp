// The self-contained artifact (packaging/artifact.cmake) as a host without a package manager
// sees it: the tarball in a chroot that holds nothing but glibc, install.sh on a scratch root,
// and the sysext image's tree.
//
// KN_ARTIFACT_TARBALL / KN_ARTIFACT_RAW in the environment test another build's artifact
// (.ci/run: the release preset's); by default the one this build made.
#include "support/imds_sim.hpp"
#include "support/process.hpp"

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

namespace fs = std::filesystem;
using kn::test::binary;
using kn::test::Env;
using kn::test::ImdsSim;
using kn::test::read_text;
using kn::test::run;
using kn::test::RunResult;
using kn::test::TempDir;

namespace {

const std::string kVersion = KN_VERSION;
const std::string kTop = "kontena-node-" + kVersion;

fs::path artifact(const char* env_name, const char* built) {
  const char* v = std::getenv(env_name);
  return fs::path(v != nullptr && *v != '\0' ? v : built);
}
fs::path tarball() { return artifact("KN_ARTIFACT_TARBALL", KN_ARTIFACT_TARBALL_PATH); }
fs::path sysext_image() { return artifact("KN_ARTIFACT_RAW", KN_ARTIFACT_RAW_PATH); }

void write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

// The tarball unpacked into `dir`; returns its top folder.
fs::path unpack(const fs::path& dir) {
  auto r = run({"/bin/tar", "-xzf", tarball().string(), "-C", dir.string()});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  REQUIRE(fs::is_directory(dir / kTop));
  return dir / kTop;
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// glibc's own files as the build machine's package manager lists them (package libc6): the
// loader, libc, libm, libpthread, libdl, librt, libresolv, the nss modules, gconv. Only files
// under /lib, /lib64, /usr/lib and /etc; documentation is left out.
std::vector<std::string> glibc_files() {
  auto r = run({"/usr/bin/dpkg-query", "-L", "libc6"});
  REQUIRE(r.exit_code == 0);
  std::vector<std::string> files;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) {
    if (!(starts_with(line, "/lib/") || starts_with(line, "/lib64/") || starts_with(line, "/usr/lib/") ||
          starts_with(line, "/etc/"))) {
      continue;
    }
    std::error_code ec;
    if (fs::is_directory(line, ec) || !fs::exists(line, ec)) continue;
    files.push_back(line);
  }
  return files;
}

// Runs argv inside `root` (chroot) with a private /proc: the loader expands $ORIGIN through
// /proc/self/exe, and the mount dies with the mount namespace, so nothing outlives the test.
RunResult run_in_chroot(const fs::path& root, const std::vector<std::string>& argv, const Env& env) {
  std::vector<std::string> cmd = {"/usr/bin/unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c",
                                  "mount -t proc proc \"$0/proc\" && exec /usr/sbin/chroot \"$0\" \"$@\"",
                                  root.string()};
  cmd.insert(cmd.end(), argv.begin(), argv.end());
  return run(cmd, env);
}

// Objects the dynamic loader initialised for the program under /opt/kontena-node/bin, from
// LD_DEBUG=libs: unshare, sh and chroot exec one another in the same process before it, so its
// part starts after the previous "transferring control:" line; dlopen'ed objects (nss modules)
// come after its own "transferring control:" and count too.
std::set<std::string> loaded_objects(const std::string& ld_debug) {
  std::vector<std::string> lines;
  std::istringstream in(ld_debug);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  std::size_t start = 0;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].find("transferring control: /opt/kontena-node/bin/") != std::string::npos) break;
    if (lines[i].find("transferring control: ") != std::string::npos) start = i + 1;
  }
  std::set<std::string> out;
  const std::string marker = "calling init: ";
  for (std::size_t i = start; i < lines.size(); ++i) {
    auto at = lines[i].find(marker);
    // The loader names objects by the RUNPATH it found them through: /opt/kontena-node/bin/../lib/
    if (at != std::string::npos) out.insert(fs::path(lines[i].substr(at + marker.size())).lexically_normal().string());
  }
  return out;
}

// Every file of a tree: relative path -> "type mode content" (no times), to compare trees.
std::map<std::string, std::string> snapshot(const fs::path& root) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    const auto rel = fs::relative(e.path(), root).string();
    const auto st = e.symlink_status();
    const auto mode = std::to_string(static_cast<unsigned>(st.permissions()));
    if (fs::is_symlink(st)) {
      out[rel] = "link " + fs::read_symlink(e.path()).string();
    } else if (fs::is_directory(st)) {
      out[rel] = "dir " + mode;
    } else {
      out[rel] = "file " + mode + " " + read_text(e.path());
    }
  }
  return out;
}

std::string bundled_names(const fs::path& lib_dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(lib_dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : " ") + n;
  return out;
}

}  // namespace

TEST_CASE("artifact: the tarball runs in a chroot that holds only glibc - --version, labels from IMDS, render") {
  REQUIRE(::geteuid() == 0);  // chroot and mount need root; the test never passes without them
  TempDir scratch;
  const fs::path root = scratch / "root";
  fs::create_directories(root / "opt");
  fs::create_directories(root / "proc");
  fs::rename(unpack(scratch.path()), root / "opt/kontena-node");

  const auto glibc = glibc_files();
  REQUIRE(glibc.size() > 20);
  for (const auto& f : glibc) {
    fs::create_directories(root / fs::path(f).relative_path().parent_path());
    fs::copy_file(f, root / fs::path(f).relative_path());  // follows symlinks: the file's bytes
  }
  const std::set<std::string> glibc_set(glibc.begin(), glibc.end());

  // Present: every shared object in the chroot is glibc's or one of the bundle's.
  std::size_t n_files = 0;
  std::vector<std::string> foreign;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (e.is_directory()) continue;
    ++n_files;
    const auto path = "/" + fs::relative(e.path(), root).string();
    const auto name = e.path().filename().string();
    if (name.find(".so") == std::string::npos) continue;
    if (starts_with(path, "/opt/kontena-node/lib/") || glibc_set.count(path) == 1) continue;
    foreign.push_back(path);
  }
  CHECK(foreign.empty());
  // The bundle itself carries no glibc object: those must be the host's, matching its loader.
  for (const auto& e : fs::directory_iterator(root / "opt/kontena-node/lib")) {
    const auto name = e.path().filename().string();
    INFO(name);
    CHECK_FALSE((starts_with(name, "libc.so") || starts_with(name, "ld-linux") || starts_with(name, "libm.so") ||
                 starts_with(name, "libpthread.") || starts_with(name, "libnss_")));
  }
  std::cout << "chroot held " << n_files << " files: " << glibc.size() << " of glibc (dpkg-query -L libc6: loader, "
            << "libc, libm, libpthread, libdl, librt, libresolv, libnss_*, gconv), the unpacked tarball in "
            << "/opt/kontena-node, /proc; bundled libraries: " << bundled_names(root / "opt/kontena-node/lib")
            << "\n";

  ImdsSim sim;
  Env env = kn::test::merge(sim.env(), Env{.set = {{"LD_DEBUG", "libs"}},
                                           .unset = {"LD_LIBRARY_PATH", "LD_PRELOAD", "KONTENA_CONFIG",
                                                     "KONTENA_NODE_LABELS", "KONTENA_TOKEN"}});
  std::set<std::string> loaded;
  auto check_loaded = [&](const RunResult& r) {
    auto objects = loaded_objects(r.err);
    // libcurl: shared in every build (the release one links the C++ libraries in, the dev one
    // does not), so it shows the bundle, not the host, served the process.
    CHECK(objects.count("/opt/kontena-node/lib/libcurl.so.4") == 1);
    loaded.insert(objects.begin(), objects.end());
  };

  auto version = run_in_chroot(root, {"/opt/kontena-node/bin/kontena-agent", "--version"}, env);
  INFO(version.err.substr(0, 4000));
  REQUIRE(version.exit_code == 0);
  // Unchanged by packing: the same line as the binary the build made.
  const auto built = run({binary("kontena-agent"), "--version"}, Env{.set = {{"AWS_EC2_METADATA_DISABLED", "true"}}});
  CHECK(version.out == built.out);
  CHECK(starts_with(version.out, "kontena-agent " + kVersion));
  check_loaded(version);

  auto labels = run_in_chroot(root, {"/opt/kontena-node/bin/kontena-agent", "labels", "--format", "json"}, env);
  INFO(labels.err.substr(0, 4000));
  REQUIRE(labels.exit_code == 0);
  const auto j = nlohmann::json::parse(labels.out);
  CHECK(j.at("availability-zone") == "us-east-1a");
  CHECK(j.at("region") == "us-east-1");
  CHECK(j.at("az-id") == "use1-az4");
  CHECK(sim.requests().size() >= 4);  // it really asked the simulator over loopback
  check_loaded(labels);
  CHECK(loaded.count("/opt/kontena-node/lib/libcurl.so.4") == 1);

  write(root / "work/grid-token", "chroot-test-grid-token\n");
  write(root / "work/values.yml", "url: https://master.example.com\ntoken_file: grid-token\nnode_labels: [disk=ssd]\nartifact: {baked: true}\n");
  auto render = run_in_chroot(
      root, {"/opt/kontena-node/bin/kontena-bootstrap", "render", "--values", "/work/values.yml", "--format", "ignition"},
      env);
  INFO(render.err.substr(0, 4000));
  REQUIRE(render.exit_code == 0);
  const auto ign = nlohmann::json::parse(render.out);
  CHECK(ign["ignition"]["version"] == "3.3.0");
  CHECK(ign["systemd"]["units"].size() >= 2);
  check_loaded(render);

  // Loaded: nothing but the bundle and glibc, in all three runs.
  std::vector<std::string> outside;
  for (const auto& o : loaded) {
    if (!starts_with(o, "/opt/kontena-node/lib/") && glibc_set.count(o) == 0) outside.push_back(o);
  }
  for (const auto& o : outside) UNSCOPED_INFO("loaded from outside the bundle and glibc: " << o);
  REQUIRE(outside.empty());
  std::cout << "the three runs loaded " << loaded.size() << " objects, all from /opt/kontena-node/lib or glibc\n";
}

TEST_CASE("artifact: install.sh --root installs twice to the same tree and --uninstall leaves nothing of ours") {
  TempDir scratch;
  const fs::path src = unpack(scratch.path());
  const fs::path root = scratch / "root";
  // What the host already has stays: an operator's environment file and another unit.
  write(root / "etc/kontena/agent.env", "KONTENA_URL=https://master.example.com\n");
  write(root / "etc/systemd/system/other.service", "[Service]\nExecStart=/bin/true\n");
  fs::create_directories(root / "opt");
  const auto before = snapshot(root);
  const auto install = [&](std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {"/bin/sh", (src / "install.sh").string(), "--root", root.string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return run(argv);
  };

  auto first = install();
  INFO(first.out << first.err);
  REQUIRE(first.exit_code == 0);
  const auto installed = snapshot(root);
  CHECK(fs::is_regular_file(root / "opt/kontena-node/bin/kontena-agent"));
  CHECK(fs::is_regular_file(root / "opt/kontena-node/lib/libcurl.so.4"));
  CHECK(fs::is_regular_file(root / "opt/kontena-node/examples/cloud-config/values.yml"));
  CHECK(read_text(root / "etc/kontena/agent.yml") == read_text(src / "etc/agent.yml"));
  for (const auto* unit : {"kontena-agent.service", "kontena-bootstrap.service"}) {
    const auto text = read_text(root / "etc/systemd/system" / unit);
    CHECK(text.find("ExecStart=/opt/kontena-node/bin/kontena-") != std::string::npos);
    CHECK(text.find("/usr/bin/kontena-") == std::string::npos);
  }
  // The installed binary runs from its new place (RUNPATH $ORIGIN/../lib).
  auto v = run({(root / "opt/kontena-node/bin/kontena-bootstrap").string(), "--version"},
               Env{.set = {{"AWS_EC2_METADATA_DISABLED", "true"}}});
  CHECK(v.exit_code == 0);
  CHECK(starts_with(v.out, "kontena-bootstrap " + kVersion));

  auto second = install();
  REQUIRE(second.exit_code == 0);
  CHECK(snapshot(root) == installed);

  // An operator's own agent.yml is never overwritten, and stays on --uninstall.
  write(root / "etc/kontena/agent.yml", "log-level: debug\n");
  REQUIRE(install().exit_code == 0);
  CHECK(read_text(root / "etc/kontena/agent.yml") == "log-level: debug\n");
  // Enabled units: their links go with them.
  fs::create_directories(root / "etc/systemd/system/multi-user.target.wants");
  fs::create_symlink("/etc/systemd/system/kontena-agent.service",
                     root / "etc/systemd/system/multi-user.target.wants/kontena-agent.service");

  auto removed = install({"--uninstall"});
  INFO(removed.out << removed.err);
  REQUIRE(removed.exit_code == 0);
  CHECK(read_text(root / "etc/kontena/agent.yml") == "log-level: debug\n");
  fs::remove(root / "etc/kontena/agent.yml");
  CHECK(snapshot(root) == before);
  CHECK(install({"--uninstall"}).exit_code == 0);  // nothing to remove is fine too

  auto bad = install({"--no-such-flag"});
  CHECK(bad.exit_code != 0);
  CHECK(bad.err.find("unknown argument '--no-such-flag'") != std::string::npos);
  CHECK(std::count(bad.err.begin(), bad.err.end(), '\n') == 1);
}

TEST_CASE("artifact: the sysext image holds /usr only, the extension-release file and working /usr/bin links") {
  TempDir scratch;
  const fs::path tree = scratch / "tree";
  auto r = run({"/usr/bin/unsquashfs", "-no-xattrs", "-d", tree.string(), sysext_image().string()});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  for (const auto& e : fs::directory_iterator(tree)) CHECK(e.path().filename() == "usr");
  CHECK(read_text(tree / "usr/lib/extension-release.d/extension-release.kontena-node") ==
        "ID=_any\nARCHITECTURE=x86-64\n");
  for (const auto* tool : {"kontena-agent", "kontena-bootstrap"}) {
    const auto link = tree / "usr/bin" / tool;
    REQUIRE(fs::is_symlink(link));
    CHECK(fs::read_symlink(link) == fs::path("../lib/kontena-node/bin") / tool);
    // Run through the link: $ORIGIN is the real file's folder, so lib/ beside it is found.
    auto v = run({link.string(), "--version"}, Env{.set = {{"AWS_EC2_METADATA_DISABLED", "true"}}});
    INFO(v.err);
    CHECK(v.exit_code == 0);
    CHECK(starts_with(v.out, std::string(tool) + " " + kVersion));
    // The shipped units, unchanged: ExecStart=/usr/bin/kontena-* is where the links are.
  }
  for (const auto* unit : {"kontena-agent.service", "kontena-bootstrap.service"}) {
    CHECK(read_text(tree / "usr/lib/systemd/system" / unit) == read_text(fs::path(KN_SOURCE_DIR) / "systemd" / unit));
  }
  CHECK(fs::is_regular_file(tree / "usr/lib/kontena-node/lib/libcurl.so.4"));
}

TEST_CASE("artifact: systemd-sysext merges the image into a scratch root and /usr/bin/kontena-agent runs from it") {
  REQUIRE(::geteuid() == 0);  // loop devices and overlay mounts need root
  TempDir scratch;
  const fs::path root = scratch / "root";
  fs::create_directories(root / "etc/extensions");
  fs::create_directories(root / "usr/bin");
  fs::create_directories(root / "opt");
  // The build machine's os-release (Debian 12): ID=_any must fit a distribution it does not name.
  fs::create_directories(root / "usr/lib");
  fs::copy_file("/usr/lib/os-release", root / "usr/lib/os-release");
  fs::copy_file(sysext_image(), root / "etc/extensions/kontena-node.raw");
  // In a private mount namespace (the merge dies with it): /run bound onto itself, since
  // systemd-sysext marks it a slave mount, and / shared so its merge reaches this namespace.
  const std::string script =
      "mount --bind /run /run && mount --make-rshared / && systemd-sysext merge --root=\"$0\" && "
      "AWS_EC2_METADATA_DISABLED=true \"$0/usr/bin/kontena-agent\" --version && "
      "cat \"$0/usr/lib/extension-release.d/extension-release.kontena-node\" && systemd-sysext unmerge --root=\"$0\"";
  auto r = run({"/usr/bin/unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", script,
                root.string()});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("kontena-agent " + kVersion) != std::string::npos);
  CHECK(r.out.find("ID=_any") != std::string::npos);  // the merged /usr shows the extension's file
  CHECK_FALSE(fs::exists(root / "usr/bin/kontena-agent"));  // nothing outlives the namespace
}
