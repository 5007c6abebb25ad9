# mlcpu in a container.
#
#   docker build -t mlcpu .                                   # runtime image (the default target)
#   docker run --rm mlcpu                                     # = mlcpu run (the tutorial job)
#   docker run --rm mlcpu run --dataset synthetic --strategies all
#   docker run --rm -v "$PWD/results:/results" mlcpu run --json /results/r.json
#
#   docker build --target bench -t mlcpu-bench .              # adds pytest + the benchmark suite
#   docker run --rm -v "$PWD/results:/results" mlcpu-bench    # baselines in results/benchmarks/
#
# Both run as uid:gid 10001:10001, so a bind-mounted folder must be writable by that user, or run
# with `--user "$(id -u):$(id -g)"`: see the README, "Running it in a container".

# ---- deps: a virtual environment with the runtime dependencies (from pyproject.toml) --------
FROM python:3.12-slim AS deps
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# Only pyproject.toml: this layer (the slow one) is rebuilt when the dependencies change, not
# when the code does. The test extra is written out too, for the bench image.
COPY pyproject.toml ./
RUN python -c "import pathlib, tomllib; \
project = tomllib.loads(pathlib.Path('pyproject.toml').read_text())['project']; \
pathlib.Path('/tmp/requirements.txt').write_text('\n'.join(project['dependencies'])); \
pathlib.Path('/tmp/requirements-test.txt').write_text('\n'.join(project['optional-dependencies']['test']))" \
 && pip install --no-cache-dir -r /tmp/requirements.txt
# dumb-init, the container's PID 1 (see the runtime stage): a static binary, from PyPI.
RUN pip install --no-cache-dir dumb-init==1.2.5.post1

# ---- wheel: mlcpu itself, built once for both images ---------------------------------------
FROM deps AS wheel
COPY README.md ./
COPY mlcpu ./mlcpu
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

# ---- build-bench: the environment plus mlcpu and the test extra (pytest, pytest-benchmark) --
FROM deps AS build-bench
COPY --from=wheel /wheels /wheels
# mlcpu first: the test extra may name mlcpu's own extras (mlcpu[dask]), resolved from it.
RUN pip install --no-cache-dir --no-deps /wheels/*.whl \
 && pip install --no-cache-dir -r /tmp/requirements-test.txt

# ---- base: what both final images share: the non-root user and the environment -------------
FROM python:3.12-slim AS base
RUN groupadd --system --gid 10001 mlcpu \
 && useradd --system --uid 10001 --gid 10001 --create-home --home-dir /home/mlcpu \
        --shell /usr/sbin/nologin mlcpu \
 && install -d -o 10001 -g 10001 /results
# PYTHONDONTWRITEBYTECODE: the environment is compiled at install time and read-only for the user.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
# Relative output paths (`--json r.json`) land in the folder users mount.
WORKDIR /results

# ---- bench: `pytest benchmarks`, saving baselines under /results/benchmarks -----------------
FROM base AS bench
COPY --from=build-bench /opt/venv /opt/venv
WORKDIR /app
# The whole (.dockerignore-filtered) project: benchmarks/, the top-level conftest.py and the
# pytest configuration in pyproject.toml.
COPY . /app
USER 10001:10001
# -p no:cacheprovider: /app is read-only for the user. Arguments replace CMD, so a run given
# arguments saves a baseline only with --benchmark-autosave among them.
ENTRYPOINT ["dumb-init", "--single-child", "--", "python", "-m", "pytest", "benchmarks", \
            "-p", "no:cacheprovider", "--benchmark-storage=file:///results/benchmarks"]
CMD ["--benchmark-autosave"]

# ---- runtime (the default target, so it comes last): mlcpu and its dependencies only --------
FROM base AS runtime
LABEL org.opencontainers.image.title="mlcpu" \
      org.opencontainers.image.description="Which way of spreading model training over your CPU cores is fastest"
# Two layers: the dependencies (large, cached while pyproject.toml is unchanged), then mlcpu.
COPY --from=deps /opt/venv /opt/venv
COPY --from=wheel /wheels /tmp/wheels
RUN pip install --no-cache-dir --no-deps /tmp/wheels/*.whl \
 && rm -rf /tmp/wheels
USER 10001:10001
# PID 1 in a container gets no signal it has no handler for, so Python would miss a SIGTERM
# (docker stop) that arrives while it is still importing, and nobody would reap zombies.
# dumb-init handles both; --single-child passes signals to mlcpu alone (as `kill PID` does),
# which stops its workers itself and exits 143 (SIGTERM) or 130 (SIGINT).
ENTRYPOINT ["dumb-init", "--single-child", "--", "mlcpu"]
CMD ["run"]
