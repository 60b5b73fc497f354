"""The reference docs stay true to the code: api.md is current, every exported error and every
database error code the store raises is in errors.md, every CLI command and option is in cli.md,
and every relative link in the docs points at a file (and heading) that exists."""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import click
import pytest

from fdb_election.cli.exit_codes import ExitCode
from fdb_election.cli.main import cli
from fdb_election.embedded.errors import DESCRIPTIONS

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
REFERENCE = DOCS / "reference"

#: Modules whose exported exceptions a user can meet.
ERROR_MODULES = (
    "fdb_election",
    "fdb_election.election",
    "fdb_election.runtime",
    "fdb_election.aio",
    "fdb_election.embedded",
    "fdb_election.connect",
    "fdb_election.cli.exit_codes",
)


def load_generator() -> ModuleType:
    """tools/gen_api_reference.py, imported from its path (tools/ is not a package)."""
    path = ROOT / "tools" / "gen_api_reference.py"
    spec = importlib.util.spec_from_file_location("gen_api_reference", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("gen_api_reference", module)
    spec.loader.exec_module(module)
    return module


# -- api.md ---------------------------------------------------------------------------------


def test_api_reference_is_current(capsys: pytest.CaptureFixture[str]) -> None:
    status = load_generator().main(["--check"])
    assert status == 0, capsys.readouterr().err


def test_check_mode_reports_a_stale_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = tmp_path / "api.md"
    stale.write_text("# API reference\n\nout of date\n", encoding="utf-8")
    assert load_generator().main(["--check", "--output", str(stale)]) == 1
    assert "is stale" in capsys.readouterr().err


def test_api_reference_documents_every_top_level_name() -> None:
    import fdb_election

    text = (REFERENCE / "api.md").read_text(encoding="utf-8")
    missing = [name for name in fdb_election.__all__ if f"`{name}`" not in text]
    assert not missing, f"api.md does not mention {missing}"


# -- errors.md ------------------------------------------------------------------------------


def exported_errors() -> Iterator[tuple[str, type[BaseException]]]:
    """(qualified name, class) of every exception class a public module exports."""
    seen: set[type[BaseException]] = set()
    for module_name in ERROR_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            obj = getattr(module, name)
            if isinstance(obj, type) and issubclass(obj, BaseException) and obj not in seen:
                seen.add(obj)
                yield f"{module_name}.{name}", obj


#: Lines that make an error: ``FDBError(1020)``, ``FDBError(1025 if ... else 2017)``, and the
#: helpers ``_defer(2006)``, ``_cancel(1025)``, ``_fail_watches(1025)``.
_RAISING = re.compile(r"(?:FDBError|_defer|_cancel|_fail_watches)\(")


def raised_codes() -> set[int]:
    """Every literal ``FDBError(code)`` the embedded store's source can raise."""
    codes: set[int] = set()
    for path in (ROOT / "src" / "fdb_election" / "embedded").glob("*.py"):
        for line in path.read_text("utf-8").splitlines():
            if _RAISING.search(line):
                codes |= {int(code) for code in re.findall(r"\b[12]\d{3}\b", line)}
    return codes


def errors_text() -> str:
    return (REFERENCE / "errors.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "name, error", [pytest.param(name, error, id=name) for name, error in exported_errors()]
)
def test_every_exported_error_is_in_errors_md(name: str, error: type[BaseException]) -> None:
    described = re.search(rf"`(?:[\w.]+\.)?{error.__name__}`", errors_text()) is not None
    assert described, f"{name} is not described in errors.md"


def test_every_code_the_store_raises_or_names_is_in_errors_md() -> None:
    codes = raised_codes()
    assert {1007, 1020, 1021, 2017}.issubset(codes), "the source scan found too few codes"
    codes |= set(DESCRIPTIONS)
    text = errors_text()
    missing = sorted(code for code in codes if not re.search(rf"\b{code}\b", text))
    assert not missing, f"errors.md does not describe FoundationDB error codes {missing}"


def test_every_fixed_exit_code_is_in_errors_md_and_cli_md() -> None:
    cli_text = (REFERENCE / "cli.md").read_text(encoding="utf-8")
    for code in ExitCode:
        for doc, text in (("errors.md", errors_text()), ("cli.md", cli_text)):
            assert re.search(rf"^\| {int(code)} \|", text, re.M), f"{doc}: no row for exit {code}"


# -- cli.md ---------------------------------------------------------------------------------


def commands(group: click.Command, path: tuple[str, ...] = ()) -> Iterator[Any]:
    """(path, command) for every command under ``group``, the group itself included."""
    yield path, group
    if isinstance(group, click.Group):
        ctx = click.Context(group)
        for name in group.list_commands(ctx):  # sorted; the main group imports them lazily
            command = group.get_command(ctx, name)
            assert command is not None, name
            yield from commands(command, (*path, name))


def long_options(command: click.Command) -> list[str]:
    return [
        opt
        for param in command.params
        for opt in (*param.opts, *param.secondary_opts)
        if opt.startswith("--")
    ]


def cli_sections() -> dict[str, str]:
    """cli.md split at its ``## `` headings: heading line -> text up to the next one."""
    text = (REFERENCE / "cli.md").read_text(encoding="utf-8")
    parts = re.split(r"^(## .*)$", text, flags=re.M)
    sections = {"": parts[0]}
    for heading, body in zip(parts[1::2], parts[2::2], strict=True):
        sections[heading] = heading + body
    return sections


def section_for(path: tuple[str, ...]) -> str:
    """The text of the sections whose heading names the command ``path`` in code."""
    sections = cli_sections()
    if not path:
        return sections[""]
    name = " ".join(path)
    found = [
        body
        for heading, body in sections.items()
        if f"`{name}`" in heading or f"`{name} " in heading
    ]
    assert found, f"cli.md has no '## `{name} ...`' section"
    return "\n".join(found)


@pytest.mark.parametrize(
    "path, command",
    [
        pytest.param(path, command, id=" ".join(path) or "fdb-election")
        for path, command in commands(cli)
    ],
)
def test_cli_md_documents_every_command_and_option(
    path: tuple[str, ...], command: click.Command
) -> None:
    shared = set(long_options(cli)) if path else set()
    text = section_for(path)
    missing = [opt for opt in long_options(command) if opt not in shared and opt not in text]
    where = " ".join(path) or "the introduction"
    assert not missing, f"cli.md ({where}) does not mention {missing}"


# -- links ----------------------------------------------------------------------------------

_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def markdown_files() -> list[Path]:
    return sorted([ROOT / "README.md", *DOCS.rglob("*.md")])


def relative_links(path: Path) -> Iterator[str]:
    """Targets of the Markdown links in ``path`` that are not URLs (code skipped)."""
    fenced = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            continue
        for target in _LINK.findall(re.sub(r"`[^`]*`", "", line)):
            if not re.match(r"[a-z][a-z0-9+.-]*:", target):
                yield target


def broken_links(path: Path) -> list[str]:
    anchors_of = load_generator().heading_anchors
    broken: list[str] = []
    for target in relative_links(path):
        file_part, _, anchor = target.partition("#")
        destination = (path.parent / file_part).resolve() if file_part else path
        if not destination.exists():
            broken.append(f"{target} (no such file)")
        elif (
            anchor
            and destination.suffix == ".md"
            and anchor not in anchors_of(destination.read_text(encoding="utf-8"))
        ):
            broken.append(f"{target} (no such heading)")
    return broken


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(path: Path) -> None:
    broken = broken_links(path)
    assert not broken, f"{path.relative_to(ROOT)}: broken links {broken}"


def test_link_check_finds_a_missing_file_and_a_missing_heading(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Title\n\n## A `code` heading\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](other.md#a-code-heading) [gone](missing.md) [bad](other.md#nope) "
        "[url](https://example.com/x.md) `[code](missing.md)`\n",
        encoding="utf-8",
    )
    assert broken_links(page) == ["missing.md (no such file)", "other.md#nope (no such heading)"]
