"""The JUnit XML schema Jenkins and GitLab read (tests/schemas/jenkins-junit.xsd, vendored
with its licence), for the tests of harness/outputs/junit.py and pytest's --junitxml."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import xmlschema

XSD = Path(__file__).parent / "schemas" / "jenkins-junit.xsd"


@cache
def _schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(XSD)


def schema_errors(path: Path) -> list[str]:
    """Every way the file at `path` breaks the schema (none: it is valid)."""
    return [f"{e.path}: {e.reason}" for e in _schema().iter_errors(str(path))]
