"""The README's complete snippets run as pasted (offline, on the minilm-bi weights) and rerank sensibly."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
# The snippets that need nothing but this package: embedded Qdrant or the Weaviate stand-in.
COMPLETE = [block for block in BLOCKS if ':memory:"' in block or "WeaviateStandIn" in block]


def test_the_complete_snippets_are_found():
    assert len(COMPLETE) == 3


@pytest.mark.parametrize(
    ("snippet", "first_line"),
    [
        (0, "To rotate an API key, create a new key, deploy it, then revoke the old one."),
        (1, "Rotate keys from the admin console."),
        (2, "Rotate keys from the admin console."),
    ],
    ids=["qdrant", "qdrant-async", "weaviate-stand-in"],
)
def test_snippet_runs_as_pasted(snippet, first_line, tmp_path):
    environment = {**os.environ, "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, "-c", COMPLETE[snippet]],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,  # no vecrank.toml or other file of the clone is needed
        env=environment,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines()[0].endswith(first_line), result.stdout
