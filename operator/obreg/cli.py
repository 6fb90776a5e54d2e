"""``obreg run`` (the operator), ``obreg render`` (offline, what the operator would
write) and ``obreg crds``."""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import logging
import os
import shutil
import sys
import tempfile
import textwrap
import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, cast

import yaml

from . import version
from .api import crd
from .api.common import GROUP
from .api.kinds import KINDS, SERVICE_PROVIDER, TRUST_ANCHOR
from .errors import InvalidInput, Label, Problem, printable
from .importing import command as importing_command
from .manifests import MARKER, Manifests, load
from .render import bundle, credentials, digest, listing, objects
from .render.inputs import INPUT_LABEL, Inputs
from .settings import Settings

if TYPE_CHECKING:
    from .probes import Address

# Where the operator would generate client credentials, offline rendering shows these
# instead: stable, so a pull request's preview is the same on every run, and plainly not
# credentials, so nothing usable reaches a review pipeline.
PLACEHOLDER_CREDENTIALS = {
    credentials.CLIENT_ID_KEY: b"placeholder-client-id-generated-on-apply",
    credentials.CLIENT_SECRET_KEY: b"placeholder-client-secret-generated-on-apply",
}

# Exit codes: what a pipeline can branch on.
EXIT_REFUSED = 1  # the input was refused; the message says what to fix
EXIT_USAGE = 2  # the command line was wrong (argparse's own code)
EXIT_INTERNAL = 3  # obreg failed; please report


@dataclass
class Rendered:
    bundles: list[bundle.Bundle] = field(default_factory=list)
    # Service providers whose credentials the operator generates: shown as placeholders.
    placeholders: list[Label] = field(default_factory=list)


def render_manifests(
    manifests: Manifests,
    now: datetime.datetime,
    digest_key: bytes | None = None,
    placeholder_secrets: bool = False,
) -> Rendered:
    """Render every workload any resource targets; refuse everything on any problem.
    ``placeholder_secrets``: Secrets not in the manifests stand in as placeholders
    (render/inputs.py)."""
    rendered = Rendered()
    secrets = dict(manifests.secrets)
    for namespace in manifests.namespaces.values():
        for sp in namespace.service_providers:
            id_ref, _ = credentials.references(sp)
            generated = sp.spec.client_credentials.client_id_ref is None
            if generated and (namespace.name, id_ref.name) not in secrets:
                secrets[(namespace.name, id_ref.name)] = PLACEHOLDER_CREDENTIALS
                rendered.placeholders.append(sp.label)
    labels = {
        **manifests.secret_labels,
        # The operator marks the credentials it generates as its input (render/objects.py).
        **{key: {INPUT_LABEL: "true"} for key in secrets if key not in manifests.secrets},
    }
    inputs = Inputs(
        secrets=secrets,
        config_maps=manifests.config_maps,
        secret_labels=labels,
        digest_key=digest_key,
        unreadable=manifests.sealed,
        placeholders=placeholder_secrets,
    )

    problems: list[Problem] = []
    for namespace in manifests.namespaces.values():
        for workload in namespace.workloads():
            try:
                rendered.bundles.append(bundle.render(namespace, workload, inputs, now))
            except InvalidInput as err:
                problems += err.problems
    if problems:
        raise InvalidInput(list(dict.fromkeys(problems)))
    return rendered


def _layout(rendered: Rendered) -> dict[PurePosixPath, tuple[bytes, bool]]:
    """Every file to write, relative to ``-o``: ``<namespace>/<workload>/<product path>``
    and ``<namespace>/<workload>/obreg-objects.yaml``; with whether it carries a secret.
    Every component was validated where it entered (names.py); a path that would still
    leave ``-o`` or be both a file and a folder is refused here, before anything is
    written."""
    files: dict[PurePosixPath, tuple[bytes, bool]] = {}

    def put(path: PurePosixPath, content: bytes, secret: bool, owner: Label | str) -> None:
        if path.is_absolute() or ".." in path.parts or path in files:
            raise InvalidInput([Problem(owner, "spec", f"would write {path} twice or outside -o")])
        files[path] = (content, secret)

    for item in rendered.bundles:
        root = PurePosixPath(item.namespace, item.workload.name)
        for file in item.files:
            put(root / file.path, file.content, file.secret, file.owner)
            if file.path in item.listings:  # for review: beside it, never in the objects
                listed = PurePosixPath(file.path + listing.SUFFIX)
                put(root / listed, item.listings[file.path].encode(), file.secret, file.owner)
        objects_yaml = yaml.safe_dump_all(
            [objects.config_map(item), objects.secret(item)], sort_keys=True
        )
        put(
            root / "obreg-objects.yaml",
            objects_yaml.encode(),
            True,
            f"{item.namespace}/{item.workload.kind}/{item.workload.name}",
        )
    for path in files:
        for parent in path.parents:
            if parent in files:
                raise InvalidInput(
                    [Problem(str(parent), "-o", f"is a file, but {path} needs it as a folder")]
                )
    return files


def write(rendered: Rendered, out: Path) -> int:
    """Write everything into a fresh folder beside ``out``, then put it in place of
    ``out``'s content: nothing is written into ``out`` until all of it is on disk, so a
    refusal or a failure leaves ``out`` as it was, never half-written. ``out`` must be
    absent, empty, or an earlier ``obreg render`` output (its content is replaced).
    Files that carry a secret are created 0600. Returns the number of files written."""
    files = _layout(rendered)
    out = out.absolute()  # so "-o ." has a parent to stage in (links stay unresolved)
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise InvalidInput([Problem(str(out), "-o", "is not a folder")])
    for parent in out.parents:
        if parent.exists() and not parent.is_dir():
            raise InvalidInput([Problem(str(out), "-o", f"is inside {parent}, not a folder")])
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise InvalidInput(
            [
                Problem(
                    str(out),
                    "-o",
                    "holds files that obreg render did not write",
                    "give an empty or new folder; obreg replaces its own earlier output",
                )
            ]
        )
    try:
        return _replace(files, out)
    except OSError as err:  # no room, no right, a read-only file system: the user's to fix
        raise InvalidInput([Problem(str(out), "-o", f"cannot write: {err.strerror}")]) from None


def _replace(files: dict[PurePosixPath, tuple[bytes, bool]], out: Path) -> int:
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".obreg-render-", dir=out.parent))
    try:
        for relative, (content, secret) in sorted(files.items()):
            target = staging.joinpath(*relative.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(
                target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if secret else 0o644
            )
            with os.fdopen(descriptor, "wb") as sink:
                sink.write(content)
        (staging / MARKER).write_text("written by obreg render; replaced on the next run\n")
        staging.chmod(0o755)
        if out.exists():
            # Keep the folder itself (it may be someone's working directory): move its
            # old entries aside, then the new ones in; renames within one file system.
            old = Path(tempfile.mkdtemp(prefix=".obreg-render-old-", dir=out.parent))
            for entry in list(out.iterdir()):
                entry.rename(old / entry.name)
            for entry in list(staging.iterdir()):
                entry.rename(out / entry.name)
            shutil.rmtree(old)
        else:
            staging.rename(out)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return len(files)


def _render(args: argparse.Namespace) -> int:
    now = datetime.datetime.now(datetime.UTC)
    try:
        key = _digest_key(args.digest_key_file)
        manifests = load(
            args.filename,
            recursive=args.recursive,
            last_wins=args.last_wins,
            allow_empty=args.allow_empty,
        )
        rendered = render_manifests(manifests, now, key, args.placeholder_secrets)
        written = write(rendered, args.output)
        if args.summary_json is not None:
            _write_summary(args.summary_json, summary(rendered, manifests, key is not None))
    except InvalidInput as err:
        print(f"obreg: refused, nothing written ({len(err.problems)} problem(s)):", file=sys.stderr)
        for problem in err.problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_REFUSED
    for note in manifests.notes:
        print(printable(f"obreg: warning: {note}"), file=sys.stderr)
    json_on_stdout = str(args.summary_json) == "-"
    for item in rendered.bundles:
        if not json_on_stdout:  # results on stdout: these lines, or the JSON alone
            print(
                f"{item.namespace}/{item.workload.kind}/{item.workload.name}: "
                f"{len(item.files)} files, digest {item.digest[:16]}"
                + ("" if key else " (unkeyed: Secret-derived contents not covered)")
            )
        for label, warnings in sorted(item.warnings.items(), key=lambda kv: str(kv[0])):
            for warning in warnings:
                print(printable(f"obreg: warning: {label}: {warning}"), file=sys.stderr)
        for anchor, summaries in sorted(item.certificates.items()):
            for certificate in summaries:
                for warning in certificate.warnings:
                    print(
                        printable(
                            f"obreg: warning: {TRUST_ANCHOR.kind} {item.namespace}/{anchor} "
                            f"{certificate.alias}: {warning}"
                        ),
                        file=sys.stderr,
                    )
    for label in rendered.placeholders:
        print(
            f"obreg: {label}: client credentials are generated by the operator when "
            "applied; this render shows placeholders in their place",
            file=sys.stderr,
        )
    for secret, files in _placeholder_use(rendered).items():
        seen = manifests.sealed.get(_key(secret))
        print(
            f"obreg: warning: Secret {secret} is not in the manifests"
            + (f" (only {seen})" if seen else "")
            + ": placeholders stand in for its values in "
            + ", ".join(files),
            file=sys.stderr,
        )
    print(f"obreg: wrote {written} files under {args.output}", file=sys.stderr)
    return 0


def _diff(args: argparse.Namespace) -> int:
    """``obreg diff`` (diff.py): render, then compare with the live cluster."""
    import kubernetes

    from . import diff
    from .kube.api import Api, ApiError, client

    now = datetime.datetime.now(datetime.UTC)
    try:
        manifests = load(args.filename, recursive=args.recursive, last_wins=args.last_wins)
        rendered = render_manifests(manifests, now, None, args.placeholder_secrets)
    except InvalidInput as err:
        print(f"obreg: refused ({len(err.problems)} problem(s)):", file=sys.stderr)
        for problem in err.problems:
            print(f"  {problem}", file=sys.stderr)
        return diff.EXIT_ERROR
    for note in manifests.notes:
        print(printable(f"obreg: warning: {note}"), file=sys.stderr)
    try:
        api = Api(client())
    except (kubernetes.config.ConfigException, OSError, yaml.YAMLError) as err:
        return diff.error(
            f"{os.environ.get('KUBECONFIG', '~/.kube/config')}: kubeconfig: not usable "
            f"({type(err).__name__})"
        )
    try:
        return diff.run(api, rendered, manifests)
    except ApiError as err:
        return diff.error(f"the cluster refused a read: {err} (see obreg diff --help for RBAC)")
    except OSError as err:  # unreachable, TLS
        return diff.error(f"the cluster cannot be reached: {type(err).__name__}")


def _key(secret: str) -> tuple[str, str]:
    namespace, _, name = secret.partition("/")
    return namespace, name


def _placeholder_use(rendered: Rendered) -> dict[str, list[str]]:
    """Each placeholder Secret ("namespace/name") and the files rendered with it."""
    use: dict[str, list[str]] = {}
    for item in rendered.bundles:
        for path, secrets in item.placeholders.items():
            for secret in secrets:
                use.setdefault(secret, []).append(f"{item.namespace}/{item.workload.name}/{path}")
    return dict(sorted(use.items()))


def key_manager_steps(item: bundle.Bundle, namespace: bundle.Namespace) -> list[str]:
    """What a Key Manager pass checks, and makes or updates where it differs, for the
    service providers whose Key Manager is ``item``'s workload (render cannot know the
    KM's database; obreg diff reads what the operator last recorded)."""
    return [
        f"{SERVICE_PROVIDER.kind} {sp.name}: OAuth app {sp.spec.application_name}, OIDC claim "
        f"{sp.spec.oidc_claim.claim_uri}, openid scope"
        for sp in namespace.service_providers
        if sp.spec.key_manager_admin is not None and sp.spec.key_manager == item.workload
    ]


def summary(rendered: Rendered, manifests: Manifests, keyed: bool) -> dict[str, Any]:
    """The machine-readable summary of a render (``--summary-json``): each workload's
    files, whether it would roll ("rendered": only the cluster knows), the Key Manager
    steps, and the placeholder Secrets each file depends on. Names only, no content."""
    return {
        "apiVersion": "obreg.dev/render-summary/v1",
        "keyed": keyed,
        "notes": manifests.notes,
        "placeholderSecrets": _placeholder_use(rendered),
        "workloads": [
            {
                "namespace": item.namespace,
                "kind": item.workload.kind,
                "name": item.workload.name,
                "digest": item.digest,
                "rollout": "rendered",
                "files": [
                    {
                        "path": f.path,
                        "in": "Secret" if f.secret else "ConfigMap",
                        "placeholders": item.placeholders.get(f.path, []),
                    }
                    for f in item.files
                ],
                "keyManagerSteps": key_manager_steps(item, manifests.namespaces[item.namespace]),
            }
            for item in rendered.bundles
        ],
    }


def _write_summary(path: Path, content: dict[str, Any]) -> None:
    text = json.dumps(content, indent=2, sort_keys=True) + "\n"
    if str(path) == "-":
        sys.stdout.write(text)
        return
    try:
        path.write_text(text)
    except OSError as err:
        raise InvalidInput(
            [Problem(str(path), "--summary-json", f"cannot write: {err.strerror}")]
        ) from None


def _digest_key(path: Path | None) -> bytes | None:
    """The key of ``--digest-key-file``: what the operator keeps, so the digests printed
    are the cluster's. Refused when short enough to guess (render/digest.py)."""
    if path is None:
        return None
    try:
        key = path.read_bytes()
    except OSError as err:
        raise InvalidInput(
            [Problem(str(path), "--digest-key-file", f"cannot read: {err.strerror}")]
        ) from None
    if len(key) < digest.KEY_BYTES:
        raise InvalidInput(
            [
                Problem(
                    str(path),
                    "--digest-key-file",
                    f"holds {len(key)} bytes; a digest key has at least {digest.KEY_BYTES}",
                    "write the decoded data of the operator's obreg-digest-key Secret",
                )
            ]
        )
    return key


def _run(args: argparse.Namespace) -> int:
    """The operator: kopf with obreg's handlers, and its settings parsed once (they reach
    the handlers in kopf's memo)."""
    config = Settings.given(
        settle_seconds=args.settle_seconds,
        resync_seconds=args.resync_seconds,
        km_resync_seconds=args.key_manager_resync_seconds,
        identity=args.identity,
        namespaces=tuple(args.namespace) if args.namespace else None,
        metrics_port=args.metrics_port,
        readiness_port=args.readiness_port,
        peering_name=args.peering_name,
        standalone=args.standalone or None,
        lease_duration=args.lease_duration,
        renew_deadline=args.renew_deadline,
        retry_period=args.retry_period,
        digest_key_secret=args.digest_key_secret,
    )
    import kopf

    from . import handlers  # noqa: F401  (registers the handlers with kopf)

    level = "debug" if args.verbose else args.log_level
    kopf.configure(
        debug=level == "debug",
        quiet=level in ("warning", "error"),
        log_format=kopf.LogFormat.JSON if args.log_format == "json" else kopf.LogFormat.FULL,
    )
    if level == "error":  # kopf knows three levels; the root logger takes any
        logging.getLogger().setLevel(logging.ERROR)
    from .kube.digest_key import DigestKeyError

    try:
        asyncio.run(_serve(config, args))
    except DigestKeyError as err:
        print(f"obreg: {err}", file=sys.stderr)
        return EXIT_REFUSED
    return 0


async def _serve(config: Settings, args: argparse.Namespace) -> None:
    """The process-wide parts (metrics, probes, the API client) around kopf, which
    kube/serving.py may start more than once: a run's handlers find them in its memo."""
    import kopf
    import kubernetes

    from . import metrics
    from .kube import digest_key, serving
    from .kube.api import Api, client
    from .probes import Liveness, Readiness

    try:
        api = Api(client())
    except (kubernetes.config.ConfigException, OSError, yaml.YAMLError) as err:
        # Its text may quote the kubeconfig (a token, a key): only where it was looked for.
        raise InvalidInput(
            [
                Problem(
                    os.environ.get("KUBECONFIG", "~/.kube/config"),
                    "kubeconfig",
                    f"not usable ({type(err).__name__}), and not in a pod",
                    "set KUBECONFIG, or run in a pod with a ServiceAccount",
                )
            ]
        ) from None
    key = await digest_key.load(api, *digest_key.location(config.digest_key_secret))
    readiness, liveness = Readiness(), Liveness()
    if config.metrics_port:
        metrics.serve(config.metrics_port)
    if config.readiness_port:
        await readiness.serve(config.readiness_port)
    if args.liveness:
        await liveness.serve(args.liveness)

    async def run_kopf() -> None:
        lost = asyncio.Event()  # a kind of obreg's no longer served (kube/resources.py)
        await kopf.operator(
            clusterwide=not config.namespaces,
            namespaces=config.namespaces,
            # Unused by a standalone kopf, but without one kopf makes its own from
            # getpass.getuser(), which fails for a UID the image has no passwd entry for
            # (OpenShift's assigned UIDs, the chart's nonroot user).
            identity=cast(Any, config.identity),  # kopf's Identity is a NewType of str
            standalone=True,  # obreg elects its leader over a Lease (kube/lease.py)
            stop_flag=lost,
            memo=kopf.Memo(
                api=api, settings=config, readiness=readiness, digest_key=key, crds_lost=lost
            ),
        )
        if lost.is_set():
            raise serving.NotServed()

    try:
        await serving.serve(api, run_kopf)
    finally:
        await readiness.stop()
        await liveness.stop()


def _liveness_address(url: str) -> Address:
    from .probes import Address

    try:
        return Address.parse(url)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _crds(args: argparse.Namespace) -> int:
    sys.stdout.write(crd.render_all())
    if args.namespace:
        from .kube import own_rbac  # imports the Kubernetes client: only when asked

        sys.stdout.write(
            "---\n" + own_rbac.render(args.namespace, args.service_account, args.lease)
        )
    return 0


def _listed(items: Iterable[str]) -> str:
    """Prose naming each of ``items``: ``a, b and c``."""
    *rest, last = items
    return f"{', '.join(rest)} and {last}" if rest else last


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="obreg",
        description=__doc__,
        epilog=f"exit codes: 0 done, {EXIT_REFUSED} input refused, {EXIT_USAGE} usage, "
        f"{EXIT_INTERNAL} internal error",
    )
    parser.add_argument("--version", action=version.PrintVersion)
    commands = parser.add_subparsers(dest="command", required=True)
    render = commands.add_parser(
        "render",
        help="render manifests offline into files",
        description=textwrap.fill(
            "Render, without a cluster, exactly what obreg would write for each workload "
            f"the manifests' {_listed(f'{k.kind}s' for k in KINDS)} "
            "target: the files, the ConfigMap and Secret that carry them, and beside each "
            "truststore a text listing of its certificates. Manifests are read as kubectl "
            "apply takes them (an object defined twice is refused unless --last-wins). "
            "Results go to stdout; warnings and progress to stderr.",
            88,
        ),
        epilog="example:\n  obreg render -R -f overlays/prod -o out/ --summary-json summary.json\n"
        "  kustomize build overlays/prod | obreg render -f - -o out/ --placeholder-secrets\n\n"
        f"exit codes: 0 rendered, {EXIT_REFUSED} input refused (nothing written), "
        f"{EXIT_USAGE} wrong command line, {EXIT_INTERNAL} internal error (please report)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    render.add_argument(
        "-f",
        "--filename",
        type=Path,
        action="append",
        required=True,
        help="a manifest file, a directory of them, or - for standard input (repeatable)",
    )
    render.add_argument(
        "-R",
        "--recursive",
        action="store_true",
        help="read the subfolders of a -f directory too, as kubectl -R does "
        "(default: only its own files)",
    )
    render.add_argument(
        "--last-wins",
        action="store_true",
        help="an object defined twice: keep the last, as kubectl apply would, and say so "
        "(default: refused, naming both places)",
    )
    render.add_argument(
        "--placeholder-secrets",
        action="store_true",
        help="a referenced Secret not in the manifests, or there only as a SealedSecret, "
        "ExternalSecret or SOPS-encrypted Secret: render placeholders for its text values "
        "and say which files use them (a certificate, keystore or file from it is still "
        "refused; default: refused)",
    )
    render.add_argument(
        "--summary-json",
        type=Path,
        metavar="FILE",
        help="write a JSON summary (each workload's files, rollout, Key Manager steps, "
        "placeholder Secrets) to FILE, or - for stdout",
    )
    render.add_argument(
        "--allow-empty",
        action="store_true",
        help="render nothing, successfully, when the manifests hold no obreg resources "
        "(default: refused)",
    )
    render.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        help="output directory: new, empty, or an earlier render's (replaced whole)",
    )
    render.add_argument(
        "--digest-key-file",
        type=Path,
        help="the operator's digest key (the data of its obreg-digest-key Secret, decoded), "
        "to print the digests the cluster will have; without it a digest covers no "
        "Secret-derived file's content",
    )
    render.set_defaults(run=_render)
    diff_parser = commands.add_parser(
        "diff",
        help="what the manifests would change in the live cluster",
        description=textwrap.fill(
            "Render the manifests as obreg render does and compare, per workload, the "
            "files with those in the live obreg-<workload> ConfigMap and Secret: a unified "
            "diff for text files, the certificate listing's diff for truststores, only "
            "'changed' for a file carried in the Secret (its content is never printed); "
            "whether the workload would roll; the Key Manager state recorded in each "
            f"{SERVICE_PROVIDER.kind}'s status and whether its steps would run again. Reads only, "
            "with the kubeconfig (KUBECONFIG or ~/.kube/config): RBAC get on configmaps and "
            "secrets (the obreg-<workload> ones), deployments and statefulsets (apps), and "
            f"{SERVICE_PROVIDER.plural} ({GROUP}).",
            88,
        ),
        epilog="example:\n  obreg diff -R -f overlays/prod --placeholder-secrets\n\n"
        "exit codes (as kubectl diff): 0 no difference, 1 differences, 2 refused input, "
        "usage, or a cluster that cannot be read, 3 internal error (please report)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    diff_parser.add_argument(
        "-f", "--filename", type=Path, action="append", required=True,
        help="a manifest file, a directory of them, or - for standard input (repeatable)",
    )
    diff_parser.add_argument("-R", "--recursive", action="store_true", help="as for render")
    diff_parser.add_argument("--last-wins", action="store_true", help="as for render")
    diff_parser.add_argument(
        "--placeholder-secrets",
        action="store_true",
        help="as for render; a file rendered with a placeholder is shown as unknown",
    )
    diff_parser.set_defaults(run=_diff)
    importing_command.add_parser(commands)
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
        "--standalone",
        action="store_true",
        help="no leader election: this instance writes whatever others do",
    )
    for flag, default, what in (
        ("--lease-duration", 15, "a standby takes the Lease this long after the last renew"),
        ("--renew-deadline", 10, "the leader stops writing this long after its last renew"),
        ("--retry-period", 2, "how often the Lease is renewed or tried"),
    ):
        run.add_argument(flag, type=float, help=f"leader election: {what} (default {default})")
    run.add_argument(
        "--liveness",
        type=_liveness_address,
        help="liveness endpoint, e.g. http://0.0.0.0:8080/healthz (200 while running)",
    )
    run.add_argument(
        "--peering-name",
        help="the Lease in the operator's namespace that instances elect their leader with "
        "(default obreg; the chart uses the release name)",
    )
    run.add_argument(
        "--metrics-port", type=int, help="serve Prometheus metrics on this port (default: off)"
    )
    run.add_argument(
        "--identity",
        help="this instance's name as the Lease's holder (default: host, process and a "
        "random part); give one that a restarted process keeps, such as the pod's name, "
        "so it takes its Lease back at once instead of waiting for it to expire",
    )
    run.add_argument(
        "--readiness-port",
        type=int,
        help="serve /readyz on this port: 200 once the first lists are in (default: off)",
    )
    run.add_argument(
        "--log-level",
        choices=("debug", "info", "warning", "error"),
        default="info",
        help="the least severe messages logged (default info)",
    )
    run.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="text lines, or one JSON object per line for log pipelines (default text)",
    )
    run.add_argument(
        "--digest-key-secret",
        metavar="[NAMESPACE/]NAME",
        help="the Secret holding the key of the published digest, made when absent "
        "(default obreg-digest-key in the operator's namespace)",
    )
    run.add_argument("-v", "--verbose", action="store_true", help="same as --log-level=debug")
    run.set_defaults(run=_run)
    crds = commands.add_parser(
        "crds",
        help="print the CustomResourceDefinitions",
        description=textwrap.fill(
            "Print the CustomResourceDefinitions (for kubectl apply --server-side -f -). "
            "With --namespace, also the Roles and RoleBindings obreg needs in its own "
            "namespace, which an install without Helm needs for several replicas to "
            "coordinate: the Lease they elect their leader with and the digest key's "
            "Secret they share. What obreg may do where it serves is the chart's (a "
            "ClusterRole, or Roles in watchNamespaces): render it with helm template."
        ),
    )
    crds.add_argument("--namespace", help="obreg's own namespace (default: CRDs only)")
    crds.add_argument(
        "--service-account", default="obreg", help="obreg's ServiceAccount (default obreg)"
    )
    crds.add_argument(
        "--lease",
        default="obreg",
        help="the Lease, as obreg run --peering-name names it (default obreg)",
    )
    crds.set_defaults(run=_crds)
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except InvalidInput as err:  # what ``run`` cannot use; render prints its own
        for problem in err.problems:
            print(f"obreg: {problem}", file=sys.stderr)
        return EXIT_REFUSED
    except Exception as err:  # a bug: one line, no traceback, a code of its own
        frame = traceback.extract_tb(err.__traceback__)[-1]
        where = f"{Path(frame.filename).name}:{frame.lineno}"
        print(
            f"obreg: internal error, please report: {type(err).__name__} at {where}; "
            "nothing written",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
