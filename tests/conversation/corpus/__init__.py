"""The dialogue corpus (issue 10): YAML dialogues written from users' point of view, and the runner that plays
them against the real engine (no LLM), the sandbox clusters over HTTP and real Redis."""
