"""Domain exceptions. Services raise these; the web and API layers map them to
responses (404/403/400/409/402/429), so no service ever knows about HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class DomainError(Exception):
    """Base for errors an operator can be told about in plain words."""

    status_code = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


# One class per kind of refusal, alike by shape: each is its own status code and
# its own ``except`` target, which a table of codes could not give.
class NotFound(DomainError):
    """The thing does not exist *for this account* (we never say whether it exists elsewhere)."""

    status_code = 404


class Forbidden(DomainError):
    """The user's role does not allow this action; ``needs`` names the role that would
    (so a page can say whom to ask for what)."""

    status_code = 403

    def __init__(self, message: str, *, needs: str | None = None,
                 field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.needs = needs


class AccountSuspended(Forbidden):
    """The account is suspended: its members and tokens read, but don't act.

    The one wording of the rule, for pages, htmx toasts, the API and the banner.
    """

    MESSAGE = ("This account is suspended: you can read everything and revoke access, but "
               "not start or change anything else. Contact your admin to reactivate it.")

    def __init__(self) -> None:
        super().__init__(self.MESSAGE)


class InvalidInput(DomainError):
    """The request is well-formed but its content is not acceptable."""

    status_code = 422


class Conflict(DomainError):
    """The action does not fit the thing's current state (e.g. approving a running task)."""

    status_code = 409


class InsufficientCredits(DomainError):
    """The account cannot pay for this work right now."""

    status_code = 402


class RateLimited(DomainError):
    """Too many attempts; try again later (``retry_after`` seconds, when known)."""

    status_code = 429

    def __init__(self, message: str, *, retry_after: int | None = None,
                 field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.retry_after = retry_after


class InvalidPlan(DomainError):
    """The CEO agent's plan breaks a planning rule (cycle, unknown agent, too many tasks)."""

    status_code = 422


class NotAuthenticated(DomainError):
    """No valid login; pages redirect to /login, the API answers 401."""

    status_code = 401


class CsrfFailed(DomainError):
    """A form or htmx post without the right CSRF token."""

    status_code = 403


@contextmanager
def invalid_input(field: str) -> Iterator[None]:
    """A rule's ``ValueError`` as ``InvalidInput`` on ``field``.

    The rules shared with the pydantic forms (an email, a password, a name) raise
    ``ValueError``, which pydantic needs; a service reports the same words this way.
    """
    try:
        yield
    except ValueError as exc:
        raise InvalidInput(str(exc), field=field) from None
