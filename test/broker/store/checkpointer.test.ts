import assert from 'node:assert/strict'
import { mkdtempSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import type { BrokerMessage } from '../../../src/broker/message.ts'
import { startCheckpointer } from '../../../src/broker/store/checkpointer.ts'
import { SqliteStore } from '../../../src/broker/store/sqlite-store.ts'

const message: BrokerMessage = {
  topic: 't',
  payload: Buffer.alloc(200, 1),
  qos: 1,
  retain: false,
  properties: undefined,
  expiresAt: undefined,
  origin: 'p',
}

test('the main thread checkpoints what the workers commit: the WAL is copied back and started over', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'mqttd-ckpt-')), 'mqttd.db')
  const store = new SqliteStore({ file, owner: 'i:1', sync: 'batch', maxBytes: 1 << 30 })
  const errors: unknown[] = []
  const stop = startCheckpointer(file, 'batch', (err) => errors.push(err), 20)
  const probe = new DatabaseSync(file)
  try {
    // 3,000 rows: about 200 pages, far below the workers' own automatic checkpoint
    for (let seq = 1; seq <= 3000; seq++) {
      store.addOutbound('c', {
        message,
        qos: 1,
        retain: false,
        subscriptionIds: undefined,
        seq,
        packetId: undefined,
        state: 'publish',
      })
      if (seq % 100 === 0) assert.equal(await store.commit(), true)
    }
    // bounded wait for a checkpoint (a condition, not a duration): the rows reach the database file
    // itself, which holds only the schema while they are in the WAL
    const size = () => statSync(file).size
    for (let i = 0; i < 250 && size() < 500_000; i++) await sleep(20)
    assert.ok(size() >= 500_000, `database file ${size()} bytes after the checkpoints`)
    const count = probe.prepare('SELECT total(n) AS n FROM outbound_runs').get() as { n: number }
    assert.equal(count.n, 3000)
    assert.deepEqual(errors, [])
  } finally {
    probe.close()
    stop()
    store.close()
  }
})
