// The deploy/ examples cannot run here (no Docker engine, no cluster), so this test checks what
// can drift silently: the numbers and names that one file repeats from another.
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { parse, parseAllDocuments } from 'yaml'
import { assertSafeExposure } from '../../src/auth/exposure.ts'
import { applyEnv } from '../../src/config/env.ts'
import { validateConfig } from '../../src/config/validate.ts'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const deploy = join(root, 'deploy')

// Parsed YAML manifests are walked by known paths; the assertions are the type checks.
// biome-ignore lint/suspicious/noExplicitAny: untyped YAML documents
type Doc = Record<string, any>

function readYaml(path: string): Doc {
  return parse(readFileSync(path, 'utf8')) as Doc
}

function readYamlDocs(path: string): Doc[] {
  return parseAllDocuments(readFileSync(path, 'utf8')).map((d) => {
    assert.deepEqual(d.errors, [], `${path} parses`)
    return d.toJS() as Doc
  })
}

/** Parses a duration the way compose does ("15s", "1m30s"), in milliseconds. */
function composeDurationMs(text: string): number {
  let ms = 0
  for (const [, n, unit] of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) {
    ms += Number(n) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit as 'ms' | 's' | 'm' | 'h']
  }
  assert.ok(ms > 0, `duration ${text}`)
  return ms
}

describe('deploy/kubernetes', () => {
  const dir = join(deploy, 'kubernetes')
  const docs = ['configmap.yaml', 'deployment.yaml', 'service.yaml'].flatMap((f) =>
    readYamlDocs(join(dir, f)),
  )
  const byKind = (kind: string) => docs.filter((d) => d.kind === kind)
  const configMap = byKind('ConfigMap')[0]!
  const deployment = byKind('Deployment')[0]!
  const pod = deployment.spec.template.spec
  const container = pod.containers[0]
  const config = parse(configMap.data['mqttd.yaml']) as Doc

  /** A probe or Service port may name a container port; resolve it to the number. */
  function containerPort(port: number | string): number {
    if (typeof port === 'number') return port
    const named = container.ports.find((p: Doc) => p.name === port)
    assert.ok(named, `container port named ${port}`)
    return named.containerPort
  }

  test('kustomization lists every manifest', () => {
    const k = readYaml(join(dir, 'kustomization.yaml'))
    assert.deepEqual([...k.resources].sort(), [
      'configmap.yaml',
      'deployment.yaml',
      'pvc.yaml',
      'service.yaml',
    ])
  })

  test('readiness and liveness probes hit the admin port of the ConfigMap config; readiness sends the token', () => {
    assert.equal(config.admin.host, '0.0.0.0', 'admin must bind 0.0.0.0 to be probed from the kubelet')
    // /readyz needs the token: the exec probe sends the one the container has from the Secret
    const readiness = container.readinessProbe.exec.command.join(' ')
    assert.match(readiness, new RegExp(`http://127\\.0\\.0\\.1:${config.admin.port}/readyz`))
    assert.match(readiness, /authorization: 'Bearer ' \+ process\.env\.MQTTD_ADMIN_TOKEN/)
    // /healthz is public
    assert.equal(container.livenessProbe.httpGet.path, '/healthz')
    assert.equal(containerPort(container.livenessProbe.httpGet.port), config.admin.port)
    const annotations = deployment.spec.template.metadata.annotations
    assert.equal(Number(annotations['prometheus.io/port']), config.admin.port)
    // annotation-based scrapers send no token: /metrics is the one route served without it
    assert.equal(config.admin.publicMetrics, true)
  })

  test('the admin token and the password file come from the Secret mqttd-secrets', () => {
    const token = container.env.find((e: Doc) => e.name === 'MQTTD_ADMIN_TOKEN')
    assert.equal(token.valueFrom.secretKeyRef.name, 'mqttd-secrets')
    const mount = container.volumeMounts.find((m: Doc) => m.name === 'secrets')
    assert.equal(
      mount.subPath,
      undefined,
      'a directory mount, so Secret updates reach the file (SIGHUP reload)',
    )
    const volume = pod.volumes.find((v: Doc) => v.name === 'secrets')
    assert.equal(volume.secret.secretName, 'mqttd-secrets')
    const item = volume.secret.items.find(
      (i: Doc) => join(mount.mountPath, i.path) === config.auth.passwordFile,
    )
    assert.ok(item, `auth.passwordFile ${config.auth.passwordFile} is a file of the Secret volume`)
  })

  test('terminationGracePeriodSeconds is longer than the preStop pause plus shutdown.drainTimeoutMs', () => {
    const [cmd, seconds] = container.lifecycle.preStop.exec.command
    assert.equal(cmd, 'sleep')
    const budgetMs = Number(seconds) * 1000 + config.shutdown.drainTimeoutMs
    assert.ok(pod.terminationGracePeriodSeconds * 1000 > budgetMs)
  })

  test('every listener is a container port and the Service exposes the MQTT ones', () => {
    const declared = container.ports.map((p: Doc) => p.containerPort)
    for (const l of config.listeners) {
      assert.equal(l.host, '0.0.0.0', `listener ${l.name} binds 0.0.0.0`)
      assert.ok(declared.includes(l.port), `listener ${l.name} port ${l.port} is a containerPort`)
    }
    const [mqtt, admin] = byKind('Service')
    const targets = mqtt!.spec.ports.map((p: Doc) => containerPort(p.targetPort)).sort()
    assert.deepEqual(targets, config.listeners.map((l: Doc) => l.port).sort())
    assert.deepEqual(
      admin!.spec.ports.map((p: Doc) => containerPort(p.targetPort)),
      [config.admin.port],
    )
  })

  test("workers matches the CPU request (a pod sees all of the node's CPUs)", () => {
    assert.equal(config.workers, Number(container.resources.requests.cpu))
  })

  test('selectors match the pod labels', () => {
    const labels = deployment.spec.template.metadata.labels
    assert.deepEqual(deployment.spec.selector.matchLabels, labels)
    for (const s of byKind('Service')) {
      for (const [k, v] of Object.entries(s.spec.selector)) assert.equal(labels[k], v)
    }
  })

  test('the ConfigMap is mounted where the image reads its config', () => {
    const mount = container.volumeMounts.find((m: Doc) => m.name === 'config')
    assert.equal(mount.mountPath, '/etc/mqttd/mqttd.yaml')
    assert.ok(container.args.includes(mount.mountPath))
    const volume = pod.volumes.find((v: Doc) => v.name === 'config')
    assert.equal(volume.configMap.name, configMap.metadata.name)
    assert.ok(Object.hasOwn(configMap.data, mount.subPath))
    assert.match(readFileSync(join(root, 'Dockerfile'), 'utf8'), /"\/etc\/mqttd\/mqttd\.yaml"/)
  })
})

describe('deploy/compose', () => {
  const dir = join(deploy, 'compose')
  const compose = readYaml(join(dir, 'docker-compose.yml'))
  const mqttdConfig = readYaml(join(dir, 'mqttd.yaml'))
  const prometheus = readYaml(join(dir, 'prometheus.yml'))

  test("Prometheus scrapes the mqttd service's admin port with the admin token", () => {
    const job = prometheus.scrape_configs.find((j: Doc) => j.job_name === 'mqttd')
    assert.equal(job.metrics_path, '/metrics')
    const [host, port] = job.static_configs[0].targets[0].split(':')
    assert.ok(compose.services[host], `${host} is a compose service`)
    assert.equal(Number(port), mqttdConfig.admin.port)
    assert.equal(mqttdConfig.admin.host, '0.0.0.0')
    // the token file is a compose secret made from the variable mqttd reads its token from
    assert.equal(job.authorization.type, 'Bearer')
    const secret = job.authorization.credentials_file.replace('/run/secrets/', '')
    assert.ok(compose.services.prometheus.secrets.includes(secret))
    assert.equal(compose.secrets[secret].environment, 'MQTTD_ADMIN_TOKEN')
    assert.match(compose.services.mqttd.environment.MQTTD_ADMIN_TOKEN, /^\$\{MQTTD_ADMIN_TOKEN:\?/)
  })

  test('published ports are the listener and admin ports; the admin API only on loopback', () => {
    const published = compose.services.mqttd.ports.map((p: string) => Number(p.split(':').at(-1)))
    const wanted = [...mqttdConfig.listeners.map((l: Doc) => l.port), mqttdConfig.admin.port]
    assert.deepEqual(published.sort(), wanted.sort())
    const admin = compose.services.mqttd.ports.find((p: string) => p.endsWith(`:${mqttdConfig.admin.port}`))
    assert.match(admin, /^127\.0\.0\.1:/)
  })

  test('MQTT clients authenticate against the mounted password file', () => {
    const mount = compose.services.mqttd.volumes.find(
      (v: string) => v.split(':')[1] === mqttdConfig.auth.passwordFile,
    )
    assert.ok(mount, `${mqttdConfig.auth.passwordFile} is mounted`)
  })

  test('stop_grace_period is longer than shutdown.drainTimeoutMs', () => {
    const grace = composeDurationMs(compose.services.mqttd.stop_grace_period)
    assert.ok(grace > mqttdConfig.shutdown.drainTimeoutMs)
  })

  test('every bind-mounted file exists, Grafana dashboard included', () => {
    for (const service of Object.values(compose.services) as Doc[]) {
      for (const volume of service.volumes ?? []) {
        const source = String(volume).split(':')[0]!
        // A named volume, declared at the top level, is no file
        if (Object.hasOwn(compose.volumes ?? {}, source)) continue
        assert.ok(existsSync(resolve(dir, source)), `${source} exists`)
      }
    }
    const grafana = compose.services.grafana.volumes.join('\n')
    assert.match(grafana, /\.\.\/grafana\/mqttd\.json:/)
    const datasources = readYaml(join(dir, 'grafana-provisioning/datasources/prometheus.yml'))
    assert.equal(
      datasources.datasources[0].url,
      `http://prometheus:${compose.services.prometheus.ports[0].split(':')[1]}`,
    )
  })

  test('the Grafana dashboard picks its data source by type, and the provisioned one is the default of that type', () => {
    const dashboard = JSON.parse(readFileSync(join(deploy, 'grafana/mqttd.json'), 'utf8'))
    const variable = dashboard.templating.list.find((v: Doc) => v.type === 'datasource')
    const [datasource] = readYaml(join(dir, 'grafana-provisioning/datasources/prometheus.yml')).datasources
    assert.equal(variable.query, datasource.type)
    assert.equal(datasource.isDefault, true)
  })

  test('the compose build uses the repository Dockerfile and mounts the config where it is read', () => {
    assert.equal(resolve(dir, compose.services.mqttd.build.context), root)
    assert.ok(existsSync(join(root, compose.services.mqttd.build.dockerfile)))
    assert.ok(compose.services.mqttd.volumes.some((v: string) => v.includes(':/etc/mqttd/mqttd.yaml')))
  })
})

test('the default container config refuses to start until the environment gives a password file and an admin token', () => {
  const raw = readYaml(join(deploy, 'docker/mqttd.yaml'))
  const config = (env: Record<string, string>) =>
    validateConfig(applyEnv(raw, env).config, { baseDir: deploy, source: 'deploy/docker/mqttd.yaml' })
  assert.throws(() => assertSafeExposure(config({})), { code: 'MQTTD_ERR_AUTH_REQUIRED' })
  assert.throws(() => assertSafeExposure(config({ MQTTD_AUTH_PASSWORD_FILE: '/etc/mqttd/passwd' })), {
    code: 'MQTTD_ERR_ADMIN_TOKEN_REQUIRED',
  })
  assert.doesNotThrow(() =>
    assertSafeExposure(config({ MQTTD_AUTH_PASSWORD_FILE: '/etc/mqttd/passwd', MQTTD_ADMIN_TOKEN: 't' })),
  )
})

test('the broker store is a volume everywhere: image VOLUME, compose named volume, Kubernetes PVC, at persistence.dir', () => {
  const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8')
  assert.match(dockerfile, /^VOLUME \["\/var\/lib\/mqttd"\]$/m)
  assert.equal(readYaml(join(deploy, 'docker/mqttd.yaml')).persistence.dir, '/var/lib/mqttd')
  const composeDir = join(deploy, 'compose')
  const compose = readYaml(join(composeDir, 'docker-compose.yml'))
  assert.ok(Object.hasOwn(compose.volumes, 'mqttd-data'))
  assert.ok(compose.services.mqttd.volumes.includes('mqttd-data:/var/lib/mqttd'))
  assert.equal(readYaml(join(composeDir, 'mqttd.yaml')).persistence.dir, '/var/lib/mqttd')
  const k8s = join(deploy, 'kubernetes')
  const config = parse(readYamlDocs(join(k8s, 'configmap.yaml'))[0]!.data['mqttd.yaml'])
  const deployment = readYamlDocs(join(k8s, 'deployment.yaml'))[0]!
  const pod = deployment.spec.template.spec
  const mount = pod.containers[0].volumeMounts.find((m: Doc) => m.mountPath === config.persistence.dir)
  assert.ok(mount, 'the store directory is mounted')
  const volume = pod.volumes.find((v: Doc) => v.name === mount.name)
  const claim = readYamlDocs(join(k8s, 'pvc.yaml'))[0]!
  assert.equal(volume.persistentVolumeClaim.claimName, claim.metadata.name)
  // Two pods must never share the store: the old one stops before the new one starts
  assert.equal(deployment.spec.strategy.type, 'Recreate')
})

test('the default container config binds every listener and the admin to 0.0.0.0', () => {
  const config = readYaml(join(deploy, 'docker/mqttd.yaml'))
  assert.equal(config.admin.host, '0.0.0.0')
  assert.equal(config.admin.port, 9883)
  for (const l of config.listeners) assert.equal(l.host, '0.0.0.0')
  // docker stop's default grace is 10 s.
  assert.ok(config.shutdown.drainTimeoutMs < 10_000)
})

test("every shipped config passes mqttd's own validation", () => {
  const configs: Array<[string, unknown]> = [
    ['deploy/docker/mqttd.yaml', readYaml(join(deploy, 'docker/mqttd.yaml'))],
    ['deploy/compose/mqttd.yaml', readYaml(join(deploy, 'compose/mqttd.yaml'))],
    [
      'deploy/kubernetes/configmap.yaml',
      parse(readYamlDocs(join(deploy, 'kubernetes/configmap.yaml'))[0]!.data['mqttd.yaml']),
    ],
  ]
  for (const [source, config] of configs) {
    assert.doesNotThrow(() => validateConfig(config, { baseDir: deploy, source }), source)
  }
  // compose and Kubernetes pass the start-up checks once their token variable is set
  for (const [source, config] of configs.slice(1)) {
    const withToken = applyEnv(config as Doc, { MQTTD_ADMIN_TOKEN: 'from-a-secret' }).config
    assert.doesNotThrow(
      () => assertSafeExposure(validateConfig(withToken, { baseDir: deploy, source })),
      source,
    )
  }
})
