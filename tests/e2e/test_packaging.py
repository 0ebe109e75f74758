"""Packaging for every host: the MCP bundle, the Docker image and the MCP Registry entry.

Each is checked the way its own tooling would: `mcpb validate` and `mcpb pack` (from npm, installed
once into a cache outside the repo), the packed bundle started exactly as its manifest's
`mcp_config` says and asked for its tools over stdio, hadolint on the Dockerfile, the Dockerfile's
build commands run outside Docker, and server.json against the registry's schema. Versions and
tool lists must agree everywhere.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterator
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Any

import anyio
import jsonschema
import pytest
from mcp.client import Client
from mcp.client.stdio import StdioServerParameters
from pydantic import SecretStr

import flora_mcp
from flora_mcp.server import build_server
from flora_mcp.settings import Settings
from tests.npm_tools import npm_tool

REPO = Path(__file__).resolve().parents[2]
MCPB_VERSION = "2.1.2"  # @anthropic-ai/mcpb: manifest 0.4 and `server.type: "uv"`; runs on Node 20
SERVER_NAME = "io.github.flora-mcp/flora-mcp"
BIN_DIR = Path(sys.executable).parent  # the venv's scripts: uv, hadolint, pip

pytestmark = pytest.mark.anyio


def _json(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((REPO / name).read_text(encoding="utf-8"))
    return data


def _pyproject() -> dict[str, Any]:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def _tool(name: str) -> str:
    """A command from the project's venv (dev extra), else from PATH."""
    found = shutil.which(name, path=os.pathsep.join([str(BIN_DIR), os.environ.get("PATH", "")]))
    if found is None:
        pytest.fail(f"{name} not found: install the dev extra (pip install -e '.[dev]')")
    return found


def _run(*args: str | Path, timeout: float = 120, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=timeout, check=False, **kwargs
    )
    assert result.returncode == 0, f"{shlex.join(map(str, args))} failed:\n{result.stdout}\n{result.stderr}"
    return result


def _package_files() -> set[str]:
    """Every file of the flora_mcp package (code and data such as the gallery page), repo-relative."""
    return {
        path.relative_to(REPO).as_posix()
        for path in (REPO / "flora_mcp").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


def _env_without_flora() -> dict[str, str]:
    """The environment a host starts a server with: ours, minus FLORA_* and our venv."""
    drop = {"VIRTUAL_ENV", "PYTHONPATH"}
    return {k: v for k, v in os.environ.items() if not k.startswith("FLORA_") and k not in drop}


# ---- MCP Bundle (manifest.json, .mcpbignore) ---------------------------------------------------


@pytest.fixture(scope="session")
def mcpb() -> Path:
    """The mcpb CLI: $MCPB_BIN if set, else @anthropic-ai/mcpb installed once under the cache."""
    if explicit := os.environ.get("MCPB_BIN"):
        return Path(explicit)
    return npm_tool("@anthropic-ai/mcpb", MCPB_VERSION, "mcpb")


def host_config(manifest: dict[str, Any], bundle_dir: Path, user_config: dict[str, str]) -> dict[str, Any]:
    """`mcp_config` as a host resolves it (mcpb's getMcpConfigForManifest): `${__dirname}` and
    `${user_config.NAME}`, the user's values over the manifest's defaults. A variable with no
    value is left as written, which is what the server would then receive."""
    defaults = {k: v["default"] for k, v in manifest.get("user_config", {}).items() if "default" in v}
    values = {f"user_config.{k}": str(v) for k, v in (defaults | user_config).items()}
    values["__dirname"] = str(bundle_dir)

    def resolve(text: str) -> str:
        return re.sub(r"\$\{([^}]+)\}", lambda m: values.get(m.group(1), m.group(0)), text)

    config = manifest["server"]["mcp_config"]
    return {
        "command": resolve(config["command"]),
        "args": [resolve(a) for a in config.get("args", [])],
        "env": {k: resolve(v) for k, v in config.get("env", {}).items()},
    }


def test_manifest_passes_mcpb_validate(mcpb: Path) -> None:
    result = _run(mcpb, "validate", REPO / "manifest.json")
    assert "Manifest schema validation passes!" in result.stdout


def test_manifest_runs_the_package_with_uv_and_says_what_pyproject_says() -> None:
    manifest, project = _json("manifest.json"), _pyproject()["project"]
    assert manifest["manifest_version"] == "0.4"
    assert manifest["name"] == project["name"]
    assert manifest["license"] == project["license"]
    assert manifest["compatibility"]["runtimes"]["python"] == project["requires-python"]
    server = manifest["server"]
    assert server["type"] == "uv"
    assert (REPO / server["entry_point"]).is_file()
    assert server["mcp_config"]["command"] == "uv"
    assert server["mcp_config"]["args"][-1] in project["scripts"]


def test_manifest_user_config_gives_valid_settings_and_the_sandbox_when_left_empty(tmp_path: Path) -> None:
    """A user who fills in nothing gets the sandbox, not a literal `${user_config.api_key}` as a key;
    every variable the manifest sets is a real setting; a key given is passed through."""
    manifest = _json("manifest.json")
    api_key = manifest["user_config"]["api_key"]
    assert api_key["sensitive"] is True and api_key["required"] is False

    untouched = host_config(manifest, tmp_path, {})
    assert not [v for v in [*untouched["args"], *untouched["env"].values()] if "${" in v], untouched
    assert all(name.startswith("FLORA_") for name in untouched["env"])
    settings = Settings.from_env(untouched["env"])
    assert settings.uses_sandbox
    # The defaults offered to the user are the server's own.
    assert settings.model_copy(update={"api_key": None}) == Settings()

    keyed = Settings.from_env(host_config(manifest, tmp_path, {"api_key": "flora-key"})["env"])
    assert keyed.api_key == SecretStr("flora-key")
    assert not keyed.uses_sandbox


async def test_manifest_lists_the_servers_tools() -> None:
    """The tools a directory shows before install are the tools the server has, with the same copy.
    After changing a tool: `python scripts/sync_manifest_tools.py` rewrites the list."""
    async with Client(build_server(Settings(api_key=SecretStr("x")))) as client:
        tools = (await client.list_tools()).tools
    served = {tool.name: tool.description for tool in tools}
    listed = {tool["name"]: tool.get("description") for tool in _json("manifest.json")["tools"]}
    assert listed == served


@pytest.fixture(scope="module")
def packed_bundle(mcpb: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bundle")
    bundle = out / "flora-mcp-0.1.0.mcpb"
    _run(mcpb, "pack", REPO, bundle)
    return bundle


def test_bundle_holds_the_package_and_nothing_else(packed_bundle: Path) -> None:
    with zipfile.ZipFile(packed_bundle) as bundle:
        names = bundle.namelist()
    assert {"manifest.json", "pyproject.toml", "README.md"} | _package_files() <= set(names)
    allowed = {"manifest.json", "pyproject.toml", "README.md", "LICENSE", "flora_mcp"}
    assert not [n for n in names if n.split("/")[0] not in allowed]
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert packed_bundle.stat().st_size < 2_000_000


async def test_packed_bundle_starts_as_its_manifest_says_and_lists_the_tools(
    packed_bundle: Path, tmp_path: Path
) -> None:
    """Unpack the .mcpb, start it with the manifest's own command (`uv run --directory <bundle> …`,
    which builds the bundle's environment from its pyproject.toml), initialize and list tools."""
    unpacked = tmp_path / "flora-mcp"
    with zipfile.ZipFile(packed_bundle) as bundle:
        bundle.extractall(unpacked)
    manifest = json.loads((unpacked / "manifest.json").read_text(encoding="utf-8"))
    config = host_config(manifest, unpacked, {})
    assert config["command"] == "uv"
    params = StdioServerParameters(
        command=_tool("uv"), args=config["args"], env=_env_without_flora() | config["env"]
    )
    with anyio.fail_after(180):  # a cold uv cache downloads the dependencies first
        async with Client(params) as client:
            assert client.server_info is not None
            assert client.server_info.version == manifest["version"]
            started = {tool.name for tool in (await client.list_tools()).tools}
    async with Client(build_server(Settings(api_key=SecretStr("x")))) as client:
        expected = {tool.name for tool in (await client.list_tools()).tools}
    assert started == expected
    assert (unpacked / ".venv").is_dir()  # uv built the bundle's own environment, not ours


# ---- Docker image (Dockerfile, .dockerignore) --------------------------------------------------


def _instructions(dockerfile: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with comments dropped and continuation lines joined."""
    text = re.sub(r"^\s*#.*\n", "", dockerfile, flags=re.M)
    text = re.sub(r"\\\n\s*", " ", text)
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1].strip())
        for line in text.splitlines()
        if line.strip()
    ]


def _stages() -> Iterator[list[tuple[str, str]]]:
    stage: list[tuple[str, str]] = []
    for instruction in _instructions((REPO / "Dockerfile").read_text(encoding="utf-8")):
        if instruction[0] == "FROM" and stage:
            yield stage
            stage = []
        stage.append(instruction)
    yield stage


def test_dockerfile_is_hadolint_clean() -> None:
    result = subprocess.run(
        [_tool("hadolint"), "--format", "json", str(REPO / "Dockerfile")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert json.loads(result.stdout or "[]") == [], result.stdout + result.stderr
    assert result.returncode == 0


def test_dockerfile_builds_in_a_pinned_stage_and_runs_unprivileged() -> None:
    [prelude, build, runtime] = _stages()
    assert prelude[0][0] == "ARG"
    assert re.fullmatch(r"PYTHON_IMAGE=python:\d+\.\d+\.\d+-slim-[a-z]+", prelude[0][1]), "pin an exact tag"
    assert build[0] == ("FROM", "${PYTHON_IMAGE} AS build")
    assert runtime[0] == ("FROM", "${PYTHON_IMAGE}")
    final = dict(runtime)
    assert re.fullmatch(r"[1-9]\d*:[1-9]\d*", final["USER"]), "run as a numeric non-root user"
    assert json.loads(final["ENTRYPOINT"]) == ["flora-mcp"]
    assert final["EXPOSE"] == "8000"
    assert 'org.opencontainers.image.version="${VERSION}"' in final["LABEL"]
    assert final["ARG"] == f"VERSION={_pyproject()['project']['version']}"
    assert not [arguments for name, arguments in runtime if name == "RUN" and "pip" in arguments]


def test_docker_build_stage_installs_a_working_server_outside_docker(tmp_path: Path) -> None:
    """The build stage's own COPY and RUN lines, with its absolute paths moved under tmp_path:
    the wheel builds, installs into a fresh venv with its dependencies, and `flora-mcp` runs."""
    [_, build, _] = _stages()
    roots = {"/src": tmp_path / "src", "/wheels": tmp_path / "wheels", "/opt/venv": tmp_path / "venv"}

    def local(text: str) -> str:
        for inside, outside in roots.items():
            text = re.sub(rf"(?<![\w/]){re.escape(inside)}(?=/|\s|$)", str(outside), text)
        return text

    env = _env_without_flora() | {"PATH": os.pathsep.join([str(BIN_DIR), os.environ.get("PATH", "")])}
    workdir = tmp_path
    for name, arguments in build[1:]:
        if name == "WORKDIR":
            workdir = Path(local(arguments))
            workdir.mkdir(parents=True, exist_ok=True)
        elif name == "ENV":
            env |= dict(pair.split("=", 1) for pair in shlex.split(arguments))
        elif name == "COPY":
            *sources, target = shlex.split(arguments)
            destination = workdir / target
            for source in sources:
                if (REPO / source).is_dir():
                    shutil.copytree(
                        REPO / source, destination, ignore=shutil.ignore_patterns("__pycache__", "*.py[cod]")
                    )
                else:
                    destination.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(REPO / source, destination / Path(source).name)
        elif name == "RUN":
            _run("bash", "-euo", "pipefail", "-c", local(arguments), cwd=workdir, env=env, timeout=240)
        else:
            pytest.fail(f"the build stage gained a {name} instruction this test does not replay")

    venv = roots["/opt/venv"]
    help_text = _run(venv / "bin" / "flora-mcp", "--help", env=_env_without_flora()).stdout
    assert help_text.startswith("usage: flora-mcp")
    assert not (venv / "bin" / "pip").exists()
    [wheel] = roots["/wheels"].glob("flora_mcp-*.whl")
    assert wheel.name.startswith(f"flora_mcp-{flora_mcp.__version__}-")
    with zipfile.ZipFile(wheel) as archive:
        assert _package_files() <= set(archive.namelist())


# ---- MCP Registry (server.json) ----------------------------------------------------------------


def test_server_json_validates_against_the_registry_schema() -> None:
    schema = json.loads((REPO / "tests" / "schemas" / "server.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(schema)
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    errors = validator.iter_errors(_json("server.json"))
    assert not [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors]


def test_server_json_describes_the_pypi_package_and_real_settings() -> None:
    server = _json("server.json")
    assert server["name"] == SERVER_NAME
    assert not server.get("remotes"), "we host no remote server"
    [package] = server["packages"]
    assert package["registryType"] == "pypi"
    assert package["identifier"] == _pyproject()["project"]["name"]
    assert package["runtimeHint"] == "uvx"
    assert package["transport"] == {"type": "stdio"}
    variables = {v["name"]: v for v in package["environmentVariables"]}
    assert variables["FLORA_API_KEY"]["isSecret"] is True
    assert variables["FLORA_API_KEY"]["isRequired"] is False
    assert [name for name, v in variables.items() if v.get("isSecret")] == ["FLORA_API_KEY"]
    for name, variable in variables.items():
        field = name.removeprefix("FLORA_").lower()
        assert name.startswith("FLORA_") and field in Settings.model_fields, name
        if "default" in variable:
            assert Settings.from_env({name: variable["default"]}) == Settings(), name


def test_readme_names_the_registry_server_for_pypi_ownership() -> None:
    """The registry accepts a PyPI package only if its README (the PyPI description) says so."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert f"mcp-name: {SERVER_NAME}" in readme, f"add `<!-- mcp-name: {SERVER_NAME} -->` to README.md"


# ---- One version everywhere --------------------------------------------------------------------


def test_versions_agree_everywhere() -> None:
    server = _json("server.json")
    versions = {
        "pyproject.toml": _pyproject()["project"]["version"],
        "flora_mcp.__version__": flora_mcp.__version__,
        "installed distribution": installed_version("flora-mcp"),
        "manifest.json": _json("manifest.json")["version"],
        "server.json": server["version"],
        "server.json packages[0]": server["packages"][0]["version"],
    }
    assert len(set(versions.values())) == 1, versions
