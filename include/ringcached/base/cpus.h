// base/cpus.h -- how many CPUs this process can use: the CPUs of its affinity mask (taskset,
// cpusets), fewer if a cgroup v2 CPU quota (`cpu.max`: docker --cpus, systemd CPUQuota=) on its
// cgroup or an ancestor allows less. The server sizes its worker threads by it (server.cc): an
// event-loop worker never blocks, so one more than there are CPUs only adds context switches
// and a scheduler-slice wait for the connections of the worker that is not running.
#pragma once

#include <string_view>

namespace rc::base {

// The CPUs one cgroup v2 `cpu.max` line grants: "max 100000" (no quota) gives 0, meaning no
// limit; "150000 100000" gives 2 (a quota is rounded up to whole CPUs); a malformed line gives 0.
int CpusFromQuota(std::string_view cpu_max);

// The CPUs this process can use now, at least 1 (see above). Reads /proc and /sys; call it at
// start-up, not on a request path.
int UsableCpus();

}  // namespace rc::base
