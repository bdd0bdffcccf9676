# bindsnoop-otel agent image: the npm package on Node.js 24, the current LTS line.
# The image installs the package a user installs (its prebuilt addon, libbpf
# inside), so it needs no compiler and no libbpf; build the package first:
#   scripts/pack.sh build/pack && podman build -t bindsnoop-otel .
# The same file builds every architecture the package has prebuilds for
# (--platform linux/amd64, linux/arm64); scripts/build-image.sh builds both
# and assembles them as one OCI image index.
ARG BASE_IMAGE=docker.io/library/node:24-bookworm-slim
FROM ${BASE_IMAGE}
ARG VERSION=unknown
ARG REVISION=unknown
LABEL org.opencontainers.image.title="bindsnoop-otel" \
      org.opencontainers.image.description="Traces every socket bind() with eBPF and ships each one as an OpenTelemetry log record" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY build/pack/bindsnoop-otel-${VERSION}.tgz /tmp/
RUN npm install -g --omit=dev --no-audit --no-fund --loglevel=error /tmp/bindsnoop-otel-${VERSION}.tgz \
 && rm -rf /tmp/bindsnoop-otel-${VERSION}.tgz /root/.npm
ENV NODE_ENV=production
ENTRYPOINT ["bindsnoop"]
# daemon mode from the configuration the DaemonSet mounts (k8s/configmap.yaml)
CMD ["--daemon", "-c", "/etc/bindsnoop/config.yaml"]
