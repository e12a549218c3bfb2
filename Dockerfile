# One image for the api, the worker and the one-shot migrate job (see compose.yaml):
# the verdicts wheel and the dependencies locked in uv.lock, without the embedded
# servers of `verdicts dev` and without the source tree.
FROM python:3.11-slim AS build
RUN pip install --no-cache-dir "uv==0.13.9"
WORKDIR /src
COPY pyproject.toml setup.py uv.lock README.md ./
COPY services ./services
COPY schema ./schema
COPY templates ./templates
# tests/deploy/test_wheel.py runs this same step outside Docker (/opt/verdicts aside).
RUN uv export --frozen --no-dev --no-emit-project --format requirements.txt -o requirements.txt \
 && uv build --wheel --out-dir dist \
 && uv venv /opt/verdicts \
 && uv pip install --python /opt/verdicts --require-hashes -r requirements.txt \
 && uv pip install --python /opt/verdicts --no-deps dist/*.whl

FROM python:3.11-slim
ENV PATH=/opt/verdicts/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY --from=build /opt/verdicts /opt/verdicts
RUN useradd --system --create-home verdicts
USER verdicts
WORKDIR /home/verdicts
EXPOSE 8000
CMD ["uvicorn", "--factory", "services.api.app:create_app", "--host", "0.0.0.0", "--port", "8000"]
