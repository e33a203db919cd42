"""The agent roster, the CEO agent, specialists and model providers."""
