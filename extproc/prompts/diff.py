"""What changed between two prompt versions: a unified diff of their prompt files."""

from __future__ import annotations

import difflib

from extproc.prompts.files import to_yaml
from extproc.prompts.model import PromptTemplate


def diff_prompts(old: PromptTemplate, new: PromptTemplate, old_name: str = "a", new_name: str = "b") -> str:
    """A unified diff of the two templates as prompt files (YAML); empty when they are equal."""
    if old.digest == new.digest:
        return ""
    lines = difflib.unified_diff(
        to_yaml(old).splitlines(keepends=True), to_yaml(new).splitlines(keepends=True), old_name, new_name, n=3
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)
