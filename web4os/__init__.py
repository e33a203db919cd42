"""web4os: an agentic operating system for people who run a business."""

__version__ = "0.1.0"
