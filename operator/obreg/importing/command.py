"""The ``obreg import`` command line: arguments, and the manifests written to ``-o``.

Kept apart from cli.py, which only hooks ``add_parser`` in, so the command changes
without touching the operator's entry point.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import textwrap
from pathlib import Path
from typing import Any

from ..api import kinds
from ..api.trust_anchor import DEFAULT_PASSWORD
from ..errors import InvalidInput, Problem, printable
from .files import open_folder, read_own
from .homes import SECRETS_FILE, Imported, Options, dump, import_homes
from .key_manager import KeyManagerSource, credentials_secret

EXIT_REFUSED = 1


def add_parser(commands: Any) -> None:
    """Add ``import`` to obreg's subcommands (an argparse sub-parsers object)."""
    parser = commands.add_parser(
        "import",
        help="import WSO2 product homes configured by hand into obreg's resources",
        description=textwrap.fill(
            "Read a Key Manager home and an API Manager home (the folders that hold "
            "repository/, e.g. kubectl cp'd out of the pods) and write the "
            f"{kinds.TRUST_ANCHOR.kind}, {kinds.IDENTITY_PROVIDER.kind} and "
            f"{kinds.SERVICE_PROVIDER.kind}, the ConfigMap of CAs and the Secrets "
            "(secrets.yaml, mode 0600: credentials and the files copied from the homes) to "
            "-o. A home is read as untrusted: no link followed (the home's own path "
            "included), only regular files within a byte budget, each read once. The "
            "resources are rendered and "
            "compared with the homes' files; whatever obreg cannot represent is reported "
            "on stderr by file and element.",
            88,
        ),
        epilog="example:\n  obreg import --km-home km/ --apim-home apim/ "
        "--stock-truststore client-truststore.jks -n wso2-prod -o adopted/\n\n"
        "exit codes: 0 imported, 1 something not representable (written only with "
        "--allow-unrepresentable) or input refused, 2 wrong command line",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--km-home", type=Path, required=True, help="the Key Manager's home")
    parser.add_argument("--apim-home", type=Path, required=True, help="the API Manager's home")
    parser.add_argument("-o", "--output", type=Path, required=True, help="a new or empty folder")
    parser.add_argument("-n", "--namespace", default="default", help="namespace of the objects")
    parser.add_argument("--km-workload", default="wso2-km", help="the KM's Deployment")
    parser.add_argument("--apim-workload", default="wso2-apim", help="the APIM's Deployment")
    parser.add_argument(
        "--stock-truststore",
        type=Path,
        help="the product's stock client-truststore.jks: entries also in it (same alias, "
        f"same certificate) are stock, the others become the {kinds.TRUST_ANCHOR.kind}'s "
        "CAs, and it "
        "becomes the anchor's base keystore",
    )
    parser.add_argument(
        "--truststore-password-file",
        type=Path,
        help=f"a file holding the truststores' password (default {DEFAULT_PASSWORD})",
    )
    parser.add_argument(
        "--secrets",
        choices=("values", "placeholders"),
        default="values",
        help="values: the Secrets with the homes' values; placeholders: the same Secrets "
        "with placeholder values, to seal or replace with your ExternalSecret",
    )
    parser.add_argument(
        "--key-manager",
        metavar="URL",
        help="https://host:port of the KM's admin services, as keyManagerAdmin.url: read the "
        "OAuth app, OIDC claim and openid scope there, set keyManagerAdmin, and report what "
        "the first reconcile would write",
    )
    parser.add_argument(
        "--key-manager-credentials",
        type=Path,
        metavar="FILE",
        help="the manifest of the Secret keyManagerAdmin.credentialsSecret names (username, "
        "password, and the obreg.dev/key-manager-hosts annotation allowing the URL's host)",
    )
    parser.add_argument(
        "--key-manager-ca", type=Path, metavar="FILE", help="PEM CA(s) of the KM's TLS"
    )
    parser.add_argument(
        "--key-manager-server-name",
        metavar="NAME",
        help="the host name the KM's certificate is issued to, when not the URL's",
    )
    parser.add_argument(
        "--allow-unrepresentable",
        action="store_true",
        help="write the manifests even when something is not representable (reported)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        options = Options(
            namespace=args.namespace,
            km_workload=args.km_workload,
            apim_workload=args.apim_workload,
            stock_truststore=_read(args.stock_truststore, "--stock-truststore"),
            truststore_password=_password(args.truststore_password_file),
            key_manager=_key_manager(args),
        )
        imported = import_homes(args.km_home, args.apim_home, options)
    except InvalidInput as err:
        print(
            f"obreg import: refused, nothing written ({len(err.problems)} problem(s)):",
            file=sys.stderr,
        )
        for problem in err.problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_REFUSED
    for report in imported.reports:
        print(printable(f"obreg import: unrepresentable: {report}"), file=sys.stderr)
    if imported.reports and not args.allow_unrepresentable:
        print(
            f"obreg import: {len(imported.reports)} thing(s) obreg cannot represent; nothing "
            "written (--allow-unrepresentable writes the manifests anyway)",
            file=sys.stderr,
        )
        return EXIT_REFUSED
    try:
        written = write(imported, args.output, placeholders=args.secrets == "placeholders")
    except InvalidInput as err:
        for problem in err.problems:
            print(f"obreg import: {problem}", file=sys.stderr)
        return EXIT_REFUSED
    print(f"obreg import: wrote {written} files under {args.output}", file=sys.stderr)
    return 0


def _key_manager(args: argparse.Namespace) -> KeyManagerSource | None:
    """--key-manager and its companions, read as the operator's keyManagerAdmin takes
    them: a URL, the credentials Secret (here its manifest), a CA, a server name."""
    if args.key_manager is None:
        for flag in ("credentials", "ca", "server_name"):
            if getattr(args, f"key_manager_{flag}") is not None:
                name = "--key-manager-" + flag.replace("_", "-")
                raise InvalidInput([_problem(name, "needs --key-manager")])
        return None
    manifest = _read(args.key_manager_credentials, "--key-manager-credentials")
    if manifest is None:
        raise InvalidInput([_problem("--key-manager", "needs --key-manager-credentials")])
    return KeyManagerSource(
        url=args.key_manager,
        credentials=credentials_secret(manifest, args.namespace),
        ca=_read(args.key_manager_ca, "--key-manager-ca"),
        server_name=args.key_manager_server_name,
    )


def _problem(where: str, message: str) -> Problem:
    return Problem(where, "-", message)


def _read(path: Path | None, flag: str) -> bytes | None:
    """An operator's own file named by ``flag``, read as files.read_own reads it."""
    return None if path is None else read_own(path, flag)


def _password(path: Path | None) -> str:
    """The truststores' password from its file, without the line end an editor adds."""
    flag = "--truststore-password-file"
    data = _read(path, flag)
    if data is None:
        return DEFAULT_PASSWORD
    try:
        return data.decode("utf-8").strip() or DEFAULT_PASSWORD
    except UnicodeDecodeError:
        raise InvalidInput([_problem(flag, f"{path} is not UTF-8")]) from None


def placeholder(secret: dict[str, Any]) -> dict[str, Any]:
    """The same Secret with a placeholder for each value: names and keys stay, so a
    SealedSecret or ExternalSecret of that name and keys replaces it."""
    metadata = secret["metadata"]
    values = {
        key: f"placeholder-{metadata['namespace']}-{metadata['name']}-{key}"
        for key in secret["stringData"]
    }
    return {**secret, "stringData": values}


def write(imported: Imported, out: Path, placeholders: bool) -> int:
    """Each manifest file into ``out`` (new or empty; made 0700); the Secrets in
    secrets.yaml, created 0600 so no other user of the machine reads them. ``out`` is
    opened once as a folder that is not a link (files.open_folder) and every file is
    created in that descriptor, never over an existing one; a write that fails removes
    what it wrote, so a refused ``-o`` holds nothing of the import's."""
    try:
        # Only its owner may change what the bank is about to review and commit.
        out.mkdir(mode=0o700, parents=True)
    except FileExistsError:
        pass  # an empty folder is taken; what else is there, open_folder refuses
    except OSError as err:
        raise InvalidInput([_problem("-o", f"cannot make {out}: {err.strerror}")]) from None
    folder = open_folder(out, "-o")
    try:
        if os.listdir(folder):
            raise InvalidInput([_problem("-o", f"{out} is not a new or empty folder")])
        texts = dict(imported.texts)
        if placeholders and imported.secrets:
            texts[SECRETS_FILE] = dump([placeholder(s) for s in imported.secrets])
        made: list[str] = []
        try:
            for name, text in sorted(texts.items()):
                mode = 0o600 if name == SECRETS_FILE else 0o644
                flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
                descriptor = os.open(name, flags, mode, dir_fd=folder)
                made.append(name)
                with os.fdopen(descriptor, "w", encoding="utf-8") as sink:
                    sink.write(text)
        except OSError as err:
            for name in made:
                with contextlib.suppress(OSError):
                    os.unlink(name, dir_fd=folder)
            raise InvalidInput(
                [_problem("-o", f"cannot write into {out}: {err.strerror}; nothing left there")]
            ) from None
    finally:
        os.close(folder)
    return len(texts)
