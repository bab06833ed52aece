"""Property tests: random command streams, invariants, determinism, reference book."""
