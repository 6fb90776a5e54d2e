"""hack/verify-km: check a real WSO2 Key Manager against what obreg makes there.

No WSO2 product runs on our machines, so obreg's admin calls are tested against a
contract double; this script lets whoever runs a real IS-KM 5.7 close the loop. It sends
obreg's own read envelopes (getOAuthApplicationData, getExternalClaims, getScopes) to the
KM, reads back the OAuth app, the OIDC claim and the openid scope, and compares them
with what the OBServiceProvider manifest asks for. It never writes. It prints what it
found and the writes obreg would still send; secrets are never printed.

Exit status: 0 all in place, 1 something differs, 2 the KM could not be asked.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from obreg.api import parse
from obreg.api.service_provider import KIND
from obreg.errors import InvalidInput
from obreg.km import sync
from obreg.km.client import AdminClient, Connection, KmError
from obreg.km.desired import Desired, Observed, desired, plan
from obreg.redaction import redact
from obreg.render.credentials import ClientCredentials


def _service_provider(path: Path) -> Any:
    for document in yaml.safe_load_all(path.read_text()):
        if document and document.get("kind") == KIND:
            return parse.parse(document)
    raise SystemExit(f"{path}: no {KIND} in the file")


def report(want: Desired, seen: Observed, secret_checked: bool) -> list[str]:
    """One line per item, then the writes obreg would send."""
    lines = []
    app = seen.app
    if app is None:
        lines.append(f"MISSING OAuth app with client id {want.app.client_id}")
    else:
        lines.append(
            f"found   OAuth app {app.name}: callback {app.callback_url}, "
            f"grant types {' '.join(app.grant_types) or '(none)'}"
        )
        if not secret_checked:
            lines.append("note    client secret not checked (pass --client-secret-file)")
    claim = next((c for c in seen.claims if c.uri == want.claim.uri), None)
    lines.append(
        f"found   OIDC claim {claim.uri} -> {claim.mapped_local}"
        if claim
        else f"MISSING OIDC claim {want.claim.uri}"
    )
    released = want.claim.uri in seen.scopes.get(want.scope, [])
    lines.append(f"{'found  ' if released else 'MISSING'} {want.claim.uri} in scope {want.scope}")
    steps = plan(want, seen)
    if isinstance(steps, str):
        lines.append(f"CANNOT  {steps}")
    elif steps:
        lines += [f"DIFFERS obreg would send: {s.description}" for s in steps]
    else:
        lines.append("OK      the Key Manager holds what obreg would make")
    return lines


async def verify(connection: Connection, want: Desired, secret_checked: bool) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session:
        seen = await sync.observe(AdminClient(connection, session), want)
    if not secret_checked and seen.app is not None:
        want = dataclasses.replace(
            want, app=dataclasses.replace(want.app, client_secret=seen.app.client_secret)
        )
    lines = report(want, seen, secret_checked)
    status = 0 if lines[-1].startswith("OK") else 1
    secrets = [want.app.client_secret, connection.password]
    return status, redact("\n".join(lines), secrets)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="hack/verify-km", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("-f", "--filename", type=Path, required=True, help="the manifest")
    parser.add_argument("--url", required=True, help="https://<KM host>:<port> (e.g. 9446)")
    parser.add_argument("--username", required=True, help="a KM admin user")
    parser.add_argument("--password-file", type=Path, required=True, help="its password")
    parser.add_argument("--ca", type=Path, help="PEM CA of the KM's TLS (default: system)")
    parser.add_argument("--server-name", help="name in the KM's certificate (e.g. localhost)")
    parser.add_argument("--client-id", required=True, help="the store's OAuth client id")
    parser.add_argument("--client-secret-file", type=Path, help="also check the secret")
    parser.add_argument("--timeout", type=float, default=10.0)
    args = parser.parse_args(argv)
    try:
        sp = _service_provider(args.filename)
    except InvalidInput as err:
        print(err, file=sys.stderr)
        return 2
    secret = args.client_secret_file.read_text().strip() if args.client_secret_file else ""
    want = desired(sp.spec, ClientCredentials(args.client_id, secret))
    connection = Connection(
        url=args.url,
        username=args.username,
        password=args.password_file.read_text().strip(),
        ca_pem=args.ca.read_bytes() if args.ca else None,
        server_name=args.server_name,
        timeout=args.timeout,
    )
    try:
        status, text = asyncio.run(verify(connection, want, bool(secret)))
    except KmError as err:
        print(f"cannot check the Key Manager: {redact(str(err), [secret])}", file=sys.stderr)
        return 2
    print(text)
    return status


if __name__ == "__main__":
    sys.exit(main())
