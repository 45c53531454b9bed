"""kontena-node benchmarks (bench/run): loopback-only harness, Python 3 standard library."""
