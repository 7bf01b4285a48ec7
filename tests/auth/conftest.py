"""Fixtures of the account tests: a store with a clock the tests move (no sleeping) and a cheap
Argon2id cost (the default costs ~0.4 CPU s a hash: tests hash dozens)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from silicio.auth import AuthStore, PasswordCost

#: The smallest Argon2id cost (RFC 9106 section 3.1: memory at least 8 KiB a lane).
CHEAP = PasswordCost(iterations=1, lanes=1, memory_kib=8)
PASSWORD = "correct horse battery staple"


class Clock:
    """A clock that stands still until told to move."""

    def __init__(self, start: datetime = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path, clock):
    with AuthStore.at(tmp_path / "data", clock=clock, password_cost=CHEAP) as opened:
        yield opened
