import assert from 'node:assert/strict'
import { test } from 'node:test'
import { type AclSubject, aclAllows, parseAclFile } from '../../src/auth/acl-file.ts'

const rules = parseAclFile(`# mosquitto's aclfile.example, extended
topic read $SYS/#
topic public/#

user alice
topic readwrite alice/#
topic deny alice/secret
topic read shared/+/status
topic write inbox

user bob
topic bob/#

pattern write devices/%c/state
pattern read users/%u/#
pattern deny users/%u/private/#
`)

const alice: AclSubject = { clientId: 'c1', username: 'alice' }
const bob: AclSubject = { clientId: 'dev-7', username: 'bob' }
const anon: AclSubject = { clientId: 'anon-1', username: undefined }

test('user rules: readwrite, read, write; deny comes first whatever its place', () => {
  assert.equal(aclAllows(rules, alice, 'alice/x', 'write'), true)
  assert.equal(aclAllows(rules, alice, 'alice/x/y', 'read'), true)
  assert.equal(aclAllows(rules, alice, 'alice/secret', 'read'), false)
  assert.equal(aclAllows(rules, alice, 'alice/secret', 'write'), false)
  assert.equal(aclAllows(rules, alice, 'shared/a/status', 'read'), true)
  assert.equal(aclAllows(rules, alice, 'shared/a/status', 'write'), false)
  assert.equal(aclAllows(rules, alice, 'inbox', 'write'), true)
  assert.equal(aclAllows(rules, alice, 'inbox', 'read'), false)
  assert.equal(aclAllows(rules, alice, 'bob/x', 'read'), false)
})

test('rules before any user line apply to clients without a username (as in mosquitto)', () => {
  assert.equal(aclAllows(rules, anon, 'public/news', 'write'), true)
  assert.equal(aclAllows(rules, anon, '$SYS/broker/uptime', 'read'), true)
  assert.equal(aclAllows(rules, alice, 'public/news', 'read'), false)
  assert.equal(aclAllows(rules, anon, 'alice/x', 'read'), false)
})

test('patterns apply to everyone: %c is the client id, %u the username, each a whole level', () => {
  assert.equal(aclAllows(rules, bob, 'devices/dev-7/state', 'write'), true)
  assert.equal(aclAllows(rules, bob, 'devices/dev-8/state', 'write'), false)
  assert.equal(aclAllows(rules, bob, 'devices/dev-7/state', 'read'), false)
  assert.equal(aclAllows(rules, anon, 'devices/anon-1/state', 'write'), true)
  assert.equal(aclAllows(rules, alice, 'users/alice/inbox', 'read'), true)
  assert.equal(aclAllows(rules, alice, 'users/bob/inbox', 'read'), false)
  assert.equal(aclAllows(rules, alice, 'users/alice/private/x', 'read'), false)
  // a %u pattern never matches a client without a username
  assert.equal(aclAllows(rules, anon, 'users/undefined/x', 'read'), false)
})

test('a client id or username with + or # gets nothing from patterns', () => {
  assert.equal(aclAllows(rules, { clientId: '+', username: 'bob' }, 'devices/+/state', 'write'), false)
  assert.equal(aclAllows(rules, { clientId: 'x', username: 'a#' }, 'users/a#/x', 'read'), false)
})

test('wildcards never reach $ topics; a rule naming $ does', () => {
  const r = parseAclFile('user root\ntopic #\ntopic read $SYS/#\n')
  const root = { clientId: 'r', username: 'root' }
  assert.equal(aclAllows(r, root, 'a/b', 'write'), true)
  assert.equal(aclAllows(r, root, '$SYS/broker/uptime', 'read'), true)
  assert.equal(aclAllows(r, root, '$SYS/broker/uptime', 'write'), false)
  assert.equal(aclAllows(r, root, '$other', 'read'), false)
})

test('no rule matching denies; an empty file denies everything', () => {
  assert.equal(aclAllows(parseAclFile(''), alice, 'a', 'read'), false)
  assert.equal(aclAllows(rules, { clientId: 'z', username: 'zed' }, 'public/x', 'read'), false)
})

test('bad lines are refused with their line number', () => {
  assert.throws(() => parseAclFile('topic\n'), /line 1: empty topic/)
  assert.throws(() => parseAclFile('\ntopic maybe a/b\n'), /line 2: invalid access type "maybe"/)
  assert.throws(() => parseAclFile('user\n'), /line 1: missing username/)
  assert.throws(() => parseAclFile('topic read a/#/b\n'), /line 1: invalid topic filter/)
  assert.throws(() => parseAclFile('allow all\n'), /line 1: invalid line/)
})
