// Template rendering and escaping: hostile metadata never adds a directive, key or line.
#include "bootstrap/metadata_env.hpp"
#include "bootstrap/template_renderer.hpp"
#include "bootstrap/unit_escape.hpp"
#include "bootstrap/user_data.hpp"
#include "support/catch_result.hpp"

#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

using namespace kn;
using namespace kn::bootstrap;

namespace {

InstanceMetadata metadata_with(std::string public_ipv4) {
  Placement p{.region = "eu-central-1", .availability_zone = "eu-central-1b", .availability_zone_id = "euc1-az3",
              .instance_id = "i-0abc", .instance_type = "t3.small", .lifecycle = "spot",
              .private_ipv4 = "10.0.0.5", .public_ipv4 = std::move(public_ipv4)};
  auto md = InstanceMetadata::collect(&p, LabelSet{});
  REQUIRE(md.has_value());
  return *md;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto nl = text.find('\n', pos);
    lines.push_back(text.substr(pos, nl - pos));
    pos = nl == std::string::npos ? text.size() : nl + 1;
  }
  return lines;
}

// systemd's unquoting of one Environment= value (systemd.syntax(7)): words split on
// unquoted whitespace, quotes removed, C escapes decoded; enough of it to count assignments.
std::vector<std::string> environment_words(const std::string& value) {
  std::vector<std::string> words;
  std::string cur;
  bool in_word = false;
  char quote = 0;
  for (std::size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    if (c == '\\' && i + 1 < value.size()) {
      const char n = value[++i];
      if (n == 'x' && i + 2 < value.size()) {
        cur += static_cast<char>(std::stoi(value.substr(i + 1, 2), nullptr, 16));
        i += 2;
      } else if (n == 't') {
        cur += '\t';
      } else {
        cur += n;
      }
      in_word = true;
    } else if (quote != 0) {
      if (c == quote) quote = 0; else cur += c;
    } else if (c == '"' || c == '\'') {
      quote = c;
      in_word = true;
    } else if (c == ' ' || c == '\t') {
      if (in_word) words.push_back(cur);
      cur.clear();
      in_word = false;
    } else {
      cur += c;
      in_word = true;
    }
  }
  if (in_word) words.push_back(cur);
  return words;
}

}  // namespace

TEST_CASE("template variables render with the zone and keep unknown uppercase variables") {
  auto md = metadata_with("192.0.2.1");
  auto out = render_unit_template("[Service]\nEnvironment=AZ=$az \"ZONE=${availability_zone}\"\n"
                                  "ExecStart=/bin/echo $region \\$az $MAINPID $$\n",
                                  md, "t.service");
  REQUIRE(out.has_value());
  CHECK(*out == "[Service]\nEnvironment=AZ=b \"ZONE=eu-central-1b\"\nExecStart=/bin/echo eu-central-1 $$az $MAINPID $$\n");
}

TEST_CASE("an unknown template variable is refused naming the file and the variable") {
  auto out = render_unit_template("[Service]\nEnvironment=X=$zone\n", metadata_with(""), "/t/x.service");
  REQUIRE_FALSE(out.has_value());
  CHECK(out.error().is(Errc::template_invalid));
  CHECK(out.error().message.find("/t/x.service: line 2") != std::string::npos);
  CHECK(out.error().message.find("$zone") != std::string::npos);
  CHECK(out.error().exit_code() == 78);
}

TEST_CASE("variables in section headers or key names are refused") {
  auto md = metadata_with("");
  CHECK_FALSE(render_unit_template("[$az]\n", md, "t").has_value());
  CHECK_FALSE(render_unit_template("[Service]\nX$az=1\n", md, "t").has_value());
}

TEST_CASE("hostile metadata never yields an extra directive or key or line") {
  const std::string hostile = GENERATE(as<std::string>{}, "1.2.3.4 EVIL=1", "a\"b EVIL=2\"", "x'y EVIL=3'",
                                       "100%h%%", "$HOME ${PATH} $$", "back\\slash\\", "semi ; colon", "tab\there");
  auto md = metadata_with(hostile);
  const std::string tmpl =
      "[Unit]\nDescription=ip $public_ipv4 end\n[Service]\nEnvironment=IP=$public_ipv4 \"Q=$public_ipv4\" OK=1\n"
      "ExecStart=/bin/echo $public_ipv4\n";
  auto out = render_unit_template(tmpl, md, "h.service");
  REQUIRE(out.has_value());
  const auto lines = lines_of(*out);
  REQUIRE(lines.size() == lines_of(tmpl).size());
  CHECK(lines[0] == "[Unit]");
  CHECK(lines[1].starts_with("Description="));
  CHECK(lines[2] == "[Service]");
  REQUIRE(lines[3].starts_with("Environment="));
  const auto words = environment_words(lines[3].substr(std::string("Environment=").size()));
  REQUIRE(words.size() == 3);  // exactly the template's three assignments
  // The value arrives intact after systemd's unquoting ('%%' is a specifier escape).
  std::string expected;
  for (char c : hostile) expected += c == '%' ? std::string("%%") : std::string(1, c);
  CHECK(words[0] == "IP=" + expected);
  CHECK(words[1] == "Q=" + expected);
  CHECK(words[2] == "OK=1");
  CHECK(lines[4].starts_with("ExecStart=/bin/echo "));
  // No unescaped specifier or variable reaches systemd: every % is doubled, every $ too.
  const auto exec = lines[4].substr(std::string("ExecStart=/bin/echo ").size());
  CHECK(exec.find(' ') == std::string::npos);
  for (std::size_t i = 0; i < exec.size(); ++i) {
    if (exec[i] == '%' || exec[i] == '$') {
      REQUIRE(i + 1 < exec.size());
      CHECK(exec[i + 1] == exec[i]);
      ++i;
    }
  }
  CHECK_FALSE(lines[1].ends_with("\\"));
}

TEST_CASE("a comment inside a continued Exec line keeps the continuation and its escaping") {
  // systemd.syntax(7): comment lines after a line ending in a backslash are skipped, and the
  // line goes on after them, so the last line below is still part of ExecStart=.
  auto out = render_unit_template("[Service]\nExecStart=/bin/echo \\\n# a comment\n  $public_ipv4\n",
                                  metadata_with("$HOME 100%"), "t.service");
  REQUIRE(out.has_value());
  CHECK(*out == "[Service]\nExecStart=/bin/echo \\\n# a comment\n  $$HOME\\x20100%%\n");
}

TEST_CASE("a value ending in a backslash at the end of a plain line is refused") {
  auto out = render_unit_template("[Unit]\nDescription=$public_ipv4\n", metadata_with("x\\"), "t");
  REQUIRE_FALSE(out.has_value());
  CHECK(out.error().message.find("backslash") != std::string::npos);
}

TEST_CASE("a value never makes a continued line a comment, and a comment may end in anything") {
  // systemd skips a line starting with # or ; even inside a continuation (conf-parser.c), so
  // "#x" at the start of the continued line would silently drop the argument.
  auto out = render_unit_template("[Service]\nExecStart=/bin/echo \\\n$public_ipv4\n", metadata_with("#x"), "t");
  REQUIRE_FALSE(out.has_value());
  CHECK(out.error().message.find("comment") != std::string::npos);
  // Found by fuzz/fuzz_unit_template.cpp: a comment's last character is not a continuation.
  auto comment = render_unit_template("# ip $public_ipv4\nX=1\n", metadata_with("x\\ "), "t");
  REQUIRE(comment.has_value());
  CHECK(*comment == "# ip x\\ \nX=1\n");
}

TEST_CASE("a newline or NUL in metadata is refused naming the key") {
  const std::string bad = GENERATE(as<std::string>{}, "1.2.3.4\nExecStartPre=/bin/evil", std::string("a\0b", 3), "x\r");
  Placement p{.region = "eu-central-1", .availability_zone = "eu-central-1b", .public_ipv4 = bad};
  auto md = InstanceMetadata::collect(&p, LabelSet{});
  REQUIRE_FALSE(md.has_value());
  CHECK(md.error().is(Errc::template_invalid));
  CHECK(md.error().message.find("KONTENA_AWS_IPV4_PUBLIC ($public_ipv4)") != std::string::npos);
}

TEST_CASE("metadata.env values are quoted for systemd and POSIX shells") {
  CHECK(quote_env_file_value("a\"b$c`d\\e f'") == "\"a\\\"b\\$c\\`d\\\\e f'\"");
  auto md = metadata_with("192.0.2.9");
  const auto env = md.environment(Compat::afterburn);
  const auto text = format_env_file(env);
  CHECK(text.find("KONTENA_AWS_AZ=\"b\"\n") != std::string::npos);
  CHECK(text.find("AFTERBURN_AWS_AVAILABILITY_ZONE=\"eu-central-1b\"\n") != std::string::npos);
  CHECK(text.find("COREOS_EC2_") == std::string::npos);
}

TEST_CASE("cloud-config carries any file text unchanged - literal blocks only where YAML allows") {
  const std::string text = GENERATE(as<std::string>{}, "[Unit]\nDescription=x\n", "  indented first line\nx\n",
                                    "no final newline", "two final newlines\n\n", "\nleading blank line\n",
                                    "spaces only line\n   \nend\n", "tab\there\n", "bell\a and \"quotes\" # not a comment\n",
                                    "key: value\n- item\n");
  CAPTURE(text);
  Payload payload;
  payload.files.push_back({"/etc/kontena/templates/t.service", text, 0644});
  payload.units.push_back({"u.service", text});
  const auto yaml = render_cloud_config(payload);
  REQUIRE(yaml.starts_with("#cloud-config\n"));
  YAML::Node doc;
  REQUIRE_NOTHROW(doc = YAML::Load(yaml));
  CHECK(doc["write_files"][0]["content"].as<std::string>() == text);
  CHECK(doc["coreos"]["units"][0]["content"].as<std::string>() == text);
}
