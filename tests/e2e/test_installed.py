"""Installed like any tool (issue 22, items 1 and 2): the wheel built from this checkout,
installed with pip into a fresh virtual environment and, separately, with pipx, works
from an empty folder: the shipped catalogue and topologies are found, runs land in
./results, `new` and `import` write where the user is, and nothing is written inside the
environment.  Other kernels need the extra `kernels`, and say so in one line without it.

pip fetches the build backend and the dependencies from the package index (pip's cache
makes it quick after the first time), as `pip install` and `pipx install` do for a user.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from harness.core.env import DISTRIBUTION, PROJECT_ROOT
from harness.runs.store import read_run
from tests.conftest import needs_root
from tests.unit.test_import_anywhere import CASE, LISTING

pytestmark = [needs_root, pytest.mark.kernel, pytest.mark.slow]


def _index_reachable() -> bool:
    """Whether the package index's name resolves: not so in a namespace without network
    (scripts/test runs the suite a second time inside `unshare --net`)."""
    try:
        socket.getaddrinfo("pypi.org", 443, proto=socket.IPPROTO_TCP)
    except OSError:
        return False
    return True


@pytest.fixture(autouse=True, scope="module")
def _package_index() -> None:
    if not _index_reachable():
        pytest.skip("the package index is unreachable here (no network): pip and pipx need it")


# A quick claim of the catalogue (3 cases, about 2 s) and its file.
SHIPPED_CLAIM = "dontroute-next-hop-is-destination"
SHIPPED_FILE = f"scenarios/dontroute/{SHIPPED_CLAIM}.yaml"
EXTRA_LINE = (
    "other kernels need the extra 'kernels' (virtme-ng, python-debian not installed): "
    f"pip install '{DISTRIBUTION}[kernels]'"
)


def _env(home: Path) -> dict[str, str]:
    """This process's environment without what points into the clone or its .venv."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = "/usr/sbin:/usr/bin:/sbin:/bin"
    env["HARNESS_CACHE"] = str(home / "cache")  # `harness kernels list` reads an empty one
    return env


def _call(args: list[str | Path], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, f"{args}: {done.stdout}{done.stderr}"
    return done.stdout


def _listing(root: Path, bytecode: bool = True) -> dict[str, tuple[int, int]]:
    """Every file and folder below root: size and modification time (without Python's
    bytecode cache, which the interpreter writes at a first import, unless `bytecode`)."""
    return {
        str(p.relative_to(root)): (p.lstat().st_size, p.lstat().st_mtime_ns)
        for p in root.rglob("*")
        if bytecode or "__pycache__" not in p.parts
    }


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    home = tmp_path_factory.mktemp("home")
    command: list[str | Path] = [sys.executable, "-m", "pip", "wheel", PROJECT_ROOT]
    command += ["--no-deps", "-q", "-w", out]
    _call(command, out, _env(home))
    (built,) = out.glob("*.whl")
    assert built.name.startswith(DISTRIBUTION.replace("-", "_") + "-")
    return built


def _verdicts(run: Path) -> dict[str, str]:
    """scenario/case -> verdict of a run folder."""
    info, records = read_run(run)
    assert info is not None and info.finished
    return {f"{r.scenario}/{r.case}": str(r.verdict) for r in records}


def test_pip_install_works_from_an_empty_folder(tmp_path: Path, wheel: Path) -> None:
    env = _env(tmp_path)
    _call([sys.executable, "-m", "venv", tmp_path / "env"], tmp_path, env)
    venv = tmp_path / "env"
    _call([venv / "bin/python", "-m", "pip", "install", "-q", wheel], tmp_path, env)
    # Without the interpreter's own bytecode cache: Debian's python3.11 (CI's fresh
    # machine) writes some at a first import although pip compiled them at install.
    before = _listing(venv, bytecode=False)
    here = tmp_path / "work"
    here.mkdir()

    def harness(*args: str | Path, code: int = 0) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [venv / "bin/harness", *args], cwd=here, env=env, capture_output=True, text=True
        )
        assert done.returncode == code, f"{args}: {done.stdout}{done.stderr}"
        return done

    (shipped,) = venv.glob(f"lib/python3*/site-packages/harness/_catalogue/{SHIPPED_FILE}")
    # The shipped catalogue is listed by the paths `harness run` takes for it.
    assert f"\n{SHIPPED_FILE}" in harness("list").stdout
    harness(
        "run",
        f"{SHIPPED_FILE}::dontroute-skips-preferred-gateway-route",
        "-n",
        "0",
        "--results-dir",
        "one",
    )
    assert _verdicts(here / "one") == {
        f"{SHIPPED_CLAIM}/dontroute-skips-preferred-gateway-route": "pass"
    }
    # No path: the shipped catalogue, one claim of it selected; results in ./results.
    harness("run", "-k", SHIPPED_CLAIM, "-n", "0")
    (run,) = (here / "results").glob("2*")
    assert set(_verdicts(run).values()) == {"pass"} and len(_verdicts(run)) == 3
    # A catalogue file copied here names its topology: it comes from the shipped ones.
    (here / "mine.yaml").write_bytes(shipped.read_bytes())
    harness("run", "mine.yaml", "-n", "0", "--results-dir", "mine")
    assert _verdicts(here / "mine") == {
        "mine/dontroute-skips-preferred-gateway-route": "pass",
        "mine/control-gateway-route-without-option": "pass",
    }
    # A claim of one's own: imported from a listing into this folder, then run.
    (here / "lab.sh").write_text(LISTING)
    harness("import", "lab.sh")
    assert sorted(p.name for p in here.glob("lab*.yaml")) == ["lab.topology.yaml", "lab.yaml"]
    (here / "lab.yaml").write_text((here / "lab.yaml").read_text() + CASE)
    harness("run", "lab.yaml", "-n", "0")
    (own,) = set((here / "results").glob("2*")) - {run}
    assert _verdicts(own) == {"lab/a-reaches-b": "pass"}
    assert harness("new", "x.yaml").stdout.startswith("wrote x.yaml:")
    assert harness("new", "y").stdout.startswith("wrote y.yaml:")
    assert (here / "x.yaml").is_file() and (here / "y.yaml").is_file()
    assert harness("report", run).stdout == f"{run}/report.html\n"
    assert harness("doctor").stdout.splitlines()[-1] == "ok"
    kernels = harness("kernels", "list", code=2)
    assert kernels.stderr == f"harness kernels list: {EXTRA_LINE}\n"
    on_a_kernel = harness("run", "mine.yaml", "--kernel", "6.1", code=2)
    assert on_a_kernel.stderr == f"harness run: --kernel 6.1: {EXTRA_LINE}\n"
    assert _listing(venv, bytecode=False) == before, "a command wrote inside the environment"
    # With the extra, `harness kernels` works.
    extra = f"{DISTRIBUTION}[kernels] @ {wheel.as_uri()}"
    _call([venv / "bin/python", "-m", "pip", "install", "-q", extra], tmp_path, env)
    assert harness("kernels", "list").stdout == (
        f"no kernels in {tmp_path / 'cache' / 'kernels'}; fetch some with "
        "`harness kernels fetch 5.10 6.1 6.12`\n"
    )


def test_pipx_install_works_from_an_empty_folder(tmp_path: Path, wheel: Path) -> None:
    env = _env(tmp_path)
    # pipx itself, from the package index, in an environment of its own.
    _call([sys.executable, "-m", "venv", tmp_path / "pipx"], tmp_path, env)
    _call([tmp_path / "pipx/bin/python", "-m", "pip", "install", "-q", "pipx"], tmp_path, env)
    env |= {"PIPX_HOME": str(tmp_path / "pipx-home"), "PIPX_BIN_DIR": str(tmp_path / "bin")}
    _call([tmp_path / "pipx/bin/pipx", "install", wheel], tmp_path, env)
    # pipx leaves compiling to the first import (pip compiles at install): Python's own
    # cache aside, nothing in pipx's environments may change.
    before = _listing(tmp_path / "pipx-home", bytecode=False)
    here = tmp_path / "work"
    here.mkdir()
    harness = tmp_path / "bin" / "harness"
    assert f"\n{SHIPPED_FILE}" in _call([harness, "list"], here, env)
    _call([harness, "run", "-k", SHIPPED_CLAIM, "-n", "0"], here, env)
    (run,) = (here / "results").glob("2*")
    assert set(_verdicts(run).values()) == {"pass"} and len(_verdicts(run)) == 3
    assert _call([harness, "doctor"], here, env).splitlines()[-1] == "ok"
    after = _listing(tmp_path / "pipx-home", bytecode=False)
    assert after == before, "a command wrote inside pipx's environment"
