// The label merge into dockerd's configuration file, as a pure function: the file's text
// in, the new text out (or a Failure naming the file and the parser's position). No I/O,
// so every case is a table test (tests/docker/daemon_json_test.cpp).
//
// Rules (https://docs.docker.com/engine/reference/commandline/dockerd/#daemon-configuration-file):
// - every key other than "labels" is kept, with its value and in its order;
// - "labels" is an array of "key=value" strings; entries whose key the agent manages (the
//   keys of the wanted LabelSet) get the wanted value; entries with a key the agent derives
//   (label_key::derived) that is not wanted any more are removed; every other entry is kept;
// - the agent never adds keys other than "labels" (on Flatcar, `hosts`, `containerd` and
//   `selinux-enabled` come as dockerd flags, and a key given both ways stops dockerd).
#pragma once

#include "core/error.hpp"
#include "core/labels.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kn::docker {

// A managed label whose value in the file differed from the wanted one.
struct ReplacedLabel {
  std::string key;
  std::string old_value;
  std::string new_value;
};

struct MergedConfig {
  std::string text;                    // the file's new content (the old one when !changed)
  bool changed = false;                // false: the file already holds the wanted labels
  std::vector<std::string> labels;     // the "labels" array after the merge, in file order
  std::vector<ReplacedLabel> replaced;  // managed keys whose value changed
  std::vector<std::string> added;      // managed labels that were missing ("key=value")
  std::vector<std::string> removed;    // derived labels no longer wanted ("key=value")
  std::vector<std::string> keys;       // the top-level keys after the merge, in order
};

// `current` is the file's content, or nullopt when the file does not exist. `file_name`
// only appears in messages. Errors: Errc::docker_config_invalid (not JSON: with line and
// column; top level not an object; "labels" not an array of "key=value" strings).
Result<MergedConfig> merge_labels(std::optional<std::string_view> current, const LabelSet& wanted,
                                  std::string_view file_name);

// The "labels" array of a daemon.json text (empty when the key is absent), with the same
// errors as merge_labels. Used to tell what dockerd should show after a reload.
Result<std::vector<std::string>> labels_in_config(std::optional<std::string_view> current, std::string_view file_name);

}  // namespace kn::docker
