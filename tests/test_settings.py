"""Settings are declared once: the command line, `--help` and the README are built from them."""

from __future__ import annotations

from pathlib import Path

from flora_mcp.cli import build_parser, settings_from
from flora_mcp.settings import Settings, declared, env_name, settings_table

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readme_settings_table_is_the_declared_one() -> None:
    assert settings_table() in README.read_text(encoding="utf-8"), (
        "README's settings table differs from flora_mcp/settings.py; paste settings_table()'s output"
    )


def test_help_names_every_setting_with_its_default() -> None:
    help_text = build_parser().format_help()
    for name, _, option in declared():
        assert env_name(name) in help_text
        if option is not None and option.scope != "demo":
            assert option.flag in help_text


def test_every_option_overrides_its_environment_variable() -> None:
    environ = {"FLORA_TIMEOUT": "5", "FLORA_HOST": "0.0.0.0", "FLORA_LOG_LEVEL": "ERROR"}
    args = build_parser().parse_args(["--timeout", "7", "--log-level", "DEBUG", "--stateless"])
    overrides = {k: v for k, v in vars(args).items() if k in Settings.model_fields and v is not None}
    settings = Settings.from_env(environ, **overrides)
    assert (settings.timeout, settings.log_level, settings.stateless, settings.host) == (
        7,
        "DEBUG",
        True,
        "0.0.0.0",
    )


def test_demo_out_sets_the_output_folder_and_keeps_options_given_before_the_command() -> None:
    settings = settings_from(build_parser().parse_args(["--log-level", "INFO", "demo", "--out", "shots"]))
    assert settings.output_dir == Path("shots")
    assert settings.log_level == "INFO"
