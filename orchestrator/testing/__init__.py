"""In-memory fakes of the drivers' Protocols, for tests and benchmarks: the agent
and the site loops run against them without a daemon or a kernel."""
