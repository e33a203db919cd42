"""The credit invariant the suite checks after every test: ledger and balance agree."""

from __future__ import annotations

from sqlalchemy import func, select

from web4os.accounts.models import Account
from web4os.credits.models import CreditLedgerEntry
from web4os.db import session_factory


def assert_ledgers_balance(url: str) -> dict[int, int]:
    """Each account's ledger sums to its balance (issue #6); the balances, by account."""
    with session_factory(url)() as s:
        sums = dict(s.execute(select(CreditLedgerEntry.account_id,
                                     func.sum(CreditLedgerEntry.amount))
                              .group_by(CreditLedgerEntry.account_id)).all())
        balances: dict[int, int] = {}
        for account_id, balance in s.execute(select(Account.id, Account.credit_balance)):
            assert sums.get(account_id, 0) == balance, (
                f"account {account_id}: ledger {sums.get(account_id, 0)} != balance {balance}")
            balances[account_id] = balance
    return balances
