"""The documentation keeps up with the code: every setting and every CLI command is documented."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices
from typer.main import get_command

from plantwatch.cli import app
from plantwatch.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = []
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        env = alias.choices[0] if isinstance(alias, AliasChoices) else f"PLANTWATCH_{name.upper()}"
        if f"`{env}`" not in readme:
            missing.append(env)
        assert field.description, f"setting {name} has no description"
    assert not missing, f"settings missing from README's configuration table: {missing}"


def test_every_cli_command_is_in_the_readme_and_has_help() -> None:
    readme = (ROOT / "README.md").read_text()
    root = get_command(app)
    for name, command in root.commands.items():  # type: ignore[attr-defined]
        assert f"plantwatch {name}" in readme, f"`plantwatch {name}` is not in the README"
        assert command.help, f"`plantwatch {name}` has no help text"
