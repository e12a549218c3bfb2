# One image for the api, the worker and the one-shot migrate job (see compose.yaml).
FROM python:3.11-slim
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY pyproject.toml README.md ./
COPY services ./services
COPY schema ./schema
COPY templates ./templates
RUN pip install --no-cache-dir -e . && useradd --system verdicts
USER verdicts
EXPOSE 8000
CMD ["uvicorn", "--factory", "services.api.app:create_app", "--host", "0.0.0.0", "--port", "8000"]
