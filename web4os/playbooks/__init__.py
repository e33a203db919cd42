"""Playbooks: an account's setup as one versioned YAML document, exported, previewed and imported."""
