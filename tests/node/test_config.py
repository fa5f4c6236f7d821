"""Node configuration files: the shipped example loads; bad ones are refused with the field named."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.config import ConfigError, NodeConfig, load_config

EXAMPLE = Path(__file__).parents[2] / "systemd" / "node.example.toml"


class TestLoadConfig:
    """load_config at the edge."""

    def test_example_loads(self) -> None:
        """The example shipped for /etc/tracenode/node.toml is valid."""
        config = load_config(EXAMPLE)
        assert config.plc.url.startswith("opc.tcp://")
        assert config.line.register_length == 4

    def test_defaults_are_complete(self) -> None:
        """An empty file gives a full default configuration."""
        assert NodeConfig().cycle_ms == 4.0

    def test_bad_value_names_the_field(self, tmp_path: Path) -> None:
        """A value out of range is refused with its dotted path and value."""
        path = tmp_path / "node.toml"
        path.write_text("[line]\nregister_length = 0\n")
        with pytest.raises(ConfigError, match=r"line\.register_length.*got 0"):
            load_config(path)

    def test_unknown_key_is_refused(self, tmp_path: Path) -> None:
        """A misspelt key is an error, not silently ignored."""
        path = tmp_path / "node.toml"
        path.write_text("[plc]\nurll = 'opc.tcp://127.0.0.1:4840'\n")
        with pytest.raises(ConfigError, match=r"plc\.urll"):
            load_config(path)

    def test_not_toml(self, tmp_path: Path) -> None:
        """A broken file names the file and the TOML error."""
        path = tmp_path / "node.toml"
        path.write_text("[plc\n")
        with pytest.raises(ConfigError, match="not valid TOML"):
            load_config(path)

    def test_missing_file(self, tmp_path: Path) -> None:
        """A missing file is a clear error."""
        with pytest.raises(ConfigError, match="cannot read"):
            load_config(tmp_path / "nope.toml")
