# The obreg operator image: slim, non-root, no build tools at run time.
# Build: docker build -t obreg:dev .
#
# Based on Debian's own image (made by debuerreotype from Debian's packages) with
# Debian's python3, rather than the python image: `make e2e-real` builds this same file
# with buildah on a base it makes itself with debootstrap, the way Debian's image is
# made, on machines with no Docker engine and no image registry.
FROM debian:bookworm-slim AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv python3-dev gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Every file from PyPI is checked against the hashes of requirements/ (make lock): first
# what builds (setuptools, wheel), then obreg's dependencies built with it and no other
# (pyjks needs twofish, which PyPI has only as source: hence gcc in this stage alone),
# then obreg itself from this source, with nothing more fetched.
COPY requirements/build.lock requirements/image.lock ./requirements/
RUN python3 -m venv /venv \
    && /venv/bin/pip install --no-cache-dir --require-hashes --no-deps -r requirements/build.lock \
    && /venv/bin/pip install --no-cache-dir --require-hashes --no-deps --no-build-isolation \
        -r requirements/image.lock
COPY pyproject.toml README.md ./
COPY operator ./operator
RUN /venv/bin/pip install --no-cache-dir --no-deps --no-build-isolation --no-index . \
    && /venv/bin/pip uninstall --yes --quiet pip setuptools wheel packaging

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /venv /venv
ENV PATH=/venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
# Any UID may run it (OpenShift's restricted-v2 assigns one, in group 0): nothing here is
# written at run time and every file is world-readable; 65532 when the platform sets none.
USER 65532:0
ENTRYPOINT ["obreg"]
CMD ["run"]
