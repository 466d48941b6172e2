"""config/README.md is the schema's page: up to date, and listing every key the example configs use."""

import copy

import pytest
import yaml

from stylizednerf import config_docs
from stylizednerf.paths import PROJECT_ROOT
from stylizednerf.settings import SCHEMA_PATH


@pytest.fixture(scope="module")
def schema():
    return yaml.safe_load(SCHEMA_PATH.read_text())


def test_committed_page_is_up_to_date_with_the_schema(capsys):
    # fails after a schema edit until `python -m stylizednerf.config_docs` is run again
    assert config_docs.main(["--check"]) == 0, capsys.readouterr().err


def test_check_fails_on_a_page_written_before_a_schema_change(schema, tmp_path, monkeypatch):
    changed = copy.deepcopy(schema)
    changed["properties"]["decoder"]["properties"]["new_knob"] = {"type": "integer", "minimum": 2, "default": 7,
                                                                 "description": "a key added after the page"}
    page = config_docs.render(changed)
    assert "| `decoder.new_knob` | integer, >= 2 | `7` | a key added after the page |" in page
    stale = tmp_path / "README.md"
    stale.write_text(config_docs.render(schema))
    monkeypatch.setattr(config_docs, "SCHEMA_PATH", tmp_path / "schema.yaml")
    (tmp_path / "schema.yaml").write_text(yaml.safe_dump(changed))
    assert config_docs.main(["--check", "--out", str(stale)]) == 1


def _keys(config: dict, prefix: str = "") -> set[str]:
    """Dotted leaf keys of a config, scene and style names as <name>."""
    keys = set()
    for key, value in config.items():
        path = f"{prefix}{key}"
        if key in ("scenes", "styles") and not prefix:
            for entry in value.values():
                keys |= _keys(entry, f"{key}.<name>.") if isinstance(entry, dict) else {f"{key}.<name>"}
        elif isinstance(value, dict) and value:
            keys |= _keys(value, f"{path}.")
        else:
            keys.add(path)
    return keys


@pytest.mark.parametrize("config_file", ["config.yaml", "config/paper.yaml", "config/fern_cpu.yaml"])
def test_every_key_of_the_example_configs_is_documented(config_file):
    documented = {line.split("`")[1] for line in (PROJECT_ROOT / "config" / "README.md").read_text().splitlines()
                  if line.startswith("| `")}
    used = _keys(yaml.safe_load((PROJECT_ROOT / config_file).read_text()))
    assert used and used <= documented, sorted(used - documented)
