#pragma once

// Raw-socket checks of a TCPStore's port before c10d is handed the address.
// c10d's TCPStore trusts whatever answers on its port: in LibTorch 1.13 a
// client waits without a limit for a listener that never answers, and reads
// lengths (of keys, of values) from the network and allocates them, also on
// a background thread where a std::bad_alloc ends the process. These checks
// speak no c10d protocol, so they fit every LibTorch version.

#include <chrono>
#include <cstdint>
#include <string>

namespace nrnm {

using Deadline = std::chrono::steady_clock::time_point;

/// Whether a TCP port cannot be listened on by this process (another
/// program, or another rank 0, already listens there): the all-interfaces
/// bind a TCPStore server makes, tried and released at once.
bool port_in_use(int64_t port);

enum class ProbeResult {
  kQuiet,      // something accepted the connection and said nothing (as a TCPStore server does)
  kSpoke,      // it sent bytes or closed first: a TCPStore server never does
  kNoListener  // nothing accepted a connection before the deadline
};

/// Connects to host:port (retrying while nothing listens, until `deadline`),
/// then waits up to `listen_ms` for the listener to speak first.
ProbeResult probe_store(const std::string &host, int64_t port, Deadline deadline, int listen_ms = 300);

}  // namespace nrnm
