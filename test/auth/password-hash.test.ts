import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { parsePasswordFile, setPasswordLine } from '../../src/auth/password-file.ts'
import {
  decodePasswordHash,
  hashPassword,
  hashPasswordSha512,
  verifyPassword,
} from '../../src/auth/password-hash.ts'

const hasMosquittoPasswd = spawnSync('mosquitto_passwd', ['-h']).error === undefined
// CI installs the mosquitto package (.ci/run): never skip there
const skipNoPasswd =
  !hasMosquittoPasswd && !process.env.CI
    ? 'mosquitto_passwd is not installed (apt-get install mosquitto)'
    : false

test('$7$ entries written by hashPassword verify the right password only', async () => {
  const encoded = await hashPassword('s3cret', 50)
  assert.match(encoded, /^\$7\$50\$[A-Za-z0-9+/]{16}\$[A-Za-z0-9+/]{86}==$/)
  const entry = decodePasswordHash(encoded)
  assert.ok(!('error' in entry))
  assert.equal(await verifyPassword(Buffer.from('s3cret'), entry), true)
  assert.equal(await verifyPassword(Buffer.from('s3cret '), entry), false)
  assert.equal(await verifyPassword(Buffer.alloc(0), entry), false)
})

test('$6$ entries (salted SHA-512) verify', async () => {
  const entry = decodePasswordHash(hashPasswordSha512('pw'))
  assert.ok(!('error' in entry) && entry.type === 'sha512')
  assert.equal(await verifyPassword(Buffer.from('pw'), entry), true)
  assert.equal(await verifyPassword(Buffer.from('pW'), entry), false)
})

test('hashes mosquitto does not accept are refused with a reason', () => {
  for (const bad of [
    'plain',
    '$5$abc$def',
    `$7$0$AAAAAAAAAAAAAAAA$${'A'.repeat(86)}==`,
    `$7$10$c2hvcnQ=$${'A'.repeat(86)}==`, // 5-byte salt
    '$6$AAAAAAAAAAAAAAAA$c2hvcnQ=', // short hash
    '$6$AAAAAAAAAAAAAAAA',
    '$argon2id$v=19$m=47104,t=1,p=1$abc$def',
  ]) {
    assert.ok('error' in decodePasswordHash(bad), bad)
  }
})

test('password files: comments, blank and colon-less lines skipped; duplicates and bad hashes name the line', async () => {
  const alice = await hashPassword('a', 10)
  const users = parsePasswordFile(`# users\n\n  alice  :${alice}\nnot a user line\n`)
  assert.deepEqual([...users.keys()], ['alice'])
  assert.throws(() => parsePasswordFile(`alice:${alice}\nalice:${alice}\n`), /line 2: duplicate user "alice"/)
  assert.throws(() => parsePasswordFile('bob:nothash\n'), /line 1: user "bob": not a \$6\$ or \$7\$ hash/)
  assert.throws(() => parsePasswordFile(':$6$x$y\n'), /line 1: empty username/)
})

test('setPasswordLine replaces the user line in place and keeps every other line', () => {
  const text = '# keep me\nalice:old\nbob:b\n'
  assert.equal(setPasswordLine(text, 'alice', 'new'), '# keep me\nalice:new\nbob:b\n')
  assert.equal(setPasswordLine(text, 'carol', 'c'), '# keep me\nalice:old\nbob:b\ncarol:c\n')
  assert.equal(setPasswordLine('', 'carol', 'c'), 'carol:c\n')
})

test('a file written by Debian mosquitto_passwd ($7$ default and -H sha512) verifies', {
  skip: skipNoPasswd,
}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mqttd-pw-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'passwd')
  for (const args of [
    ['-c', '-b', file, 'alice', 'alice-pw'],
    ['-H', 'sha512', '-b', file, 'bob', 'bob-pw'],
  ]) {
    const run = spawnSync('mosquitto_passwd', args, { encoding: 'utf8' })
    assert.equal(run.status, 0, run.stderr)
  }
  const users = parsePasswordFile(readFileSync(file, 'utf8'))
  const alice = users.get('alice')!
  const bob = users.get('bob')!
  assert.equal(alice.type, 'pbkdf2-sha512')
  assert.equal(bob.type, 'sha512')
  assert.equal(await verifyPassword(Buffer.from('alice-pw'), alice), true)
  assert.equal(await verifyPassword(Buffer.from('bob-pw'), bob), true)
  assert.equal(await verifyPassword(Buffer.from('bob-pw'), alice), false)
})
