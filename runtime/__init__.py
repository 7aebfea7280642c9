"""Lua procedure runtime: loading, sandbox, primitives, durable replay. Knows nothing of Slack."""
