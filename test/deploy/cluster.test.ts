// The cluster deploy examples (deploy/cluster compose file, deploy/haproxy.cfg,
// deploy/kubernetes/cluster) cannot run here (no Docker engine, no Kubernetes), so these tests
// check what can drift silently: every service, file, port and node name one file names exists
// in the other, and every mqttd config passes mqttd's own validation.
import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { parse, parseAllDocuments } from 'yaml'
import { assertSafeExposure } from '../../src/auth/exposure.ts'
import { applyEnv, envOverrides } from '../../src/config/env.ts'
import { ConfigSchema } from '../../src/config/schema.ts'
import { validateConfig } from '../../src/config/validate.ts'
import { checkHaproxyConfig, haproxyBinary } from '../helpers/haproxy.ts'
import { type HaproxySection, lineOf, parseHaproxyConfig } from './haproxy-config.ts'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const deploy = join(root, 'deploy')

// biome-ignore lint/suspicious/noExplicitAny: untyped YAML documents
type Doc = Record<string, any>

/** `merge`: compose files share settings through YAML merge keys (`<<: *mqttd`), as Compose reads them. */
function readYaml(path: string): Doc {
  return parse(readFileSync(path, 'utf8'), { merge: true }) as Doc
}

function readYamlDocs(path: string): Doc[] {
  return parseAllDocuments(readFileSync(path, 'utf8')).map((d) => {
    assert.deepEqual(d.errors, [], `${path} parses`)
    return d.toJS() as Doc
  })
}

/**
 * Validates a shipped config as `mqttd --check` would, with the token its deployment gives
 * through the environment, and runs the start-up exposure checks.
 */
function assertValid(config: Doc, source: string, env: Record<string, string> = {}): void {
  let input = applyEnv(config, { MQTTD_ADMIN_TOKEN: 'from-a-secret', ...env }).config as Doc
  // The `cluster:` section comes with the NATS clustering (issue 16); until this branch has it,
  // its shape is checked here and the rest is validated without it.
  if (!Object.hasOwn(ConfigSchema.properties, 'cluster')) {
    const { cluster, ...rest } = input
    assert.match(cluster.nodeId, /^[A-Za-z0-9_-]{1,64}$/, `${source}: cluster.nodeId`)
    assert.ok(cluster.nats.servers.length > 0, `${source}: cluster.nats.servers`)
    input = rest
  }
  assert.doesNotThrow(() => assertSafeExposure(validateConfig(input, { baseDir: deploy, source })), source)
}

/** `host:port` or `nats://host:port` → [host, port]. */
function hostPort(address: string): [string, number] {
  const match = /^(?:[a-z]+:\/\/)?([^:/]+):(\d+)$/.exec(address)
  assert.ok(match, `${address} is host:port`)
  return [match[1]!, Number(match[2])]
}

/** A command-line flag's value (`--name=value`) from an argument list. */
function flag(args: string[], name: string): string | undefined {
  return args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3)
}

describe('deploy/haproxy.cfg', () => {
  const text = readFileSync(join(deploy, 'haproxy.cfg'), 'utf8')
  const sections = parseHaproxyConfig(text)

  test('haproxy -c accepts it', { skip: haproxyBinary() === null && 'haproxy is not installed' }, () => {
    process.env.MQTTD_ADMIN_TOKEN ??= ''
    const { status, output } = checkHaproxyConfig(haproxyBinary()!, join(deploy, 'haproxy.cfg'))
    assert.equal(status, 0, output)
    assert.match(output, /Configuration file is valid/)
  })

  test('every frontend leads to a backend that exists; every server sends the PROXY protocol v2', () => {
    const frontends = sections.filter((s) => s.kind === 'frontend')
    assert.ok(frontends.length >= 2)
    for (const f of frontends) {
      const target = lineOf(f, 'default_backend')?.[1]
      assert.ok(
        sections.some((s) => s.kind === 'backend' && s.name === target),
        `${f.name} → ${target}`,
      )
    }
    const defaults = sections.find((s) => s.kind === 'defaults')!
    assert.ok(lineOf(defaults, 'default-server')?.includes('send-proxy-v2'))
    assert.equal(
      lineOf(defaults, 'mode')?.[1],
      'tcp',
      'TCP mode: mqttd itself does TLS and the WebSocket upgrade',
    )
  })

  test('the health check asks /readyz with the admin token from the environment', () => {
    for (const b of sections.filter((s) => s.kind === 'backend')) {
      const send = lineOf(b, 'http-check', 'send')?.join(' ')
      assert.match(send ?? '', /uri \/readyz hdr Authorization "Bearer \$\{MQTTD_ADMIN_TOKEN\}"/, b.name)
    }
  })
})

describe('deploy/cluster (compose)', () => {
  const dir = join(deploy, 'cluster')
  const compose = readYaml(join(dir, 'docker-compose.yml'))
  const services = compose.services as Record<string, Doc>
  const haproxy = parseHaproxyConfig(readFileSync(join(deploy, 'haproxy.cfg'), 'utf8'))
  const mqttdServices = Object.keys(services).filter((n) => /^mqttd-\d+$/.test(n))
  const natsServices = Object.keys(services).filter((n) => /^nats-\d+$/.test(n))
  /** The mqttd config a service mounts at /etc/mqttd/mqttd.yaml. */
  const nodeConfig = (service: string): Doc => {
    const mount = services[service]!.volumes.find((v: string) => v.split(':')[1] === '/etc/mqttd/mqttd.yaml')
    assert.ok(mount, `${service} mounts a config`)
    return readYaml(resolve(dir, mount.split(':')[0]))
  }

  test('three mqttd nodes and three NATS servers', () => {
    assert.equal(mqttdServices.length, 3)
    assert.equal(natsServices.length, 3)
  })

  test('every service a depends_on names exists', () => {
    for (const [name, service] of Object.entries(services)) {
      for (const dependency of service.depends_on ?? []) {
        assert.ok(services[dependency], `${name} depends on ${dependency}`)
      }
    }
  })

  test('every bind-mounted file exists in the repository', () => {
    for (const [name, service] of Object.entries(services)) {
      for (const volume of service.volumes ?? []) {
        const source = String(volume).split(':')[0]!
        if (Object.hasOwn(compose.volumes ?? {}, source)) continue
        assert.ok(existsSync(resolve(dir, source)), `${name}: ${source} exists`)
      }
    }
    assert.equal(resolve(dir, services['mqttd-1']!.build.context), root)
  })

  test("each node's config passes mqttd's validation; its nodeId is its service name", () => {
    for (const service of mqttdServices) {
      const config = nodeConfig(service)
      assertValid(config, `deploy/cluster ${service}`)
      assert.equal(config.cluster.nodeId, service)
    }
  })

  test('the node configs differ only in cluster.nodeId', () => {
    const [first, ...others] = mqttdServices.map((s) => {
      const config = nodeConfig(s)
      config.cluster.nodeId = '*'
      return config
    })
    for (const other of others) assert.deepEqual(other, first)
  })

  test('cluster.nats.servers are the NATS services; the NATS servers route to each other with JetStream', () => {
    const servers = nodeConfig('mqttd-1').cluster.nats.servers.map(hostPort)
    assert.deepEqual(
      servers.map((s: unknown[]) => s[0]),
      natsServices,
    )
    for (const [, port] of servers) assert.equal(port, 4222)
    for (const name of natsServices) {
      const args = services[name]!.command as string[]
      assert.equal(flag(args, 'name'), name)
      assert.ok(args.includes('--jetstream'))
      const routes = flag(args, 'routes')!
        .split(',')
        .map((r) => hostPort(r)[0])
      assert.deepEqual(routes, natsServices)
      const store = flag(args, 'store_dir')
      assert.ok(
        services[name]!.volumes.some((v: string) => v.endsWith(`:${store}`)),
        `${name}: JetStream's store_dir is a volume`,
      )
    }
  })

  test("HAProxy forwards to every node's listener ports, and those listeners expect the PROXY header", () => {
    const backends = haproxy.filter((s) => s.kind === 'backend')
    const config = nodeConfig('mqttd-1')
    const forwarded = new Set<number>()
    for (const b of backends) {
      const servers = b.lines.filter((l) => l[0] === 'server').map((l) => hostPort(l[2]!))
      assert.deepEqual(
        servers.map(([host]) => host),
        mqttdServices,
        `${b.name} lists every node`,
      )
      for (const [, port] of servers) forwarded.add(port)
    }
    const listenerPorts = config.listeners.map((l: Doc) => l.port)
    assert.deepEqual([...forwarded].sort(), [...listenerPorts].sort())
    for (const l of config.listeners) assert.equal(l.proxyProtocol, true, `listener ${l.name}`)
  })

  test('clients reach the nodes only through HAProxy: its frontends are published, the nodes publish only their admin port on loopback', () => {
    const frontendPorts = haproxy
      .filter((s: HaproxySection) => s.kind === 'frontend')
      .map((f) => Number(lineOf(f, 'bind')![1]!.split(':').at(-1)))
    const published = services.haproxy!.ports.map((p: string) => Number(p.split(':').at(-1)))
    assert.deepEqual(published.sort(), frontendPorts.sort())
    for (const service of mqttdServices) {
      const admin = nodeConfig(service).admin.port
      for (const p of services[service]!.ports as string[]) {
        assert.match(p, /^127\.0\.0\.1:\d+:\d+$/, `${service} publishes ${p} on loopback only`)
        assert.equal(Number(p.split(':').at(-1)), admin)
      }
    }
    const mount = services.haproxy!.volumes.find((v: string) => v.startsWith('../haproxy.cfg:'))
    assert.ok(mount, 'HAProxy runs deploy/haproxy.cfg')
    assert.match(services.haproxy!.environment.MQTTD_ADMIN_TOKEN, /^\$\{MQTTD_ADMIN_TOKEN:\?/)
  })

  test("Prometheus scrapes every node's admin port with the token; Grafana reads Prometheus", () => {
    const prometheus = readYaml(join(dir, 'prometheus.yml'))
    const job = prometheus.scrape_configs.find((j: Doc) => j.job_name === 'mqttd')
    const targets = job.static_configs.map((s: Doc) => s.targets[0])
    assert.deepEqual(
      targets,
      mqttdServices.map((s) => `${s}:${nodeConfig(s).admin.port}`),
    )
    for (const s of job.static_configs) assert.equal(s.labels.node, s.targets[0].split(':')[0])
    const secret = job.authorization.credentials_file.replace('/run/secrets/', '')
    assert.ok(services.prometheus!.secrets.includes(secret))
    assert.equal(compose.secrets[secret].environment, 'MQTTD_ADMIN_TOKEN')
    const datasourceMount = services.grafana!.volumes.find((v: string) =>
      v.includes('/provisioning/datasources'),
    )
    const datasources = readYaml(join(resolve(dir, datasourceMount.split(':')[0]), 'prometheus.yml'))
    assert.equal(
      datasources.datasources[0].url,
      `http://prometheus:${services.prometheus!.ports[0].split(':')[1]}`,
    )
  })

  test('stop_grace_period is longer than shutdown.drainTimeoutMs', () => {
    for (const service of mqttdServices) {
      const grace = Number(/^(\d+)s$/.exec(services[service]!.stop_grace_period)![1]) * 1000
      assert.ok(grace > nodeConfig(service).shutdown.drainTimeoutMs, service)
    }
  })
})

describe('deploy/kubernetes/cluster', () => {
  const dir = join(deploy, 'kubernetes/cluster')
  const kustomization = readYaml(join(dir, 'kustomization.yaml'))
  const docs = (kustomization.resources as string[]).flatMap((f) => readYamlDocs(join(dir, f)))
  const find = (kind: string, name: string) => {
    const doc = docs.find((d) => d.kind === kind && d.metadata.name === name)
    assert.ok(doc, `${kind} ${name}`)
    return doc
  }
  const mqttd = find('StatefulSet', 'mqttd')
  const nats = find('StatefulSet', 'nats')
  const container = mqttd.spec.template.spec.containers[0]
  const configMap = find(
    'ConfigMap',
    mqttd.spec.template.spec.volumes.find((v: Doc) => v.name === 'config').configMap.name,
  )
  const config = parse(configMap.data['mqttd.yaml']) as Doc

  test('kustomization lists every manifest of the folder', () => {
    const files = readdirSync(dir).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
    assert.deepEqual([...kustomization.resources].sort(), files.sort())
  })

  test("the ConfigMap's config passes mqttd's validation with the pod name as cluster.nodeId", () => {
    const nodeId = container.env.find((e: Doc) => e.name === 'MQTTD_CLUSTER_NODE_ID')
    assert.equal(nodeId.valueFrom.fieldRef.fieldPath, 'metadata.name')
    const env = { MQTTD_CLUSTER_NODE_ID: 'mqttd-0' }
    assertValid(config, 'deploy/kubernetes/cluster/mqttd-configmap.yaml', env)
    if (Object.hasOwn(envOverrides, 'MQTTD_CLUSTER_NODE_ID')) {
      assert.equal((applyEnv(config, env).config as Doc).cluster.nodeId, 'mqttd-0')
    }
  })

  test('cluster.nats.servers are the NATS pods through its headless Service', () => {
    const servers = config.cluster.nats.servers.map(hostPort)
    const headless = find('Service', nats.spec.serviceName)
    assert.equal(headless.spec.clusterIP, 'None')
    const clientPort = headless.spec.ports.find((p: Doc) => p.name === 'client').port
    assert.deepEqual(
      servers,
      Array.from({ length: nats.spec.replicas }, (_, i) => [
        `nats-${i}.${nats.spec.serviceName}`,
        clientPort,
      ]),
    )
    const args = nats.spec.template.spec.containers[0].args as string[]
    assert.ok(args.includes('--jetstream'))
    const routes = flag(args, 'routes')!
      .split(',')
      .map((r) => hostPort(r)[0])
    assert.deepEqual(
      routes,
      servers.map((s: unknown[]) => s[0]),
    )
    const store = flag(args, 'store_dir')
    const mount = nats.spec.template.spec.containers[0].volumeMounts.find((m: Doc) => m.mountPath === store)
    assert.ok(
      nats.spec.volumeClaimTemplates.some((c: Doc) => c.metadata.name === mount.name),
      'JetStream on a volume per pod',
    )
    assert.equal(nats.spec.replicas, 3)
  })

  test('the StatefulSets name existing headless Services; selectors match pod labels', () => {
    for (const set of [mqttd, nats]) {
      const headless = find('Service', set.spec.serviceName)
      assert.equal(headless.spec.clusterIP, 'None')
      const labels = set.spec.template.metadata.labels
      assert.deepEqual(set.spec.selector.matchLabels, labels)
      for (const [k, v] of Object.entries(headless.spec.selector)) assert.equal(labels[k], v)
    }
    assert.equal(mqttd.spec.replicas, 3)
  })

  test('the client Service exposes every listener; probes hit the admin port; the drain fits the grace period', () => {
    const service = find('Service', 'mqttd')
    const named = (port: string | number) =>
      typeof port === 'number' ? port : container.ports.find((p: Doc) => p.name === port).containerPort
    assert.deepEqual(
      service.spec.ports.map((p: Doc) => named(p.targetPort)).sort(),
      config.listeners.map((l: Doc) => l.port).sort(),
    )
    assert.equal(named(container.livenessProbe.httpGet.port), config.admin.port)
    assert.match(container.readinessProbe.exec.command.join(' '), new RegExp(`:${config.admin.port}/readyz`))
    const [, seconds] = container.lifecycle.preStop.exec.command
    const pod = mqttd.spec.template.spec
    assert.ok(
      pod.terminationGracePeriodSeconds * 1000 > Number(seconds) * 1000 + config.shutdown.drainTimeoutMs,
    )
    assert.equal(config.workers, Number(container.resources.requests.cpu))
    const mount = container.volumeMounts.find((m: Doc) => m.mountPath === config.persistence.dir)
    assert.ok(mqttd.spec.volumeClaimTemplates.some((c: Doc) => c.metadata.name === mount.name))
  })
})
