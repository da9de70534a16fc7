# Expression Studio: the dashboard (default command) and the REST API (second command) from one image.
#   docker build -t expression-studio .
#   docker run -p 8501:8501 -v studio-data:/data -v studio-models:/app/models expression-studio
#   docker run -p 8000:8000 -v studio-data:/data -v studio-models:/app/models expression-studio \
#       uvicorn core.api:app --host 0.0.0.0 --port 8000
# The camera needs HTTPS: put both behind a TLS reverse proxy (with WebSocket upgrade for Streamlit), and set
# ICE_SERVERS (STUN/TURN) for viewers outside the host's network.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# OpenCV (opencv-contrib-python, pulled in by mediapipe) needs libGL and GLib at import time.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.txt requirements-base.txt ./
# The CPU build of torch first (a tenth of the CUDA build's size); requirements.txt's torch==2.14.1 accepts it.
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.14.1 torchvision==0.29.1 \
    && pip install -r requirements.txt

COPY core ./core
COPY ui ./ui
COPY pages ./pages
COPY assets ./assets
COPY templates ./templates
COPY models ./models
COPY streamlit_app.py ./
COPY .streamlit/config.toml ./.streamlit/config.toml

RUN useradd --create-home --uid 1000 studio \
    && mkdir -p /data \
    && chown -R studio /data /app/models
USER studio

# DATABASE_URL (e.g. postgresql+psycopg://user:pass@db/studio) is unset here: the default is SQLite under /data.
# API_REQUIRE_KEY=true: the API container is reachable by others and is team mode only if secrets.toml is mounted
# there too, so it requires keys regardless (pass -e API_REQUIRE_KEY=false to serve without keys, knowingly).
ENV DATA_ROOT=/data \
    MODELS_DIR=/app/models \
    LOG_LEVEL=INFO \
    API_REQUIRE_KEY=true
VOLUME ["/data", "/app/models"]
EXPOSE 8501 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4)" \
    || python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"

CMD ["streamlit", "run", "streamlit_app.py", "--server.address", "0.0.0.0", "--server.port", "8501"]
