# syntax=docker/dockerfile:1
# mqttd container image, built the way a user installs mqttd: from the package tarball.
#   docker build -t mqttd .
#   docker run --rm -p 1883:1883 -p 8083:8083 -p 9883:9883 mqttd
# Config: mount yours at /etc/mqttd/mqttd.yaml (the default, deploy/docker/mqttd.yaml, runs the
# built-in broker on 0.0.0.0). Handler modules: mount a folder at /etc/mqttd/handlers and list
# them in the config as ./handlers/<file>.ts (paths are relative to the config file).

# --- Stage 1: the package tarball, exactly what `npm pack` publishes --------------------------
FROM node:26-slim AS pack
WORKDIR /src
COPY package.json package-lock.json tsconfig.json tsconfig.build.json README.md LICENSE ./
COPY tools/dev-node/package.json ./tools/dev-node/package.json
# --workspaces=false leaves out tools/dev-node, the Node binary for clones: the image has Node 26.
RUN npm ci --workspaces=false
COPY bin ./bin
COPY src ./src
COPY scripts/build.js ./scripts/build.js
COPY examples ./examples
COPY docs ./docs
# prepack builds dist/ (JavaScript and declarations) into the tarball.
RUN npm pack --pack-destination /tmp && mv /tmp/mqttd-*.tgz /tmp/mqttd.tgz

# --- Stage 2: an app that depends on mqttd, production dependencies only ----------------------
FROM node:26-slim AS app
WORKDIR /app
COPY --from=pack /tmp/mqttd.tgz /tmp/mqttd.tgz
RUN echo '{ "name": "mqttd-server", "private": true }' > package.json \
 && npm install --omit=dev --no-audit --no-fund /tmp/mqttd.tgz

# --- Stage 3: runtime -----------------------------------------------------------------------
FROM node:26-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=app /app ./
COPY deploy/docker/mqttd.yaml /etc/mqttd/mqttd.yaml
# Handler modules under /etc/mqttd/handlers can import 'mqttd' and its dependencies (prom-client,
# pino, mqtt-packet): Node looks for bare specifiers in the node_modules folders above a module,
# and handler package names resolve from the config's folder, so /etc/mqttd/node_modules leads
# to the app's.
RUN mkdir -p /etc/mqttd/handlers \
 && ln -s ../../app/node_modules /etc/mqttd/node_modules \
 && mkdir -p /var/lib/mqttd \
 && chown 1000:1000 /var/lib/mqttd
# The broker's store (persistence.dir in the default config): retained messages, persistent
# sessions and their queued messages survive a restart when this is a volume.
VOLUME ["/var/lib/mqttd"]
USER node
# 1883 MQTT/TCP, 8083 MQTT over WebSocket (/mqtt), 9883 admin (/healthz /readyz /metrics).
# 8883 (MQTT/TLS) and 8084 (WSS) are the usual ports for TLS listeners you add in the config.
EXPOSE 1883 8083 9883 8883 8084
# No curl in slim images: Node's global fetch does the probe. MQTTD_ADMIN_PORT, when you set it,
# moves both the admin listener (it overrides admin.port) and this probe.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.MQTTD_ADMIN_PORT || 9883) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Exec form, no shell: SIGTERM from `docker stop` / Kubernetes reaches Node, which drains
# connections (shutdown.drainTimeoutMs) and exits 0.
ENTRYPOINT ["node", "node_modules/mqttd/bin/mqttd.js"]
CMD ["--config", "/etc/mqttd/mqttd.yaml"]
