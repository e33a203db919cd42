"""MCP servers an account connects its agents to, their tools, and each agent's tool policy."""
