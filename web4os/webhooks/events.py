"""The events an endpoint may subscribe to: the notification events (the names are
the contract shared with ``notifications.events``), and the test event an owner sends by
hand, which goes to the one endpoint it is sent to whatever that endpoint chose."""

from __future__ import annotations

EVENTS: dict[str, str] = {
    "card.needs_review": "A card waits for your approval",
    "tool_call.waiting": "A tool call waits for your approval",
    "card.failed": "A card failed and waits for you",
    "goal.completed": "A goal finished",
    "work.blocked": "Work stopped for credits or a cap",
    "routine.failed": "A routine's run could not start or its goal failed",
    "credits.low": "Credits fell below the low-credit threshold",
    "budget.warning": "A monthly budget passed its warning threshold",
}
TEST_EVENT = "webhook.test"
