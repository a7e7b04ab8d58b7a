"""The ``.env`` file of the working directory, read by the app and the worker beside the
environment (a variable set, non-empty, in the environment wins over the file).

pydantic-settings reads the file for the settings classes; this module checks it first,
because python-dotenv skips a line it cannot parse with a mere warning, and a skipped
``BITMART_REST_URL`` line would send the worker to the default host. A malformed line stops
the process in one line that names the line and, where it can be read, the variable: never
its value, which may be a secret. Imports nothing of ours (the app and the worker both use
it and may not import each other).
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Mapping
from pathlib import Path

from dotenv import dotenv_values
from dotenv.parser import parse_stream

ENV_FILE = Path(".env")
"""Relative: the working directory's ``.env``, as the seed's processes expect."""

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class EnvFileError(ValueError):
    """The file cannot be used; ``str()`` is one line naming the file, the line and the
    variable where known."""


def read_env_file(path: Path = ENV_FILE) -> dict[str, str]:
    """The variables ``path`` sets (``{}`` when there is no such file), checked line by line;
    ``${NAME}`` references are expanded as pydantic-settings expands them."""
    if not path.is_file():
        return {}
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise EnvFileError(f"{path}: not UTF-8 text") from exc
    except OSError as exc:
        raise EnvFileError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    for binding in parse_stream(io.StringIO(text)):
        line = binding.original.line
        if binding.error:
            raise EnvFileError(f"{path} line {line}: {_unparsable(binding.original.string)}")
        if binding.key is None:  # a blank or comment line
            continue
        if not _NAME.fullmatch(binding.key):
            raise EnvFileError(
                f"{path} line {line}: {binding.key[:40]!r} is not a variable name "
                "(letters, digits and _)"
            )
        if binding.value is None:
            raise EnvFileError(
                f"{path} line {line}: {binding.key} has no '=' (write {binding.key}=value)"
            )
    values = dotenv_values(stream=io.StringIO(text))
    return {name: value for name, value in values.items() if value is not None}


def _unparsable(original: str) -> str:
    """What is wrong with a line python-dotenv could not parse, naming its variable when the
    text before ``=`` reads as one; the value is never repeated."""
    head, equals, _rest = original.partition("=")
    name = head.strip().removeprefix("export ").strip()
    if equals and _NAME.fullmatch(name):
        return f"{name}: the value cannot be parsed (an unclosed quote?)"
    return "not NAME=value"


def environment_with_env_file(
    path: Path = ENV_FILE, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment over the file: what a process configured by either one sees. An empty
    variable counts as unset, as in the settings classes."""
    environ = os.environ if environ is None else environ
    merged = read_env_file(path)
    merged.update({name: value for name, value in environ.items() if value})
    return merged


def only_in_file(
    name: str, in_file: Mapping[str, str], environ: Mapping[str, str] | None = None
) -> bool:
    """Whether ``name`` takes its value from the file (it is not set in the environment), so
    an error about it can say where to fix it."""
    environ = os.environ if environ is None else environ
    return name in in_file and not environ.get(name)
