# Docker engine client and label application (owned by the Docker-labels work).
target_sources(kn_agent PRIVATE)
