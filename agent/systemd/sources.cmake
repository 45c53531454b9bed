# systemd integration: service manager over sd-bus, sd_notify.
target_sources(kn_agent PRIVATE)
