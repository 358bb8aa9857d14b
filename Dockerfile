# syntax=docker/dockerfile:1
# Build stage: compiles the native addon against libpcap and nghttp2 headers with llhttp's C sources
# (node-llhttp), and the TypeScript sources.
FROM node:20-bookworm AS build
# node-llhttp is unpacked, not installed: its dependencies would pull in Debian's own nodejs
# beside this image's Node 20, and only its C sources are needed.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpcap-dev libnghttp2-dev g++ make python3 \
 && cd /tmp && apt-get download node-llhttp && dpkg-deb -x node-llhttp_*.deb / && rm node-llhttp_*.deb \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json binding.gyp tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY native ./native
COPY src ./src
COPY bin ./bin
COPY proto ./proto
RUN npm ci && npm prune --omit=dev

# Collector image (`docker build --target collector`): libpcap for the addon, no compilers, an
# unprivileged user and no capabilities at all; it only receives and writes files.
FROM node:20-bookworm-slim AS collector
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpcap0.8 libnghttp2-14 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system podspan && useradd --system --gid podspan --no-create-home podspan
WORKDIR /opt/podspan
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/build/Release/podspan.node ./build/Release/podspan.node
COPY --from=build /src/dist ./dist
COPY --from=build /src/bin ./bin
COPY --from=build /src/proto ./proto
USER podspan
# gRPC from agents, VXLAN, metrics (when started with those flags).
EXPOSE 50051/tcp 4789/udp 9090/tcp
ENTRYPOINT ["node", "/opt/podspan/bin/podspan"]
CMD ["collector", "--help"]

# Agent image (the default target): the same plus iproute2, which maps pods to their host-side
# interfaces, and a node binary carrying the one capability capture needs as a file capability:
# CAP_NET_RAW, for packet sockets (promiscuous mode and the TPACKET ring are socket options of
# those, no CAP_NET_ADMIN), so the unprivileged user can capture.
FROM collector AS agent
USER root
RUN apt-get update \
 && apt-get install -y --no-install-recommends libcap2-bin iproute2 \
 && setcap cap_net_raw+eip /usr/local/bin/node \
 && apt-get purge -y libcap2-bin && apt-get autoremove -y \
 && rm -rf /var/lib/apt/lists/*
USER podspan
EXPOSE 9090/tcp
CMD ["interfaces"]
