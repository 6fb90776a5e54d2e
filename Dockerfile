# The obreg operator image: slim, non-root, no build tools at run time.
# Build: docker build -t obreg:dev .   (not buildable on machines without a Docker engine)
FROM python:3.11.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator ./operator
RUN python -m venv /venv && /venv/bin/pip install --no-cache-dir .

FROM python:3.11.11-slim-bookworm
COPY --from=build /venv /venv
ENV PATH=/venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
USER 65532:65532
ENTRYPOINT ["obreg"]
CMD ["run"]
