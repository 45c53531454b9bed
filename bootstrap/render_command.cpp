#include "bootstrap/render_command.hpp"

#include "cli/cli.hpp"
#include "core/atomic_file.hpp"

#include <iostream>
#include <unistd.h>

namespace kn::bootstrap {

int render_command(const std::filesystem::path& values_file, Format format, const std::filesystem::path& output) {
  auto values = load_values_file(values_file);
  if (!values) return cli::report(values.error());
  auto payload = build_payload(*values, format);
  if (!payload) return cli::report(payload.error());
  auto user_data = make_user_data(*payload, format);
  if (!user_data) return cli::report(user_data.error());

  if (output.empty()) {
    if (user_data->gzipped && ::isatty(STDOUT_FILENO) == 1) {
      return cli::report(fail(Errc::usage, "failed to write user-data: it is gzip'd (binary); use --output FILE or a "
                                           "redirection"));
    }
    std::cout.write(user_data->bytes.data(), static_cast<std::streamsize>(user_data->bytes.size()));
    std::cout.flush();
  } else if (auto st = write_file_atomically(output, user_data->bytes, FileOwnership{.mode = 0600}); !st) {
    // 0600: the user-data holds the grid token.
    return cli::report(st.error());
  }
  std::cerr << "kontena-bootstrap render: " << (format == Format::ignition ? "ignition" : "cloud-config") << ", "
            << user_data->bytes.size() << " bytes" << (user_data->gzipped ? " gzip'd" : "") << " ("
            << user_data->plain_size << " plain) of EC2's " << kUserDataLimit << "-byte limit\n";
  return exit_code::ok;
}

}  // namespace kn::bootstrap
