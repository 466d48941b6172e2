"""The per-rule conda environments (envs/*.yaml) agree with the project's pins.

Conda itself cannot run on the development machine (no conda installation, no conda channel
reachable), so these tests never create an environment: they check statically that
- every env pins each package to exactly the version in constraints.txt, inside the ranges of
  pyproject.toml, with the Python version pyproject.toml requires;
- every rule names an env file that exists (`conda:` directive);
- every third-party module the rule's stage imports (transitively, through stylizednerf's own
  modules) is installed by the rule's env.
Creating the environments for real (`snakemake --use-conda --conda-create-envs-only`) is left to
machines that have conda; see the README section "Pinned environments (conda)".
"""

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
ENV_DIR = ROOT / "envs"
RULE_DIR = ROOT / "workflow" / "rules"


def constraints() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            pins[canonicalize_name(name)] = version
    return pins


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def env_files() -> list[Path]:
    return sorted(ENV_DIR.glob("*.yaml"))


def env_pins(path: Path) -> tuple[str | None, dict[str, str]]:
    """(python version spec, {canonical package name: pinned version}) of one env file."""
    doc = yaml.safe_load(path.read_text())
    python = None
    pins = {}
    for dep in doc["dependencies"]:
        if isinstance(dep, dict):
            for line in dep.get("pip", []):
                req = Requirement(line)
                specs = list(req.specifier)
                assert len(specs) == 1 and specs[0].operator == "==", f"{path.name}: {line!r} is not an exact pin"
                pins[canonicalize_name(req.name)] = specs[0].version
        elif dep.split("=")[0].strip() == "python":
            python = dep.split("=", 1)[1].lstrip("=")
        elif dep.strip() != "pip":
            name = re.split(r"[=<>! ]", dep, maxsplit=1)[0]
            pins[canonicalize_name(name)] = dep[len(name):].lstrip("=")
    return python, pins


def rules() -> dict[str, dict]:
    """{rule name: {"file", "conda", "stage"}} parsed from workflow/rules/*.smk."""
    found = {}
    for smk in sorted(RULE_DIR.glob("*.smk")):
        blocks = re.split(r"^rule\s+", smk.read_text(), flags=re.M)[1:]
        for block in blocks:
            name = block.split(":", 1)[0].strip()
            body = re.split(r"^\S", block.split("\n", 1)[1] if "\n" in block else "", flags=re.M)[0]
            conda = re.search(r"^\s+conda:\s*\n?\s*[\"']([^\"']+)[\"']", body, flags=re.M)
            stage = re.search(r"python -m stylizednerf\s+([\w-]+)", body)
            found[name] = {"file": smk, "conda": conda.group(1) if conda else None,
                           "stage": stage.group(1) if stage else None}
    return found


def test_env_files_exist():
    names = [path.stem for path in env_files()]
    assert {"demo", "poses", "nerf", "stylization2d", "stylize", "metrics"} <= set(names), names


@pytest.mark.parametrize("path", env_files(), ids=lambda p: p.name)
def test_env_pins_match_constraints_and_pyproject(path):
    pins = constraints()
    project = pyproject()["project"]
    ranges = {canonicalize_name(Requirement(dep).name): Requirement(dep).specifier
              for dep in project["dependencies"]}
    python, env = env_pins(path)
    assert python is not None, f"{path.name}: no python=... dependency"
    assert SpecifierSet(project["requires-python"]).contains(python + ".0"), \
        f"{path.name}: python={python} outside requires-python {project['requires-python']}"
    assert python == ".".join(sys.version.split(".")[:2]), \
        f"{path.name}: python={python} but the tested interpreter is {sys.version.split()[0]}"
    assert "torch" in env, f"{path.name}: every stage imports torch (stylizednerf/__init__.py)"
    for name, version in env.items():
        assert name in pins, f"{path.name}: {name} is not pinned in constraints.txt"
        assert version == pins[name], f"{path.name}: {name}=={version} but constraints.txt has {pins[name]}"
        if name in ranges:
            assert ranges[name].contains(version), \
                f"{path.name}: {name}=={version} outside pyproject.toml's {ranges[name]}"


def test_pins_are_what_is_installed():
    """constraints.txt, and so every env, pins what this tested venv actually runs."""
    wrong = []
    for name, version in constraints().items():
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue  # e.g. a test-only or platform-specific package
        if canonicalize_name(name) == "torch" or canonicalize_name(name) == "torchvision":
            installed = installed.split("+")[0]  # local CPU build tag, e.g. 2.13.0+cpu
        if installed != version:
            wrong.append(f"{name}: pinned {version}, installed {installed}")
    assert not wrong, wrong


def test_every_rule_names_an_existing_env():
    found = rules()
    assert found, "no rules found in workflow/rules/*.smk"
    for name, rule in found.items():
        if name == "all":
            continue
        assert rule["conda"], f"rule {name} ({rule['file'].name}) has no conda: directive"
        env = (rule["file"].parent / rule["conda"]).resolve()
        assert env.parent == ENV_DIR and env.exists(), f"rule {name}: conda env {rule['conda']} not in envs/"


def _module_file(module: str) -> Path | None:
    parts = module.split(".")
    base = ROOT.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def _optional_imports(tree) -> set[int]:
    """Imports inside `try: ... except ImportError` are optional fallbacks, not dependencies."""
    optional = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Try):
            continue
        caught = {ast.unparse(handler.type) for handler in node.handlers if handler.type is not None}
        if caught & {"ImportError", "ModuleNotFoundError"}:
            optional |= {id(n) for stmt in node.body for n in ast.walk(stmt) if isinstance(n, (ast.Import, ast.ImportFrom))}
    return optional


def third_party_imports(module: str) -> set[str]:
    """Top-level third-party modules imported by ``module`` and the stylizednerf modules it imports."""
    seen, todo, outside = set(), [module, "stylizednerf"], set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        path = _module_file(name)
        if path is None:
            continue
        tree = ast.parse(path.read_text())
        optional = _optional_imports(tree)
        for node in ast.walk(tree):
            if id(node) in optional:
                continue
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                targets = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            else:
                continue
            for target in targets:
                if target.split(".")[0] == "stylizednerf":
                    todo.append(target)
                    # a package import also runs the package's __init__
                    todo.extend(".".join(target.split(".")[:i]) for i in range(1, target.count(".") + 1))
                else:
                    outside.add(target.split(".")[0])
    return {name for name in outside if name not in sys.stdlib_module_names}


def test_rule_envs_install_what_their_stage_imports():
    from stylizednerf.__main__ import STAGES, stage_module

    distributions = importlib.metadata.packages_distributions()
    checked = 0
    for name, rule in rules().items():
        if not rule["stage"] or not rule["conda"]:
            continue
        assert rule["stage"] in STAGES, f"rule {name} runs unknown stage {rule['stage']}"
        _, env = env_pins((rule["file"].parent / rule["conda"]).resolve())
        for module in sorted(third_party_imports(stage_module(rule["stage"]))):
            dists = {canonicalize_name(d) for d in distributions.get(module, [])}
            assert dists, f"rule {name}: stage imports {module}, which no installed distribution provides"
            assert dists & set(env), \
                f"rule {name}: stage {rule['stage']} imports {module} ({', '.join(dists)}) missing in {rule['conda']}"
        checked += 1
    assert checked, "no rule runs `python -m stylizednerf <stage>` with a conda env"


def test_use_conda_dry_run(tmp_path):
    """Where conda exists: Snakemake accepts every rule's env under --use-conda (dry run, no downloads)."""
    import shutil

    from conftest import run_snakemake

    if shutil.which("conda") is None:
        pytest.skip("conda is not installed on this machine and no conda channel is reachable from it; "
                    "the static checks above stand in for it")
    shutil.copy(ROOT / "config.yaml", tmp_path / "config.yaml")
    run_snakemake(["-n", "--use-conda", "-s", str(ROOT / "Snakefile"), "--directory", str(tmp_path)], cwd=ROOT,
                  timeout=600)
