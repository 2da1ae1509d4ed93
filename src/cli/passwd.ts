/**
 * `mqttd passwd FILE USER`: creates or updates USER's line in a mosquitto
 * password file, `$7$` (PBKDF2-SHA512) by default, `$6$` with `--sha512`.
 * The password is asked twice on a terminal (not echoed), or read from the
 * first line of standard input otherwise (`echo "$PW" | mqttd passwd …`).
 * The file is replaced atomically (written beside it, then renamed) with
 * mode 0600 when new; other lines stay as they were.
 */
import { readFileSync, renameSync, statSync, writeFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { Writable } from 'node:stream'
import { parseArgs } from 'node:util'
import { parsePasswordFile, setPasswordLine } from '../auth/password-file.ts'
import { DEFAULT_ITERATIONS, hashPassword, hashPasswordSha512 } from '../auth/password-hash.ts'
import { mqttdError } from '../errors.ts'

export const passwdHelp = `Usage: mqttd passwd [--sha512] [--iterations N] FILE USER

Creates or updates USER in the mosquitto password file FILE (created when missing).
The password is prompted for on a terminal, or read from the first line of stdin.
  --sha512          Write a $6$ (salted SHA-512) hash instead of $7$ (PBKDF2-SHA512).
  --iterations N    PBKDF2 iterations for $7$ (default ${DEFAULT_ITERATIONS}).
`

async function readStdinLine(input: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of input) chunks.push(Buffer.from(chunk as Buffer))
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? ''
}

function ask(question: string, input: NodeJS.ReadableStream, output: NodeJS.WritableStream): Promise<string> {
  let muted = false
  // echo the question, not the typed characters
  const sink = new Writable({
    write(chunk, _encoding, done) {
      if (!muted) output.write(chunk)
      done()
    },
  })
  const rl = createInterface({ input, output: sink, terminal: true })
  return new Promise((resolve) => {
    rl.question(question, (answer) => {
      rl.close()
      output.write('\n')
      resolve(answer)
    })
    muted = true
  })
}

export interface PasswdIo {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean }
  stderr: NodeJS.WritableStream
}

/** Runs `mqttd passwd`; throws coded errors (the CLI prints them). */
export async function passwd(argv: string[], io: PasswdIo): Promise<void> {
  let values: { sha512?: boolean; iterations?: string; help?: boolean }
  let positionals: string[]
  try {
    ;({ values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        sha512: { type: 'boolean' },
        iterations: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }))
  } catch (err) {
    throw mqttdError('MQTTD_ERR_CLI_USAGE', (err as Error).message)
  }
  if (values.help) {
    io.stderr.write(passwdHelp)
    return
  }
  const [file, user] = positionals
  if (file === undefined || user === undefined || positionals.length > 2) {
    throw mqttdError('MQTTD_ERR_CLI_USAGE', 'mqttd passwd takes FILE and USER (see mqttd passwd --help)')
  }
  if (user.includes(':') || user.trim() !== user || user === '') {
    throw mqttdError('MQTTD_ERR_CLI_USAGE', 'USER must be non-empty, without ":" or surrounding blanks')
  }
  const iterations = values.iterations === undefined ? DEFAULT_ITERATIONS : Number(values.iterations)
  if (!Number.isSafeInteger(iterations) || iterations < 1) {
    throw mqttdError('MQTTD_ERR_CLI_USAGE', '--iterations must be a positive integer')
  }
  let text = ''
  let exists = true
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw mqttdError('MQTTD_ERR_AUTH_FILE', 'password file', file, (err as Error).message)
    }
    exists = false
  }
  try {
    parsePasswordFile(text)
  } catch (err) {
    throw mqttdError('MQTTD_ERR_AUTH_FILE', 'password file', file, (err as Error).message)
  }

  let password: string
  if (io.stdin.isTTY === true) {
    password = await ask('Password: ', io.stdin, io.stderr)
    const again = await ask('Reenter password: ', io.stdin, io.stderr)
    if (again !== password) throw mqttdError('MQTTD_ERR_CLI_USAGE', 'the passwords do not match')
  } else {
    password = await readStdinLine(io.stdin)
  }
  if (password === '') throw mqttdError('MQTTD_ERR_CLI_USAGE', 'the password is empty')

  const encoded = values.sha512 ? hashPasswordSha512(password) : await hashPassword(password, iterations)
  const next = setPasswordLine(text, user, encoded)
  const temporary = `${file}.tmp-${process.pid}`
  try {
    writeFileSync(temporary, next, { mode: exists ? statSync(file).mode & 0o777 : 0o600 })
    renameSync(temporary, file)
  } catch (err) {
    throw mqttdError('MQTTD_ERR_AUTH_FILE', 'password file', file, (err as Error).message)
  }
}
