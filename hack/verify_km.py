"""hack/verify-km: check a real WSO2 Key Manager against what obreg makes there.

No WSO2 product runs on our machines, so obreg's admin calls are tested against a
contract double; this script lets whoever runs a real IS-KM 5.7 close the loop. It sends
obreg's own read envelopes (getOAuthApplicationData, getExternalClaims, getScopes) to the
KM, reads back the OAuth app, the OIDC claim and the openid scope, and compares them
with what the OBServiceProvider manifest asks for. It never writes. It prints what it
found and the writes obreg would still send; secrets are never printed.

Then it checks the KM against each fact of the services' contract that obreg relies on
(testbed/kmcontract/contract.yaml) and that a read can show: which fields the read by key
leaves out, the fault for an unknown consumer key, whether client secrets are hashed, and
how a scope without claims is shown. Facts only a write could show (overwrites, reply
codes of writes, refused credentials, which could lock the account) are listed as not
checked.

Exit status: 0 all in place, 1 something differs, 2 the KM could not be asked.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import secrets
import sys
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from obreg.api import parse
from obreg.api.kinds import SERVICE_PROVIDER
from obreg.errors import InvalidInput
from obreg.km import sync
from obreg.km.client import AdminClient, Connection, KmError
from obreg.redaction import redact
from obreg.render.credentials import ClientCredentials
from obreg.rules.km_app import Blocked, Desired, Observed, desired, plan
from testbed import kmcontract


def _service_provider(path: Path) -> Any:
    for document in yaml.safe_load_all(path.read_text()):
        if document and document.get("kind") == SERVICE_PROVIDER.kind:
            return parse.parse(document)
    raise SystemExit(f"{path}: no {SERVICE_PROVIDER.kind} in the file")


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
    if isinstance(steps, Blocked):
        lines.append(f"CANNOT  {steps.reason}")
    elif steps:
        lines += [f"DIFFERS obreg would send: {s.description}" for s in steps]
    else:
        lines.append("OK      the Key Manager holds what obreg would make")
    return lines


def _fact(holds: bool, what: str, found: str = "") -> str:
    return f"fact    {what}: as the contract says" if holds else f"FACT?   {what}: {found}"


async def facts(client: AdminClient, seen: Observed) -> list[str]:
    """What a real KM does, against the contract's facts a read can check."""
    contract = kmcontract.load()
    by_key = contract.operations["getOAuthApplicationData"]
    lines = []
    if seen.app is not None:
        returned = set(seen.app.fields)
        left_out = sorted({f for f, _ in contract.dtos["OAuthConsumerAppDTO"].fields} - returned)
        lines.append(
            _fact(
                not returned & set(by_key.omits),
                f"the read by key leaves out {', '.join(by_key.omits)}",
                f"it returned {', '.join(sorted(returned & set(by_key.omits)))}",
            )
            + f" (no value for: {', '.join(left_out) or 'none'})"
        )
    unknown = f"obreg-verify-{secrets.token_hex(6)}"
    what = f"an unknown consumer key is the fault {by_key.faults['unknown key']!r}"
    try:  # get_app tells that fault from any other, and raises those
        answered = await client.get_app(unknown)
        lines.append(_fact(answered is None, what, "it answered an app"))
    except KmError as err:
        lines.append(_fact(False, what, str(err)))
    hashed = not await client.hash_disabled()
    lines.append(
        "fact    client secret hashing is ON: obreg compares its own digest of the secret "
        "with the stored one"
        if hashed
        else "fact    client secrets are kept unhashed (the default): obreg can compare them"
    )
    listed = "openid" in await client.get_scopes()
    exists = await client.scope_exists("openid")
    lines.append(
        f"fact    scope openid {'is listed by getScopes' if listed else 'exists without claims'}"
        if exists
        else "FACT?   the KM has no openid scope: obreg cannot add the claim to it"
    )
    lines.append(
        "note    not checked (they need a write or a refused login): update overwrites, "
        "reply codes of writes, Access Denied for refused credentials"
    )
    return lines


async def verify(connection: Connection, want: Desired, secret_checked: bool) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session:
        client = AdminClient(connection, session)
        seen = await sync.observe(client, want)
        contract_lines = await facts(client, seen)
    if not secret_checked and seen.app is not None:
        want = dataclasses.replace(
            want, app=dataclasses.replace(want.app, client_secret=seen.app.client_secret)
        )
    lines = report(want, seen, secret_checked)
    status = 0 if lines[-1].startswith("OK") else 1
    lines += contract_lines
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
