"""Every code block of README.md is checked: it runs as pasted, or it is a fragment of a runnable example.

How a block is marked: an HTML comment on the line before its fence (blank lines between are fine),
``<!-- readme-test: KIND ... -->``, one of

- ``run [check=NAME]``: the block runs as pasted (python: ``python -c``; bash: ``bash -c`` with this
  interpreter's ``vecrank`` on PATH), offline, in an empty temporary folder that holds the files of the
  ``file`` blocks above it; it must exit 0. ``check=NAME`` also applies ``CHECKS[NAME]`` below to
  what it printed.
- ``file NAME``: the block is saved as NAME for the ``run`` blocks after it (a ``vecrank.toml``, say).
- ``fragment examples/FILE.py [given=a,b]``: part of a program. It must parse and use no name that it
  does not define itself (imports included) except builtins and the ``given`` ones, which FILE.py must
  define; FILE.py is a top-level example, so ``tests/test_examples.py`` runs it.

A ``python`` block needs a mark. Unmarked blocks are checked too: ``bash`` blocks parse (``bash -n``)
and each ``vecrank ...`` command in them has options the command line accepts; ``toml`` blocks parse,
and one made of vecrank config tables (``[defaults]``, ``[collections.*]``, ``[ray]``) loads as a
config. Blocks in other languages, or in none (program output), are not checked.
"""

from __future__ import annotations

import ast
import builtins
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
EXAMPLES = ROOT / "examples"
MARK = re.compile(r"^<!--\s*readme-test:\s*(\w+)\s*(.*?)\s*-->$")
FENCE = re.compile(r"^```(\w*)\s*$")


@dataclass
class Block:
    """One fenced code block of the README, with its mark (if any)."""

    line: int
    language: str
    text: str
    kind: str | None = None
    target: str | None = None  # the file of a `file` or `fragment` mark
    options: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"L{self.line}-{self.language or 'text'}"


def read_blocks(text: str) -> list[Block]:
    """The README's fenced blocks in order; a mark is the last non-blank line before a fence."""
    blocks, lines, number = [], text.splitlines(), 0
    while number < len(lines):
        opening = FENCE.match(lines[number])
        if not opening:
            number += 1
            continue
        end = lines.index("```", number + 1)
        block = Block(number + 1, opening.group(1), "\n".join(lines[number + 1 : end]) + "\n")
        before = [line for line in lines[:number] if line.strip()]
        mark = MARK.match(before[-1].strip()) if before else None
        if mark:
            block.kind = mark.group(1)
            for word in mark.group(2).split():
                key, sep, value = word.partition("=")
                if sep:
                    block.options[key] = value
                else:
                    block.target = word
        blocks.append(block)
        number = end + 1
    return blocks


BLOCKS = read_blocks(README.read_text(encoding="utf-8"))


def _first_line(expected: str):
    def check(out: str) -> None:
        assert out.splitlines()[0].endswith(expected), out

    return check


def _eval_shows_a_gain(out: str) -> None:
    """The eval table's reranker row beats the first stage's on every metric but recall."""
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.startswith(("first", "mini"))}
    first, reranked = rows["first"][3:7], rows["minilm-bi"][1:5]  # ndcg@10 mrr@10 recall@100 hits@1
    assert float(reranked[0]) > float(first[0]) + 0.3 and float(reranked[3]) > float(first[3]) + 0.3, out


CHECKS = {
    "quickstart": _first_line("To rotate an API key, create a new key, deploy it, then revoke the old one."),
    "rotate-keys": _first_line("Rotate keys from the admin console."),
    "eval-gain": _eval_shows_a_gain,
}


def test_every_python_block_is_marked_and_every_mark_is_known():
    for block in BLOCKS:
        if block.language == "python":
            assert block.kind in ("run", "fragment"), (
                f"README.md line {block.line}: mark this python block, e.g. <!-- readme-test: run --> "
                "(see tests/test_readme.py)"
            )
        assert block.kind in (None, "run", "file", "fragment"), f"line {block.line}: mark {block.kind!r}?"
        assert block.options.get("check", next(iter(CHECKS))) in CHECKS, f"line {block.line}: no such check"


RUN = [block for block in BLOCKS if block.kind == "run"]


@pytest.mark.parametrize("block", RUN, ids=[block.id for block in RUN])
def test_block_runs_as_pasted(block, tmp_path):
    for earlier in BLOCKS:
        if earlier.kind == "file" and earlier.line < block.line:
            (tmp_path / earlier.target).write_text(earlier.text, encoding="utf-8")
    command = {"python": [sys.executable, "-c"], "bash": ["bash", "-euo", "pipefail", "-c"]}[block.language]
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    environment = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PATH": path}
    result = subprocess.run(
        [*command, block.text], capture_output=True, text=True, timeout=600, cwd=tmp_path, env=environment
    )
    assert result.returncode == 0, result.stderr[-3000:]
    if "check" in block.options:
        CHECKS[block.options["check"]](result.stdout)


def defined_and_used(source: str) -> tuple[set[str], set[str]]:
    """Names a piece of Python binds anywhere (assignments, imports, defs, arguments), and names it reads."""
    bound, used = set(), set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Name):
            (used if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return bound, used


FRAGMENTS = [block for block in BLOCKS if block.kind == "fragment"]


@pytest.mark.parametrize("block", FRAGMENTS, ids=[block.id for block in FRAGMENTS])
def test_fragment_names_nothing_undefined_and_its_example_runs(block):
    example = ROOT / (block.target or "")
    assert example.parent == EXAMPLES and example.suffix == ".py" and example.is_file(), (
        f"line {block.line}: a fragment names the examples/*.py file it is part of (test_examples runs them)"
    )
    given = {name for name in block.options.get("given", "").split(",") if name}
    bound, used = defined_and_used(block.text)
    undefined = used - bound - set(dir(builtins)) - given
    assert not undefined, f"line {block.line}: {sorted(undefined)} would be NameErrors; define or import them"
    in_example, _ = defined_and_used(example.read_text(encoding="utf-8"))
    assert given <= in_example, f"{block.target} does not define {sorted(given - in_example)}"


def vecrank_commands(script: str) -> list[list[str]]:
    """The arguments of each ``vecrank ...`` command line of a shell script (comments and pipes cut)."""
    commands = []
    for line in script.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        while words and re.match(r"^[A-Z_]+=", words[0]):  # VAR=value before the command
            words.pop(0)
        if words and words[0] == "vecrank":
            cut = next((n for n, word in enumerate(words) if word in ("|", "&&", "||", ";", ">")), len(words))
            commands.append(words[1:cut])
    return commands


def parse_command(arguments: list[str]) -> None:
    """Parse ``vecrank ARGUMENTS`` as the command would, without running it (SystemExit on a bad option)."""
    if arguments[:1] == ["bench"]:
        if "--check" in arguments:
            from vecrank.bench.check import parse_args
        else:
            from vecrank.bench.options import parse_args
        parse_args([argument for argument in arguments[1:] if argument != "--check"])
        return
    from vecrank.cli import build_parser

    build_parser().parse_args(arguments)


SHELL = [block for block in BLOCKS if block.language == "bash"]


@pytest.mark.parametrize("block", SHELL, ids=[block.id for block in SHELL])
def test_shell_block_parses_and_its_vecrank_options_exist(block):
    syntax = subprocess.run(["bash", "-n", "-c", block.text], capture_output=True, text=True)
    assert syntax.returncode == 0, f"line {block.line}: {syntax.stderr}"
    for arguments in vecrank_commands(block.text):
        try:
            parse_command(arguments)
        except SystemExit as error:
            pytest.fail(f"line {block.line}: `vecrank {shlex.join(arguments)}` is refused ({error.code})")


TOML = [block for block in BLOCKS if block.language == "toml"]
CONFIG_TABLES = {"defaults", "collections", "ray", "strict_collections", "capture"}


@pytest.mark.parametrize("block", TOML, ids=[block.id for block in TOML])
def test_toml_block_parses_and_a_config_loads(block):
    from vecrank import load_config

    data = tomllib.loads(block.text)
    if data and set(data) <= CONFIG_TABLES:
        load_config(data)


def test_the_marks_are_read():
    """The README has blocks of each kind, so a typo in the mark syntax cannot skip them all."""
    kinds = {block.kind for block in BLOCKS}
    assert {"run", "file", "fragment"} <= kinds
    assert sum(block.options.get("check") == "eval-gain" for block in BLOCKS) == 1


def test_the_readme_test_command_is_the_one_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    [command] = re.findall(r"(python -m pytest[^\n`]*)", ci)
    assert f"`HF_HUB_OFFLINE=1 {command.strip()}`" in README.read_text(encoding="utf-8")
