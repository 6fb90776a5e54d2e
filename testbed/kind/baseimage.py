"""``debian:bookworm-slim`` in the tier's Docker engine, where a user's ``docker build`` of
the project's Dockerfile would pull it from Docker Hub, which this machine cannot reach.

It is the Debian base testbed/controlplane/images.py makes with debootstrap (the way
Debian's own image is made), with one addition a user's machine does not need: this
machine's CA bundle, named by ``PIP_CERT``. This machine's egress to PyPI passes a proxy
that signs with a CA of the machine's own, which pip (trusting only its bundled CAs)
would refuse; buildah's builds get the same bundle mounted. The Dockerfile's steps, and
the README's command that builds it, stay as a user runs them.
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
from pathlib import Path

from testbed.controlplane import images
from testbed.kind import engine

IMAGE = "debian:bookworm-slim"  # what the Dockerfile's FROM names
HOST_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
IN_IMAGE_BUNDLE = "/etc/ssl/certs/obreg-host-ca-certificates.crt"
RECIPE_LABEL = "dev.obreg.engine-base-recipe"
STEPS = """FROM {base}
COPY ca-certificates.crt {bundle}
ENV PIP_CERT={bundle}
LABEL {label}={key}
"""


def recipe() -> str:
    """The hash that names this recipe: the base's, the steps and the host's bundle."""
    digest = hashlib.sha256(images.BASE_RECIPE.encode())
    digest.update(STEPS.encode())
    digest.update(HOST_BUNDLE.read_bytes())
    return digest.hexdigest()[:16]


def ensure() -> str:
    """The image, made unless the engine holds it with this recipe's label."""
    key = recipe()
    if engine.label(IMAGE, RECIPE_LABEL) == key:
        return IMAGE
    print(f"loading {IMAGE} into the engine (recipe {key})", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(prefix="obreg-engine-base-") as tmp:
        context = Path(tmp)
        archive = images.archive(images.base(), context / "base.tar")
        engine.docker("load", "--quiet", "--input", str(archive))
        archive.unlink()
        (context / "ca-certificates.crt").write_bytes(HOST_BUNDLE.read_bytes())
        steps = STEPS.format(base=images.BASE, bundle=IN_IMAGE_BUNDLE, label=RECIPE_LABEL, key=key)
        (context / "Dockerfile").write_text(steps)
        engine.docker("build", "--quiet", "--tag", IMAGE, str(context))
    # The loaded base, now under the Dockerfile's name only, and a recipe's image before.
    engine.docker("image", "prune", "--force")
    return IMAGE
