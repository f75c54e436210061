"""A probe's `iif`, `src` and `flowlabel` (the input lookup `ip route get DST from SRC iif
DEV` asks): what the recorded lookup is asked, and each mistake named in one line, exit 2.
The kernel's answers, beside `ip -j route get`, are tests/kernel/test_input_lookup.py's."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import main
from harness.scenario import Probe, ScenarioError, load_scenario
from tests.unit.test_bad_input import PROBE, with_probe

V4 = {"dst": "192.0.2.2", "src": "192.0.2.3", "iif": "eth0"}
V6 = {"dst": "2001:db8::2", "src": "2001:db8::3", "iif": "eth0"}


def test_an_input_lookup_names_its_interface_and_source() -> None:
    probe = Probe.model_validate({"host": "a", **V4, "tos": 0x10})
    assert dict(probe.interfaces()) == {"iif": "eth0"}
    assert "lookup from 192.0.2.3 iif eth0" in probe.describe()
    labelled = Probe.model_validate({"host": "a", **V6, "flowlabel": 0xFFFFF})
    assert "flowlabel 0xfffff" in labelled.describe()
    # a port only may still be bound: the lookup's source port
    assert Probe.model_validate({"host": "a", **V4, "bind": ":666"}).bind_address() == ("", 666)


BAD = {
    "iif-unknown-interface": ({**V4, "iif": "eth9"}, "iif", "host 'a' has no interface 'eth9'"),
    "iif-without-src": ({**V4, "src": None}, "iif", "needs the arriving packet's source"),
    "src-without-iif": ({**V4, "iif": None}, "src", "with 'iif' the source of the packet"),
    "src-other-family": ({**V4, "src": "2001:db8::3"}, "src", "not of one IP family"),
    "src-outside": ({**V4, "src": "10.0.0.3"}, "src", "10.0.0.3 is outside"),
    "flowlabel-without-iif": (
        {"dst": "2001:db8::2", "flowlabel": 1},
        "flowlabel",
        "give 'iif' and 'src' too",
    ),
    "flowlabel-ipv4": ({**V4, "flowlabel": 1}, "flowlabel", "IPv6 header field"),
    "flowlabel-too-big": ({**V6, "flowlabel": 0x100000}, "flowlabel", "less than or equal"),
    "iif-with-uid": ({**V4, "uid": 100}, "uid", "no socket owner"),
    "iif-with-bind-device": ({**V4, "bind_device": "eth0"}, "bind_device", "no output interface"),
    "iif-with-bind-address": ({**V4, "bind": "192.0.2.1"}, "bind", "'bind' may give a port only"),
    "iif-on-raw": (
        {**V4, "proto": "raw", "iface": "eth0", "eth_dst": "02:00:00:00:00:01"},
        "iif",
        "not raw",
    ),
}


@pytest.mark.parametrize(("fields", "field", "problem"), BAD.values(), ids=BAD)
def test_input_lookup_mistakes_exit_2_with_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fields: dict[str, object],
    field: str,
    problem: str,
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(with_probe(**{k: v for k, v in fields.items() if v is not None}))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert caught.value.field == f"{PROBE}.{field}"
    assert problem in caught.value.problem
    assert main(["list", str(path)]) == 2
    out, err = capsys.readouterr()
    (line,) = err.splitlines()
    assert out == "" and line.startswith(f"harness list: {path}: {PROBE}.{field}: ")
