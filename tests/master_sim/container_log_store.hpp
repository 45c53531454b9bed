// The master's ContainerLog collection (kontena v1.5.4: server/app/models/container_log.rb):
// the lines agents sent with /containers/log_batch, in arrival order. Ids are ObjectId-like
// (24 hex digits) and grow with each line, so "after id X" is a string comparison, as the
// real master's `:id.gt => from` is on ObjectIds.
#pragma once

#include "kontena_time.hpp"

#include <cstdint>
#include <deque>
#include <string>

namespace kn::master_sim {

struct ContainerLog {
  std::string id;
  std::string grid;
  std::string service_id;    // GridService id
  std::string container_id;  // Docker id
  std::string name;          // the container's name
  int instance_number = 0;
  SysTime created_at;        // the agent's time of the line
  std::string type;          // stdout | stderr
  std::string data;
};

class ContainerLogStore {
 public:
  // Stores `log` with a fresh id.
  void add(ContainerLog log);
  const std::deque<ContainerLog>& all() const { return logs_; }

 private:
  std::deque<ContainerLog> logs_;
  std::uint64_t next_ = 0;
};

}  // namespace kn::master_sim
