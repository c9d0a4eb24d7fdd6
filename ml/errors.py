"""Errors the CLI turns into one clear message and a documented exit code."""

from __future__ import annotations


class AdscoreError(Exception):
    """Base class; ``exit_code`` is what ``python -m ml.*`` exits with."""

    exit_code = 1


class ConfigError(AdscoreError):
    """A configuration file or option is wrong (names the file and key)."""

    exit_code = 3


class DataValidationError(AdscoreError):
    """The curated training data is unusable (lists every problem found)."""

    exit_code = 4

    def __init__(self, table: str, problems: list[str]) -> None:
        self.table = table
        self.problems = problems
        super().__init__(f"{table} failed validation:\n" + "\n".join(f"  - {p}" for p in problems))


class WarehouseError(AdscoreError):
    """The warehouse is missing, locked or lacks a table."""

    exit_code = 5


class ArtifactError(AdscoreError):
    """A model artifact is missing or does not match its registered checksum."""

    exit_code = 6


class LockError(AdscoreError):
    """Another writer holds the warehouse lock past the timeout (names the holder)."""

    exit_code = 7
