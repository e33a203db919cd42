"""Validated inputs for accounts: signup, login, invites, tokens."""

from __future__ import annotations

import re

from pydantic import BaseModel, ValidationInfo, field_validator

from web4os.text import Text

EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?"
                      r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+$")
MIN_PASSWORD = 10
COMMON_PASSWORDS = frozenset({
    "password", "password1", "password12", "password123", "1234567890", "12345678910",
    "qwertyuiop", "letmein123", "iloveyou12", "admin12345", "welcome123", "changeme123",
    "passw0rd123", "abc1234567", "qwerty1234", "1q2w3e4r5t", "0123456789", "aaaaaaaaaa",
})


def normalise_email(email: str) -> str:
    """Trim and lower-case; raises ValueError with a readable message if malformed."""
    email = email.strip().lower()
    if len(email) > 254 or not EMAIL_RE.match(email):
        raise ValueError("That doesn't look like an email address (for example name@company.com).")
    return email


def one_line(text: str, *, most: int, too_long: str, missing: str = "") -> str:
    """``text`` with its white space folded to single spaces, at most ``most`` characters.

    Raises ValueError with a readable message; an empty text only when ``missing``
    says what to ask for instead.
    """
    text = " ".join(text.split())
    if missing and not text:
        raise ValueError(missing)
    if len(text) > most:
        raise ValueError(too_long)
    return text


def check_account_name(name: str, missing: str) -> str:
    """The account-name rule of signup, renaming and concierge accounts.

    ``missing`` asks for the name in the words of the form it is typed in.
    """
    return one_line(name, most=120, missing=missing,
                    too_long="Keep the account name under 120 characters.")


def check_display_name(name: str, missing: str = "") -> str:
    """A person's name as their team sees it; required only where ``missing`` asks for it."""
    return one_line(name, most=120, missing=missing, too_long="Keep your name under 120 characters.")


def check_password(password: str, email: str = "") -> str:
    """Minimum strength: length, not common, not the email, some variety."""
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"Use at least {MIN_PASSWORD} characters for your password.")
    if len(password) > 200:
        raise ValueError("Keep the password under 200 characters.")
    lowered = password.lower()
    if lowered in COMMON_PASSWORDS or len(set(password)) < 5:
        raise ValueError("That password is too easy to guess; try a short sentence instead.")
    if email and lowered == email.lower().split("@")[0]:
        raise ValueError("Don't use your email name as the password.")
    return password


class SignupForm(BaseModel):
    email: Text
    password: Text
    account_name: Text
    display_name: Text = ""

    # One validator per field (pydantic's way), each calling its rule above.
    @field_validator("email")
    @classmethod
    def _email(cls, v: str) -> str:
        return normalise_email(v)

    @field_validator("account_name")
    @classmethod
    def _account(cls, v: str) -> str:
        return check_account_name(v, "Name your business or team (you can change it later).")

    @field_validator("display_name")
    @classmethod
    def _display(cls, v: str) -> str:
        return check_display_name(v)

    @field_validator("password")
    @classmethod
    def _password(cls, v: str, info: ValidationInfo) -> str:
        # The email is declared (so validated) first: the same rule as accepting an invite.
        return check_password(v, str(info.data.get("email", "")))
