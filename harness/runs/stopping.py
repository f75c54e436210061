"""How a run stops: Ctrl-C and SIGTERM (what CI sends to cancel a job) end it as an
interrupted run, whose files are still written, marked interrupted.

A signal's KeyboardInterrupt can be lost (raised inside code that swallows it: seen
once in the kill trials, a run that went on to its end with exit 0), so the signal is
also noted and the next case that ends raises it again (`raise_if_signalled`).
"""

from __future__ import annotations

import signal
import threading

_signalled: list[str] = []  # the signals that asked this process to stop, not yet raised


def stop_on_signals() -> None:
    """SIGTERM, and SIGINT unless it was ignored when the process started (a shell's
    background job), raise KeyboardInterrupt; only the main thread may set handlers."""
    if threading.current_thread() is not threading.main_thread():
        return
    signal.signal(signal.SIGTERM, _interrupt)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _interrupt)


def _interrupt(signum: int, frame: object) -> None:
    _signalled.append(signal.Signals(signum).name)
    raise KeyboardInterrupt(f"signal {_signalled[-1]}")


def raise_if_signalled() -> None:
    """Raise the KeyboardInterrupt of a signal that came and may have been lost."""
    if _signalled:
        raise KeyboardInterrupt(f"signal {_signalled.pop()}")


def hold_signals() -> None:
    """While the run's files are written: a second Ctrl-C or SIGTERM must not cut them short."""
    if threading.current_thread() is threading.main_thread():
        for stop in (signal.SIGINT, signal.SIGTERM):
            signal.signal(stop, signal.SIG_IGN)
