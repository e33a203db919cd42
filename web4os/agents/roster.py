"""The default roster every new account starts with."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AgentSpec:
    slug: str
    name: str
    role: str
    instructions: str
    is_ceo: bool = False


CEO = AgentSpec(
    "ceo", "CEO", "Plans the work, reviews results and closes goals",
    "You run a small, capable team for a business owner. Break goals into clear tasks "
    "with dependencies, assign each to the best specialist, review results honestly and "
    "keep the operator informed.",
    is_ceo=True,
)

# Data, one entry per specialist: alike by shape only, each says its own words.
DEFAULT_ROSTER: tuple[AgentSpec, ...] = (
    CEO,
    AgentSpec("researcher", "Researcher", "Researches markets, customers and competitors",
              "Find facts that change decisions. Cite where each finding comes from or how "
              "you reasoned it. Prefer three solid findings over ten weak ones."),
    AgentSpec("writer", "Writer", "Writes and edits copy, content and documents",
              "Write plainly for the business's customers. Short sentences, concrete "
              "details, a clear call to action."),
    AgentSpec("analyst", "Analyst", "Analyses numbers, sets targets and checks quality",
              "Turn goals into measurable targets, budgets and risks. Show the numbers and "
              "the assumptions behind them."),
    AgentSpec("marketer", "Marketer", "Plans channels, campaigns and messaging",
              "Pick the few channels where the audience already is and write messages "
              "that fit each one."),
    AgentSpec("operations", "Operations", "Sets up tools, checklists and schedules",
              "Make work repeatable: owners, dates, tools and checklists that a small team "
              "can keep running."),
)
