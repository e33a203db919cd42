"""Address-guard tests: a fake resolver and a connect guard for every test here."""

from tests.support.net import connect_guard, fake_dns

__all__ = ["connect_guard", "fake_dns"]
