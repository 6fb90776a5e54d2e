"""``obreg run`` (the operator), ``obreg render`` (offline, what the operator would
write) and ``obreg crds``."""

from __future__ import annotations

import argparse
import datetime
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import yaml

from .api import crd
from .errors import InvalidInput, Problem
from .manifests import Manifests, load
from .render import bundle, credentials, objects
from .render.inputs import Inputs
from .settings import Settings


@dataclass
class Rendered:
    bundles: list[bundle.Bundle] = field(default_factory=list)
    # Secrets the CLI had to create (generated client credentials), as objects.
    generated: list[dict[str, object]] = field(default_factory=list)


def render_manifests(manifests: Manifests, now: datetime.datetime) -> Rendered:
    """Render every workload any resource targets; refuse everything on any problem."""
    rendered = Rendered()
    secrets = dict(manifests.secrets)
    for namespace in manifests.namespaces.values():
        for sp in namespace.service_providers:
            id_ref, _ = credentials.references(sp)
            if (
                sp.spec.client_credentials.client_id_ref is None
                and (namespace.name, id_ref.name) not in secrets
            ):
                data = credentials.generate()
                secrets[(namespace.name, id_ref.name)] = data
                rendered.generated.append(
                    objects.credentials_secret(namespace.name, id_ref.name, data)
                )
    inputs = Inputs(secrets=secrets, config_maps=manifests.config_maps)

    problems: list[Problem] = []
    for namespace in manifests.namespaces.values():
        try:
            creds = {sp.name: credentials.resolve(sp, inputs) for sp in namespace.service_providers}
        except InvalidInput as err:
            problems += err.problems
            continue
        names: dict[str, str] = {}
        for workload in namespace.workloads():
            if workload.name in names and names[workload.name] != workload.kind:
                problems.append(
                    Problem(
                        f"namespace {namespace.name}",
                        "targets",
                        f"both a Deployment and a StatefulSet named {workload.name} are targeted",
                        "obreg names its output after the workload; target one of them",
                    )
                )
            names[workload.name] = workload.kind
            try:
                rendered.bundles.append(bundle.render(namespace, workload, inputs, creds, now))
            except InvalidInput as err:
                problems += err.problems
    if problems:
        raise InvalidInput(_unique(problems))
    return rendered


def _unique(problems: list[Problem]) -> list[Problem]:
    """One message per problem, though a shared resource is rendered for several workloads."""
    return list(dict.fromkeys(problems))


def write(rendered: Rendered, out: Path) -> list[Path]:
    """Write bundles as ``<out>/<namespace>/<workload>/<product path>`` plus the objects."""
    written: list[Path] = []
    for item in rendered.bundles:
        root = out / item.namespace / item.workload.name
        for file in item.files:
            target = root / file.path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(file.content)
            if file.secret:
                target.chmod(0o600)
            written.append(target)
        manifest = root / "obreg-objects.yaml"
        manifest.write_text(
            yaml.safe_dump_all([objects.config_map(item), objects.secret(item)], sort_keys=True)
        )
        manifest.chmod(0o600)
        written.append(manifest)
    for secret in rendered.generated:
        metadata = secret["metadata"]
        assert isinstance(metadata, dict)
        target = out / str(metadata["namespace"]) / f"{metadata['name']}.secret.yaml"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(yaml.safe_dump(secret, sort_keys=True))
        target.chmod(0o600)
        written.append(target)
    return written


def _render(args: argparse.Namespace) -> int:
    now = datetime.datetime.now(datetime.UTC)
    try:
        rendered = render_manifests(load(args.filename), now)
    except InvalidInput as err:
        print(f"obreg: refused, nothing written ({len(err.problems)} problem(s)):", file=sys.stderr)
        for problem in err.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    written = write(rendered, args.output)
    for item in rendered.bundles:
        print(
            f"{item.namespace}/{item.workload.kind}/{item.workload.name}: "
            f"{len(item.files)} files, digest {item.digest[:16]}"
        )
        for label, warnings in sorted(item.warnings.items()):
            for warning in warnings:
                print(f"  warning: {label}: {warning}")
        for anchor, summaries in sorted(item.certificates.items()):
            for summary in summaries:
                for warning in summary.warnings:
                    print(
                        f"  warning: OBTrustAnchor {item.namespace}/{anchor} "
                        f"{summary.alias}: {warning}"
                    )
    for secret in rendered.generated:
        metadata = secret["metadata"]
        assert isinstance(metadata, dict)
        print(
            f"generated client credentials into Secret {metadata['namespace']}/{metadata['name']}"
            " (apply it with the rest, or the next render generates others)"
        )
    print(f"wrote {len(written)} files under {args.output}")
    return 0


def _run(args: argparse.Namespace) -> int:
    """The operator: kopf with obreg's handlers and settings. Settings travel in the
    environment so that the handlers module reads the same ones; identity and priority
    are fixed here, once per process."""
    given = {
        "OBREG_SETTLE_SECONDS": args.settle_seconds,
        "OBREG_RESYNC_SECONDS": args.resync_seconds,
        "OBREG_KM_RESYNC_SECONDS": args.key_manager_resync_seconds,
        "OBREG_PRIORITY": args.priority,
        "OBREG_NAMESPACES": ",".join(args.namespace or []) or None,
        "OBREG_METRICS_PORT": args.metrics_port,
        "OBREG_PEERING_NAME": args.peering_name,
    }
    os.environ.update({k: str(v) for k, v in given.items() if v is not None})
    config = Settings.from_environment()
    os.environ.update(OBREG_PRIORITY=str(config.priority), OBREG_IDENTITY=config.identity)
    import kopf

    from . import handlers  # noqa: F401  (registers the handlers with kopf)

    kopf.configure(verbose=args.verbose)
    kopf.run(
        clusterwide=not config.namespaces,
        namespaces=config.namespaces,
        liveness_endpoint=args.liveness,
        priority=config.priority,
        identity=cast(Any, config.identity),  # kopf's Identity is a NewType of str
        standalone=args.standalone,
    )
    return 0


def _crds(_: argparse.Namespace) -> int:
    sys.stdout.write(crd.render_all())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="obreg", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    render = commands.add_parser("render", help="render manifests offline into files")
    render.add_argument(
        "-f",
        "--filename",
        type=Path,
        action="append",
        required=True,
        help="a manifest file or a directory of them (repeatable)",
    )
    render.add_argument("-o", "--output", type=Path, required=True, help="output directory")
    render.set_defaults(run=_render)
    run = commands.add_parser("run", help="run the operator")
    run.add_argument(
        "-n",
        "--namespace",
        action="append",
        help="watch only this namespace (repeatable); default: all",
    )
    run.add_argument(
        "--settle-seconds",
        type=float,
        help="wait this long for related changes before reconciling (default 1)",
    )
    run.add_argument(
        "--resync-seconds", type=float, help="re-check every resource this often (default 300)"
    )
    run.add_argument(
        "--key-manager-resync-seconds",
        type=float,
        help="re-check each Key Manager's database items this often (default 3600)",
    )
    run.add_argument(
        "--priority",
        type=int,
        help="kopf peering priority; the highest live instance acts (default random)",
    )
    run.add_argument(
        "--standalone",
        action="store_true",
        help="no peering: do not coordinate with other obreg instances",
    )
    run.add_argument("--liveness", help="liveness endpoint, e.g. http://0.0.0.0:8080/healthz")
    run.add_argument(
        "--peering-name",
        help="kopf peering object shared by instances (default obreg; the chart uses the "
        "release name)",
    )
    run.add_argument(
        "--metrics-port", type=int, help="serve Prometheus metrics on this port (default: off)"
    )
    run.add_argument("-v", "--verbose", action="store_true", help="more logging")
    run.set_defaults(run=_run)
    crds = commands.add_parser("crds", help="print the CustomResourceDefinitions")
    crds.set_defaults(run=_crds)
    args = parser.parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
