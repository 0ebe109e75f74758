# flora-mcp in a small image: stdio by default, streamable HTTP when asked.
#
#   docker build -t flora-mcp .
#   docker run -i --rm -e FLORA_API_KEY flora-mcp                        # stdio, for a desktop host
#   docker run --rm -p 8000:8000 -e FLORA_API_KEY -e FLORA_AUTH_TOKEN \
#       flora-mcp --transport http --host 0.0.0.0                         # http://localhost:8000/mcp
#
# Without FLORA_API_KEY the server uses its embedded sandbox (no account, no credits).
# tests/test_packaging.py lints this file with hadolint and runs the build stage's RUN
# commands outside Docker; keep them plain shell.

ARG PYTHON_IMAGE=python:3.12.12-slim-bookworm

# ---- build: the wheel, then a venv holding it and its dependencies ------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
WORKDIR /src
COPY pyproject.toml README.md ./
COPY flora_mcp ./flora_mcp
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .
# With the PostgreSQL driver, so that replicas can share one database (FLORA_DATABASE_URL).
RUN python -m venv /opt/venv \
    && wheel="$(echo /wheels/flora_mcp-*.whl)" \
    && /opt/venv/bin/pip install --no-cache-dir "flora-mcp[postgres] @ file://${wheel}" \
    && /opt/venv/bin/pip uninstall --yes pip

# ---- runtime: the venv only; no compilers, no pip, not root --------------------------------
FROM ${PYTHON_IMAGE}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="flora-mcp" \
      org.opencontainers.image.description="MCP server for the FLORA generative-media API (images, video, audio, text)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.source="https://github.com/flora-mcp/flora-mcp" \
      org.opencontainers.image.url="https://github.com/flora-mcp/flora-mcp" \
      io.modelcontextprotocol.server.name="io.github.flora-mcp/flora-mcp"

RUN groupadd --gid 10001 flora \
    && useradd --no-log-init --create-home --uid 10001 --gid 10001 --shell /usr/sbin/nologin flora
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 10001:10001
WORKDIR /home/flora

# Only used with `--transport http|sse --host 0.0.0.0`; stdio needs no port.
EXPOSE 8000
ENTRYPOINT ["flora-mcp"]
