// A process-wide stop request for the waits before an event loop owns the signals: the
// IMDS retries and the Docker verification at start can take up to a minute, and SIGTERM
// (systemctl stop) must end them within a second. SteadyClock sleeps in short slices and
// reports stopped(), so every loop that waits through a Clock can give up early.
#pragma once

namespace kn::stop_signal {

// SIGTERM and SIGINT set the request (async-signal-safe: one lock-free atomic store);
// SIGHUP is caught and does nothing (settings are read at start only).
void install();

// Puts the default actions of SIGTERM and SIGINT back (an event loop that installs its own
// handlers calls this); SIGHUP stays caught for that loop to take over.
void uninstall();

bool requested() noexcept;

// True between install() and uninstall(): only then can a signal set the request, so only then
// must a wait look at it (StoppableClock).
bool installed() noexcept;

// For tests: sets or clears the request as a signal would.
void set(bool value) noexcept;

}  // namespace kn::stop_signal
