# bindsnoop-otel agent image. Base images are build arguments so that a registry
# mirror or a locally built stand-in (scripts/build-image.sh) can be used.
# Node.js 24, the current LTS line (20 reached its end of life in April 2026).
ARG BASE_IMAGE=docker.io/library/node:24-bookworm
ARG RUNTIME_IMAGE=docker.io/library/node:24-bookworm-slim

# ---- build: BPF object and skeleton, native addon, TypeScript ----
FROM ${BASE_IMAGE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev make g++ python3 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY tsconfig.json ./
COPY bpf bpf
COPY native native
COPY src src
COPY config config
# The BPF object compiles against the vendored bpf/vmlinux/<arch>/vmlinux.h: no host BTF is
# needed, and CO-RE relocates it to whichever kernel loads it. node-gyp builds against this
# Node's own headers.
RUN make -C bpf \
 && cd native && npx node-gyp rebuild --loglevel=warn --nodedir="$(node -p 'require("path").resolve(process.execPath, "../..")')" \
 && cd .. && npx tsc -p tsconfig.json \
 && npm prune --omit=dev --no-audit --no-fund

# ---- runtime: Node.js and libbpf's runtime library only (no compiler, no headers) ----
FROM ${RUNTIME_IMAGE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends libbpf1 libelf1 zlib1g \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules node_modules
COPY --from=build /src/dist dist
COPY --from=build /src/native/build/Release/bindsnoop.node native/build/Release/bindsnoop.node
COPY --from=build /src/config config
ENV NODE_ENV=production
ENTRYPOINT ["node", "/app/dist/cli/main.js"]
# daemon mode from the configuration the DaemonSet mounts (k8s/configmap.yaml)
CMD ["--daemon", "-c", "/etc/bindsnoop/config.yaml"]
