"""laneway's simulated model fleet: an OpenAI-compatible server with latency and faults.

Entry points: `fleet.server.build_app`, `fleet.server.run`, `fleet.server.start` (inside a
running loop, for tests) and `fleet.profiles.load_settings`.
"""
