"""Test helpers shared by the suites and the benchmarks: the server process and SIPp."""
