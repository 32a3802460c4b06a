"""Run the real `__main__.py` in-process under Pulumi's mock runtime and record what it registers.

`render_stack("staging")` reads Pulumi.yaml's defaults and Pulumi.staging.yaml, adds the given
secret values as secret config, runs the program, and returns every registered resource with its
inputs. Values the program sent as secrets are replaced by `[secret]` (their paths recorded):
the recording monitor reads the wire format, where a secret still carries Pulumi's secret
signature, before the SDK's mock monitor unwraps it.
"""

import asyncio
import contextlib
import json
import logging
import runpy
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from google.protobuf import json_format  # type: ignore[import-untyped]
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from plan.mocks import PlatformMocks

PROJECT_DIR = Path(__file__).resolve().parents[1]
PROJECT = "miko-platform"
"""The environment stacks' project; a project's own name is read from its Pulumi.yaml
(`project_name`): the edge stack's (edge/) is miko-edge."""
SECRET_MARK = "[secret]"  # noqa: S105 - the mask shown instead of a secret
SIG_KEY = rpc._special_sig_key
SECRET_SIG = rpc._special_secret_sig
STACK_TYPE = "pulumi:pulumi:Stack"


@dataclass(frozen=True)
class RenderedResource:
    type: str
    name: str
    urn: str
    parent: str
    provider: str
    """Provider reference (`<provider urn>::<id>`); empty for a component or default provider."""
    custom: bool
    inputs: dict[str, Any]
    """Inputs as sent by the program; secret values replaced by `[secret]`."""
    secret_paths: frozenset[str]
    """Paths (`a.b[0].c`) of inputs the program marked secret."""
    outputs: dict[str, Any]
    """The mock's outputs, with the same secret paths masked."""
    ignore_changes: tuple[str, ...] = ()
    dependencies: tuple[str, ...] = ()
    protect: bool = False

    def to_json(self) -> dict[str, Any]:
        document = asdict(self)
        document["secret_paths"] = sorted(self.secret_paths)
        return document

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> "RenderedResource":
        return cls(
            **{
                **document,
                "secret_paths": frozenset(document["secret_paths"]),
                "ignore_changes": tuple(document["ignore_changes"]),
                "dependencies": tuple(document["dependencies"]),
            }
        )


@dataclass(frozen=True)
class Rendering:
    stack: str
    resources: tuple[RenderedResource, ...]
    """Every registered resource (components and providers included), sorted by URN."""
    exports: dict[str, Any]
    """Stack exports, secret ones replaced by `[secret]`."""
    secret_exports: frozenset[str] = field(default_factory=frozenset)
    warnings: tuple[str, ...] = ()
    """Warnings the program logged (`pulumi.log.warn`), as a preview would show them."""

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "resources": [resource.to_json() for resource in self.resources],
            "exports": self.exports,
            "secret_exports": sorted(self.secret_exports),
            "warnings": list(self.warnings),
        }

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> "Rendering":
        return cls(
            stack=document["stack"],
            resources=tuple(RenderedResource.from_json(r) for r in document["resources"]),
            exports=document["exports"],
            secret_exports=frozenset(document["secret_exports"]),
            warnings=tuple(document.get("warnings", ())),
        )

    def of_type(self, type_token: str) -> list[RenderedResource]:
        return [resource for resource in self.resources if resource.type == type_token]

    def named(self, name: str) -> RenderedResource:
        matches = [resource for resource in self.resources if resource.name == name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} resources named {name!r}")
        return matches[0]

    def get(self, type_token: str, name: str) -> RenderedResource:
        """The one resource of this type with this logical name."""
        matches = [r for r in self.of_type(type_token) if r.name == name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} resources of type {type_token} named {name!r}")
        return matches[0]

    def by_urn(self, urn: str) -> RenderedResource:
        return next(resource for resource in self.resources if resource.urn == urn)

    def waits_for(self, later: RenderedResource, earlier: RenderedResource) -> bool:
        """Whether the engine creates `later` only after `earlier`: a path of dependencies
        (explicit `depends_on` and inputs alike) leads from one to the other."""
        direct = {resource.urn: resource.dependencies for resource in self.resources}
        seen: set[str] = set()
        pending = list(later.dependencies)
        while pending:
            urn = pending.pop()
            if urn == earlier.urn:
                return True
            if urn not in seen:
                seen.add(urn)
                pending.extend(direct.get(urn, ()))
        return False

    def descendants(self, urn: str) -> list[RenderedResource]:
        """Resources under the given one, at any depth."""
        children: dict[str, list[RenderedResource]] = {}
        for resource in self.resources:
            children.setdefault(resource.parent, []).append(resource)
        found: list[RenderedResource] = []
        pending = [urn]
        while pending:
            for child in children.get(pending.pop(), []):
                found.append(child)
                pending.append(child.urn)
        return sorted(found, key=lambda resource: resource.urn)


class RenderFailed(Exception):
    """The program raised; `resources` holds what it had registered until then."""

    def __init__(self, stack: str, cause: BaseException, resources: tuple[RenderedResource, ...]):
        super().__init__(f"rendering stack {stack!r} failed: {cause}")
        self.cause = cause
        self.resources = resources


def _path(parent: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else key


def mask_secrets(value: Any, path: str, secret_paths: set[str]) -> Any:
    """Plain Python value of a wire value, with secret-wrapped values replaced by the mark."""
    if isinstance(value, dict):
        if value.get(SIG_KEY) == SECRET_SIG:
            secret_paths.add(path)
            return SECRET_MARK
        return {
            key: mask_secrets(item, _path(path, key), secret_paths) for key, item in value.items()
        }
    if isinstance(value, list):
        return [
            mask_secrets(item, _path(path, index), secret_paths) for index, item in enumerate(value)
        ]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _parse_path(path: str) -> list[str | int]:
    steps: list[str | int] = []
    for part in path.replace("[", ".[").split("."):
        if part.startswith("["):
            steps.append(int(part[1:-1]))
        elif part:
            steps.append(part)
    return steps


def _apply_at(value: Any, steps: list[str | int], change: Any) -> Any:
    """`value` with the item at `steps` passed through `change`; missing paths leave it as is."""
    if not steps:
        return change(value)
    head, rest = steps[0], steps[1:]
    if isinstance(head, int) and isinstance(value, list) and head < len(value):
        return [*value[:head], _apply_at(value[head], rest, change), *value[head + 1 :]]
    if isinstance(head, str) and isinstance(value, dict) and head in value:
        return {**value, head: _apply_at(value[head], rest, change)}
    return value


def _without_secrets(value: Any) -> Any:
    """`value` with every secret wrapper removed (the values kept)."""
    value = rpc.unwrap_rpc_secret(value)
    if isinstance(value, dict):
        return {key: _without_secrets(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_secrets(item) for item in value]
    return value


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """The SDK's mock monitor, plus a record of every registration with its secret paths."""

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.records: list[RenderedResource] = []

    def RegisterResource(self, request: Any) -> Any:
        urn = self.make_urn(request.parent, request.type, request.name)
        if request.type == STACK_TYPE:
            return resource_pb2.RegisterResourceResponse(urn=urn)
        secret_paths: set[str] = set()
        inputs = mask_secrets(json_format.MessageToDict(request.object), "", secret_paths)
        mock_id, state = self.mocks.new_resource(
            pulumi.runtime.MockResourceArgs(
                typ=request.type,
                name=request.name,
                inputs=rpc.deserialize_properties(request.object),
                provider=request.provider,
                resource_id=request.importId,
                custom=request.custom or False,
            )
        )
        # Echoed secret inputs stay secret in the outputs, as the engine keeps them: exactly
        # where they were. The SDK's deserializer lifts a nested secret to the whole top-level
        # property (a list holding one secret value becomes one secret); undone here, so the
        # plan and its policies see the structure around a secret, as a policy pack does.
        state = _without_secrets(state)
        for path in secret_paths:
            state = _apply_at(state, _parse_path(path), rpc.wrap_rpc_secret)
        resource_id = mock_id or ""
        state_proto: Any = _sync_await(rpc.serialize_properties(state, {}))
        self.resources[urn] = pulumi_mocks.MockMonitor.ResourceRegistration(urn, resource_id, state)
        self.records.append(
            RenderedResource(
                type=request.type,
                name=request.name,
                urn=urn,
                parent=request.parent,
                provider=request.provider,
                custom=bool(request.custom),
                inputs=inputs,
                secret_paths=frozenset(secret_paths),
                outputs=mask_secrets(json_format.MessageToDict(state_proto), "", set()),
                ignore_changes=tuple(request.ignoreChanges),
                dependencies=tuple(sorted(request.dependencies)),
                protect=bool(request.protect),
            )
        )
        return resource_pb2.RegisterResourceResponse(urn=urn, id=resource_id, object=state_proto)


def _encode(value: Any) -> str:
    """Config values reach the program as strings; lists and maps as JSON (as the CLI does)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


def project_name(project_dir: Path = PROJECT_DIR) -> str:
    """The `name` of the project's Pulumi.yaml: the namespace of its config keys."""
    return str(yaml.safe_load((project_dir / "Pulumi.yaml").read_text())["name"])


def _qualified(key: str, project: str = PROJECT) -> str:
    return key if ":" in key else f"{project}:{key}"


def stack_config(
    stack: str,
    config: Mapping[str, Any] | None = None,
    secret_values: Mapping[str, str] | None = None,
    project_dir: Path = PROJECT_DIR,
) -> tuple[dict[str, str], set[str]]:
    """The config map and secret keys the CLI would hand the program, plus the overrides.

    Pulumi.yaml defaults, then the stack file, then `config` (a None value removes a key), then
    `secret_values` as secret config. A `secure:` value in the stack file stays secret (its
    ciphertext is used unless `secret_values` gives the plaintext).
    """
    project = yaml.safe_load((project_dir / "Pulumi.yaml").read_text())
    name = str(project["name"])
    values: dict[str, str] = {}
    secret_keys: set[str] = set()
    for key, spec in (project.get("config") or {}).items():
        if isinstance(spec, dict) and "default" in spec:
            values[_qualified(key, name)] = _encode(spec["default"])
    stack_file = yaml.safe_load((project_dir / f"Pulumi.{stack}.yaml").read_text()) or {}
    for key, value in (stack_file.get("config") or {}).items():
        if isinstance(value, dict) and "secure" in value:
            secret_keys.add(_qualified(key, name))
            values[_qualified(key, name)] = str(value["secure"])
        else:
            values[_qualified(key, name)] = _encode(value)
    for key, value in (config or {}).items():
        if value is None:
            values.pop(_qualified(key, name), None)
            secret_keys.discard(_qualified(key, name))
        else:
            values[_qualified(key, name)] = _encode(value)
    for key, value in (secret_values or {}).items():
        values[_qualified(key, name)] = value
        secret_keys.add(_qualified(key, name))
    return values, secret_keys


def ensure_event_loop() -> None:
    """Pulumi's runtime runs on the thread's current event loop; make one if there is none.

    `asyncio.run()` (anywhere earlier in the process) leaves the main thread without one.
    """
    try:
        asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:
        asyncio.set_event_loop(asyncio.new_event_loop())


class _EngineMessages(logging.Handler):
    """Collects what the program logs to the engine at WARNING and above."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _engine_logger(messages: _EngineMessages) -> logging.Logger:
    logger = logging.Logger(f"{__name__}.engine")  # private: not shared with other renders
    logger.addHandler(messages)
    return logger


@contextlib.contextmanager
def _fresh_runtime(
    monitor: RecordingMonitor, stack: str, messages: _EngineMessages, project: str = PROJECT
) -> Iterator[None]:
    ensure_event_loop()
    # set_mocks keeps an existing root stack resource; a render needs its own.
    runtime_settings.ROOT.set(None)
    runtime_settings.SETTINGS.outputs.clear()
    pulumi.runtime.set_mocks(
        monitor.mocks,
        project=project,
        stack=stack,
        preview=False,
        logger=_engine_logger(messages),
        monitor=monitor,
    )
    try:
        yield
    finally:
        runtime_settings.ROOT.set(None)


def _resolve_export(value: Any, path: str, secret: set[str]) -> Any:
    """The export's plain value; a secret inside a dict export is masked where it is (the
    engine, too, keeps a nested secret as a secret property of the output), so the rest of the
    dict stays readable, e.g. for a stack that reads it through a StackReference."""
    if isinstance(value, dict):
        return {key: _resolve_export(item, f"{path}.{key}", secret) for key, item in value.items()}
    output = pulumi.Output.from_input(value)
    if _sync_await(output.is_secret()):
        secret.add(path)
        return SECRET_MARK
    return _sync_await(output.future())


def _resolve_exports() -> tuple[dict[str, Any], frozenset[str]]:
    """Exports by name, secrets masked; the secret ones' names (`name` or `name.key.key`)."""
    root = runtime_settings.get_root_resource()
    outputs: dict[str, Any] = getattr(root, "outputs", {})
    exports: dict[str, Any] = {}
    secret: set[str] = set()
    for name in sorted(outputs):
        exports[name] = _resolve_export(outputs[name], name, secret)
    return exports, frozenset(secret)


def render_stack(
    stack: str,
    config: Mapping[str, Any] | None = None,
    secret_values: Mapping[str, str] | None = None,
    project_dir: Path = PROJECT_DIR,
    stack_outputs: Mapping[str, Mapping[str, Any]] | None = None,
) -> Rendering:
    """Render the program for `stack`; raise RenderFailed if the program raises.

    `stack_outputs` answers stack references (by stack name), e.g. a promoting stack's source.
    """
    values, secret_keys = stack_config(stack, config, secret_values, project_dir)
    project = project_name(project_dir)
    region = values.get(f"{project}:awsRegion", "us-west-2")
    monitor = RecordingMonitor(PlatformMocks(region, stack_outputs))
    program = str(project_dir / "__main__.py")
    messages = _EngineMessages()
    with _fresh_runtime(monitor, stack, messages, project), contextlib.chdir(project_dir):
        pulumi.runtime.set_all_config(values, sorted(secret_keys))

        def run_program() -> None:
            runpy.run_path(program, run_name="__main__")

        try:
            _sync_await(run_pulumi_func(run_program))
        except Exception as error:
            raise RenderFailed(stack, error, _sorted(monitor.records)) from error
        exports, secret_exports = _resolve_exports()
    return Rendering(
        stack=stack,
        resources=_sorted(monitor.records),
        exports=exports,
        secret_exports=secret_exports,
        warnings=tuple(messages.messages),
    )


def _sorted(records: list[RenderedResource]) -> tuple[RenderedResource, ...]:
    return tuple(sorted(records, key=lambda resource: resource.urn))
