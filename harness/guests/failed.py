"""pytest plugin of a worker whose guest kernel did not boot: every case is an error.

The launcher loads it (PYTEST_PLUGINS) into the host Python it runs instead of
the guest's, with HARNESS_GUEST_ERROR saying why; no case runs on the host in
the guest's name.
"""

from __future__ import annotations

import os

import pytest


class GuestBootError(Exception):
    """The kernel this worker stands for did not boot."""


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Fail the set-up of every case, so pytest reports it as an error, with the reason."""
    kernel = os.environ.get("HARNESS_GUEST_KERNEL", "?")
    raise GuestBootError(
        f"guest kernel {kernel}: {os.environ.get('HARNESS_GUEST_ERROR', 'did not boot')}"
    )
